"""Transfer within a species: pooled multi-TF datasets (NaN = unknown label), masked BCE and metrics, and
fine-tuning that keeps one TF's output of a multi-output checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.pooled import label_column, pool_tf_datasets
from bindscape.errors import ConfigError, InputError
from bindscape.evaluate.metrics import binary_metrics

torch.set_num_threads(1)
TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}
SPLITS = {"train": "chr1", "val": "chr2", "test": "chr3"}


def _dataset(path, fasta, *, seed, n=24, length=100, splits=SPLITS):
    from bindscape.data.dataset import write_dataset
    from bindscape.io.genome import Genome

    rng = np.random.default_rng(seed)
    rows = []
    for split, chrom in splits.items():
        starts = np.sort(rng.choice(np.arange(0, 19_000, length), n, replace=False))
        rows.append(pd.DataFrame({"chrom": chrom, "start": starts, "end": starts + length,
                                  "label": np.arange(n) % 2, "split": split}))
    return write_dataset(path, pd.concat(rows, ignore_index=True), builder="test", params={}, seed=seed,
                         genome=Genome(fasta))


@pytest.fixture
def pooled(tmp_path, tiny_fasta):
    a = _dataset(tmp_path / "A", tiny_fasta, seed=1)
    b = _dataset(tmp_path / "B", tiny_fasta, seed=2, n=10)
    return pool_tf_datasets({"A": a, "B": b}, tmp_path / "pool"), tmp_path


def test_pool_labels_each_row_for_its_own_tf_only(pooled):
    from bindscape.data.dataset import load_dataset

    path, _ = pooled
    reg = load_dataset(path).regions
    assert len(reg) == 3 * 24 + 3 * 10
    a, b = reg[reg["tf"] == "A"], reg[reg["tf"] == "B"]
    assert a[label_column("B")].isna().all() and b[label_column("A")].isna().all()
    assert a[label_column("A")].notna().all() and set(a[label_column("A")]) == {0.0, 1.0}
    assert (reg["label"] == reg[["label_A", "label_B"]].fillna(0).max(axis=1)).all()
    assert load_dataset(path).meta["params"]["label_columns"] == ["label_A", "label_B"]


def test_pool_refuses_mismatched_inputs(tmp_path, tiny_fasta):
    a = _dataset(tmp_path / "A", tiny_fasta, seed=1)
    swapped = _dataset(tmp_path / "S", tiny_fasta, seed=2, splits={"train": "chr2", "val": "chr1", "test": "chr3"})
    with pytest.raises(InputError, match="chromosome chr2 is in split 'train' for S but in 'val' for A"):
        pool_tf_datasets({"A": a, "S": swapped}, tmp_path / "p")
    short = _dataset(tmp_path / "L", tiny_fasta, seed=3, length=50)
    with pytest.raises(InputError, match="windows of 50 bp"):
        pool_tf_datasets({"A": a, "L": short}, tmp_path / "p")
    with pytest.raises(InputError, match="at least two"):
        pool_tf_datasets({"A": a}, tmp_path / "p")


def test_binary_metrics_skip_unknown_labels():
    y = np.array([[1, np.nan], [0, np.nan], [np.nan, 1], [np.nan, 0], [1, np.nan]])
    p = np.array([[0.9, 0.0], [0.2, 1.0], [0.3, 0.8], [0.7, 0.1], [0.6, 0.5]])
    m = binary_metrics(y, p)
    assert m["auroc"] == 1.0 and m["auprc"] == 1.0
    known = ~np.isnan(y)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    want = -np.mean(np.where(y == 1, np.log(pc), np.log(1 - pc))[known])
    assert m["loss"] == pytest.approx(want)
    full = binary_metrics(np.array([1, 0, 1]), np.array([0.8, 0.3, 0.6]))  # no NaN: unchanged path
    assert full["auroc"] == 1.0 and np.isfinite(full["loss"])


def test_masked_bce_ignores_unknown_entries():
    from bindscape.models import get_model
    from bindscape.train.config import validate_config
    from bindscape.train.tasks.binary import BinaryTask

    cfg = validate_config({"dataset": "x", "model": TINY}).model_dump(mode="json")
    task = BinaryTask(get_model("bindscape_cnn", length=50, n_outputs=2), cfg)
    logits = torch.tensor([[2.0, -5.0], [-1.0, 7.0]])
    y = torch.tensor([[1.0, float("nan")], [float("nan"), 0.0]])
    want = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([2.0, 7.0]), torch.tensor([1.0, 0.0]))
    assert torch.isclose(task.bce(logits, y), want)
    full = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert torch.isclose(task.bce(logits, full),
                         torch.nn.functional.binary_cross_entropy_with_logits(logits, full))


def test_pretrain_on_pool_then_finetune_keeps_that_tfs_output(pooled):
    from bindscape.train import load_checkpoint, train
    from bindscape.train.config import validate_config

    path, root = pooled
    common = {"out_dir": str(root / "runs"), "data": {"batch_size": 16}}
    trainer = {"max_epochs": 1, "progress": False, "patience": None, "seed": 0}
    pre = train(validate_config({**common, "dataset": str(path), "name": "pre", "model": TINY,
                                 "data": {"batch_size": 16, "label_columns": ["label_A", "label_B"]},
                                 "trainer": trainer}))
    import json

    m = json.loads((pre / "metrics.json").read_text())
    assert np.isfinite(m["val"]["loss"]) and np.isfinite(m["val"]["auroc"])
    best = pre / "checkpoints" / "best.ckpt"
    head = load_checkpoint(best).model.head
    ft_cfg = {**common, "dataset": str(root / "B"), "name": "ft-B",
              "finetune": {"checkpoint": str(best), "output": "label_B"}, "trainer": {**trainer, "max_epochs": 1}}
    from bindscape.train.finetune import prepare_finetune

    model, info = prepare_finetune(validate_config(ft_cfg), 100, 1)
    assert model.n_outputs == 1 and info["from"] == str(best)
    assert torch.equal(model.head.weight, head.weight[1:2]) and torch.equal(model.head.bias, head.bias[1:2])
    run = train(validate_config(ft_cfg))
    assert load_checkpoint(run / "checkpoints" / "best.ckpt").model.n_outputs == 1
    with pytest.raises(ConfigError, match="'label_C' is not an output"):
        prepare_finetune(validate_config({**ft_cfg, "finetune": {"checkpoint": str(best), "output": "label_C"}}),
                         100, 1)
    with pytest.raises(ConfigError, match="out of range"):
        prepare_finetune(validate_config({**ft_cfg, "finetune": {"checkpoint": str(best), "output": 2}}), 100, 1)

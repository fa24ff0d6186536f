"""Pooling sequence-only datasets (GUE-style, no chromosomes): the leak check is by sequence, on both strands.

A training row whose sequence is any input's validation or test sequence (or its reverse complement) is
dropped from the pool and counted per TF in dataset.json; ``keep_splits`` leaves the test rows out of the
written pool. The pool trains a multi-output model whose outputs fine-tune per TF (`benchmarks/gue.py
--pretrain`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.pooled import label_column, pool_tf_datasets
from bindscape.errors import InputError

torch.set_num_threads(1)
TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}
RC = str.maketrans("ACGT", "TGCA")


def _seqs(rng, n, length=40):
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def _tables(tmp_path, name, seed, n=20, length=40, plant=None):
    """train/dev/test CSVs of random sequences; `plant` = {split: [sequences]} replaces the first rows."""
    rng = np.random.default_rng(seed)
    paths = {}
    for split in ("train", "dev", "test"):
        seqs = _seqs(rng, n, length)
        for i, s in enumerate((plant or {}).get(split, [])):
            seqs[i] = s
        paths[split] = tmp_path / f"{name}_{split}.csv"
        pd.DataFrame({"sequence": seqs, "label": np.arange(n) % 2}).to_csv(paths[split], index=False)
    return paths


def _build(tmp_path, name, paths):
    from bindscape.data.sequences import build_sequence_dataset

    return build_sequence_dataset(tmp_path / name, train=[paths["train"]], val=[paths["dev"]],
                                  test=[paths["test"]], seed=0)


@pytest.fixture
def two_tasks(tmp_path):
    a = _tables(tmp_path, "A", 1)
    a_test = pd.read_csv(a["test"])["sequence"].iloc[3]
    b_dev = pd.read_csv(_tables(tmp_path, "B0", 2)["dev"])["sequence"].iloc[5]
    # B's train holds A's test sequence; A's train (rebuilt) holds the reverse complement of B's dev sequence
    b = _tables(tmp_path, "B", 2, plant={"train": [a_test]})
    a = _tables(tmp_path, "A", 1, plant={"train": [b_dev.translate(RC)[::-1]]})
    return _build(tmp_path, "A", a), _build(tmp_path, "B", b), tmp_path


def test_sequence_pool_drops_held_out_duplicates_on_both_strands(two_tasks):
    from bindscape.data.dataset import load_dataset

    a, b, root = two_tasks
    path = pool_tf_datasets({"A": a, "B": b}, root / "pool", keep_splits=("train", "val"))
    ds = load_dataset(path)
    reg = ds.regions
    assert ds.meta["params"]["leaks"] == {"A": {"held_out_in_train": 1, "train_dropped": 1},
                                          "B": {"held_out_in_train": 1, "train_dropped": 1}}
    assert sorted(reg["split"].unique()) == ["train", "val"]  # test rows left out of the pool
    assert (reg["split"] == "train").sum() == 2 * 20 - 2 and (reg["split"] == "val").sum() == 2 * 20
    held = set(load_dataset(a).regions.query("split != 'train'")["sequence"])
    held |= set(load_dataset(b).regions.query("split != 'train'")["sequence"])
    train = reg.loc[reg["split"] == "train", "sequence"]
    assert not (set(train) | {s.translate(RC)[::-1] for s in train}) & held
    assert reg["start"].is_unique and (reg["end"] - reg["start"] == 40).all() and ds.meta["genome"] is None
    ra, rb = reg[reg["tf"] == "A"], reg[reg["tf"] == "B"]
    assert ra[label_column("B")].isna().all() and rb[label_column("A")].isna().all()
    assert set(ra[label_column("A")]) == {0.0, 1.0}


def test_sequence_pool_trains_a_two_output_model(two_tasks):
    from bindscape.train import train
    from bindscape.train.config import validate_config

    a, b, root = two_tasks
    path = pool_tf_datasets({"A": a, "B": b}, root / "pool", keep_splits=("train", "val"))
    cfg = validate_config({"dataset": str(path), "name": "pre", "out_dir": str(root / "runs"), "model": TINY,
                           "data": {"batch_size": 16, "label_columns": ["label_A", "label_B"], "test_split": None},
                           "trainer": {"max_epochs": 1, "progress": False, "patience": None, "seed": 0}})
    from bindscape.train import load_checkpoint

    run = train(cfg)
    assert load_checkpoint(run / "checkpoints" / "best.ckpt").model.n_outputs == 2


def test_sequence_pool_refuses_mixed_or_unequal_inputs(tmp_path, tiny_fasta):
    from bindscape.data.dataset import write_dataset
    from bindscape.io.genome import Genome

    a = _build(tmp_path, "A", _tables(tmp_path, "A", 1))
    short = _build(tmp_path, "S", _tables(tmp_path, "S", 3, length=30))
    with pytest.raises(InputError, match="windows of 30 bp"):
        pool_tf_datasets({"A": a, "S": short}, tmp_path / "p")
    rows = pd.DataFrame({"chrom": "chr1", "start": [0, 40], "end": [40, 80], "label": [0, 1], "split": "train"})
    g = write_dataset(tmp_path / "G", rows, builder="test", params={}, seed=0, genome=Genome(tiny_fasta))
    with pytest.raises(InputError, match=r"genome-based dataset \(TF G\), .* is sequence-only"):
        pool_tf_datasets({"A": a, "G": g}, tmp_path / "p")

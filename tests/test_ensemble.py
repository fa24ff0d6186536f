"""Final models on train + val and ensemble checkpoint folders (bindscape.train.ensemble) on toy data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.dataset import load_dataset, write_dataset
from bindscape.errors import BindscapeError, ConfigError
from bindscape.models import get_model
from bindscape.models.base import InputLengthError
from bindscape.train import load_checkpoint, predict_dataset, train, train_ensemble, train_final
from bindscape.train.checkpoint import save_model
from bindscape.train.config import validate_config
from bindscape.train.ensemble import assign_folds
from bindscape.train.ensemble_model import MANIFEST, EnsembleError, EnsembleModel, sha256
from bindscape.train.predict import predict_arrays
from conftest import planted_dataset

torch.set_num_threads(1)
TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}
N_SPLIT = {"train": 400, "val": 160, "test": 160}




@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    ds = planted_dataset(root, N_SPLIT, 50, seed=1)
    return root, ds


def _cfg(root, ds, name, **trainer):
    t = {"max_epochs": 1, "progress": False, "patience": None, "seed": 0, "threads": 1, **trainer}
    return validate_config({"dataset": str(ds), "name": name, "out_dir": str(root / "runs"), "model": TINY,
                            "data": {"batch_size": 32}, "optim": {"lr": 0.01}, "trainer": t})


@pytest.fixture(scope="module")
def ensemble(toy):
    root, ds = toy
    return train_ensemble(_cfg(root, ds, "e"), seeds=[0, 1], out=root / "ens")


def test_ensemble_folder_and_mean_of_members(toy, ensemble):
    root, ds = toy
    man = json.loads((ensemble / MANIFEST).read_text())
    assert man["average"] == "probability" and [m["seed"] for m in man["members"]] == [0, 1]
    for m in man["members"]:
        assert sha256(ensemble / m["path"]) == m["sha256"]
    ens = load_checkpoint(ensemble)
    assert isinstance(ens.model, EnsembleModel) and len(ens.model.members) == 2 and ens.length == 50
    members = [load_checkpoint(ensemble / m["path"]) for m in man["members"]]
    x = np.random.default_rng(5).integers(0, 4, (64, 50))
    x = np.eye(4, dtype=np.float32)[x].transpose(0, 2, 1).copy()
    p_ens = predict_arrays(ens, x)
    p_mem = np.stack([predict_arrays(m, x) for m in members])
    assert not np.allclose(p_mem[0], p_mem[1])  # different seeds: different members
    np.testing.assert_allclose(p_ens, p_mem.mean(0), atol=1e-6, rtol=0)
    # RC averaging per member: the ensemble is strand-symmetric
    np.testing.assert_allclose(p_ens, predict_arrays(ens, x[:, ::-1, ::-1].copy()), atol=1e-6, rtol=0)
    m = json.loads((ensemble / "metrics.json").read_text())
    assert m["members"] == 2 and m["test"]["n"] == N_SPLIT["test"] and "val" in m
    pred = pd.read_parquet(ensemble / "predictions.parquet")
    mem_test = np.mean([predict_dataset(mm, ds, split="test", progress=False)["prob"] for mm in members], axis=0)
    np.testing.assert_allclose(pred["prob"], mem_test, atol=1e-6, rtol=0)


def test_ensemble_resume_reuses_finished_members(toy, ensemble):
    root, ds = toy
    before = {p: p.stat().st_mtime_ns for p in ensemble.glob("members/*/model.pt")}
    train_ensemble(_cfg(root, ds, "e"), seeds=[0, 1], out=ensemble)
    assert {p: p.stat().st_mtime_ns for p in ensemble.glob("members/*/model.pt")} == before


def test_cli_predict_with_ensemble_folder(toy, ensemble, tmp_path):
    from bindscape.cli import main

    root, ds = toy
    out = tmp_path / "p.parquet"
    assert main(["predict", "--checkpoint", str(ensemble), "--dataset", str(ds), "--split", "test",
                 "--out", str(out)]) == 0
    got = pd.read_parquet(out)
    ref = pd.read_parquet(ensemble / "predictions.parquet")
    assert len(got) == N_SPLIT["test"]
    np.testing.assert_allclose(got["prob"], ref["prob"], atol=1e-6, rtol=0)


def _hand_ensemble(folder, lengths):
    folder.mkdir()
    entries = []
    for i, L in enumerate(lengths):
        model = get_model("bindscape_cnn", length=L, **TINY["params"])
        p = save_model(folder / f"m{i}.pt", model, {"trainer": {"rc_average": True}})
        entries.append({"path": p.name, "sha256": sha256(p), "seed": i, "fold": None})
    (folder / MANIFEST).write_text(json.dumps({"format": "bindscape-ensemble/1", "average": "probability",
                                               "members": entries}))
    return folder


def test_mixed_lengths_one_clear_line_exit_2(tmp_path, toy, capsys):
    from bindscape.cli import main

    root, ds = toy
    folder = _hand_ensemble(tmp_path / "mixed", [50, 80])
    with pytest.raises(InputLengthError, match="different input lengths.*m0.pt=50 bp, m1.pt=80 bp"):
        load_checkpoint(folder)
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(folder), "--dataset", str(ds), "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr()
    assert "different input lengths" in err.err + err.out and "Traceback" not in err.err + err.out


def test_missing_or_damaged_member(tmp_path):
    folder = _hand_ensemble(tmp_path / "e", [50, 50])
    assert len(load_checkpoint(folder).model.members) == 2
    data = bytearray((folder / "m1.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "m1.pt").write_bytes(bytes(data))
    with pytest.raises(EnsembleError, match=r"m1.pt: member checkpoint is damaged \(sha256"):
        load_checkpoint(folder)
    (folder / "m1.pt").unlink()
    with pytest.raises(EnsembleError, match="member checkpoint m1.pt is missing"):
        load_checkpoint(folder)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(EnsembleError, match="not valid JSON"):
        load_checkpoint(folder)


def test_ensemble_model_averages_probabilities_not_logits():
    a = get_model("bindscape_cnn", length=30, **TINY["params"]).eval()
    b = get_model("bindscape_cnn", length=30, **TINY["params"]).eval()
    with torch.no_grad():
        a.head.bias.fill_(4.0)
        b.head.bias.fill_(-2.0)
        x = torch.eye(4)[torch.randint(0, 4, (8, 30))].transpose(1, 2)
        want = 0.5 * (torch.sigmoid(a(x)) + torch.sigmoid(b(x)))
        got = torch.sigmoid(EnsembleModel([a, b])(x))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_final_model_trains_on_train_plus_val_for_validated_epochs(toy):
    root, ds = toy
    cfg = _cfg(root, ds, "val3", max_epochs=3)
    run = train(cfg)
    m = json.loads((run / "metrics.json").read_text())
    k = m["best_epoch"]
    assert m["n_train"] == N_SPLIT["train"] and "val" in m and 0 <= k <= 2
    final = train_final(cfg)
    assert final.name == "val3-final"
    f = json.loads((final / "metrics.json").read_text())
    assert f["n_train"] == N_SPLIT["train"] + N_SPLIT["val"]
    assert f["epochs_run"] == k + 1 and f["best_epoch"] == k  # exactly the validated epoch count, last = best
    assert "val" not in f and f["test"]["n"] == N_SPLIT["test"]
    assert f["final"]["run"] == str(run) and f["final"]["epochs"] == k + 1
    saved = validate_config(__import__("yaml").safe_load((final / "config.yaml").read_text()))
    assert saved.data.train_split == ["train", "val"] and saved.data.val_split is None
    assert saved.trainer.max_epochs == k + 1
    assert f"{N_SPLIT['train'] + N_SPLIT['val']:,} train / 0 val" in (final / "log.txt").read_text()


def test_final_model_refuses_dishonest_inputs(toy, tmp_path):
    root, ds = toy
    with pytest.raises(ConfigError, match="data.val_split: 'val' is also in data.train_split"):
        validate_config({"dataset": str(ds), "data": {"train_split": ["train", "val"]}})
    with pytest.raises(ConfigError, match="not a finished run folder"):
        train_final(_cfg(root, ds, "never-trained"))
    novalid = _cfg(root, ds, "noval").model_dump()
    novalid["data"]["val_split"] = None
    run = train(validate_config(novalid))
    with pytest.raises(ConfigError, match="did not validate on a validation split"):
        train_final(_cfg(root, ds, "x"), epochs_from=run)
    other = _cfg(root, ds, "x").model_dump()
    other["model"]["params"]["channels"] = 4
    with pytest.raises(ConfigError, match="model section differs"):
        train_final(validate_config(other), epochs_from=run.parent / "val3")


def test_assign_folds_balanced_and_deterministic():
    reg = pd.DataFrame({"chrom": ["a"] * 6 + ["b"] * 4 + ["c"] * 3 + ["d"] * 1 + ["t"] * 5,
                        "label": [1] * 4 + [0] * 2 + [1] * 3 + [0] + [1] * 2 + [0] + [1] + [1] * 5,
                        "split": ["train"] * 10 + ["val"] * 4 + ["test"] * 5})
    f = assign_folds(reg, ["train", "val"], 2)
    assert set(f) == {"a", "b", "c", "d"} and f == assign_folds(reg, ["train", "val"], 2)
    assert f["a"] != f["b"]  # the two largest chromosomes go to different folds
    with pytest.raises(ConfigError, match="span 4 chromosome"):
        assign_folds(reg, ["train", "val"], 5)


def test_fold_ensemble_keeps_test_and_deals_chromosomes(toy):
    root, ds = toy
    d = load_dataset(ds)
    reg = d.regions.copy()
    pool = reg["split"] != "test"
    reg.loc[pool, "chrom"] = [f"chr{i % 4}" for i in range(int(pool.sum()))]
    fds = write_dataset(root / "ds-chroms", reg, builder="test", params={}, seed=0, genome=None)
    out = train_ensemble(_cfg(root, fds, "f"), seeds=[0], folds=2, out=root / "ens-folds")
    man = json.loads((out / MANIFEST).read_text())
    assert [m["fold"] for m in man["members"]] == [0, 1]
    vals = []
    for i in range(2):
        fr = load_dataset(out / "folds" / f"fold{i}").regions
        pd.testing.assert_frame_equal(fr[fr["split"] == "test"].reset_index(drop=True),
                                      reg[reg["split"] == "test"].reset_index(drop=True), check_dtype=False)
        assert (fr["split"] != "test").sum() == pool.sum()
        vals.append(set(fr.loc[fr["split"] == "val", "chrom"]))
    assert not vals[0] & vals[1] and vals[0] | vals[1] == {"chr0", "chr1", "chr2", "chr3"}
    m = json.loads((out / "metrics.json").read_text())
    assert "val" not in m and m["test"]["n"] == N_SPLIT["test"]  # no member's val is the ensemble's val
    with pytest.raises(BindscapeError, match="span 1 chromosome"):
        train_ensemble(_cfg(root, ds, "g"), seeds=[0], folds=2, out=root / "ens-bad")

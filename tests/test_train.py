"""Training (Lightning), checkpoints, prediction, fine-tuning and the train/predict CLI on toy data."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.sequences import build_sequence_dataset
from bindscape.errors import BindscapeError, ConfigError
from bindscape.models.base import InputLengthError
from bindscape.train import load_checkpoint, predict_dataset, train
from bindscape.train.checkpoint import CheckpointError, save_model
from bindscape.train.config import load_config, validate_config
from bindscape.train.rc import predict_proba, reverse_complement
from conftest import assert_golden, planted_dataset, planted_sequences, write_fasta

torch.set_num_threads(1)
MOTIF = "TTACCCGG"  # Reb1-like, not its own reverse complement
TINY = {"name": "bindscape_cnn", "params": {"channels": 16, "hidden": 16, "dilations": [1], "stem_kernel": 9}}




@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    ds = planted_dataset(root, {"train": 600, "val": 200, "test": 200}, 60, seed=0)
    return root, ds


def _cfg(root, ds, name, **trainer):
    t = {"max_epochs": 2, "progress": False, "patience": None, "seed": 0, **trainer}
    return validate_config({"dataset": str(ds), "name": name, "out_dir": str(root / "runs"), "model": TINY,
                            "data": {"batch_size": 32}, "optim": {"lr": 0.01}, "trainer": t})


@pytest.fixture(scope="module")
def trained(toy):
    root, ds = toy
    t0 = time.perf_counter()
    run = train(_cfg(root, ds, "main"))
    return run, time.perf_counter() - t0


def test_tiny_run_learns_planted_motif(trained):
    run, secs = trained
    m = json.loads((run / "metrics.json").read_text())
    assert m["finished"] and m["epochs_run"] == 2
    assert m["test"]["auroc"] > 0.75, m["test"]
    assert m["val"]["auroc"] > 0.75
    assert m["cpu_seconds"] < 15  # CPU time of the training run (wall time varies on a shared machine)
    assert secs < 60
    for f in ("config.yaml", "metrics.json", "predictions.parquet", "log.txt", "checkpoints/best.ckpt",
              "checkpoints/last.ckpt", "logs/csv/metrics.csv"):
        assert (run / f).exists(), f
    assert not list(run.rglob("*.tmp"))
    assert "epoch 1: val_auprc=" in (run / "log.txt").read_text()
    assert load_config(run / "config.yaml").model.params["channels"] == 16
    pred = pd.read_parquet(run / "predictions.parquet")
    assert_golden("single_task", {**{f"{k}_{m}": m_[m] for k, m_ in (("val", m["val"]), ("test", m["test"]))
                                     for m in ("auroc", "auprc", "loss")},
                                  "best_epoch": m["best_epoch"], "pred_sum": pred["prob"].sum()})


def test_checkpoint_round_trip(trained, toy, tmp_path):
    run, _ = trained
    _, ds = toy
    loaded = load_checkpoint(run / "checkpoints" / "best.ckpt")
    assert loaded.config["model"]["name"] == "bindscape_cnn" and loaded.length == 60
    assert not loaded.model.training
    saved = pd.read_parquet(run / "predictions.parquet")
    again = predict_dataset(run / "checkpoints" / "best.ckpt", ds, split="test", progress=False)
    np.testing.assert_array_equal(saved["prob"].to_numpy(), again["prob"].to_numpy())
    # weights + config only, loadable with weights_only=True
    p = save_model(tmp_path / "model.pt", loaded.model, loaded.config)
    torch.load(p, weights_only=True)
    third = predict_dataset(p, ds, split="test", progress=False)
    np.testing.assert_array_equal(saved["prob"].to_numpy(), third["prob"].to_numpy())
    assert load_checkpoint(run).path.name == "best.ckpt"  # a run folder works too


def test_kmer_spectrum_branch_trains_and_round_trips(toy):
    root, ds = toy
    cfg = _cfg(root, ds, "kmers")
    cfg = validate_config({**cfg.model_dump(), "model": {**TINY, "params": {**TINY["params"], "kmers": [3, 5]}}})
    run = train(cfg)
    loaded = load_checkpoint(run)
    assert loaded.model.hparams()["kmers"] == [3, 5] and loaded.model.kmers is not None
    assert json.loads((run / "metrics.json").read_text())["test"]["auroc"] > 0.75
    saved = pd.read_parquet(run / "predictions.parquet")
    again = predict_dataset(run, ds, split="test", progress=False)
    np.testing.assert_array_equal(saved["prob"].to_numpy(), again["prob"].to_numpy())


def test_rc_averaged_prediction_is_strand_symmetric(trained):
    model = load_checkpoint(trained[0] / "checkpoints" / "best.ckpt").model
    rng = np.random.default_rng(5)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (16, 60))].transpose(0, 2, 1).copy())
    p, q = predict_proba(model, x), predict_proba(model, reverse_complement(x))
    torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    assert not torch.allclose(predict_proba(model, x, rc_average=False),
                              predict_proba(model, reverse_complement(x), rc_average=False))


def test_resume_equals_uninterrupted_run(toy):
    root, ds = toy
    full = train(_cfg(root, ds, "full"))
    part = train(_cfg(root, ds, "part", stop_after_epochs=1))
    m1 = json.loads((part / "metrics.json").read_text())
    assert m1["finished"] is False and m1["epochs_run"] == 1
    with pytest.raises(ConfigError, match="already has checkpoints"):
        train(_cfg(root, ds, "part"))
    part = train(_cfg(root, ds, "part"), resume=True)
    a = json.loads((full / "metrics.json").read_text())
    b = json.loads((part / "metrics.json").read_text())
    assert b["finished"] and b["best_epoch"] == a["best_epoch"]
    for split in ("val", "test"):
        for k in ("auroc", "auprc", "loss", "mcc"):
            assert a[split][k] == b[split][k], (split, k)
    sa = load_checkpoint(full / "checkpoints" / "last.ckpt").model.state_dict()
    sb = load_checkpoint(part / "checkpoints" / "last.ckpt").model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(_cfg(root, ds, "never"), resume=True)


def test_corrupt_and_missing_checkpoints(tmp_path, trained):
    with pytest.raises(CheckpointError, match="does not exist") as ei:
        load_checkpoint(tmp_path / "nope.ckpt")
    assert "\n" not in str(ei.value)
    data = (trained[0] / "checkpoints" / "best.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"\x00junk" * 10)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a bindscape checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")


def test_dataset_model_length_mismatch(tmp_path, trained):
    planted_sequences(20, 80, np.random.default_rng(1)).to_csv(tmp_path / "t.csv", index=False)
    other = build_sequence_dataset(tmp_path / "ds80", train=[tmp_path / "t.csv"])
    with pytest.raises(InputLengthError, match="has 80-bp windows but the model .* was trained on 60 bp"):
        predict_dataset(trained[0] / "checkpoints" / "best.ckpt", other, progress=False)
    # a fixed-length model refuses a dataset of another length before training starts
    cfg = validate_config({"dataset": str(other), "out_dir": str(tmp_path / "runs"),
                           "model": {"name": "deepsea", "params": {"length": 200}}})
    from bindscape.train.tasks.binary import build_model

    with pytest.raises(InputLengthError, match="needs sequences of at least 163 bp"):
        build_model(cfg, 80, 1)


def test_config_errors_name_field_and_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match=r"optim.optimizer: 'sgd' is not allowed; choose one of: adam, adamw"):
        validate_config({"dataset": "x", "optim": {"optimizer": "sgd"}})
    with pytest.raises(ConfigError, match=r"model.name: 'resnet' is not allowed; choose one of: .*cnn_lstm"):
        validate_config({"dataset": "x", "model": {"name": "resnet"}})
    with pytest.raises(ConfigError, match=r"data.batch_sizes: unknown field"):
        validate_config({"dataset": "x", "data": {"batch_sizes": 3}})
    with pytest.raises(ConfigError, match=r"dataset: required field is missing"):
        validate_config({})
    with pytest.raises(ConfigError, match=r"trainer.max_epochs: .*greater than or equal to 1"):
        validate_config({"dataset": "x", "trainer": {"max_epochs": 0}})
    (tmp_path / "bad.yaml").write_text("dataset: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_finetune_keeps_conv_and_reinitialises_dense(toy, trained):
    root, ds = toy
    from bindscape.models import get_model
    from bindscape.train.finetune import apply_finetune

    m = get_model("cnn_lstm", length=100)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    info = apply_finetune(m, freeze=["conv", "rnn"], reinit=["dense", "head"])
    after = m.state_dict()
    assert torch.equal(before["conv.0.weight"], after["conv.0.weight"])
    assert not torch.equal(before["dense.0.weight"], after["dense.0.weight"])
    assert not m.conv[0].weight.requires_grad and m.dense[0].weight.requires_grad
    assert info["frozen_parameters"] == 19_440 + 35_072
    with pytest.raises(ConfigError, match="no parameters under 'lstm'"):
        apply_finetune(m, freeze=["lstm"])
    best = trained[0] / "checkpoints" / "best.ckpt"
    cfg = validate_config({"dataset": str(ds), "name": "ft", "out_dir": str(root / "runs"),
                           "finetune": {"checkpoint": str(best), "freeze": ["stem"], "reinit": ["mlp", "head"]},
                           "trainer": {"max_epochs": 1, "progress": False}})
    run = train(cfg)
    ft = load_checkpoint(run / "checkpoints" / "last.ckpt").model.state_dict()
    pre = load_checkpoint(best).model.state_dict()
    assert torch.equal(ft["stem.0.weight"], pre["stem.0.weight"])
    assert not torch.equal(ft["head.weight"], pre["head.weight"])


def test_predict_bed_fasta_genome_tracks(trained, tmp_path, tiny_fasta):
    from bindscape.train.predict import predict_bed, predict_fasta, predict_genome, write_bedgraph

    best = trained[0] / "checkpoints" / "best.ckpt"
    bed = tmp_path / "x.bed"
    bed.write_text("chr1\t100\t200\tA\nchr2\t5000\t5010\tB\n")
    df = predict_bed(best, bed, tiny_fasta, progress=False)
    assert df["prob"].between(0, 1).all() and (df["window_end"] - df["window_start"] == 60).all()
    bad = tmp_path / "bad.bed"
    bad.write_text("chrZ\t1\t10\n")
    with pytest.raises(BindscapeError, match="chrZ"):
        predict_bed(best, bad, tiny_fasta, progress=False)
    write_fasta(tmp_path / "q.fa", {"a": "ACGT" * 5, "b": "TTACCCGG" * 20})
    fa = predict_fasta(best, tmp_path / "q.fa", progress=False)
    assert fa["name"].tolist() == ["a", "b"] and fa["length"].tolist() == [20, 160]
    g = predict_genome(best, tiny_fasta, chroms=["chr3"], stride=30, progress=False, batch_size=100)
    assert len(g) == (30_000 - 60) // 30 + 1 and g["end"].max() == 30_000
    bg = write_bedgraph(g, tmp_path / "t.bedGraph")
    lines = bg.read_text().splitlines()[1:]
    starts = [int(x.split("\t")[1]) for x in lines]
    ends = [int(x.split("\t")[2]) for x in lines]
    assert starts[0] == 0 and ends[-1] == 30_000 and all(e == s for e, s in zip(ends[:-1], starts[1:]))


def test_cli_train_and_predict(toy, tmp_path):
    from bindscape.cli import main

    root, ds = toy
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {ds}\nmodel: {json.dumps(TINY)}\ntrainer: {{max_epochs: 1, progress: false}}\n")
    rc = main(["train", str(cfg), "--out-dir", str(tmp_path / "runs"), "--name", "cli", "--set", "optim.lr=0.01",
               "--set", "data.batch_size=64"])
    assert rc == 0
    run = tmp_path / "runs" / "cli"
    assert load_config(run / "config.yaml").data.batch_size == 64
    out = tmp_path / "pred.parquet"
    assert main(["predict", "--checkpoint", str(run / "checkpoints" / "best.ckpt"), "--dataset", str(ds),
                 "--split", "test", "--out", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 200
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"dataset: {ds}\noptim: {{optimizer: sgd}}\n")
    assert main(["train", str(bad)]) == 2
    assert main(["predict", "--checkpoint", str(tmp_path / "none.ckpt"), "--dataset", str(ds),
                 "--out", str(out)]) == 2


def test_cli_build_sequences(tmp_path):
    from bindscape.cli import main

    planted_sequences(50, 40, np.random.default_rng(2)).to_csv(tmp_path / "all.tsv", sep="\t", index=False)
    assert main(["build", "sequences", "--input", str(tmp_path / "all.tsv"), "--out", str(tmp_path / "ds"),
                 "--length", "30", "--align", "left"]) == 0
    from bindscape.data.dataset import load_dataset

    r = load_dataset(tmp_path / "ds").regions
    assert len(r) == 50 and (r["sequence"].str.len() == 30).all() and set(r["split"]) == {"train", "val", "test"}


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 8, 20])
def test_onecycle_schedule_any_number_of_steps(steps):
    """OneCycleLR divides by (pct_start * total - 1): 4 steps with the default 25% warm-up used to crash."""
    from bindscape.models import get_model
    from bindscape.train.config import TrainConfig
    from bindscape.train.tasks.binary import BinaryTask

    cfg = TrainConfig(dataset="x", optim={"schedule": "onecycle"}, trainer={"max_epochs": 1}).model_dump(mode="json")
    task = BinaryTask(get_model("bindscape_cnn", length=100, channels=4, hidden=4), cfg, steps_per_epoch=steps)
    out = task.configure_optimizers()
    opt = out["optimizer"] if isinstance(out, dict) else out
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if isinstance(out, dict):
            out["lr_scheduler"]["scheduler"].step()
    assert all(np.isfinite(lrs)) and max(lrs) <= cfg["optim"]["lr"] + 1e-12

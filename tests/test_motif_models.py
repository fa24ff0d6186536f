"""Motif-informed models: first-layer filters from motifs, freezing, the PWM-score hybrid, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.sequences import build_sequence_dataset
from bindscape.errors import ConfigError
from bindscape.models import get_model
from bindscape.models.motif_init import (
    SCORE_CENTRE,
    SCORE_WEIGHT,
    MotifHybrid,
    first_dna_conv,
    motif_filters,
    motif_log_odds,
    motif_model,
    reverse_complement_pwm,
)
from bindscape.motifs import pwm_max_scores, read_meme, write_meme
from bindscape.motifs.load import Motif
from bindscape.train import load_checkpoint, predict_dataset, train
from bindscape.train.checkpoint import save_model
from bindscape.train.config import validate_config
from bindscape.train.rc import predict_proba, rc_input

torch.set_num_threads(1)
SITE = "TTACCCGG"  # not its own reverse complement
TINY = {"channels": 16, "hidden": 16, "dilations": [1], "stem_kernel": 9}
# small versions of every registry model with a first Conv1d on the DNA channels, and a length each takes
SMALL = {
    "bindscape_cnn": (TINY, 60),
    "deepsea": ({"channels": [8, 8, 8], "hidden": 8}, 200),
    "danq": ({"filters": 8, "lstm": 4, "hidden": 8}, 60),
    "cnn_lstm": ({"filters": 8, "dense": [8, 8]}, 60),
    "cnn_bigru": ({"filters": 8, "gru": 4, "fc": [8, 4], "channels": 4}, 60),
    "enformer_lite": ({"channels": 8}, 60),
}


def _motif() -> Motif:
    m = np.full((4, len(SITE)), 1.0)
    for j, b in enumerate(SITE):
        m["ACGT".index(b), j] = 17.0
    return Motif("site", m, id="SITE1", is_counts=True)


def _onehot(n: int, L: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, L), generator=g), 4).float().transpose(1, 2)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("motif")
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("val", 150), ("test", 150)):
        s = np.array(list("ACGT"))[rng.integers(0, 4, (n, 60))]
        y = rng.integers(0, 2, n)
        for i in np.flatnonzero(y):
            p = rng.integers(0, 60 - len(SITE))
            s[i, p:p + len(SITE)] = list(SITE if rng.random() < 0.5 else SITE[::-1].translate(str.maketrans("ACGT", "TGCA")))
        pd.DataFrame({"sequence": ["".join(r) for r in s], "label": y}).to_csv(root / f"{split}.csv", index=False)
    ds = build_sequence_dataset(root / "ds", train=[root / "train.csv"], val=[root / "val.csv"],
                                test=[root / "test.csv"])
    meme = write_meme(root / "site.meme", [_motif()])
    return root, ds, meme


def _cfg(root, ds, name, model, **trainer):
    t = {"max_epochs": 2, "progress": False, "patience": None, "seed": 0, **trainer}
    return validate_config({"dataset": str(ds), "name": name, "out_dir": str(root / "runs"), "model": model,
                            "data": {"batch_size": 32}, "optim": {"lr": 0.01}, "trainer": t})


@pytest.mark.parametrize("name", sorted(SMALL))
def test_filters_equal_log_odds_both_strands_centred(name):
    params, L = SMALL[name]
    motif = _motif()
    pwm = motif_log_odds([motif])[0]
    torch.manual_seed(0)
    plain = get_model(name, length=L, **params)
    torch.manual_seed(0)
    model = motif_model(name, params, length=L, n_outputs=1, motifs=[motif])
    _, conv = first_dna_conv(model)
    k, w = conv.kernel_size[0], pwm.shape[1]
    a = (k - w) // 2
    weight = conv.weight.detach().numpy()
    np.testing.assert_allclose(weight[0, :, a:a + w], pwm, rtol=1e-6)
    np.testing.assert_allclose(weight[1, :, a:a + w], pwm[::-1, ::-1], rtol=1e-6)
    assert not weight[:2, :, :a].any() and not weight[:2, :, a + w:].any()
    if conv.bias is not None:
        assert not conv.bias[:2].detach().any()
    _, conv0 = first_dna_conv(plain)
    assert torch.equal(conv.weight[2:], conv0.weight[2:])  # the other filters keep their random init
    assert model.n_motif_filters == 2
    # the forward filter's response at a site is the motif's best score, the reverse one on the other strand
    x = torch.zeros(1, 4, k)
    for j, b in enumerate(SITE):
        x[0, "ACGT".index(b), a + j] = 1
    resp = torch.nn.functional.conv1d(x, conv.weight[:2].detach())[0, :, 0]
    assert resp[0].item() == pytest.approx(pwm.max(axis=0).sum(), rel=1e-5)
    xr = torch.nn.functional.pad(rc_input(x), (2, 2))
    rev = torch.nn.functional.conv1d(xr, conv.weight[1:2].detach()).max().item()
    assert rev == pytest.approx(resp[0].item(), rel=1e-5)


def test_reverse_complement_pwm_and_kernel_too_short():
    pwm = motif_log_odds([_motif()])[0]
    assert np.array_equal(reverse_complement_pwm(reverse_complement_pwm(pwm)), pwm)
    assert motif_filters([pwm], 11).shape == (2, 4, 11)
    with pytest.raises(ConfigError, match=r"motif SITE1 site is 8 bp, longer than the first-layer kernel \(5 bp\)"):
        motif_model("bindscape_cnn", {**TINY, "stem_kernel": 5}, length=60, n_outputs=1, motifs=[_motif()])


def test_hybrid_starts_at_the_pwm_and_is_strand_symmetric():
    motif = _motif()
    torch.manual_seed(0)
    m = motif_model("bindscape_cnn", TINY, length=60, n_outputs=1, motifs=[motif], score="late").eval()
    assert isinstance(m, MotifHybrid) and m.n_motif_filters == 2
    x = _onehot(64, 60)
    x[:32, :, 10:18] = 0
    for j, b in enumerate(SITE):
        x[:32, "ACGT".index(b), 10 + j] = 1
    with torch.no_grad():
        logits = m(x)[:, 0].numpy()
        scores = (m.motif_scores(x) * m.score_scale)[:, 0].numpy()
    ref = pwm_max_scores(x.numpy(), [motif])
    np.testing.assert_allclose(scores, ref, rtol=1e-5, atol=1e-5)
    scale = float(m.score_scale[0])
    np.testing.assert_allclose(logits, SCORE_WEIGHT * (ref / scale - SCORE_CENTRE), atol=1e-4)  # PWM's ranking
    with torch.no_grad():
        assert torch.allclose(m.motif_scores(x), m.motif_scores(rc_input(x)))
    assert m.embed_dim == TINY["hidden"] + 1
    json.dumps(m.hparams())  # JSON-able: the checkpoint rebuilds it without a motif database


def test_hybrid_checkpoint_round_trip_predict_and_explain(toy, tmp_path, monkeypatch):
    root, ds, meme = toy
    run = train(_cfg(root, ds, "hybrid", {"name": "bindscape_cnn", "params": TINY, "motifs": [str(meme)],
                                          "motif_score": "late"}))
    import bindscape.motifs.load as mload

    def no_lookup(*a, **k):
        raise AssertionError("load_checkpoint looked a motif up")

    monkeypatch.setattr(mload, "load_jaspar", no_lookup)
    monkeypatch.setattr(mload, "read_motifs", no_lookup)
    loaded = load_checkpoint(run)
    assert isinstance(loaded.model, MotifHybrid)
    pred = predict_dataset(loaded, ds, split="test", progress=False)
    saved = pd.read_parquet(run / "predictions.parquet")
    assert np.array_equal(pred["prob"].to_numpy(), saved["prob"].to_numpy())
    again = load_checkpoint(save_model(tmp_path / "model.pt", loaded.model, loaded.config))
    x = _onehot(20, 60, seed=3)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), again.model(x))
    p = predict_proba(loaded.model, x)
    assert torch.allclose(p, predict_proba(loaded.model, rc_input(x)), atol=1e-6)  # RC-averaged: symmetric
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["auroc"] > 0.9  # the planted site is the motif: the hybrid starts where the PWM is
    from bindscape.explain.attributions import attribute

    for method in ("saliency", "deeplift_shap"):
        a = attribute(loaded.model, x[:4], method, n_baselines=2)
        assert a.shape == (4, 4, 60) and np.isfinite(a).all()


def test_frozen_filters_fixed_during_freeze_then_trained(toy):
    root, ds, meme = toy
    model = {"name": "bindscape_cnn", "params": TINY, "motifs": [str(meme)], "motif_freeze_epochs": 2}
    want = torch.from_numpy(motif_filters(motif_log_odds(read_meme(meme)), TINY["stem_kernel"]))

    def stem(ckpt):
        return torch.load(ckpt, weights_only=True)["state_dict"]["model.stem.0.weight"]

    cfg = _cfg(root, ds, "frozen", model, max_epochs=3, stop_after_epochs=2)
    run = train(cfg)
    last = stem(run / "checkpoints" / "last.ckpt")
    assert torch.equal(last[:2], want)  # unchanged for 2 epochs (weight decay undone too)
    torch.manual_seed(0)
    fresh = get_model("bindscape_cnn", length=60, **TINY)
    assert not torch.allclose(last[2:], fresh.stem[0].weight[2:])  # the random filters did train
    run = train(_cfg(root, ds, "frozen", model, max_epochs=3), resume=True)
    after = stem(run / "checkpoints" / "last.ckpt")
    assert not torch.equal(after[:2], want)  # trainable from epoch 3 on


def _cli(args, capsys):
    from bindscape.cli import main

    rc = main(args)
    err = capsys.readouterr()
    return rc, (err.err + err.out).strip()


def test_cli_motif_errors_are_one_line_exit_2(toy, tmp_path, capsys):
    root, ds, meme = toy
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {ds}\nmodel: {json.dumps({'params': TINY})}\n"
                   "trainer: {max_epochs: 1, progress: false}\n")
    base = ["train", str(cfg), "--out-dir", str(tmp_path / "runs")]
    empty = tmp_path / "empty.meme"
    empty.write_text("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n")
    for args, msg in (
        (["--motif", "MA9999.1", "--name", "a"], "model.motifs: MA9999.1: no such matrix"),
        (["--motif", str(empty), "--name", "b"], "no motifs found"),
        (["--motif", str(meme), "--set", "model.params.stem_kernel=5", "--name", "c"],
         "longer than the first-layer kernel (5 bp)"),
        (["--set", "model.motif_score=late", "--name", "d"], "motif_score need model.motifs"),
    ):
        rc, out = _cli(base + args, capsys)
        assert rc == 2, out
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert msg in lines[0] and lines[0].startswith("error"), out
        assert len([ln for ln in lines if not ln.lstrip().startswith("hint")]) == 1, out


def test_cli_motif_option_trains(toy, tmp_path, capsys):
    root, ds, meme = toy
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {ds}\nmodel: {json.dumps({'params': TINY})}\n"
                   "trainer: {max_epochs: 1, progress: false}\n")
    rc, out = _cli(["train", str(cfg), "--out-dir", str(tmp_path / "runs"), "--name", "m", "--motif", str(meme)],
                   capsys)
    assert rc == 0, out
    run = tmp_path / "runs" / "m"
    loaded = load_checkpoint(run)
    assert loaded.config["model"]["motifs"] == [str(meme)]
    assert type(loaded.model).__name__ == "BindscapeCNN"

"""`model.motifs: auto`: JASPAR motifs chosen by enrichment on the training split (bindscape.motifs.enrichment)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.sequences import build_sequence_dataset
from bindscape.errors import ConfigError
from bindscape.evaluate.metrics import auroc
from bindscape.models.motif_init import first_dna_conv, motif_filters, motif_log_odds
from bindscape.motifs import load_jaspar, pwm_max_scores
from bindscape.motifs.enrichment import (
    column_auroc,
    max_scores,
    parse_auto,
    pwm_similarity,
    select_enriched,
)
from bindscape.motifs.load import Motif
from bindscape.train import load_checkpoint, train
from bindscape.train.config import validate_config
from conftest import assert_one_error, cli

torch.set_num_threads(1)
TRAIN_ID, VAL_ID = "MA1974.2", "MA0506.3"  # ZNF211 TATATACCAT (unlike any other CORE vertebrate matrix); Nrf1
SMALL = {"channels": 16, "hidden": 16, "dilations": [1], "stem_kernel": 11}


def _plant(rng, n: int, length: int, site: str) -> pd.DataFrame:
    s = np.array(list("ACGT"))[rng.integers(0, 4, (n, length))]
    y = np.arange(n) % 2
    for i in np.flatnonzero(y):
        p = rng.integers(0, length - len(site))
        s[i, p:p + len(site)] = list(site)
    return pd.DataFrame({"sequence": ["".join(r) for r in s], "label": y})


@pytest.fixture(scope="module")
def split_motifs(tmp_path_factory):
    """Positives carry ZNF211 in the training split and Nrf1 in validation and test."""
    root = tmp_path_factory.mktemp("auto")
    rng = np.random.default_rng(0)
    a, b = load_jaspar(TRAIN_ID).consensus(), load_jaspar(VAL_ID).consensus()
    for split, n, site in (("train", 300, a), ("val", 120, b), ("test", 120, b)):
        _plant(rng, n, 60, site).to_csv(root / f"{split}.csv", index=False)
    ds = build_sequence_dataset(root / "ds", train=[root / "train.csv"], val=[root / "val.csv"],
                                test=[root / "test.csv"])
    return root, ds


def _cfg(root, ds, name, motifs, params=SMALL, **model):
    return validate_config({"dataset": str(ds), "name": name, "out_dir": str(root / "runs"),
                            "model": {"name": "bindscape_cnn", "params": params, "motifs": motifs, **model},
                            "data": {"batch_size": 64}, "optim": {"lr": 0.01},
                            "trainer": {"max_epochs": 1, "progress": False, "patience": None, "seed": 0}})


def _codes(n: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (n, length)).astype(np.uint8)


def _counts(site: str, strength: float = 20.0) -> Motif:
    m = np.ones((4, len(site)))
    for j, c in enumerate(site):
        m["ACGT".index(c), j] = strength
    return Motif(site, m, id=site, is_counts=True)


def test_parse_auto_and_config_errors():
    assert parse_auto("auto") == 16 and parse_auto("AUTO:32") == 32 and parse_auto("MA0139.2") is None
    for bad in ("auto:0", "auto:-3", "auto:x"):
        with pytest.raises(ConfigError, match="K must be a whole number >= 1"):
            parse_auto(bad)
    base = {"dataset": "d", "model": {"name": "bindscape_cnn"}}
    assert validate_config({**base, "model": {"motifs": "auto:8"}}).model.motifs == ["auto:8"]
    with pytest.raises(ConfigError, match=r"model\.motifs.*K must be a whole number"):
        validate_config({**base, "model": {"motifs": "auto:0"}})
    with pytest.raises(ConfigError, match="give `auto`.*alone"):
        validate_config({**base, "model": {"motifs": ["auto", "MA0139.2"]}})


def test_scores_match_the_pwm_baseline_and_auroc_matches_metrics():
    codes = _codes(50, 30)
    codes[3, 5:9] = 4  # N adds 0, as in the baseline
    motifs = [_counts("TTACCGG"), _counts("GATAAG", 5.0), _counts("A" * 30, 2.0)]
    s = max_scores(codes, motif_log_odds(motifs), chunk=16)
    for j, m in enumerate(motifs):
        np.testing.assert_allclose(s[:, j], pwm_max_scores(codes, [m]), rtol=1e-5, atol=1e-4)
    y = np.arange(50) % 3 == 0
    assert column_auroc(s, y) == pytest.approx([auroc(y, s[:, j]) for j in range(3)])


def test_similarity_is_strand_and_offset_aware():
    m = _counts("TTACCCGGA").probs
    assert pwm_similarity(m, m[::-1, ::-1]) == pytest.approx(1.0)
    assert pwm_similarity(m, m[:, 1:]) == pytest.approx(1.0)  # contained, offset by one column
    assert pwm_similarity(m, _counts("GAGAGTTTC").probs) < 0.5


def test_picks_the_planted_motif_skips_long_and_redundant():
    site, long_site = "TTACCCGGA", "CAGGTCAGTGACCTGA"
    codes, y = _codes(400, 80, seed=1), np.arange(400) % 2
    for i in np.flatnonzero(y):  # the site somewhere in 0..50; the long motif too (it would win), at 60
        p = 5 * (i % 9)
        codes[i, p:p + len(site)] = ["ACGT".index(c) for c in site]
        codes[i, 60:60 + len(long_site)] = ["ACGT".index(c) for c in long_site]
    df = pd.DataFrame({"label": y})
    near = _counts(site, 12.0)
    near.id = near.name = "near-duplicate"
    pool = [_counts("GAGAGTTTC"), near, _counts(site), _counts(long_site), _counts("CCAATGG")]
    sel = select_enriched(codes, df["label"], k=2, max_width=11, candidates=pool)
    assert sel.table["id"].tolist()[0] in (site, "near-duplicate")
    assert sel.table["train_auroc"].iloc[0] > 0.95
    assert long_site not in sel.table["id"].tolist() and sel.skipped_long == [long_site]
    assert sel.n_redundant == 1 and sel.n_candidates == 4 and len(sel.motifs) == 2
    assert "skipped 1 wider than the first-layer kernel and 1 redundant" in sel.summary()
    with pytest.raises(ConfigError, match="positive and negative"):
        select_enriched(codes, np.ones(len(codes)), k=2, candidates=pool)
    with pytest.raises(ConfigError, match="no candidate motif is at most 5 bp"):
        select_enriched(codes, df["label"], k=2, max_width=5, candidates=pool)


def test_auto_trains_on_the_training_split_only(split_motifs, monkeypatch):
    import bindscape.motifs.enrichment as enr

    root, ds = split_motifs
    seen = {}
    real = enr.select_enriched

    def spy(codes, labels, **kw):
        seen["n"], seen["max_width"] = len(codes), kw["max_width"]
        return real(codes, labels, **kw)

    monkeypatch.setattr(enr, "select_enriched", spy)
    run = train(_cfg(root, ds, "auto3", "auto:3"))
    assert seen == {"n": 300, "max_width": 11}  # the 300 training rows; none of the 240 val/test rows
    table = pd.read_csv(run / "motifs_auto.tsv", sep="\t")
    assert table["id"].iloc[0] == TRAIN_ID and table["train_auroc"].iloc[0] > 0.9
    assert VAL_ID not in set(table["id"]) and (table["width"] <= 11).all() and len(table) == 3
    log = (run / "log.txt").read_text()
    assert "motifs auto: 3 of" in log and f"{TRAIN_ID} ZNF211" in log and "wider than the first-layer kernel" in log
    ck = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert [r["id"] for r in json.loads(ck["bindscape"]["motifs_auto"])] == table["id"].tolist()
    first = load_jaspar(TRAIN_ID)
    assert load_checkpoint(run).model is not None
    # the run starts from the chosen motif: same initial filters as naming it
    from bindscape.train.tasks.binary import build_model

    torch.manual_seed(0)
    named = build_model(_cfg(root, ds, "named", [TRAIN_ID]), 60, 1)
    expect = motif_filters(motif_log_odds([first]), 11)
    np.testing.assert_allclose(first_dna_conv(named)[1].weight[:2].detach().numpy(), expect, atol=1e-6)


def test_auto_errors(split_motifs):
    from bindscape.train.tasks.binary import build_model

    root, ds = split_motifs
    with pytest.raises(ConfigError, match=r"auto:9: 9 motifs need 18 first-layer filters.*has 16"):
        build_model(_cfg(root, ds, "big", "auto:9"), 60, 1, train_data=lambda: None)
    with pytest.raises(ConfigError, match="needs the training split"):
        build_model(_cfg(root, ds, "none", "auto:2"), 60, 1)
    with pytest.raises(ConfigError, match="no JASPAR CORE matrices for taxon 'martians'"):
        train(_cfg(root, ds, "taxon", "auto:2", motif_taxon="martians"))


def test_cli_auto_errors_are_one_line_exit_2(split_motifs, tmp_path, capsys):
    root, ds = split_motifs
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {ds}\nmodel: {json.dumps({'params': SMALL})}\n"
                   "trainer: {max_epochs: 1, progress: false}\n")
    base = ["train", cfg, "--out-dir", tmp_path / "runs"]
    for args, needles in (
        (["--motif", "auto:0", "--name", "a"], ("model.motifs", "K must be a whole number >= 1")),
        (["--motif", "auto:9", "--name", "b"], ("9 motifs need 18 first-layer filters", "auto:8")),
        (["--motif", "auto", "--motif", "MA0139.2", "--name", "c"], ("alone",)),
    ):
        code, out, err = cli(base + args, capsys)
        assert_one_error(code, err, *needles)
        assert not (tmp_path / "runs" / args[-1] / "checkpoints").exists()

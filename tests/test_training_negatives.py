"""Training negatives (issue 15): the accessible strategy on training chromosomes only, mixtures of strategies,
their recipe validation and the report's per-strategy section."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bindscape.data.dataset import load_dataset
from bindscape.data.tfbs_benchmark import (
    build_mixed_dataset,
    build_tfbs_benchmark,
    check_negative_isolation,
    mix_name,
    parse_mix,
)
from bindscape.errors import ConfigError
from bindscape.io.genome import Genome
from bindscape.io.ranges import overlaps_any
from bindscape.recipes import load_recipe
from conftest import random_seqs, write_fasta

CHROMS = {"chrA": 120_000, "chrB": 110_000, "chrC": 100_000, "chrD": 90_000, "chrE": 80_000, "chrF": 70_000}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A benchmark with genomic and accessible negatives, accessibility peaks on every chromosome."""
    d = tmp_path_factory.mktemp("tn")
    g = Genome(write_fasta(d / "g.fa", random_seqs(CHROMS, seed=2)), cache_dir=d / "cache")
    rng = np.random.default_rng(0)
    rows = []
    for c, size in CHROMS.items():
        s = rng.choice(np.arange(200, size - 300, 400), 40, replace=False)
        rows.append(pd.DataFrame({"chrom": c, "start": s, "end": s + 20}))
    peaks = pd.concat(rows, ignore_index=True)
    rows = []
    for c, size in CHROMS.items():
        s = rng.integers(100, size - 300, 300)
        rows.append(pd.DataFrame({"chrom": c, "start": s, "end": s + 30}))
    acc = pd.concat(rows, ignore_index=True)
    # some accessibility peaks sit on the TF's peaks: they must never become negatives
    acc = pd.concat([acc, peaks.assign(end=peaks["start"] + 25)], ignore_index=True)
    out = d / "bench"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = build_tfbs_benchmark(g, peaks, out, tf="T", accessible=acc, strategies=["genomic", "accessible"],
                                 length=100, ratio=2, k=3, fold=0, seed=0, shortcut=False,
                                 options={"genomic": {"max_candidates": 60_000}})
    return {"genome": g, "out": out, "summary": s, "peaks": peaks}


def test_accessible_training_negatives_stay_on_training_chromosomes(bench):
    s, out = bench["summary"], bench["out"]
    roles = s["split_chroms"]
    r = load_dataset(out / "accessible").regions
    hq = load_dataset(out / "hq_test").regions
    for split in ("train", "val"):
        neg = r[(r["label"] == 0) & (r["split"] == split)]
        assert len(neg) > 0 and set(neg["chrom"]) <= set(roles[split])
        assert not set(neg["chrom"]) & set(roles["test"])
        assert not overlaps_any(neg[["chrom", "start", "end"]].reset_index(drop=True), hq).any()
        assert (neg["source"] == "accessible").all()
    assert set(hq["chrom"]) <= set(roles["test"]) and set(hq["label"]) == {0, 1}
    # no negative overlaps the TF's peaks, although some accessibility peaks sat on them
    assert not overlaps_any(r[r["label"] == 0].reset_index(drop=True), bench["peaks"]).any()
    assert check_negative_isolation(r, roles, hq) == []


def test_isolation_check_flags_a_leak(bench):
    roles = bench["summary"]["split_chroms"]
    r = load_dataset(bench["out"] / "accessible").regions
    hq = load_dataset(bench["out"] / "hq_test").regions
    leak = hq[hq["label"] == 0].head(3).assign(split="train")
    problems = check_negative_isolation(pd.concat([r, leak], ignore_index=True), roles, hq)
    assert len(problems) == 2
    assert "3 train rows lie outside the train chromosomes" in problems[0]
    assert "3 training/validation negatives overlap the HQ test set" in problems[1]


def test_mixed_dataset_takes_each_strategy_in_its_fraction_per_split(bench, tmp_path):
    out = bench["out"]
    comps = {s: out / s for s in ("genomic", "accessible")}
    info = build_mixed_dataset(comps, {"genomic": 0.75, "accessible": 0.25}, tmp_path / "mix", ratio=2, seed=1,
                               genome=bench["genome"])
    ds = load_dataset(tmp_path / "mix")
    r = ds.regions
    pos = load_dataset(out / "genomic").regions.query("label == 1")
    assert int((r["label"] == 1).sum()) == len(pos)
    for split in ("train", "val", "test"):
        n_pos = int(((pos["split"] == split)).sum())
        neg = r[(r["label"] == 0) & (r["split"] == split)]
        counts = neg["source"].value_counts().to_dict()
        assert counts == {"genomic": round(0.75 * 2 * n_pos), "accessible": round(0.25 * 2 * n_pos)}
        assert info["negatives_per_split"][split] == counts
        assert set(neg["chrom"]) <= set(bench["summary"]["split_chroms"][split])
    assert ds.meta["params"]["mix"] == {"genomic": 0.75, "accessible": 0.25}
    assert ds.meta["params"]["strategy"] == "genomic75+accessible25"
    # every mixed negative is one of its component's negatives (same split), none twice
    allneg = pd.concat([load_dataset(p).regions.query("label == 0") for p in comps.values()])
    key = ["chrom", "start", "end", "split", "source"]
    merged = r[r["label"] == 0][key].merge(allneg[key].drop_duplicates(), on=key, how="left", indicator=True)
    assert (merged["_merge"] == "both").all() and not r[key].duplicated().any()
    # same seed, same table; a strategy with too few negatives gives all it has and says so
    build_mixed_dataset(comps, {"genomic": 0.75, "accessible": 0.25}, tmp_path / "mix2", ratio=2, seed=1,
                        genome=bench["genome"])
    assert (tmp_path / "mix" / "regions.parquet").read_bytes() == (tmp_path / "mix2" / "regions.parquet").read_bytes()
    short = build_mixed_dataset(comps, {"genomic": 0.5, "accessible": 0.5}, tmp_path / "mix3", ratio=50, seed=1,
                                genome=bench["genome"])
    assert any("accessible: only" in n for n in short["notes"])


@pytest.mark.parametrize("spec,expected,name", [
    ("genomic", {"genomic": 1.0}, "genomic"),
    ("genomic+hq", {"genomic": 0.5, "accessible": 0.5}, "genomic+accessible"),
    (["genomic", "accessible"], {"genomic": 0.5, "accessible": 0.5}, "genomic+accessible"),
    ({"genomic": 0.7, "accessible": 0.3}, {"genomic": 0.7, "accessible": 0.3}, "genomic70+accessible30"),
])
def test_parse_mix_forms(spec, expected, name):
    mix = parse_mix(spec)
    assert mix == pytest.approx(expected) and list(mix) == list(expected)
    assert mix_name(mix) == name


@pytest.mark.parametrize("spec,needle", [
    ({"genomic": 0.7, "accessible": 0.4}, "fractions must be > 0 and sum to 1"),
    ({"genomic": 1.0, "accessible": 0.0}, "fractions must be > 0 and sum to 1"),
    (["genomic", "nope"], "unknown negative strategy"),
    (["genomic", "genomic"], "named twice"),
    ([], "names no negative strategy"),
    (3, "expected a strategy name"),
])
def test_parse_mix_errors(spec, needle):
    with pytest.raises(ConfigError, match=needle) as exc:
        parse_mix(spec, where="train.m.strategy")
    assert "train.m.strategy" in str(exc.value)


def _recipe(tmp_path: Path, train: list[dict], explain: dict | None = None) -> Path:
    rec = {"name": "t", "data": {"genome": "g.fa", "tf": "T", "peaks": "p.bed", "accessible": "a.bed",
                                 "strategies": ["genomic", "accessible"]},
           "train": train, "explain": explain or {}}
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(rec))
    return p


def test_recipe_accepts_mixes_and_explain_all(tmp_path):
    from bindscape.recipes.kinds.tfbs import strategy_key
    from bindscape.report.tfbs import explained_models, negatives_label

    rec = load_recipe(_recipe(tmp_path, [
        {"name": "a", "strategy": "accessible"},
        {"name": "b", "strategy": ["genomic", "accessible"]},
        {"name": "c", "strategy": {"genomic": 0.25, "accessible": 0.75}},
    ], {"models": "all"}))
    assert [strategy_key(m) for m in rec.train] == ["accessible", "genomic+accessible", "genomic25+accessible75"]
    assert explained_models(rec) == ["a", "b", "c"]
    assert negatives_label(rec.train[2].strategy) == "genomic 25% + accessible 75%"
    rec = load_recipe(_recipe(tmp_path, [{"name": "a", "strategy": "accessible"}, {"name": "b", "strategy": "genomic"}],
                              {"models": ["b"]}))
    assert explained_models(rec) == ["b"]
    rec = load_recipe(_recipe(tmp_path, [{"name": "a", "strategy": "accessible"}, {"name": "b", "strategy": "genomic"}]))
    assert explained_models(rec) == ["a"]  # default unchanged: the first model only


@pytest.mark.parametrize("train,explain,needle", [
    ([{"name": "m", "strategy": {"genomic": 0.5, "accessible": 0.6}}], None,
     "train.m.strategy: fractions must be > 0 and sum to 1"),
    ([{"name": "m", "strategy": ["genomic", "dinucleotide"]}], None,
     "train.m.strategy: 'dinucleotide' is not among data.strategies"),
    ([{"name": "m", "strategy": "genomic+bogus"}], None, "train.m.strategy: unknown negative strategy"),
    ([{"name": "m", "strategy": "genomic"}], {"models": ["x"]}, "explain.models: 'x' not a train run"),
    ([{"name": "m", "strategy": "genomic"}], {"models": "some"}, "explain.models"),
])
def test_recipe_mix_errors_name_the_field(tmp_path, train, explain, needle):
    with pytest.raises(ConfigError) as exc:
        load_recipe(_recipe(tmp_path, train, explain))
    assert needle in str(exc.value)


def test_top_pattern_reports_match_and_tf_motif():
    from types import SimpleNamespace

    from bindscape.report.tfbs import top_pattern

    pats = [SimpleNamespace(name="pos_0", consensus="GCGGGC", n_seqlets=80),
            SimpleNamespace(name="pos_1", consensus="TTACCCGG", n_seqlets=40)]
    ann = pd.DataFrame({"pattern": ["pos_0", "pos_1"], "target": ["SP1", "REB1"], "target_id": ["MA0079.5", "MA0363.3"],
                        "q": [0.01, 0.002], "p": [1e-4, 1e-5], "rank": [1, 1]})
    t = top_pattern({"patterns": pats, "annotation": ann}, "MA0363.3")
    assert t == {"top pattern": "GCGGGC", "seqlets": 80, "Tomtom match": "SP1 (MA0079.5)", "match q": 0.01,
                 "TF motif in top 3": "yes, pos_1 (q = 0.002)"}
    assert top_pattern({"patterns": pats, "annotation": ann}, "MA0001.1")["TF motif in top 3"] == "no"
    assert top_pattern({}, "MA0363.3")["top pattern"] is None


@pytest.mark.slow
def test_tiny_recipe_with_mix_reports_every_strategy(tmp_path):
    import json

    from bindscape.recipes import run_recipe

    model = {"name": "bindscape_cnn", "params": {"channels": 16, "hidden": 16, "dilations": [1]}}
    trainer = {"max_epochs": 1, "patience": None, "threads": 1}
    rec = {
        "name": "tiny-mix", "vars": {"seed": 0},
        "simulate": {"preset": "small", "seed": 0,
                     "set": {"tfs.GATA1.sites_per_mb": 1500, "cells.erythroid.accessible_fraction": 0.3,
                             "species.*.chrom_sizes": [250_000, 200_000, 200_000]}},
        "data": {"genome": "${sim}/sim/genome.fa.gz", "tf": "GATA1",
                 "peaks": "${sim}/sim/peaks/GATA1.erythroid.narrowPeak",
                 "accessible": "${sim}/sim/accessibility/erythroid.narrowPeak",
                 "strategies": ["genomic", "accessible"], "length": 100, "ratio": 1},
        "train": [{"name": "acc", "strategy": "accessible", "model": model, "trainer": trainer},
                  {"name": "mix", "strategy": {"genomic": 0.5, "accessible": 0.5}, "model": model, "trainer": trainer}],
        "evaluate": {"motif": "MA0035.4", "bootstrap": 20},
        "explain": {"models": "all", "n": 20, "modisco": False, "kmers": False},
    }
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(rec))
    out = tmp_path / "run"
    run_recipe(p, out=out, progress=False, log=lambda m: None)
    assert (out / "datasets" / "genomic+accessible" / "regions.parquet").exists()
    metrics = pd.read_csv(out / "evaluation" / "metrics.csv")
    assert {"genomic+accessible test", "accessible test", "HQ test"} <= set(metrics["test_set"])
    rows = json.loads((out / "evaluation" / "negatives.json").read_text())
    assert [r["model"] for r in rows] == ["acc", "mix", "PWM baseline"]
    assert rows[1]["negatives"] == "genomic 50% + accessible 50%" and 0 <= rows[1]["HQ auPRC"] <= 1
    assert (out / "explain" / "acc" / "attributions.npz").exists() and (out / "explain" / "mix").is_dir()
    html = (out / "report.html").read_text()
    assert "Training negatives" in html and "Interpretation (acc)" in html and "Interpretation (mix)" in html

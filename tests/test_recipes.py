"""`bindscape run`: recipe validation, a tiny end-to-end run, resumability after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bindscape.cli import main
from bindscape.errors import ConfigError
from bindscape.recipes import load_recipe, run_recipe
from conftest import assert_golden

TINY = {
    "name": "tiny",
    "vars": {"seed": 0},
    "simulate": {"preset": "small", "seed": "${seed}",
                 "set": {"tfs.GATA1.sites_per_mb": 1500, "cells.erythroid.accessible_fraction": 0.3,
                         "species.*.chrom_sizes": [250_000, 200_000, 200_000]}},
    "data": {"genome": "${sim}/sim/genome.fa.gz", "tf": "GATA1", "peaks": "${sim}/sim/peaks/GATA1.erythroid.narrowPeak",
             "accessible": "${sim}/sim/accessibility/erythroid.narrowPeak", "strategies": ["genomic", "dinucleotide"],
             "length": 100, "ratio": 1},
    "train": [{"name": "m", "strategy": "genomic",
               "model": {"name": "bindscape_cnn", "params": {"channels": 16, "hidden": 16, "dilations": [1]}},
               "data": {"batch_size": 64}, "trainer": {"max_epochs": 2, "patience": None, "threads": 1}}],
    "evaluate": {"motif": "MA0035.4", "bootstrap": 20},
    "explain": {"n": 40, "modisco": True, "kmers": True},
}


def _write(tmp_path: Path, recipe: dict) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(recipe))
    return p


def test_shipped_recipes_validate():
    demo = load_recipe("demo")
    assert demo.simulate is not None and demo.data.tf == "HNF4A"
    assert "${sim}" in demo.data.genome  # filled in after simulating
    reb1 = load_recipe("yeast-reb1", {"data": "/x/yeast"})
    assert reb1.data.genome == "/x/yeast/sacCer3.fa.gz"


@pytest.mark.parametrize(
    "patch,needle",
    [
        ({"data": {**TINY["data"], "lenght": 5}}, "data.lenght: unknown field"),
        ({"train": [{**TINY["train"][0], "strategy": "neighbor"}]}, "not among data.strategies"),
        ({"data": {**TINY["data"], "peaks": "${nope}/x.bed"}}, "unknown variable ${nope}"),
        ({"evaluate": {"criterion": "youden"}}, "evaluate.criterion"),
    ],
)
def test_recipe_errors_name_the_field(tmp_path, patch, needle):
    with pytest.raises(ConfigError) as exc:
        load_recipe(_write(tmp_path, {**TINY, **patch}))
    assert needle in str(exc.value)


def test_data_paths_come_from_vars_only():
    # no default points into a development checkout: a missing data variable names itself and the flag
    for name, var in (("yeast-reb1", "data"), ("cross-species-yeast-worm", "shared_data")):
        with pytest.raises(ConfigError) as exc:
            load_recipe(name)
        assert f"unknown variable ${{{var}}}" in str(exc.value) and f"--var {var}=" in exc.value.hint


def test_every_shipped_recipe_loads_with_its_kind():
    from bindscape.recipes import available_recipes

    kinds = {name: load_recipe(name, {"data": "/x", "shared_data": "/x"}).kind for name in available_recipes()}
    assert kinds["demo"] == "tfbs" and kinds["cross-species"] == "cross-species"
    assert kinds["multitask-bp"] == "multitask"
    with pytest.raises(ConfigError, match="unknown kind 'nope'"):
        load_recipe({"name": "x", "kind": "nope"})


def test_set_overrides_recipe_fields_before_validation(tmp_path, capsys):
    from conftest import assert_one_error, cli

    demo = load_recipe("demo", overrides={"evaluate.bootstrap": 17, "data.strategies": ["genomic"],
                                          "train": [{"name": "only", "strategy": "genomic"}]})
    assert demo.evaluate.bootstrap == 17 and [t.name for t in demo.train] == ["only"]
    assert load_recipe("demo").evaluate.bootstrap == 200  # the shipped file is untouched
    code, _, err = cli(["run", "demo", "--set", "evaluate.bootstrapp=5", "-o", tmp_path / "r"], capsys)
    assert_one_error(code, err, "evaluate.bootstrapp")
    code, _, err = cli(["run", "demo", "--set", "evaluate", "-o", tmp_path / "r"], capsys)
    assert_one_error(code, err, "expected KEY=VALUE")
    assert not (tmp_path / "r").exists()  # refused before any stage ran


def test_unknown_recipe_lists_shipped(capsys):
    assert main(["run", "no-such-recipe"]) == 2
    err = capsys.readouterr().err
    assert "demo" in err and "yeast-reb1" in err


def test_tiny_run_then_resume_skips_done_stages(tmp_path, monkeypatch):
    path = _write(tmp_path, TINY)
    out = tmp_path / "run"
    # 1) interrupt during training: earlier stages are finished and marked, nothing half-written
    import bindscape.train

    real_train = bindscape.train.train

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bindscape.train, "train", boom)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(path, out=out, progress=False, log=lambda m: None)
    assert (out / "stages" / "simulate.json").exists() and (out / "stages" / "datasets.json").exists()
    assert not (out / "stages" / "train-m.json").exists()
    assert not list(out.rglob("*.tmp"))
    # 2) run again: simulate and datasets are skipped, the rest runs
    monkeypatch.setattr(bindscape.train, "train", real_train)
    state = run_recipe(path, out=out, progress=False, log=lambda m: None)
    assert state.skipped == ["simulate", "datasets"]
    assert state.ran == ["train:m", "evaluate", "report"]
    m = pd.read_csv(out / "evaluation" / "metrics.csv")
    assert set(m["test_set"]) == {"genomic test", "dinucleotide test", "HQ test"}
    assert set(m["model"]) == {"m", "PWM baseline"}
    assert m["auROC"].between(0, 1).all()
    assert_golden("recipe_tfbs", {f"{r.model}|{r.test_set}|{k}": getattr(r, k)
                                  for r in m.itertuples() for k in ("auROC", "auPRC")})
    html = (out / "report.html").read_text()
    for needle in ("ROC curves on the HQ test", "Precision-recall on the HQ test", "PWM baseline", "Training",
                   "Interpretation (m)"):
        assert needle in html
    # 3) a third run does nothing; --force redoes everything
    state = run_recipe(path, out=out, progress=False, log=lambda m: None)
    assert state.ran == [] and len(state.skipped) == 5
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    assert "beats_pwm_on_hq" in summary


# ------------------------------------------------- issue 15: HQ validation set and honest model selection
def _hq_bench(tmp_path):
    """A small benchmark with accessible-but-unbound regions on every chromosome (random genome)."""
    import warnings

    import numpy as np

    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark
    from bindscape.io.genome import Genome
    from conftest import random_seqs, write_fasta

    chroms = {"chrA": 90_000, "chrB": 80_000, "chrC": 70_000, "chrD": 60_000, "chrE": 50_000, "chrF": 40_000}
    g = Genome(write_fasta(tmp_path / "g.fa", random_seqs(chroms, seed=3)), cache_dir=tmp_path / "cache")
    rng = np.random.default_rng(1)
    peaks, acc = [], []
    for c, size in chroms.items():
        s = rng.choice(np.arange(200, size - 300, 400), 25, replace=False)
        peaks.append(pd.DataFrame({"chrom": c, "start": s, "end": s + 20}))
        a = rng.integers(100, size - 300, 150)
        acc.append(pd.DataFrame({"chrom": c, "start": a, "end": a + 30}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = build_tfbs_benchmark(g, pd.concat(peaks, ignore_index=True), tmp_path / "bench", tf="T",
                                       accessible=pd.concat(acc, ignore_index=True),
                                       strategies=["genomic", "accessible"], length=100, ratio=1, seed=0,
                                       shortcut=False, options={"genomic": {"max_candidates": 30_000}})
    return summary, tmp_path / "bench"


def test_hq_validation_set_is_on_validation_chromosomes_and_apart_from_training(tmp_path):
    from bindscape.data.dataset import load_dataset
    from bindscape.data.tfbs_benchmark import check_negative_isolation
    from bindscape.io.ranges import overlaps_any

    summary, out = _hq_bench(tmp_path)
    roles = summary["split_chroms"]
    hqv = load_dataset(out / "hq_val").regions
    hqt = load_dataset(out / "hq_test").regions
    assert set(hqv["chrom"]) <= set(roles["val"]) and set(hqv["label"]) == {0, 1}
    assert (hqv["split"] == "val").all()
    assert summary["hq_val"] == {"positives": int(hqv["label"].sum()), "negatives": int((hqv["label"] == 0).sum())}
    assert not overlaps_any(hqv[["chrom", "start", "end"]], hqt[["chrom", "start", "end"]]).any()
    for strategy in ("genomic", "accessible"):
        r = load_dataset(out / strategy).regions
        train_neg = r[(r["label"] == 0) & (r["split"] == "train")].reset_index(drop=True)
        assert len(train_neg) and not overlaps_any(train_neg[["chrom", "start", "end"]], hqv).any()
        assert check_negative_isolation(r, roles, hqt, hqv) == []
    # a training negative placed on an HQ validation region is a leak the check names
    r = load_dataset(out / "accessible").regions
    leak = hqv[hqv["label"] == 0].head(2).assign(split="train")
    problems = check_negative_isolation(pd.concat([r, leak], ignore_index=True), roles, hqt, hqv)
    assert any("2 training negatives overlap the HQ validation set" in p for p in problems)


def _selection_case():
    """Two models whose HQ-test and HQ-validation rankings differ: 'a' wins on HQ test, 'b' on HQ validation."""
    import numpy as np

    from bindscape.report.tfbs import PWM

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(60), np.zeros(140)].astype(int)
    noise = rng.normal(size=(3, len(y)))
    scores = {"a": 3.0 * y + noise[0], "b": 0.6 * y + noise[1], PWM: 1.0 * y + noise[2]}
    preds = pd.concat([pd.DataFrame({"model": m, "test_set": t, "label": y, "score": s, "source": "?"})
                       for m, s in scores.items() for t in ("HQ test", "genomic test")], ignore_index=True)
    from bindscape.evaluate.metrics import evaluate_scores

    metrics = pd.DataFrame([{"model": m, "trained_on": "-" if m == PWM else "genomic", "test_set": t,
                             **evaluate_scores(y, s, bootstrap=20).row()}
                            for m, s in scores.items() for t in ("HQ test", "genomic test")])
    selection = pd.DataFrame([{"model": m, "trained_on": "genomic", "set": "HQ validation", "auPRC": v}
                              for m, v in (("a", 0.70), ("b", 0.80), (PWM, 0.75))])
    return metrics, selection, preds


def test_selection_uses_hq_validation_not_hq_test():
    from bindscape.recipes.kinds.tfbs import select_model, selection_summary
    from bindscape.report.tfbs import selection_text

    metrics, selection, preds = _selection_case()
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")["auPRC"]
    assert hq["a"] > hq["b"]  # 'a' would win if the test set chose
    assert select_model(selection) == ("b", "HQ validation")
    s = selection_summary(metrics, selection, preds, ["genomic test", "HQ test"], n_boot=50)
    assert s["selected_model"] == "b" and s["selected_on"] == "HQ validation auPRC"
    assert "best_model_hq" not in s
    c = s["comparison"]["HQ test"]
    assert c["model"]["auPRC"] == pytest.approx(hq["b"]) and c["pwm"]["auPRC"] == pytest.approx(hq["PWM baseline"])
    assert c["difference"]["auPRC"] == pytest.approx(hq["b"] - hq["PWM baseline"])
    assert s["beats_pwm_on_hq"] is False and s["beats_pwm_on_hq_ci"] is False
    assert s["own_test_set"] == "genomic test" and "beats_pwm_on_own_test" in s
    text = selection_text(s)
    assert text.startswith("Selected on HQ validation auPRC (0.800): b.") and "does NOT beat the PWM" in text
    # without HQ validation scores for every model, each model's own validation split decides
    own = pd.DataFrame([{"model": "a", "set": "own validation", "auPRC": 0.9},
                        {"model": "b", "set": "own validation", "auPRC": 0.7},
                        {"model": "b", "set": "HQ validation", "auPRC": 0.99}])
    assert select_model(own) == ("a", "own validation")


def test_paired_difference_interval():
    import numpy as np

    from bindscape.recipes.kinds.tfbs import paired_difference

    rng = np.random.default_rng(1)
    y = np.r_[np.ones(50), np.zeros(100)].astype(int)
    weak = y + rng.normal(scale=2.0, size=len(y))
    strong = y + rng.normal(scale=0.3, size=len(y))
    same = paired_difference(y, weak, weak, n=30)
    assert same["auPRC"] == 0 and same["auPRC_lo"] == 0 and same["auPRC_hi"] == 0
    d = paired_difference(y, strong, weak, n=100)
    assert d["auPRC"] > 0 and d["auPRC_lo"] > 0 and d["auROC_lo"] > 0
    with pytest.raises(ValueError, match="paired_difference"):
        paired_difference(y, strong[:-1], weak)


def test_yeast_recipes_share_one_protocol():
    reb1 = load_recipe("yeast-reb1", {"data": "/x"})
    abf1 = load_recipe("yeast-abf1", {"data": "/x"})
    assert abf1.data.peaks == "/x/abf1_sites_rossi2018.sacCer3.bed" and abf1.evaluate.motif == "MA0265.3"
    assert [m.name for m in reb1.train] == [m.name for m in abf1.train]
    assert [m.strategy for m in reb1.train] == [m.strategy for m in abf1.train]
    for rec, motif in ((reb1, "MA0363.3"), (abf1, "MA0265.3")):
        hybrids = [m for m in rec.train if m.model.get("motif_score") == "late"]
        assert hybrids and all(m.model["motifs"] == [motif] for m in hybrids)
        assert rec.explain.model is None  # the report interprets the model selected on validation

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

"""`bindscape tune`: a tiny Optuna study on a toy sequence dataset (1 epoch, tiny model, 2-4 trials)."""

from __future__ import annotations

import json
import re

import optuna
import pandas as pd
import pytest
import torch
import yaml

from bindscape.cli import run_cli
from bindscape.errors import ConfigError
from bindscape.train.config import load_config, validate_config
from bindscape.train.tune import (
    TuneConfig,
    default_space,
    load_tune_config,
    resolve_space,
    run_trial,
    run_tune,
)
from conftest import planted_dataset

torch.set_num_threads(1)
TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}
# a small space keeps every trial tiny (the default one would try up to 16 channels and 4 blocks)
SPACE = {"space": {"model.params.channels": {"type": "int", "low": 4, "high": 8},
                   "model.params.dilations": {"type": "depth", "low": 1, "high": 2}}}




@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    ds = planted_dataset(root, {"train": 256, "val": 128, "test": 128}, 40, seed=0, both_strands=False)
    return root, ds


def _base(root, ds, **trainer) -> dict:
    t = {"max_epochs": 1, "progress": False, "patience": None, "seed": 0, "threads": 1, **trainer}
    return {"dataset": str(ds), "name": "toy", "out_dir": str(root / "runs"), "model": TINY,
            "data": {"batch_size": 64}, "trainer": t}


def _write(path, data: dict):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def study_dir(toy):
    """`bindscape tune` run once through the CLI: 2 trials."""
    root, ds = toy
    cfg = _write(root / "tune.yaml", {**_base(root, ds), "tune": SPACE})
    out = root / "study"
    assert run_cli(["tune", str(cfg), "--budget-cpu-min", "5", "--trials", "2", "--out", str(out)]) == 0
    return out


def _load(out):
    return optuna.load_study(study_name="bindscape-tune", storage=f"sqlite:///{out / 'study.db'}")


def test_tiny_study_writes_study_best_config_and_trials(study_dir):
    for f in ("study.db", "best.yaml", "trials.csv", "tune.json", "report.html", "log.txt"):
        assert (study_dir / f).exists(), f
    study = _load(study_dir)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    trials = pd.read_csv(study_dir / "trials.csv")
    assert list(trials["number"]) == [0, 1] and set(trials["state"]) == {"complete"}
    assert {"optim.lr", "model.params.channels", "model.params.dilations", "model.params.dropout",
            "data.sampler"} <= set(trials.columns)
    # best.yaml is a training config with the best trial's values; its score is the best trial's value
    best = load_config(study_dir / "best.yaml")
    summary = json.loads((study_dir / "tune.json").read_text())
    assert summary["best_trial"] == study.best_trial.number
    assert summary["best_value"] == pytest.approx(study.best_value, abs=0)
    assert summary["best_value"] == pytest.approx(trials["value"].max(), rel=1e-12)
    head = (study_dir / "best.yaml").read_text().splitlines()[0]
    assert float(re.search(r"val_auprc = ([0-9.]+)", head).group(1)) == pytest.approx(study.best_value, abs=1e-6)
    p = study.best_trial.params
    assert best.optim.lr == pytest.approx(p["optim.lr"])
    assert best.model.params["channels"] == p["model.params.channels"]
    assert best.model.params["dilations"] == [1, 2][: p["model.params.dilations"]]
    assert best.data.sampler == p["data.sampler"] and best.data.test_split == "test"
    # the best trial's score is the validation auPRC of its run (read from validation only)
    run = study_dir / "trials" / f"trial-{study.best_trial.number:03d}"
    m = json.loads((run / "metrics.json").read_text())
    assert m["best_score"] == pytest.approx(study.best_value) and "test" not in m
    assert not (run / "predictions.parquet").exists()
    html = (study_dir / "report.html").read_text()
    assert "Hyper-parameter search" in html and html.count("<img") == 1 and "best.yaml" in html
    assert trials.loc[study.best_trial.number, "model.params.dilations"] == str(best.model.params["dilations"])


def test_interrupted_search_resumes_and_keeps_finished_trials(toy, monkeypatch):
    root, ds = toy
    cfg = validate_config(_base(root, ds))
    tcfg = TuneConfig.model_validate(SPACE)
    out = root / "resume"
    first = run_tune(cfg, 5, tune_config=tcfg, trials=1, out=out, progress=False)
    assert first.best_number == 0
    kept = _load(out).trials[0]

    import bindscape.train.engine as engine

    real_fit = engine.fit

    def interrupted_fit(*a, **k):  # Ctrl+C inside the second trial's training
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        run_tune(cfg, 5, tune_config=tcfg, trials=3, out=out, progress=False)
    monkeypatch.setattr(engine, "fit", real_fit)
    states = [t.state.name for t in _load(out).trials]
    assert states == ["COMPLETE", "FAIL"]
    assert pd.read_csv(out / "trials.csv")["state"].tolist() == ["complete", "fail"]
    _load(out).ask()  # a trial left RUNNING by a killed process: marked failed on resume

    res = run_tune(cfg, 5, tune_config=tcfg, trials=3, out=out, progress=False)
    study = _load(out)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 3 and [t.state.name for t in study.trials].count("FAIL") == 2
    assert study.trials[0].value == kept.value and study.trials[0].params == kept.params
    assert res.stopped_by == "trials" and len(res.trials) == 5


@pytest.mark.parametrize("budget", ["0", "-1", "abc", "nan"])
def test_bad_budget_is_one_line_exit_2(toy, budget, capsys):
    root, ds = toy
    cfg = _write(root / "budget.yaml", _base(root, ds))
    assert run_cli(["tune", str(cfg), "--budget-cpu-min", budget, "--out", str(root / "nobudget")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: --budget-cpu-min:") and len(err) == 2 and err[1].startswith("hint:")
    assert not (root / "nobudget").exists()


def test_budget_stops_new_trials(toy):
    root, ds = toy
    res = run_tune(validate_config(_base(root, ds)), 1e-6, tune_config=TuneConfig.model_validate(SPACE),
               out=root / "tiny-budget", progress=False)
    assert res.stopped_by == "budget" and len(res.trials) == 1  # the first trial starts, no second one


def test_resume_with_other_config_is_refused(toy, study_dir):
    root, ds = toy
    cfg = validate_config({**_base(root, ds), "optim": {"weight_decay": 0.1}})
    with pytest.raises(ConfigError, match="different config or search space"):
        run_tune(cfg, 5, tune_config=TuneConfig.model_validate(SPACE), out=study_dir, progress=False)


def test_search_space_defaults_section_and_errors(toy, tmp_path):
    root, ds = toy
    cfg = validate_config(_base(root, ds))
    space = default_space(cfg)
    assert space["model.params.channels"].type == "int" and space["model.params.dilations"].type == "depth"
    assert space["optim.lr"].log and space["data.sampler"].choices == ["plain", "balanced"]
    assert not any(k.startswith("model.motif") for k in space)
    motif_cfg = validate_config({**_base(root, ds), "model": {**TINY, "motifs": ["MA0363.3"]}})
    ms = default_space(motif_cfg)
    assert ms["model.motif_score"].choices == ["none", "late"] and ms["model.motif_freeze_epochs"].high == 1
    # the tune: section narrows the defaults; null drops a dimension
    path = _write(tmp_path / "c.yaml", {**_base(root, ds), "tune": {"space": {
        "optim.lr": {"type": "float", "low": 1e-3, "high": 2e-3, "log": True}, "data.sampler": None}}})
    c, t = load_tune_config(path)
    s = resolve_space(c, t)
    assert s["optim.lr"].high == 2e-3 and "data.sampler" not in s
    bad = _write(tmp_path / "bad.yaml", {**_base(root, ds), "tune": {"space": {
        "optim.lrr": {"type": "float", "low": 1e-3, "high": 2e-3}}}})
    with pytest.raises(ConfigError, match="tune.space.optim.lrr"):
        resolve_space(*load_tune_config(bad))
    with pytest.raises(ConfigError, match="low <= high"):
        load_tune_config(_write(tmp_path / "b2.yaml", {**_base(root, ds), "tune": {"space": {
            "optim.lr": {"type": "float", "low": 1e-2, "high": 1e-3}}}}))


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_pruned_trial_stops_cleanly(toy, tmp_path):
    root, ds = toy
    cfg = validate_config(_base(root, ds, max_epochs=3))
    space = resolve_space(cfg, TuneConfig.model_validate({**SPACE, "defaults": False}))
    study = optuna.create_study(direction="maximize", pruner=_AlwaysPrune())
    study.optimize(lambda t: run_trial(t, cfg.model_dump(mode="json"), space, tmp_path), n_trials=1)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.PRUNED and list(t.intermediate_values) == [0]
    m = json.loads((tmp_path / "trials" / "trial-000" / "metrics.json").read_text())
    assert m["epochs_run"] == 1 and t.user_attrs["epochs_run"] == 1  # stopped after its first epoch of 3
    assert "pruned" in (tmp_path / "log.txt").read_text()

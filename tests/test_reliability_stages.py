"""Issue 17, class 5 (second half): stale recipe stages, `simulate --out EXISTING`, `train --overwrite`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import bindscape.recipes.kinds.tfbs as tfbs_kind
from bindscape.cli import main
from bindscape.recipes import run_recipe
from bindscape.recipes.engine import stage

RECIPE = {
    "name": "stale",
    "vars": {"peaks": "a.narrowPeak"},
    "data": {"genome": "g.fa", "tf": "GATA1", "peaks": "${peaks}", "strategies": ["genomic"], "length": 100},
    "train": [{"name": "m", "strategy": "genomic"}],
    "evaluate": {"bootstrap": 20},
}
STAGES = ["datasets", "train:m", "evaluate", "report"]


def _fake_run(calls: list):
    """A tfbs `run` whose stages only record what they were given (no data is read)."""

    def run(state, *, progress=True):
        rec = state.recipe
        for name in STAGES:
            stage(state, name, lambda name=name: calls.append(name) or {"peaks": rec.data.peaks})

    return run


def _write(tmp_path: Path, recipe: dict) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(recipe))
    return p


def test_changed_recipe_reruns_stale_stages_and_says_why(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(tfbs_kind, "run", _fake_run(calls))
    out, logs = tmp_path / "run", []
    path = _write(tmp_path, RECIPE)
    state = run_recipe(path, out=out, progress=False, log=logs.append)
    assert state.ran == STAGES and calls == STAGES
    # unchanged recipe: everything is skipped (a cosmetic change too)
    path = _write(tmp_path, {**RECIPE, "description": "now documented"})
    state = run_recipe(path, out=out, progress=False, log=logs.append)
    assert state.ran == [] and state.skipped == STAGES
    # the peaks path changed: every stage reruns, the log names the changed section
    calls.clear()
    logs.clear()
    path = _write(tmp_path, {**RECIPE, "vars": {"peaks": "b.narrowPeak"}})
    state = run_recipe(path, out=out, progress=False, log=logs.append)
    assert state.ran == STAGES and state.skipped == [] and calls == STAGES
    assert logs[0] == "[run ] datasets (recipe changed: data)"
    marker = json.loads((out / "stages" / "report.json").read_text())
    assert marker["peaks"].endswith("b.narrowPeak") and marker["recipe_key"]["key"] == state.key["key"]


def test_a_later_section_change_reruns_from_the_first_stale_stage(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(tfbs_kind, "run", _fake_run(calls))
    out, logs = tmp_path / "run", []
    run_recipe(_write(tmp_path, RECIPE), out=out, progress=False, log=logs.append)
    logs.clear()
    state = run_recipe(_write(tmp_path, {**RECIPE, "evaluate": {"bootstrap": 50}}), out=out, progress=False,
                       log=logs.append)
    assert state.ran == STAGES  # one key for the whole recipe: nothing computed under the old one is kept
    assert "recipe changed: evaluate" in logs[0]


def test_markers_without_a_key_are_stale(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(tfbs_kind, "run", _fake_run(calls))
    out = tmp_path / "run"
    (out / "stages").mkdir(parents=True)
    for name in STAGES:  # written by an older bindscape: no recipe_key
        (out / "stages" / f"{name.replace(':', '-')}.json").write_text(json.dumps({"stage": name}))
    state = run_recipe(_write(tmp_path, RECIPE), out=out, progress=False, log=lambda m: None)
    assert state.ran == STAGES


# ------------------------------------------------------------------------------------- simulate --out
def test_simulate_refuses_a_non_empty_out_without_force(tmp_path, capsys):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["simulate", "--preset", "small", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[0].startswith("error: ") and "--out" in lines[0] and "Traceback" not in err
    assert "--force" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


def test_simulate_out_check_allows_new_empty_or_forced(tmp_path):
    from bindscape.cli.simulate import check_out_free

    check_out_free(tmp_path / "new", force=False)
    (tmp_path / "empty").mkdir()
    check_out_free(tmp_path / "empty", force=False)
    full = tmp_path / "full"
    full.mkdir()
    (full / "manifest.json").write_text("{}")
    check_out_free(full, force=True)


# ------------------------------------------------------------------------------------- train --overwrite
def test_train_overwrite_keeps_the_old_run_when_the_config_is_bad(tmp_path, capsys):
    run = tmp_path / "runs" / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"old")
    (run / "notes.txt").write_text("my notes")
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": str(tmp_path / "no-such-dataset"), "name": "r",
                                   "out_dir": str(tmp_path / "runs")}))
    assert main(["train", str(cfg), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "Traceback" not in err
    assert (run / "notes.txt").read_text() == "my notes"
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"old"


def test_replace_old_run_moves_it_aside_in_one_step_and_restore_puts_it_back(tmp_path):
    from bindscape.train.engine import replace_old_run, restore_old_run

    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"old")
    aside = replace_old_run(run)
    assert not run.exists() and list(tmp_path.iterdir()) == [aside]
    (run / "checkpoints").mkdir(parents=True)  # a new run that fails part way
    (run / "checkpoints" / "epoch=0.ckpt").write_bytes(b"new")
    restore_old_run(run, aside)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"old"
    assert not (run / "checkpoints" / "epoch=0.ckpt").exists()
    assert replace_old_run(tmp_path / "empty") is None  # nothing there: nothing to do

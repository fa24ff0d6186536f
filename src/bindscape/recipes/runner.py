"""`bindscape run RECIPE`: simulate (optional) -> datasets -> train -> evaluate -> report, resumable.

Each stage ends by writing ``stages/<stage>.json`` (atomically) with what it produced. Running the recipe
again skips stages whose marker exists, unless ``--force``; once a stage runs, every later stage runs again so
nothing downstream is stale. A training stage that was interrupted has no marker but has
``checkpoints/last.ckpt``: it is resumed from there instead of starting over. Every file a stage writes is
written atomically, so an interrupted run never leaves a half file that looks complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bindscape._util import atomic_write_text
from bindscape.recipes.config import Recipe, load_recipe, resolve_sim

STAGES_DIR = "stages"


@dataclass
class RunState:
    recipe: Recipe
    run_dir: Path
    force: bool = False
    log: Callable[[str], None] = print
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    invalidated: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def marker(self, stage: str) -> Path:
        return self.run_dir / STAGES_DIR / f"{stage.replace(':', '-')}.json"

    def done(self, stage: str) -> dict | None:
        m = self.marker(stage)
        if self.force or self.invalidated or not m.exists():
            return None
        return json.loads(m.read_text())

    def finish(self, stage: str, info: dict[str, Any], seconds: float) -> dict:
        info = {**info, "stage": stage, "seconds": round(seconds, 2)}
        atomic_write_text(self.marker(stage), json.dumps(info, indent=2, default=str) + "\n")
        self.ran.append(stage)
        self.timings[stage] = seconds
        self.invalidated = True  # later stages must run again
        return info


def _stage(state: RunState, name: str, fn: Callable[[], dict]) -> dict:
    prev = state.done(name)
    if prev is not None:
        state.skipped.append(name)
        state.log(f"[skip] {name}: done earlier ({prev.get('seconds', '?')} s); --force to redo")
        return prev
    state.log(f"[run ] {name}")
    t0 = time.perf_counter()
    info = fn()
    return state.finish(name, info, time.perf_counter() - t0)


def recipe_kind(recipe: str | Path) -> str:
    """The ``kind:`` of a recipe file (``tfbs`` when absent): which runner executes it."""
    import yaml

    from bindscape.recipes.config import find_recipe

    try:
        raw = yaml.safe_load(find_recipe(recipe).read_text()) or {}
    except yaml.YAMLError:
        return "tfbs"  # load_recipe reports the YAML error with its line
    return str(raw.get("kind", "tfbs")) if isinstance(raw, dict) else "tfbs"


def run_any(recipe: str | Path, **kw) -> RunState:
    """Run a recipe with the runner its ``kind`` names (tfbs, cross-species, multitask-bp)."""
    from bindscape.errors import ConfigError

    kind = recipe_kind(recipe)
    if kind == "tfbs":
        return run_recipe(recipe, **kw)
    import inspect

    kw.pop("progress", None)
    if kind == "cross-species":
        from bindscape.recipes.cross_species import run_cross_species_recipe as fn
    elif kind in ("multitask", "multitask-bp"):
        from bindscape.recipes.multitask import run_multitask_recipe as fn
    else:
        fn = None
    if fn is not None:
        accepted = inspect.signature(fn).parameters
        if kw.get("variables") and "variables" not in accepted:
            raise ConfigError(f"recipe kind {kind!r} takes no --var settings")
        return fn(recipe, **{k: v for k, v in kw.items() if k in accepted})
    raise ConfigError(f"recipe {recipe}: unknown kind {kind!r}", hint="use tfbs, cross-species or multitask-bp")


def run_recipe(
    recipe: str | Path | Recipe,
    *,
    out: str | Path | None = None,
    variables: dict[str, Any] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> RunState:
    """Run every stage of a recipe into ``out`` (default ``runs/<recipe name>``); returns what ran."""
    rec = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, variables)
    run_dir = Path(out or Path("runs") / rec.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState(rec, run_dir, force=force, log=log)
    atomic_write_text(run_dir / "recipe.json", rec.model_dump_json(indent=2) + "\n")

    if rec.simulate is not None:
        info = _stage(state, "simulate", lambda: _simulate(rec, run_dir))
        rec = resolve_sim(rec, info["sim"])
        state.recipe = rec
    data_info = _stage(state, "datasets", lambda: _datasets(rec, run_dir))
    models = {}
    for m in rec.train:
        models[m.name] = _stage(state, f"train:{m.name}", lambda m=m: _train(rec, m, run_dir, data_info, progress))
    _stage(state, "evaluate", lambda: _evaluate(rec, run_dir, data_info, models, progress))
    _stage(state, "report", lambda: _report(rec, run_dir, state))
    return state


# ----------------------------------------------------------------------------------------------- stages
def _simulate(rec: Recipe, run_dir: Path) -> dict:
    from bindscape.simulate import simulate

    sim_dir = run_dir / "sim"
    sim = simulate(preset=rec.simulate.preset, seed=rec.simulate.seed, out=sim_dir, overrides=rec.simulate.set or None)
    return {"sim": str(sim_dir.resolve()), "timings": getattr(sim, "timings", {})}


def _datasets(rec: Recipe, run_dir: Path) -> dict:
    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark

    d = rec.data
    out = run_dir / "datasets"
    summary = build_tfbs_benchmark(
        d.genome, d.peaks, out, tf=d.tf, accessible=d.accessible, others=d.others or None,
        strategies=d.strategies, length=d.length, ratio=d.ratio, fold=d.fold, k=d.groups,
        seed=int(rec.vars.get("seed", 0)), blacklist=d.blacklist, on_short="warn", force=True,
    )
    return {"folder": str(out.resolve()), "summary": summary,
            "datasets": {s: str((out / s).resolve()) for s in d.strategies},
            "hq_test": str((out / "hq_test").resolve()) if (out / "hq_test").exists() else None}


def _train(rec: Recipe, m, run_dir: Path, data_info: dict, progress: bool) -> dict:
    from bindscape.train import train, validate_config

    cfg = validate_config(
        {
            "dataset": data_info["datasets"][m.strategy],
            "name": m.name,
            "out_dir": str(run_dir / "models"),
            "model": m.model,
            "data": m.data,
            "optim": m.optim,
            "trainer": {"seed": int(rec.vars.get("seed", 0)), "progress": progress, **m.trainer},
        },
        source=f"{rec.source}: train.{m.name}",
    )
    last = cfg.run_dir / "checkpoints" / "last.ckpt"
    resume = last.exists()
    run = train(cfg, resume=resume, overwrite=not resume)
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
    return {"run": str(run.resolve()), "resumed": resume, "metrics": metrics}


def _evaluate(rec: Recipe, run_dir: Path, data_info: dict, models: dict, progress: bool) -> dict:
    from bindscape.recipes.evaluation import evaluate_benchmark

    return evaluate_benchmark(rec, run_dir, data_info, models, progress=progress)


def _report(rec: Recipe, run_dir: Path, state: RunState) -> dict:
    from bindscape.recipes.reporting import write_run_report

    path = write_run_report(rec, run_dir)
    return {"report": str(path.resolve())}

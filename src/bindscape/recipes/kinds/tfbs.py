"""The ``tfbs`` recipe kind (the default): simulate (optional) -> datasets -> train -> evaluate -> report.

A recipe names its inputs once (a simulation preset or real files), the TF and its motif, which negative
strategies to build training sets with, the models to train and the evaluation to run. ``${sim}`` (the
simulation folder) is filled after the simulate stage.

The evaluate stage scores every trained model and the PWM baseline on every test set: each strategy's own
test split ("standard" evaluation, negatives like those trained on) and the shared high-quality set
(test-chromosome positives vs accessible-but-unbound regions). Thresholds are chosen on the model's
validation split and applied unchanged to every test set. It writes ``evaluation/metrics.csv`` (one row per
model x test set, with bootstrap intervals), ``evaluation/predictions.parquet`` (labels and scores, for
curves) and ``evaluation/summary.json``. What the report says is `bindscape.report.tfbs`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from bindscape._util import atomic_path, atomic_write_text
from bindscape.data.negatives import parse_strategies
from bindscape.data.tfbs_benchmark import mix_name, parse_mix
from bindscape.data.torchdata import dataset_onehot_batches
from bindscape.errors import ConfigError
from bindscape.recipes.engine import RecipeBase, RunState, fill_late_vars, resume_training, stage
from bindscape.report.tfbs import PWM
from bindscape.schema import StrictModel

LATE_VARS = ("sim",)


class SimulateStage(StrictModel):
    """The optional simulate stage: a simulator preset, its seed and overrides."""

    preset: str = "demo"
    seed: int = 0
    set: dict[str, Any] = Field(default_factory=dict)


class DataStage(StrictModel):
    """Inputs and the training-set builder's settings (`bindscape.data.tfbs_benchmark`)."""

    genome: str
    tf: str
    peaks: str
    accessible: str | None = None
    others: dict[str, str] = Field(default_factory=dict)
    blacklist: str | None = None
    strategies: list[str] = Field(default_factory=lambda: ["genomic", "dinucleotide"])
    length: int = Field(200, ge=20)
    ratio: float = Field(1.0, gt=0)
    fold: int = Field(0, ge=0)
    groups: int = Field(3, ge=2)


class ModelRun(StrictModel):
    """One model to train on one strategy's training set, or on a mix of strategies (training-config sections).

    ``strategy``: one name (``genomic``), names joined by ``+`` or listed (equal shares of the negatives), or a
    mapping ``{genomic: 0.7, accessible: 0.3}`` (fractions summing to 1); see
    `bindscape.data.tfbs_benchmark.parse_mix`.
    """

    name: str
    strategy: str | list[str] | dict[str, float]
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "bindscape_cnn"})
    data: dict[str, Any] = Field(default_factory=dict)
    optim: dict[str, Any] = Field(default_factory=dict)
    trainer: dict[str, Any] = Field(default_factory=dict)


class EvaluateStage(StrictModel):
    """The PWM baseline's motif, bootstrap resamples and the threshold criterion."""

    motif: str | None = None
    motif_species: str | None = None
    bootstrap: int = Field(200, ge=0)
    criterion: Literal["F1", "MCC"] = "F1"


class ExplainStage(StrictModel):
    """The interpretation section of the report: one model (``model``, default the first) or several
    (``models: all`` or a list of train run names; one Interpretation section and one row of the "Training
    negatives" table each)."""

    enabled: bool = True
    model: str | None = None  # a train run name; default the first
    models: Literal["all"] | list[str] | None = None
    method: str = "deeplift_shap"
    n: int = Field(300, ge=10)
    modisco: bool = True
    tomtom: bool = True  # name MoDISco patterns by their best JASPAR match
    kmers: bool = True


class Recipe(RecipeBase):
    """A ``tfbs`` recipe."""

    kind: Literal["tfbs"] = "tfbs"
    simulate: SimulateStage | None = None
    data: DataStage
    train: list[ModelRun] = Field(default_factory=list)
    evaluate: EvaluateStage = Field(default_factory=EvaluateStage)
    explain: ExplainStage = Field(default_factory=ExplainStage)


SCHEMA = Recipe


def check(rec: Recipe) -> None:
    """Cross-field checks: unique run names, strategies that are built, an explain model that is trained.

    Parameters
    ----------
    rec
        The validated recipe; any problem is a `ConfigError` naming the field.
    """
    path = rec.source
    names = [r.name for r in rec.train]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: train: model run names must be unique, got {names}")
    built = parse_strategies(rec.data.strategies)
    for r in rec.train:
        mix = parse_mix(r.strategy, where=f"{path}: train.{r.name}.strategy")
        for s in mix:
            if s not in built:
                raise ConfigError(
                    f"{path}: train.{r.name}.strategy: {s!r} is not among data.strategies",
                    hint=f"use one of: {', '.join(built)} (or add {s} to data.strategies)",
                )
    if rec.explain.model and rec.explain.model not in names:
        raise ConfigError(f"{path}: explain.model: {rec.explain.model!r} is not a train run",
                          hint=f"use one of: {', '.join(names)}")
    bad = [m for m in (rec.explain.models if isinstance(rec.explain.models, list) else []) if m not in names]
    if bad:
        raise ConfigError(f"{path}: explain.models: {', '.join(map(repr, bad))} not a train run",
                          hint=f"use 'all' or some of: {', '.join(names)}")


def strategy_key(m: ModelRun) -> str:
    """The training dataset a train entry uses: its strategy, or its mixture's name (`mix_name`).

    Parameters
    ----------
    m
        A train entry.

    Returns
    -------
    str
        A key of the datasets stage's ``datasets``.
    """
    return mix_name(parse_mix(m.strategy, where=f"train.{m.name}.strategy"))


def run(state: RunState, *, progress: bool = True) -> None:
    """Every stage of a ``tfbs`` recipe.

    Parameters
    ----------
    state
        The run's state (its ``recipe`` is replaced once ``${sim}`` is known).
    progress
        Progress bars for training and prediction.
    """
    rec, run_dir = state.recipe, state.run_dir
    if rec.simulate is not None:
        info = stage(state, "simulate", lambda: _simulate(rec, run_dir))
        rec = fill_late_vars(rec, {"sim": info["sim"]})
        state.recipe = rec
    data_info = stage(state, "datasets", lambda: _datasets(rec, run_dir))
    missing = [m.name for m in rec.train if strategy_key(m) not in data_info["datasets"]]
    if missing:
        raise ConfigError(f"{run_dir}: its datasets stage predates train entries {', '.join(missing)} (a new "
                          "negative mix)", hint="rerun with --force to rebuild the datasets")
    models = {}
    for m in rec.train:
        models[m.name] = stage(state, f"train:{m.name}", lambda m=m: _train(rec, m, run_dir, data_info, progress))
    stage(state, "evaluate", lambda: evaluate_benchmark(rec, run_dir, data_info, models, progress=progress))
    stage(state, "report", lambda: _report(rec, run_dir))


# ----------------------------------------------------------------------------------------------- stages
def _simulate(rec: Recipe, run_dir: Path) -> dict:
    from bindscape.simulate import simulate

    sim_dir = run_dir / "sim"
    sim = simulate(preset=rec.simulate.preset, seed=rec.simulate.seed, out=sim_dir, overrides=rec.simulate.set or None)
    return {"sim": str(sim_dir.resolve()), "timings": getattr(sim, "timings", {})}


def _datasets(rec: Recipe, run_dir: Path) -> dict:
    from bindscape.data.tfbs_benchmark import build_mixed_dataset, build_tfbs_benchmark
    from bindscape.io.genome import Genome

    d = rec.data
    out = run_dir / "datasets"
    summary = build_tfbs_benchmark(
        d.genome, d.peaks, out, tf=d.tf, accessible=d.accessible, others=d.others or None,
        strategies=d.strategies, length=d.length, ratio=d.ratio, fold=d.fold, k=d.groups,
        seed=int(rec.vars.get("seed", 0)), blacklist=d.blacklist, on_short="warn", force=True,
    )
    datasets = {s: str((out / s).resolve()) for s in parse_strategies(d.strategies)}
    mixes = {}
    for m in rec.train:
        key = strategy_key(m)
        if key not in datasets:
            mixes[key] = build_mixed_dataset(datasets, parse_mix(m.strategy), out / key, ratio=d.ratio,
                                             seed=int(rec.vars.get("seed", 0)), genome=Genome(d.genome))
            datasets[key] = str((out / key).resolve())
    if mixes:
        summary["mixes"] = mixes
    return {"folder": str(out.resolve()), "summary": summary, "datasets": datasets,
            "hq_test": str((out / "hq_test").resolve()) if (out / "hq_test").exists() else None}


def _train(rec: Recipe, m: ModelRun, run_dir: Path, data_info: dict, progress: bool) -> dict:
    import bindscape.train

    cfg = bindscape.train.validate_config(
        {
            "dataset": data_info["datasets"][strategy_key(m)],
            "name": m.name,
            "out_dir": str(run_dir / "models"),
            "model": m.model,
            "data": m.data,
            "optim": m.optim,
            "trainer": {"seed": int(rec.vars.get("seed", 0)), "progress": progress, **m.trainer},
        },
        source=f"{rec.source}: train.{m.name}",
    )
    resume = resume_training(cfg.run_dir)
    run = bindscape.train.train(cfg, resume=resume, overwrite=not resume)
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
    return {"run": str(run.resolve()), "resumed": resume, "metrics": metrics}


def _report(rec: Recipe, run_dir: Path) -> dict:
    from bindscape.report.tfbs import write_report

    return {"report": str(write_report(rec, run_dir).resolve())}


# ------------------------------------------------------------------------------------------- evaluation
def pwm_scores(baseline, path: str | Path, split: str | None) -> pd.DataFrame:
    """PWM-baseline scores of a dataset split.

    Parameters
    ----------
    baseline
        A `bindscape.motifs.PWMBaseline`.
    path
        The dataset folder.
    split
        ``train``/``val``/``test``, or None for every row.

    Returns
    -------
    The split's regions (chrom, start, end, label, split, source when present) with a ``prob`` column.
    """
    regions, batches = dataset_onehot_batches(path, split)
    s = np.concatenate([baseline.predict(x) for x in batches]) if len(regions) else np.zeros(0)
    out = regions[[c for c in ("chrom", "start", "end", "label", "split", "source") if c in regions]].copy()
    out["prob"] = s
    return out


def model_scores(ckpt, path: str | Path, split: str | None, progress: bool) -> pd.DataFrame:
    """A trained model's predictions on a dataset split, with the regions' ``source`` column when present.

    Parameters
    ----------
    ckpt
        A loaded checkpoint (`bindscape.train.load_checkpoint`).
    path
        The dataset folder.
    split
        ``train``/``val``/``test``, or None for every row.
    progress
        Show a progress bar.

    Returns
    -------
    `bindscape.train.predict_dataset`'s table (``label``, ``prob``, ...).
    """
    from bindscape.train import predict_dataset

    df = predict_dataset(ckpt, path, split=split, progress=progress)
    if "source" not in df:
        from bindscape.data.dataset import load_dataset

        regions = load_dataset(path).regions
        if split is not None and "split" in regions:
            regions = regions[regions["split"] == split]
        if "source" in regions:
            df["source"] = regions["source"].to_numpy()
    return df


def evaluate_benchmark(rec: Recipe, run_dir: Path, data_info: dict, models: dict, *, progress: bool = True) -> dict:
    """The evaluate stage: every model and the PWM baseline on every test set (see the module docstring).

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; results go to ``evaluation/``.
    data_info
        The datasets stage's record (``datasets``, ``hq_test``).
    models
        Train run name -> the train stage's record (``run``).
    progress
        Progress bars while predicting.

    Returns
    -------
    The summary: test sets, models, HQ auROC/auPRC per model, and whether the best model beats the PWM.
    """
    from bindscape.evaluate.metrics import evaluate_scores
    from bindscape.train import load_checkpoint

    out_dir = run_dir / "evaluation"
    test_sets = {f"{s} test": (p, "test") for s, p in data_info["datasets"].items()}
    if data_info.get("hq_test"):
        test_sets["HQ test"] = (data_info["hq_test"], None)
    scored: list[pd.DataFrame] = []
    rows = []

    def add(model: str, trained_on: str, val: pd.DataFrame | None, tests: dict[str, pd.DataFrame]):
        v = (val["label"].to_numpy(), val["prob"].to_numpy()) if val is not None and len(val) else None
        for tname, df in tests.items():
            y, s = df["label"].to_numpy(), df["prob"].to_numpy()
            ev = evaluate_scores(y, s, val=v, criterion=rec.evaluate.criterion, bootstrap=rec.evaluate.bootstrap,
                                 seed=int(rec.vars.get("seed", 0)))
            rows.append({"model": model, "trained_on": trained_on, "test_set": tname,
                         "kind": "HQ" if tname == "HQ test" else "standard", **ev.row()})
            scored.append(pd.DataFrame({"model": model, "test_set": tname, "label": y, "score": s,
                                        "source": df["source"].to_numpy() if "source" in df else "?"}))

    for name, info in models.items():
        m = next(x for x in rec.train if x.name == name)
        ckpt = load_checkpoint(Path(info["run"]) / "checkpoints" / "best.ckpt")
        own = data_info["datasets"][strategy_key(m)]
        val = model_scores(ckpt, own, "val", progress)
        tests = {t: model_scores(ckpt, p, sp, progress) for t, (p, sp) in test_sets.items()}
        add(name, strategy_key(m), val, tests)

    if rec.evaluate.motif:
        from bindscape.motifs import PWMBaseline, load_motif

        motif = load_motif(rec.evaluate.motif, species=rec.evaluate.motif_species)
        base = PWMBaseline([motif])
        first = next(iter(data_info["datasets"].values()))
        val = pwm_scores(base, first, "val")
        add(PWM, "-", val, {t: pwm_scores(base, p, sp) for t, (p, sp) in test_sets.items()})

    metrics = pd.DataFrame(rows)
    _write_evaluation(out_dir, metrics, pd.concat(scored, ignore_index=True))
    summary = _summary(metrics, list(test_sets))
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return {"metrics": str((out_dir / "metrics.csv").resolve()), **summary}


def _write_evaluation(out_dir: Path, metrics: pd.DataFrame, preds: pd.DataFrame) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        preds.to_parquet(tmp, index=False)


def _summary(metrics: pd.DataFrame, test_sets: list[str]) -> dict:
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")
    summary = {
        "test_sets": test_sets,
        "models": list(metrics["model"].unique()),
        "hq_auroc": hq["auROC"].to_dict() if len(hq) else {},
        "hq_auprc": hq["auPRC"].to_dict() if len(hq) else {},
    }
    if len(hq) and PWM in hq.index:
        best = hq.drop(index=PWM)["auPRC"]
        summary["best_model_hq"] = best.idxmax() if len(best) else None
        summary["beats_pwm_on_hq"] = bool(len(best) and best.max() > hq.loc[PWM, "auPRC"])
    return summary


__all__ = ["LATE_VARS", "SCHEMA", "Recipe", "check", "evaluate_benchmark", "model_scores", "pwm_scores", "run",
           "strategy_key"]

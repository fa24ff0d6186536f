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

Model selection reads validation data only: every model (and the PWM) is also scored on the HQ validation
set (validation-chromosome positives vs every accessible-but-unbound validation region;
``evaluation/hq_validation.csv``) and the trained model with the best HQ-validation auPRC is *the selected
model* (without an HQ validation set: the best auPRC on its own validation split). Its HQ-test and own-test
scores are then compared with the PWM's by a paired bootstrap over the test rows (`paired_difference`); the
test sets are never used to choose.
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
from bindscape.recipes.engine import RecipeBase, RunState, resume_training, simulate_stage, stage
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
    """The interpretation section of the report: one model (``model``, default the one selected on validation) or several
    (``models: all`` or a list of train run names; one Interpretation section and one row of the "Training
    negatives" table each)."""

    enabled: bool = True
    model: str | None = None  # a train run name; default the model selected on validation
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
    try:
        built = parse_strategies(rec.data.strategies)
    except ConfigError as exc:  # its message names no file: say which recipe and field
        raise ConfigError(f"{path}: data.strategies: {exc.message}", hint=exc.hint) from None
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
        rec = simulate_stage(state)
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
            "hq_test": str((out / "hq_test").resolve()) if (out / "hq_test").exists() else None,
            "hq_val": str((out / "hq_val").resolve()) if (out / "hq_val").exists() else None}


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
    """The evaluate stage: every model and the PWM baseline on every test set and on the HQ validation set, the
    model selected on HQ validation, and its paired comparison with the PWM (see the module docstring).

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; results go to ``evaluation/``.
    data_info
        The datasets stage's record (``datasets``, ``hq_test``, ``hq_val``).
    models
        Train run name -> the train stage's record (``run``).
    progress
        Progress bars while predicting.

    Returns
    -------
    dict
        The summary (`selection_summary`) plus the path of ``metrics.csv``.
    """
    from bindscape.train import load_checkpoint

    out_dir = run_dir / "evaluation"
    test_sets = {f"{s} test": (p, "test") for s, p in data_info["datasets"].items()}
    if data_info.get("hq_test"):
        test_sets["HQ test"] = (data_info["hq_test"], None)
    hq_val = data_info.get("hq_val")
    acc = _Scores(rec)
    for name, info in models.items():
        m = next(x for x in rec.train if x.name == name)
        ckpt = load_checkpoint(Path(info["run"]) / "checkpoints" / "best.ckpt")
        own = data_info["datasets"][strategy_key(m)]
        val = model_scores(ckpt, own, "val", progress)
        tests = {t: model_scores(ckpt, p, sp, progress) for t, (p, sp) in test_sets.items()}
        acc.add(name, strategy_key(m), val, tests, model_scores(ckpt, hq_val, None, progress) if hq_val else None)

    if rec.evaluate.motif:
        from bindscape.motifs import PWMBaseline, load_motif

        motif = load_motif(rec.evaluate.motif, species=rec.evaluate.motif_species)
        base = PWMBaseline([motif])
        first = next(iter(data_info["datasets"].values()))
        val = pwm_scores(base, first, "val")
        acc.add(PWM, "-", val, {t: pwm_scores(base, p, sp) for t, (p, sp) in test_sets.items()},
                pwm_scores(base, hq_val, None) if hq_val else None)

    metrics = pd.DataFrame(acc.rows)
    preds = pd.concat(acc.scored, ignore_index=True)
    _write_evaluation(out_dir, metrics, preds)
    selection = pd.DataFrame(acc.selection_rows)
    with atomic_path(out_dir / "hq_validation.csv") as tmp:
        selection.to_csv(tmp, index=False)
    summary = selection_summary(metrics, selection, preds, list(test_sets), n_boot=rec.evaluate.bootstrap,
                                seed=int(rec.vars.get("seed", 0)))
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return {"metrics": str((out_dir / "metrics.csv").resolve()), **summary}


class _Scores:
    """What the evaluate stage accumulates: metrics rows, per-row scores and the validation scores that select."""

    def __init__(self, rec: Recipe):
        self.rec = rec
        self.rows: list[dict] = []
        self.scored: list[pd.DataFrame] = []
        self.selection_rows: list[dict] = []

    def add(self, model: str, trained_on: str, val: pd.DataFrame | None, tests: dict[str, pd.DataFrame],
            hq_val: pd.DataFrame | None) -> None:
        from bindscape.evaluate.metrics import evaluate_scores, ranking_metrics

        rec = self.rec
        v = (val["label"].to_numpy(), val["prob"].to_numpy()) if val is not None and len(val) else None
        for tname, df in tests.items():
            y, s = df["label"].to_numpy(), df["prob"].to_numpy()
            ev = evaluate_scores(y, s, val=v, criterion=rec.evaluate.criterion, bootstrap=rec.evaluate.bootstrap,
                                 seed=int(rec.vars.get("seed", 0)))
            self.rows.append({"model": model, "trained_on": trained_on, "test_set": tname,
                              "kind": "HQ" if tname == "HQ test" else "standard", **ev.row()})
            self.scored.append(pd.DataFrame({"model": model, "test_set": tname, "label": y, "score": s,
                                             "source": df["source"].to_numpy() if "source" in df else "?"}))
        for vname, df in (("HQ validation", hq_val), ("own validation", val)):
            if df is not None and len(df) and 0 < df["label"].sum() < len(df):
                r = ranking_metrics(df["label"].to_numpy(), df["prob"].to_numpy())
                self.selection_rows.append({"model": model, "trained_on": trained_on, "set": vname,
                                            "n": int(len(df)), "positives": int(df["label"].sum()),
                                            "auROC": r["auROC"], "auPRC": r["auPRC"]})


def paired_difference(y, a, b, *, n: int = 200, seed: int = 0, alpha: float = 0.05) -> dict[str, float]:
    """auPRC and auROC of scores `a` minus those of `b` on the same rows, with a paired percentile bootstrap.

    Each resample draws the same rows (positives and negatives separately, as `bootstrap_ci`) for both scores,
    so the interval is that of the difference, not of two independent intervals.

    Parameters
    ----------
    y
        0/1 labels.
    a, b
        Two models' scores of the same rows.
    n
        Bootstrap resamples (0: point estimates only).
    seed, alpha
        Seed of the resampling; 1 - coverage.

    Returns
    -------
    dict
        ``auPRC``, ``auPRC_lo``, ``auPRC_hi``, ``auROC``, ``auROC_lo``, ``auROC_hi`` (differences a - b).
    """
    from bindscape.evaluate.metrics import auprc, auroc

    y, a, b = np.asarray(y), np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(y) == len(a) == len(b):
        raise ValueError(f"paired_difference: {len(y)} labels, {len(a)} and {len(b)} scores")
    out: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    idx = [np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))] for _ in range(n)]
    for name, fn in (("auPRC", auprc), ("auROC", auroc)):
        out[name] = float(fn(y, a) - fn(y, b))
        vals = np.array([fn(y[i], a[i]) - fn(y[i], b[i]) for i in idx]) if idx else np.full(1, np.nan)
        out[f"{name}_lo"] = float(np.quantile(vals, alpha / 2))
        out[f"{name}_hi"] = float(np.quantile(vals, 1 - alpha / 2))
    return out


def _write_evaluation(out_dir: Path, metrics: pd.DataFrame, preds: pd.DataFrame) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        preds.to_parquet(tmp, index=False)


def select_model(selection: pd.DataFrame) -> tuple[str | None, str | None]:
    """The trained model with the best validation auPRC: on the HQ validation set when every trained model has
    a score there, else on each model's own validation split. Ties go to the first in recipe order.

    Parameters
    ----------
    selection
        ``hq_validation.csv``'s table (``model``, ``set``, ``auPRC``; the PWM's rows are ignored).

    Returns
    -------
    tuple
        (model name, the set it was selected on), or (None, None) when there is no validation score.
    """
    if selection.empty:
        return None, None
    learned = selection[selection["model"] != PWM]
    models = list(dict.fromkeys(learned["model"]))
    for vset in ("HQ validation", "own validation"):
        rows = learned[learned["set"] == vset].set_index("model")
        if len(rows) and set(rows.index) == set(models):
            auprc = rows.loc[models, "auPRC"].to_numpy(dtype=float)
            return models[int(np.nanargmax(auprc))], vset
    return None, None


def selection_summary(metrics: pd.DataFrame, selection: pd.DataFrame, preds: pd.DataFrame, test_sets: list[str],
                      *, n_boot: int = 200, seed: int = 0) -> dict:
    """``summary.json``: HQ scores per model, the model selected on validation and how it compares with the PWM.

    Parameters
    ----------
    metrics
        ``metrics.csv``'s table.
    selection
        ``hq_validation.csv``'s table (`select_model`).
    preds
        ``predictions.parquet``'s table (per-row scores, for the paired bootstrap).
    test_sets
        The test-set names, in order.
    n_boot, seed
        Resamples and seed of the paired bootstrap.

    Returns
    -------
    dict
        ``test_sets``, ``models``, ``hq_auroc``, ``hq_auprc``, ``hq_val_auprc``; with a selected model
        ``selected_model``, ``selected_on``; with a PWM baseline as well ``comparison`` (per test set: the
        model's and the PWM's auPRC with intervals and the paired difference), ``beats_pwm_on_hq`` (point
        estimate), ``beats_pwm_on_hq_ci`` (the difference's interval excludes 0), and ``beats_pwm_on_own_test``.
    """
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")
    hqv = selection[selection["set"] == "HQ validation"].set_index("model") if len(selection) else selection
    summary: dict[str, Any] = {
        "test_sets": test_sets,
        "models": list(metrics["model"].unique()),
        "hq_auroc": hq["auROC"].to_dict() if len(hq) else {},
        "hq_auprc": hq["auPRC"].to_dict() if len(hq) else {},
        "hq_val_auprc": hqv["auPRC"].to_dict() if len(hqv) else {},
    }
    chosen, on = select_model(selection)
    if chosen is None:
        return summary
    summary.update(selected_model=chosen, selected_on=f"{on} auPRC")
    if PWM not in set(metrics["model"]):
        return summary
    own = metrics.loc[(metrics["model"] == chosen), "trained_on"].iloc[0]
    comparison = {}
    for tset in [t for t in ("HQ test", f"{own} test") if t in test_sets]:
        comparison[tset] = _compare(metrics, preds, chosen, tset, n_boot=n_boot, seed=seed)
    summary["comparison"] = comparison
    if "HQ test" in comparison:
        d = comparison["HQ test"]["difference"]
        summary["beats_pwm_on_hq"] = bool(d["auPRC"] > 0)
        summary["beats_pwm_on_hq_ci"] = bool(d["auPRC_lo"] > 0)
    if f"{own} test" in comparison:
        d = comparison[f"{own} test"]["difference"]
        summary["own_test_set"] = f"{own} test"
        summary["beats_pwm_on_own_test"] = bool(d["auPRC"] > 0)
        summary["beats_pwm_on_own_test_ci"] = bool(d["auPRC_lo"] > 0)
    return summary


def _compare(metrics: pd.DataFrame, preds: pd.DataFrame, model: str, tset: str, *, n_boot: int, seed: int) -> dict:
    """One test set: the model's and the PWM's auPRC/auROC with intervals, and their paired difference."""
    def row(m):
        r = metrics[(metrics["model"] == m) & (metrics["test_set"] == tset)].iloc[0]
        return {k: float(r[k]) for k in ("auPRC", "auPRC_lo", "auPRC_hi", "auROC") if k in r and pd.notna(r[k])}

    a = preds[(preds["model"] == model) & (preds["test_set"] == tset)]
    b = preds[(preds["model"] == PWM) & (preds["test_set"] == tset)]
    if not np.array_equal(a["label"].to_numpy(), b["label"].to_numpy()):
        raise RuntimeError(f"{tset}: the model's and the PWM's rows differ; cannot pair them")
    diff = paired_difference(a["label"].to_numpy(), a["score"].to_numpy(), b["score"].to_numpy(), n=n_boot,
                             seed=seed)
    return {"model": row(model), "pwm": row(PWM), "difference": diff}


__all__ = ["LATE_VARS", "SCHEMA", "Recipe", "check", "evaluate_benchmark", "model_scores", "paired_difference",
           "pwm_scores", "run", "select_model", "selection_summary", "strategy_key"]

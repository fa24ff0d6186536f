"""The report of a ``tfbs`` recipe run: one self-contained HTML file from what the earlier stages wrote.

Sections: Overview (HQ auPRC cards, the PWM verdict), Data (training sets per negative strategy, splits, HQ
counts, GC histograms), Training (curves and a table of trained models), Evaluation (ROC and PR curves per
test set, metrics with bootstrap intervals, a models x test sets heatmap) and Interpretation (attributions,
TF-MoDISco patterns, k-mer enrichment) of one model.

`recipe` is the ``tfbs`` recipe model (duck-typed: name, description, source, data, train, evaluate, explain).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.data.torchdata import dataset_onehot_batches
from bindscape.report.sections import read_json, stage_records, training_history

PWM = "PWM baseline"
"""The PWM baseline's model name in metrics tables and reports."""
MAX_GC_ROWS = 4000


def gc_values(dataset: str | Path, split: str = "train") -> dict[str, np.ndarray]:
    """GC fraction of positives and negatives (at most MAX_GC_ROWS each) of a dataset split.

    Parameters
    ----------
    dataset
        The dataset folder.
    split
        The split to read.

    Returns
    -------
    ``{"positives": array, "negatives": array}``.
    """
    regions, batches = dataset_onehot_batches(dataset, split)
    gc, n = [], 0
    for x in batches:
        gc.append(x[:, 1:3].sum(axis=(1, 2)) / np.maximum(x.sum(axis=(1, 2)), 1))
        n += len(x)
        if n >= 4 * MAX_GC_ROWS:
            break
    gc = np.concatenate(gc) if gc else np.zeros(0)
    lab = regions["label"].to_numpy()[: len(gc)]
    return {"positives": gc[lab == 1][:MAX_GC_ROWS], "negatives": gc[lab == 0][:MAX_GC_ROWS]}


def _curves(preds: pd.DataFrame, test_set: str):
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    roc, pr = {}, {}
    sub = preds[preds["test_set"] == test_set]
    for model, g in sub.groupby("model", sort=False):
        y, s = g["label"].to_numpy(), g["score"].to_numpy()
        if 0 < y.sum() < len(y):
            fpr, tpr, _ = roc_curve(y, s)
            prec, rec, _ = precision_recall_curve(y, s)
            roc[model] = (fpr, tpr, roc_auc_score(y, s))
            pr[model] = (rec, prec, average_precision_score(y, s))
    prevalence = float(sub.groupby("model")["label"].mean().iloc[0]) if len(sub) else None
    return roc, pr, prevalence


def write_report(recipe, run_dir: str | Path) -> Path:
    """Write ``report.html`` of a finished ``tfbs`` run.

    Parameters
    ----------
    recipe
        The ``tfbs`` recipe.
    run_dir
        The run folder (``stages/``, ``evaluation/``, ``models/``).

    Returns
    -------
    The report's path.
    """
    from bindscape.report import Report

    run_dir = Path(run_dir)
    stages = stage_records(run_dir)
    metrics = pd.read_csv(run_dir / "evaluation" / "metrics.csv")
    r = Report(f"bindscape run: {recipe.name}", subtitle=recipe.description or None,
               command=f"bindscape run {recipe.source}")
    _overview(r, recipe, metrics, read_json(run_dir / "evaluation" / "summary.json"))
    _data(r, stages.get("datasets", {}))
    _training(r, recipe, run_dir, stages)
    _evaluation(r, recipe, metrics, pd.read_parquet(run_dir / "evaluation" / "predictions.parquet"))
    if recipe.explain.enabled and recipe.train:
        _explain(r, recipe, run_dir, stages)
    return r.write(run_dir / "report.html")


def _overview(r, recipe, metrics: pd.DataFrame, ev: dict) -> None:
    ov = r.section("Overview", intro=f"TF **{recipe.data.tf}**; training sets built with negative strategies "
                                     f"{', '.join(recipe.data.strategies)}; tested on each strategy's held-out "
                                     "chromosomes and on the shared high-quality (HQ) test set of "
                                     "accessible-but-unbound regions.")
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")
    cards = {f"{model}: HQ auPRC": hq.loc[model, "auPRC"] for model in hq.index}
    if cards:
        ov.metrics(cards, caption="auPRC on the HQ test set")
    if "beats_pwm_on_hq" in ev:
        verdict = "beats" if ev["beats_pwm_on_hq"] else "does NOT beat"
        ov.note(f"The best trained model ({ev.get('best_model_hq')}) {verdict} the PWM baseline on the HQ test set "
                "(auPRC).", kind="info" if ev["beats_pwm_on_hq"] else "warning")


def _data(r, data: dict) -> None:
    from bindscape.report import figures

    summary = data.get("summary", {})
    ds = r.section("Data", intro="Positives are windows at peak summits; each strategy adds its own negatives. "
                                 "Chromosome groups hold out validation and test data (no chromosome is in two "
                                 "splits).")
    rows = []
    for s, info in (summary.get("strategies") or {}).items():
        rows.append({"strategy": s, **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}})
    if rows:
        ds.table(pd.DataFrame(rows), caption="Training sets per negative strategy: counts, GC/repeat match (KS) and "
                                             "the k-mer shortcut detector's cross-validated auROC (0.5 = negatives "
                                             "cannot be told apart by composition).")
    if summary.get("split_chroms"):
        ds.table(pd.DataFrame([{"split": k, "chromosomes": ", ".join(v)} for k, v in summary["split_chroms"].items()]),
                 caption="Chromosomes per split.")
    if summary.get("hq_test"):
        ds.metrics({"HQ positives": summary["hq_test"].get("positives"),
                    "HQ negatives": summary["hq_test"].get("negatives")}, fmt="{:,.0f}",
                   caption="HQ test set: test-chromosome positives vs accessible regions without a peak")
    for s, path in (data.get("datasets") or {}).items():
        gc = gc_values(path)
        if len(gc["positives"]) and len(gc["negatives"]):
            ds.figure(figures.histograms(gc, bins=30, title=f"GC content: {s}", xlabel="GC fraction"),
                      caption=f"GC content of training positives vs {s} negatives.")


def _training(r, recipe, run_dir: Path, stages: dict) -> None:
    from bindscape.report import figures

    tr = r.section("Training")
    trows = []
    for m in recipe.train:
        info = stages.get(f"train-{m.name}", {})
        run = Path(info.get("run", run_dir / "models" / m.name))
        mj = read_json(run / "metrics.json")
        trows.append({"model": m.name, "architecture": mj.get("model"), "trained on": m.strategy,
                      "parameters": mj.get("n_parameters"), "epochs": mj.get("epochs_run"),
                      "best epoch": mj.get("best_epoch"), "CPU s": mj.get("cpu_seconds"),
                      "val auPRC": (mj.get("val") or {}).get("auprc"), "resumed": info.get("resumed")})
        hist = training_history(run)
        if hist is not None and len(hist):
            tr.figure(figures.training_curves(hist, title=f"Training: {m.name}"),
                      caption=f"{m.name}: loss and validation metrics per epoch.")
    if trows:
        tr.table(pd.DataFrame(trows), caption="Trained models.")


def _evaluation(r, recipe, metrics: pd.DataFrame, preds: pd.DataFrame) -> None:
    from bindscape.report import figures

    ev_sec = r.section("Evaluation", intro="Thresholds (for F1, MCC, precision, recall) are chosen on each "
                                            "model's validation split and applied unchanged to every test set. "
                                            "Intervals are 95% bootstrap intervals.")
    for test_set in metrics["test_set"].unique():
        roc, pr, prev = _curves(preds, test_set)
        if roc:
            ev_sec.figure(figures.roc_curves(roc, title=f"ROC: {test_set}"), caption=f"ROC curves on the {test_set}.")
            ev_sec.figure(figures.pr_curves(pr, prevalence=prev, title=f"Precision-recall: {test_set}"),
                          caption=f"Precision-recall on the {test_set}; dashed line: prevalence.")
    table = metrics.copy()
    for m in ("auROC", "auPRC"):
        if f"{m}_lo" in table:
            table[f"{m} 95% CI"] = [f"{lo:.3f}-{hi:.3f}" for lo, hi in zip(table[f"{m}_lo"], table[f"{m}_hi"])]
    cols = ["model", "test_set", "n", "positives", "auROC", "auPRC", "auPRC 95% CI",
            "pAUROC_std", "F1", "MCC"]
    ev_sec.table(table[[c for c in cols if c in table]], caption="Metrics per model and test set (pAUROC_std: "
                 "McClish-standardised partial auROC for FPR <= 0.1).")
    mat = metrics.pivot_table(index="model", columns="test_set", values="auPRC", sort=False)
    if mat.shape[1] > 1:
        ev_sec.figure(figures.heatmap(mat, title="auPRC: models x test sets", fmt="{:.2f}",
                                      xlabel="test set", ylabel="model", cbar_label="auPRC"),
                      caption="Standard (own negatives) vs HQ evaluation: scores on a strategy's own test split "
                              "flatter models whose negatives are easy to tell apart.")
    if PWM in set(metrics["model"]):
        ev_sec.text(f"The **{PWM}** scores each window by its best match to the motif "
                    f"`{recipe.evaluate.motif}` (max log-odds over both strands).")


def _explain(r, recipe, run_dir: Path, stages: dict) -> None:
    """Attributions of the strongest test true positives, MoDISco patterns with Tomtom, k-mer enrichment."""
    from bindscape.errors import NotEnoughDataError
    from bindscape.explain.pipeline import explain_run
    from bindscape.report.explain_section import add_explain_section

    name = recipe.explain.model or recipe.train[0].name
    info = stages.get(f"train-{name}", {})
    run = Path(info.get("run", run_dir / "models" / name))
    ex = recipe.explain
    kw = dict(method=ex.method, split="test", n=ex.n, kmers=ex.kmers,
              core_motif=recipe.evaluate.motif if ex.kmers else None, random_state=int(recipe.vars.get("seed", 0)))
    ckpt = run / "checkpoints" / "best.ckpt"
    note = None
    try:
        res = explain_run(ckpt, modisco=ex.modisco, annotate=ex.tomtom, **kw)
    except NotEnoughDataError as exc:  # e.g. MoDISco finds no pattern in a small run
        res = explain_run(ckpt, modisco=False, **kw)
        note = f"Motif discovery skipped: {exc.message}."
    sec = add_explain_section(r, res, title=f"Interpretation ({name})")
    if note and sec is not None:
        sec.note(note, kind="warning")


__all__ = ["MAX_GC_ROWS", "PWM", "gc_values", "write_report"]

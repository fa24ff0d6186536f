"""The report stage of a recipe: one self-contained HTML file from what the earlier stages wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.recipes.evaluation import PWM, dataset_onehot_batches

MAX_GC_ROWS = 4000


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _gc_values(dataset: str, split: str = "train") -> dict[str, np.ndarray]:
    """GC fraction of positives and negatives (at most MAX_GC_ROWS each) of a dataset split."""
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


def write_run_report(rec, run_dir: Path) -> Path:
    from bindscape.report import Report, figures

    run_dir = Path(run_dir)
    stages = {p.stem: _read_json(p) for p in sorted((run_dir / "stages").glob("*.json"))}
    data = stages.get("datasets", {})
    summary = data.get("summary", {})
    metrics = pd.read_csv(run_dir / "evaluation" / "metrics.csv")
    preds = pd.read_parquet(run_dir / "evaluation" / "predictions.parquet")
    ev = _read_json(run_dir / "evaluation" / "summary.json")

    r = Report(f"bindscape run: {rec.name}", subtitle=rec.description or None,
               command=f"bindscape run {rec.source}")
    # ---------------------------------------------------------------------------------------- overview
    ov = r.section("Overview", intro=f"TF **{rec.data.tf}**; training sets built with negative strategies "
                                     f"{', '.join(rec.data.strategies)}; tested on each strategy's held-out "
                                     "chromosomes and on the shared high-quality (HQ) test set of "
                                     "accessible-but-unbound regions.")
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")
    cards = {}
    for model in hq.index:
        cards[f"{model}: HQ auPRC"] = hq.loc[model, "auPRC"]
    if cards:
        ov.metrics(cards, caption="auPRC on the HQ test set")
    if "beats_pwm_on_hq" in ev:
        verdict = "beats" if ev["beats_pwm_on_hq"] else "does NOT beat"
        ov.note(f"The best trained model ({ev.get('best_model_hq')}) {verdict} the PWM baseline on the HQ test set "
                "(auPRC).", kind="info" if ev["beats_pwm_on_hq"] else "warning")
    # -------------------------------------------------------------------------------------------- data
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
        gc = _gc_values(path)
        if len(gc["positives"]) and len(gc["negatives"]):
            ds.figure(figures.histograms(gc, bins=30, title=f"GC content: {s}", xlabel="GC fraction"),
                      caption=f"GC content of training positives vs {s} negatives.")
    # ---------------------------------------------------------------------------------------- training
    tr = r.section("Training")
    trows = []
    for m in rec.train:
        info = stages.get(f"train-{m.name}", {})
        run = Path(info.get("run", run_dir / "models" / m.name))
        mj = _read_json(run / "metrics.json")
        trows.append({"model": m.name, "architecture": mj.get("model"), "trained on": m.strategy,
                      "parameters": mj.get("n_parameters"), "epochs": mj.get("epochs_run"),
                      "best epoch": mj.get("best_epoch"), "CPU s": mj.get("cpu_seconds"),
                      "val auPRC": (mj.get("val") or {}).get("auprc"), "resumed": info.get("resumed")})
        hist = _history(run)
        if hist is not None and len(hist):
            tr.figure(figures.training_curves(hist, title=f"Training: {m.name}"),
                      caption=f"{m.name}: loss and validation metrics per epoch.")
    if trows:
        tr.table(pd.DataFrame(trows), caption="Trained models.")
    # -------------------------------------------------------------------------------------- evaluation
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
                    f"`{rec.evaluate.motif}` (max log-odds over both strands).")
    if rec.explain.enabled and rec.train:
        _explain_section(r, rec, run_dir, stages)
    path = r.write(run_dir / "report.html")
    return path


def _explain_section(r, rec, run_dir: Path, stages: dict) -> None:
    """Attributions of the strongest test true positives, MoDISco patterns with Tomtom, k-mer enrichment."""
    from bindscape.explain.pipeline import explain_run
    from bindscape.report.explain_section import add_explain_section

    name = rec.explain.model or rec.train[0].name
    info = stages.get(f"train-{name}", {})
    run = Path(info.get("run", run_dir / "models" / name))
    from bindscape.errors import NotEnoughDataError

    kw = dict(method=rec.explain.method, split="test", n=rec.explain.n, kmers=rec.explain.kmers,
              core_motif=rec.evaluate.motif if rec.explain.kmers else None, random_state=int(rec.vars.get("seed", 0)))
    ckpt = run / "checkpoints" / "best.ckpt"
    note = None
    try:
        res = explain_run(ckpt, modisco=rec.explain.modisco, annotate=rec.explain.tomtom, **kw)
    except NotEnoughDataError as exc:  # e.g. MoDISco finds no pattern in a small run
        res = explain_run(ckpt, modisco=False, **kw)
        note = f"Motif discovery skipped: {exc.message}."
    sec = add_explain_section(r, res, title=f"Interpretation ({name})")
    if note and sec is not None:
        sec.note(note, kind="warning")


def _history(run: Path) -> pd.DataFrame | None:
    logs = sorted((run / "logs").glob("csv*/metrics.csv"))
    if not logs:
        return None
    df = pd.concat([pd.read_csv(p) for p in logs], ignore_index=True)
    if "epoch" not in df:
        return None
    keep = [c for c in df.columns if c.startswith(("train_loss", "val_")) and "step" not in c]
    hist = df.groupby("epoch")[keep].mean(numeric_only=True).reset_index()
    return hist.dropna(axis=1, how="all")

"""The report of a ``tfbs`` recipe run: one self-contained HTML file from what the earlier stages wrote.

Sections: Overview (HQ auPRC cards, the PWM verdict), Data (training sets per negative strategy, splits, HQ
counts, GC histograms), Training (curves and a table of trained models), Evaluation (ROC and PR curves per
test set, metrics with bootstrap intervals, a models x test sets heatmap), Training negatives (one row per
trained model: its negatives, validation/own-test/HQ scores beside the PWM, and the top TF-MoDISco pattern with
its Tomtom match) and Interpretation (attributions, TF-MoDISco patterns, k-mer enrichment) of the models
`explained_models` names; each explained model's outputs are also written to ``explain/<model>/``.

`recipe` is the ``tfbs`` recipe model (duck-typed: name, description, source, data, train, evaluate, explain).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bindscape._util import atomic_write_text
from bindscape.data.torchdata import dataset_onehot_batches
from bindscape.report.explain_section import add_explain_section
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
    ev = read_json(run_dir / "evaluation" / "summary.json")
    _overview(r, recipe, metrics, ev)
    _data(r, stages.get("datasets", {}))
    _training(r, recipe, run_dir, stages)
    _evaluation(r, recipe, metrics, pd.read_parquet(run_dir / "evaluation" / "predictions.parquet"))
    explained = {name: _explain_model(recipe, run_dir, stages, name)
                 for name in explained_models(recipe, (ev or {}).get("selected_model"))}
    if recipe.train:
        _negatives_section(r, recipe, run_dir, stages, metrics, explained)
    for name, (res, note) in explained.items():
        sec = add_explain_section(r, res, title=f"Interpretation ({name})")
        if note and sec is not None:
            sec.note(note, kind="warning")
    return r.write(run_dir / "report.html")


def explained_models(recipe, selected: str | None = None) -> list[str]:
    """The train runs the report interprets: ``explain.models`` (``all`` or a list), else ``explain.model``,
    else the model selected on validation (`selected`), else the first.

    Parameters
    ----------
    recipe
        The ``tfbs`` recipe.
    selected
        The evaluate stage's selected model (``summary.json``'s ``selected_model``), or None.

    Returns
    -------
    list of str
        Train run names; empty when explain is disabled or nothing is trained.
    """
    ex = recipe.explain
    if not ex.enabled or not recipe.train:
        return []
    models = getattr(ex, "models", None)
    if models == "all":
        return [m.name for m in recipe.train]
    if models:
        return list(models)
    names = [m.name for m in recipe.train]
    return [ex.model or (selected if selected in names else names[0])]


def negatives_label(strategy) -> str:
    """A train entry's negatives in words: ``genomic`` or ``genomic 50% + accessible 50%``.

    Parameters
    ----------
    strategy
        The entry's ``strategy`` (a name, a list or a mapping; see `bindscape.data.tfbs_benchmark.parse_mix`).

    Returns
    -------
    str
        The label.
    """
    from bindscape.data.tfbs_benchmark import parse_mix

    mix = parse_mix(strategy)
    if len(mix) == 1:
        return next(iter(mix))
    return " + ".join(f"{s} {100 * f:.0f}%" for s, f in mix.items())


def _overview(r, recipe, metrics: pd.DataFrame, ev: dict) -> None:
    ov = r.section("Overview", intro=f"TF **{recipe.data.tf}**; training sets built with negative strategies "
                                     f"{', '.join(recipe.data.strategies)}; tested on each strategy's held-out "
                                     "chromosomes and on the shared high-quality (HQ) test set of "
                                     "accessible-but-unbound regions.")
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")
    cards = {f"{model}: HQ auPRC": hq.loc[model, "auPRC"] for model in hq.index}
    if cards:
        ov.metrics(cards, caption="auPRC on the HQ test set")
    text = selection_text(ev)
    if text:
        ov.note(text, kind="info" if ev.get("beats_pwm_on_hq", True) else "warning")


def selection_text(ev: dict) -> str | None:
    """The evaluate stage's verdict in words: which model was selected on validation, and how it compares with
    the PWM on the HQ test and on its own test set (auPRC with 95% intervals, paired-bootstrap difference).

    Parameters
    ----------
    ev
        ``evaluation/summary.json`` (`bindscape.recipes.kinds.tfbs.selection_summary`).

    Returns
    -------
    str or None
        One paragraph; None when no model was selected.
    """
    if not ev.get("selected_model"):
        return None
    on = ev.get("selected_on", "validation auPRC")
    score = ev.get("hq_val_auprc", {}).get(ev["selected_model"]) if on.startswith("HQ") else None
    parts = [f"Selected on {on}{f' ({score:.3f})' if score is not None else ''}: {ev['selected_model']}."]
    for tset, c in (ev.get("comparison") or {}).items():
        m, b, d = c["model"], c["pwm"], c["difference"]
        if d["auPRC_lo"] > 0:
            verdict = "beats the PWM (the interval of the difference excludes 0)"
        elif d["auPRC"] > 0:
            verdict = "beats the PWM on the point estimate only (the interval of the difference includes 0)"
        else:
            verdict = "does NOT beat the PWM"
        parts.append(f"On the {tset} it scores auPRC {_ci(m)} vs the PWM's {_ci(b)}; difference "
                     f"{d['auPRC']:+.3f} [{d['auPRC_lo']:+.3f}, {d['auPRC_hi']:+.3f}] (paired bootstrap): {verdict}.")
    return " ".join(parts)


def _ci(r: dict) -> str:
    """``0.950 [0.940, 0.963]`` (the interval when there is one)."""
    if "auPRC_lo" in r and "auPRC_hi" in r:
        return f"{r['auPRC']:.3f} [{r['auPRC_lo']:.3f}, {r['auPRC_hi']:.3f}]"
    return f"{r['auPRC']:.3f}"


def _data(r, data: dict) -> None:
    from bindscape.report import figures

    summary = data.get("summary", {})
    ds = r.section("Data", intro="Positives are windows at peak summits; each strategy adds its own negatives. "
                                 "Chromosome groups hold out validation and test data (no chromosome is in two "
                                 "splits).")
    rows = []
    for s, info in (summary.get("strategies") or {}).items():
        rows.append({"strategy": s, **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}})
    for s, info in (summary.get("mixes") or {}).items():  # training sets mixing strategies (train entries)
        per = info.get("negatives_per_split") or {}
        rows.append({"strategy": s, "negatives": sum(sum(v.values()) for v in per.values()),
                     "notes": "; ".join(info.get("notes") or []) or None})
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
        trows.append({"model": m.name, "architecture": mj.get("model"), "trained on": negatives_label(m.strategy),
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


def _explain_model(recipe, run_dir: Path, stages: dict, name: str) -> tuple[dict, str | None]:
    """Attributions of one model's strongest test true positives, MoDISco patterns with Tomtom, k-mer enrichment;
    written to ``explain/<name>/``. Returns (result, a note when motif discovery was skipped)."""
    from bindscape.errors import NotEnoughDataError
    from bindscape.explain.pipeline import explain_run, write_outputs

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
    write_outputs(res, run_dir / "explain" / name)
    return res, note


def top_pattern(res: dict, motif: str | None = None) -> dict:
    """What TF-MoDISco found for one model: its top pattern, that pattern's best Tomtom match and, when `motif`
    is given, whether the motif matches one of the top three patterns.

    Parameters
    ----------
    res
        An `explain_run` result (``patterns``, ``annotation`` when MoDISco ran).
    motif
        The TF's motif ID (e.g. ``MA0363.3``) or None.

    Returns
    -------
    dict
        ``top pattern``, ``seqlets``, ``Tomtom match``, ``match q`` and ``TF motif in top 3`` (None where unknown).
    """
    from bindscape.explain.modisco import find_match

    out = {"top pattern": None, "seqlets": None, "Tomtom match": None, "match q": None, "TF motif in top 3": None}
    pats = list(res.get("patterns") or [])
    if not pats:
        return out
    p = pats[0]
    out.update({"top pattern": p.consensus, "seqlets": int(p.n_seqlets)})
    ann = res.get("annotation")
    if ann is not None and len(ann):
        best = ann[ann["pattern"] == p.name]
        if len(best):
            b = best.iloc[0]
            out.update({"Tomtom match": f"{b['target']} ({b['target_id']})", "match q": float(b["q"])})
        if motif:
            hit = find_match(ann, motif, top_patterns=3)
            out["TF motif in top 3"] = (f"yes, {hit['pattern']} (q = {hit['q']:.2g})"
                                        if hit is not None and hit["q"] < 0.05 else "no")
    return out


def _metric(metrics: pd.DataFrame, model: str, test_set: str, col: str):
    row = metrics[(metrics["model"] == model) & (metrics["test_set"] == test_set)]
    return float(row[col].iloc[0]) if len(row) and col in row and pd.notna(row[col].iloc[0]) else None


def _negatives_section(r, recipe, run_dir: Path, stages: dict, metrics: pd.DataFrame, explained: dict) -> None:
    """One row per training-negative strategy: scores beside the PWM and what MoDISco found."""
    from bindscape.data.tfbs_benchmark import mix_name, parse_mix

    sec = r.section("Training negatives", intro="Did the model learn the TF's motif or the chromatin? One row per "
                    "trained model: its negatives, validation auPRC, auPRC on its own test split, HQ auROC and "
                    "auPRC with 95% bootstrap intervals, training CPU seconds and the top TF-MoDISco pattern of its "
                    "attributions with the pattern's best Tomtom match (JASPAR).")
    rows = []
    for m in recipe.train:
        key = mix_name(parse_mix(m.strategy))
        mj = read_json(Path(stages.get(f"train-{m.name}", {}).get("run", run_dir / "models" / m.name))
                       / "metrics.json")
        lo, hi = _metric(metrics, m.name, "HQ test", "auPRC_lo"), _metric(metrics, m.name, "HQ test", "auPRC_hi")
        row = {"model": m.name, "negatives": negatives_label(m.strategy),
               "val auPRC": (mj.get("val") or {}).get("auprc"),
               "own test auPRC": _metric(metrics, m.name, f"{key} test", "auPRC"),
               "HQ auROC": _metric(metrics, m.name, "HQ test", "auROC"),
               "HQ auPRC": _metric(metrics, m.name, "HQ test", "auPRC"),
               "HQ auPRC 95% CI": f"{lo:.3f}-{hi:.3f}" if lo is not None and hi is not None else None,
               "CPU s": mj.get("cpu_seconds")}
        if m.name in explained:
            row.update(top_pattern(explained[m.name][0], recipe.evaluate.motif))
        rows.append(row)
    if PWM in set(metrics["model"]):
        lo, hi = _metric(metrics, PWM, "HQ test", "auPRC_lo"), _metric(metrics, PWM, "HQ test", "auPRC_hi")
        rows.append({"model": PWM, "negatives": "-", "HQ auROC": _metric(metrics, PWM, "HQ test", "auROC"),
                     "HQ auPRC": _metric(metrics, PWM, "HQ test", "auPRC"),
                     "HQ auPRC 95% CI": f"{lo:.3f}-{hi:.3f}" if lo is not None and hi is not None else None})
    table = pd.DataFrame(rows)
    sec.table(table, caption="Per training-negative strategy (own test: the strategy's own test split; the PWM "
              "row has no training). Models without a pattern column were not explained: set `explain: {models: "
              "all}` in the recipe.", float_format={"match q": "{:.2g}"})
    atomic_write_text(run_dir / "evaluation" / "negatives.json",
                      table.to_json(orient="records", indent=2, double_precision=15) + "\n")


__all__ = ["MAX_GC_ROWS", "PWM", "explained_models", "gc_values", "negatives_label", "top_pattern",
           "write_report"]

"""The report of an ``agentbind`` recipe run, from the tables its stages wrote.

Sections: the motif-instance datasets, "how much context adds" (auROC with 95% bootstrap intervals per TF x
control, core kept vs masked, pretrained vs from scratch, and the PWM), the validation choice between
pretrained and from scratch, the cross-TF matrices, the Grad-CAM context tracks and the k-mer tables outside
the core.

`recipe` is the ``agentbind`` recipe model (duck-typed: name, description, data.tfs, models, evaluate).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bindscape.report.sections import read_json, read_table, stage_records, table_section

PWM = "PWM"


def _ci(row: pd.Series, metric: str = "auROC") -> str:
    lo, hi = row.get(f"{metric}_lo"), row.get(f"{metric}_hi")
    if lo is None or pd.isna(lo):
        return f"{row[metric]:.3f}"
    return f"{row[metric]:.3f} [{lo:.3f}, {hi:.3f}]"


def context_table(metrics: pd.DataFrame, metric: str = "auROC") -> pd.DataFrame:
    """Per TF x control x model (and init): `metric` [95% CI] with the core kept and masked, and the drop.

    Parameters
    ----------
    metrics
        ``evaluation/metrics.csv`` of an ``agentbind`` run.
    metric
        ``auROC`` or ``auPRC``.

    Returns
    -------
    pandas.DataFrame
        Columns TF, control, model, init, n_test, ``<metric> core kept``, ``<metric> core masked`` (value and
        interval as text), ``drop when masked`` (kept - masked); one row per model on its own TF's test split.
    """
    own = metrics[metrics["trained_on"] == metrics["test_tf"]]
    rows = []
    for (tf, control, model, init), sub in own.groupby(["test_tf", "control", "model", "init"], sort=False):
        kept = sub[~sub["core_masked"].astype(bool)]
        kept = kept.iloc[0] if len(kept) else None  # None: a model trained on masked windows
        masked = sub[sub["core_masked"].astype(bool)]
        masked = masked.iloc[0] if len(masked) else None
        rows.append({"TF": tf, "control": control, "model": model, "init": init,
                     "n_test": int((kept if kept is not None else masked)["n"]),
                     f"{metric} core kept": _ci(kept, metric) if kept is not None else "-",
                     f"{metric} core masked": _ci(masked, metric) if masked is not None else "-",
                     "drop when masked": round(float(kept[metric] - masked[metric]), 3)
                     if masked is not None and kept is not None else float("nan")})
    out = pd.DataFrame(rows)
    if len(out):
        order = {c: i for i, c in enumerate(dict.fromkeys(metrics["control"]))}
        out = out.assign(_c=out["control"].map(order), _p=out["model"].str.startswith(PWM))
        out = out.sort_values(["TF", "_c", "_p", "model", "init"], kind="mergesort").drop(columns=["_c", "_p"])
    return out.reset_index(drop=True)


def write_report(recipe, run_dir: str | Path) -> Path:
    """Write ``report.html`` of a finished ``agentbind`` run.

    Parameters
    ----------
    recipe
        The ``agentbind`` recipe.
    run_dir
        The run folder (``stages/``, ``evaluation/``, ``explain/``).

    Returns
    -------
    The report's path.
    """
    from bindscape.report import Report

    run_dir = Path(run_dir)
    ev = run_dir / "evaluation"
    metrics = pd.read_csv(ev / "metrics.csv")
    summary = read_json(ev / "summary.json")
    r = Report(title=f"bindscape agentbind: {recipe.name}", subtitle=recipe.description,
               command=f"bindscape run {recipe.name}")
    _data_section(r, run_dir)
    _context_section(r, metrics, summary)
    _selection_section(r, summary)
    _cross_section(r, ev)
    _explain_sections(r, run_dir / "explain")
    return r.write(run_dir / "report.html")


def _data_section(r, run_dir: Path) -> None:
    rec = stage_records(run_dir).get("datasets", {})
    rows = []
    for control, tfs in rec.get("counts", {}).items():
        for tf, splits in tfs.items():
            row = {"control": control, "TF": tf}
            for split, c in splits.items():
                row[f"{split} bound/unbound"] = f"{c['bound']}/{c['unbound']}"
            rows.append(row)
    table_section(r, "Motif-instance datasets", pd.DataFrame(rows) if rows else None,
                  "Bound (inside a peak) vs unbound (touching none) matches of each TF's motif, balanced and "
                  "matched on -log10 p; gc: also paired on window GC; accessible: only matches inside the "
                  "accessible regions. Splits by chromosome, the same for every TF and control.")


def _context_section(r, metrics: pd.DataFrame, summary: dict) -> None:
    s = r.section("How much context adds",
                  "auROC [95% bootstrap interval] of each TF's models on its own test split, with the motif core "
                  f"as it is and with the core read as N ({summary.get('masking', 'test time')}; models other "
                  "than 'scratch (trained masked)' are trained on unmasked windows). init: pretrained on every TF's instances then fine-tuned, or "
                  "from scratch. PWM: the best match of the TF's motif anywhere in the window; PWM core match: the "
                  "instance's own match (-log10 p), what the classes are matched on, so at chance by construction "
                  "(up to the bin width and the test split's sampling). Training CPU time "
                  f"{summary.get('cpu_seconds_training', 0) / 60:.1f} min.")
    s.table(context_table(metrics), caption="auROC per TF x control x init, core kept vs masked")
    s.table(context_table(metrics, "auPRC"), caption="auPRC, likewise")


def _selection_section(r, summary: dict) -> None:
    rows = [{"control/model/TF": k, **{f"val auROC {i}": round(v, 3)
                                      for (kk, i), v in _val_items(summary) if kk == k}, "chosen": c}
            for k, c in summary.get("chosen", {}).items()]
    table_section(r, "Pretrained or from scratch (chosen on validation)", pd.DataFrame(rows) if rows else None,
                  "Validation auROC of each init; the chosen one is explained below. Test splits play no part.")


def _val_items(summary: dict):
    for key, v in summary.get("val_auroc", {}).items():
        control, model, tf, init = key.split("/")
        yield (f"{control}/{model}/{tf}", init), v


def _cross_section(r, ev: Path) -> None:
    from bindscape.report import figures

    cross = read_table(ev / "cross_tf.csv")
    if cross is None or not len(cross):
        return
    s = r.section("Cross-TF matrix", "Test auROC of each TF's model (rows) on each TF's test split (columns); the "
                  "diagonal is the per-TF test auROC above.")
    s.table(cross, float_format="{:.3f}")
    keep = cross[~cross["core_masked"].astype(bool)]
    for (control, model, init), sub in keep.groupby(["control", "model", "init"], sort=False):
        mat = sub.drop(columns=["control", "model", "init", "core_masked"]).set_index("trained_on")
        s.figure(figures.heatmap(mat, title=f"{control}, {model}, {init}", fmt="{:.2f}", vmin=0.5, vmax=1.0,
                                 xlabel="test TF", ylabel="model trained on", cbar_label="auROC"),
                 caption=f"cross-TF auROC ({control}, {model}, {init}, core kept)")


def _explain_sections(r, ex: Path) -> None:
    tracks = read_table(ex / "tracks.csv")
    if tracks is None:
        return
    info = read_json(ex / "summary.json")
    share = ", ".join(f"{k} {v:.2f}" for k, v in info.get("core_share", {}).items())
    s = r.section("Context tracks", f"Mean {info.get('method')} attribution by position relative to the motif "
                  f"core's start (0; motif read forward), test positives of each TF's model (model "
                  f"{info.get('model')}). Share of |attribution| on the core: {share}.")
    s.figure(context_figure(tracks), caption="context tracks; the grey band is the core")
    km = read_table(ex / "kmers.csv")
    if km is not None:
        cols = ["control", "tf", "init", "kmer", "n_top", "n_rest", "odds_ratio", "p_bonferroni", "significant"]
        top = km.groupby(["control", "tf"], sort=False).head(8)[cols]
        table_section(r, "k-mers outside the core", top,
                      f"{info.get('k')}-mers enriched in the top {info.get('top_frac', 0):.0%} of windows by summed "
                      "attribution, windows touching the core excluded (one-sided Fisher, Bonferroni).",
                      float_format="{:.3g}")


def context_figure(tracks: pd.DataFrame):
    """One panel per control, one line per TF: mean attribution by position relative to the core start.

    Parameters
    ----------
    tracks
        ``explain/tracks.csv`` (control, tf, position, mean, core_width).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from bindscape.report import figures

    plt = figures.pyplot()
    controls = list(dict.fromkeys(tracks["control"]))
    fig, axes = plt.subplots(1, len(controls), figsize=(4.2 * len(controls), 3.2), squeeze=False, sharey=True)
    for ax, control in zip(axes[0], controls):
        sub = tracks[tracks["control"] == control]
        for i, (tf, t) in enumerate(sub.groupby("tf", sort=False)):
            ax.plot(t["position"], t["mean"], color=figures.color(i), lw=1.2, label=tf)
        width = float(sub["core_width"].max()) if "core_width" in sub else 0.0
        ax.axvspan(0, width, color="0.85", zorder=0)
        ax.set_title(control)
        ax.set_xlabel("position relative to core start (bp)")
        ax.legend(frameon=False, fontsize=8)
    axes[0][0].set_ylabel("mean attribution")
    fig.tight_layout()
    return fig


__all__ = ["context_figure", "context_table", "write_report"]

"""The report of a ``cross-species`` recipe run, from the tables its analyse stage wrote to ``analysis/``.

Sections: per-species test performance (with paired differences against source-only, lambda tuning, the
lambda each criterion picks, and a bar chart for the target species), confusion at 0.5, differential false
positives/negatives, repeat-stratified auPRC, decoy false positives (species shifts), importance-score
correlation with the target model on differential windows (MORALE Figure 3) and species hold-outs.

`recipe` is the ``cross-species`` recipe model (duck-typed: name, description, target, modes, seeds,
select_on, tune_seed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bindscape.report.sections import read_json, read_table, table_section


def write_report(recipe, run_dir: str | Path) -> Path:
    """Write ``report.html`` of a finished ``cross-species`` run.

    Parameters
    ----------
    recipe
        The ``cross-species`` recipe.
    run_dir
        The run folder (``analysis/summary.json`` and ``analysis/*.tsv``).

    Returns
    -------
    The report's path.
    """
    from bindscape.report import Report

    run_dir = Path(run_dir)
    a = run_dir / "analysis"
    tgt = recipe.target
    r = Report(title=f"bindscape cross-species: {recipe.name}", subtitle=recipe.description,
               command=f"bindscape run {recipe.name}")
    _performance(r, recipe, a)
    s = r.section("Confusion at 0.5", f"TP/FP/TN/FN on {tgt}'s test windows, averaged over seeds.")
    s.table(pd.read_csv(a / "confusion.tsv", sep="\t"), float_format="{:.1f}")
    table_section(r, "Differential false positives / negatives", read_table(a / "differential.tsv", sep="\t"),
                  "Versus the target-trained model, outputs averaged over seeds; a window counts when the "
                  "difference exceeds 0.5 (MORALE section 2.5). repeat_share_*: share of windows "
                  "overlapping soft-masked repeats.")
    table_section(r, "Repeat-stratified auPRC", pd.read_csv(a / "repeats.tsv", sep="\t"),
                  "auPRC on target test windows overlapping soft-masked repeats (any base) vs. the rest; "
                  "family:<name> rows use the simulator's repeats.bed (the family covering most of each window).")
    table_section(r, "Decoy false positives", read_table(a / "decoys.tsv", sep="\t"),
                  f"False-positive rate at 0.5 on {tgt}'s unbound test windows that hold a repeat decoy (a "
                  "motif copy in a silenced repeat family, from the simulator's truth table) versus the other "
                  "unbound windows; mean and 95% t interval over seeds.")
    _attribution(r, recipe, run_dir)
    table_section(r, "Species hold-outs", read_table(a / "holdouts.tsv", sep="\t"),
                  "Leave one source species out; successive source groups.")
    return r.write(run_dir / "report.html")


def _attribution(r, recipe, run_dir: Path) -> None:
    """MORALE's Figure 3: per source-only differential window, each mode's attribution correlated with the
    target model's (`bindscape.explain.cross_species_attr`); a violin per mode and the medians table."""
    from bindscape.report import figures

    a = run_dir / "analysis"
    per, summ = read_table(a / "attribution_windows.tsv", sep="\t"), read_table(a / "attribution_corr.tsv", sep="\t")
    info = read_json(run_dir / "stages" / "attribution.json")
    if not info:
        return
    tgt, n = recipe.target, info.get("windows", {})
    s = r.section("Importance-score correlation with the target model (MORALE Figure 3)",
                  f"Windows where the source-only model and the {tgt}-trained model disagree (outputs averaged "
                  f"over seeds, difference > 0.5): **dFP** ({n.get('dFP', 0)} windows: unbound, source scores "
                  f"higher) and **dFN** ({n.get('dFN', 0)}: bound, source scores lower), at most "
                  f"{info.get('max_windows', getattr(getattr(recipe, 'attribution', None), 'max_windows', '?'))} of each. Every mode's models and the target's explain the "
                  f"same windows ({info.get('method')}, {info.get('n_baselines')} dinucleotide-shuffled references; "
                  "observed-base scores averaged over seeds); per window, the "
                  f"{str(info.get('correlation')).capitalize()} correlation of a mode's map with the target model's. Higher = more "
                  "target-like; adaptation *fixes* a window when its map is more target-like than source-only's. "
                  f"Stage CPU time {info.get('cpu_seconds', float('nan')):.0f} s.")
    if per is None or summ is None or per.empty:
        s.note("No differential windows between the source-only and the target model: nothing to explain.")
        return
    order = [m for m in recipe.modes if m in set(per["mode"])]
    cols = {m: figures.color(i) for i, m in enumerate(order)}  # a mode keeps its colour in both figures
    for kind in ("dFP", "dFN"):
        g = per[per["kind"] == kind]
        if g.empty:
            s.note(f"No {kind} windows (source-only vs {tgt} model).")
            continue
        s.figure(figures.violins({m: g.loc[g["mode"] == m, "r"] for m in order}, ylabel=f"correlation with {tgt} model",
                                 title=f"{kind} windows: attribution vs {tgt} model", colors=list(cols.values())),
                 caption=f"{kind}: per-window correlation of each mode's attribution map with the {tgt} model's "
                 "(violin: distribution; box: quartiles; line: median)")
        wide = g.pivot_table(index=["chrom", "start"], columns="mode", values="r", aggfunc="first")
        if "source" in wide and len(wide.columns) > 1:
            others = [m for m in order if m != "source"]
            s.figure(figures.violins({m: wide[m] - wide["source"] for m in others}, reference=0.0,
                                     ylabel="r(mode) - r(source-only)", title=f"{kind} windows: change vs source-only",
                                     colors=[cols[m] for m in others]),
                     caption=f"{kind}: the same windows, each mode's correlation minus source-only's; above 0 = the "
                     "mode's map is more target-like (the window is *fixed* towards the target model)")
    rank = {m: i for i, m in enumerate(order)}
    summ = summ.sort_values(["kind", "mode"], key=lambda c: c.map(rank) if c.name == "mode" else c
                            ).reset_index(drop=True)
    s.table(summ, caption="median correlation with a percentile-bootstrap 95% interval (r_lo, r_hi; windows "
            "resampled); diff_*: median of (mode - source-only) on the same windows with its interval; "
            "more_target_like: share of windows whose map is more target-like than source-only's",
            float_format="{:.3f}")


def _performance(r, recipe, a: Path) -> None:
    from bindscape.report import figures

    info = read_json(a / "summary.json")
    tgt = recipe.target
    summ = pd.read_csv(a / "summary.tsv", sep="\t")
    s = r.section("Per-species test performance",
                  f"Mean and sd over {len(recipe.seeds)} seeds. Target species: **{tgt}**. Lambda: "
                  + ", ".join(f"{k} = {v:g}" for k, v in info["lam"].items() if k in recipe.modes)
                  + f" (chosen by: {'; '.join(info.get('lambda_criterion') or ['fixed in the recipe'])}; "
                  f"select_on: {recipe.select_on}). Training CPU time {info['cpu_seconds_training'] / 60:.1f} min.")
    s.table(summ, caption="test auPRC / auROC per mode x species")
    gaps = read_table(a / "gaps.tsv", sep="\t")
    if gaps is not None:
        s.table(gaps, caption=f"{tgt} test auPRC minus source-only's, paired by seed: mean and 95% t interval",
                float_format="{:.4f}")
    tuning = read_table(a / "tuning.tsv", sep="\t")
    if tuning is not None:
        s.table(tuning, caption=f"lambda tuning on seed {recipe.tune_seed}: validation auPRC of the selection "
                "species (val_auprc), of the sources and the target, and the label-free domain-classifier "
                "accuracy / moment distance on held-out target windows, for every value tried",
                float_format="{:.4g}")
    choice = read_table(a / "lambda_choice.tsv", sep="\t")
    if choice is not None:
        s.table(choice, caption="the lambda each criterion picks on the tuning seed (source validation, target "
                "validation, label-free: lowest domain-classifier accuracy among lambdas within 0.01 of the "
                "best source validation auPRC) and that run's target test auPRC; used = the criterion that "
                f"chose lambda here (select_on: {recipe.select_on})", float_format="{:.4g}")
    t = summ[summ["species"] == tgt]
    s.figure(figures.bar_with_intervals(pd.DataFrame({
        "name": t["mode"], "value": t["auprc_mean"], "lo": t["auprc_mean"] - t["auprc_sd"].fillna(0),
        "hi": t["auprc_mean"] + t["auprc_sd"].fillna(0)}), title=f"{tgt} test auPRC", ylabel="auPRC"),
        caption="mean ± sd over seeds")


__all__ = ["write_report"]

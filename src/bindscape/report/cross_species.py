"""The report of a ``cross-species`` recipe run, from the tables its analyse stage wrote to ``analysis/``.

Sections: per-species test performance (with paired differences against source-only, lambda tuning, the
lambda each criterion picks, and a bar chart for the target species), confusion at 0.5, differential false
positives/negatives, repeat-stratified auPRC, decoy false positives (species shifts) and species hold-outs.

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
    table_section(r, "Species hold-outs", read_table(a / "holdouts.tsv", sep="\t"),
                  "Leave one source species out; successive source groups.")
    return r.write(run_dir / "report.html")


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

"""The report of a `bindscape tune` search: the trial history and the trials table, read from the tune folder.

`add_tune_section(report, tune_dir)` adds the section to any report (a recipe that tunes can reuse it);
`write_report(tune_dir)` writes the standalone ``report.html`` into the tune folder. Both read only
``tune.json``, ``trials.csv`` and ``best.yaml``, which `bindscape.train.tune.run_tune` wrote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import InputError
from bindscape.report.sections import read_json, read_table

#: trials.csv columns that are not searched values
FIXED_COLUMNS = ("number", "state", "value", "cpu_s", "epochs_run", "best_epoch", "val_auroc", "val_auprc",
                 "last_value", "run")


def best_so_far(values: pd.Series, minimize: bool = False) -> np.ndarray:
    """The running best of `values` (NaN for trials that did not complete are skipped).

    Parameters
    ----------
    values
        One value per trial in trial order (NaN: no value).
    minimize
        Lower is better (a loss).

    Returns
    -------
    numpy.ndarray
        Running best; NaN before the first value.
    """
    v = values.to_numpy(dtype=float)
    filled = np.where(np.isnan(v), np.inf if minimize else -np.inf, v)
    run = np.minimum.accumulate(filled) if minimize else np.maximum.accumulate(filled)
    return np.where(np.isinf(run), np.nan, run)


def trial_history_figure(trials: pd.DataFrame, monitor: str, minimize: bool = False):
    """Validation score per trial (complete: filled; pruned: hollow, at its last reported epoch) and the
    best-so-far line.

    Parameters
    ----------
    trials
        ``trials.csv`` (``number``, ``state``, ``value``, ``last_value``).
    monitor
        The metric's name (y axis).
    minimize
        Lower is better.

    Returns
    -------
    A matplotlib Figure.
    """
    from bindscape.report.figures import BASELINE_COLOR, FIGSIZE, color, pyplot

    plt = pyplot()
    df = trials.sort_values("number")
    fig, ax = plt.subplots(figsize=(FIGSIZE[0] * 1.3, FIGSIZE[1] * 0.9))
    done = df[df["state"] == "complete"]
    ax.scatter(done["number"], done["value"], color=color(0), s=28, zorder=3, label="complete")
    pruned = df[(df["state"] == "pruned") & df["last_value"].notna()] if "last_value" in df else df.iloc[:0]
    if len(pruned):
        ax.scatter(pruned["number"], pruned["last_value"], facecolors="none", edgecolors=BASELINE_COLOR, s=28,
                   zorder=3, label="pruned (last epoch)")
    vals = df["value"].where(df["state"] == "complete")
    ax.step(df["number"], best_so_far(vals, minimize), where="post", color=color(1), label="best so far")
    ax.set(xlabel="trial", ylabel=f"{monitor} (validation)", title="Trial history")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def add_tune_section(report, tune_dir: str | Path, title: str = "Hyper-parameter search"):
    """Add a section titled `title` to the `bindscape.report.Report` `report` for the search in `tune_dir`:
    headline numbers, trial history, best config and the trials table. Returns the new `Section`.
    """
    tune_dir = Path(tune_dir)
    s = read_json(tune_dir / "tune.json")
    if not s:
        raise InputError(f"{tune_dir}: no tune.json here (not a bindscape tune folder)")
    trials = read_table(tune_dir / "trials.csv")
    trials = trials if trials is not None else pd.DataFrame(columns=list(FIXED_COLUMNS))
    monitor, counts = s["monitor"], s["trials"]
    sec = report.section(title, intro=(
        f"Optuna search (TPE sampler, median pruning on the per-epoch validation {monitor}); every trial is "
        "selected on the validation split only, the test split is never read. "
        f"Stopped by {'the CPU budget' if s['stopped_by'] == 'budget' else 'the trial count'}."))
    cards = {"trials complete": counts.get("complete", 0), "pruned": counts.get("pruned", 0),
             "failed": counts.get("fail", 0), "CPU-min": s["cpu_seconds"] / 60}
    if s.get("best_value") is not None:
        cards = {f"best {monitor}": s["best_value"], "best trial": s["best_trial"], **cards}
    sec.metrics(cards, fmt="{:.3f}")
    if len(trials):
        sec.figure(trial_history_figure(trials, monitor, s.get("direction") == "minimize"),
                   caption=f"Validation {monitor} per trial and the best so far.")
    if (tune_dir / "best.yaml").exists():
        sec.code((tune_dir / "best.yaml").read_text(), caption="best.yaml: train it with `bindscape train best.yaml`")
    else:
        sec.note("No trial completed, so there is no best configuration.", kind="warning")
    if len(trials):
        cols = ["number", "state", "value"] + [c for c in trials.columns if c not in FIXED_COLUMNS] + ["cpu_s"]
        table = trials[[c for c in cols if c in trials.columns]].rename(columns={"value": monitor, "cpu_s": "CPU s"})
        sec.table(table, caption="One row per trial; pruned and failed trials have no value.",
                  float_format="{:.4g}", highlight_min=[monitor] if s.get("direction") == "minimize" else None,
                  highlight_max=None if s.get("direction") == "minimize" else [monitor])
    return sec


def write_report(tune_dir: str | Path, command: str | None = None) -> Path:
    """Write ``report.html`` of a tune folder.

    Parameters
    ----------
    tune_dir
        The tune folder (`bindscape.train.tune.run_tune` wrote it).
    command
        The command line, for the footer.

    Returns
    -------
    Path
        ``<tune_dir>/report.html``.
    """
    from bindscape.report import Report

    tune_dir = Path(tune_dir)
    rep = Report(f"bindscape tune: {tune_dir.name}", subtitle="hyper-parameter search on validation",
                 command=command)
    add_tune_section(rep, tune_dir)
    return rep.write(tune_dir / "report.html")


__all__ = ["add_tune_section", "best_so_far", "trial_history_figure", "write_report"]

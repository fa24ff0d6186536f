"""Shared pieces of the per-recipe-kind reports (`report.tfbs`, `report.cross_species`, `report.multitask_bp`).

Readers that tolerate what an earlier stage did not write (a missing JSON, an empty table), the training
history of a run folder, and tables added as whole sections.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def read_json(path: str | Path) -> dict:
    """A JSON file's content, or ``{}`` when it does not exist.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    The parsed mapping.
    """
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def read_table(path: str | Path, sep: str = ",") -> pd.DataFrame | None:
    """A CSV/TSV table, or None when the file is missing or empty (a stage that had nothing to write).

    Parameters
    ----------
    path
        The file.
    sep
        The column separator (``"\\t"`` for TSV).

    Returns
    -------
    The table or None.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size <= 1:
        return None
    return pd.read_csv(path, sep=sep)


def stage_records(run_dir: str | Path) -> dict[str, dict]:
    """Every stage marker of a recipe run folder.

    Parameters
    ----------
    run_dir
        A recipe's run folder, holding ``stages/<stage>.json``.

    Returns
    -------
    Marker name (``datasets``, ``train-m``: ``:`` written as ``-``) -> what the stage recorded.
    """
    return {p.stem: read_json(p) for p in sorted((Path(run_dir) / "stages").glob("*.json"))}


def training_history(run: str | Path) -> pd.DataFrame | None:
    """Per-epoch training loss and validation metrics from a training run's CSV logs.

    Parameters
    ----------
    run
        The training run folder (``logs/csv*/metrics.csv``).

    Returns
    -------
    One row per epoch (``epoch``, ``train_loss*``, ``val_*``), or None without logs.
    """
    logs = sorted((Path(run) / "logs").glob("csv*/metrics.csv"))
    if not logs:
        return None
    df = pd.concat([pd.read_csv(p) for p in logs], ignore_index=True)
    if "epoch" not in df:
        return None
    keep = [c for c in df.columns if c.startswith(("train_loss", "val_")) and "step" not in c]
    hist = df.groupby("epoch")[keep].mean(numeric_only=True).reset_index()
    return hist.dropna(axis=1, how="all")


def table_section(report, title: str, df: pd.DataFrame | None, intro: str | None = None, **table_kw):
    """A section holding one table; nothing when `df` is None.

    Parameters
    ----------
    report
        The `bindscape.report.Report` to add the section to.
    title
        Its title.
    df
        The table (None: no section).
    intro
        Text under the title.
    **table_kw
        Passed to `Section.table` (``caption``, ``float_format``, ...).

    Returns
    -------
    The new section, or None.
    """
    if df is None:
        return None
    sec = report.section(title, intro)
    sec.table(df, **table_kw)
    return sec


__all__ = ["read_json", "read_table", "stage_records", "table_section", "training_history"]

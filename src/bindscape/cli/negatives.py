"""`bindscape qc DATASET`: negative-set QC (`bindscape build negatives-benchmark` is in `bindscape.cli.build`)."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import at_least


def qc(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    split: str = typer.Option("train", "--split", help="Split to check ('all' for every row)."),
    no_shortcut: bool = typer.Option(False, "--no-shortcut", help="Skip the k-mer shortcut detector."),
    seed: int = typer.Option(0, "--seed", callback=at_least(0), help="Random seed of the detector's folds."),
):
    """Negative-set QC: per negative source, GC/repeat KS vs the positives and the shortcut-detector auROC."""
    from bindscape.cli.summary import qc_summary
    from bindscape.data.qc import dataset_qc

    df = dataset_qc(dataset, split=None if split == "all" else split, shortcut=not no_shortcut, seed=seed)
    qc_summary(df, title=f"negative-set QC: {dataset} ({split})")


def register(app: typer.Typer) -> None:
    """Add `bindscape qc` to `app`, the root `bindscape` typer app."""
    app.command("qc")(qc)

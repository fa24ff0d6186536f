"""`bindscape evaluate`: score a dataset split with a checkpoint (and optionally a PWM baseline).

Prints one metrics row per model (auROC, auPRC, partial auROC, F1 and MCC at a threshold chosen on the
validation split) and, with ``--out``, writes the same table as ``metrics.csv``; it writes no report
(`bindscape run` writes report.html for a whole recipe).
"""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import at_least


def _scores(checkpoint: Path, dataset: Path, split: str | None, val_split: str, motif: str | None,
            species: str | None) -> dict:
    """Model name -> (test scores, validation scores or None) for the checkpoint and the optional PWM."""
    from bindscape.recipes.kinds.tfbs import model_scores, pwm_scores
    from bindscape.train import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    name = Path(checkpoint).stem if Path(checkpoint).is_file() else Path(checkpoint).name
    if val_split:
        from bindscape.data.dataset import load_dataset

        regions = load_dataset(dataset).regions
        if "split" not in regions or not (regions["split"] == val_split).any():  # e.g. a test-only dataset
            typer.echo(f"note: {dataset} has no {val_split!r} rows; F1/MCC use a threshold chosen on the scored "
                       "split itself (threshold_source=test, optimistic)", err=True)
            val_split = ""
    scored = {name: (model_scores(ckpt, dataset, split, True),
                     model_scores(ckpt, dataset, val_split, False) if val_split else None)}
    if motif:
        from bindscape.motifs import PWMBaseline, load_motif

        base = PWMBaseline([load_motif(motif, species=species)])
        scored["PWM baseline"] = (pwm_scores(base, dataset, split),
                                  pwm_scores(base, dataset, val_split) if val_split else None)
    return scored


def evaluate(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Checkpoint (or run folder) of a trained model."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Dataset folder to score."),
    split: str = typer.Option("test", "--split", help="Split to evaluate ('all' for every row)."),
    val_split: str = typer.Option("val", "--val-split", help="Split for choosing the threshold ('' for none)."),
    motif: str = typer.Option(None, "--pwm", help="Also evaluate a PWM baseline: JASPAR ID, name or motif file."),
    species: str = typer.Option(None, "--species", help="Species for a motif name lookup."),
    bootstrap: int = typer.Option(200, "--bootstrap", callback=at_least(0), help="Bootstrap resamples for 95% intervals (0: none)."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder to write metrics.csv into (the printed table; "
                             "no report)."),
    allow_genome_change: bool = typer.Option(False, "--allow-genome-change", help="Score --dataset even when "
                                             "its genome file changed since it was built (sha256 differs)."),
):
    """Score a dataset split with a checkpoint (and optionally a PWM baseline); print and save the metrics."""
    import pandas as pd

    from bindscape.cli.train import allow_genome_changes

    allow_genome_changes(allow_genome_change)

    from bindscape._util import atomic_path
    from bindscape.cli.summary import evaluate_summary
    from bindscape.evaluate.metrics import evaluate_scores

    scored = _scores(checkpoint, dataset, None if split == "all" else split, val_split, motif, species)
    rows = []
    for name, (test, val) in scored.items():
        v = (val["label"].to_numpy(), val["prob"].to_numpy()) if val is not None and len(val) else None
        ev = evaluate_scores(test["label"].to_numpy(), test["prob"].to_numpy(), val=v, bootstrap=bootstrap)
        rows.append(ev.row(name))
    evaluate_summary(rows, title=f"{dataset} [{split}]")
    if out:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "metrics.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
        typer.echo(f"metrics: {out / 'metrics.csv'}")


def register(app: typer.Typer) -> None:
    """Add `bindscape evaluate` to `app`, the root `bindscape` typer app."""
    app.command("evaluate")(evaluate)

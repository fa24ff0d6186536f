"""`bindscape train` and `bindscape predict` (torch is imported inside the commands).

`bindscape build sequences` is in `bindscape.cli.build`; the run-override options `train` shares with
`train-cross-species` are in `bindscape.cli.options`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import RUN_NAMING, RUN_TRAINER, option_groups


def run_overrides(named: tuple, kw: dict) -> dict:
    """The config overrides of a training command: its own (key, value) pairs plus the shared run options.

    Parameters
    ----------
    named : tuple of (str, object)
        Dotted config keys and the command's values for them (None: not given).
    kw : dict
        The `RUN_NAMING` and `RUN_TRAINER` options the command received.

    Returns
    -------
    dict
        Dotted key -> value, as `bindscape.train.cli_overrides` returns it.
    """
    from bindscape.train import cli_overrides

    shared = (("name", kw["name"]), ("out_dir", kw["out_dir"]), ("model.name", kw["model"]),
              ("trainer.max_epochs", kw["epochs"]), ("trainer.seed", kw["seed"]),
              ("trainer.accelerator", kw["accelerator"]))
    return cli_overrides((*named, *shared), kw["devices"], kw["set_"])


@option_groups
def train_cmd(
    config: Path = typer.Argument(..., help="Training config (YAML); see docs/training.md."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Override `dataset`."),
    naming=RUN_NAMING,
    batch_size: int = typer.Option(None, "--batch-size", help="Override `data.batch_size`."),
    lr: float = typer.Option(None, "--lr", help="Override `optim.lr`."),
    trainer=RUN_TRAINER,
    **kw,
):
    """Train a model on a dataset folder; writes runs/<name>/ (config, checkpoints, metrics, predictions)."""
    from bindscape.cli.summary import train_summary
    from bindscape.train import load_config, run_metrics, train

    cfg = load_config(config, run_overrides((("dataset", dataset), ("data.batch_size", batch_size),
                                             ("optim.lr", lr)), kw))
    run = train(cfg, resume=kw["resume"], overwrite=kw["overwrite"])
    m = run_metrics(run)
    if m is None:  # DDP: the extra processes have no metrics to show
        return
    train_summary(m, title=f"{cfg.model.name} -> {run}")
    return 0


def _check_predict_inputs(dataset, bed, fasta, genome) -> None:
    """One input mode (dataset, BED + genome, FASTA, or a genome to tile), or a `ConfigError`."""
    from bindscape.errors import ConfigError

    modes = [m for m, v in (("dataset", dataset), ("bed", bed), ("fasta", fasta)) if v is not None]
    if len(modes) > 1:
        raise ConfigError(f"give one of --dataset, --bed, --fasta (got {', '.join('--' + m for m in modes)})")
    if not modes and genome is None:
        raise ConfigError("nothing to predict", hint="give --dataset, --bed (+ --genome), --fasta, or --genome to tile")
    if bed is not None and genome is None:
        raise ConfigError("--bed needs --genome")


def _write_tracks(df, col: str, *, bedgraph, bigwig, genome, fasta) -> str:
    """Write the optional bedGraph/bigWig tracks of `df[col]`; returns the paths written, for the message."""
    from bindscape.errors import ConfigError
    from bindscape.train import write_bedgraph, write_bigwig

    msg = ""
    track_ok = {"chrom", "start", "end"} <= set(df.columns) and fasta is None
    if (bedgraph or bigwig) and not track_ok:
        raise ConfigError("tracks need genomic coordinates (not available for --fasta input)")
    if bedgraph:
        write_bedgraph(df, bedgraph, col)
        msg += f", {bedgraph}"
    if bigwig:
        from bindscape.io.genome import Genome

        if genome is None:
            raise ConfigError("--bigwig needs --genome (for chromosome sizes)")
        write_bigwig(df, bigwig, Genome(genome).sizes, col)
        msg += f", {bigwig}"
    return msg


def predict_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="best.ckpt / last.ckpt / model.pt, or a run folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Output table (.parquet, .tsv or .csv)."),
    dataset: Path = typer.Option(None, "--dataset", "-d", help="Score a dataset folder."),
    split: str = typer.Option(None, "--split", help="Only this split of --dataset (train|val|test)."),
    bed: Path = typer.Option(None, "--bed", help="Score BED intervals (needs --genome)."),
    fasta: Path = typer.Option(None, "--fasta", help="Score FASTA records (resized to the model's length)."),
    genome: Path = typer.Option(None, "--genome", "-g", help="Genome FASTA (for --bed, or alone to tile it)."),
    chrom: list[str] = typer.Option(None, "--chrom", help="Tile only these chromosomes. Repeatable."),
    stride: int = typer.Option(None, "--stride", help="Tiling step (default: half the model length)."),
    bedgraph: Path = typer.Option(None, "--bedgraph", help="Also write a bedGraph track."),
    bigwig: Path = typer.Option(None, "--bigwig", help="Also write a bigWig track (needs pybigtools)."),
    batch_size: int = typer.Option(512, "--batch-size"),
):
    """Score a dataset, a BED file, a FASTA file, or tile a genome with a trained checkpoint."""
    _check_predict_inputs(dataset, bed, fasta, genome)
    from rich.console import Console

    from bindscape.train import (
        load_checkpoint,
        predict_bed,
        predict_dataset,
        predict_fasta,
        predict_genome,
        write_table,
    )

    loaded = load_checkpoint(checkpoint)
    if dataset is not None:
        df = predict_dataset(loaded, dataset, split=split, batch_size=batch_size)
    elif bed is not None:
        df = predict_bed(loaded, bed, genome, batch_size=batch_size)
    elif fasta is not None:
        df = predict_fasta(loaded, fasta, batch_size=batch_size)
    else:
        df = predict_genome(loaded, genome, chroms=chrom or None, stride=stride, batch_size=batch_size)
    write_table(df, out)
    msg = f"{len(df):,} predictions -> {out}"
    col = "prob" if "prob" in df else [c for c in df.columns if c.startswith("prob")][0]
    msg += _write_tracks(df, col, bedgraph=bedgraph, bigwig=bigwig, genome=genome, fasta=fasta)
    if "label" in df and df["label"].nunique() == 2:
        from bindscape.evaluate.metrics import binary_metrics

        m = binary_metrics(df["label"].to_numpy(), df[col].to_numpy())
        msg += f"  (auROC {m['auroc']:.4f}, auPRC {m['auprc']:.4f})"
    Console().print(msg)
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape train` and `bindscape predict` to `app`, the root `bindscape` typer app."""
    app.command("train")(train_cmd)
    app.command("predict")(predict_cmd)

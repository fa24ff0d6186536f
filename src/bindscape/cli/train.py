"""`bindscape train`, `bindscape predict` and `bindscape build sequences` (torch is imported inside)."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.build import build_app


def train_cmd(
    config: Path = typer.Argument(..., help="Training config (YAML); see docs/training.md."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Override `dataset`."),
    name: str = typer.Option(None, "--name", "-n", help="Override `name` (run folder <out_dir>/<name>)."),
    out_dir: str = typer.Option(None, "--out-dir", help="Override `out_dir`."),
    model: str = typer.Option(None, "--model", "-m", help="Override `model.name`."),
    epochs: int = typer.Option(None, "--epochs", help="Override `trainer.max_epochs`."),
    batch_size: int = typer.Option(None, "--batch-size", help="Override `data.batch_size`."),
    lr: float = typer.Option(None, "--lr", help="Override `optim.lr`."),
    seed: int = typer.Option(None, "--seed", help="Override `trainer.seed`."),
    accelerator: str = typer.Option(None, "--accelerator", help="Override `trainer.accelerator` (cpu|gpu|auto)."),
    devices: str = typer.Option(None, "--devices", help="Override `trainer.devices` (N or auto; >1 GPU = DDP)."),
    set_: list[str] = typer.Option(None, "--set", help="Override any field: KEY=VALUE (dotted keys). Repeatable."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run from checkpoints/last.ckpt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run folder."),
):
    """Train a model on a dataset folder; writes runs/<name>/ (config, checkpoints, metrics, predictions)."""
    from bindscape.train import cli_overrides, load_config

    ov = cli_overrides((("dataset", dataset), ("name", name), ("out_dir", out_dir), ("model.name", model),
                        ("trainer.max_epochs", epochs), ("data.batch_size", batch_size), ("optim.lr", lr),
                        ("trainer.seed", seed), ("trainer.accelerator", accelerator)), devices, set_)
    cfg = load_config(config, ov)

    from rich.console import Console
    from rich.table import Table

    from bindscape.train import run_metrics, train

    run = train(cfg, resume=resume, overwrite=overwrite)
    m = run_metrics(run)
    if m is None:  # DDP: the extra processes have no metrics to show
        return
    t = Table(title=f"{cfg.model.name} -> {run}")
    for c in ("split", "auROC", "auPRC", "MCC", "n"):
        t.add_column(c, justify="right" if c != "split" else "left")
    for split in ("val", "test"):
        if split in m:
            s = m[split]
            t.add_row(split, f"{s['auroc']:.4f}", f"{s['auprc']:.4f}", f"{s['mcc']:.4f}", f"{s['n']:,}")
    Console().print(t)
    Console().print(f"best epoch {m.get('best_epoch')}, {m['cpu_seconds'] / 60:.2f} CPU-min, "
                    f"{m['wall_seconds'] / 60:.2f} min wall" + ("" if m.get("finished", True) else
                                                               "  (stopped early; --resume continues)"))
    return 0


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
    from bindscape.errors import ConfigError

    modes = [m for m, v in (("dataset", dataset), ("bed", bed), ("fasta", fasta)) if v is not None]
    if len(modes) > 1:
        raise ConfigError(f"give one of --dataset, --bed, --fasta (got {', '.join('--' + m for m in modes)})")
    if not modes and genome is None:
        raise ConfigError("nothing to predict", hint="give --dataset, --bed (+ --genome), --fasta, or --genome to tile")
    if bed is not None and genome is None:
        raise ConfigError("--bed needs --genome")
    from rich.console import Console

    from bindscape.train import checkpoint as ck
    from bindscape.train import predict as pr

    loaded = ck.load_checkpoint(checkpoint)
    if dataset is not None:
        df = pr.predict_dataset(loaded, dataset, split=split, batch_size=batch_size)
    elif bed is not None:
        df = pr.predict_bed(loaded, bed, genome, batch_size=batch_size)
    elif fasta is not None:
        df = pr.predict_fasta(loaded, fasta, batch_size=batch_size)
    else:
        df = pr.predict_genome(loaded, genome, chroms=chrom or None, stride=stride, batch_size=batch_size)
    pr.write_table(df, out)
    msg = f"{len(df):,} predictions -> {out}"
    col = "prob" if "prob" in df else [c for c in df.columns if c.startswith("prob")][0]
    track_ok = {"chrom", "start", "end"} <= set(df.columns) and fasta is None
    if (bedgraph or bigwig) and not track_ok:
        raise ConfigError("tracks need genomic coordinates (not available for --fasta input)")
    if bedgraph:
        pr.write_bedgraph(df, bedgraph, col)
        msg += f", {bedgraph}"
    if bigwig:
        from bindscape.io.genome import Genome

        if genome is None:
            raise ConfigError("--bigwig needs --genome (for chromosome sizes)")
        pr.write_bigwig(df, bigwig, Genome(genome).sizes, col)
        msg += f", {bigwig}"
    if "label" in df and df["label"].nunique() == 2:
        from bindscape.train.metrics import binary_metrics

        m = binary_metrics(df["label"].to_numpy(), df[col].to_numpy())
        msg += f"  (auROC {m['auroc']:.4f}, auPRC {m['auprc']:.4f})"
    Console().print(msg)
    return 0


@build_app.command("sequences")
def sequences_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset folder."),
    input: list[Path] = typer.Option(None, "--input", "-i", help="CSV/TSV (sequence + label columns) or FASTA to split at random. Repeatable."),
    train: list[Path] = typer.Option(None, "--train", help="Given training file(s) (CSV/TSV/FASTA)."),
    val: list[Path] = typer.Option(None, "--val", help="Given validation file(s)."),
    test: list[Path] = typer.Option(None, "--test", help="Given test file(s)."),
    positives: list[Path] = typer.Option(None, "--positives", help="FASTA of bound sequences (label 1). Repeatable."),
    negatives: list[Path] = typer.Option(None, "--negatives", help="FASTA of unbound sequences (label 0). Repeatable."),
    length: int = typer.Option(None, "--length", "-l", help="Sequence length (default: the longest input)."),
    align: str = typer.Option("center", "--align", help="Crop/pad rule: center (both ends) or left (right end)."),
    val_frac: float = typer.Option(0.1, "--val-frac", help="Validation share for a random split."),
    test_frac: float = typer.Option(0.1, "--test-frac", help="Test share for a random split."),
    negative_strategy: str = typer.Option("dinucleotide", "--negative-strategy",
                                          help="When only positives: shuffle | dinucleotide."),
    negatives_per_positive: int = typer.Option(1, "--negatives-per-positive"),
    sequence_column: str = typer.Option("sequence", "--sequence-column"),
    label_column: str = typer.Option("label", "--label-column"),
    seed: int = typer.Option(0, "--seed"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing dataset in --out."),
):
    """Sequence-only dataset (no genome) from FASTA or CSV/TSV files: DeepBind- and GUE-style data."""
    from bindscape.cli.build import print_summary
    from bindscape.data.dataset import load_dataset
    from bindscape.data.sequences import build_sequence_dataset

    path = build_sequence_dataset(
        out, inputs=input or [], train=train or [], val=val or [], test=test or [], positives=positives or [],
        negatives=negatives or [], length=length, align=align, val_frac=val_frac, test_frac=test_frac,
        negative_strategy=negative_strategy, negatives_per_positive=negatives_per_positive,
        sequence_column=sequence_column, label_column=label_column, seed=seed, force=force)
    ds = load_dataset(path)
    print_summary(ds.regions, title=f"sequences dataset -> {path} ({ds.meta['params']['length']} bp)")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("predict")(predict_cmd)

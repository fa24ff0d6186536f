"""`bindscape train-multitask CONFIG.yaml` and `bindscape predict-bp` (multitask base-pair models)."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import at_least, bounded


def train_multitask_cmd(
    config: Path = typer.Argument(..., help="Multitask config (YAML); see docs/multitask.md."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Override `dataset`."),
    name: str = typer.Option(None, "--name", "-n", help="Override `name` (run folder <out_dir>/<name>)."),
    out_dir: str = typer.Option(None, "--out-dir", help="Override `out_dir`."),
    epochs: int = typer.Option(None, "--epochs", callback=at_least(1), help="Override `trainer.max_epochs`."),
    set_: list[str] = typer.Option(None, "--set", help="Override any field: KEY=VALUE (dotted keys). Repeatable."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from checkpoints/last.ckpt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run folder with checkpoints."),
):
    """Train one model for many TF x cell-type conditions (NetTIME) on a multi-condition bp dataset."""
    from bindscape.train import load_multitask_config, parse_set, run_metrics, train_multitask

    ov = {k: v for k, v in (("dataset", dataset), ("name", name), ("out_dir", out_dir),
                            ("trainer.max_epochs", epochs)) if v is not None}
    ov.update(parse_set(set_))
    cfg = load_multitask_config(config, ov)
    run = train_multitask(cfg, resume=resume, overwrite=overwrite)
    m = run_metrics(run)
    if m is None:  # the extra processes of a DDP run write no summary
        return 0
    typer.echo(f"{run}: best val per-bp auPRC {m.get('best_val_auprc', float('nan')):.4f}, "
               f"{len(m['conditions']['pairs'])} conditions, {m['cpu_seconds']:.0f} CPU s")
    return 0


def predict_bp_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Multitask checkpoint or run folder."),
    tf: str = typer.Option(..., "--tf", help="TF name (one the model knows)."),
    cell: str = typer.Option(None, "--cell", help="Cell-type name (one the model knows)."),
    genome: Path = typer.Option(..., "--genome", "-g", help="Genome FASTA."),
    bed: Path = typer.Option(None, "--bed", help="Regions to predict (BED); default: every chromosome."),
    chrom_alias: str = typer.Option(None, "--chrom-alias", help="Rename --bed chromosomes: 'auto' (1 <-> chr1, "
                                    "MT <-> chrM) or 'FROM=TO,...'."),
    out: Path = typer.Option(..., "--out", "-o", help="Called binding sites (BED)."),
    bedgraph: Path = typer.Option(None, "--bedgraph", help="Also write per-bp probabilities (bedGraph)."),
    bigwig: Path = typer.Option(None, "--bigwig", help="Also write per-bp probabilities (bigWig)."),
    threshold: float = typer.Option(0.5, "--threshold", callback=bounded(0, 1), help="Probability threshold (choose it by IOU on validation)."),
    batch_size: int = typer.Option(64, "--batch-size", callback=at_least(1), help="Windows per forward pass."),
    threads: int = typer.Option(None, "--threads", callback=bounded(1, 1024),
                                help="CPU threads for torch (default: torch's own choice)."),
):
    """Per-base-pair binding probabilities for one TF x cell-type condition; writes called sites as BED.

    Streams region by region (windows in batches, per-bp values released as soon as they are final), so
    memory does not grow with the genome; every file is written atomically.
    """
    from bindscape._util import check_writable
    from bindscape.io.bed import read_bed
    from bindscape.io.genome import Genome
    from bindscape.train import load_multitask_checkpoint, write_bp_predictions

    for path, flag in ((out, "--out"), (bedgraph, "--bedgraph"), (bigwig, "--bigwig")):
        if path is not None:
            check_writable(path, flag, is_dir=False)  # before any work
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    loaded = load_multitask_checkpoint(checkpoint)
    loaded.index(tf, cell)  # unknown names fail before any work
    g = Genome(genome)
    # unknown chromosomes or regions past a chromosome's end: one line naming the file and line
    regions = read_bed(bed, sizes=g.sizes, aliases=chrom_alias) if bed else None
    r = write_bp_predictions(loaded, g, tf, cell, out=out, regions=regions, bedgraph=bedgraph, bigwig=bigwig,
                             threshold=threshold, batch_size=batch_size)
    typer.echo(f"{r['sites']:,} binding sites for {tf}/{cell or '-'} ({r['bp']:,} bp on {r['chroms']} "
               f"chromosome{'s' * (r['chroms'] != 1)}, threshold {threshold:g}) -> "
               + ", ".join(str(f) for f in r["files"]))
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape train-multitask` and `bindscape predict-bp` to `app`, the root `bindscape` typer app."""
    app.command("train-multitask")(train_multitask_cmd)
    app.command("predict-bp")(predict_bp_cmd)

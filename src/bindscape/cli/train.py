"""`bindscape train` and `bindscape predict` (torch is imported inside the commands).

`bindscape build sequences` is in `bindscape.cli.build`; the run-override options `train` shares with
`train-cross-species` are in `bindscape.cli.options`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import (
    POSITIVE,
    RUN_NAMING,
    RUN_TRAINER,
    TABLE_SUFFIXES,
    at_least,
    bounded,
    option_groups,
    suffixes,
)


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


def allow_genome_changes(allow: bool) -> None:
    """Apply ``--allow-genome-change``: let datasets open a genome whose sha256 differs from the recorded one.

    Parameters
    ----------
    allow : bool
        The flag's value; when set, ``BINDSCAPE_ALLOW_GENOME_CHANGE=1`` is exported for this process (and
        any worker processes it starts), which `bindscape.data.dataset.Dataset.open_genome` honours.
    """
    if allow:
        import os

        from bindscape.data.dataset import ALLOW_GENOME_CHANGE_ENV

        os.environ[ALLOW_GENOME_CHANGE_ENV] = "1"


@option_groups
def train_cmd(
    config: Path = typer.Argument(..., help="Training config (YAML); see docs/training.md."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Override `dataset`."),
    naming=RUN_NAMING,
    batch_size: int = typer.Option(None, "--batch-size", callback=at_least(1), help="Override `data.batch_size`."),
    lr: float = typer.Option(None, "--lr", callback=POSITIVE, help="Override `optim.lr`."),
    motif: list[str] = typer.Option(None, "--motif", help="Initialise first-layer filters from a motif (JASPAR "
                                    "ID or name, or a MEME file: all its motifs; `auto` / `auto:K`: the K (16) JASPAR "
                                    "motifs most enriched in the training split); sets `model.motifs`. Repeatable."),
    trainer=RUN_TRAINER,
    final: bool = typer.Option(False, "--final", help="Final model: train on train + val for the best epoch "
                               "count of the validated run (runs/<name>, or --epochs-from); writes <name>-final."),
    epochs_from: Path = typer.Option(None, "--epochs-from", help="Validated run folder whose best epoch sets "
                                     "the final model's epochs (implies --final)."),
    allow_genome_change: bool = typer.Option(False, "--allow-genome-change", help="Train even when the "
                                             "dataset's genome file changed since it was built (sha256 differs)."),
    **kw,
):
    """Train a model on a dataset folder; writes runs/<name>/ (config, checkpoints, metrics, predictions)."""
    allow_genome_changes(allow_genome_change)
    from bindscape.cli.summary import train_summary
    from bindscape.train import load_config, run_metrics, train, train_final

    cfg = load_config(config, run_overrides((("dataset", dataset), ("data.batch_size", batch_size),
                                             ("optim.lr", lr),
                                             ("model.motifs", list(motif) if motif else None)), kw))
    from bindscape._util import check_writable

    check_writable(cfg.out_dir, "--out-dir (out_dir)")  # before any training
    if final or epochs_from is not None:
        run = train_final(cfg, epochs_from=epochs_from, resume=kw["resume"], overwrite=kw["overwrite"])
    else:
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


#: `bindscape predict -o` endings that write a track instead of a table
TRACK_SUFFIXES = (".bw", ".bigwig", ".bedgraph")


def _split_out(out: Path, bedgraph, bigwig):
    """``-o`` ending in .bw/.bigwig/.bedgraph is the track (bigWig by default for a track); else the table.

    Returns (table or None, bedgraph, bigwig)."""
    low = out.name.lower()
    if low.endswith((".bw", ".bigwig")):
        return None, bedgraph, out
    if low.endswith(".bedgraph"):
        return None, out, bigwig
    return out, bedgraph, bigwig


def _write_tracks(df, col: str, *, bedgraph, bigwig, genome, fasta) -> list:
    """Write the optional bedGraph/bigWig tracks of `df[col]`; returns the paths written, for the message."""
    from bindscape.errors import ConfigError
    from bindscape.train import write_bedgraph, write_bigwig

    written = []
    track_ok = {"chrom", "start", "end"} <= set(df.columns) and fasta is None
    if (bedgraph or bigwig) and not track_ok:
        raise ConfigError("tracks need genomic coordinates (not available for --fasta input)")
    if bedgraph:
        written.append(write_bedgraph(df, bedgraph, col))
    if bigwig:
        from bindscape.io.genome import Genome

        if genome is None:
            raise ConfigError("--bigwig needs --genome (for chromosome sizes)")
        written.append(write_bigwig(df, bigwig, Genome(genome).sizes, col))
    return written


def _predict_genome_files(loaded, genome, *, table, bedgraph, bigwig, chrom, stride, batch_size) -> str:
    """Tile the genome straight to files (streamed, flat memory); returns the message."""
    from bindscape.train import write_genome_predictions

    r = write_genome_predictions(loaded, genome, table=table, bedgraph=bedgraph, bigwig=bigwig,
                                 chroms=chrom or None, stride=stride, batch_size=batch_size)
    return f"{r['windows']:,} windows -> {', '.join(str(f) for f in r['files'])}"


def predict_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="best.ckpt / last.ckpt / model.pt, or a run folder."),
    out: Path = typer.Option(..., "--out", "-o", callback=suffixes(*TABLE_SUFFIXES, *TRACK_SUFFIXES),
                             help="Output table (.parquet, .tsv or .csv), or a track: .bw/.bigwig (bigWig) "
                                  "or .bedGraph."),
    dataset: Path = typer.Option(None, "--dataset", "-d", help="Score a dataset folder."),
    split: str = typer.Option(None, "--split", help="Only this split of --dataset (train|val|test)."),
    bed: Path = typer.Option(None, "--bed", help="Score BED intervals (needs --genome)."),
    fasta: Path = typer.Option(None, "--fasta", help="Score FASTA records (resized to the model's length)."),
    genome: Path = typer.Option(None, "--genome", "-g", help="Genome FASTA (for --bed, or alone to tile it)."),
    chrom: list[str] = typer.Option(None, "--chrom", help="Tile only these chromosomes. Repeatable."),
    stride: int = typer.Option(None, "--stride", callback=at_least(1), help="Tiling step (default: half the model length)."),
    bedgraph: Path = typer.Option(None, "--bedgraph", help="Also write a bedGraph track."),
    bigwig: Path = typer.Option(None, "--bigwig", help="Also write a bigWig track."),
    batch_size: int = typer.Option(64, "--batch-size", callback=at_least(1),
                                   help="Windows per forward pass (64: fastest on CPU, docs/predict.md)."),
    threads: int = typer.Option(None, "--threads", callback=bounded(1, 1024),
                                help="CPU threads for torch (default: torch's own choice)."),
    allow_genome_change: bool = typer.Option(False, "--allow-genome-change", help="Score --dataset even when "
                                             "its genome file changed since it was built (sha256 differs)."),
):
    """Score a dataset, a BED file, a FASTA file, or tile a genome with a trained checkpoint.

    Tiling a genome (--genome alone) streams to the outputs chromosome by chromosome, so memory does not grow
    with the genome; `-o genome.bw` writes just the bigWig track.
    """
    allow_genome_changes(allow_genome_change)
    _check_predict_inputs(dataset, bed, fasta, genome)
    from rich.console import Console

    from bindscape._util import check_writable

    check_writable(out, "--out", is_dir=False)  # before loading and scoring, not after
    table, bedgraph, bigwig = _split_out(out, bedgraph, bigwig)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    from bindscape.train import load_checkpoint, predict_bed, predict_dataset, predict_fasta, write_table

    loaded = load_checkpoint(checkpoint)
    if dataset is None and bed is None and fasta is None:
        Console().print(_predict_genome_files(loaded, genome, table=table, bedgraph=bedgraph, bigwig=bigwig,
                                              chrom=chrom, stride=stride, batch_size=batch_size))
        return 0
    if dataset is not None:
        df = predict_dataset(loaded, dataset, split=split, batch_size=batch_size)
    elif bed is not None:
        df = predict_bed(loaded, bed, genome, batch_size=batch_size)
    else:
        df = predict_fasta(loaded, fasta, batch_size=batch_size)
    col = "prob" if "prob" in df else [c for c in df.columns if c.startswith("prob")][0]
    if table is not None:
        write_table(df, table)
    tracks = _write_tracks(df, col, bedgraph=bedgraph, bigwig=bigwig, genome=genome, fasta=fasta)
    msg = f"{len(df):,} predictions -> " + ", ".join(str(p) for p in (table, *tracks) if p is not None)
    if "label" in df and df["label"].nunique() == 2:
        from bindscape.evaluate.metrics import binary_metrics

        m = binary_metrics(df["label"].to_numpy(), df[col].to_numpy())
        msg += f"  (auROC {m['auroc']:.4f}, auPRC {m['auprc']:.4f})"
    Console().print(msg)
    return 0


def parse_seeds(items: list[str] | None) -> list[int]:
    """``--seeds 0,1,2`` (or repeated ``--seeds``) -> [0, 1, 2]; a `ConfigError` for anything else.

    Parameters
    ----------
    items
        The option's values.

    Returns
    -------
    list of int
    """
    from bindscape.errors import ConfigError

    out = []
    for tok in ",".join(items or ["0,1,2"]).replace(" ", ",").split(","):
        if tok.strip():
            try:
                out.append(int(tok))
            except ValueError:
                raise ConfigError(f"--seeds: {tok!r} is not an integer (e.g. --seeds 0,1,2)") from None
    return out


@option_groups
def ensemble_cmd(
    config: Path = typer.Argument(..., help="Training config (YAML) of every member; see docs/training.md."),
    seeds: list[str] = typer.Option(None, "--seeds", help="Member seeds, e.g. 0,1,2 (default) or repeated."),
    folds: int = typer.Option(None, "--folds", callback=at_least(2), help="Chromosome folds of the train + val rows: member k "
                              "validates on group k (one member per fold and seed)."),
    out: Path = typer.Option(None, "--out", "-o", help="Ensemble folder (default <out_dir>/<name>-ensemble)."),
    epochs_from: Path = typer.Option(None, "--epochs-from", help="Members are final models (train + val) for "
                                     "this validated run's best epoch count (not with --folds)."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Override `dataset`."),
    naming=RUN_NAMING,
    set_: list[str] = typer.Option(None, "--set", help="Override any field: KEY=VALUE (dotted keys). Repeatable."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing ensemble folder (otherwise "
                                   "finished members are reused and an unfinished one resumes)."),
    **kw,
):
    """Train an ensemble over seeds (and chromosome folds) into ONE checkpoint folder for predict/evaluate/explain."""
    from rich.console import Console

    from bindscape.cli.summary import train_summary
    from bindscape.train import cli_overrides, load_config, train_ensemble

    ov = cli_overrides((("dataset", dataset), ("name", kw["name"]), ("out_dir", kw["out_dir"]),
                        ("model.name", kw["model"]), ("trainer.max_epochs", kw["epochs"])), None, set_)
    cfg = load_config(config, ov)
    folder = train_ensemble(cfg, seeds=parse_seeds(seeds), folds=folds, out=out, epochs_from=epochs_from,
                            overwrite=overwrite)
    import json

    m = json.loads((folder / "metrics.json").read_text())
    train_summary({**m, "best_epoch": "per member"}, title=f"ensemble of {m['members']} ({cfg.model.name}) -> {folder}")
    Console().print(f"use it as one checkpoint: bindscape predict --checkpoint {folder} ...")
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape train`, `bindscape ensemble` and `bindscape predict` to `app`, the root typer app."""
    app.command("train")(train_cmd)
    app.command("ensemble")(ensemble_cmd)
    app.command("predict")(predict_cmd)

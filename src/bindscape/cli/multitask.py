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


def _tile(regions, sizes: dict[str, int], L: int):
    """Windows of L bp covering each region (last one aligned to the region's end, clipped to the chromosome)."""
    import numpy as np

    rows = []
    for i, (c, s, e) in enumerate(zip(regions["chrom"], regions["start"], regions["end"])):
        size = sizes[c]
        starts = list(range(int(s), max(int(e) - L, int(s)) + 1, L))
        if starts[-1] + L < e:
            starts.append(int(e) - L)
        for w in starts:
            rows.append((i, c, int(min(max(w, 0), max(size - L, 0)))))
    return rows, np.array([r[2] for r in rows], dtype=np.int64)


def predict_bp_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Multitask checkpoint or run folder."),
    tf: str = typer.Option(..., "--tf", help="TF name (one the model knows)."),
    cell: str = typer.Option(None, "--cell", help="Cell-type name (one the model knows)."),
    genome: Path = typer.Option(..., "--genome", "-g", help="Genome FASTA."),
    bed: Path = typer.Option(None, "--bed", help="Regions to predict (BED); default: every chromosome."),
    out: Path = typer.Option(..., "--out", "-o", help="Called binding sites (BED)."),
    bedgraph: Path = typer.Option(None, "--bedgraph", help="Also write per-bp probabilities (bedGraph)."),
    bigwig: Path = typer.Option(None, "--bigwig", help="Also write per-bp probabilities (bigWig)."),
    threshold: float = typer.Option(0.5, "--threshold", callback=bounded(0, 1), help="Probability threshold (choose it by IOU on validation)."),
    batch_size: int = typer.Option(64, "--batch-size", callback=at_least(1)),
):
    """Per-base-pair binding probabilities for one TF x cell-type condition; writes called sites as BED."""
    import numpy as np
    import pandas as pd

    from bindscape.io.bed import read_bed
    from bindscape.io.genome import Genome
    from bindscape.train import load_multitask_checkpoint, predict_bp

    loaded = load_multitask_checkpoint(checkpoint)
    loaded.index(tf, cell)  # unknown names fail before any work
    g = Genome(genome)
    L = loaded.length
    regions = read_bed(bed) if bed else pd.DataFrame({"chrom": g.chroms, "start": 0, "end": [g.sizes[c] for c in g.chroms]})
    bad = sorted(set(regions["chrom"]) - set(g.chroms))
    if bad:
        from bindscape.errors import InputError

        raise InputError(f"{bed}: chromosomes not in the genome: {', '.join(bad[:5])}")
    rows, starts = _tile(regions, g.sizes, L)
    chroms = np.array([r[1] for r in rows])
    x = g.fetch_onehot(chroms, starts, length=L, pad=True)
    if loaded.tracks is not None:
        x = np.concatenate([x, loaded.tracks.fetch(cell, chroms, starts, L)], axis=1)
    p = predict_bp(loaded, x, tf, cell, batch_size=batch_size)
    graph = []
    for (i, c, w), pw in zip(rows, p):
        s, e = int(regions["start"].iloc[i]), int(regions["end"].iloc[i])
        lo, hi = max(s, w), min(e, w + L)
        seg = pw[lo - w : hi - w]
        graph.append(pd.DataFrame({"chrom": c, "start": np.arange(lo, hi), "end": np.arange(lo, hi) + 1, "value": seg}))
    gdf = pd.concat(graph, ignore_index=True).drop_duplicates(["chrom", "start"], keep="last").sort_values(["chrom", "start"])
    on = (gdf["value"].to_numpy() >= threshold).astype(np.int8)
    # runs of called base pairs (contiguous positions on one chromosome)
    brk = np.ones(len(gdf), bool)
    brk[1:] = (gdf["chrom"].to_numpy()[1:] != gdf["chrom"].to_numpy()[:-1]) | (np.diff(gdf["start"].to_numpy()) != 1) | (on[1:] != on[:-1])
    run_id = np.cumsum(brk)
    runs = gdf.assign(on=on, run=run_id)[on == 1].groupby("run").agg(chrom=("chrom", "first"), start=("start", "min"),
                                                                      end=("end", "max"), score=("value", "max"))
    out.parent.mkdir(parents=True, exist_ok=True)
    runs[["chrom", "start", "end", "score"]].to_csv(out, sep="\t", header=False, index=False, float_format="%.4f")
    if bedgraph or bigwig:  # the one track writer of `bindscape predict` (streamed, atomic)
        from bindscape.train import frame_intervals, write_tracks

        write_tracks(frame_intervals(gdf, "value"), bedgraph=bedgraph, bigwig=bigwig, sizes=g.sizes,
                     name=f"{tf}/{cell or '-'}")
    typer.echo(f"{len(runs):,} binding sites for {tf}/{cell or '-'} -> {out}")
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape train-multitask` and `bindscape predict-bp` to `app`, the root `bindscape` typer app."""
    app.command("train-multitask")(train_multitask_cmd)
    app.command("predict-bp")(predict_bp_cmd)

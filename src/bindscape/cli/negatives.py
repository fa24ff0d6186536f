"""`bindscape build negatives-benchmark` (the TFBS-negatives benchmark for one TF) and `bindscape qc DATASET`."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.build import build_app


@build_app.command("negatives-benchmark")
def negatives_benchmark(
    genome: Path = typer.Option(..., "--genome", "-g", help="Genome FASTA (.fa, .fa.gz or bgzip)."),
    peaks: str = typer.Option(..., "--peaks", "-p", help="The TF's peaks as TF=PATH (BED, narrowPeak, chr:pos)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (one dataset per strategy + hq_test/)."),
    accessible: Path = typer.Option(None, "--accessible", help="Accessibility peaks (ATAC/DNase) for the HQ set."),
    other: list[str] = typer.Option(None, "--other", help="Another TF's peaks in the same cell line, TF=PATH. Repeatable."),
    strategies: str = typer.Option(None, "--strategies", help="Comma-separated strategies (default: all the inputs allow)."),
    length: int = typer.Option(101, "--length", "-l", help="Window length (bp)."),
    ratio: float = typer.Option(1.0, "--ratio", help="Negatives per positive."),
    fold: int = typer.Option(0, "--fold", help="kgroup fold (0..5 for 3 groups): which group is test/val."),
    k: int = typer.Option(3, "--groups", help="Number of chromosome groups."),
    blacklist: Path = typer.Option(None, "--blacklist", help="BED of regions to exclude."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    strict: bool = typer.Option(False, "--strict", help="Fail (instead of warn) when a strategy finds too few negatives."),
    no_shortcut: bool = typer.Option(False, "--no-shortcut", help="Skip the k-mer shortcut detector."),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Genome cache folder."),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty --out."),
):
    """Build the TFBS-negatives benchmark: a training dataset per negative strategy and a shared HQ test set."""
    import time

    from rich.console import Console
    from rich.table import Table

    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark
    from bindscape.errors import ConfigError
    from bindscape.io.genome import Genome

    def pair(arg: str, opt: str) -> tuple[str, str]:
        name, sep, path = arg.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"{opt} expects TF=PATH, got {arg!r}")
        return name, path

    console = Console(stderr=True)
    t0 = time.perf_counter()
    tf, ppath = pair(peaks, "--peaks")
    others = dict(pair(o, "--other") for o in other) if other else None
    g = Genome(genome, cache_dir=cache_dir)
    with console.status("building the TFBS-negatives benchmark"):
        s = build_tfbs_benchmark(
            g, ppath, out, tf=tf, accessible=accessible, others=others, strategies=strategies, length=length,
            ratio=ratio, fold=fold, k=k, seed=seed, blacklist=blacklist, on_short="error" if strict else "warn",
            shortcut=not no_shortcut, force=force,
        )
    t = Table(title=f"{tf} TFBS-negatives benchmark -> {out}  ({time.perf_counter() - t0:.1f} s)")
    for col in ("strategy", "negatives", "GC KS", "repeat KS", "shortcut auROC", "notes"):
        t.add_column(col, justify="left" if col in ("strategy", "notes") else "right")
    for name, info in s["strategies"].items():
        t.add_row(name, f"{info['negatives']:,}", _f(info.get("gc_ks")), _f(info.get("repeat_ks")),
                  _f(info.get("shortcut_auc")), f"{len(info['notes'])} shortfall(s)" if info["notes"] else "")
    console.print(t)
    if "hq_test" in s:
        console.print(f"HQ test set: {s['hq_test']['positives']:,} positives, {s['hq_test']['negatives']:,} "
                      f"accessible-unbound negatives (chromosomes {', '.join(s['split_chroms']['test'])})")
    for info in s["strategies"].values():
        for note in info["notes"]:
            console.print(f"[dim]{note}[/dim]")


def _f(x) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"


def qc(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    split: str = typer.Option("train", "--split", help="Split to check ('all' for every row)."),
    no_shortcut: bool = typer.Option(False, "--no-shortcut", help="Skip the k-mer shortcut detector."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the detector's folds."),
):
    """Negative-set QC: per negative source, GC/repeat KS vs the positives and the shortcut-detector auROC."""
    from rich.console import Console
    from rich.table import Table

    from bindscape.data.qc import dataset_qc

    df = dataset_qc(dataset, split=None if split == "all" else split, shortcut=not no_shortcut, seed=seed)
    t = Table(title=f"negative-set QC: {dataset} ({split})")
    for col in ("source", "positives", "negatives", "GC pos/neg", "GC KS", "repeat KS", "shortcut auROC"):
        t.add_column(col, justify="left" if col == "source" else "right")
    for r in df.itertuples(index=False):
        t.add_row(str(r.source), f"{r.n_pos:,}", f"{r.n_neg:,}", f"{r.gc_pos_mean:.3f}/{r.gc_neg_mean:.3f}",
                  _f(r.gc_ks), _f(r.repeat_ks), _f(getattr(r, "shortcut_auc", None)))
    Console().print(t)
    Console(stderr=True).print("[dim]shortcut auROC ~0.5: composition alone cannot separate the sets; "
                               "near 1: a model can score well without learning the motif[/dim]")


def register(app: typer.Typer) -> None:
    app.command("qc")(qc)

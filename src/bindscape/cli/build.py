"""`bindscape build peaks|tiles|bp` and `bindscape info`."""

from __future__ import annotations

from pathlib import Path

import typer

build_app = typer.Typer(help="Build an on-disk dataset (regions.parquet + dataset.json) from a genome and peaks.",
                        no_args_is_help=True)

GENOME = typer.Option(..., "--genome", "-g", help="Genome FASTA (.fa, .fa.gz or bgzip).")
PEAKS = typer.Option(
    ..., "--peaks", "-p", help="Peak file per condition as TF=PATH or TF:CELL=PATH (BED, narrowPeak, chr:pos). Repeatable."
)
OUT = typer.Option(..., "--out", "-o", help="Output dataset folder.")
SPLIT = typer.Option(
    "auto", "--split", help="auto (MORALE integer program) | chroms (with --val/--test) | kgroup[:FOLD] | none."
)
VAL = typer.Option(None, "--val", help="Validation chromosome(s) for --split chroms. Repeatable.")
TEST = typer.Option(None, "--test", help="Test chromosome(s) for --split chroms. Repeatable.")
SEED = typer.Option(0, "--seed", help="Random seed.")
BLACKLIST = typer.Option(None, "--blacklist", help="BED of regions to exclude (e.g. the ENCODE blacklist).")
ALIAS = typer.Option(None, "--chrom-alias", help="Rename chromosomes in peak files: 'auto' or FROM=TO,...")
SPECIES = typer.Option(None, "--species", help="Species name stored with every row (multi-species work).")
CACHE = typer.Option(None, "--cache-dir", help="Genome cache folder (default $BINDSCAPE_CACHE or ~/.cache/bindscape).")
FORCE = typer.Option(False, "--force", help="Overwrite an existing dataset in --out.")
SEX = typer.Option(False, "--include-sex-chroms", help="Keep sex chromosomes and the mitochondrion.")
VALFRAC = typer.Option(0.1, "--val-frac", help="Target share of positives in validation (--split auto).")
TESTFRAC = typer.Option(0.1, "--test-frac", help="Target share of positives in test (--split auto).")


def _run(kind: str, **kw) -> None:
    import time

    from rich.console import Console

    from bindscape.data.build import build_dataset
    from bindscape.data.builders import parse_condition
    from bindscape.io.intervals import parse_aliases

    console = Console(stderr=True)
    t0 = time.perf_counter()
    conditions = [parse_condition(p, species=kw.pop("species")) for p in kw.pop("peaks")]
    kw["aliases"] = parse_aliases(kw.pop("chrom_alias"))
    with console.status(f"building {kind} dataset"):
        res, mapping, out = build_dataset(kind, conditions=conditions, **kw)
    for note in res.notes:
        console.print(f"[dim]{note}[/dim]")
    print_summary(res.regions, title=f"{kind} dataset -> {out}  ({time.perf_counter() - t0:.1f} s)")


@build_app.command("tiles")
def tiles(
    genome: Path = GENOME, peaks: list[str] = PEAKS, out: Path = OUT,
    length: int = typer.Option(500, "--length", "-l", help="Window length (bp)."),
    stride: int = typer.Option(450, "--stride", "-s", help="Step between window starts (bp)."),
    max_n_frac: float = typer.Option(0.1, "--max-n-frac", help="Drop windows with a larger share of N."),
    blacklist: Path = BLACKLIST, split: str = SPLIT, val: list[str] = VAL, test: list[str] = TEST,
    val_frac: float = VALFRAC, test_frac: float = TESTFRAC, seed: int = SEED, chrom_alias: str = ALIAS,
    species: str = SPECIES, cache_dir: str = CACHE, include_sex_chroms: bool = SEX, force: bool = FORCE,
):
    """Tile the genome; label 1 where a window covers a peak summit."""
    _run("tiles", genome=genome, peaks=peaks, out=out, length=length, stride=stride, max_n_frac=max_n_frac,
         blacklist=blacklist, split=split, val=val, test=test, val_frac=val_frac, test_frac=test_frac, seed=seed,
         chrom_alias=chrom_alias, species=species, cache_dir=cache_dir, include_excluded=include_sex_chroms,
         force=force)


@build_app.command("peaks")
def peaks_cmd(
    genome: Path = GENOME, peaks: list[str] = PEAKS, out: Path = OUT,
    length: int = typer.Option(1000, "--length", "-l", help="Window length (bp)."),
    anchor: str = typer.Option("summit", "--anchor", help="Centre windows on the 'summit' or the 'center'."),
    negatives: str = typer.Option(
        None, "--negatives",
        help="Negatives: a table (BED or parquet) or strategies genomic,shuffle,dinucleotide,neighbor,cross_tf,accessible.",
    ),
    neg_ratio: float = typer.Option(1.0, "--neg-ratio", help="Negatives per positive for each strategy."),
    accessible: Path = typer.Option(None, "--accessible", help="ATAC/DNase peaks for the 'accessible' (HQ) strategy."),
    neg_on_short: str = typer.Option("error", "--neg-on-short", help="When a strategy finds too few: error|warn."),
    blacklist: Path = BLACKLIST, split: str = SPLIT, val: list[str] = VAL, test: list[str] = TEST,
    val_frac: float = VALFRAC, test_frac: float = TESTFRAC, seed: int = SEED, chrom_alias: str = ALIAS,
    species: str = SPECIES, cache_dir: str = CACHE, include_sex_chroms: bool = SEX, force: bool = FORCE,
):
    """Windows centred on peak summits (positives), plus a given negatives table."""
    _run("peaks", genome=genome, peaks=peaks, out=out, length=length, anchor=anchor, negatives=negatives,
         neg_ratio=neg_ratio, accessible=accessible, neg_on_short=neg_on_short,
         blacklist=blacklist, split=split, val=val, test=test, val_frac=val_frac, test_frac=test_frac, seed=seed,
         chrom_alias=chrom_alias, species=species, cache_dir=cache_dir, include_excluded=include_sex_chroms,
         force=force)


@build_app.command("bp")
def bp_cmd(
    genome: Path = GENOME, peaks: list[str] = PEAKS, out: Path = OUT,
    length: int = typer.Option(1000, "--length", "-l", help="Window length (bp)."),
    background: float = typer.Option(0.0, "--background", help="Peak-free windows per peak window."),
    blacklist: Path = BLACKLIST, split: str = SPLIT, val: list[str] = VAL, test: list[str] = TEST,
    val_frac: float = VALFRAC, test_frac: float = TESTFRAC, seed: int = SEED, chrom_alias: str = ALIAS,
    species: str = SPECIES, cache_dir: str = CACHE, include_sex_chroms: bool = SEX, force: bool = FORCE,
):
    """Windows around peaks with per-base-pair bound labels (NetTIME)."""
    _run("bp", genome=genome, peaks=peaks, out=out, length=length, background=background, blacklist=blacklist,
         split=split, val=val, test=test, val_frac=val_frac, test_frac=test_frac, seed=seed,
         chrom_alias=chrom_alias, species=species, cache_dir=cache_dir, include_excluded=include_sex_chroms,
         force=force)


def print_summary(regions, *, title: str) -> None:
    """The one-screen summary: examples per split x label, per condition, and chromosomes per split."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=title)
    has_label = "label" in regions
    t.add_column("split")
    if has_label:
        t.add_column("positives", justify="right")
        t.add_column("negatives", justify="right")
    t.add_column("total", justify="right")
    t.add_column("chromosomes")
    splits = ["train", "val", "test"] if "split" in regions else [None]
    for s in splits:
        sub = regions if s is None else regions[regions["split"] == s]
        chroms = sorted(sub["chrom"].unique())
        ch = ", ".join(chroms[:8]) + (f" (+{len(chroms) - 8})" if len(chroms) > 8 else "")
        row = [s or "all"]
        if has_label:
            npos = int((sub["label"] == 1).sum())
            row += [f"{npos:,}", f"{len(sub) - npos:,}"]
        row += [f"{len(sub):,}", ch]
        t.add_row(*row)
    console.print(t)
    cond = [c for c in ("species", "tf", "cell") if c in regions]
    if cond and regions[cond].drop_duplicates().shape[0] > 1:
        ct = Table(title="per condition")
        for c in cond:
            ct.add_column(c)
        ct.add_column("positives", justify="right")
        ct.add_column("total", justify="right")
        for key, sub in regions.groupby(cond, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            ct.add_row(*[str(k) for k in key], f"{int((sub['label'] == 1).sum()):,}", f"{len(sub):,}")
        console.print(ct)


def info(dataset: Path = typer.Argument(..., help="Dataset folder.")):
    """Print a dataset's builder, genome and counts per split, label and condition."""
    from rich.console import Console

    from bindscape.data.dataset import load_dataset

    ds = load_dataset(dataset)
    console = Console()
    m = ds.meta
    g = m.get("genome") or {}
    console.print(f"[bold]{dataset}[/bold]: {m.get('builder')} dataset, bindscape {m.get('bindscape_version')}, "
                  f"seed {m.get('seed')}")
    if g:
        console.print(f"genome: {g.get('path')} (sha256 {str(g.get('checksum'))[:12]}...)")
    params = {k: v for k, v in (m.get("params") or {}).items() if k not in ("conditions",)}
    console.print("params: " + ", ".join(f"{k}={v}" for k, v in params.items() if v not in (None, [], "")))
    print_summary(ds.regions, title=f"{len(ds.regions):,} regions")


def register(app: typer.Typer) -> None:
    app.add_typer(build_app, name="build")
    app.command("info")(info)


# --- `bindscape build motif-instances`: defined in bindscape.cli.motifs (issue 4, motifs layer) -------------
def _add_motif_instances() -> None:
    from bindscape.cli.motifs import add_build_command

    add_build_command(build_app)


_add_motif_instances()

"""`bindscape build tiles|peaks|bp|motif-instances|negatives-benchmark|sequences` and `bindscape info`.

Every `build` subcommand lives here. tiles, peaks and bp share their genome/peaks/output and split/seed/cache
options through `bindscape.cli.options` (`DATASET_INPUTS`, `DATASET_SETTINGS`); each ends with the dataset
summary table of `bindscape.cli.summary`.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from bindscape.cli.options import (
    DATASET_INPUTS,
    DATASET_SETTINGS,
    FORCE_DATASET,
    FRACTION,
    GENOME,
    GENOME_CACHE,
    MOTIF_SPECIES,
    OUT_DATASET,
    POSITIVE,
    PROBABILITY,
    RELEASE,
    SEED,
    at_least,
    bounded,
    option_groups,
)

build_app = typer.Typer(help="Build an on-disk dataset (regions.parquet + dataset.json) from a genome and peaks.",
                        no_args_is_help=True)

LENGTH_1000 = typer.Option(1000, "--length", "-l", callback=at_least(1), help="Window length (bp).")


def _run(kind: str, **kw) -> None:
    """Build a `kind` dataset from the CLI's options (peaks as TF=PATH, chromosome aliases) and summarise it."""
    from rich.console import Console

    from bindscape.cli.summary import dataset_summary
    from bindscape.data.build import build_dataset
    from bindscape.data.builders import parse_condition
    from bindscape.io.chroms import parse_aliases

    console = Console(stderr=True)
    t0 = time.perf_counter()
    conditions = [parse_condition(p, species=kw.pop("species")) for p in kw.pop("peaks")]
    kw["aliases"] = parse_aliases(kw.pop("chrom_alias"))
    kw["include_excluded"] = kw.pop("include_sex_chroms")
    with console.status(f"building {kind} dataset"):
        res, mapping, out = build_dataset(kind, conditions=conditions, **kw)
    for note in res.notes:
        console.print(f"[dim]{note}[/dim]")
    dataset_summary(res.regions, title=f"{kind} dataset -> {out}  ({time.perf_counter() - t0:.1f} s)")


@build_app.command("tiles")
@option_groups
def tiles(
    inputs=DATASET_INPUTS,
    length: int = typer.Option(500, "--length", "-l", callback=at_least(1), help="Window length (bp)."),
    stride: int = typer.Option(450, "--stride", "-s", callback=at_least(1), help="Step between window starts (bp)."),
    max_n_frac: float = typer.Option(0.1, "--max-n-frac", callback=bounded(0, 1), help="Drop windows with a larger share of N."),
    settings=DATASET_SETTINGS,
    **kw,
):
    """Tile the genome; label 1 where a window covers a peak summit."""
    _run("tiles", length=length, stride=stride, max_n_frac=max_n_frac, **kw)


@build_app.command("peaks")
@option_groups
def peaks_cmd(
    inputs=DATASET_INPUTS,
    length: int = LENGTH_1000,
    anchor: str = typer.Option("summit", "--anchor", help="Centre windows on the 'summit' or the 'center'."),
    negatives: str = typer.Option(
        None, "--negatives",
        help="Negatives: a table (BED or parquet) or strategies genomic,shuffle,dinucleotide,neighbor,cross_tf,accessible.",
    ),
    neg_ratio: float = typer.Option(1.0, "--neg-ratio", callback=POSITIVE, help="Negatives per positive for each strategy."),
    accessible: Path = typer.Option(None, "--accessible", help="ATAC/DNase peaks for the 'accessible' (HQ) strategy."),
    neg_on_short: str = typer.Option("error", "--neg-on-short", help="When a strategy finds too few: error|warn."),
    settings=DATASET_SETTINGS,
    **kw,
):
    """Windows centred on peak summits (positives), plus a given negatives table."""
    _run("peaks", length=length, anchor=anchor, negatives=negatives, neg_ratio=neg_ratio, accessible=accessible,
         neg_on_short=neg_on_short, **kw)


@build_app.command("bp")
@option_groups
def bp_cmd(
    inputs=DATASET_INPUTS,
    length: int = LENGTH_1000,
    background: float = typer.Option(0.0, "--background", callback=at_least(0), help="Peak-free windows per peak window."),
    settings=DATASET_SETTINGS,
    **kw,
):
    """Windows around peaks with per-base-pair bound labels (NetTIME)."""
    _run("bp", length=length, background=background, **kw)


@build_app.command("motif-instances")
def motif_instances_cmd(
    genome: Path = GENOME,
    motif: str = typer.Option(..., "--motif", "-m", help="JASPAR ID, TF name (with --species) or motif file."),
    peaks: Path = typer.Option(..., "--peaks", "-p", help="ChIP peaks of the TF (BED, narrowPeak)."),
    out: Path = OUT_DATASET,
    length: int = typer.Option(1000, "--length", "-l", callback=at_least(1), help="Window length (bp), centred on the motif match."),
    pvalue: float = typer.Option(1e-4, "--pvalue", callback=PROBABILITY, help="Motif matches with p below this are instances."),
    bin_width: float = typer.Option(0.1, "--bin-width", callback=POSITIVE, help="-log10 p bin width for matching bound/unbound."),
    gc_control: bool = typer.Option(False, "--gc-control", help="Also match GC content within each p bin."),
    gc_tolerance: float = typer.Option(0.02, "--gc-tolerance", callback=bounded(0, 1), help="Largest GC difference of a matched pair."),
    accessible: Path = typer.Option(None, "--accessible", help="Use only matches inside these regions (BED)."),
    regions: Path = typer.Option(None, "--regions", help="Scan only these regions (BED) instead of the genome."),
    mask_core: bool = typer.Option(False, "--mask-core", help="Record that the motif match is read as N."),
    peak_flank: int = typer.Option(0, "--peak-flank", callback=at_least(0), help="Widen peaks by this many bp each side "
                                   "(for 1-bp ChIP-exo / summit peaks)."),
    species: str = MOTIF_SPECIES, release: int = RELEASE,
    split: str = typer.Option("auto", "--split", help="auto | chroms (with --val/--test) | kgroup[:FOLD] | none."),
    val: list[str] = typer.Option(None, "--val", help="Validation chromosome(s) for --split chroms."),
    test: list[str] = typer.Option(None, "--test", help="Test chromosome(s) for --split chroms."),
    seed: int = SEED, cache_dir: str = GENOME_CACHE, force: bool = FORCE_DATASET,
):
    """Bound vs unbound motif instances (AgentBind): p-value-matched, optionally GC/accessibility-controlled."""
    from rich.console import Console

    from bindscape.cli.summary import dataset_summary
    from bindscape.data.build import check_output
    from bindscape.data.dataset import output_lock
    from bindscape.data.motif_instances import build_motif_instances, write_motif_instances
    from bindscape.data.splits import assign_split
    from bindscape.io.genome import Genome

    t0 = time.perf_counter()
    check_output(out, force)
    g = Genome(genome, cache_dir=cache_dir)
    con = Console(stderr=True)
    with output_lock(out), con.status("building motif-instance dataset"):  # a second build fails at once
        check_output(out, force)  # again under the lock: another build may have finished meanwhile
        df = build_motif_instances(
            g, motif, peaks, length=length, pvalue=pvalue, bin_width=bin_width, gc_control=gc_control,
            accessible=accessible, mask_core=mask_core, seed=seed, regions=regions, peak_flank=peak_flank,
            gc_tolerance=gc_tolerance, species=species, release=release)
        attrs = dict(df.attrs)
        df, _mapping = assign_split(df, split, val=val or (), test=test or (), sizes=g.sizes)
        df.attrs.update(attrs)
        df.attrs["params"] = {**attrs["params"], "split": split, "val": list(val or []), "test": list(test or [])}
        write_motif_instances(out, df, g, seed=seed)
    st = df.attrs["stats"]
    con.print(f"{st['hits']:,} matches -> {st['bound_candidates']:,} bound / {st['unbound_candidates']:,} unbound "
              f"candidates ({st['ambiguous']} straddling a peak edge dropped)")
    dataset_summary(df, title=f"motif-instances dataset -> {out}  ({time.perf_counter() - t0:.1f} s)")


def _pair(arg: str, opt: str) -> tuple[str, str]:
    """Split a ``TF=PATH`` option value; a `ConfigError` naming `opt` otherwise."""
    from bindscape.errors import ConfigError

    name, sep, path = arg.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"{opt} expects TF=PATH, got {arg!r}")
    return name, path


@build_app.command("negatives-benchmark")
def negatives_benchmark(
    genome: Path = GENOME,
    peaks: str = typer.Option(..., "--peaks", "-p", help="The TF's peaks as TF=PATH (BED, narrowPeak, chr:pos)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (one dataset per strategy + hq_test/)."),
    accessible: Path = typer.Option(None, "--accessible", help="Accessibility peaks (ATAC/DNase) for the HQ set."),
    other: list[str] = typer.Option(None, "--other", help="Another TF's peaks in the same cell line, TF=PATH. Repeatable."),
    strategies: str = typer.Option(None, "--strategies", help="Comma-separated strategies (default: all the inputs allow)."),
    length: int = typer.Option(101, "--length", "-l", callback=at_least(1), help="Window length (bp)."),
    ratio: float = typer.Option(1.0, "--ratio", callback=POSITIVE, help="Negatives per positive."),
    fold: int = typer.Option(0, "--fold", callback=at_least(0), help="kgroup fold (0..5 for 3 groups): which group is test/val."),
    k: int = typer.Option(3, "--groups", callback=at_least(2), help="Number of chromosome groups."),
    blacklist: Path = typer.Option(None, "--blacklist", help="BED of regions to exclude."),
    seed: int = SEED,
    strict: bool = typer.Option(False, "--strict", help="Fail (instead of warn) when a strategy finds too few negatives."),
    no_shortcut: bool = typer.Option(False, "--no-shortcut", help="Skip the k-mer shortcut detector."),
    cache_dir: str = GENOME_CACHE,
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty --out."),
):
    """Build the TFBS-negatives benchmark: a training dataset per negative strategy and a shared HQ test set."""
    from rich.console import Console

    from bindscape.cli.summary import tfbs_benchmark_summary
    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark
    from bindscape.io.genome import Genome

    t0 = time.perf_counter()
    tf, ppath = _pair(peaks, "--peaks")
    others = dict(_pair(o, "--other") for o in other) if other else None
    from bindscape.data.negatives import NegativesShortError

    g = Genome(genome, cache_dir=cache_dir)
    try:
        with Console(stderr=True).status("building the TFBS-negatives benchmark"):
            s = build_tfbs_benchmark(
                g, ppath, out, tf=tf, accessible=accessible, others=others, strategies=strategies, length=length,
                ratio=ratio, fold=fold, k=k, seed=seed, blacklist=blacklist, on_short="error" if strict else "warn",
                shortcut=not no_shortcut, force=force,
            )
    except NegativesShortError as exc:  # name this command's flags, not the Python arguments
        exc.hint = "lower --ratio, choose other --strategies, or drop --strict to keep what was found"
        raise
    tfbs_benchmark_summary(s, tf=tf, out=out, seconds=time.perf_counter() - t0)


@build_app.command("sequences")
def sequences_cmd(
    out: Path = OUT_DATASET,
    input: list[Path] = typer.Option(None, "--input", "-i", help="CSV/TSV (sequence + label columns) or FASTA to split at random. Repeatable."),
    train: list[Path] = typer.Option(None, "--train", help="Given training file(s) (CSV/TSV/FASTA)."),
    val: list[Path] = typer.Option(None, "--val", help="Given validation file(s)."),
    test: list[Path] = typer.Option(None, "--test", help="Given test file(s): with --train, with a pool "
                                    "(--positives/--input; then a labelled CSV/TSV, used exactly) or alone."),
    positives: list[Path] = typer.Option(None, "--positives", help="FASTA of bound sequences (label 1). Repeatable."),
    negatives: list[Path] = typer.Option(None, "--negatives", help="FASTA of unbound sequences (label 0). Repeatable."),
    length: int = typer.Option(None, "--length", "-l", callback=at_least(1), help="Sequence length (default: the longest input)."),
    align: str = typer.Option("center", "--align", help="Crop/pad rule: center (both ends) or left (right end)."),
    val_frac: float = typer.Option(0.1, "--val-frac", callback=FRACTION, help="Validation share for a random split."),
    test_frac: float = typer.Option(None, "--test-frac", callback=FRACTION, help="Test share for a random split "
                                    "(default 0.1; none with --test, whose file is the test split)."),
    negative_strategy: str = typer.Option("dinucleotide", "--negative-strategy",
                                          help="When only positives: shuffle | dinucleotide."),
    negatives_per_positive: int = typer.Option(1, "--negatives-per-positive", callback=at_least(1)),
    extra_negatives: int = typer.Option(0, "--extra-negatives", callback=at_least(0),
                                        help="Add N shuffled copies (--negative-strategy) of each training "
                                             "positive as extra training negatives, even when negatives are given."),
    sequence_column: str = typer.Option("sequence", "--sequence-column"),
    label_column: str = typer.Option("label", "--label-column"),
    seed: int = SEED,
    force: bool = FORCE_DATASET,
):
    """Sequence-only dataset (no genome) from FASTA or CSV/TSV files: DeepBind- and GUE-style data."""
    from bindscape.cli.summary import dataset_summary
    from bindscape.data.dataset import load_dataset
    from bindscape.data.sequences import build_sequence_dataset

    path = build_sequence_dataset(
        out, inputs=input or [], train=train or [], val=val or [], test=test or [], positives=positives or [],
        negatives=negatives or [], length=length, align=align, val_frac=val_frac, test_frac=test_frac,
        negative_strategy=negative_strategy, negatives_per_positive=negatives_per_positive,
        extra_negatives=extra_negatives, sequence_column=sequence_column, label_column=label_column, seed=seed, force=force)
    ds = load_dataset(path)
    overlap = ds.meta["params"].get("test_in_train_val", 0)
    if overlap:
        from rich.console import Console

        Console(stderr=True).print(f"[yellow]warning:[/yellow] {overlap} train/val sequences also occur in the "
                                   "test split; test metrics will be optimistic")
    dataset_summary(ds.regions, title=f"sequences dataset -> {path} ({ds.meta['params']['length']} bp)")


def info(dataset: Path = typer.Argument(..., help="Dataset folder, or a model bundle (.bsm).")):
    """Print a dataset's builder, genome and counts per split, label and condition (or a model bundle's card)."""
    from rich.console import Console

    from bindscape.cli.summary import dataset_summary
    from bindscape.data.dataset import load_dataset

    if dataset.suffix == ".bsm":  # a model bundle (bindscape export): print its card
        from bindscape.cli.export import bundle_info

        return bundle_info(dataset)
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
    dataset_summary(ds.regions, title=f"{len(ds.regions):,} regions")


def register(app: typer.Typer) -> None:
    """Add `bindscape build ...` and `bindscape info` to `app`, the root `bindscape` typer app."""
    app.add_typer(build_app, name="build")
    app.command("info")(info)

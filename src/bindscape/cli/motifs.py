"""`bindscape motifs search|show|scan` and the `bindscape build motif-instances` command."""

from __future__ import annotations

from pathlib import Path

import typer

motifs_app = typer.Typer(help="Motifs: search JASPAR, show a motif (matrix, logo), scan a genome or sequences.",
                         no_args_is_help=True)

SPECIES = typer.Option(None, "--species", "-s", help="Species for TF names: human, mouse, yeast, fly, worm, "
                       "a scientific name or a taxonomy id.")
TAXON = typer.Option(None, "--taxon", help="JASPAR taxon group (vertebrates, fungi, insects, plants, nematodes, ...).")
RELEASE = typer.Option(2024, "--release", help="JASPAR release (2014-2026; offline).")
COLLECTION = typer.Option("CORE", "--collection", help="JASPAR collection (CORE or UNVALIDATED).")
PSEUDO = typer.Option(0.1, "--pseudocount", help="Pseudocount added to the counts, spread by the background.")


def _load(keys: list[str], species, taxon, release, collection):
    from bindscape.motifs.load import load_motifs

    return load_motifs(keys, species=species, taxon=taxon, release=release, collection=collection)


@motifs_app.command("search")
def search_cmd(
    query: str = typer.Argument(None, help="Part of a TF name or a JASPAR ID (all matrices when omitted)."),
    species: str = SPECIES, taxon: str = TAXON, release: int = RELEASE, collection: str = COLLECTION,
    limit: int = typer.Option(50, "--limit", help="Show at most this many rows (0: all)."),
):
    """List JASPAR matrices whose name or ID matches."""
    from rich.console import Console
    from rich.table import Table

    from bindscape.errors import InputError
    from bindscape.motifs.load import search_jaspar

    df = search_jaspar(query, species=species, taxon=taxon, release=release, collection=collection)
    if df.empty:
        import difflib

        from bindscape.motifs.load import _catalogue

        names = sorted(set(_catalogue(release, collection)["name"]))
        close = difflib.get_close_matches(query or "", names, n=5, cutoff=0.6)
        raise InputError(f"no JASPAR {release} matrix matches {query!r}"
                         + (f" for {species}" if species else "") + (f" in {taxon}" if taxon else ""),
                         hint=f"close matches: {', '.join(close)}" if close else None)
    t = Table(title=f"JASPAR {release} {collection or ''}: {len(df)} matrices")
    for c in ("id", "name", "species", "tax_group"):
        t.add_column(c)
    shown = df if not limit else df.head(limit)
    for r in shown.itertuples(index=False):
        t.add_row(r.id, r.name, r.species or "-", r.tax_group or "-")
    Console().print(t)
    if limit and len(df) > limit:
        typer.echo(f"... {len(df) - limit} more (use --limit 0)")


@motifs_app.command("show")
def show_cmd(
    motif: str = typer.Argument(..., help="JASPAR ID, TF name (with --species), motif file, or FILE:NAME."),
    species: str = SPECIES, taxon: str = TAXON, release: int = RELEASE, collection: str = COLLECTION,
    pseudocount: float = PSEUDO,
    logo: Path = typer.Option(None, "--logo", help="Write a logo image (png, svg or pdf)."),
    rc: bool = typer.Option(False, "--rc", help="Show the reverse complement."),
):
    """Print a motif: source, consensus, information content, counts/probabilities and log-odds."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from bindscape.motifs.load import load_motif

    m = load_motif(motif, species=species, taxon=taxon, release=release, collection=collection)
    if rc:
        m = m.reverse_complement()
    con = Console()
    ic = m.information_content()
    con.print(f"[bold]{m.label}[/bold]  source {m.source}  width {m.width}  consensus {m.consensus()}"
              + (f"  species {', '.join(m.species)}" if m.species else "")
              + (f"  taxon {m.taxon}" if m.taxon else "") + f"  IC {ic.sum():.1f} bits")
    pwm = m.to_pwm(pseudocount)
    t = Table(title="counts" if m.is_counts else "probabilities")
    t.add_column("")
    for j in range(m.width):
        t.add_column(str(j + 1), justify="right")
    fmt = (lambda v: f"{v:g}") if m.is_counts else (lambda v: f"{v:.2f}")
    for i, b in enumerate("ACGT"):
        t.add_row(b, *[fmt(v) for v in m.matrix[i]])
    con.print(t)
    t2 = Table(title=f"log2 odds (pseudocount {pseudocount}, uniform background)")
    t2.add_column("")
    for j in range(m.width):
        t2.add_column(str(j + 1), justify="right")
    for i, b in enumerate("ACGT"):
        t2.add_row(b, *[f"{v:.1f}" for v in pwm[i]])
    con.print(t2)
    con.print(f"max score {pwm.max(axis=0).sum():.2f} bits, min {pwm.min(axis=0).sum():.2f}; "
              f"IC per position: {' '.join(f'{v:.1f}' for v in np.round(ic, 1))}")
    if logo:
        from bindscape.motifs.logo import save_logo

        save_logo(m, logo)
        con.print(f"logo -> {logo}")


@motifs_app.command("scan")
def scan_cmd(
    motifs: list[str] = typer.Argument(..., help="Motifs: JASPAR IDs, TF names (with --species), motif files."),
    genome: Path = typer.Option(None, "--genome", "-g", help="Genome FASTA to scan (cached, streamed by chromosome)."),
    fasta: Path = typer.Option(None, "--fasta", help="Or: a FASTA of sequences to scan (e.g. peak sequences)."),
    out: Path = typer.Option(None, "--out", "-o", help="Hits table: .tsv, .bed, .parquet (.gz allowed)."),
    pvalue: float = typer.Option(1e-4, "--pvalue", "-p", help="Report hits with p below this."),
    regions: Path = typer.Option(None, "--regions", help="Scan only these intervals of the genome (BED)."),
    chrom: list[str] = typer.Option(None, "--chrom", help="Scan only these chromosomes. Repeatable."),
    species: str = SPECIES, taxon: str = TAXON, release: int = RELEASE, collection: str = COLLECTION,
    pseudocount: float = PSEUDO,
    cache_dir: str = typer.Option(None, "--cache-dir", help="Genome cache folder."),
):
    """Find motif hits (both strands, FIMO p-values) in a genome or in sequences."""
    import time

    from rich.console import Console
    from rich.table import Table

    from bindscape.errors import ConfigError
    from bindscape.motifs.scan import scan_genome, scan_sequences, write_hits

    if (genome is None) == (fasta is None):
        raise ConfigError("give exactly one of --genome or --fasta")
    ms = _load(motifs, species, taxon, release, collection)
    t0 = time.perf_counter()
    if genome is not None:
        reg = None
        if regions is not None:
            from bindscape.io.intervals import read_bed

            reg = read_bed(regions)
        hits = scan_genome(ms, genome, pvalue=pvalue, pseudocount=pseudocount, regions=reg,
                           chroms=list(chrom) if chrom else None, progress=True, cache_dir=cache_dir)
    else:
        seqs = _read_fasta(fasta)
        hits = scan_sequences(ms, seqs, pvalue=pvalue, pseudocount=pseudocount)
    dt = time.perf_counter() - t0
    con = Console(stderr=True)
    if out:
        write_hits(hits, out)
    t = Table(title=f"{len(hits):,} hits with p < {pvalue:g} ({dt:.1f} s)" + (f" -> {out}" if out else ""))
    for c in ("motif", "hits", "+", "-", "best p"):
        t.add_column(c, justify="right" if c != "motif" else "left")
    for m in ms:
        sub = hits[hits["motif_id"].astype(str) == (m.id or m.name)]
        t.add_row(m.label, f"{len(sub):,}", f"{int((sub['strand'] == '+').sum()):,}",
                  f"{int((sub['strand'] == '-').sum()):,}", f"{sub['p'].min():.2g}" if len(sub) else "-")
    con.print(t)
    if not out:
        typer.echo(hits.to_csv(sep="\t", index=False, float_format="%.6g"), nl=False)


def _read_fasta(path: Path) -> dict[str, str]:
    import gzip

    from bindscape.errors import InputError

    if not Path(path).exists():
        raise InputError(f"{path}: FASTA file does not exist")
    opener = gzip.open if str(path).endswith(".gz") else open
    seqs: dict[str, list[str]] = {}
    name = None
    with opener(path, "rt") as fh:
        for i, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                name = line[1:].split()[0] if line[1:].split() else f"seq{len(seqs)}"
                seqs[name] = []
            elif name is None:
                raise InputError(f"{path}:{i}: sequence before the first '>' header (not FASTA?)")
            else:
                seqs[name].append(line)
    if not seqs:
        raise InputError(f"{path}: no sequences")
    return {k: "".join(v) for k, v in seqs.items()}


# ---------------------------------------------------------------------------------------------
# bindscape build motif-instances (added to the coordinator's build_app by add_build_command)
# ---------------------------------------------------------------------------------------------

def motif_instances_cmd(
    genome: Path = typer.Option(..., "--genome", "-g", help="Genome FASTA (.fa, .fa.gz or bgzip)."),
    motif: str = typer.Option(..., "--motif", "-m", help="JASPAR ID, TF name (with --species) or motif file."),
    peaks: Path = typer.Option(..., "--peaks", "-p", help="ChIP peaks of the TF (BED, narrowPeak)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset folder."),
    length: int = typer.Option(1000, "--length", "-l", help="Window length (bp), centred on the motif match."),
    pvalue: float = typer.Option(1e-4, "--pvalue", help="Motif matches with p below this are instances."),
    bin_width: float = typer.Option(0.1, "--bin-width", help="-log10 p bin width for matching bound/unbound."),
    gc_control: bool = typer.Option(False, "--gc-control", help="Also match GC content within each p bin."),
    gc_tolerance: float = typer.Option(0.02, "--gc-tolerance", help="Largest GC difference of a matched pair."),
    accessible: Path = typer.Option(None, "--accessible", help="Use only matches inside these regions (BED)."),
    regions: Path = typer.Option(None, "--regions", help="Scan only these regions (BED) instead of the genome."),
    mask_core: bool = typer.Option(False, "--mask-core", help="Record that the motif match is read as N."),
    peak_flank: int = typer.Option(0, "--peak-flank", help="Widen peaks by this many bp each side "
                                   "(for 1-bp ChIP-exo / summit peaks)."),
    species: str = SPECIES, release: int = RELEASE,
    split: str = typer.Option("auto", "--split", help="auto | chroms (with --val/--test) | kgroup[:FOLD] | none."),
    val: list[str] = typer.Option(None, "--val", help="Validation chromosome(s) for --split chroms."),
    test: list[str] = typer.Option(None, "--test", help="Test chromosome(s) for --split chroms."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Genome cache folder."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing dataset in --out."),
):
    """Bound vs unbound motif instances (AgentBind): p-value-matched, optionally GC/accessibility-controlled."""
    import time

    from rich.console import Console

    from bindscape.data.motif_instances import build_motif_instances, write_motif_instances
    from bindscape.io.genome import Genome

    t0 = time.perf_counter()
    try:
        from bindscape.data.build import check_output

        check_output(out, force)
    except ImportError:
        pass
    g = Genome(genome, cache_dir=cache_dir)
    con = Console(stderr=True)
    with con.status("building motif-instance dataset"):
        df = build_motif_instances(
            g, motif, peaks, length=length, pvalue=pvalue, bin_width=bin_width, gc_control=gc_control,
            accessible=accessible, mask_core=mask_core, seed=seed, regions=regions, peak_flank=peak_flank,
            gc_tolerance=gc_tolerance, species=species, release=release)
    from bindscape.data.splits import assign_split

    attrs = dict(df.attrs)
    df, _mapping = assign_split(df, split, val=val or (), test=test or (), sizes=g.sizes)
    df.attrs.update(attrs)
    df.attrs["params"] = {**attrs["params"], "split": split, "val": list(val or []), "test": list(test or [])}
    write_motif_instances(out, df, g, seed=seed)
    st = df.attrs["stats"]
    con.print(f"{st['hits']:,} matches -> {st['bound_candidates']:,} bound / {st['unbound_candidates']:,} unbound "
              f"candidates ({st['ambiguous']} straddling a peak edge dropped)")
    try:
        from bindscape.cli.build import print_summary

        print_summary(df, title=f"motif-instances dataset -> {out}  ({time.perf_counter() - t0:.1f} s)")
    except ImportError:
        con.print(f"{len(df):,} instances ({int(df['label'].sum()):,} bound) -> {out}")


def add_build_command(build_app: typer.Typer) -> None:
    """Add `motif-instances` to the `bindscape build` sub-app."""
    build_app.command("motif-instances")(motif_instances_cmd)


def register(app: typer.Typer) -> None:
    app.add_typer(motifs_app, name="motifs")

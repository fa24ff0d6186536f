"""`bindscape motifs search|show|scan` (`bindscape build motif-instances` is in `bindscape.cli.build`)."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import (
    COLLECTION,
    GENOME_CACHE,
    HITS_SUFFIXES,
    PROBABILITY,
    PSEUDO,
    RELEASE,
    TAXON,
    at_least,
    suffixes,
)
from bindscape.cli.options import MOTIF_SPECIES as SPECIES

motifs_app = typer.Typer(help="Motifs: search JASPAR, show a motif (matrix, logo), scan a genome or sequences.",
                         no_args_is_help=True)


def _load(keys: list[str], species, taxon, release, collection):
    from bindscape.motifs.load import load_motifs

    return load_motifs(keys, species=species, taxon=taxon, release=release, collection=collection)


@motifs_app.command("search")
def search_cmd(
    query: str = typer.Argument(None, help="Part of a TF name or a JASPAR ID (all matrices when omitted)."),
    species: str = SPECIES, taxon: str = TAXON, release: int = RELEASE, collection: str = COLLECTION,
    limit: int = typer.Option(50, "--limit", callback=at_least(0), help="Show at most this many rows (0: all)."),
):
    """List JASPAR matrices whose name or ID matches."""
    from rich.console import Console
    from rich.table import Table

    from bindscape.errors import InputError
    from bindscape.motifs.load import search_jaspar

    df = search_jaspar(query, species=species, taxon=taxon, release=release, collection=collection)
    if df.empty:
        import difflib

        from bindscape.motifs.load import catalogue

        names = sorted(set(catalogue(release, collection)["name"]))
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
    out: Path = typer.Option(None, "--out", "-o", callback=suffixes(*HITS_SUFFIXES),
                      help="Hits table: .tsv, .bed, .parquet (.gz allowed)."),
    pvalue: float = typer.Option(1e-4, "--pvalue", "-p", callback=PROBABILITY, help="Report hits with p below this."),
    regions: Path = typer.Option(None, "--regions", help="Scan only these intervals of the genome (BED)."),
    chrom: list[str] = typer.Option(None, "--chrom", help="Scan only these chromosomes. Repeatable."),
    species: str = SPECIES, taxon: str = TAXON, release: int = RELEASE, collection: str = COLLECTION,
    pseudocount: float = PSEUDO,
    cache_dir: str = GENOME_CACHE,
):
    """Find motif hits (both strands, FIMO p-values) in a genome or in sequences."""
    import time

    from bindscape.cli.summary import scan_summary
    from bindscape.errors import ConfigError
    from bindscape.motifs.scan import scan_genome, scan_sequences, write_hits

    if (genome is None) == (fasta is None):
        raise ConfigError("give exactly one of --genome or --fasta")
    ms = _load(motifs, species, taxon, release, collection)
    t0 = time.perf_counter()
    if genome is not None:
        reg = None
        if regions is not None:
            from bindscape.io.bed import read_bed

            reg = read_bed(regions)
        hits = scan_genome(ms, genome, pvalue=pvalue, pseudocount=pseudocount, regions=reg,
                           chroms=list(chrom) if chrom else None, progress=True, cache_dir=cache_dir)
    else:
        from bindscape.data.sequences import read_fasta_records

        recs = read_fasta_records(fasta)
        seqs = dict(zip(recs["name"], recs["sequence"]))
        hits = scan_sequences(ms, seqs, pvalue=pvalue, pseudocount=pseudocount)
    dt = time.perf_counter() - t0
    if out:
        write_hits(hits, out)
    scan_summary(hits, ms, title=f"{len(hits):,} hits with p < {pvalue:g} ({dt:.1f} s)" + (f" -> {out}" if out else ""))
    if not out:
        typer.echo(hits.to_csv(sep="\t", index=False, float_format="%.6g"), nl=False)


def register(app: typer.Typer) -> None:
    """Add the `bindscape motifs` command group to `app`, the root `bindscape` typer app."""
    app.add_typer(motifs_app, name="motifs")

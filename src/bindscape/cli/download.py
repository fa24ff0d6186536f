"""`bindscape download genome|encode|blacklist|url|list`: fetch public data (the only network access)."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import POSITIVE, OptionGroup, option_groups

download_app = typer.Typer(
    help="Download public data: UCSC genomes, ENCODE files by accession, ENCODE blacklists, any URL. "
    "Resumes interrupted transfers and verifies checksums; files go to the download cache unless --out is given.",
    no_args_is_help=True,
)

CACHE = typer.Option(None, "--cache-dir",
                     help="Download cache (default $BINDSCAPE_DOWNLOADS or ~/.cache/bindscape/downloads).")
# where a download goes (`genome` has its own --out); then the options every download takes after its own
WHERE: OptionGroup = {
    "out": (str, typer.Option(None, "--out", "-o", help="Where to write: a file name, or a folder (existing, or "
                              "ending in /). Default: the cache.")),
    "cache_dir": (str, CACHE),
}
TRANSFER: OptionGroup = {
    "no_resume": (bool, typer.Option(False, "--no-resume", help="Start over instead of resuming a partial .part file.")),
    "force": (bool, typer.Option(False, "--force", help="Download again even when the file is already there.")),
    "quiet": (bool, typer.Option(False, "--quiet", "-q", help="No progress bar.")),
    "timeout": (float, typer.Option(60.0, "--timeout", callback=POSITIVE, help="Seconds to wait for the server before giving up.")),
}


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _done(*paths: Path, note: str | None = None) -> None:
    """Paths to stdout (one per line, for scripts); a human note to stderr."""
    con = _console()
    for p in paths:
        size = p.stat().st_size if p.exists() else 0
        con.print(f"[green]ok[/green] {p}  [dim]({_human(size)})[/dim]")
    if note:
        con.print(f"[dim]{note}[/dim]")
    for p in paths:
        typer.echo(str(p))


def _fetch(kind: str, *args, out, cache_dir, no_resume: bool, force: bool, quiet: bool, timeout: float, **kw):
    """Call `bindscape.io.download.fetch_<kind>` with the command's arguments and the shared options."""
    from bindscape.io import download

    return getattr(download, f"fetch_{kind}")(*args, out=out, cache=cache_dir, resume=not no_resume,
                                              progress=not quiet, timeout=timeout, force=force, **kw)


def _human(n: int) -> str:
    x = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if x < 1024 or unit == "TB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{n} B"  # pragma: no cover


@download_app.command("genome")
@option_groups
def genome(
    name: str = typer.Argument(..., help="UCSC assembly: hg38, hg19, mm10, mm39, sacCer3, ce11, dm6, danRer11."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for NAME.fa.gz and NAME.chrom.sizes (default: the cache)."),
    cache_dir: str = CACHE, transfer=TRANSFER, **kw,
):
    """A UCSC genome: NAME.fa.gz + NAME.chrom.sizes, md5-verified against UCSC's md5sum.txt."""
    res = _fetch("genome", name, out=out, cache_dir=cache_dir, **kw)
    note = "md5 verified against UCSC md5sum.txt" if res.verified else "UCSC publishes no md5 for this file: not verified"
    _done(res.fasta, res.chrom_sizes, note=note)


@download_app.command("encode")
@option_groups
def encode(
    accession: str = typer.Argument(..., help="ENCODE file accession, e.g. ENCFF123ABC."),
    where=WHERE, transfer=TRANSFER, **kw,
):
    """An ENCODE file by accession (peaks, signal, ...), md5- and size-verified; metadata saved as ACC.json."""
    res = _fetch("encode", accession, **kw)
    m = res.metadata
    bits = [m.get("file_format"), m.get("output_type"), m.get("assembly")]
    target = (m.get("target") or {}).get("label") if isinstance(m.get("target"), dict) else None
    biosample = (m.get("biosample_ontology") or {}).get("term_name") if isinstance(m.get("biosample_ontology"), dict) else None
    bits += [target, biosample]
    checked = " (md5 verified)" if res.verified else " (no checksum published)"
    note = f"{res.accession}: " + ", ".join(str(b) for b in bits if b) + checked
    status = m.get("status")
    if status and status != "released":
        note += f"; warning: ENCODE status is {status!r}"
    _done(res.path, note=note)


@download_app.command("blacklist")
@option_groups
def blacklist(
    assembly: str = typer.Argument(..., help="hg38, hg19, mm10, ce11, dm6 (also ce10, dm3)."),
    where=WHERE, transfer=TRANSFER, **kw,
):
    """The ENCODE blacklist v2 (Amemiya et al. 2019, Boyle-Lab/Blacklist) for an assembly, as .bed.gz;
    sha256-verified for hg38, hg19 and mm10."""
    from bindscape.io.download import BLACKLIST_SHA256

    path = _fetch("blacklist", assembly, **kw)
    checked = ("sha256 verified" if assembly in BLACKLIST_SHA256
               else f"no checksum shipped for {assembly}: not verified")
    _done(path, note=f"{checked}; use it with `bindscape build ... --blacklist PATH`")


@download_app.command("url")
@option_groups
def url_cmd(
    url: str = typer.Argument(..., help="http(s):// or ftp:// URL."),
    where=WHERE,
    sha256: str = typer.Option(None, "--sha256", help="Expected sha256 (hex); the file is checked and kept only if it matches."),
    md5: str = typer.Option(None, "--md5", help="Expected md5 (hex)."),
    transfer=TRANSFER, **kw,
):
    """Any URL, with optional checksum verification."""
    path = _fetch("url", url, sha256=sha256, md5=md5, **kw)
    _done(path, note="checksum verified" if (sha256 or md5) else None)


@download_app.command("list")
def list_cmd():
    """The named resources and where they come from (after environment overrides)."""
    from rich.table import Table

    from bindscape.io.download import BLACKLISTS, GENOMES, base_url, cache_dir

    t = Table(title=f"download cache: {cache_dir()}", title_justify="left")
    t.add_column("command")
    t.add_column("what")
    t.add_column("source", overflow="fold")
    for g, desc in GENOMES.items():
        t.add_row(f"genome {g}", desc, f"{base_url('ucsc')}/goldenPath/{g}/bigZips/")
    t.add_row("encode ENCFF......", "any ENCODE file", f"{base_url('encode')}/files/ACCESSION/")
    for a, f in BLACKLISTS.items():
        t.add_row(f"blacklist {a}", "ENCODE blacklist v2", f"{base_url('blacklist')}/{f}")
    t.add_row("url URL", "anything", "URL")
    _console().print(t)


def register(app: typer.Typer) -> None:
    """Add the `bindscape download` command group to `app`, the root `bindscape` typer app."""
    app.add_typer(download_app, name="download")

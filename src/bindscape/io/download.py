"""Downloads: the only place bindscape touches the network, and only when a user asks.

Python standard library only (`urllib.request`). Every download

* streams to ``DEST.part`` and resumes a partial ``.part`` with an HTTP ``Range`` request when the server
  answers ``206`` (a ``200`` means the server ignores ranges: the file starts over);
* checks the size against ``Content-Length`` and, when known, the sha256/md5 digest, then renames the part
  file onto ``DEST`` atomically, so a file under its final name is always complete;
* is skipped when ``DEST`` already exists (and matches the checksum, when one is known).

Named resources (UCSC genomes, ENCODE files by accession, ENCODE blacklists v2) are resolved from base URLs
that environment variables can override (mirrors, or a local server in tests):

==========================  =============================================  ==========================
resource                    default base URL                               override
==========================  =============================================  ==========================
UCSC genomes                https://hgdownload.soe.ucsc.edu                ``BINDSCAPE_UCSC_URL``
ENCODE files                https://www.encodeproject.org                  ``BINDSCAPE_ENCODE_URL``
ENCODE blacklists v2        https://github.com/Boyle-Lab/Blacklist/raw/... ``BINDSCAPE_BLACKLIST_URL``
==========================  =============================================  ==========================

Files land in the download cache: ``cache_dir`` argument > ``$BINDSCAPE_DOWNLOADS`` >
``~/.cache/bindscape/downloads``.

The ``fetch_*`` functions share their keyword arguments, which their docstrings do not repeat: `out` (the
destination file, or a folder: an existing one, or a path ending with a separator; None: a folder of the
cache), `cache` (the download cache root, see `cache_dir`) and `resume`, `force`, `progress`, `timeout` (as
in `download`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bindscape._util import atomic_path
from bindscape.errors import BindscapeError, ConfigError, InputError

DEFAULT_UCSC_URL = "https://hgdownload.soe.ucsc.edu"
DEFAULT_ENCODE_URL = "https://www.encodeproject.org"
DEFAULT_BLACKLIST_URL = "https://github.com/Boyle-Lab/Blacklist/raw/master/lists"

#: UCSC assemblies `fetch_genome` knows: name -> description
GENOMES: dict[str, str] = {
    "hg38": "human, GRCh38",
    "hg19": "human, GRCh37",
    "mm10": "mouse, GRCm38",
    "mm39": "mouse, GRCm39",
    "sacCer3": "yeast, S288C R64",
    "ce11": "worm, WBcel235",
    "dm6": "fly, BDGP6",
    "danRer11": "zebrafish, GRCz11",
}

#: assemblies with an ENCODE blacklist v2 (Amemiya, Kundaje & Boyle 2019) in Boyle-Lab/Blacklist
BLACKLISTS: dict[str, str] = {
    "hg38": "hg38-blacklist.v2.bed.gz",
    "hg19": "hg19-blacklist.v2.bed.gz",
    "mm10": "mm10-blacklist.v2.bed.gz",
    "ce11": "ce11-blacklist.v2.bed.gz",
    "dm6": "dm6-blacklist.v2.bed.gz",
    "ce10": "ce10-blacklist.v2.bed.gz",
    "dm3": "dm3-blacklist.v2.bed.gz",
}

#: sha256 of the blacklists in `BLACKLISTS` as published by Boyle-Lab/Blacklist (lists/, v2, 2018), checked
#: after every download. Computed from the original files; the lists for ce11, dm6, ce10 and dm3 have no
#: checksum here yet and are downloaded unverified (the command says so).
BLACKLIST_SHA256: dict[str, str] = {
    "hg38": "c92e763af17271446194991e71917ac220593a5a3d40a06667be24178ef08cf2",
    "hg19": "1a4ba636f791936ab8952cb068f496ccbd55ec4753539547c5d3d055ed00642a",
    "mm10": "febafb843c6df492f9a9fc418f8796762ee899d9864330fb509ae2d38ddc0b46",
}

ENCODE_ACCESSION = re.compile(r"^ENCFF[0-9A-Z]{6}$")
CHUNK = 1 << 20


class DownloadError(BindscapeError):
    """A network problem: host unreachable, HTTP error, or a transfer cut short."""


class ChecksumError(InputError):
    """A downloaded file whose digest differs from the expected one."""


# ---------------------------------------------------------------------------------------------- places


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The download cache: `explicit` > ``$BINDSCAPE_DOWNLOADS`` > ``~/.cache/bindscape/downloads``.

    Parameters
    ----------
    explicit
        A folder given by the caller (None or empty: look further); ``~`` is expanded.

    Returns
    -------
    Path
    """
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("BINDSCAPE_DOWNLOADS")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "bindscape" / "downloads"


def base_url(kind: str) -> str:
    """The base URL for 'ucsc' | 'encode' | 'blacklist', from its environment variable or the default.

    Parameters
    ----------
    kind
        ``ucsc``, ``encode`` or ``blacklist``; the variable is ``BINDSCAPE_<KIND>_URL``.

    Returns
    -------
    str
        The URL without a trailing slash.
    """
    defaults = {"ucsc": DEFAULT_UCSC_URL, "encode": DEFAULT_ENCODE_URL, "blacklist": DEFAULT_BLACKLIST_URL}
    if kind not in defaults:
        raise ValueError(f"unknown resource kind {kind!r}")
    return (os.environ.get(f"BINDSCAPE_{kind.upper()}_URL") or defaults[kind]).rstrip("/")


def _resolve_dest(out: str | os.PathLike | None, default_dir: Path, name: str, *, source: str,
                  error: type[BindscapeError] = InputError) -> Path:
    """`out` as a file path, or as a folder when it is an existing folder or ends with a separator.

    `name` (derived from remote metadata or a URL, described by `source`) is only used when the destination
    is a folder; it must then be one safe path component (`check_file_name`), and the file must resolve
    inside that folder.
    """
    if out is not None:
        s = os.fspath(out)
        p = Path(s).expanduser()
        if not (p.is_dir() or s.endswith(("/", os.sep))):
            return p  # a file name the user chose
        default_dir = p
    name = check_file_name(name, source=source, error=error)
    return _inside(default_dir, name)


def check_file_name(name: str, *, source: str, error: type[BindscapeError] = InputError) -> str:
    """`name` when it is one safe path component; `error` (one line, hint: ``--out FILE``) otherwise.

    A safe name is not empty, at most 255 bytes, does not start with a dot (so neither ``.`` nor ``..``
    nor a hidden file), and has no ``/``, ``\\``, NUL or other control characters. Names bindscape derives
    from remote metadata or a URL are checked, never rewritten: a file lands under the name the source gave
    or not at all.

    Parameters
    ----------
    name
        The candidate file name.
    source
        Where it came from, for the message (e.g. ``the 'href' of ENCODE file ENCFF123ABC``).
    error
        The `BindscapeError` subclass raised.

    Returns
    -------
    str
        `name`, unchanged.
    """
    bad = (
        not name
        or name.startswith(".")
        or len(name.encode("utf-8", "surrogateescape")) > 255
        or any(c in name for c in "/\\")
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    if bad:
        raise error(f"unsafe file name {name!r} from {source}: a downloaded file must be named by one plain "
                    "path component inside the download folder; nothing was downloaded",
                    hint="choose the file name yourself with --out FILE")
    return name


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, after checking that it and its ``.part`` file resolve directly inside `folder`."""
    root = folder.expanduser().resolve()
    for candidate in (root / name, root / f"{name}.part"):
        if candidate.resolve().parent != root:
            raise InputError(f"{folder / candidate.name} resolves outside {root} (a link?); nothing was "
                             "downloaded", hint="remove the link, or choose the file with --out FILE")
    return folder / name


# ---------------------------------------------------------------------------------------------- HTTP


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        v = version("bindscape")
    except Exception:  # pragma: no cover - not installed
        v = "dev"
    return f"bindscape/{v} (python-urllib; +download)"


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _reason(exc: BaseException) -> str:
    r = getattr(exc, "reason", exc)
    if isinstance(r, OSError) and r.strerror:
        return r.strerror
    return str(r) or type(r).__name__


def _network_error(url: str, exc: BaseException) -> DownloadError:
    if isinstance(exc, urllib.error.HTTPError):
        return DownloadError(
            f"HTTP {exc.code} {exc.reason} for {url}",
            hint="check the name/accession and the URL; the server may have moved the file",
        )
    return DownloadError(
        f"cannot reach {_host(url)}: {_reason(exc)}",
        hint="check your internet connection or proxy (https_proxy), or point BINDSCAPE_UCSC_URL / "
        "BINDSCAPE_ENCODE_URL / BINDSCAPE_BLACKLIST_URL at a mirror",
    )


def _open(url: str, *, headers: dict[str, str] | None = None, timeout: float = 60):
    req = urllib.request.Request(url, headers={"User-Agent": _user_agent(), **(headers or {})})
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from exc


def fetch_bytes(url: str, *, timeout: float = 60, headers: dict[str, str] | None = None,
                missing_ok: bool = False) -> bytes | None:
    """GET a small resource into memory. With `missing_ok`, a 404 returns None instead of raising.

    Parameters
    ----------
    url
        The URL.
    timeout
        Socket timeout in seconds.
    headers
        Extra request headers, added to a bindscape User-Agent (which they may replace).
    missing_ok
        Return None on HTTP 404.

    Returns
    -------
    bytes or None
        The response body.
    """
    try:
        with _open(url, headers=headers, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        if missing_ok and exc.code == 404:
            return None
        raise _network_error(url, exc) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from exc


# ---------------------------------------------------------------------------------------------- download


def _hashers(sha256: str | None, md5: str | None) -> dict:
    out = {}
    if sha256:
        out["sha256"] = hashlib.sha256()
    if md5:
        out["md5"] = hashlib.md5(usedforsecurity=False)
    return out


def _digest_file(path: Path, algos: list[str]) -> dict[str, str]:
    hs = {a: hashlib.new(a, usedforsecurity=False) for a in algos}
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK * 4):
            for h in hs.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hs.items()}


def _expected(sha256: str | None, md5: str | None) -> dict[str, str]:
    exp = {}
    for algo, val, n in (("sha256", sha256, 64), ("md5", md5, 32)):
        if val:
            v = val.strip().lower()
            if not re.fullmatch(rf"[0-9a-f]{{{n}}}", v):
                raise ConfigError(f"{algo} must be {n} hexadecimal characters, got {val!r}")
            exp[algo] = v
    return exp


def verify(path: str | os.PathLike, *, sha256: str | None = None, md5: str | None = None) -> bool:
    """True when the file exists and matches every digest given (True as well when none is given).

    Parameters
    ----------
    path
        The file.
    sha256, md5
        Expected hex digests (case-insensitive; a malformed one is a `ConfigError`).

    Returns
    -------
    bool
    """
    path = Path(path)
    if not path.is_file():
        return False
    exp = _expected(sha256, md5)
    if not exp:
        return True
    got = _digest_file(path, list(exp))
    return all(got[a] == exp[a] for a in exp)


def _progress_bar(enabled: bool):
    """A rich progress bar with bytes, speed and time left (None when disabled or not on a terminal)."""
    if not enabled:
        return None
    env = os.environ.get("BINDSCAPE_PROGRESS", "")
    if env == "0":
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal and env != "1":
        return None
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(start, total) from 'bytes START-END/TOTAL' or 'bytes */TOTAL'."""
    if not value:
        return None, None
    m = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value)
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def download(
    url: str, dest: str | os.PathLike, *, sha256: str | None = None, md5: str | None = None, size: int | None = None,
    resume: bool = True, progress: bool = True, timeout: float = 60, force: bool = False,
    description: str | None = None,
) -> Path:
    """Download `url` to `dest` (atomically) and return `dest`.

    * An existing `dest` is kept (no request made) when it matches `sha256`/`md5` (or when no digest is
      given: files only get their final name once complete); ``force=True`` downloads again.
    * The transfer streams to ``dest.part``; with `resume`, a partial ``.part`` left by an interrupted run
      is continued with an HTTP Range request (servers answering 200 instead of 206 restart from zero).
    * The size is checked against Content-Length (and `size`, when given) and the digests against
      `sha256`/`md5`; a mismatching digest deletes the part file and raises `ChecksumError` (an
      `InputError`) naming the expected and the actual digest.
    * Network problems raise `DownloadError` with one line (``cannot reach HOST: ...``) and a hint; the
      part file is kept so the next call resumes.

    Parameters
    ----------
    url, dest
        What to fetch and where to put it.
    sha256, md5, size
        Expected digests and size (None: not checked).
    resume, force
        Continue a partial download; download again even when `dest` is complete.
    progress, description
        Show a progress bar, labelled `description` (default: the file name).
    timeout
        Seconds to wait for the server.

    Returns
    -------
    Path
        `dest`.
    """
    dest = Path(dest).expanduser()
    exp = _expected(sha256, md5)
    if dest.exists() and not force:
        if not dest.is_file():
            raise InputError(f"{dest} exists and is not a file")
        if not exp or verify(dest, **exp):
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if not resume and part.exists():
        part.unlink()

    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = _open(url, headers=headers, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            _, total = _content_range(exc.headers.get("Content-Range"))
            exc.close()
            if total is not None and total == offset:  # the part file is already complete
                return _finish(part, dest, url, exp, expected_size=size if size is not None else total,
                               hashers=None)
            part.unlink()  # a stale part file larger than the resource: start over
            return download(url, dest, sha256=sha256, md5=md5, size=size, resume=False, progress=progress,
                            timeout=timeout, force=force, description=description)
        raise _network_error(url, exc) from exc

    with resp:
        offset, mode, expected_size = _transfer_plan(resp, url, offset, size)
        hashers = _hashers(exp.get("sha256"), exp.get("md5"))
        if offset and hashers:  # digest the bytes we already have
            with open(part, "rb") as fh:
                while block := fh.read(CHUNK * 4):
                    for h in hashers.values():
                        h.update(block)
        _stream(resp, part, url, mode=mode, offset=offset, expected_size=expected_size, hashers=hashers,
                resume=resume, progress=progress, description=description or dest.name)
    return _finish(part, dest, url, exp, expected_size=expected_size, hashers=hashers)


def _transfer_plan(resp, url: str, offset: int, size: int | None) -> tuple[int, str, int | None]:
    """(offset, file mode, expected total size) for a response: append on 206, else start over."""
    status = getattr(resp, "status", 200)
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if offset and status == 206:
        start, total = _content_range(resp.headers.get("Content-Range"))
        if start is not None and start != offset:
            raise DownloadError(f"{_host(url)} answered a range request with the wrong bytes "
                                f"(asked from {offset}, got from {start})", hint="use --no-resume")
        mode = "ab"
        expected_size = total if total is not None else (offset + length if length is not None else None)
    else:
        offset, mode = 0, "wb"  # no range asked, or the server ignored it (200): start over
        expected_size = length
    if size is not None:
        if expected_size is not None and expected_size != size:
            raise DownloadError(f"{url} is {expected_size:,} bytes but {size:,} were expected",
                                hint="the file changed on the server; check the source")
        expected_size = size
    return offset, mode, expected_size


def _stream(resp, part: Path, url: str, *, mode: str, offset: int, expected_size: int | None, hashers: dict,
            resume: bool, progress: bool, description: str) -> None:
    """Copy the response body to `part` (digesting it, with a progress bar); a broken connection is a
    `DownloadError` that keeps the part file."""
    bar = _progress_bar(progress)
    received = offset
    try:
        if bar is not None:
            bar.start()
            task = bar.add_task(description, total=expected_size, completed=offset)
        with open(part, mode) as fh:
            while True:
                try:
                    block = resp.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # the connection, not the disk
                    fh.flush()
                    raise DownloadError(
                        f"download of {url} interrupted after {received:,}"
                        + (f" of {expected_size:,}" if expected_size else "") + f" bytes: {_reason(exc)}",
                        hint=f"run the same command again to resume from {part.name}" if resume
                        else "run the same command again",
                    ) from exc
                if not block:
                    break
                fh.write(block)
                for h in hashers.values():
                    h.update(block)
                received += len(block)
                if bar is not None:
                    bar.update(task, completed=received)
    finally:
        if bar is not None:
            bar.stop()


def _finish(part: Path, dest: Path, url: str, exp: dict[str, str], *, expected_size: int | None,
            hashers: dict | None) -> Path:
    got = part.stat().st_size
    if expected_size is not None and got != expected_size:
        if got > expected_size:
            part.unlink()
            raise DownloadError(f"{url}: received {got:,} bytes but the server announced {expected_size:,}",
                                hint="the partial file was removed; run the command again")
        raise DownloadError(
            f"download of {url} incomplete: {got:,} of {expected_size:,} bytes",
            hint="run the same command again to resume",
        )
    if exp:
        actual = {a: h.hexdigest() for a, h in hashers.items()} if hashers else _digest_file(part, list(exp))
        for algo, want in exp.items():
            if actual[algo] != want:
                part.unlink()
                raise ChecksumError(
                    f"{algo} mismatch for {dest.name} from {url}: expected {want}, got {actual[algo]}",
                    hint="the partial file was deleted; the source may have changed, or the transfer was "
                    "corrupted: run again, and check the checksum you gave",
                )
    os.replace(part, dest)
    return dest


# ---------------------------------------------------------------------------------------------- resources


@dataclass(frozen=True)
class GenomeFiles:
    """What `fetch_genome` returns: the gzipped FASTA and the chromosome sizes next to it."""

    fasta: Path
    chrom_sizes: Path
    verified: bool  # md5 checked against UCSC's md5sum.txt


def parse_md5sum(text: str) -> dict[str, str]:
    """``{file name: md5}`` from an ``md5sum`` listing (``HEX  NAME`` or ``HEX *NAME`` lines).

    Parameters
    ----------
    text
        The listing; other lines are ignored.

    Returns
    -------
    dict[str, str]
        Base file name -> lower-case md5.
    """
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([0-9a-fA-F]{32})\s+\*?(\S.*?)\s*$", line)
        if m:
            out[Path(m.group(2)).name] = m.group(1).lower()
    return out


def check_genome_name(name: str) -> str:
    """A known UCSC genome `name` (case-insensitive: ``hg38``, ``mm10``, ...), spelled as in `GENOMES`; a
    `ConfigError` for others."""
    if name in GENOMES:
        return name
    by_lower = {g.lower(): g for g in GENOMES}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    known = ", ".join(GENOMES)
    raise ConfigError(f"unknown genome {name!r}; known UCSC genomes: {known}",
                      hint="for another assembly use `bindscape download url URL`")


def fetch_genome(name: str, *, out: str | os.PathLike | None = None, cache: str | os.PathLike | None = None,
                 resume: bool = True, progress: bool = True, timeout: float = 60,
                 force: bool = False) -> GenomeFiles:
    """Download a UCSC genome (``NAME.fa.gz`` + ``NAME.chrom.sizes``) into `out` (a folder) or the cache.

    UCSC's ``md5sum.txt`` in the same folder is fetched and the FASTA verified against it when present.
    `name`: UCSC assembly name (`check_genome_name`); `out`: a folder (None: ``CACHE/genomes/NAME``); the
    other arguments as in the module docstring.
    """
    name = check_genome_name(name)
    folder = Path(out).expanduser() if out is not None else cache_dir(cache) / "genomes" / name
    base = f"{base_url('ucsc')}/goldenPath/{name}/bigZips"
    listing = fetch_bytes(f"{base}/md5sum.txt", timeout=timeout, missing_ok=True)
    sums = parse_md5sum(listing.decode("utf-8", "replace")) if listing else {}
    fa_name = f"{name}.fa.gz"
    fasta = download(f"{base}/{fa_name}", folder / fa_name, md5=sums.get(fa_name), resume=resume,
                     progress=progress, timeout=timeout, force=force)
    sizes_name = f"{name}.chrom.sizes"
    sizes = download(f"{base}/{sizes_name}", folder / sizes_name, md5=sums.get(sizes_name), resume=resume,
                     progress=progress, timeout=timeout, force=force)
    return GenomeFiles(fasta=fasta, chrom_sizes=sizes, verified=fa_name in sums)


def check_accession(accession: str) -> str:
    """An ENCODE file accession (``ENCFF`` + 6 letters/digits), normalised; a `ConfigError` otherwise.

    Parameters
    ----------
    accession
        The accession as given (surrounding spaces and case do not matter).

    Returns
    -------
    str
        Stripped and upper-cased.
    """
    acc = accession.strip().upper()
    if not ENCODE_ACCESSION.match(acc):
        raise ConfigError(
            f"not an ENCODE file accession: {accession!r} (expected ENCFF followed by 6 letters/digits, "
            "e.g. ENCFF123ABC)",
            hint="experiment accessions (ENCSR...) name several files: pick one file (ENCFF...) on "
            "encodeproject.org",
        )
    return acc


@dataclass(frozen=True)
class EncodeFile:
    """What `fetch_encode` returns: the file and its ENCODE metadata (also saved as ``ACCESSION.json``)."""

    path: Path
    accession: str
    metadata: dict
    verified: bool = False  # md5 checked against the metadata's md5sum (False: ENCODE published none)


def fetch_encode(accession: str, *, out: str | os.PathLike | None = None,
                 cache: str | os.PathLike | None = None, resume: bool = True, progress: bool = True,
                 timeout: float = 60, force: bool = False) -> EncodeFile:
    """Download an ENCODE file by `accession` (``ENCFF...``, `check_accession`), md5- and size-verified
    against its metadata, into `out` (None: ``CACHE/encode/``); other arguments as in the module docstring.

    Returns the file, its accession and metadata (also written next to it as ``ACCESSION.json``).
    """
    acc = check_accession(accession)
    base = base_url("encode")
    meta_url = f"{base}/files/{acc}/?format=json"
    try:
        with _open(meta_url, headers={"Accept": "application/json"}, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise InputError(f"ENCODE has no file {acc}",
                             hint="check the accession on encodeproject.org") from exc
        if exc.code == 403:
            raise InputError(f"ENCODE file {acc} is restricted (HTTP 403)",
                             hint="it may be unreleased or need a login; pick a released file") from exc
        raise _network_error(meta_url, exc) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(meta_url, exc) from exc
    try:
        meta = json.loads(raw)
        href = meta["href"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"unexpected ENCODE metadata for {acc} (no 'href' field)",
                         hint="is BINDSCAPE_ENCODE_URL pointing at the ENCODE portal?") from exc
    file_url = href if re.match(r"^https?://", href) else f"{base}{href if href.startswith('/') else '/' + href}"
    fname = Path(urllib.parse.urlsplit(file_url).path).name
    source = f"the 'href' of ENCODE file {acc}"
    if not fname:
        fname, source = f"{acc}.{meta.get('file_format', 'dat')}", f"the 'file_format' of ENCODE file {acc}"
    dest = _resolve_dest(out, cache_dir(cache) / "encode", fname, source=source)
    md5 = meta.get("md5sum") or None
    if md5 is not None and not (isinstance(md5, str) and re.fullmatch(r"[0-9a-fA-F]{32}", md5.strip())):
        raise InputError(f"ENCODE metadata for {acc} has a malformed 'md5sum' {md5!r}; nothing was downloaded",
                         hint="is BINDSCAPE_ENCODE_URL pointing at the ENCODE portal?")
    size = meta.get("file_size")
    path = download(file_url, dest, md5=md5, size=int(size) if isinstance(size, int) else None,
                    resume=resume, progress=progress, timeout=timeout, force=force, description=acc)
    with atomic_path(path.with_name(f"{acc}.json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    return EncodeFile(path=path, accession=acc, metadata=meta, verified=md5 is not None)


def check_blacklist_name(assembly: str) -> str:
    """`assembly` (exact spelling: ``hg38``, ``mm10``, ...) when an ENCODE blacklist v2 exists for it
    (`BLACKLISTS`); a `ConfigError` otherwise."""
    if assembly in BLACKLISTS:
        return assembly
    raise ConfigError(f"no ENCODE blacklist v2 for {assembly!r}; available: {', '.join(BLACKLISTS)}",
                      hint="for another list use `bindscape download url URL`")


def fetch_blacklist(assembly: str, *, out: str | os.PathLike | None = None,
                    cache: str | os.PathLike | None = None, resume: bool = True, progress: bool = True,
                    timeout: float = 60, force: bool = False) -> Path:
    """Download the ENCODE blacklist v2 (Boyle-Lab/Blacklist) for `assembly` (`check_blacklist_name`) as a
    .bed.gz into `out` (None: ``CACHE/blacklist/``); other arguments as in the module docstring."""
    assembly = check_blacklist_name(assembly)
    fname = BLACKLISTS[assembly]
    dest = _resolve_dest(out, cache_dir(cache) / "blacklist", fname, source="bindscape's blacklist table")
    sha = BLACKLIST_SHA256.get(assembly)
    url = f"{base_url('blacklist')}/{fname}"
    try:
        return download(url, dest, sha256=sha, resume=resume, progress=progress, timeout=timeout, force=force)
    except ChecksumError as exc:
        if dest.is_file() and not verify(dest, sha256=sha):
            dest.unlink()  # a file under the final name that fails the shipped checksum is not kept either
        raise ChecksumError(
            f"{exc.message} (the ENCODE blacklist v2 bindscape ships a checksum for); the file was removed",
            hint="check BINDSCAPE_BLACKLIST_URL (a mirror may serve another version), or take a list you trust "
            "with `bindscape download url URL --sha256 HEX`",
        ) from exc


def fetch_url(url: str, *, out: str | os.PathLike | None = None, cache: str | os.PathLike | None = None,
              sha256: str | None = None, md5: str | None = None, resume: bool = True, progress: bool = True,
              timeout: float = 60, force: bool = False) -> Path:
    """Download any full http(s):// or ftp:// `url` into `out` (None: ``CACHE/url/``), named after the URL's
    last path part, verified against the hex digests `sha256` / `md5` when given; other arguments as in the
    module docstring."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "ftp") or not parts.netloc:
        raise ConfigError(f"not a downloadable URL: {url!r}", hint="give a full http(s):// or ftp:// URL")
    fname = Path(urllib.parse.unquote(parts.path)).name or (parts.netloc.replace(":", "_") + ".download")
    dest = _resolve_dest(out, cache_dir(cache) / "url", fname, source=f"the URL {url}", error=ConfigError)
    return download(url, dest, sha256=sha256, md5=md5, resume=resume, progress=progress, timeout=timeout,
                    force=force)


__all__ = [
    "BLACKLISTS",
    "BLACKLIST_SHA256",
    "GENOMES",
    "ChecksumError",
    "DownloadError",
    "EncodeFile",
    "GenomeFiles",
    "cache_dir",
    "check_file_name",
    "download",
    "fetch_blacklist",
    "fetch_encode",
    "fetch_genome",
    "fetch_url",
    "verify",
]

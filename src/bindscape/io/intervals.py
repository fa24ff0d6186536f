"""Genomic intervals: BED / narrowPeak / summit readers and writers, validation, interval arithmetic.

Regions are plain pandas DataFrames (see DESIGN.md, "Regions") with ``chrom`` (str), ``start`` and ``end``
(int64, 0-based, half-open) plus optional ``name`` (str), ``score`` (float64), ``strand`` ('+', '-', '.'),
``summit`` (int64, an ABSOLUTE 0-based genome position) and narrowPeak's ``signal``, ``p`` and ``q``
(float64). Every reader validates its input and reports problems as ``path:line: what is wrong`` with a
`bindscape.errors.InputError` (or `ChromosomeError` for names/coordinates that do not fit the genome).

Why the interval operations are hand-written
--------------------------------------------
pyranges and pybedtools are not dependencies (DESIGN.md: dependencies are chosen, not accumulated;
pybedtools also needs the bedtools binary). Everything bindscape needs -- merge, overlap tests and counts,
point-in-interval queries, subtraction, blacklist filtering -- reduces to sorted arrays and
``np.searchsorted``. Each (chromosome, position) pair is encoded as one int64 key
``code * 2**40 + position``, so all chromosomes live in a single sorted array whose per-chromosome blocks
never interleave; one vectorised ``searchsorted`` then answers a query for every interval at once
(100k x 2M intervals in well under a second, see the module's tests/report). Overlap always means the
half-open formula ``a.start < b.end and b.start < a.end`` (bedtools' definition for non-empty intervals).

Reading
-------
Files are read whole (peak files are small), gzip/bgzip is recognised by its magic bytes (not by name),
``track``/``browser``/``#`` lines and blank lines are skipped, and the 1-based source line of every record
is kept in a ``_line`` column while validating; the returned frames do not have it (``df.attrs['source']``
keeps the path). Parsing uses ``pandas.read_csv`` with explicit dtypes; only when that fails are the
columns re-read as text and checked vectorially to find and report the first bad line.

Fields are tab-separated; a file whose first record contains no tab is split on runs of whitespace.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape._util import atomic_path
from bindscape.errors import ChromosomeError, ConfigError, InputError

__all__ = [
    "read_bed",
    "read_narrowpeak",
    "read_summits",
    "read_peaks",
    "write_bed",
    "write_narrowpeak",
    "check_chroms",
    "check_bounds",
    "parse_aliases",
    "merge",
    "overlaps_any",
    "count_overlaps",
    "contains_points",
    "points_in",
    "subtract",
    "remove_overlapping",
    "window",
    "clip",
    "sizes_from_file",
]

PathLike = str | os.PathLike
SizesLike = Mapping[str, int] | str | os.PathLike

_SHIFT = 1 << 40  # key = chromosome code * _SHIFT + position
_MAX_COORD = 1 << 39
_SKIP_PREFIXES = ("#", "track ", "track\t", "browser ", "browser\t")
_STRANDS = ("+", "-", ".")
NARROWPEAK_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "signal", "p", "q", "peak"]
_BED_NAMES = ["chrom", "start", "end", "name", "score", "strand"]
_KINDS = {
    "chrom": "chrom",
    "start": "int",
    "end": "int",
    "name": "str",
    "score": "score",
    "strand": "strand",
    "signal": "float",
    "p": "float",
    "q": "float",
    "peak": "int",
}
_SUMMIT_RE = re.compile(r"^\S+:[0-9][0-9,]*$")


# ----------------------------------------------------------------------------------------------------
# low-level reading
# ----------------------------------------------------------------------------------------------------


def _read_text(path: PathLike) -> tuple[str, str]:
    """Return (display name, decoded text); gzip detected by magic bytes."""
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise InputError(
            f"{src}: no such file", hint="check the path (relative paths start from the current folder)"
        )
    if p.is_dir():
        raise InputError(f"{src}: is a folder, not a file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"{src}: cannot be read ({e.strerror or e})") from e
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(
                f"{src}: gzip data is corrupt or truncated ({e})", hint="download the file again"
            ) from e
    elif p.name.lower().endswith((".gz", ".bgz")):
        raise InputError(
            f"{src}: is named .gz but is not gzip-compressed",
            hint="rename it without .gz, or compress it with gzip/bgzip",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{src}:{line}: is not UTF-8 text (is this a binary file?)") from e
    return src, text


class _Lines(list):
    """Data lines (a list of str) with `.line_nos` (1-based numbers in the file) and `.joined` text."""

    line_nos: np.ndarray
    _joined: str | None = None

    @property
    def joined(self) -> str:
        if self._joined is None:
            self._joined = "\n".join(self)
        return self._joined


_SKIP_RE = re.compile(r"^(?:#|track(?:[ \t]|$)|browser(?:[ \t]|$)|[ \t]*$)", re.MULTILINE)


def _data_lines(text: str) -> _Lines:
    """Data lines without header/comment/blank lines, with their 1-based line numbers."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = text[:-1] if text.endswith("\n") else text
    if body and not _SKIP_RE.search(body):  # fast path: nothing to skip
        out = _Lines(body.split("\n"))
        out.line_nos = np.arange(1, len(out) + 1, dtype=np.int64)
        out._joined = body
        return out
    lines = text.split("\n")
    keep = [
        i
        for i, ln in enumerate(lines)
        if ln and not ln.startswith(_SKIP_PREFIXES) and ln != "track" and ln != "browser" and not ln.isspace()
    ]
    out = _Lines(lines[i] for i in keep)
    out.line_nos = np.asarray(keep, dtype=np.int64) + 1
    return out


def _split_mode(first: str) -> str:
    return "tab" if "\t" in first else "ws"


def _field_counts(lines: _Lines, mode: str) -> np.ndarray:
    if mode == "tab":  # count tabs per line on the bytes, vectorised
        buf = np.frombuffer(lines.joined.encode("utf-8"), dtype=np.uint8)
        nl = np.flatnonzero(buf == 10)
        tabs = np.flatnonzero(buf == 9)
        return np.bincount(np.searchsorted(nl, tabs), minlength=len(lines)).astype(np.int64) + 1
    return np.fromiter((len(ln.split()) for ln in lines), dtype=np.int64, count=len(lines))


def _read_csv(lines: _Lines, mode: str, names: list[str], dtype) -> pd.DataFrame:
    buf = io.StringIO(lines.joined)
    kw = dict(sep="\t") if mode == "tab" else dict(sep=r"\s+")
    return pd.read_csv(
        buf,
        header=None,
        names=names,
        dtype=dtype,
        na_filter=False,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        engine="c",
        skip_blank_lines=False,
        **kw,
    )


class _Problems:
    """Collects (row, message) candidates; raises the one on the earliest row."""

    def __init__(self, src: str, lines: np.ndarray):
        self.src, self.lines, self.found = src, lines, []

    def check(self, bad: np.ndarray, fmt) -> None:
        idx = np.flatnonzero(bad)
        if idx.size:
            self.found.append((int(idx[0]), fmt))

    def raise_first(self) -> None:
        if not self.found:
            return
        i, fmt = min(self.found, key=lambda t: t[0])  # earliest row; ties: first check
        msg, hint = fmt(i)
        raise InputError(f"{self.src}:{int(self.lines[i])}: {msg}", hint=hint)


def _int_column(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values, bad mask) for a text column that must hold integers."""
    s = col.astype(str)
    ok = s.str.fullmatch(r"[+-]?[0-9]+").to_numpy(dtype=bool)
    vals = np.zeros(len(s), dtype=np.int64)
    if ok.any():
        try:
            vals[ok] = s[ok].astype("int64").to_numpy()
        except (OverflowError, ValueError):
            big = s[ok].str.lstrip("+-").str.len().to_numpy() > 18
            okidx = np.flatnonzero(ok)
            ok[okidx[big]] = False
            vals[ok] = s[ok].astype("int64").to_numpy()
    return vals, ~ok


def _float_column(col: pd.Series, *, dot_is_nan: bool) -> tuple[np.ndarray, np.ndarray]:
    s = col.astype(str)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(vals) & ~s.str.strip().str.lower().isin(["nan"]).to_numpy(dtype=bool)
    if dot_is_nan:
        bad &= (s != ".").to_numpy(dtype=bool)
    return vals, bad


def _parse_table(src: str, lines: list[str], line_nos: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Parse data lines into a typed, validated frame with a `_line` column."""
    mode = _split_mode(lines[0])
    kinds = [_KINDS.get(n, "str") for n in names]
    dtype = {}
    for n, k in zip(names, kinds, strict=True):
        dtype[n] = {"int": "int64", "float": "float64", "score": "float64"}.get(k, str)
    try:
        df = _read_csv(lines, mode, names, dtype)
        if len(df) != len(lines):  # pragma: no cover - defensive
            raise ValueError("row count mismatch")
        typed = True
    except (ValueError, OverflowError, pd.errors.ParserError):
        df = _read_csv(lines, mode, names, str)
        typed = False

    probs = _Problems(src, line_nos)
    cols: dict[str, np.ndarray] = {}
    for n, k in zip(names, kinds, strict=True):
        col = df[n]
        if k == "int":
            if typed:
                cols[n] = col.to_numpy(dtype=np.int64)
            else:
                v, bad = _int_column(col)
                cols[n] = v
                raw = col.to_numpy(dtype=object)
                what = "summit offset" if n == "peak" else n
                probs.check(bad, lambda i, raw=raw, what=what: (f"{what} {raw[i]!r} is not an integer", None))
        elif k in ("float", "score"):
            if typed:
                cols[n] = col.to_numpy(dtype=np.float64)
            else:
                v, bad = _float_column(col, dot_is_nan=(k == "score"))
                cols[n] = v
                raw = col.to_numpy(dtype=object)
                probs.check(bad, lambda i, raw=raw, n=n: (f"{n} {raw[i]!r} is not a number", None))
        else:
            cols[n] = col
    start, end = cols["start"], cols["end"]
    chrom = cols["chrom"]
    probs.check((chrom == "").to_numpy(dtype=bool), lambda i: ("the chromosome name is empty", None))
    probs.check(
        start < 0,
        lambda i: (f"start {start[i]} is negative", "BED coordinates are 0-based: the first base is 0"),
    )
    probs.check(
        start > end,
        lambda i: (f"start {start[i]} is greater than end {end[i]}", "columns 2 and 3 are start then end"),
    )
    if "strand" in cols:
        sv = cols["strand"]
        bad = ~sv.isin(_STRANDS).to_numpy(dtype=bool)
        raw = sv.to_numpy(dtype=object)
        probs.check(bad, lambda i: (f"strand {raw[i]!r} must be '+', '-' or '.'", None))
    if "peak" in cols:
        off = cols["peak"]
        length = end - start
        bad = (off != -1) & ((off < 0) | (off >= length)) & (start <= end)
        probs.check(
            bad,
            lambda i: (
                f"summit offset {off[i]} (column 10) is outside the peak (0..{max(length[i] - 1, 0)}, or -1 for none)",
                "narrowPeak's column 10 is the summit's offset from start",
            ),
        )
    probs.raise_first()

    out = pd.DataFrame({"chrom": chrom.astype(str)})
    out["start"] = start
    out["end"] = end
    for n, k in zip(names, kinds, strict=True):
        if n in ("chrom", "start", "end", "peak"):
            continue
        out[n] = cols[n] if k != "str" and k != "strand" else cols[n].astype(str)
    if "peak" in cols:
        off = cols["peak"]
        out["summit"] = np.where(off == -1, (start + end) // 2, start + off).astype(np.int64)
    out["_line"] = line_nos
    out.attrs["source"] = src
    return out


def _check_counts(src, lines, line_nos, mode, expected: int | None, fmt_name: str) -> int:
    counts = _field_counts(lines, mode)
    sep = "tab-separated " if mode == "tab" else ""
    if expected is None:  # BED: at least 3, all lines like the first
        first = int(counts[0])
        if first < 3:
            raise InputError(
                f"{src}:{int(line_nos[0])}: found {first} {sep}column{'s' if first != 1 else ''}; "
                "BED needs at least 3 (chrom, start, end)",
                hint=None if mode == "tab" else "BED fields are separated by tabs",
            )
        bad = np.flatnonzero(counts != first)
        if bad.size:
            i = int(bad[0])
            raise InputError(
                f"{src}:{int(line_nos[i])}: found {int(counts[i])} {sep}columns but line {int(line_nos[0])} has "
                f"{first} (every line of a BED file needs the same columns)"
            )
        return first
    bad = np.flatnonzero(counts != expected)
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"{src}:{int(line_nos[i])}: expected {expected} {sep}columns ({fmt_name}), found {int(counts[i])}"
        )
    return expected


def _finish(df: pd.DataFrame, src: str, sizes, aliases, unknown: str) -> pd.DataFrame:
    if sizes is not None:
        sizes = _as_sizes(sizes)
        df = check_chroms(df, sizes, source=src, aliases=aliases, unknown=unknown)
        check_bounds(df, sizes, source=src)
    elif aliases is not None:
        if isinstance(aliases, str) and aliases.strip().lower() == "auto":
            raise ConfigError("aliases='auto' needs the genome's chromosome sizes (pass sizes=...)")
        df = _rename(df, parse_aliases(aliases))
    df = df.drop(columns="_line").reset_index(drop=True)
    df.attrs["source"] = src
    return df


def _empty(src: str):
    return InputError(
        f"{src}: contains no intervals", hint="is this the right file? header/comment lines are skipped"
    )


# ----------------------------------------------------------------------------------------------------
# readers
# ----------------------------------------------------------------------------------------------------


def read_bed(
    path: PathLike, *, sizes: SizesLike | None = None, aliases=None, unknown: str = "error"
) -> pd.DataFrame:
    """Read a BED3..BED6+ file (plain or gzip).

    Columns 1-6 become ``chrom, start, end, name, score, strand``; every further column is kept as text
    and named by its 1-based position (``extra_7``, ``extra_8``, ...). Every line must have the same number
    of columns. ``score`` may be ``.`` (read as NaN); ``strand`` must be ``+``, ``-`` or ``.``. With
    `sizes` (a dict or a chrom.sizes path) chromosome names are checked (and renamed with `aliases`, see
    `check_chroms`) and intervals must end within their chromosome.
    """
    src, text = _read_text(path)
    return _parse_bed(src, text, sizes, aliases, unknown)


def _parse_bed(src, text, sizes, aliases, unknown):
    lines = _data_lines(text)
    line_nos = lines.line_nos
    if not lines:
        raise _empty(src)
    mode = _split_mode(lines[0])
    n = _check_counts(src, lines, line_nos, mode, None, "BED")
    names = _BED_NAMES[:n] + [f"extra_{i}" for i in range(7, n + 1)]
    df = _parse_table(src, lines, line_nos, names)
    return _finish(df, src, sizes, aliases, unknown)


def read_narrowpeak(
    path: PathLike, *, sizes: SizesLike | None = None, aliases=None, unknown: str = "error"
) -> pd.DataFrame:
    """Read an ENCODE narrowPeak file (BED6+4, exactly 10 columns; plain or gzip).

    Returns ``chrom, start, end, name, score, strand, signal, p, q, summit`` where ``summit`` is the
    absolute 0-based position ``start + offset`` (column 10), or the centre ``(start + end) // 2`` when the
    offset is -1. An offset outside ``0 .. end-start-1`` is an error.
    """
    src, text = _read_text(path)
    return _parse_narrowpeak(src, text, sizes, aliases, unknown)


def _parse_narrowpeak(src, text, sizes, aliases, unknown):
    lines = _data_lines(text)
    line_nos = lines.line_nos
    if not lines:
        raise _empty(src)
    mode = _split_mode(lines[0])
    _check_counts(src, lines, line_nos, mode, 10, "narrowPeak")
    df = _parse_table(src, lines, line_nos, NARROWPEAK_COLUMNS)
    return _finish(df, src, sizes, aliases, unknown)


def read_summits(
    path: PathLike, *, sizes: SizesLike | None = None, aliases=None, unknown: str = "error"
) -> pd.DataFrame:
    """Read a list of positions, one ``chrom:position`` per line (plain or gzip).

    The rule: positions are **1-based, as genome browsers display them** (``chr1:1,000`` is the
    1000th base); thousands separators are allowed, nothing else may follow on the line, and the chromosome
    is everything before the last ``:``. Returns ``start = pos - 1`` (0-based), ``end = start + 1`` and
    ``summit = start``. Position 0, negative or non-integer positions are errors.
    """
    src, text = _read_text(path)
    return _parse_summits(src, text, sizes, aliases, unknown)


def _parse_summits(src, text, sizes, aliases, unknown):
    lines = _data_lines(text)
    line_nos = lines.line_nos
    if not lines:
        raise _empty(src)
    s = pd.Series(lines, dtype=str).str.strip()
    parts = s.str.rpartition(":")
    chrom, colon, pos = parts[0], parts[1], parts[2].str.replace(",", "", regex=False)
    probs = _Problems(src, line_nos)
    raw = s.to_numpy(dtype=object)
    shape_bad = ((colon != ":") | (chrom == "") | chrom.str.contains(r"\s", regex=True)).to_numpy(dtype=bool)
    probs.check(
        shape_bad,
        lambda i: (
            f"expected 'chrom:position' (e.g. chr1:12,345), found {raw[i]!r}",
            "positions are 1-based",
        ),
    )
    vals, bad = _int_column(pos)
    probs.check(bad & ~shape_bad, lambda i: (f"position in {raw[i]!r} is not an integer", None))
    probs.check(
        (vals < 1) & ~bad & ~shape_bad,
        lambda i: (
            f"position {vals[i]} in {raw[i]!r} is not valid: positions are 1-based (first base is 1)",
            None,
        ),
    )
    probs.raise_first()
    start = vals - 1
    df = pd.DataFrame(
        {"chrom": chrom.astype(str).to_numpy(), "start": start, "end": start + 1, "summit": start}
    )
    df["_line"] = line_nos
    df.attrs["source"] = src
    return _finish(df, src, sizes, aliases, unknown)


def read_peaks(path: PathLike, *, format: str | None = None, **kw) -> pd.DataFrame:  # noqa: A002
    """Read peaks in whichever format the file has.

    ``*.narrowPeak`` / ``*.narrowPeak.gz`` (any case) -> `read_narrowpeak`; a first record that looks like
    ``chrom:position`` -> `read_summits`; anything else -> `read_bed`. ``format`` ('bed', 'narrowpeak',
    'summits') forces one (ENCODE names narrowPeak downloads ``*.bed.gz``). Other keywords go to the reader.
    """
    src, text = _read_text(path)
    sizes, aliases, unknown = kw.pop("sizes", None), kw.pop("aliases", None), kw.pop("unknown", "error")
    if kw:
        raise TypeError(f"read_peaks() got unexpected keyword(s): {', '.join(kw)}")
    if format is None:
        low = Path(src).name.lower()
        if low.endswith((".narrowpeak", ".narrowpeak.gz", ".narrowpeak.bgz")):
            format = "narrowpeak"
        else:
            cut = text.find("\n", 65536)
            lines = _data_lines(text if cut < 0 else text[:cut])
            first = lines[0].strip() if lines else ""
            format = "summits" if _SUMMIT_RE.match(first) else "bed"
    fmt = format.lower().replace("_", "")
    parser = {"bed": _parse_bed, "narrowpeak": _parse_narrowpeak, "summits": _parse_summits}.get(fmt)
    if parser is None:
        raise ConfigError(f"unknown peak format {format!r}", hint="use one of: bed, narrowpeak, summits")
    return parser(src, text, sizes, aliases, unknown)


def sizes_from_file(path: PathLike) -> dict[str, int]:
    """Read a chrom.sizes file (``name<TAB>length`` per line; a FASTA ``.fai`` works too: extra columns
    are ignored). Lengths must be positive integers and names unique. Returns a dict in file order."""
    src, text = _read_text(path)
    lines = _data_lines(text)
    line_nos = lines.line_nos
    if not lines:
        raise InputError(f"{src}: contains no chromosomes")
    out: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for ln, no in zip(lines, line_nos.tolist(), strict=True):
        f = ln.split("\t") if "\t" in ln else ln.split()
        if len(f) < 2:
            raise InputError(f"{src}:{no}: expected 'name<TAB>length', found {ln!r}")
        name, length = f[0].strip(), f[1].strip()
        if not name:
            raise InputError(f"{src}:{no}: the chromosome name is empty")
        if not re.fullmatch(r"[0-9]+", length) or int(length) <= 0:
            raise InputError(f"{src}:{no}: length {length!r} of {name} is not a positive integer")
        if name in out:
            raise InputError(
                f"{src}:{no}: chromosome {name!r} is listed twice (first on line {first_line[name]})"
            )
        out[name] = int(length)
        first_line[name] = no
    return out


def _as_sizes(sizes: SizesLike) -> dict[str, int]:
    if isinstance(sizes, (str, os.PathLike)):
        return sizes_from_file(sizes)
    if isinstance(sizes, Mapping):
        return sizes if isinstance(sizes, dict) else dict(sizes)
    if hasattr(sizes, "sizes"):  # a Genome-like object
        return dict(sizes.sizes)
    raise TypeError(
        f"sizes must be a dict of chromosome lengths or a chrom.sizes path, not {type(sizes).__name__}"
    )


# ----------------------------------------------------------------------------------------------------
# writers
# ----------------------------------------------------------------------------------------------------


def _to_text_columns(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Float columns as text: integral values without '.0', others by repr (round-trips), NaN as '.'."""
    out = pd.DataFrame(index=range(len(df)))
    for c in cols:
        v = df[c]
        if pd.api.types.is_float_dtype(v):
            arr = v.to_numpy(dtype=np.float64, na_value=np.nan)
            integral = np.isfinite(arr) & (np.abs(arr) < 2**53)
            integral[integral] = arr[integral] == np.round(arr[integral])
            if integral.all():
                out[c] = arr.astype(np.int64)
                continue
            txt = np.array([repr(x) for x in arr.tolist()], dtype=object)
            txt[integral] = arr[integral].astype(np.int64).astype(str)
            txt[np.isnan(arr)] = "."
            out[c] = txt
        else:
            out[c] = v.to_numpy()
    return out


def _write_table(table: pd.DataFrame, path: PathLike) -> None:
    """Atomic write; gzip (no file name, mtime 0: same bytes every time) when `path` ends in .gz."""
    text = table.to_csv(sep="\t", header=False, index=False, lineterminator="\n", quoting=csv.QUOTE_NONE)
    data = text.encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if str(path).lower().endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
                gz.write(data)
        else:
            fh.write(data)


def write_bed(df: pd.DataFrame, path: PathLike, *, columns: list[str] | None = None) -> None:
    """Write regions as BED, atomically (gzip when `path` ends in .gz; byte-identical on rewrite).

    Without `columns`: BED3, or BED6 when any of ``name``, ``score``, ``strand`` is present (missing ones
    are written as ``.``, ``0``, ``.``). With `columns`: exactly those columns in that order (the first
    three should be chrom, start, end). Integral float columns are written as integers, NaN as ``.``.
    """
    _require(df, ("chrom", "start", "end"), "write_bed")
    if columns is None:
        if any(c in df.columns for c in ("name", "score", "strand")):
            df = df.copy()
            if "name" not in df.columns:
                df["name"] = "."
            if "score" not in df.columns:
                df["score"] = 0
            if "strand" not in df.columns:
                df["strand"] = "."
            columns = list(_BED_NAMES)
        else:
            columns = ["chrom", "start", "end"]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"write_bed: columns not in the frame: {', '.join(missing)}")
    _write_table(_to_text_columns(df, list(columns)), path)


def write_narrowpeak(df: pd.DataFrame, path: PathLike) -> None:
    """Write regions as narrowPeak (10 columns), atomically; gzip when `path` ends in .gz.

    ``summit`` (absolute) is written back as the offset ``summit - start``, -1 when there is no summit
    column or the value is missing. Missing name/score/strand/signal/p/q are written as ``.``, 0, ``.``,
    -1, -1, -1. A summit outside its interval raises ValueError (a bug upstream, not a format choice).
    """
    _require(df, ("chrom", "start", "end"), "write_narrowpeak")
    n = len(df)
    t = pd.DataFrame(index=range(n))
    t["chrom"] = df["chrom"].to_numpy()
    start = df["start"].to_numpy(dtype=np.int64)
    end = df["end"].to_numpy(dtype=np.int64)
    t["start"], t["end"] = start, end
    t["name"] = df["name"].to_numpy() if "name" in df.columns else "."
    t["score"] = df["score"].to_numpy() if "score" in df.columns else 0
    t["strand"] = df["strand"].to_numpy() if "strand" in df.columns else "."
    for c in ("signal", "p", "q"):
        t[c] = df[c].to_numpy(dtype=np.float64) if c in df.columns else -1.0
    if "summit" in df.columns:
        s = pd.to_numeric(df["summit"]).to_numpy(dtype=np.float64, na_value=np.nan)
        has = ~np.isnan(s) & (s >= 0)
        off = np.full(n, -1, dtype=np.int64)
        off[has] = s[has].astype(np.int64) - start[has]
        bad = has & ((off < 0) | (off >= end - start))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"write_narrowpeak: row {i}: summit {int(s[i])} lies outside {t['chrom'][i]}:{start[i]}-{end[i]}"
            )
        t["peak"] = off
    else:
        t["peak"] = -1
    t = _to_text_columns(t, list(t.columns))
    t["peak"] = t["peak"].astype(np.int64)
    _write_table(t, path)


def _require(df: pd.DataFrame, cols, who: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"{who}: the regions frame lacks column(s) {', '.join(missing)}")


# ----------------------------------------------------------------------------------------------------
# chromosome names and bounds
# ----------------------------------------------------------------------------------------------------

_MITO = ("chrM", "chrMT", "MT", "M", "chrMito", "Mito", "mito", "mitochondrion")
_ROMAN = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X",
    "XI", "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX",
]  # fmt: skip


def parse_aliases(aliases) -> dict[str, str] | str | None:
    """Normalise an `aliases` argument: None, 'auto', a dict, or text ``"1=chr1,MT=chrM"``."""
    if aliases is None or isinstance(aliases, Mapping):
        return None if aliases is None else {str(k): str(v) for k, v in aliases.items()}
    if isinstance(aliases, str):
        text = aliases.strip()
        if text.lower() == "auto":
            return "auto"
        out = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            if part.count("=") != 1 or not all(x.strip() for x in part.split("=")):
                raise ConfigError(
                    f"chromosome alias {part!r} is not 'from=to'",
                    hint="use auto, or e.g. 1=chr1,2=chr2,MT=chrM",
                )
            a, b = part.split("=")
            out[a.strip()] = b.strip()
        return out
    raise ConfigError(
        f"chromosome aliases must be 'auto', a dict or 'from=to,...' text, not {type(aliases).__name__}"
    )


def _auto_target(name: str, genome: Mapping[str, int]) -> tuple[str | None, str | None]:
    """(renamed name, kind of style difference) or (None, None)."""
    if name in genome:
        return name, None
    if name in _MITO:
        for m in _MITO:
            if m in genome:
                return m, "mito"
    bare = name[3:] if name.startswith("chr") else name
    if name.startswith("chr") and bare in genome:
        return bare, "nochr"
    if not name.startswith("chr") and "chr" + name in genome:
        return "chr" + name, "chr"
    roman_genome = ("chrII" in genome or "II" in genome) and not ("chr2" in genome or "2" in genome)
    if roman_genome and bare.isdigit() and 1 <= int(bare) <= len(_ROMAN):
        r = _ROMAN[int(bare) - 1]
        for cand in ("chr" + r, r):
            if cand in genome:
                return cand, "roman"
    return None, None


def _style_message(name: str, genome: Mapping[str, int]) -> tuple[str, str]:
    """(note in parentheses, hint) explaining why `name` is not in the genome."""
    names = list(genome)
    target, kind = _auto_target(name, genome)
    if kind == "chr":
        ex = [n for n in names if n.startswith("chr")][:2]
        return (
            f"genome uses 'chr' prefixes: {', '.join(ex)}, ...",
            f"pass --chrom-alias auto (or {name}={target},...) to rename",
        )
    if kind == "nochr":
        ex = [n for n in names if not n.startswith("chr")][:2]
        return (
            f"genome has no 'chr' prefixes: {', '.join(ex)}, ...",
            f"pass --chrom-alias auto (or {name}={target},...) to rename",
        )
    if kind == "mito":
        return (
            f"genome calls the mitochondrial chromosome '{target}'",
            f"pass --chrom-alias auto (or {name}={target}) to rename",
        )
    if kind == "roman":
        ex = [n for n in names if n.removeprefix("chr") in _ROMAN][:3]
        return (
            f"genome numbers chromosomes in Roman numerals: {', '.join(ex)}, ...",
            f"pass --chrom-alias auto (or {name}={target},...) to rename",
        )
    lower = {n.lower(): n for n in names}
    if name.lower() in lower:
        t = lower[name.lower()]
        return (f"genome has '{t}' (different case)", f"pass --chrom-alias {name}={t} to rename")
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (
        f"genome has {len(names)} chromosome{'s' if len(names) != 1 else ''}: {shown}",
        "check that the file and the genome are the same assembly, or drop intervals on chromosomes the genome lacks",
    )


def _rename(df: pd.DataFrame, mapping: Mapping[str, str] | None) -> pd.DataFrame:
    if not mapping:
        return df
    codes, uniques = pd.factorize(df["chrom"], sort=False)
    new = np.asarray([mapping.get(u, u) for u in uniques], dtype=object)
    if all(a == b for a, b in zip(uniques, new, strict=True)):
        return df
    out = df.copy()
    out["chrom"] = pd.array(new[codes], dtype=str)
    return out


def check_chroms(
    df: pd.DataFrame,
    sizes: SizesLike,
    *,
    source: str | None = None,
    aliases=None,
    unknown: str = "error",
) -> pd.DataFrame:
    """Check (and optionally rename) chromosome names against the genome; return the frame.

    `aliases`: None (no renaming), ``'auto'`` (rename by naming style: ``1``<->``chr1``, ``MT``/``M``/
    ``chrMT``<->``chrM``, and ``chr1``->``chrI`` for genomes numbered in Roman numerals like sacCer3), a dict
    ``{old: new}`` or the text ``"1=chr1,MT=chrM"``. `unknown`: ``'error'`` raises `ChromosomeError` naming
    the first unknown chromosome (``source:line`` when the frame has a ``_line`` column) with a note when
    the naming style differs; ``'drop'`` silently removes intervals on unknown chromosomes.
    `source` defaults to ``df.attrs['source']`` or ``'<regions>'``.
    """
    sizes = _as_sizes(sizes)
    if source is None:
        source = df.attrs.get("source", "<regions>")
    if unknown not in ("error", "drop"):
        raise ConfigError(f"unknown={unknown!r} is not valid", hint="use 'error' or 'drop'")
    alias = parse_aliases(aliases)
    original = df["chrom"]
    renamed_from: dict[str, str] = {}
    if alias == "auto":
        uniq = pd.unique(original)
        mapping = {}
        for u in uniq:
            t, _ = _auto_target(str(u), sizes)
            if t is not None and t != u:
                mapping[str(u)] = t
        df = _rename(df, mapping)
        renamed_from = {v: k for k, v in mapping.items()}
    elif alias:
        df = _rename(df, alias)
        renamed_from = {v: k for k, v in alias.items()}
    chrom = df["chrom"]
    known = chrom.isin(list(sizes)).to_numpy(dtype=bool) if len(sizes) else np.zeros(len(df), dtype=bool)
    if known.all():
        return df
    if unknown == "drop":
        out = df.loc[known].reset_index(drop=True)
        out.attrs = dict(df.attrs)
        return out
    i = int(np.flatnonzero(~known)[0])
    name = str(chrom.iloc[i])
    where = f"{source}:{int(df['_line'].iloc[i])}" if "_line" in df.columns else str(source)
    bad_names = pd.unique(chrom[~known])
    if name in renamed_from and renamed_from[name] != name and str(original.iloc[i]) != name:
        note, hint = _style_message(name, sizes)
        msg = (
            f"{where}: chromosome '{name}' (renamed from '{original.iloc[i]}') is not in the genome ({note})"
        )
    else:
        note, hint = _style_message(name, sizes)
        msg = f"{where}: chromosome '{name}' is not in the genome ({note})"
    if len(bad_names) > 1:
        more = ", ".join(map(str, bad_names[1:6])) + (", ..." if len(bad_names) > 6 else "")
        hint = f"{hint}; other unknown chromosomes: {more}"
    raise ChromosomeError(msg, hint=hint)


def check_bounds(df: pd.DataFrame, sizes: SizesLike, *, source: str | None = None) -> None:
    """Raise `ChromosomeError` for the first interval that starts below 0, has start > end, or ends past
    the end of its chromosome (``source:line`` when the frame has a ``_line`` column)."""
    sizes = _as_sizes(sizes)
    if source is None:
        source = df.attrs.get("source", "<regions>")
    if len(df) == 0:
        return
    chrom = df["chrom"]
    size = chrom.map(sizes)
    if size.isna().any():
        check_chroms(df, sizes, source=source)
    size = size.to_numpy(dtype=np.int64)
    start = df["start"].to_numpy(dtype=np.int64)
    end = df["end"].to_numpy(dtype=np.int64)
    bad = (end > size) | (start < 0) | (start > end)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    where = f"{source}:{int(df['_line'].iloc[i])}" if "_line" in df.columns else str(source)
    c = chrom.iloc[i]
    iv = f"{c}:{start[i]}-{end[i]}"
    if start[i] < 0:
        raise ChromosomeError(f"{where}: interval {iv} starts before 0")
    if start[i] > end[i]:
        raise ChromosomeError(f"{where}: interval {iv} has start greater than end")
    raise ChromosomeError(
        f"{where}: interval {iv} ends past the end of {c} ({size[i]} bp)",
        hint="is the file for the same genome assembly as the genome?",
    )


# ----------------------------------------------------------------------------------------------------
# interval arithmetic (single sorted key space: code * 2**40 + position)
# ----------------------------------------------------------------------------------------------------


def _coords(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    s = df["start"].to_numpy(dtype=np.int64)
    e = df["end"].to_numpy(dtype=np.int64)
    return s, e


def _factorize(chroms) -> tuple[np.ndarray, pd.Index]:
    if not isinstance(chroms, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray, np.ndarray)):
        chroms = np.asarray(chroms, dtype=object)
    codes, uniques = pd.factorize(chroms, sort=False)
    return codes.astype(np.int64), pd.Index(uniques)


def _codes(ref_chroms, other_chroms=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer chromosome codes for `ref` (order of first appearance) and `other` (same codes; names
    absent from ref get a code past all of ref's, where ref has no intervals)."""
    codes, uniques = _factorize(ref_chroms)
    if other_chroms is None:
        return codes, None
    ocodes, ouniq = _factorize(other_chroms)
    lut = uniques.get_indexer(ouniq).astype(np.int64)  # small: one entry per distinct name
    lut[lut < 0] = len(uniques)
    return codes, lut[ocodes]


def _keys(codes: np.ndarray, pos: np.ndarray) -> np.ndarray:
    if pos.size and (np.abs(pos).max() >= _MAX_COORD):
        raise ValueError(f"coordinates must be below {_MAX_COORD}")
    return codes * _SHIFT + pos


def _count(a: pd.DataFrame, b: pd.DataFrame, margin: int = 0) -> np.ndarray:
    """Number of b intervals with b.start - margin < a.end and a.start < b.end + margin."""
    margin = int(margin)
    if margin < 0 or margin >= _MAX_COORD:
        raise ValueError("margin must be >= 0")
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(b) == 0:
        return np.zeros(len(a), dtype=np.int64)
    bc, ac = _codes(b["chrom"], a["chrom"])
    bs, be = _coords(b)
    as_, ae = _coords(a)
    kbs = np.sort(_keys(bc, bs - margin))
    kbe = np.sort(_keys(bc, be + margin))
    kas, kae = _keys(ac, as_), _keys(ac, ae)
    n = np.searchsorted(kbs, kae, side="left") - np.searchsorted(kbe, kas, side="right")
    if margin == 0:
        # both empty at the same point: counted in the subtracted term only; add it back
        a_empty = kas == kae
        b_empty = bs == be
        if a_empty.any() and b_empty.any():
            k0 = np.sort(_keys(bc[b_empty], bs[b_empty]))
            x = kas[a_empty]
            n[a_empty] += np.searchsorted(k0, x, side="right") - np.searchsorted(k0, x, side="left")
    return n.astype(np.int64)


def count_overlaps(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """For each interval of `a`, how many intervals of `b` overlap it (int64 array, len(a))."""
    return _count(a, b, 0)


def overlaps_any(a: pd.DataFrame, b: pd.DataFrame, *, margin: int = 0) -> np.ndarray:
    """Bool array (len(a)): a[i] overlaps some interval of `b` extended by `margin` bp on both sides."""
    return _count(a, b, margin) > 0


def _point_keys(chroms, positions, n_hint=None):
    pos = np.asarray(positions, dtype=np.int64).ravel()
    if isinstance(chroms, str):
        chroms = np.full(pos.shape[0], chroms, dtype=object)
    if not isinstance(chroms, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray, np.ndarray)):
        chroms = np.asarray(chroms, dtype=object)
    if isinstance(chroms, np.ndarray):
        chroms = chroms.ravel()
    if len(chroms) != pos.shape[0]:
        raise ValueError(f"{len(chroms)} chromosome names but {pos.shape[0]} positions")
    return chroms, pos


def contains_points(a: pd.DataFrame, chroms, positions) -> np.ndarray:
    """Bool array (len(a)): a[i] contains at least one point (a.start <= pos < a.end, same chromosome).

    `chroms` is an array of names (or one name for all) and `positions` 0-based positions."""
    chroms, pos = _point_keys(chroms, positions)
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    if pos.size == 0:
        return np.zeros(len(a), dtype=bool)
    pc, ac = _codes(chroms, a["chrom"])
    kp = np.sort(_keys(pc, pos))
    as_, ae = _coords(a)
    n = np.searchsorted(kp, _keys(ac, ae), side="left") - np.searchsorted(kp, _keys(ac, as_), side="left")
    return n > 0


def points_in(a: pd.DataFrame, chroms, positions) -> np.ndarray:
    """Bool array (len(points)): point j lies in some interval of `a` (a.start <= pos < a.end)."""
    chroms, pos = _point_keys(chroms, positions)
    if pos.size == 0:
        return np.zeros(0, dtype=bool)
    if len(a) == 0:
        return np.zeros(pos.size, dtype=bool)
    ac, pc = _codes(a["chrom"], chroms)
    as_, ae = _coords(a)
    # one binary search per point, into the (smaller) disjoint union of `a`
    mc, ms, me = _merged_keys(ac, as_, ae, 0)
    KS, KE = _keys(mc, ms), _keys(mc, me)
    kp = _keys(pc, pos)
    k = np.searchsorted(KE, kp, side="right")  # first cluster ending after the point
    inside = k < len(KE)
    inside[inside] = KS[k[inside]] <= kp[inside]
    return inside


def _merged_keys(codes, s, e, gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge intervals (codes/start/end arrays); returns (codes, starts, ends) of the clusters, sorted.

    Uses only sorted starts S and sorted ends E (two plain sorts, no argsort): start i opens a new cluster
    exactly when all i intervals starting before it have ended more than `gap` bp earlier, i.e. when
    #{E + gap < S[i]} == i; a cluster ending before start k ends at E[k - 1]."""
    if len(s) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    S = np.sort(_keys(codes, s))
    E = np.sort(_keys(codes, e + gap))
    i = np.arange(len(S))
    first = np.flatnonzero(np.searchsorted(E, S, side="left") == i)
    ks = S[first]
    ke = E[np.append(first[1:] - 1, len(E) - 1)]
    c = ks // _SHIFT
    return c, ks - c * _SHIFT, ke - c * _SHIFT - gap


def merge(df: pd.DataFrame, *, gap: int = 0) -> pd.DataFrame:
    """Merge intervals that overlap, touch (bookended) or lie at most `gap` bp apart, per chromosome.

    Returns a new frame with only ``chrom, start, end``, chromosomes in order of first appearance and
    intervals sorted by start (like ``bedtools merge -d gap`` on sorted input)."""
    gap = int(gap)
    if gap < 0:
        raise ValueError("gap must be >= 0")
    if len(df) == 0:
        return pd.DataFrame(
            {"chrom": pd.Series([], dtype=str), "start": np.zeros(0, np.int64), "end": np.zeros(0, np.int64)}
        )
    codes, uniques = pd.factorize(df["chrom"], sort=False)
    s, e = _coords(df)
    c, ms, me = _merged_keys(codes.astype(np.int64), s, e, gap)
    names = np.asarray(uniques, dtype=object)[c]
    return pd.DataFrame(
        {"chrom": pd.array(names, dtype=str), "start": ms.astype(np.int64), "end": me.astype(np.int64)}
    )


def subtract(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Remove from each interval of `a` the bases covered by `b` (``bedtools subtract`` semantics).

    An interval partly covered becomes one or more pieces (other columns copied, in `a`'s order); one
    fully covered disappears; one not overlapped is kept unchanged. Zero-length `b` intervals cover no
    bases. A ``summit`` that falls outside its piece is moved to the piece's centre. Index is reset."""
    if len(a) == 0 or len(b) == 0:
        return a.reset_index(drop=True).copy()
    bs, be = _coords(b)
    keep_b = be > bs
    bc, ac = _codes(b["chrom"][keep_b] if not keep_b.all() else b["chrom"], a["chrom"])
    if not keep_b.all():
        bs, be = bs[keep_b], be[keep_b]
    if len(bs) == 0:
        return a.reset_index(drop=True).copy()
    mc, ms, me = _merged_keys(bc, bs, be, 0)
    KS, KE = _keys(mc, ms), _keys(mc, me)
    as_, ae = _coords(a)
    kas, kae = _keys(ac, as_), _keys(ac, ae)
    k0 = np.searchsorted(KE, kas, side="right")  # first cluster ending after a.start
    k1 = np.searchsorted(KS, kae, side="left")  # first cluster starting at/after a.end
    c = np.maximum(k1 - k0, 0)
    npieces = c + 1
    row = np.repeat(np.arange(len(a)), npieces)
    first = np.cumsum(npieces) - npieces
    j = np.arange(row.size) - np.repeat(first, npieces)  # piece number within its row
    cr, k0r = c[row], k0[row]
    ps = np.where(j == 0, as_[row], me[np.clip(k0r + j - 1, 0, len(me) - 1)])
    pe = np.where(j == cr, ae[row], ms[np.clip(k0r + j, 0, len(ms) - 1)])
    ok = (pe > ps) | (cr == 0)
    row, ps, pe = row[ok], ps[ok], pe[ok]
    out = a.iloc[row].reset_index(drop=True).copy()
    out["start"] = ps.astype(np.int64)
    out["end"] = pe.astype(np.int64)
    if "summit" in out.columns:
        sm = pd.to_numeric(out["summit"]).to_numpy(dtype=np.float64, na_value=np.nan)
        outside = ~np.isnan(sm) & ((sm < ps) | (sm >= pe)) & (pe > ps)
        if outside.any():
            sm[outside] = (ps[outside] + pe[outside]) // 2
            out["summit"] = sm.astype(np.int64) if not np.isnan(sm).any() else pd.array(sm, dtype="Int64")
    out.attrs = dict(a.attrs)
    return out


def remove_overlapping(a: pd.DataFrame, b: pd.DataFrame, *, margin: int = 0) -> pd.DataFrame:
    """Drop whole intervals of `a` that overlap `b` extended by `margin` (blacklist filtering, like
    ``bedtools subtract -A``); index is reset."""
    keep = ~overlaps_any(a, b, margin=margin)
    out = a.loc[keep].reset_index(drop=True)
    out.attrs = dict(a.attrs)
    return out


def window(df: pd.DataFrame, length: int, *, anchor: str = "summit") -> pd.DataFrame:
    """Fixed-length windows: new ``start, end`` of `length` bp around the anchor, other columns kept.

    ``anchor='summit'`` uses the ``summit`` column where present and valid (not missing, >= 0), else the
    centre ``(start + end) // 2``; ``anchor='center'`` always the centre. The window is
    ``[anchor - length // 2, anchor - length // 2 + length)``, so the anchor is at offset ``length // 2``.
    Starts may become negative or ends pass the chromosome end: follow with `clip`."""
    if anchor not in ("summit", "center", "centre"):
        raise ConfigError(f"window anchor {anchor!r} is not valid", hint="use 'summit' or 'center'")
    length = int(length)
    if length <= 0:
        raise ConfigError(f"window length must be positive, got {length}")
    s, e = _coords(df)
    centre = (s + e) // 2
    if anchor == "summit" and "summit" in df.columns:
        sm = pd.to_numeric(df["summit"]).to_numpy(dtype=np.float64, na_value=np.nan)
        valid = ~np.isnan(sm) & (sm >= 0)
        centre = np.where(valid, np.nan_to_num(sm, nan=0).astype(np.int64), centre)
    out = df.copy()
    out["start"] = (centre - length // 2).astype(np.int64)
    out["end"] = out["start"].to_numpy() + length
    return out


def clip(df: pd.DataFrame, sizes: SizesLike, *, drop: bool = False) -> pd.DataFrame:
    """Keep intervals within ``[0, chromosome size)``.

    ``drop=False`` clips start/end to the chromosome and removes intervals left with nothing inside it;
    ``drop=True`` removes every interval that does not fit entirely (keeps window lengths intact).
    Unknown chromosomes raise `ChromosomeError`. Index is reset."""
    sizes = _as_sizes(sizes)
    size = df["chrom"].map(sizes)
    if size.isna().any():
        check_chroms(df, sizes)
    size = size.to_numpy(dtype=np.int64)
    s, e = _coords(df)
    if drop:
        out = df.loc[(s >= 0) & (e <= size)].reset_index(drop=True)
    else:
        ns, ne = np.clip(s, 0, size), np.clip(e, 0, size)
        keep = (ne > ns) | ((s == e) & (ns == s))
        out = df.copy()
        out["start"], out["end"] = ns, ne
        out = out.loc[keep].reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out

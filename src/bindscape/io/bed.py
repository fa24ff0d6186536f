"""BED, narrowPeak and summit files: readers with validation, and writers.

Regions are plain pandas DataFrames (see DESIGN.md, "Regions") with ``chrom`` (str), ``start`` and ``end``
(int64, 0-based, half-open) plus optional ``name`` (str), ``score`` (float64), ``strand`` ('+', '-', '.'),
``summit`` (int64, an ABSOLUTE 0-based genome position) and narrowPeak's ``signal``, ``p`` and ``q``
(float64). Every reader validates its input and reports problems as ``path:line: what is wrong`` with a
`bindscape.errors.InputError` (or `ChromosomeError` for names/coordinates that do not fit the genome, see
`bindscape.io.chroms`).

Files are read whole (peak files are small; `bindscape.io.textfile`), gzip/bgzip is recognised by its
magic bytes (not by name), ``track``/``browser``/``#`` lines and blank lines are skipped, and the 1-based
source line of every record is kept in a ``_line`` column while validating; the returned frames do not
have it (``df.attrs['source']`` keeps the path). Parsing uses ``pandas.read_csv`` with explicit dtypes;
only when that fails are the columns re-read as text and checked vectorially to find and report the first
bad line. Fields are tab-separated; a file whose first record contains no tab is split on runs of
whitespace.

Writers are atomic (temp file + rename) and byte-identical on rewrite (gzip without name or mtime).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape._util import atomic_path
from bindscape.errors import ConfigError, InputError
from bindscape.io.chroms import SizesLike, as_sizes, check_bounds, check_chroms, parse_aliases, rename_chroms
from bindscape.io.textfile import DataLines, data_lines, read_text

__all__ = [
    "NARROWPEAK_COLUMNS",
    "read_bed",
    "read_narrowpeak",
    "read_peaks",
    "read_summits",
    "write_bed",
    "write_narrowpeak",
]

PathLike = str | os.PathLike

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
# parsing and validation
# ----------------------------------------------------------------------------------------------------


def _split_mode(first: str) -> str:
    return "tab" if "\t" in first else "ws"


def _field_counts(lines: DataLines, mode: str) -> np.ndarray:
    if mode == "tab":  # count tabs per line on the bytes, vectorised
        buf = np.frombuffer(lines.joined.encode("utf-8"), dtype=np.uint8)
        nl = np.flatnonzero(buf == 10)
        tabs = np.flatnonzero(buf == 9)
        return np.bincount(np.searchsorted(nl, tabs), minlength=len(lines)).astype(np.int64) + 1
    return np.fromiter((len(ln.split()) for ln in lines), dtype=np.int64, count=len(lines))


def _read_csv(lines: DataLines, mode: str, names: list[str], dtype) -> pd.DataFrame:
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
    ok = s.str.fullmatch(r"[+-]?[0-9]+").to_numpy(dtype=bool).copy()  # writable: cleared below for huge values
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


def _parse_table(src: str, lines: DataLines, line_nos: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Parse data lines into a typed, validated frame with a `_line` column."""
    kinds = [_KINDS.get(n, "str") for n in names]
    df, typed = _read_typed(lines, names, kinds)
    probs = _Problems(src, line_nos)
    cols = _column_values(df, names, kinds, typed, probs)
    _check_records(cols, probs)
    probs.raise_first()
    return _assemble(cols, names, kinds, line_nos, src)


def _read_typed(lines: DataLines, names: list[str], kinds: list[str]) -> tuple[pd.DataFrame, bool]:
    """(frame, typed): read with the columns' dtypes, or all as text (typed=False) when that fails."""
    mode = _split_mode(lines[0])
    dtype = {}
    for n, k in zip(names, kinds, strict=True):
        dtype[n] = {"int": "int64", "float": "float64", "score": "float64"}.get(k, str)
    try:
        df = _read_csv(lines, mode, names, dtype)
        if len(df) != len(lines):  # pragma: no cover - defensive
            raise ValueError("row count mismatch")
        return df, True
    except (ValueError, OverflowError, pd.errors.ParserError):
        return _read_csv(lines, mode, names, str), False


def _column_values(df: pd.DataFrame, names, kinds, typed: bool, probs: _Problems) -> dict[str, np.ndarray]:
    """Numeric columns as arrays (text ones converted, noting values that are not numbers); others as is."""
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
    return cols


def _check_records(cols: dict, probs: _Problems) -> None:
    """Note empty chromosome names, bad coordinates, strands and narrowPeak summit offsets."""
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


def _assemble(cols: dict, names, kinds, line_nos: np.ndarray, src: str) -> pd.DataFrame:
    """The regions frame (narrowPeak's offset becomes an absolute ``summit``) with its `_line` column."""
    start, end = cols["start"], cols["end"]
    out = pd.DataFrame({"chrom": cols["chrom"].astype(str)})
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
        sizes = as_sizes(sizes)
        df = check_chroms(df, sizes, source=src, aliases=aliases, unknown=unknown)
        check_bounds(df, sizes, source=src)
    elif aliases is not None:
        if isinstance(aliases, str) and aliases.strip().lower() == "auto":
            raise ConfigError("aliases='auto' needs the genome's chromosome sizes (pass sizes=...)")
        df = rename_chroms(df, parse_aliases(aliases))
    df = df.drop(columns="_line").reset_index(drop=True)
    df.attrs["source"] = src
    return df


def _records(src: str, text: str) -> DataLines:
    """The data lines of `text`; a file without any is an error."""
    lines = data_lines(text)
    if not lines:
        raise InputError(
            f"{src}: contains no intervals", hint="is this the right file? header/comment lines are skipped"
        )
    return lines


# ----------------------------------------------------------------------------------------------------
# readers
# ----------------------------------------------------------------------------------------------------


def read_bed(
    path: PathLike, *, sizes: SizesLike | None = None, aliases=None, unknown: str = "error"
) -> pd.DataFrame:
    """Read a BED3..BED6+ file (plain or gzip).

    Columns 1-6 become ``chrom, start, end, name, score, strand``; every further column is kept as text
    and named by its 1-based position (``extra_7``, ``extra_8``, ...). Every line must have the same number
    of columns. ``score`` may be ``.`` (read as NaN); ``strand`` must be ``+``, ``-`` or ``.``.

    Parameters
    ----------
    path
        The BED file (plain or gzip/bgzip).
    sizes, aliases, unknown
        Chromosome checks and renaming, as in `read_peaks`.

    Returns
    -------
    pandas.DataFrame
        The intervals; ``.attrs['source']`` is the path.
    """
    return _parse_columns(read_text(path), sizes, aliases, unknown, expected=None)


def read_narrowpeak(
    path: PathLike, *, sizes: SizesLike | None = None, aliases=None, unknown: str = "error"
) -> pd.DataFrame:
    """Read an ENCODE narrowPeak file (BED6+4, exactly 10 columns; plain or gzip).

    ``summit`` is the absolute 0-based position ``start + offset`` (column 10), or the centre
    ``(start + end) // 2`` when the offset is -1. An offset outside ``0 .. end-start-1`` is an error.

    Parameters
    ----------
    path, sizes, aliases, unknown
        As in `read_bed`; every line must have exactly 10 columns.

    Returns
    -------
    pandas.DataFrame
        One row per line: ``chrom, start, end, name, score, strand, signal, p, q, summit``.
    """
    return _parse_columns(read_text(path), sizes, aliases, unknown, expected=10)


def _parse_columns(source: tuple[str, str], sizes, aliases, unknown, *, expected: int | None) -> pd.DataFrame:
    """Parse a BED (`expected` None: 3+ columns) or narrowPeak (`expected` 10) text."""
    src, text = source
    lines = _records(src, text)
    mode = _split_mode(lines[0])
    if expected is None:
        n = _check_counts(src, lines, lines.line_nos, mode, None, "BED")
        names = _BED_NAMES[:n] + [f"extra_{i}" for i in range(7, n + 1)]
    else:
        _check_counts(src, lines, lines.line_nos, mode, expected, "narrowPeak")
        names = NARROWPEAK_COLUMNS
    df = _parse_table(src, lines, lines.line_nos, names)
    return _finish(df, src, sizes, aliases, unknown)


def read_summits(
    path: PathLike, *, sizes: SizesLike | None = None, aliases=None, unknown: str = "error"
) -> pd.DataFrame:
    """Read a list of positions, one ``chrom:position`` per line (plain or gzip).

    The rule: positions are **1-based, as genome browsers display them** (``chr1:1,000`` is the
    1000th base); thousands separators are allowed, nothing else may follow on the line, and the chromosome
    is everything before the last ``:``. Position 0, negative or non-integer positions are errors.

    Parameters
    ----------
    path, sizes, aliases, unknown
        As in `read_bed`, with one position per line.

    Returns
    -------
    pandas.DataFrame
        One row per position: ``chrom, start, end, summit`` with ``start = pos - 1`` (0-based),
        ``end = start + 1`` and ``summit = start``.
    """
    return _parse_summits(read_text(path), sizes, aliases, unknown)


def _parse_summits(source: tuple[str, str], sizes, aliases, unknown) -> pd.DataFrame:
    src, text = source
    lines = _records(src, text)
    line_nos = lines.line_nos
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
    'summits') forces one (ENCODE names narrowPeak downloads ``*.bed.gz``).

    Parameters
    ----------
    path
        The file (plain or gzip/bgzip).
    format
        None (guess, as above), ``'bed'``, ``'narrowpeak'`` or ``'summits'``.
    **kw
        ``sizes`` (the genome's chromosome lengths: a dict or a chrom.sizes path; names are then checked
        and intervals must end within their chromosome), ``aliases`` (None, ``'auto'`` -- needs `sizes` --,
        a dict or ``"1=chr1,MT=chrM"`` text; see `bindscape.io.chroms.check_chroms`) and ``unknown``
        (``'error'`` or ``'drop'`` for intervals on chromosomes not in `sizes`).

    Returns
    -------
    pandas.DataFrame
        The regions; ``.attrs['source']`` is the path.
    """
    src, text = read_text(path)
    sizes, aliases, unknown = kw.pop("sizes", None), kw.pop("aliases", None), kw.pop("unknown", "error")
    if kw:
        raise TypeError(f"read_peaks() got unexpected keyword(s): {', '.join(kw)}")
    if format is None:
        low = Path(src).name.lower()
        if low.endswith((".narrowpeak", ".narrowpeak.gz", ".narrowpeak.bgz")):
            format = "narrowpeak"
        else:
            cut = text.find("\n", 65536)
            lines = data_lines(text if cut < 0 else text[:cut])
            first = lines[0].strip() if lines else ""
            format = "summits" if _SUMMIT_RE.match(first) else "bed"
    fmt = format.lower().replace("_", "")
    if fmt not in ("bed", "narrowpeak", "summits"):
        raise ConfigError(f"unknown peak format {format!r}", hint="use one of: bed, narrowpeak, summits")
    if fmt == "summits":
        return _parse_summits((src, text), sizes, aliases, unknown)
    return _parse_columns((src, text), sizes, aliases, unknown, expected=10 if fmt == "narrowpeak" else None)


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

    Parameters
    ----------
    df
        The regions (``chrom, start, end`` at least).
    path
        The output file; ``.gz`` writes gzip.
    columns
        The columns to write, in order; default BED3 or BED6 as above.
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

    Parameters
    ----------
    df
        The regions (``chrom, start, end`` at least).
    path
        The output file; ``.gz`` writes gzip.
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

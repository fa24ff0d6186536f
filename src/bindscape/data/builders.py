"""Dataset builders: genome + peak files -> a labelled regions table (then `write_dataset`).

- ``peaks``: windows of length L centred on summits (or centres), one row per peak and condition, label 1;
  negatives come from a given table (and, later, from `bindscape.data.negatives` strategies).
- ``tiles``: the genome tiled with window L and stride S (MORALE: 500/450, 1000/950), blacklist removed,
  windows with too many N dropped; label 1 where the window covers a peak summit of that condition.
- ``bp``: windows around peaks (with a seeded random shift) plus optional peak-free background windows,
  with the bound stretches of each window stored as ``bound_starts``/``bound_ends`` (NetTIME).

Conditions are (tf, cell, species) triples; multi-condition datasets are in long format (one row per window
and condition). Everything is vectorised per chromosome so a 100 Mb genome tiles in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bindscape.data.splits import is_excluded
from bindscape.errors import ConfigError, InputError


@dataclass(frozen=True)
class Condition:
    """One TF x cell type x species experiment and its peak file."""

    tf: str
    cell: str | None = None
    species: str | None = None
    path: str | None = None

    @property
    def key(self) -> str:
        """``species/tf/cell`` with the missing parts left out (e.g. ``CTCF/GM12878``)."""
        return "/".join(x for x in (self.species, self.tf, self.cell) if x)


@dataclass
class BuildResult:
    regions: pd.DataFrame
    params: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def parse_condition(arg: str, species: str | None = None) -> Condition:
    """Parse ``TF=PATH`` or ``TF:CELL=PATH`` (the CLI's ``--peaks`` values).

    Parameters
    ----------
    arg
        The ``--peaks`` value.
    species
        Species recorded in the condition (None: none).

    Returns
    -------
    Condition
    """
    name, sep, path = arg.partition("=")
    if not sep or not name or not path:
        raise ConfigError(
            f"--peaks expects NAME=PATH (e.g. Reb1=peaks.bed or CTCF:GM12878=ctcf.narrowPeak), got {arg!r}"
        )
    tf, _, cell = name.partition(":")
    if not tf:
        raise ConfigError(f"--peaks {arg!r}: the TF name before '=' is empty")
    return Condition(tf=tf, cell=cell or None, species=species, path=path)


def read_conditions(
    conditions: list[Condition], genome, *, aliases=None
) -> dict[Condition, pd.DataFrame]:
    """Read each condition's peak file, validated against the genome (names, bounds).

    Parameters
    ----------
    conditions
        Conditions with peak files; each key only once.
    genome
        The genome the peaks must fit (``sizes``).
    aliases
        Chromosome renaming, as in `bindscape.io.bed.read_peaks`.

    Returns
    -------
    dict[Condition, pandas.DataFrame]
        The peaks of each condition, in the given order.
    """
    from bindscape.io.bed import read_peaks

    keys = [c.key for c in conditions]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigError(f"condition given twice: {', '.join(dup)}", hint="give each TF[:CELL] one peak file")
    out = {}
    for cond in conditions:
        if cond.path is None:
            raise ConfigError(f"condition {cond.key} has no peak file")
        out[cond] = read_peaks(cond.path, sizes=genome.sizes, aliases=aliases)
    return out


def usable_chroms(genome, include_excluded: bool) -> list[str]:
    """The genome's chromosomes a dataset may use.

    Parameters
    ----------
    genome
        A `Genome` (or anything with ``chroms``).
    include_excluded
        Keep chromosomes excluded by default (sex, mitochondrial, unplaced; see `is_excluded`).

    Returns
    -------
    list[str]
        Chromosome names in genome order.
    """
    return [c for c in genome.chroms if include_excluded or not is_excluded(c, genome.chroms)]


def condition_columns(df: pd.DataFrame, cond: Condition) -> pd.DataFrame:
    """Add the condition's ``tf`` (and ``cell``, ``species`` when set) columns to `df`, in place.

    Parameters
    ----------
    df
        A regions frame.
    cond
        The condition the rows belong to.

    Returns
    -------
    pandas.DataFrame
        `df` itself.
    """
    df["tf"] = cond.tf
    if cond.cell is not None:
        df["cell"] = cond.cell
    if cond.species is not None:
        df["species"] = cond.species
    return df


def _summits(peaks: pd.DataFrame) -> np.ndarray:
    if "summit" in peaks:
        s = peaks["summit"].to_numpy(dtype=np.int64)
        centre = ((peaks["start"] + peaks["end"]) // 2).to_numpy(dtype=np.int64)
        return np.where(s >= 0, s, centre)
    return ((peaks["start"] + peaks["end"]) // 2).to_numpy(dtype=np.int64)


def _fit(df: pd.DataFrame, sizes: dict[str, int]) -> tuple[pd.DataFrame, int]:
    """Drop windows that do not lie entirely inside their chromosome."""
    size = df["chrom"].map(sizes).to_numpy()
    ok = (df["start"].to_numpy() >= 0) & (df["end"].to_numpy() <= size)
    return df.loc[ok].reset_index(drop=True), int((~ok).sum())


def _window(chrom: np.ndarray, centre: np.ndarray, length: int) -> pd.DataFrame:
    start = centre - length // 2
    return pd.DataFrame({"chrom": chrom, "start": start, "end": start + length})


def build_peaks(
    genome,
    peaks: dict[Condition, pd.DataFrame],
    *,
    length: int = 1000,
    anchor: str = "summit",
    negatives: pd.DataFrame | None = None,
    blacklist: pd.DataFrame | None = None,
    include_excluded: bool = False,
) -> BuildResult:
    """Positive windows of `length` centred on summits (or centres), plus an optional negatives table.

    Parameters
    ----------
    genome
        The genome (chromosomes and sizes).
    peaks
        Peaks per condition; each gives label-1 windows.
    length
        Window length in bp.
    anchor
        ``summit`` (peaks without one use the centre) or ``center``.
    negatives
        Negative intervals, re-centred to `length`-bp label-0 windows (None: positives only).
    blacklist
        Regions whose overlapping windows are dropped.
    include_excluded
        Also keep windows on chromosomes excluded by default (sex, mitochondrial, unplaced).

    Returns
    -------
    BuildResult
        The windows, the build parameters and notes on dropped windows.
    """
    if anchor not in ("summit", "center"):
        raise ConfigError(f"anchor must be 'summit' or 'center', got {anchor!r}")
    _check_length(length)
    chroms = set(usable_chroms(genome, include_excluded))
    parts, notes = [], []
    for cond, pk in peaks.items():
        centre = _summits(pk) if anchor == "summit" else ((pk["start"] + pk["end"]) // 2).to_numpy()
        df = _window(pk["chrom"].to_numpy(), centre, length)
        for col in ("name", "score"):
            if col in pk:
                df[col] = pk[col].to_numpy()
        df["label"] = 1
        df["source"] = "peak"
        parts.append(condition_columns(df, cond))
    if negatives is not None and len(negatives):
        neg = negatives.copy()
        centre = ((neg["start"] + neg["end"]) // 2).to_numpy(dtype=np.int64)
        win = _window(neg["chrom"].to_numpy(), centre, length)
        for col in neg.columns:
            if col not in ("chrom", "start", "end", "label", "summit"):
                win[col] = neg[col].to_numpy()
        win["label"] = 0
        if "source" not in win:
            win["source"] = "negatives"
        if "tf" not in win and len(peaks) == 1:
            win = condition_columns(win, next(iter(peaks)))
        parts.append(win)
    df = pd.concat(parts, ignore_index=True)
    df = df[df["chrom"].isin(chroms)]
    df, dropped = _fit(df, genome.sizes)
    if dropped:
        notes.append(f"{dropped} windows dropped: they would run past a chromosome end")
    if blacklist is not None:
        df = _remove_blacklisted(df, blacklist, notes, peaks)
    params = {"length": length, "anchor": anchor, "include_excluded": include_excluded}
    return BuildResult(df, params, notes)


def tile_genome(
    genome, *, length: int, stride: int, chroms: list[str] | None = None
) -> pd.DataFrame:
    """All windows [k*stride, k*stride + length) that fit inside each chromosome.

    Parameters
    ----------
    genome
        The genome (``chroms``, ``sizes``).
    length
        Window length in bp.
    stride
        Distance between window starts (> 0).
    chroms
        Chromosomes to tile (None: all); those shorter than `length` give none.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end``.
    """
    _check_length(length)
    if stride <= 0:
        raise ConfigError(f"--stride must be positive, got {stride}")
    parts = []
    for c in chroms if chroms is not None else genome.chroms:
        size = genome.sizes[c]
        if size < length:
            continue
        start = np.arange(0, size - length + 1, stride, dtype=np.int64)
        parts.append(pd.DataFrame({"chrom": c, "start": start, "end": start + length}))
    if not parts:
        raise ConfigError(f"no chromosome is at least {length} bp long; use a shorter --length")
    return pd.concat(parts, ignore_index=True)


def build_tiles(
    genome,
    peaks: dict[Condition, pd.DataFrame],
    *,
    length: int = 500,
    stride: int = 450,
    blacklist: pd.DataFrame | None = None,
    max_n_frac: float = 0.1,
    include_excluded: bool = False,
) -> BuildResult:
    """Tile the genome; label each window 1 for a condition when it covers one of its peak summits.

    Parameters
    ----------
    genome
        The genome.
    peaks
        Peaks per condition (every condition labels every tile).
    length
        Tile length in bp.
    stride
        Distance between tile starts.
    blacklist
        Regions whose overlapping tiles are dropped.
    max_n_frac
        Tiles with a larger fraction of N are dropped (1: keep all).
    include_excluded
        Also tile chromosomes excluded by default (sex, mitochondrial, unplaced).

    Returns
    -------
    BuildResult
        One row per tile and condition, the build parameters and notes.
    """
    from bindscape.io.ranges import contains_points

    notes: list[str] = []
    tiles = tile_genome(genome, length=length, stride=stride, chroms=usable_chroms(genome, include_excluded))
    n0, all_tiles = len(tiles), tiles
    if blacklist is not None:
        tiles = _remove_blacklisted(tiles, blacklist, notes)
        for cond, pk in peaks.items():  # a condition whose every labelled tile was blacklisted
            chrom, summit = pk["chrom"].to_numpy(), _summits(pk)
            if not contains_points(tiles, chrom, summit).any() and contains_points(all_tiles, chrom, summit).any():
                _all_blacklisted(cond, int(pk["chrom"].isin(set(all_tiles["chrom"])).sum()), blacklist)
    if max_n_frac < 1.0:
        nfrac = genome.n_fraction(tiles["chrom"].to_numpy(), tiles["start"].to_numpy(), tiles["end"].to_numpy())
        keep = nfrac <= max_n_frac
        if (~keep).any():
            notes.append(f"{int((~keep).sum())} windows dropped: more than {max_n_frac:.0%} N")
        tiles = tiles.loc[keep].reset_index(drop=True)
    parts = []
    for cond, pk in peaks.items():
        lab = contains_points(tiles, pk["chrom"].to_numpy(), _summits(pk))
        df = tiles.copy()
        df["label"] = lab.astype(np.int8)
        df["source"] = "tile"
        parts.append(condition_columns(df, cond))
    df = pd.concat(parts, ignore_index=True)
    notes.insert(0, f"{n0} windows tiled ({length} bp, stride {stride}), {len(tiles)} kept")
    params = {"length": length, "stride": stride, "max_n_frac": max_n_frac, "include_excluded": include_excluded}
    return BuildResult(df, params, notes)


def build_bp(
    genome,
    peaks: dict[Condition, pd.DataFrame],
    *,
    length: int = 1000,
    max_shift: int | None = None,
    background: float = 0.0,
    blacklist: pd.DataFrame | None = None,
    include_excluded: bool = False,
    seed: int = 0,
) -> BuildResult:
    """Windows around peaks (shifted at random by up to `max_shift`) with per-base-pair bound stretches.

    `background` adds that many peak-free random windows per peak-centred window (all-zero labels).

    Parameters
    ----------
    genome
        The genome.
    peaks
        Peaks per condition; their intervals are the bound stretches.
    length
        Window length in bp.
    max_shift
        Largest random shift of a window from its summit (None: ``length // 4``).
    background
        Peak-free random windows per peak window.
    blacklist
        Regions whose overlapping windows are dropped.
    include_excluded
        Also use chromosomes excluded by default (sex, mitochondrial, unplaced).
    seed
        Seed of the shifts and background windows.

    Returns
    -------
    BuildResult
        Windows with ``bound_starts``/``bound_ends`` (relative), ``label`` (any bound bp) and ``bound_bp``.
    """
    _check_length(length)
    if max_shift is None:
        max_shift = length // 4
    rng = np.random.default_rng(seed)
    chroms = usable_chroms(genome, include_excluded)
    notes: list[str] = []
    parts = []
    for cond, pk in peaks.items():
        pk = pk[pk["chrom"].isin(chroms)].reset_index(drop=True)
        centre = _summits(pk) + rng.integers(-max_shift, max_shift + 1, len(pk))
        win = _window(pk["chrom"].to_numpy(), centre, length)
        win["source"] = "peak"
        if background > 0:
            bg = _random_windows(genome, chroms, int(round(background * len(pk))), length, pk, rng)
            bg["source"] = "background"
            win = pd.concat([win, bg], ignore_index=True)
        win, dropped = _fit(win, genome.sizes)
        if dropped:
            notes.append(f"{cond.key}: {dropped} windows dropped past chromosome ends")
        bs, be = bound_stretches(win, pk)
        win["bound_starts"] = bs
        win["bound_ends"] = be
        win["label"] = np.array([len(x) > 0 for x in bs], dtype=np.int8)
        win["bound_bp"] = np.array([int(np.sum(e - s)) for s, e in zip(bs, be)], dtype=np.int64)
        parts.append(condition_columns(win, cond))
    df = pd.concat(parts, ignore_index=True)
    if blacklist is not None:
        df = _remove_blacklisted(df, blacklist, notes, peaks)
    params = {"length": length, "max_shift": max_shift, "background": background, "include_excluded": include_excluded}
    return BuildResult(df, params, notes)


def bound_stretches(win: pd.DataFrame, pk: pd.DataFrame) -> tuple[list, list]:
    """For each window, the peak intervals overlapping it, clipped and made relative to its start.

    Parameters
    ----------
    win
        The windows (``chrom, start, end``).
    pk
        The peaks (``chrom, start, end``).

    Returns
    -------
    tuple[list, list]
        Per window, int32 arrays of the stretches' starts and ends (empty where no peak overlaps).
    """
    starts_out: list = [np.zeros(0, np.int32)] * len(win)
    ends_out: list = [np.zeros(0, np.int32)] * len(win)
    for chrom, idx in win.groupby("chrom").indices.items():
        p = pk[pk["chrom"] == chrom]
        if p.empty:
            continue
        order = np.argsort(p["start"].to_numpy(), kind="stable")
        ps, pe = p["start"].to_numpy()[order], p["end"].to_numpy()[order]
        max_len = int((pe - ps).max())
        ws, we = win["start"].to_numpy()[idx], win["end"].to_numpy()[idx]
        lo = np.searchsorted(ps, ws - max_len, "left")
        hi = np.searchsorted(ps, we, "left")
        for j, i in enumerate(idx):
            s, e = ps[lo[j] : hi[j]], pe[lo[j] : hi[j]]
            keep = e > ws[j]
            s, e = s[keep], e[keep]
            if len(s):
                s = np.clip(s - ws[j], 0, we[j] - ws[j]).astype(np.int32)
                e = np.clip(e - ws[j], 0, we[j] - ws[j]).astype(np.int32)
                starts_out[i], ends_out[i] = s, e
    return starts_out, ends_out


def _random_windows(genome, chroms, n, length, avoid: pd.DataFrame, rng) -> pd.DataFrame:
    """`n` random windows (no N, not overlapping `avoid`), sampled proportionally to chromosome size."""
    from bindscape.io.ranges import overlaps_any

    sizes = np.array([genome.sizes[c] - length for c in chroms], dtype=float)
    sizes = np.clip(sizes, 0, None)
    if n <= 0 or sizes.sum() <= 0:
        return pd.DataFrame({"chrom": [], "start": [], "end": []})
    got = []
    need = n
    for _ in range(20):
        k = max(need * 2, 16)
        ci = rng.choice(len(chroms), size=k, p=sizes / sizes.sum())
        start = (rng.random(k) * sizes[ci]).astype(np.int64)
        cand = pd.DataFrame({"chrom": np.asarray(chroms)[ci], "start": start, "end": start + length})
        cand = cand[~overlaps_any(cand, avoid)]
        nf = genome.n_fraction(cand["chrom"].to_numpy(), cand["start"].to_numpy(), cand["end"].to_numpy())
        cand = cand[nf == 0]
        got.append(cand.iloc[:need])
        need -= len(got[-1])
        if need <= 0:
            break
    return pd.concat(got, ignore_index=True)


def _remove_blacklisted(
    df: pd.DataFrame, blacklist: pd.DataFrame, notes: list[str], peaks: dict[Condition, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """`df` without the windows overlapping `blacklist`; with `peaks`, an error when a condition loses every
    positive (label > 0) window to the blacklist."""
    from bindscape.io.ranges import overlaps_any

    hit = overlaps_any(df, blacklist)
    if hit.any():
        notes.append(f"{int(hit.sum())} windows dropped: they overlap the blacklist")
        pos = df["label"].to_numpy() > 0 if "label" in df else np.zeros(len(df), dtype=bool)
        for cond in peaks or ():
            mine = pos & _condition_mask(df, cond)
            if mine.any() and not (mine & ~hit).any():
                _all_blacklisted(cond, int(mine.sum()), blacklist)
    return df.loc[~hit].reset_index(drop=True)


def _condition_mask(df: pd.DataFrame, cond: Condition) -> np.ndarray:
    """Rows of `df` that belong to `cond` (by its ``tf``, ``cell`` and ``species`` columns)."""
    mask = np.ones(len(df), dtype=bool)
    for col in ("tf", "cell", "species"):
        value = getattr(cond, col)
        if value is not None and col in df:
            mask &= (df[col] == value).to_numpy()
    return mask


def _all_blacklisted(cond: Condition, n: int, blacklist: pd.DataFrame) -> None:
    """Raise the one-line error for a condition whose `n` peaks were all removed by the blacklist."""
    src = blacklist.attrs.get("source")
    raise InputError(
        f"all {n} peak{'s' if n != 1 else ''} of {cond.key} were removed by the blacklist"
        + (f" {src}" if src else "") + "; the dataset would have no positives",
        hint="check that --blacklist is for the same assembly as --genome, or build without --blacklist",
    )


def _check_length(length: int) -> None:
    if length <= 0:
        raise ConfigError(f"--length must be positive, got {length}")


def read_negatives(path: str | Path, genome, *, aliases=None) -> pd.DataFrame:
    """A user-given negatives table (BED or parquet with chrom/start/end).

    Parameters
    ----------
    path
        ``.parquet`` table or BED-like file.
    genome
        The genome the intervals are checked against (``sizes``).
    aliases
        Chromosome renaming, as in `bindscape.io.bed.read_peaks`.

    Returns
    -------
    pandas.DataFrame
        The intervals with checked chromosome names.
    """
    from bindscape.io.bed import read_peaks
    from bindscape.io.chroms import check_chroms

    path = Path(path)
    if path.suffix == ".parquet":
        if not path.exists():
            raise InputError(f"{path}: file does not exist")
        df = pd.read_parquet(path)
        missing = [c for c in ("chrom", "start", "end") if c not in df]
        if missing:
            raise InputError(f"{path}: negatives table lacks column(s) {', '.join(missing)}")
        df = check_chroms(df, genome.sizes, source=str(path), aliases=aliases)
        return df
    return read_peaks(path, sizes=genome.sizes, aliases=aliases)

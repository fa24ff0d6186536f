"""Interval algebra on regions frames: overlaps, points, merge, subtract, windows, clipping.

Regions are pandas DataFrames with ``chrom, start, end`` (0-based, half-open), see `bindscape.io.bed`.
Overlap always means the half-open formula ``a.start < b.end and b.start < a.end`` (bedtools' definition
for non-empty intervals).

Why the interval operations are hand-written (and not bioframe's)
-----------------------------------------------------------------
pyranges and pybedtools are not dependencies (DESIGN.md: dependencies are chosen, not accumulated;
pybedtools also needs the bedtools binary), and bioframe is one only where it is at least as fast.
Everything bindscape needs -- merge, overlap tests and counts, point-in-interval queries, subtraction,
blacklist filtering -- reduces to sorted arrays and ``np.searchsorted``. Each (chromosome, position) pair
is encoded as one int64 key ``code * 2**40 + position``, so all chromosomes live in a single sorted array
whose per-chromosome blocks never interleave; one vectorised ``searchsorted`` then answers a query for
every interval at once.

Measured against bioframe 0.8.0 (best of 3 on a shared 2-core CPU; two frames of 100,000 random
intervals, 50-2,000 bp, on 22 chromosomes of 50 Mb; same results where the semantics agree):

==================  ========  ========  ==================
operation            ours      bioframe  bioframe / ours
==================  ========  ========  ==================
count_overlaps       39 ms     85 ms     2.2x slower
overlaps_any         39 ms     71 ms     1.8x slower
merge                16 ms     35 ms     2.1x slower
subtract             42 ms    243 ms     5.8x slower
==================  ========  ========  ==================

So this module keeps its own algebra and bioframe is not a dependency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError
from bindscape.io.chroms import SizesLike, as_sizes, check_chroms

__all__ = [
    "clip",
    "contains_points",
    "count_overlaps",
    "merge",
    "overlaps_any",
    "points_in",
    "remove_overlapping",
    "subtract",
    "window",
]

_SHIFT = 1 << 40  # key = chromosome code * _SHIFT + position
_MAX_COORD = 1 << 39


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
    """For each interval of `a`, how many intervals of `b` overlap it.

    Parameters
    ----------
    a, b
        Regions frames (``chrom, start, end``).

    Returns
    -------
    numpy.ndarray
        int64 counts, one per row of `a`.
    """
    return _count(a, b, 0)


def overlaps_any(a: pd.DataFrame, b: pd.DataFrame, *, margin: int = 0) -> np.ndarray:
    """Whether each interval of `a` overlaps some interval of `b` extended by `margin` bp on both sides.

    Parameters
    ----------
    a, b
        Regions frames (``chrom, start, end``).
    margin
        Bases added to both ends of every `b` interval (>= 0).

    Returns
    -------
    numpy.ndarray
        bool, one per row of `a`.
    """
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
    """Whether each interval of `a` contains at least one point (a.start <= pos < a.end, same chromosome).

    Parameters
    ----------
    a
        A regions frame.
    chroms
        The points' chromosome names (an array, or one name for all).
    positions
        The points' 0-based positions.

    Returns
    -------
    numpy.ndarray
        bool, one per row of `a`.
    """
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
    """Whether each point lies in some interval of `a` (a.start <= pos < a.end).

    Parameters
    ----------
    a, chroms, positions
        The intervals and the points, as in `contains_points`.

    Returns
    -------
    numpy.ndarray
        bool, one per point.
    """
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
    intervals sorted by start (like ``bedtools merge -d gap`` on sorted input).

    Parameters
    ----------
    df
        A regions frame.
    gap
        Largest distance (bp, >= 0) between intervals that are still merged.

    Returns
    -------
    pandas.DataFrame
        The merged intervals.
    """
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
    bases. A ``summit`` that falls outside its piece is moved to the piece's centre. Index is reset.

    Parameters
    ----------
    a
        The regions to cut.
    b
        The regions whose bases are removed.

    Returns
    -------
    pandas.DataFrame
        The remaining pieces.
    """
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
    ``bedtools subtract -A``); index is reset.

    Parameters
    ----------
    a
        The regions to filter.
    b
        The regions to avoid (e.g. a blacklist).
    margin
        Bases added to both ends of every `b` interval (>= 0).

    Returns
    -------
    pandas.DataFrame
        The rows of `a` that overlap nothing in `b`.
    """
    keep = ~overlaps_any(a, b, margin=margin)
    out = a.loc[keep].reset_index(drop=True)
    out.attrs = dict(a.attrs)
    return out


def window(df: pd.DataFrame, length: int, *, anchor: str = "summit") -> pd.DataFrame:
    """Fixed-length windows: new ``start, end`` of `length` bp around the anchor, other columns kept.

    ``anchor='summit'`` uses the ``summit`` column where present and valid (not missing, >= 0), else the
    centre ``(start + end) // 2``; ``anchor='center'`` always the centre. The window is
    ``[anchor - length // 2, anchor - length // 2 + length)``, so the anchor is at offset ``length // 2``.
    Starts may become negative or ends pass the chromosome end: follow with `clip`.

    Parameters
    ----------
    df
        A regions frame (optionally with ``summit``).
    length
        The window length (bp, > 0).
    anchor
        ``'summit'`` or ``'center'`` (``'centre'``).

    Returns
    -------
    pandas.DataFrame
        A copy of `df` with the windows' ``start, end``.
    """
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
    Unknown chromosomes raise `ChromosomeError`. Index is reset.

    Parameters
    ----------
    df
        A regions frame.
    sizes
        The genome's chromosome lengths (see `bindscape.io.chroms.as_sizes`).
    drop
        Drop intervals that do not fit instead of clipping them.

    Returns
    -------
    pandas.DataFrame
        The intervals within their chromosomes.
    """
    sizes = as_sizes(sizes)
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

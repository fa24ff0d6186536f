"""Annotation-free detection of high-copy sequence (repeats) in a real genome, and decoys planted into it.

    from bindscape.simulate.real_repeats import detect_repeats
    rep = detect_repeats(codes, k=25, min_count=3, min_length=100)   # chrom, start, end, name, cluster, ...

A base is repetitive when some k-mer covering it (canonical: the smaller of a k-mer and its reverse
complement, so both strands count) occurs at least `min_count` times in the genome. Repetitive bases closer
than `merge_gap` are merged into intervals and intervals shorter than `min_length` are dropped. Intervals
that share a high-copy k-mer are joined into one cluster (connected components), so copies of one family
(e.g. yeast Ty1 and Ty2 elements, which share most of their sequence) get one cluster id.

Why hand-written: the genomes the semi-real recipes plant into come without a repeat annotation (sacCer3
here is upper case only, ce10 entirely lower case, so their soft masks say nothing), and RepeatMasker /
Dfam, WindowMasker or Red are neither Python libraries nor usable offline. Exact k-mer counting with numpy
(2-bit k-mers packed into uint64, one sort) is a few seconds per 10 Mb and needs no external tool; memory is
about 40 bytes per base, so it is meant for the up-to-tens-of-Mb backgrounds the simulator uses.

`plant_repeat_decoys` writes motif copies into the detected intervals with the simulator's one decoy
planting routine (`genome.plant_consensus_motifs`, the code that puts decoys into a synthetic repeat
family's consensus), so real repeats carry decoys exactly as simulated families do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REPEAT_COLUMNS = ["chrom", "start", "end", "name", "cluster", "max_count"]


def _canonical_kmers(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical 2-bit k-mer of every window start and whether it is free of N (vectorised over positions)."""
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    c = np.minimum(codes, 3).astype(np.uint64)
    fwd = np.zeros(n, dtype=np.uint64)
    rev = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        part = c[j : j + n]
        fwd = (fwd << np.uint64(2)) | part
        rev |= (np.uint64(3) - part) << np.uint64(2 * j)
    isn = np.concatenate([[0], np.cumsum(codes > 3, dtype=np.int64)])
    ok = (isn[k:] - isn[:-k]) == 0
    return np.minimum(fwd, rev), ok


def _runs(mask: np.ndarray) -> np.ndarray:
    """``(n, 2)`` start/end of the True runs of a bool array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


def _intervals(high: np.ndarray, n: int, k: int, merge_gap: int, min_length: int) -> np.ndarray:
    """Intervals covered by the high-copy k-mers starting at `high` positions, merged and length-filtered."""
    cover = np.zeros(n + 1, dtype=np.int32)
    np.add.at(cover, high, 1)
    np.add.at(cover, np.minimum(high + k, n), -1)
    runs = _runs(np.cumsum(cover[:n]) > 0)
    if len(runs) > 1 and merge_gap > 0:
        keep = np.concatenate([[True], runs[1:, 0] - runs[:-1, 1] > merge_gap])  # True: starts a new interval
        runs = np.stack([runs[keep, 0], np.maximum.reduceat(runs[:, 1], np.flatnonzero(keep))], axis=1)
    return runs[(runs[:, 1] - runs[:, 0]) >= min_length]


def detect_repeats(codes: dict[str, np.ndarray], *, k: int = 25, min_count: int = 3, min_length: int = 100,
                   merge_gap: int = 10, name: str = "real_repeat") -> pd.DataFrame:
    """High-copy intervals of a genome: bases covered by a k-mer seen >= `min_count` times (both strands).

    Parameters
    ----------
    codes
        Chromosome -> uint8 codes (A, C, G, T, N = 0..4); k-mers holding an N are not counted.
    k
        k-mer length, 12..31 (packed in 64 bits).
    min_count
        A k-mer is high-copy when it occurs at least this often in the whole genome (>= 2).
    min_length
        Intervals shorter than this (bp) are dropped.
    merge_gap
        Repetitive stretches at most this far apart (bp) are merged into one interval.
    name
        The BED name written for every interval (the repeat "family" of the recipe's tables).

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end, name, cluster, max_count`` (0-based half-open, sorted by chrom order then start);
        ``cluster`` numbers the families of intervals sharing a high-copy k-mer (1 = most bases),
        ``max_count`` is the highest genome count of a k-mer in the interval.
    """
    if not 12 <= int(k) <= 31:
        raise ValueError(f"k must be in 12..31, got {k}")
    if int(min_count) < 2:
        raise ValueError(f"min_count must be >= 2, got {min_count}")
    names = list(codes)
    per = [_canonical_kmers(np.asarray(codes[c], dtype=np.uint8), k) for c in names]
    allk = np.concatenate([km[ok] for km, ok in per]) if per else np.zeros(0, np.uint64)
    uniq, counts = np.unique(allk, return_counts=True)
    hot = uniq[counts >= min_count]
    rows, edges_iv, edges_km, max_counts = [], [], [], []
    for chrom, (km, ok) in zip(names, per, strict=True):
        pos = np.flatnonzero(ok)
        idx = np.searchsorted(hot, km[pos])
        hit = (idx < len(hot)) & (hot[np.minimum(idx, max(len(hot) - 1, 0))] == km[pos]) if len(hot) else \
            np.zeros(len(pos), bool)
        high, hid = pos[hit], idx[hit]
        iv = _intervals(high, len(codes[chrom]), k, merge_gap, min_length)
        if not len(iv):
            continue
        which = np.searchsorted(iv[:, 0], high, side="right") - 1  # the interval holding each k-mer's start
        inside = (which >= 0) & (high < iv[np.maximum(which, 0), 1])
        base = len(rows)
        edges_iv.append(which[inside] + base)
        edges_km.append(hid[inside])
        cnt = counts[np.searchsorted(uniq, hot[hid[inside]])]
        mx = np.zeros(len(iv), dtype=np.int64)
        np.maximum.at(mx, which[inside], cnt)
        max_counts.append(mx)
        rows.extend((chrom, int(s), int(e)) for s, e in iv)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            REPEAT_COLUMNS, [str, np.int64, np.int64, str, np.int64, np.int64], strict=True)})
    df = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    df["name"] = name
    df["cluster"] = _clusters(np.concatenate(edges_iv), np.concatenate(edges_km), len(df), len(hot),
                              (df.end - df.start).to_numpy())
    df["max_count"] = np.concatenate(max_counts)
    return df


def _clusters(iv: np.ndarray, km: np.ndarray, n_iv: int, n_km: int, lengths: np.ndarray) -> np.ndarray:
    """Connected components of the interval--k-mer graph, numbered 1.. by total bases (largest first)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(iv), dtype=np.int8), (iv, n_iv + km)), shape=(n_iv + n_km, n_iv + n_km))
    _, lab = connected_components(g, directed=False)
    lab = lab[:n_iv]
    uniq, inv = np.unique(lab, return_inverse=True)
    size = np.bincount(inv, weights=lengths)
    order = np.lexsort((uniq, -size))  # largest first, ties by label (deterministic)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(1, len(uniq) + 1)
    return rank[inv]


def repeat_summary(rep: pd.DataFrame, genome_size: int) -> dict:
    """Counts of a `detect_repeats` table: intervals, bases covered, share of the genome, clusters.

    Parameters
    ----------
    rep
        The intervals.
    genome_size
        Bases in the genome scanned.

    Returns
    -------
    dict
        ``intervals, bases, fraction, clusters, largest`` (length of the longest interval).
    """
    bases = int((rep.end - rep.start).sum()) if len(rep) else 0
    return {"intervals": len(rep), "bases": bases, "fraction": round(bases / max(1, genome_size), 4),
            "clusters": int(rep.cluster.nunique()) if len(rep) else 0,
            "largest": int((rep.end - rep.start).max()) if len(rep) else 0}


def plant_repeat_decoys(codes: dict[str, np.ndarray], rep: pd.DataFrame, motif, per_kb: float,
                        similarity: float, rng: np.random.Generator) -> int:
    """Write motif copies (decoys) into every repeat interval, in place, with `genome.plant_consensus_motifs`.

    Each interval gets ``max(1, round(length * per_kb / 1000))`` copies of affinity near `similarity`, spread
    evenly (fewer when it is too short for them all), each on a random strand.

    Parameters
    ----------
    codes
        Chromosome -> uint8 codes, changed in place.
    rep
        Intervals ``chrom, start, end`` (`detect_repeats`).
    motif
        The TF's `binding.SiteMotif`.
    per_kb, similarity
        Copies per kb of interval; target affinity in [0, 1] (0: the p-value threshold, 1: the best site).
    rng
        Random stream (its own, so nothing else in the simulation moves).

    Returns
    -------
    int
        Copies written.
    """
    from .genome import plant_consensus_motifs

    n = 0
    for chrom, start, end in rep[["chrom", "start", "end"]].itertuples(index=False):
        view = codes[chrom][int(start) : int(end)]  # a view: planted in place
        n += len(plant_consensus_motifs(view, motif, per_kb, similarity, rng))
    return n


__all__ = ["REPEAT_COLUMNS", "detect_repeats", "plant_repeat_decoys", "repeat_summary"]

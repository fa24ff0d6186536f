"""AgentBind's k-mer enrichment: which k-mers sit in the most important windows, beyond the core motif.

Windows of `k` bases are scored by the sum of their per-position attribution scores; windows that overlap the
core motif (``core_mask``) are dropped; the top `top_frac` of the remaining windows (over all sequences) are
compared with the rest. Per k-mer (merged with its reverse complement when `strand_aware`), a one-sided
Fisher exact test (enrichment in the top set) gives a p-value, Bonferroni-corrected over the k-mers tested.
`kmer_enrichment_by_group` runs the same test per group, e.g. promoter-proximal vs distal sites
(`tss_groups`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError

_COMP = str.maketrans("ACGT", "TGCA")


def _codes(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:  # one-hot (N, 4, L); N where no base is set
        c = x.argmax(axis=1).astype(np.int64)
        c[x.sum(axis=1) == 0] = 4
        return c
    if x.ndim == 2 and x.dtype.kind in "iu":
        return x.astype(np.int64)
    raise ConfigError(f"sequences must be one-hot (N, 4, L) or codes (N, L), got shape {x.shape}")


def kmer_names(k: int, strand_aware: bool = True) -> tuple[list[str], np.ndarray]:
    """All 4^k k-mers and, per k-mer index, the index of its canonical name (lexicographic min with RC).

    Parameters
    ----------
    k : int
        k-mer length.
    strand_aware : bool
        Map each k-mer to its canonical form; False maps each to itself.

    Returns
    -------
    tuple of (list of str, numpy.ndarray)
        The k-mers in A, C, G, T order and the canonical index of each.
    """
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
    if not strand_aware:
        return kmers, np.arange(len(kmers))
    index = {s: i for i, s in enumerate(kmers)}
    canon = np.array([min(i, index[s.translate(_COMP)[::-1]]) for i, s in enumerate(kmers)])
    return kmers, canon


def fisher_greater(a, b, c, d) -> np.ndarray:
    """One-sided (greater) Fisher exact p-values of 2x2 tables [[a, b], [c, d]], vectorised
    (hypergeometric upper tail, equal to scipy.stats.fisher_exact(..., alternative='greater')).

    Parameters
    ----------
    a, b, c, d : array-like of int
        The four cells of each table.

    Returns
    -------
    numpy.ndarray
        One p-value per table.
    """
    from scipy.stats import hypergeom

    a, b, c, d = (np.asarray(v, dtype=np.int64) for v in (a, b, c, d))
    return np.clip(hypergeom.sf(a - 1, a + b + c + d, a + c, a + b), 0.0, 1.0)


def kmer_enrichment(scores, x, *, k: int = 5, top_frac: float = 0.01, core_mask=None, strand_aware: bool = True,
                    alpha: float = 0.05, min_count: int = 1) -> pd.DataFrame:
    """Enrichment of k-mers in the top-scoring windows (one-sided Fisher test, Bonferroni-corrected).

    Parameters
    ----------
    scores : array-like
        Per-position attribution scores ``(N, L)`` (`position_scores`).
    x : array-like
        One-hot ``(N, 4, L)`` or codes ``(N, L)``.
    k : int
        k-mer length.
    top_frac : float
        Share of windows (by summed score) in the top set.
    core_mask : array-like of bool, optional
        ``(N, L)``, True on core-motif bases; windows touching them are excluded.
    strand_aware : bool
        Count a k-mer and its reverse complement together.
    alpha : float
        Significance level of the corrected p-values.
    min_count : int
        Test only k-mers seen at least this often.

    Returns
    -------
    pandas.DataFrame
        One row per k-mer seen (canonical names when strand-aware): kmer, n_top, n_rest, frac_top,
        frac_rest, odds_ratio, p, p_bonferroni, significant; sorted by p.
    """
    s = np.asarray(scores, dtype=np.float64)
    codes = _codes(x)
    if s.shape != codes.shape:
        raise ConfigError(f"scores {s.shape} and sequences {codes.shape} differ in shape")
    N, L = s.shape
    if L < k:
        raise ConfigError(f"sequences ({L} bp) are shorter than k={k}")
    if not 0 < top_frac < 1:
        raise ConfigError(f"top_frac must be in (0, 1), got {top_frac}")
    W = L - k + 1
    cs = np.concatenate([np.zeros((N, 1)), np.cumsum(s, axis=1)], axis=1)
    wscore = cs[:, k:] - cs[:, :W]
    # k-mer index of every window; windows with N are dropped
    pw = 4 ** np.arange(k - 1, -1, -1)
    win = np.lib.stride_tricks.sliding_window_view(codes, k, axis=1)  # (N, W, k)
    valid = (win < 4).all(axis=2)
    idx = (np.minimum(win, 3) * pw).sum(axis=2)
    if core_mask is not None:
        cm = np.asarray(core_mask, dtype=bool)
        if cm.shape != (N, L):
            raise ConfigError(f"core_mask must have shape {(N, L)}, got {cm.shape}")
        touches = np.lib.stride_tricks.sliding_window_view(cm, k, axis=1).any(axis=2)
        valid &= ~touches
    ws, wi = wscore[valid], idx[valid]
    if len(ws) < 2:
        raise ConfigError("too few windows left for a k-mer test (core mask covers everything?)")
    n_top = max(1, int(np.ceil(top_frac * len(ws))))
    order = np.argsort(-ws, kind="stable")
    top = np.zeros(len(ws), dtype=bool)
    top[order[:n_top]] = True
    names, canon = kmer_names(k, strand_aware)
    ci = canon[wi]
    nk = 4 ** k
    c_top = np.bincount(ci[top], minlength=nk)
    c_rest = np.bincount(ci[~top], minlength=nk)
    keep = np.flatnonzero((c_top + c_rest) >= min_count)
    keep = keep[np.isin(keep, np.unique(canon))]
    a, c = c_top[keep], c_rest[keep]
    b, d = top.sum() - a, (~top).sum() - c
    p = fisher_greater(a, b, c, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (a * d) / (b * c)
    n_tests = len(np.unique(canon))
    df = pd.DataFrame({"kmer": [names[i] for i in keep], "n_top": a, "n_rest": c,
                       "frac_top": a / max(1, top.sum()), "frac_rest": c / max(1, (~top).sum()),
                       "odds_ratio": odds, "p": p})
    df["p_bonferroni"] = np.minimum(1.0, df["p"] * n_tests)
    df["significant"] = df["p_bonferroni"] < alpha
    df.attrs.update(k=k, top_frac=top_frac, n_windows=int(len(ws)), n_top_windows=int(top.sum()), n_tests=n_tests)
    return df.sort_values(["p", "kmer"], kind="mergesort").reset_index(drop=True)


def tss_groups(regions: pd.DataFrame, tss: pd.DataFrame, *, distance: int = 1000) -> np.ndarray:
    """'proximal' where a region's centre lies within `distance` bp of a TSS (same chromosome), else 'distal'.

    Parameters
    ----------
    regions : pandas.DataFrame
        Intervals (chrom, start, end).
    tss : pandas.DataFrame
        Intervals (chrom, start, end[, strand]); a TSS is the start of + strand records and the end - 1 of
        - strand ones.
    distance : int
        Largest distance (bp) of a proximal region's centre from a TSS.

    Returns
    -------
    numpy.ndarray
        One label per region.
    """
    mid = ((regions["start"].to_numpy() + regions["end"].to_numpy()) // 2).astype(np.int64)
    pos = tss["start"].to_numpy().astype(np.int64)
    if "strand" in tss:
        minus = tss["strand"].astype(str).to_numpy() == "-"
        pos = np.where(minus, tss["end"].to_numpy().astype(np.int64) - 1, pos)
    out = np.full(len(regions), "distal", dtype=object)
    chroms = regions["chrom"].astype(str).to_numpy()
    tchrom = tss["chrom"].astype(str).to_numpy()
    for ch in np.unique(chroms):
        sel = np.flatnonzero(chroms == ch)
        t = np.sort(pos[tchrom == ch])
        if len(t) == 0:
            continue
        j = np.searchsorted(t, mid[sel])
        left = t[np.clip(j - 1, 0, len(t) - 1)]
        right = t[np.clip(j, 0, len(t) - 1)]
        d = np.minimum(np.abs(mid[sel] - left), np.abs(mid[sel] - right))
        out[sel[d <= distance]] = "proximal"
    return out


def kmer_enrichment_by_group(scores, x, groups, **kw) -> pd.DataFrame:
    """`kmer_enrichment` per group label (e.g. from `tss_groups`), with a ``group`` column; plus ``all``.

    Parameters
    ----------
    scores, x : array-like
        As for `kmer_enrichment`.
    groups : array-like
        One label per sequence.
    **kw
        Further arguments of `kmer_enrichment` (``core_mask`` is split by group).

    Returns
    -------
    pandas.DataFrame
        The tables of all sequences and of each group, stacked.
    """
    groups = np.asarray(groups)
    core = kw.pop("core_mask", None)
    frames = [kmer_enrichment(scores, x, core_mask=core, **kw).assign(group="all")]
    for g in pd.unique(groups):
        sel = groups == g
        if sel.sum() == 0:
            continue
        cm = None if core is None else np.asarray(core)[sel]
        frames.append(kmer_enrichment(np.asarray(scores)[sel], np.asarray(x)[sel], core_mask=cm, **kw).assign(group=g))
    return pd.concat(frames, ignore_index=True)

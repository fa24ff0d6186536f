"""Base-pair-resolution evaluation: IOU threshold sweep, interval calling, transition rates, and auPRC of
max-pooled scores at several resolutions (NetTIME's 1 bp / 200 bp / 1000 bp), per condition and averaged.

All functions take numpy arrays: scores (N, L) (probabilities or logits) and 0/1 labels (N, L).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError
from bindscape.evaluate.metrics import auprc, auroc

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))


def iou(pred, truth) -> float:
    """Intersection over union of two 0/1 arrays (all base pairs pooled); nan when both are empty.

    Parameters
    ----------
    pred
        0/1 (or boolean) calls, any shape.
    truth
        0/1 labels, same shape.

    Returns
    -------
    float
    """
    p, t = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    union = np.logical_or(p, t).sum()
    return float(np.logical_and(p, t).sum() / union) if union else float("nan")


def iou_per_sequence(pred, truth) -> np.ndarray:
    """IOU of each row (N,); nan for rows where prediction and truth are both empty.

    Parameters
    ----------
    pred
        ``(N, L)`` 0/1 calls (a 1-D array is one row).
    truth
        ``(N, L)`` 0/1 labels.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` IOU per row.
    """
    p, t = np.atleast_2d(pred).astype(bool), np.atleast_2d(truth).astype(bool)
    union = np.logical_or(p, t).sum(1)
    inter = np.logical_and(p, t).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def sweep_threshold(scores, labels, thresholds=DEFAULT_THRESHOLDS) -> tuple[float, pd.DataFrame]:
    """IOU for each threshold; returns (best threshold, table threshold/iou/transition_rate).

    Parameters
    ----------
    scores
        ``(N, L)`` per-bp scores; a base pair is called where ``score >= threshold``.
    labels
        ``(N, L)`` 0/1 labels.
    thresholds
        Thresholds to try (default 0.05 to 0.95 in steps of 0.05).

    Returns
    -------
    tuple[float, pandas.DataFrame]
        The threshold with the highest pooled IOU, and one row per threshold: ``threshold, iou,
        transition_rate`` (mean over rows of the calls' transition rate).
    """
    s, y = np.asarray(scores, dtype=np.float32), np.asarray(labels).astype(bool)
    rows = []
    for th in thresholds:
        pred = s >= th
        rows.append({"threshold": float(th), "iou": iou(pred, y), "transition_rate": float(transition_rate(pred).mean())})
    table = pd.DataFrame(rows)
    best = table.loc[table["iou"].fillna(-1).idxmax(), "threshold"]
    return float(best), table


def transitions(labels) -> np.ndarray:
    """Number of label changes along each row (N,).

    Parameters
    ----------
    labels
        ``(N, L)`` 0/1 labels or calls (a 1-D array is one row).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` counts of 0->1 and 1->0 steps.
    """
    y = np.atleast_2d(np.asarray(labels)).astype(np.int8)
    return np.abs(np.diff(y, axis=1)).sum(1)


def transition_rate(labels) -> np.ndarray:
    """Label changes per base-pair step for each row: `transitions` / (L - 1), ``(N,)`` rates in [0, 1]."""
    y = np.atleast_2d(np.asarray(labels))
    return transitions(y) / max(y.shape[1] - 1, 1)


def call_intervals(calls, *, chrom=None, start=None) -> pd.DataFrame:
    """Runs of 1 in 0/1 `calls` (N, L) -> intervals ``row, start, end`` (relative) or, given `chrom`/`start`
    per row, genomic ``chrom, start, end, row``.

    Parameters
    ----------
    calls
        ``(N, L)`` 0/1 calls.
    chrom
        Chromosome of each row (None: positions relative to the row).
    start
        0-based genomic start of each row, added to the positions (with `chrom`).

    Returns
    -------
    pandas.DataFrame
        One row per run, half-open ``[start, end)``, in row then position order.
    """
    c = np.atleast_2d(np.asarray(calls)).astype(np.int8)
    pad = np.zeros((c.shape[0], 1), np.int8)
    d = np.diff(np.concatenate([pad, c, pad], axis=1), axis=1)
    r1, s = np.nonzero(d == 1)
    r2, e = np.nonzero(d == -1)
    # both come out in row-major order with the same number of runs per row
    df = pd.DataFrame({"row": r1.astype(np.int64), "start": s.astype(np.int64), "end": e.astype(np.int64)})
    assert np.array_equal(r1, r2)
    if chrom is not None:
        off = np.asarray(start, dtype=np.int64)[df["row"].to_numpy()]
        df = pd.DataFrame({"chrom": np.asarray(chrom)[df["row"].to_numpy()], "start": df["start"] + off,
                           "end": df["end"] + off, "row": df["row"]})
    return df


def max_pool(x, resolution: int) -> np.ndarray:
    """Max over non-overlapping bins of `resolution` bp: (N, L) -> (N, ceil(L / resolution)).

    Parameters
    ----------
    x
        ``(N, L)`` scores or labels; the last bin may be shorter.
    resolution
        Bin width in bp (>= 1; 1 returns `x` unchanged).

    Returns
    -------
    numpy.ndarray
        ``(N, ceil(L / resolution))``, same dtype as `x`.
    """
    x = np.atleast_2d(np.asarray(x))
    if resolution < 1:
        raise ConfigError(f"resolution must be >= 1 bp, got {resolution}")
    if resolution == 1:
        return x
    N, L = x.shape
    nb = -(-L // resolution)
    padded = np.full((N, nb * resolution), -np.inf if np.issubdtype(x.dtype, np.floating) else 0, dtype=x.dtype)
    padded[:, :L] = x
    return padded.reshape(N, nb, resolution).max(axis=2)


def multires_metrics(scores, labels, conditions=None, resolutions=(1, 200, 1000)) -> pd.DataFrame:
    """auPRC/auROC of max-pooled scores vs max-pooled labels at each resolution, per condition (rows of
    `conditions`, e.g. ``"HNF4A/liver"``) and the mean over conditions (``condition == "mean"``).

    Parameters
    ----------
    scores
        ``(N, L)`` per-bp scores.
    labels
        ``(N, L)`` 0/1 labels.
    conditions
        ``(N,)`` condition of each row (None: all rows are condition ``"all"``).
    resolutions
        Bin widths in bp.

    Returns
    -------
    pandas.DataFrame
        ``condition, resolution, auprc, auroc, positive_rate, n_bins``; the ``mean`` rows only with more than
        one condition.
    """
    s, y = np.atleast_2d(scores), np.atleast_2d(labels)
    cond = np.asarray(conditions) if conditions is not None else np.full(len(s), "all")
    rows = []
    for c in pd.unique(cond):
        m = cond == c
        for r in resolutions:
            ps, py = max_pool(s[m], r).ravel(), max_pool(y[m], r).ravel()
            rows.append({"condition": str(c), "resolution": int(r), "auprc": auprc(py, ps), "auroc": auroc(py, ps),
                         "positive_rate": float(py.mean()), "n_bins": int(py.size)})
    df = pd.DataFrame(rows)
    if len(pd.unique(cond)) > 1:
        mean = df.groupby("resolution", as_index=False)[["auprc", "auroc", "positive_rate"]].mean()
        mean["condition"] = "mean"
        mean["n_bins"] = df.groupby("resolution")["n_bins"].sum().to_numpy()
        df = pd.concat([df, mean[df.columns]], ignore_index=True)
    return df


def calling_summary(calls, labels) -> dict:
    """IOU (pooled and mean per sequence) and transition rates of calls vs truth.

    Parameters
    ----------
    calls
        ``(N, L)`` 0/1 calls.
    labels
        ``(N, L)`` 0/1 labels.

    Returns
    -------
    dict
        ``iou``, ``iou_per_seq_mean``, ``transition_rate`` (calls) and ``truth_transition_rate``.
    """
    ps = iou_per_sequence(calls, labels)
    return {"iou": iou(calls, labels), "iou_per_seq_mean": float(np.nanmean(ps)) if np.isfinite(ps).any() else float("nan"),
            "transition_rate": float(transition_rate(calls).mean()),
            "truth_transition_rate": float(transition_rate(labels).mean())}


def bootstrap_auprc_diff(a, b, labels, resolution: int = 1, n_boot: int = 200, seed: int = 0) -> dict:
    """auPRC(a) - auPRC(b) on the same windows, with a 95% percentile interval from resampling windows (rows)
    with replacement; `a` and `b` are (N, L) scores, max-pooled at `resolution` first. Says whether a
    difference between two methods is larger than the sampling noise of a small test set.

    Parameters
    ----------
    a, b
        ``(N, L)`` per-bp scores of the two methods.
    labels
        ``(N, L)`` 0/1 labels.
    resolution
        Max-pooling bin width in bp.
    n_boot
        Bootstrap resamples (those with only one class are skipped).
    seed
        Seed of the resampling.

    Returns
    -------
    dict
        ``diff``, ``ci_low``, ``ci_high`` (nan without usable resamples) and ``n_windows``.
    """
    sa, sb, y = (max_pool(np.atleast_2d(v), resolution) for v in (a, b, labels))
    if not (sa.shape == sb.shape == y.shape):
        raise ConfigError(f"scores and labels differ in shape: {sa.shape}, {sb.shape}, {y.shape}")
    rng = np.random.default_rng(seed)
    diff = auprc(y.ravel(), sa.ravel()) - auprc(y.ravel(), sb.ravel())
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        yi = y[i].ravel()
        if 0 < yi.sum() < yi.size:
            boots.append(auprc(yi, sa[i].ravel()) - auprc(yi, sb[i].ravel()))
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if boots else (np.nan, np.nan))
    return {"diff": float(diff), "ci_low": float(lo), "ci_high": float(hi), "n_windows": int(len(y))}

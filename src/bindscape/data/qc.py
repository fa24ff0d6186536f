"""Negative-set quality control: match quality (GC/repeat distributions, KS statistics) and a shortcut detector.

- `match_report(positives, negatives, genome)`: GC and soft-mask repeat fractions of both sets, their
  histograms and two-sample Kolmogorov-Smirnov statistics (how well a sampler matched composition).
- `shortcut_auc(pos_codes, neg_codes)`: a logistic regression on k-mer counts (k = 1..3, 84 features)
  fitted with stratified k-fold cross-validation; its auROC says how far the negatives can be told apart
  from the positives by composition alone. ~0.5 means no shortcut; near 1 means a model can score well
  without learning any motif (dinucleotide-shuffled or GC-biased negatives).
- `dataset_qc(dataset)`: both, per negative ``source`` of a dataset (what `bindscape qc DATASET` prints).

Regions with a ``sequence`` column (shuffled negatives) are read from it, not from the genome.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bindscape.data.negatives import region_codes
from bindscape.errors import InputError


def composition(codes: np.ndarray, repeat: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """GC fraction (of non-N bases) and N fraction per row of codes (N, L).

    Parameters
    ----------
    codes
        ``(N, L)`` base codes (A=0 C=1 G=2 T=3 N=4).
    repeat
        ``(N,)`` repeat fractions to pass through (None: no ``repeat`` key).

    Returns
    -------
    dict[str, numpy.ndarray]
        ``gc`` (nan for all-N rows), ``n`` and optionally ``repeat``, each ``(N,)``.
    """
    codes = np.asarray(codes)
    valid = (codes < 4).sum(axis=1)
    gc = ((codes == 1) | (codes == 2)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"gc": np.where(valid > 0, gc / np.maximum(valid, 1), np.nan), "n": 1 - valid / codes.shape[1]}
    if repeat is not None:
        out["repeat"] = repeat
    return out


def repeat_fractions(genome, regions: pd.DataFrame) -> np.ndarray:
    """Soft-masked fraction per region, from its coordinates (a shuffled negative keeps its positive's
    coordinates, so it reports the repeat fraction of the sequence it was shuffled from).

    Parameters
    ----------
    genome
        The genome (zeros when it has no repeat mask).
    regions
        ``chrom, start, end`` rows.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` fractions in [0, 1].
    """
    if not getattr(genome, "has_repeats", True) or len(regions) == 0:
        return np.zeros(len(regions))
    return genome.repeat_fraction(regions["chrom"].to_numpy(), regions["start"].to_numpy(), regions["end"].to_numpy())


def ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value (NaN-free inputs; (nan, nan) when a side is empty).

    Parameters
    ----------
    a, b
        The two samples; non-finite values are dropped first.

    Returns
    -------
    tuple[float, float]
        ``(statistic, p-value)``.
    """
    from scipy.stats import ks_2samp

    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    r = ks_2samp(a, b)
    return float(r.statistic), float(r.pvalue)


def match_report(
    positives: pd.DataFrame, negatives: pd.DataFrame, genome, *, bins: int = 20
) -> dict[str, Any]:
    """How well `negatives` match `positives` in GC and repeat content.

    Returns ``{"n_pos", "n_neg", "gc": {...}, "repeat": {...}}`` where each of gc/repeat holds the means,
    the KS statistic and p-value, and histograms (``edges``, ``pos``, ``neg`` as fractions per bin).

    Parameters
    ----------
    positives, negatives
        Equal-length region tables (a ``sequence`` column is used where set).
    genome
        The genome sequences and repeat fractions are read from.
    bins
        Histogram bins over [0, 1].

    Returns
    -------
    dict[str, Any]
        As described above.
    """
    lp = region_codes(genome, positives) if len(positives) else np.zeros((0, 1), np.uint8)
    ln = region_codes(genome, negatives) if len(negatives) else np.zeros((0, 1), np.uint8)
    cp = composition(lp, repeat_fractions(genome, positives))
    cn = composition(ln, repeat_fractions(genome, negatives))
    out: dict[str, Any] = {"n_pos": int(len(positives)), "n_neg": int(len(negatives))}
    edges = np.linspace(0, 1, bins + 1)
    for key in ("gc", "repeat"):
        a, b = cp[key], cn[key]
        stat, p = ks(a, b)
        hp = np.histogram(a[np.isfinite(a)], edges)[0]
        hn = np.histogram(b[np.isfinite(b)], edges)[0]
        out[key] = {
            "pos_mean": float(np.nanmean(a)) if len(a) else float("nan"),
            "neg_mean": float(np.nanmean(b)) if len(b) else float("nan"),
            "ks": stat,
            "ks_pvalue": p,
            "edges": edges.round(6).tolist(),
            "pos": (hp / max(hp.sum(), 1)).round(6).tolist(),
            "neg": (hn / max(hn.sum(), 1)).round(6).tolist(),
        }
    return out


def kmer_features(codes: np.ndarray, k_max: int = 3) -> np.ndarray:
    """Counts of every k-mer, k = 1..k_max, per row of codes (N, L), divided by the row's length:
    (N, 4 + 16 + ... + 4**k_max) float32. k-mers containing N are skipped.

    Parameters
    ----------
    codes
        ``(N, L)`` base codes (A=0 C=1 G=2 T=3 N=4).
    k_max
        Longest k-mer.

    Returns
    -------
    numpy.ndarray
        ``(N, 4 + ... + 4**k_max)`` float32, k = 1 first, k-mers in lexicographic ACGT order.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n, L = codes.shape
    feats = []
    for k in range(1, k_max + 1):
        m = L - k + 1
        if m <= 0:
            feats.append(np.zeros((n, 4**k), np.float32))
            continue
        key = np.zeros((n, m), dtype=np.int64)
        bad = np.zeros((n, m), dtype=bool)
        for i in range(k):
            part = codes[:, i : i + m]
            key = key * 4 + np.minimum(part, 3)
            bad |= part > 3
        key = np.where(bad, 4**k, key) + (4**k + 1) * np.arange(n)[:, None]
        cnt = np.bincount(key.ravel(), minlength=(4**k + 1) * n).reshape(n, 4**k + 1)[:, : 4**k]
        feats.append((cnt / L).astype(np.float32))
    return np.concatenate(feats, axis=1)


def shortcut_auc(
    pos_codes: np.ndarray,
    neg_codes: np.ndarray,
    *,
    k_max: int = 3,
    folds: int = 5,
    max_per_class: int = 20_000,
    seed: int = 0,
) -> float:
    """Cross-validated auROC of a logistic regression on k-mer counts (k <= `k_max`) separating the two sets.

    Each class is subsampled to at most `max_per_class` rows (seeded) to keep it fast. ~0.5: the negatives
    cannot be told apart by composition; ~1: a composition shortcut exists.

    Parameters
    ----------
    pos_codes, neg_codes
        ``(N, L)`` base codes of the positives and the negatives.
    k_max
        Longest k-mer in the features.
    folds
        Stratified cross-validation folds (each class needs at least this many rows).
    max_per_class
        Subsample size per class.
    seed
        Seed of the subsampling and the fold split.

    Returns
    -------
    float
        The auROC of the out-of-fold decision values.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)

    def sub(x):
        x = np.asarray(x)
        if len(x) > max_per_class:
            x = x[np.sort(rng.choice(len(x), max_per_class, replace=False))]
        return x

    p, q = sub(pos_codes), sub(neg_codes)
    if min(len(p), len(q)) < folds:
        raise InputError(f"shortcut detector needs at least {folds} positives and negatives, got {len(p)} and {len(q)}")
    X = np.concatenate([kmer_features(p, k_max), kmer_features(q, k_max)])
    y = np.r_[np.ones(len(p)), np.zeros(len(q))]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    score = cross_val_predict(model, X, y, cv=cv, method="decision_function")
    return float(roc_auc_score(y, score))


def negatives_qc(
    positives: pd.DataFrame, negatives: pd.DataFrame, genome, *, shortcut: bool = True, seed: int = 0
) -> dict[str, Any]:
    """Match report plus shortcut auROC for one positives/negatives pair (flat summary first).

    Parameters
    ----------
    positives, negatives
        Equal-length region tables.
    genome
        The genome.
    shortcut
        Also run `shortcut_auc` (nan when a class is too small).
    seed
        Seed of the shortcut detector.

    Returns
    -------
    dict[str, Any]
        ``n_pos, n_neg, gc_ks, repeat_ks, gc_pos_mean, gc_neg_mean`` (+ ``shortcut_auc``) and the full
        `match_report` under ``report``.
    """
    rep = match_report(positives, negatives, genome)
    out = {
        "n_pos": rep["n_pos"],
        "n_neg": rep["n_neg"],
        "gc_ks": rep["gc"]["ks"],
        "repeat_ks": rep["repeat"]["ks"],
        "gc_pos_mean": rep["gc"]["pos_mean"],
        "gc_neg_mean": rep["gc"]["neg_mean"],
    }
    if shortcut:
        try:
            out["shortcut_auc"] = shortcut_auc(region_codes(genome, positives), region_codes(genome, negatives),
                                               seed=seed)
        except InputError:
            out["shortcut_auc"] = float("nan")
    out["report"] = rep
    return out


def dataset_qc(dataset, *, genome=None, split: str | None = "train", shortcut: bool = True,
               seed: int = 0) -> pd.DataFrame:
    """Per negative ``source`` of a dataset: counts, GC/repeat KS vs the positives, shortcut auROC.

    `split`: the split to check (default train, where the detector matters; None = all rows).

    Parameters
    ----------
    dataset
        A `Dataset` or a dataset folder (needs a ``label`` column).
    genome
        The genome (None: the dataset's own).
    split
        See above.
    shortcut
        Also run the shortcut detector.
    seed
        Seed of the shortcut detector.

    Returns
    -------
    pandas.DataFrame
        One row per negative source: ``source`` and the flat fields of `negatives_qc`.
    """
    from bindscape.data.dataset import Dataset, load_dataset

    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    g = genome if genome is not None else ds.open_genome()
    reg = ds.regions
    if split is not None and "split" in reg:
        if not (reg["split"] == split).any():
            raise InputError(f"{ds.path}: no rows in split {split!r}")
        reg = reg[reg["split"] == split]
    if "label" not in reg:
        raise InputError(f"{ds.path}: dataset has no label column")
    pos = reg[reg["label"] == 1].reset_index(drop=True)
    neg = reg[reg["label"] == 0]
    src = neg["source"] if "source" in neg else pd.Series("negatives", index=neg.index)
    rows = []
    for name, sub in neg.groupby(src, sort=True):
        q = negatives_qc(pos, sub.reset_index(drop=True), g, shortcut=shortcut, seed=seed)
        q.pop("report")
        rows.append({"source": name, **q})
    return pd.DataFrame(rows)

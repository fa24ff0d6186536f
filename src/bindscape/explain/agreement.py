"""Score agreement between two models' attributions on the same sequences (MORALE's comparison of
importance scores of source, target and adapted models)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError


def _corr(a: np.ndarray, b: np.ndarray, method: str) -> float:
    if method == "spearman":
        from scipy.stats import rankdata

        a, b = rankdata(a), rankdata(b)
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def score_agreement(scores_a, scores_b, *, method: str = "pearson") -> dict:
    """Correlation of two attribution maps of the same sequences.

    Parameters
    ----------
    scores_a, scores_b : array-like
        Per-position scores ``(N, L)`` or attributions ``(N, 4, L)`` (flattened per sequence).
    method : str
        ``pearson`` or ``spearman``.

    Returns
    -------
    dict
        ``{"per_sequence": (N,) correlations, "mean", "median", "pooled", "method", "n"}`` (``pooled``: one
        correlation over all values).
    """
    if method not in ("pearson", "spearman"):
        raise ConfigError(f"method must be pearson or spearman, got {method!r}")
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ConfigError(f"the two score arrays differ in shape: {a.shape} vs {b.shape}")
    a2 = a.reshape(len(a), -1)
    b2 = b.reshape(len(b), -1)
    per = np.array([_corr(a2[i], b2[i], method) for i in range(len(a2))])
    return {"per_sequence": per, "mean": float(np.nanmean(per)), "median": float(np.nanmedian(per)),
            "pooled": _corr(a2.ravel(), b2.ravel(), method), "method": method, "n": int(len(a2))}


def agreement_table(scores: dict, *, method: str = "pearson") -> pd.DataFrame:
    """Pairwise agreement of several models' scores.

    Parameters
    ----------
    scores : dict
        Model name -> scores of the same sequences (``{"source": S1, "target": S2, "adapted": S3}``).
    method : str
        ``pearson`` or ``spearman``.

    Returns
    -------
    pandas.DataFrame
        One row per pair: model_a, model_b, mean_r, median_r, pooled_r, n.
    """
    names = list(scores)
    rows = []
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            r = score_agreement(scores[x], scores[y], method=method)
            rows.append({"model_a": x, "model_b": y, "mean_r": r["mean"], "median_r": r["median"],
                         "pooled_r": r["pooled"], "n": r["n"]})
    return pd.DataFrame(rows)

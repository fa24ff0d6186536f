"""Classification metrics, thresholds, bootstrap intervals, per-group scores and cross matrices.

Ranking metrics come from scikit-learn (auROC, average precision). The partial auROC for FPR <= 0.1 is given
both raw (the area, at most 0.1) and McClish-standardised (0.5 for a random ranking, 1 for a perfect one —
what ``roc_auc_score(max_fpr=0.1)`` returns). Threshold metrics use a threshold chosen on validation data
(max F1 or max MCC) and applied unchanged to the test set. Bootstrap intervals resample examples with
replacement (stratified by label so each resample has both classes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError

RANKING = ("auROC", "auPRC", "pAUROC", "pAUROC_std")
THRESHOLDED = ("accuracy", "precision", "recall", "specificity", "F1", "MCC")


def _check(y, s) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int8).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ConfigError(f"labels and scores differ in length ({len(y)} vs {len(s)})")
    if not np.isfinite(s).all():
        raise ConfigError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite")
    return y, s


def auroc(y, s) -> float:
    """Area under the ROC curve via the Mann-Whitney rank sum (ties get average ranks; equals sklearn's).

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores (higher: more likely positive), finite, same length.

    Returns
    -------
    float
        nan when only one class is present.
    """
    from scipy.stats import rankdata

    y, s = _check(y, s)
    P = int(y.sum())
    N = len(y) - P
    if P == 0 or N == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y == 1].sum() - P * (P + 1) / 2) / (P * N))


def auprc(y, s) -> float:
    """Average precision (the step-wise area under the precision-recall curve).

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores, finite, same length.

    Returns
    -------
    float
        nan without positives.
    """
    from sklearn.metrics import average_precision_score

    y, s = _check(y, s)
    return float(average_precision_score(y, s)) if y.sum() > 0 else float("nan")


def partial_auroc(y, s, max_fpr: float = 0.1, standardized: bool = False) -> float:
    """Area under the ROC curve for FPR in [0, max_fpr]; McClish-standardised when `standardized`.

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores, finite, same length.
    max_fpr
        Upper end of the false-positive-rate range, in (0, 1].
    standardized
        Rescale so a random ranking gives 0.5 and a perfect one 1.

    Returns
    -------
    float
        The raw area (at most `max_fpr`) or the standardised value; nan when only one class is present.
    """
    from sklearn.metrics import roc_curve

    y, s = _check(y, s)
    if not 0 < y.sum() < len(y):
        return float("nan")
    if not 0 < max_fpr <= 1:
        raise ConfigError(f"max_fpr must be in (0, 1], got {max_fpr}")
    fpr, tpr, _ = roc_curve(y, s)
    stop = np.searchsorted(fpr, max_fpr, "right")
    x = np.r_[fpr[:stop], max_fpr]
    t = np.r_[tpr[:stop], np.interp(max_fpr, fpr, tpr)]
    area = float(np.sum(np.diff(x) * (t[1:] + t[:-1]) / 2))
    if not standardized:
        return area
    lo, hi = max_fpr**2 / 2, max_fpr
    return float(0.5 * (1 + (area - lo) / (hi - lo)))


def confusion(y, s, threshold: float) -> dict[str, int]:
    """Confusion counts of the calls ``s >= threshold``.

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores, finite, same length.
    threshold
        Scores at or above it are called positive.

    Returns
    -------
    dict[str, int]
        ``TP``, ``FP``, ``TN``, ``FN``.
    """
    y, s = _check(y, s)
    pred = s >= threshold
    return {
        "TP": int((pred & (y == 1)).sum()),
        "FP": int((pred & (y == 0)).sum()),
        "TN": int((~pred & (y == 0)).sum()),
        "FN": int((~pred & (y == 1)).sum()),
    }


def _from_counts(tp, fp, tn, fn) -> dict[str, np.ndarray]:
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        rec = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        spec = np.where(tn + fp > 0, tn / (tn + fp), 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)
        acc = (tp + tn) / (tp + fp + tn + fn)
    return {"accuracy": acc, "precision": prec, "recall": rec, "specificity": spec, "F1": f1, "MCC": mcc}


def threshold_metrics(y, s, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall, specificity, F1, MCC (0 where undefined), the confusion counts
    ``TP/FP/TN/FN`` and ``threshold``, for the calls ``s >= threshold`` (arguments as in `confusion`)."""
    c = confusion(y, s, threshold)
    m = {k: float(v) for k, v in _from_counts(c["TP"], c["FP"], c["TN"], c["FN"]).items()}
    return {**m, **c, "threshold": float(threshold)}


def choose_threshold(y, s, criterion: str = "F1") -> float:
    """The score threshold that maximises F1 or MCC on these (validation) data; all cut points are tried.

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores, finite, same length.
    criterion
        ``F1`` or ``MCC`` (case-insensitive).

    Returns
    -------
    float
        One of the scores in `s` (calls are ``score >= threshold``).
    """
    crit = {"f1": "F1", "mcc": "MCC"}.get(criterion.lower())
    if crit is None:
        raise ConfigError(f"threshold criterion must be 'F1' or 'MCC', got {criterion!r}")
    y, s = _check(y, s)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    # candidate thresholds: each distinct score (predict positive for scores >= it)
    last = np.r_[ss[1:] != ss[:-1], True]
    tp = np.cumsum(ys)[last]
    fp = np.cumsum(1 - ys)[last]
    P, N = ys.sum(), len(ys) - ys.sum()
    vals = _from_counts(tp, fp, N - fp, P - tp)[crit]
    return float(ss[last][int(np.argmax(vals))])


def ranking_metrics(y, s, max_fpr: float = 0.1) -> dict[str, float]:
    """The threshold-free metrics of scores `s` against labels `y`.

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores, finite, same length.
    max_fpr
        FPR limit of the partial auROC.

    Returns
    -------
    dict[str, float]
        ``auROC``, ``auPRC``, ``pAUROC`` (raw) and ``pAUROC_std`` (McClish-standardised).
    """
    return {
        "auROC": auroc(y, s),
        "auPRC": auprc(y, s),
        "pAUROC": partial_auroc(y, s, max_fpr),
        "pAUROC_std": partial_auroc(y, s, max_fpr, standardized=True),
    }


def bootstrap_ci(
    y, s, metric: Callable[[np.ndarray, np.ndarray], float], *, n: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for `metric`, resampling positives and negatives separately.

    Parameters
    ----------
    y
        0/1 labels.
    s
        Scores, finite, same length.
    metric
        ``metric(y, s) -> float``, e.g. `auprc`.
    n
        Bootstrap resamples.
    alpha
        1 - coverage (0.05: a 95% interval).
    seed
        Seed of the resampling.

    Returns
    -------
    tuple[float, float]
        ``(low, high)``; nan, nan when only one class is present.
    """
    y, s = _check(y, s)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    vals = np.empty(n)
    for b in range(n):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        vals[b] = metric(y[idx], s[idx])
    return float(np.quantile(vals, alpha / 2)), float(np.quantile(vals, 1 - alpha / 2))


@dataclass
class Evaluation:
    """Metrics of one model on one test set, with optional intervals."""

    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]

    def row(self, name: str | None = None) -> dict:
        """One flat table row: the metrics, each interval as ``<metric>_lo``/``<metric>_hi`` after it.

        Parameters
        ----------
        name
            Model name put first in a ``model`` column (None or empty: no such column).

        Returns
        -------
        dict
        """
        out = {"model": name} if name else {}
        for k, v in self.metrics.items():
            out[k] = v
            if k in self.intervals:
                out[f"{k}_lo"], out[f"{k}_hi"] = self.intervals[k]
        return out


def evaluate_scores(
    y,
    s,
    *,
    threshold: float | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    criterion: str = "F1",
    bootstrap: int = 0,
    seed: int = 0,
    max_fpr: float = 0.1,
) -> Evaluation:
    """All metrics for scores `s` against labels `y`.

    The threshold is `threshold` when given, else chosen on `val = (y_val, s_val)` by `criterion`, else on the
    test data themselves (flagged as ``threshold_source = 'test'`` — optimistic; prefer validation data).

    Parameters
    ----------
    y
        0/1 test labels.
    s
        Test scores, finite, same length.
    threshold
        Fixed threshold (``threshold_source = 'given'``).
    val
        ``(y_val, s_val)`` to choose the threshold on.
    criterion
        ``F1`` or ``MCC``: what the chosen threshold maximises.
    bootstrap
        Resamples for intervals of auROC, auPRC and pAUROC_std (0: none).
    seed
        Seed of the bootstrap.
    max_fpr
        FPR limit of the partial auROC.

    Returns
    -------
    Evaluation
        Ranking and threshold metrics plus ``n``, ``positives``, ``threshold_source``, and the intervals.
    """
    y, s = _check(y, s)
    src = "given"
    if threshold is None:
        if val is not None:
            threshold, src = choose_threshold(*val, criterion=criterion), "val"
        else:
            threshold, src = choose_threshold(y, s, criterion=criterion), "test"
    m = {**ranking_metrics(y, s, max_fpr), **threshold_metrics(y, s, threshold)}
    m["n"] = int(len(y))
    m["positives"] = int(y.sum())
    m["threshold_source"] = src
    intervals = {}
    if bootstrap:
        fns = {"auROC": auroc, "auPRC": auprc, "pAUROC_std": lambda a, b: partial_auroc(a, b, max_fpr, True)}
        for name, fn in fns.items():
            intervals[name] = bootstrap_ci(y, s, fn, n=bootstrap, seed=seed)
    return Evaluation(m, intervals)


def metrics_by_group(
    df: pd.DataFrame, *, by: str | list[str], label: str = "label", score: str = "score", min_n: int = 1
) -> pd.DataFrame:
    """Ranking metrics per group (TF, cell, species, chromosome, repeat, promoter ...).

    Parameters
    ----------
    df
        One row per example.
    by
        Grouping column(s).
    label
        Column of 0/1 labels.
    score
        Column of scores.
    min_n
        Groups with fewer rows are left out.

    Returns
    -------
    pandas.DataFrame
        The `by` columns, ``n``, ``positives`` and `ranking_metrics` per group.
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, sub in df.groupby(by, observed=True):
        if len(sub) < min_n:
            continue
        key = key if isinstance(key, tuple) else (key,)
        y, s = sub[label].to_numpy(), sub[score].to_numpy()
        rows.append({**dict(zip(by, key)), "n": len(sub), "positives": int(y.sum()), **ranking_metrics(y, s)})
    return pd.DataFrame(rows)


def cross_matrix(
    scores: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]], metric: str = "auPRC"
) -> pd.DataFrame:
    """Models x test sets matrix of `metric` from {(model, test_set): (labels, scores)}.

    Parameters
    ----------
    scores
        ``{(model, test_set): (labels, scores)}``.
    metric
        ``auROC``, ``auPRC`` or ``pAUROC_std``.

    Returns
    -------
    pandas.DataFrame
        Index ``model``, columns ``test set``, in first-seen order; nan for missing pairs.
    """
    fn = {"auROC": auroc, "auPRC": auprc, "pAUROC_std": lambda a, b: partial_auroc(a, b, 0.1, True)}.get(metric)
    if fn is None:
        raise ConfigError(f"cross matrices support auROC, auPRC, pAUROC_std; got {metric!r}")
    cells = {(m, t): fn(y, s) for (m, t), (y, s) in scores.items()}
    models = list(dict.fromkeys(m for m, _ in cells))
    tests = list(dict.fromkeys(t for _, t in cells))
    mat = pd.DataFrame(np.nan, index=models, columns=tests)
    for (m, t), v in cells.items():
        mat.loc[m, t] = v
    mat.index.name, mat.columns.name = "model", "test set"
    return mat


def calibration(y, p, bins: int = 10) -> pd.DataFrame:
    """Reliability table: per probability bin, mean predicted probability and observed positive rate.

    Parameters
    ----------
    y
        0/1 labels.
    p
        Probabilities in [0, 1].
    bins
        Equal-width bins over [0, 1].

    Returns
    -------
    pandas.DataFrame
        ``bin, lo, hi, n, mean_pred, frac_pos`` for the non-empty bins.
    """
    y, p = _check(y, p)
    if p.min() < 0 or p.max() > 1:
        raise ConfigError("calibration needs probabilities in [0, 1] (apply a sigmoid to logits first)")
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            rows.append({"bin": b, "lo": edges[b], "hi": edges[b + 1], "n": int(sel.sum()),
                         "mean_pred": float(p[sel].mean()), "frac_pos": float(y[sel].mean())})
    return pd.DataFrame(rows)



def binary_metrics(y, p, threshold: float = 0.5) -> dict[str, float]:
    """Training-time summary of binary predictions: per-output auROC/auPRC/MCC averaged over the outputs
    (columns) that have both classes, plus the mean BCE of the probabilities.

    Parameters
    ----------
    y
        Labels, ``(N,)`` or ``(N, n_outputs)``; values above 0.5 are positives, NaN unknown (skipped).
    p
        Probabilities, the same shape as `y`.
    threshold
        Probability cut for the MCC.

    Returns
    -------
    dict
        ``auroc``, ``auprc``, ``mcc`` (NaN when no output has both classes), ``loss``, ``n``, ``positives``.
    """
    from sklearn.metrics import average_precision_score, matthews_corrcoef, roc_auc_score

    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    eps = 1e-7
    pc = np.clip(p, eps, 1 - eps)
    known = ~np.isnan(y)  # NaN: unknown label (a pooled multi-TF dataset), left out
    ll = y * np.log(pc) + (1 - y) * np.log(1 - pc)
    loss = float(-np.mean(ll if known.all() else ll[known]))
    aurocs, auprcs, mccs = [], [], []
    for j in range(y.shape[1]):
        yj, pj = y[known[:, j], j] > 0.5, p[known[:, j], j]
        if yj.all() or not yj.any():
            continue
        aurocs.append(roc_auc_score(yj, pj))
        auprcs.append(average_precision_score(yj, pj))
        mccs.append(matthews_corrcoef(yj, pj >= threshold))
    nan = float("nan")
    return {
        "auroc": float(np.mean(aurocs)) if aurocs else nan,
        "auprc": float(np.mean(auprcs)) if auprcs else nan,
        "mcc": float(np.mean(mccs)) if mccs else nan,
        "loss": loss,
        "n": int(len(y)),
        "positives": int((y > 0.5).sum()),
    }

"""Minimal binary metrics for training (auROC, auPRC, MCC, loss); `bindscape.evaluate` has the full set."""

from __future__ import annotations

import numpy as np


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Per-output auROC/auPRC/MCC averaged over outputs (columns) that have both classes."""
    from sklearn.metrics import average_precision_score, matthews_corrcoef, roc_auc_score

    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    eps = 1e-7
    pc = np.clip(p, eps, 1 - eps)
    loss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    aurocs, auprcs, mccs = [], [], []
    for j in range(y.shape[1]):
        yj = y[:, j] > 0.5
        if yj.all() or not yj.any():
            continue
        aurocs.append(roc_auc_score(yj, p[:, j]))
        auprcs.append(average_precision_score(yj, p[:, j]))
        mccs.append(matthews_corrcoef(yj, p[:, j] >= threshold))
    nan = float("nan")
    return {
        "auroc": float(np.mean(aurocs)) if aurocs else nan,
        "auprc": float(np.mean(auprcs)) if auprcs else nan,
        "mcc": float(np.mean(mccs)) if mccs else nan,
        "loss": loss,
        "n": int(len(y)),
        "positives": int((y > 0.5).sum()),
    }

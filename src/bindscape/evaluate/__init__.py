"""bindscape.evaluate: metrics, thresholds, bootstrap intervals, per-group scores and cross matrices."""

from bindscape.evaluate.metrics import (
    Evaluation,
    auprc,
    auroc,
    bootstrap_ci,
    calibration,
    choose_threshold,
    cross_matrix,
    evaluate_scores,
    metrics_by_group,
    partial_auroc,
    ranking_metrics,
    threshold_metrics,
)

__all__ = [
    "Evaluation", "auprc", "auroc", "bootstrap_ci", "calibration", "choose_threshold", "cross_matrix",
    "evaluate_scores", "metrics_by_group", "partial_auroc", "ranking_metrics", "threshold_metrics",
]

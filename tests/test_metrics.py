import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from bindscape.errors import ConfigError
from bindscape.evaluate.metrics import (
    auprc,
    auroc,
    bootstrap_ci,
    calibration,
    choose_threshold,
    cross_matrix,
    evaluate_scores,
    metrics_by_group,
    partial_auroc,
    threshold_metrics,
)


@pytest.mark.parametrize("seed", range(5))
def test_ranking_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = 500
    y = (rng.random(n) < 0.2).astype(int)
    s = rng.normal(size=n) + y * rng.uniform(0, 2)
    if seed == 4:
        s = np.round(s, 1)  # ties
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert partial_auroc(y, s, 0.1, standardized=True) == pytest.approx(roc_auc_score(y, s, max_fpr=0.1), abs=1e-9)
    raw = partial_auroc(y, s, 0.1)
    assert 0 <= raw <= 0.1


def test_partial_auroc_extremes():
    y = np.r_[np.ones(50), np.zeros(50)]
    assert partial_auroc(y, -np.arange(100.0)) == pytest.approx(0.1)
    assert partial_auroc(y, -np.arange(100.0), standardized=True) == pytest.approx(1.0)
    assert partial_auroc(y, np.arange(100.0)) == pytest.approx(0.0)


def test_threshold_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    s = rng.random(400) + 0.4 * y
    m = threshold_metrics(y, s, 0.6)
    pred = (s >= 0.6).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["F1"] == pytest.approx(f1_score(y, pred))
    assert m["MCC"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["TP"] + m["FP"] + m["TN"] + m["FN"] == 400


def test_choose_threshold_is_optimal():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(int)
    s = np.round(rng.random(300) + 0.3 * y, 2)
    for crit, fn in (("F1", f1_score), ("MCC", matthews_corrcoef)):
        t = choose_threshold(y, s, crit)
        best = max(fn(y, (s >= c).astype(int)) for c in np.unique(s))
        assert fn(y, (s >= t).astype(int)) == pytest.approx(best)
    with pytest.raises(ConfigError, match="F1"):
        choose_threshold(y, s, "youden")


def test_bootstrap_interval_sanity():
    rng = np.random.default_rng(2)
    y = (rng.random(600) < 0.3).astype(int)
    s = rng.normal(size=600) + y
    lo, hi = bootstrap_ci(y, s, auroc, n=300, seed=0)
    point = auroc(y, s)
    assert lo < point < hi
    assert 0.02 < hi - lo < 0.15
    # more data -> narrower interval
    y2, s2 = np.tile(y, 4), np.tile(s, 4) + rng.normal(0, 1e-6, 2400)
    lo2, hi2 = bootstrap_ci(y2, s2, auroc, n=300, seed=0)
    assert hi2 - lo2 < hi - lo
    assert bootstrap_ci(y, s, auroc, n=50, seed=3) == bootstrap_ci(y, s, auroc, n=50, seed=3)


def test_evaluate_scores_uses_validation_threshold():
    rng = np.random.default_rng(3)
    yv, sv = (rng.random(200) < 0.5).astype(int), rng.random(200)
    y, s = (rng.random(200) < 0.5).astype(int), rng.random(200)
    ev = evaluate_scores(y, s, val=(yv, sv), bootstrap=50)
    assert ev.metrics["threshold"] == choose_threshold(yv, sv)
    assert ev.metrics["threshold_source"] == "val"
    assert set(ev.intervals) == {"auROC", "auPRC", "pAUROC_std"}
    row = ev.row("m")
    assert row["model"] == "m" and "auROC_lo" in row


def test_groups_cross_and_calibration():
    import pandas as pd

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"tf": np.repeat(["A", "B"], 100), "label": rng.integers(0, 2, 200), "score": rng.random(200)})
    g = metrics_by_group(df, by="tf")
    assert list(g["tf"]) == ["A", "B"]
    assert g.loc[0, "auROC"] == pytest.approx(roc_auc_score(df.label[:100], df.score[:100]))
    y = df.label.to_numpy()
    mat = cross_matrix({("m1", "t1"): (y, df.score), ("m1", "t2"): (y, y + 0.0), ("m2", "t1"): (y, -y + 0.0)},
                       "auROC")
    assert mat.loc["m1", "t2"] == 1.0 and mat.loc["m2", "t1"] == 0.0 and np.isnan(mat.loc["m2", "t2"])
    p = rng.random(5000)
    yy = (rng.random(5000) < p).astype(int)
    cal = calibration(yy, p, 10)
    assert len(cal) == 10 and np.allclose(cal["mean_pred"], cal["frac_pos"], atol=0.06)
    with pytest.raises(ConfigError, match="probabilities"):
        calibration(yy, p * 3)

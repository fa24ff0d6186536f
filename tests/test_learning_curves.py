"""benchmarks/learning_curves.py: training-split subsampling and the summary tables (no training here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bindscape.data.dataset import load_dataset, write_dataset
from conftest import load_benchmark


@pytest.fixture(scope="module")
def lc():
    return load_benchmark("learning_curves")


def _sequence_dataset(path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for split, npos, nneg in (("train", 40, 80), ("val", 10, 20), ("test", 12, 24)):
        for lab, n in ((1, npos), (0, nneg)):
            rows += [{"split": split, "label": lab, "sequence": "".join(rng.choice(list("ACGT"), 20))}
                     for _ in range(n)]
    df = pd.DataFrame(rows)
    df.insert(0, "chrom", "seq")
    df.insert(1, "start", np.arange(len(df)))
    df.insert(2, "end", df["start"] + 20)
    return write_dataset(path, df, builder="sequences", params={}, seed=0, genome=None)


def _counts(reg: pd.DataFrame) -> dict:
    return reg.groupby(["split", "label"]).size().to_dict()


def test_subsample_keeps_ratio_and_other_splits(lc, tmp_path):
    src = _sequence_dataset(tmp_path / "full")
    counts = lc.subsample_train(src, tmp_path / "q", 0.25, seed=3)
    assert counts == {"n_train_pos": 10, "n_train": 30}
    full, sub = load_dataset(src).regions, load_dataset(tmp_path / "q").regions
    c = _counts(sub)
    assert (c[("train", 1)], c[("train", 0)]) == (10, 20)  # 2 negatives per positive, as in the full set
    for split in ("val", "test"):
        pd.testing.assert_frame_equal(full[full["split"] == split].reset_index(drop=True),
                                      sub[sub["split"] == split].reset_index(drop=True))
    assert set(sub.loc[sub["split"] == "train", "sequence"]) <= set(full.loc[full["split"] == "train", "sequence"])
    # same seed, same draw; another seed, another draw; fraction 1 copies every row
    lc.subsample_train(src, tmp_path / "q2", 0.25, seed=3)
    lc.subsample_train(src, tmp_path / "q3", 0.25, seed=4)
    assert load_dataset(tmp_path / "q2").regions.equals(sub)
    assert not load_dataset(tmp_path / "q3").regions.equals(sub)
    assert lc.subsample_train(src, tmp_path / "all", 1.0, seed=9) == {"n_train_pos": 40, "n_train": 120}
    with pytest.raises(ValueError, match="fraction"):
        lc.subsample_train(src, tmp_path / "bad", 0.0, seed=0)


def test_summary_and_last_doubling(lc):
    rows = []
    for fr, base in ((0.5, 0.80), (1.0, 0.85)):
        for seed, d in ((0, -0.01), (1, 0.01)):
            rows.append({"experiment": "e", "test_set": "t", "model": lc.DEFAULT_MODEL, "fraction": fr,
                         "seed": seed, "n_train_pos": 100 * fr, "train_cpu_s": 10.0, "auROC": base + d,
                         "auROC_lo": base - 0.05, "auROC_hi": base + 0.05, "auPRC": base, "auPRC_lo": 0.0,
                         "auPRC_hi": 1.0})
        rows.append({"experiment": "e", "test_set": "t", "model": "PWM X", "fraction": fr, "seed": -1,
                     "n_train_pos": 100 * fr, "train_cpu_s": 0.0, "auROC": 0.95, "auROC_lo": 0.9,
                     "auROC_hi": 0.99, "auPRC": 0.95, "auPRC_lo": 0.9, "auPRC_hi": 0.99})
    s = lc.summarise(pd.DataFrame(rows))
    top = s[(s["model"] == lc.DEFAULT_MODEL) & (s["fraction"] == 1.0)].iloc[0]
    assert top["auROC_mean"] == pytest.approx(0.85)
    assert top["auROC_sd"] == pytest.approx(np.std([0.84, 0.86], ddof=1))
    assert (top["auROC_lo"], top["n_seeds"]) == (pytest.approx(0.80), 2)
    assert s[s["model"] == "PWM X"]["auROC_sd"].eq(0).all()
    slope = lc.last_doubling(s).set_index("metric")
    assert slope.loc["auROC", "gain_per_doubling"] == pytest.approx(0.05)
    assert slope.loc["auROC", "doublings_to_pwm"] == pytest.approx(2.0)  # (0.95 - 0.85) / 0.05
    md = lc.markdown(s)
    assert "| 1 | 100 |" in md and "0.850 ± 0.014 [0.800, 0.900]" in md


def test_bad_arguments(lc, tmp_path, capsys):
    for argv in (["--out", str(tmp_path)], ["--out", str(tmp_path), "--yeast", str(tmp_path / "nope")],
                 ["--out", str(tmp_path), "--yeast", str(tmp_path), "--gue-epochs", "many"],
                 ["--out", str(tmp_path), "--yeast", str(tmp_path), "--fractions", "1.5"]):
        with pytest.raises(SystemExit) as exc:
            lc.parse_args(argv)
        assert exc.value.code == 2
    assert "fractions must be in (0, 1]" in capsys.readouterr().err

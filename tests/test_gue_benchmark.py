"""benchmarks/gue.py: the epoch rule it trains with and the merged table's wins counts (no training)."""

from __future__ import annotations

import json

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def gue():
    return load_benchmark("gue")


def test_epochs_follow_the_library_rule_and_clamp(gue):
    assert gue.epochs_for(32_378) == 7  # human/0: round(220,000 / 32,378)
    assert gue.epochs_for(1_904) == 30  # small task: clamped at 30
    assert gue.epochs_for(15_064, examples=440_000) == 29
    assert gue.epochs_for(1_904, examples=440_000) == 30
    assert gue.epochs_for(10**6, examples=10) == 6


def _row(task, auroc, mcc, mcc_dev):
    return {"task": task, "test_auroc": auroc, "test_mcc": mcc, "test_mcc_dev": mcc_dev, "dev_threshold": 0.5,
            "cpu_min": 1.0, "seeds": [0]}


def test_merge_counts_wins_per_mcc(gue, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    # human/0: loses at both MCCs; mouse/3: wins at both; human/4: wins at 0.5 only
    (a / "results.json").write_text(json.dumps([_row("mouse/3", 0.94, 0.80, 0.78), _row("human/0", 0.90, 0.66, 0.65)]))
    (b / "results.json").write_text(json.dumps([_row("human/4", 0.97, 0.7743, 0.75)]))
    assert gue.main(["--merge", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| task")]
    assert [r.split("|")[1].strip() for r in rows] == ["human/0", "human/4", "mouse/3", "mean"]
    assert "1/3 (MCC@0.5: 2/3)" in rows[-1]
    assert "above the best published frozen-embedding result on 3/3" in out


def test_extra_negatives_build_a_separate_dataset_with_training_shuffles(gue, tmp_path):
    import pandas as pd

    from conftest import require_shared

    require_shared("human/gue_tf/mouse/3/train.csv")
    plain, n = gue.build("mouse/3", tmp_path, 0)
    extra, n_extra = gue.build("mouse/3", tmp_path, 0, extra_negatives=1)
    assert extra.name == "mouse_3-extra1" and plain.name == "mouse_3"
    r = pd.read_parquet(extra / "regions.parquet")
    n_pos = int(((r["split"] == "train") & (r["label"] == 1)).sum())
    assert n == 1_904 and n_extra == n + n_pos
    p = pd.read_parquet(plain / "regions.parquet")
    for split in ("val", "test"):  # dev and test are GUE's, unchanged
        assert r.loc[r["split"] == split, "sequence"].tolist() == p.loc[p["split"] == split, "sequence"].tolist()

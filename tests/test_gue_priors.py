"""benchmarks/gue_priors.py: the database / random / k-mer dev diagnosis on a tiny synthetic GUE-like task."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bindscape.motifs import Motif, write_meme
from conftest import load_benchmark

SITE = "TTACCCGG"


@pytest.fixture(scope="module")
def priors():
    return load_benchmark("gue_priors")


def _task(rng, n):
    rows = []
    for i in range(n):
        s = "".join(rng.choice(list("ACGT"), 60))
        if i % 2:
            a = int(rng.integers(0, 52))
            s = s[:a] + SITE + s[a + 8:]
        rows.append((s, i % 2))
    return pd.DataFrame(rows, columns=["sequence", "label"])


def test_database_motif_beats_random_matrices_and_test_split_is_never_read(priors, tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "gue"
    (data / "human" / "9").mkdir(parents=True)
    _task(rng, 400).to_csv(data / "human" / "9" / "train.csv", index=False)
    _task(rng, 200).to_csv(data / "human" / "9" / "dev.csv", index=False)  # no test.csv at all
    matrix = np.full((4, len(SITE)), 0.02)
    for i, b in enumerate(SITE):
        matrix["ACGT".index(b), i] = 0.94
    meme = write_meme(tmp_path / "db.meme", [Motif(name="site", matrix=matrix / matrix.sum(0))])
    monkeypatch.setattr(priors, "DATA", data)
    assert priors.main(["--tasks", "human/9", "--motifs", str(meme), "--out", str(tmp_path / "out")]) == 0
    (row,) = json.loads((tmp_path / "out" / "results.json").read_text())
    assert row["task"] == "human/9" and (row["n_train"], row["n_dev"]) == (400, 200)
    assert row["database_auroc"] > 0.95
    assert row["database_auroc"] > row["random_auroc"] + 0.2
    assert "| human/9 |" in capsys.readouterr().out


def test_unknown_task_and_missing_motif_file_are_one_line_exit_2(priors, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(priors, "DATA", tmp_path)
    assert priors.main(["--tasks", "human/7", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--tasks human/7" in err
    (tmp_path / "human" / "7").mkdir(parents=True)
    (tmp_path / "human" / "7" / "train.csv").write_text("sequence,label\nACGT,1\n")
    assert priors.main(["--tasks", "human/7", "--motifs", str(tmp_path / "none.meme")]) == 2
    assert "--motifs" in capsys.readouterr().err
    assert priors.main(["--tasks", "human/7", "--runs", str(tmp_path / "no-runs")]) == 2
    assert "--runs" in capsys.readouterr().err


def test_cross_fitted_stack_is_out_of_fold(priors):
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 100)
    good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.15, 200), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 200)
    stacked = priors.cross_fitted_stack(y, [good, noise])
    assert stacked.shape == (200,) and np.all((stacked > 0) & (stacked < 1))
    assert np.corrcoef(stacked, good)[0, 1] > 0.9  # the stack leans on the informative column
    assert len(priors.random_pwms([5, 8], seed=0)) == 2 and priors.random_pwms([5], 0)[0].shape == (4, 5)

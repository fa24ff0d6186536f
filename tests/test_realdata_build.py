"""Real-data smoke test: yeast Reb1 ChIP-exo tiles (the issue's acceptance command)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bindscape.cli import main
from bindscape.data.dataset import load_dataset
from conftest import require_shared


def test_yeast_reb1_tiles(tmp_path, capsys):
    data = require_shared("yeast/sacCer3.fa.gz", "yeast/reb1_chipexo_rhee2011.sacCer3.bed")
    out = tmp_path / "reb1-tiles"
    t0 = time.perf_counter()
    code = main(["build", "tiles", "--genome", str(data / "yeast/sacCer3.fa.gz"), "--peaks",
                 f"Reb1={data / 'yeast/reb1_chipexo_rhee2011.sacCer3.bed'}", "--length", "500", "--stride", "450",
                 "--split", "auto", "--out", str(out)])
    elapsed = time.perf_counter() - t0
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert elapsed < 30, f"building took {elapsed:.1f} s"
    df = load_dataset(out).regions
    # no chromosome in two splits, and all three splits present
    assert df.groupby("chrom")["split"].nunique().max() == 1
    assert set(df["split"]) == {"train", "val", "test"}
    # at least 95% of peak summits fall in a positive window
    peaks = pd.read_csv(data / "yeast/reb1_chipexo_rhee2011.sacCer3.bed", sep="\t", header=None, usecols=[0, 1, 2])
    peaks.columns = ["chrom", "start", "end"]
    summits = ((peaks["start"] + peaks["end"]) // 2).to_numpy()
    pos = df[df["label"] == 1]
    covered = 0
    for chrom, sub in peaks.assign(summit=summits).groupby("chrom"):
        w = pos[pos["chrom"] == chrom]
        s, e = np.sort(w["start"].to_numpy()), np.sort(w["end"].to_numpy())
        for x in sub["summit"]:
            i = np.searchsorted(s, x, "right")
            covered += bool(i and (e[max(i - 2, 0):i] > x).any())
    assert covered / len(peaks) >= 0.95, covered / len(peaks)
    # val and test each hold roughly the target share of positives
    share = pos.groupby("split").size() / len(pos)
    assert 0.05 < share["val"] < 0.2 and 0.05 < share["test"] < 0.2
    code = main(["info", str(out)])
    assert code == 0 and "regions" in capsys.readouterr().out

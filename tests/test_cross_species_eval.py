"""Cross-species analyses (MORALE section 2.5): confusion over seeds, differential errors versus the
target-trained model, repeat-stratified auPRC (by soft mask and by named family), species hold-outs."""

import json

import numpy as np
import pandas as pd
import pytest

from bindscape.evaluate import cross_species as cs


class _MaskGenome:
    """Just the part of `bindscape.io.genome.Genome` the analyses use."""

    def __init__(self, masks):
        self.masks = masks

    def repeat_mask(self, chrom):
        return self.masks[chrom]


WINDOWS = pd.DataFrame({"chrom": "chr1", "start": [0, 100, 200, 300, 400, 500],
                        "end": [100, 200, 300, 400, 500, 600], "label": [1, 1, 1, 0, 0, 0]})


def _run(tmp_path, name, mode, seed, probs, species="tgt"):
    d = tmp_path / name
    d.mkdir()
    p = WINDOWS.assign(species=species, split="test", prob=np.asarray(probs, dtype=float))
    p.to_parquet(d / "predictions.parquet", index=False)
    (d / "metrics.json").write_text(json.dumps({"lam": 0.0, "mode": mode}))
    return {"mode": mode, "seed": seed, "run": str(d)}


@pytest.fixture
def runs(tmp_path):
    return [
        _run(tmp_path, "t0", "target", 0, [0.9, 0.8, 0.7, 0.1, 0.2, 0.1]),
        _run(tmp_path, "t1", "target", 1, [0.9, 0.8, 0.7, 0.1, 0.2, 0.3]),
        # source: window 2 (bound) falls to 0.1/0.1 (diff -0.6: a differential FN); window 3 (unbound) rises
        # to 0.8/0.6 (mean 0.7, diff +0.6: a differential FP); window 4 rises by only 0.4 (not counted)
        _run(tmp_path, "s0", "source", 0, [0.9, 0.8, 0.1, 0.8, 0.6, 0.1]),
        _run(tmp_path, "s1", "source", 1, [0.9, 0.8, 0.1, 0.6, 0.6, 0.3]),
    ]


def test_confusion_is_averaged_over_seeds(runs):
    c = cs.confusion_over_seeds(runs, "tgt").set_index("mode")
    assert c.loc["target", ["TP", "FP", "TN", "FN"]].tolist() == [3, 0, 3, 0]
    # source seed 0: TP 2, FP 2 (0.8, 0.6), FN 1; seed 1: TP 2, FP 2 (0.6, 0.6), FN 1
    assert c.loc["source", ["TP", "FP", "TN", "FN"]].tolist() == [2, 2, 1, 1]
    assert c.loc["source", "runs"] == 2 and c.loc["source", "FP_sd"] == 0


def test_differential_errors_against_target(runs):
    masks = {"chr1": np.zeros(600, bool)}
    masks["chr1"][250:260] = True  # window 2 (the differential FN) overlaps a repeat
    counts, windows = cs.differential_errors(runs, "tgt", reference="target", genome=_MaskGenome(masks))
    row = counts.set_index("mode").loc["source"]
    assert row["diff_FP"] == 1 and row["diff_FN"] == 1 and row["windows"] == 6
    assert row["repeat_share_diff_FN"] == 1.0 and row["repeat_share_diff_FP"] == 0.0
    assert row["repeat_share_all"] == pytest.approx(1 / 6)
    w = windows["source"].set_index("start")
    assert w.loc[200, "kind"] == "FN" and w.loc[300, "kind"] == "FP" and len(w) == 2
    with pytest.raises(ValueError, match="no 'joint' runs"):
        cs.differential_errors(runs, "tgt", reference="joint")


def test_repeat_stratified_auprc(runs):
    masks = {"chr1": np.zeros(600, bool)}
    masks["chr1"][0:50] = masks["chr1"][350:360] = masks["chr1"][450:460] = True  # windows 0, 3, 4
    ann = pd.DataFrame({"chrom": "chr1", "start": [0, 350, 450], "end": [50, 360, 460], "name": ["A", "B", "B"]})
    t = cs.repeat_stratified(runs, "tgt", _MaskGenome(masks), annotation=ann)
    t = t.set_index(["mode", "stratum"])
    assert t.loc[("target", "repeat"), "windows"] == 3 and t.loc[("target", "repeat"), "positives"] == 1
    assert t.loc[("target", "repeat"), "auprc_mean"] == pytest.approx(1.0)
    # source on repeat windows: bound 0.9 is above the unbound 0.8/0.6 -> still perfect; non-repeat windows:
    # bound 0.8 and 0.1 against unbound 0.1/0.3 -> below 1
    assert t.loc[("source", "repeat"), "auprc_mean"] == pytest.approx(1.0)
    assert t.loc[("source", "non-repeat"), "auprc_mean"] < 1.0
    assert t.loc[("target", "family:B"), "windows"] == 2  # family B alone has no positive: auPRC undefined
    assert np.isnan(t.loc[("target", "family:B"), "auprc_mean"])


def test_family_overlap_finds_long_repeats_behind_many_short_ones():
    # a 10-kb LINE with 300 short repeats nested inside it: the window at 8,000 is covered only by the LINE
    ann = pd.DataFrame({"chrom": "chr1", "start": [0] + [100 + 20 * i for i in range(300)],
                        "end": [10_000] + [110 + 20 * i for i in range(300)], "name": ["L1"] + ["Alu"] * 300})
    win = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [8000, 100, 0], "end": [8200, 112, 50]})
    assert cs.repeat_family_overlap(win, ann).tolist() == ["L1", "L1", ""]
    win2 = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [110]})
    assert cs.repeat_family_overlap(win2, ann.iloc[1:]).tolist() == ["Alu"]


def test_summary_and_holdouts(runs):
    table = cs.species_table(runs)
    s = cs.summarize(table).set_index(["mode", "species"])
    assert s.loc[("target", "tgt"), "auprc_mean"] == pytest.approx(1.0)
    assert s.loc[("target", "tgt"), "n_runs"] == 2

    class Cfg:
        source_species = ["a", "b", "c"]

    labels = [lab for lab, _ in cs.holdout_configs(Cfg())]
    assert labels == ["without a", "without b", "without c", "first 1: a"]  # "first 2" = "without c"
    Cfg.source_species = ["a"]
    assert cs.holdout_configs(Cfg()) == []

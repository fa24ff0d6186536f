"""Motif-instance datasets (AgentBind): bound iff in a peak, balanced, p-value matched, GC control, masking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bindscape.data.motif_instances import build_motif_instances, fetch_instances, pbin_histograms
from bindscape.errors import NotEnoughDataError
from bindscape.motifs import load_jaspar, pwm_max_scores
from conftest import require_shared, write_fasta

COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


def _random(rng, n, gc):
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return list(np.array(list("ACGT"))[rng.choice(4, n, p=p)])


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """3 x 150 kb genome (GC 0.4) with REB1 sites sampled from its matrix at 240 places; peaks over 120.

    Bound sites sit in GC-rich 2-kb neighbourhoods (0.6), and so do a third of the unbound ones, so GC
    control has something to fix."""
    rng = np.random.default_rng(7)
    motif = load_jaspar("MA0363")
    ppm = motif.to_ppm(0.5)
    chroms = {c: _random(rng, 150_000, 0.4) for c in ("chr1", "chr2", "chr3")}
    peaks = []
    sites = []
    for i in range(240):
        c = ("chr1", "chr2", "chr3")[i % 3]
        pos = 3000 + (i // 3) * 1800
        bound = i % 2 == 0
        if bound or i % 3 == 0:
            chroms[c][pos - 1000 : pos + 1000] = _random(rng, 2000, 0.6)
        site = [("ACGT")[rng.choice(4, p=ppm[:, j])] for j in range(motif.width)]
        strand = "+" if rng.random() < 0.5 else "-"
        if strand == "-":
            site = [COMP[b] for b in reversed(site)]
        chroms[c][pos : pos + motif.width] = site
        sites.append((c, pos, pos + motif.width, strand, bound))
        if bound:
            peaks.append((c, pos - 100, pos + motif.width + 100))
    root = tmp_path_factory.mktemp("mi")
    fa = write_fasta(root / "g.fa", {c: "".join(s) for c, s in chroms.items()})
    peaks = pd.DataFrame(peaks, columns=["chrom", "start", "end"])
    return fa, motif, peaks, pd.DataFrame(sites, columns=["chrom", "start", "end", "strand", "bound"])


def _inside(df, peaks):
    out = []
    for r in df.itertuples():
        cs, ce = r.start + r.core_start, r.start + r.core_end
        p = peaks[peaks["chrom"] == r.chrom]
        out.append(((p["start"] <= cs) & (p["end"] >= ce)).any())
    return np.array(out)


def _touch(df, peaks):
    out = []
    for r in df.itertuples():
        cs, ce = r.start + r.core_start, r.start + r.core_end
        p = peaks[peaks["chrom"] == r.chrom]
        out.append(((p["start"] < ce) & (p["end"] > cs)).any())
    return np.array(out)


def test_bound_iff_in_peak_balanced_and_matched(synthetic):
    fa, motif, peaks, _sites = synthetic
    df = build_motif_instances(fa, motif, peaks, length=500, seed=1)
    assert len(df) > 60
    lab = df["label"].to_numpy()
    assert (lab == 1).sum() == (lab == 0).sum()
    assert (_inside(df, peaks) == (lab == 1)).all()
    assert not _touch(df[lab == 0], peaks).any()
    assert ((df["end"] - df["start"]) == 500).all()
    # the match is centred in its window
    assert (np.abs((df["core_start"] + df["core_end"]) / 2 - 250) <= 1).all()
    assert (df["p"] < 1e-4).all() and set(df["strand"]) == {"+", "-"}
    h = pbin_histograms(df)
    assert (h[0] == h[1]).all()  # identical -log10 p histograms in bins of 0.1
    np.testing.assert_array_equal(df["p_bin"], np.floor(-np.log10(df["p"]) / 0.1 + 1e-9).astype(int))
    st = df.attrs["stats"]
    assert st["bound"] == st["unbound"] == (lab == 1).sum()
    assert df.attrs["params"]["length"] == 500 and df.attrs["params"]["motif_id"] == "MA0363.3"
    # reproducible
    again = build_motif_instances(fa, motif, peaks, length=500, seed=1)
    pd.testing.assert_frame_equal(df, again)


def test_gc_control_tightens_gc_difference(synthetic):
    fa, motif, peaks, _ = synthetic
    plain = build_motif_instances(fa, motif, peaks, length=500, seed=0)
    ctrl = build_motif_instances(fa, motif, peaks, length=500, seed=0, gc_control=True, gc_tolerance=0.03)
    def gap(d):
        g = d.groupby("label")["gc"].mean()
        return abs(g[1] - g[0])
    assert gap(plain) > 0.05
    assert gap(ctrl) < gap(plain) / 2
    h = pbin_histograms(ctrl)
    assert (h[0] == h[1]).all()


def test_mask_core_and_strands(synthetic):
    fa, motif, peaks, _ = synthetic
    df = build_motif_instances(fa, motif, peaks, length=200, seed=0, mask_core=True)
    assert df.attrs["params"]["mask_core"] is True
    plain = fetch_instances(fa, df, mask_core=False, onehot=False)
    masked = fetch_instances(fa, df, onehot=False)  # mask_core taken from the table's params
    pos = np.arange(200)[None, :]
    core = (pos >= df["core_start"].to_numpy()[:, None]) & (pos < df["core_end"].to_numpy()[:, None])
    assert (masked[core] == 4).all() and (plain[core] != 4).all()
    np.testing.assert_array_equal(masked[~core], plain[~core])
    # oriented: every match reads forward; its forward-PWM score is the table's score
    oriented = fetch_instances(fa, df, mask_core=False, orient=True, onehot=False)
    pwm = motif.to_pwm(0.1)
    for i in range(len(df)):
        r = df.iloc[i]
        a = 200 - r["core_end"] if r["strand"] == "-" else r["core_start"]
        site = oriented[i, a : a + motif.width]
        assert np.isclose(pwm[site, np.arange(motif.width)].sum(), r["score"])
    x = fetch_instances(fa, df)
    assert x.shape == (len(df), 4, 200) and (x[core.nonzero()[0], :, core.nonzero()[1]] == 0).all()


def test_accessibility_control_and_regions(synthetic):
    fa, motif, peaks, sites = synthetic
    acc = sites.iloc[::2].assign(start=lambda d: d["start"] - 300, end=lambda d: d["end"] + 300)
    acc = pd.concat([acc, sites.iloc[1::4].assign(start=lambda d: d["start"] - 300, end=lambda d: d["end"] + 300)])
    df = build_motif_instances(fa, motif, peaks, length=300, accessible=acc[["chrom", "start", "end"]])
    assert len(df) > 10
    assert _inside(df, acc).all()
    reg = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [150_000]})
    only1 = build_motif_instances(fa, motif, peaks, length=300, regions=reg)
    assert set(only1["chrom"]) == {"chr1"}


def test_narrow_peaks_need_a_flank(synthetic):
    fa, motif, peaks, _ = synthetic
    points = peaks.assign(start=peaks["start"] + 105, end=peaks["start"] + 106)
    with pytest.raises(NotEnoughDataError, match="no motif match") as e:
        build_motif_instances(fa, motif, points, length=300)
    assert "--peak-flank" in e.value.hint
    df = build_motif_instances(fa, motif, points, length=300, peak_flank=30)
    assert (df["label"] == 1).sum() > 20


def test_cli_build_motif_instances(synthetic, tmp_path):
    from bindscape.cli import run_cli
    from bindscape.data.dataset import load_dataset

    fa, motif, peaks, _ = synthetic
    pk = tmp_path / "peaks.bed"
    peaks.to_csv(pk, sep="\t", header=False, index=False)
    out = tmp_path / "ds"
    rc = run_cli(["build", "motif-instances", "-g", str(fa), "-m", "MA0363", "-p", str(pk), "-o", str(out),
                  "--length", "400", "--split", "chroms", "--test", "chr3", "--mask-core"])
    assert rc == 0
    ds = load_dataset(out)
    assert ds.meta["builder"] == "motif-instances" and ds.meta["params"]["mask_core"] is True
    assert set(ds.regions["split"]) == {"train", "test"}
    assert (ds.regions.groupby("label").size().diff().dropna() == 0).all()


@pytest.mark.realdata
def test_reb1_motif_instances_yeast():
    from sklearn.metrics import roc_auc_score

    root = require_shared("yeast/sacCer3.fa.gz", "yeast/reb1_chipexo_rhee2011.sacCer3.bed")
    fa = root / "yeast" / "sacCer3.fa.gz"
    peaks = root / "yeast" / "reb1_chipexo_rhee2011.sacCer3.bed"
    motif = load_jaspar("REB1", species="yeast")
    df = build_motif_instances(fa, motif, peaks, length=1000, peak_flank=50, seed=0)
    st = df.attrs["stats"]
    auc = roc_auc_score(df["label"], pwm_max_scores(fetch_instances(fa, df), motif))
    print(f"Reb1 motif instances: {st}; PWM baseline auROC {auc:.3f}")
    assert st["bound"] == st["unbound"] > 250
    h = pbin_histograms(df)
    assert (h[0] == h[1]).all()
    # p-value matching removes most of what the PWM score knows: close to chance
    assert 0.4 < auc < 0.7
    # GC-controlled variant: still matched, usually a little smaller
    gc = build_motif_instances(fa, motif, peaks, length=1000, peak_flank=50, seed=0, gc_control=True)
    assert (pbin_histograms(gc)[0] == pbin_histograms(gc)[1]).all()
    print(f"GC-controlled: {gc.attrs['stats']['bound']} bound / {gc.attrs['stats']['unbound']} unbound")

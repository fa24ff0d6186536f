"""Negative sampling strategies, negative-set QC and the TFBS-negatives benchmark builder."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bindscape.data import negatives as ng
from bindscape.data import qc
from bindscape.errors import ConfigError, NotEnoughDataError
from bindscape.io import bed as bd
from bindscape.io import ranges as rg
from bindscape.io.genome import Genome, encode
from conftest import random_seqs, require_shared, write_fasta

L = 101


def _biased(n: int, p, rng) -> str:
    return "".join(np.array(list("ACGT"))[rng.choice(4, n, p=p)].tolist())


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """chr1/chr2 uniform random (every 10th kb soft-masked), chr3 AT-rich, chr4 GC-rich."""
    d = tmp_path_factory.mktemp("neg")
    rng = np.random.default_rng(5)
    seqs = random_seqs({"chr1": 300_000, "chr2": 200_000}, seed=3)
    seqs["chr3"] = _biased(60_000, [0.4, 0.1, 0.1, 0.4], rng)
    seqs["chr4"] = _biased(60_000, [0.15, 0.35, 0.35, 0.15], rng)
    return Genome(write_fasta(d / "g.fa", seqs), cache_dir=d / "cache")


@pytest.fixture(scope="module")
def positives(genome):
    rng = np.random.default_rng(0)
    chrom = rng.choice(["chr1", "chr2"], 400)
    start = rng.integers(0, 190_000, 400)
    df = pd.DataFrame({"chrom": chrom, "start": start, "end": start + L})
    return df.drop_duplicates(["chrom", "start"]).reset_index(drop=True)


def _counts(seq: str) -> dict:
    return {k: seq.count(k) for k in "ACGTN"}


def _dinucs(codes: np.ndarray) -> np.ndarray:
    k = codes[..., :-1].astype(np.int64) * 5 + codes[..., 1:]
    return np.bincount(k.ravel(), minlength=25) if codes.ndim == 1 else np.stack(
        [np.bincount(r, minlength=25) for r in k])


# ------------------------------------------------------------------------------------------- shuffles
@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=0, max_size=300), st.integers(0, 2**32))
def test_dinucleotide_shuffle_keeps_dinucleotide_counts_exactly(seq, seed):
    codes = encode(seq)[None, :] if seq else np.zeros((1, 0), np.uint8)
    out = ng.dinucleotide_shuffle_codes(codes, seed=seed)
    assert out.shape == codes.shape
    if len(seq):
        assert (np.bincount(out[0], minlength=5) == np.bincount(codes[0], minlength=5)).all()
        assert (_dinucs(out[0]) == _dinucs(codes[0])).all()
        assert out[0, 0] == codes[0, 0] and out[0, -1] == codes[0, -1]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=1, max_size=300), st.integers(0, 2**32))
def test_mononucleotide_shuffle_keeps_base_counts(seq, seed):
    out = ng.shuffle_codes(encode(seq)[None, :], seed=seed)
    assert (np.bincount(out[0], minlength=5) == np.bincount(encode(seq), minlength=5)).all()


def test_dinucleotide_shuffle_is_uniform_and_row_seeded():
    s = encode("ACACGACGA")[None, :]  # exactly 3 sequences share its dinucleotides, ends included
    out = ng.dinucleotide_shuffle_codes(np.repeat(s, 6000, 0), seeds=np.arange(6000, dtype=np.uint64))
    uniq, cnt = np.unique(out, axis=0, return_counts=True)
    assert len(uniq) == 3
    assert cnt.min() > 1800  # each ~2000
    # a row's shuffle depends on its seed only, not on the batch around it
    batch = np.random.default_rng(1).integers(0, 4, (50, 101)).astype(np.uint8)
    seeds = np.arange(50, dtype=np.uint64) + 7
    full = ng.dinucleotide_shuffle_codes(batch, seeds=seeds)
    part = ng.dinucleotide_shuffle_codes(batch[10:20], seeds=seeds[10:20])
    assert (full[10:20] == part).all()
    assert not (full == batch).all(axis=1).any()


@pytest.mark.parametrize("strategy", ["shuffle", "dinucleotide"])
def test_shuffle_strategies_keep_positive_coordinates_and_composition(genome, positives, strategy):
    neg = ng.sample_negatives(strategy, positives, genome, ratio=2, seed=1)
    assert len(neg) == 2 * len(positives)
    assert (neg["source"] == strategy).all()
    assert np.bincount(neg["pos_index"], minlength=len(positives)).tolist() == [2] * len(positives)
    src = positives.iloc[neg["pos_index"]].reset_index(drop=True)
    assert (neg[["chrom", "start", "end"]].to_numpy() == src[["chrom", "start", "end"]].to_numpy()).all()
    orig = genome.fetch_strings(src["chrom"].to_numpy(), src["start"].to_numpy(), src["end"].to_numpy())
    for a, b in zip(orig[:100], neg["sequence"][:100]):
        assert _counts(a) == _counts(b) and len(b) == L
        if strategy == "dinucleotide":
            assert (_dinucs(encode(a)) == _dinucs(encode(b))).all()
    # two copies of the same positive are different shuffles
    assert (neg.groupby("pos_index")["sequence"].nunique() == 2).mean() > 0.99
    # the sequence column overrides the genome at load time
    codes = ng.region_codes(genome, neg.iloc[:5])
    assert [genome_decode(c) for c in codes] == neg["sequence"][:5].tolist()


def genome_decode(c):
    from bindscape.io.genome import decode

    return decode(c)


# --------------------------------------------------------------------------------------------- genomic
def test_genomic_matches_gc_and_repeat_bins_and_avoids_positives(genome, positives):
    neg = ng.sample_negatives("genomic", positives, genome, ratio=1.5, seed=2, chroms=["chr1", "chr2"])
    assert len(neg) == round(1.5 * len(positives))
    assert ((neg["end"] - neg["start"]) == L).all()
    assert set(neg["chrom"]) <= {"chr1", "chr2"}
    # no overlap with positives extended by the default margin (one window length), nor with each other
    assert not rg.overlaps_any(neg, positives, margin=L).any()
    s = neg.sort_values(["chrom", "start"])
    same = s["chrom"].to_numpy()[1:] == s["chrom"].to_numpy()[:-1]
    assert not (same & (s["start"].to_numpy()[1:] < s["end"].to_numpy()[:-1])).any()
    # every negative sits in the GC bin (0.02) and repeat bin (0.1) of the positive it was matched to
    p = positives.iloc[neg["pos_index"]]
    pgc = genome.gc_fraction(p["chrom"].to_numpy(), p["start"].to_numpy(), p["end"].to_numpy())
    prep = genome.repeat_fraction(p["chrom"].to_numpy(), p["start"].to_numpy(), p["end"].to_numpy())
    ngc = genome.gc_fraction(neg["chrom"].to_numpy(), neg["start"].to_numpy(), neg["end"].to_numpy())
    nrep = genome.repeat_fraction(neg["chrom"].to_numpy(), neg["start"].to_numpy(), neg["end"].to_numpy())
    np.testing.assert_allclose(ngc, neg["gc"])
    assert (np.floor(ngc / 0.02 + 1e-9) == np.floor(pgc / 0.02 + 1e-9)).all()
    assert (np.minimum(np.floor(nrep / 0.1 + 1e-9), 9) == np.minimum(np.floor(prep / 0.1 + 1e-9), 9)).all()
    assert (np.abs(ngc - pgc) < 0.02).all()
    assert (nrep > 0).any()  # the soft-masked stretches are sampled too
    rep = qc.match_report(positives, neg, genome)
    assert rep["gc"]["ks"] < 0.05 and rep["repeat"]["ks"] < 0.05


def test_genomic_excludes_blacklist_and_n(tmp_path):
    seqs = random_seqs({"chr1": 100_000}, seed=9, softmask=False)
    s = list(seqs["chr1"])
    s[20_000:40_000] = "N" * 20_000
    g = Genome(write_fasta(tmp_path / "n.fa", {"chr1": "".join(s)}), cache_dir=tmp_path / "c")
    pos = pd.DataFrame({"chrom": ["chr1"] * 30, "start": np.arange(30) * 300 + 50_000})
    pos["end"] = pos["start"] + L
    bl = pd.DataFrame({"chrom": ["chr1"], "start": [60_000], "end": [100_000]})
    neg = ng.genomic(pos, g, ratio=3, seed=0, blacklist=bl)
    assert len(neg) == 90
    assert not rg.overlaps_any(neg, bl).any()
    assert (g.n_fraction(neg["chrom"].to_numpy(), neg["start"].to_numpy(), neg["end"].to_numpy()) == 0).all()


def test_genomic_short_set_says_how_many_and_why(genome):
    # GC-rich positives (chr4) but negatives allowed only on the AT-rich chr3: most bins cannot be filled
    pos = pd.DataFrame({"chrom": ["chr4"] * 50, "start": np.arange(50) * 1000})
    pos["end"] = pos["start"] + L
    with pytest.raises(NotEnoughDataError) as e:
        ng.genomic(pos, genome, seed=0, chroms=["chr3"], max_candidates=50_000)
    msg = str(e.value)
    assert "found" in msg and "of 50 requested" in msg and "GC 0." in msg and "50,000 candidate" in msg
    with pytest.warns(ng.NegativesWarning, match=r"found \d+ of 50"):
        neg = ng.genomic(pos, genome, seed=0, chroms=["chr3"], max_candidates=50_000, on_short="warn")
    assert len(neg) < 50 and "found" in neg.attrs["notes"][0]


@pytest.mark.parametrize("strategy", ["genomic", "shuffle", "dinucleotide", "neighbor"])
def test_seed_determinism(genome, positives, strategy):
    opt = {"on_short": "ignore"} if strategy == "neighbor" else {}
    a = ng.sample_negatives(strategy, positives, genome, seed=4, **opt)
    b = ng.sample_negatives(strategy, positives, genome, seed=4, **opt)
    c = ng.sample_negatives(strategy, positives, genome, seed=5, **opt)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


# -------------------------------------------------------------------------------------------- neighbor
def test_neighbor_offsets_within_bounds_both_directions_no_overlap(genome, positives):
    pos = positives.iloc[::4].reset_index(drop=True)  # sparser, so most neighbours are free
    neg = ng.sample_negatives("neighbor", pos, genome, ratio=2, seed=0)
    assert len(neg) == 2 * len(pos)
    p = pos.iloc[neg["pos_index"]]
    off = ((neg["start"] + neg["end"]) // 2).to_numpy() - ((p["start"] + p["end"]) // 2).to_numpy()
    assert (off == neg["offset"].to_numpy()).all()
    assert ((np.abs(off) >= 101) & (np.abs(off) <= 200)).all()
    assert (off > 0).any() and (off < 0).any()
    assert (neg["chrom"].to_numpy() == p["chrom"].to_numpy()).all()
    assert not rg.overlaps_any(neg, pos).any()
    neg2 = ng.neighbor(pos, genome, min_offset=300, max_offset=400, seed=1)
    assert ((neg2["offset"].abs() >= 300) & (neg2["offset"].abs() <= 400)).all()


def test_neighbor_short_when_windows_too_long(genome, positives):
    pos = positives.iloc[:20].copy()
    pos["start"] -= 450
    pos["end"] = pos["start"] + 1000
    pos = pos[pos["start"] >= 0]
    with pytest.raises(NotEnoughDataError, match=r"found 0 of \d+ .*longer than twice min_offset"):
        ng.neighbor(pos, genome)


# -------------------------------------------------------------------------------------------- cross_tf
def test_cross_tf_takes_closest_dinucleotide_composition(genome, positives):
    pos = positives.iloc[:100].reset_index(drop=True)
    rng = np.random.default_rng(2)
    similar = pd.DataFrame({"chrom": "chr2", "start": rng.integers(0, 190_000, 150)})
    different = pd.DataFrame({"chrom": "chr3", "start": rng.integers(0, 59_000, 150)})
    others = pd.concat([similar, different], ignore_index=True)
    others["end"] = others["start"] + 200
    others["tf"] = ["A"] * 150 + ["B"] * 150
    # also a few other-TF peaks right on top of positives: must be dropped
    on_top = pos.iloc[:10][["chrom", "start", "end"]].assign(tf="C")
    others = pd.concat([others, on_top], ignore_index=True)
    neg = ng.sample_negatives("cross_tf", pos, genome, others=others, seed=0)
    assert len(neg) == 100
    assert not rg.overlaps_any(neg, pos).any()
    assert (neg["source_tf"] == "A").mean() > 0.9  # the uniform-composition TF, not the AT-rich one
    assert neg[["chrom", "start"]].duplicated().sum() == 0
    assert ((neg["end"] - neg["start"]) == L).all()
    with pytest.raises(NotEnoughDataError, match=r"found \d+ of 400 requested; only \d+ usable other-TF"):
        ng.cross_tf(pos, genome, others=others, ratio=4)


# ------------------------------------------------------------------------------------------ accessible
def test_accessible_centres_overlap_no_tf_peak(genome, positives):
    rng = np.random.default_rng(3)
    acc = pd.DataFrame({"chrom": rng.choice(["chr1", "chr2"], 500), "start": rng.integers(0, 190_000, 500)})
    acc["end"] = acc["start"] + rng.integers(20, 400, 500)
    tf_peaks = positives.assign(start=positives["start"] - 100, end=positives["end"] + 100)
    neg = ng.sample_negatives("accessible", positives, genome, ratio=None, accessible=acc, peaks=tf_peaks)
    assert not rg.overlaps_any(neg, tf_peaks).any()
    unbound = acc[~rg.overlaps_any(acc, tf_peaks)]
    centre = (neg["start"] + neg["end"]) // 2
    acc_centre = (unbound["start"] + unbound["end"]) // 2
    assert set(zip(neg["chrom"], centre)) <= set(zip(unbound["chrom"], acc_centre))
    assert len(neg) >= 0.9 * len(unbound) and (neg["pos_index"] == -1).all()
    few = ng.accessible(positives, genome, accessible=acc, peaks=tf_peaks, ratio=0.1, seed=0)
    assert len(few) == round(0.1 * len(positives))
    with pytest.raises(NotEnoughDataError, match="accessible negatives: found"):
        ng.accessible(positives, genome, accessible=acc, peaks=tf_peaks, ratio=5)


def test_dispatcher_validates(genome, positives):
    with pytest.raises(ConfigError, match="unknown negative strategy"):
        ng.sample_negatives("random", positives, genome)
    with pytest.raises(ConfigError, match="takes no option"):
        ng.sample_negatives("shuffle", positives, genome, gc_bin_width=0.1)
    assert ng.parse_strategies("genomic, neighbour,dinuc") == ["genomic", "neighbor", "dinucleotide"]
    assert set(ng.STRATEGIES) == {"genomic", "shuffle", "dinucleotide", "neighbor", "cross_tf", "accessible"}


# ------------------------------------------------------------------------------------------------- qc
def test_shortcut_detector_half_for_same_distribution_one_for_shifted():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (600, L)).astype(np.uint8)
    b = rng.integers(0, 4, (600, L)).astype(np.uint8)
    c = rng.choice(4, (600, L), p=[0.15, 0.35, 0.35, 0.15]).astype(np.uint8)
    same = qc.shortcut_auc(a, b)
    shifted = qc.shortcut_auc(a, c)
    assert 0.4 < same < 0.6
    assert shifted > 0.95
    f = qc.kmer_features(np.array([[0, 1, 2, 3, 4]], np.uint8), 2)
    assert f.shape == (1, 20) and f[0, :4].sum() * 5 == 4 and f[0, 4:].sum() * 5 == 3


def test_benchmark_builder_and_qc_cli(genome, positives, tmp_path):
    import typer
    from typer.testing import CliRunner

    from bindscape.cli.build import build_app
    from bindscape.cli.negatives import register
    from bindscape.data.dataset import load_dataset
    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark

    peaks = positives.iloc[::3].assign(start=lambda d: d["start"] + 50, end=lambda d: d["start"] + 51)
    rng = np.random.default_rng(1)
    acc = pd.DataFrame({"chrom": rng.choice(["chr1", "chr2", "chr3", "chr4"], 800), "start": rng.integers(0, 50_000, 800)})
    acc["end"] = acc["start"] + 30
    peaks_path, acc_path = tmp_path / "p.bed", tmp_path / "a.bed"
    bd.write_bed(peaks, peaks_path)
    bd.write_bed(acc, acc_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = build_tfbs_benchmark(genome, peaks, tmp_path / "bench", tf="T", accessible=acc,
                                 strategies="genomic,dinucleotide,neighbor,accessible", k=3, fold=3, seed=0, shortcut=False)
    assert set(s["strategies"]) == {"genomic", "dinucleotide", "neighbor", "accessible"}
    test_chroms = set(s["split_chroms"]["test"])
    for name in s["strategies"]:
        ds = load_dataset(tmp_path / "bench" / name)
        r = ds.regions
        assert set(r["label"]) == {0, 1} and (r["tf"] == "T").all()
        # held-out chromosomes: each chromosome in one split only, negatives on their split's chromosomes
        assert (r.groupby("chrom")["split"].nunique() == 1).all()
        assert set(r.loc[r["split"] == "test", "chrom"]) <= test_chroms
    hq = load_dataset(tmp_path / "bench" / "hq_test").regions
    assert set(hq["chrom"]) <= test_chroms and (hq["split"] == "test").all()
    assert not rg.overlaps_any(hq[hq["label"] == 0], peaks).any()
    summary = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert summary["strategies"]["genomic"]["gc_ks"] < 0.2
    app = typer.Typer()
    app.add_typer(build_app, name="build")
    register(app)
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["qc", str(tmp_path / "bench" / "dinucleotide"), "--no-shortcut"])
    assert res.exit_code == 0, res.output
    assert "dinucleotide" in res.output and "0.000" in res.output  # shuffles keep GC exactly
    assert "negatives-benchmark" in [c.name for c in build_app.registered_commands]
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, [
        "build", "negatives-benchmark", "-g", str(genome.path), "-p", f"T={peaks_path}", "--accessible",
        str(acc_path), "--strategies", "genomic,neighbour,accessible", "--fold", "3", "--no-shortcut",
        "-o", str(tmp_path / "cli"),
    ])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == [
        "accessible", "benchmark.json", "genomic", "hq_test", "neighbor"]


# ------------------------------------------------------------------------------------------- real data
def test_yeast_reb1_neighbor_and_accessible_real_data():
    d = require_shared("yeast/sacCer3.fa.gz", "yeast/reb1_chipexo_rhee2011.sacCer3.bed",
                       "yeast/dnase_footprints_hesselberth2009.sacCer3.bed") / "yeast"
    g = Genome(d / "sacCer3.fa.gz")
    peaks = bd.read_peaks(d / "reb1_chipexo_rhee2011.sacCer3.bed", sizes=g.sizes)
    pos = rg.window(peaks, L, anchor="center")
    pos = pos[(pos["start"] >= 0) & (pos["end"] <= pos["chrom"].map(g.sizes))].reset_index(drop=True)
    fp = bd.read_peaks(d / "dnase_footprints_hesselberth2009.sacCer3.bed", sizes=g.sizes)
    acc = ng.accessible(pos, g, accessible=fp, peaks=peaks)
    assert 3000 < len(acc) < len(fp)
    assert not rg.overlaps_any(acc, pos).any()
    nb = ng.neighbor(pos, g, on_short="ignore")
    assert len(nb) > 0.9 * len(pos) and not rg.overlaps_any(nb, pos).any()


@pytest.mark.slow
def test_yeast_reb1_benchmark_real_data(tmp_path):
    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark

    d = require_shared("yeast/sacCer3.fa.gz") / "yeast"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = build_tfbs_benchmark(
            d / "sacCer3.fa.gz", d / "reb1_chipexo_rhee2011.sacCer3.bed", tmp_path / "b", tf="Reb1",
            accessible=d / "dnase_footprints_hesselberth2009.sacCer3.bed",
            others={"Abf1": d / "abf1_sites_rossi2018.sacCer3.bed"},
        )
    assert set(s["strategies"]) == set(ng.STRATEGIES)
    assert s["strategies"]["genomic"]["gc_ks"] < 0.05
    assert s["strategies"]["dinucleotide"]["gc_ks"] == 0
    assert s["hq_test"]["negatives"] > 1000
    assert s["strategies"]["cross_tf"]["notes"]  # only ~500 Abf1 sites for ~1,700 Reb1 peaks: said, not silent


def test_unknown_chromosome_is_a_clear_error(genome):
    from bindscape.errors import ChromosomeError

    pos = pd.DataFrame({"chrom": ["chrZ"], "start": [0], "end": [L]})
    for s in ("genomic", "shuffle", "neighbor"):
        with pytest.raises(ChromosomeError, match="chrZ"):
            ng.sample_negatives(s, pos, genome)

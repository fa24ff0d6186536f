"""Dataset builders and the `bindscape build` / `bindscape info` CLI."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from bindscape.data.build import build_dataset
from bindscape.data.builders import Condition
from bindscape.data.dataset import bp_labels, load_dataset
from conftest import assert_one_error, cli, random_seqs, write_fasta


def _peaks_bed(path, rows):
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture
def peaks_file(tmp_path, tiny_fasta):
    rng = np.random.default_rng(5)
    rows = []
    for chrom, size in (("chr1", 60_000), ("chr2", 40_000), ("chr3", 30_000), ("chrX", 20_000)):
        for s in np.sort(rng.integers(600, size - 600, 25)):
            rows.append((chrom, int(s), int(s) + 40, f"p{len(rows)}", 10))
    return _peaks_bed(tmp_path / "peaks.bed", rows)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiles_labels_match_naive(tmp_path, tiny_fasta, peaks_file):
    res, mapping, out = build_dataset(
        "tiles", genome=tiny_fasta, conditions=[Condition("TF1", path=str(peaks_file))], out=tmp_path / "ds",
        length=500, stride=450, split="chroms", val=["chr2"], test=["chr3"],
    )
    ds = load_dataset(out)
    df = ds.regions
    assert "chrX" not in set(df["chrom"])  # sex chromosomes excluded by default
    assert (df["end"] - df["start"] == 500).all()
    peaks = pd.read_csv(peaks_file, sep="\t", header=None, names=["chrom", "start", "end", "name", "score"])
    summit = (peaks["start"] + peaks["end"]) // 2  # BED without summit column: centre
    for r in df.itertuples():
        naive = ((peaks["chrom"] == r.chrom) & (summit >= r.start) & (summit < r.end)).any()
        assert bool(r.label) == naive
    assert dict(df.groupby("chrom")["split"].first()) == {"chr1": "train", "chr2": "val", "chr3": "test"}
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["builder"] == "tiles" and meta["params"]["stride"] == 450
    assert meta["summary"]["n"] == len(df)
    assert len(meta["genome"]["checksum"]) == 64


def test_same_seed_gives_identical_parquet(tmp_path, tiny_fasta, peaks_file):
    kw = dict(genome=tiny_fasta, conditions=[Condition("TF1", path=str(peaks_file))], length=200, split="none",
              background=1.0)
    build_dataset("bp", out=tmp_path / "a", seed=7, **kw)
    build_dataset("bp", out=tmp_path / "b", seed=7, **kw)
    build_dataset("bp", out=tmp_path / "c", seed=8, **kw)
    assert _sha(tmp_path / "a" / "regions.parquet") == _sha(tmp_path / "b" / "regions.parquet")
    assert _sha(tmp_path / "a" / "regions.parquet") != _sha(tmp_path / "c" / "regions.parquet")


def test_bp_labels_match_peak_intervals(tmp_path, tiny_fasta, peaks_file):
    _, _, out = build_dataset("bp", genome=tiny_fasta, conditions=[Condition("TF1", "cellA", path=str(peaks_file))],
                              out=tmp_path / "bp", length=300, split="none", background=0.5, seed=1)
    df = load_dataset(out).regions
    assert set(df["source"]) == {"peak", "background"}
    assert (df["cell"] == "cellA").all()
    y = bp_labels(df, 300)
    peaks = pd.read_csv(peaks_file, sep="\t", header=None, names=["chrom", "start", "end", "name", "score"])
    for i, r in enumerate(df.itertuples()):
        naive = np.zeros(300, np.uint8)
        p = peaks[(peaks["chrom"] == r.chrom) & (peaks["end"] > r.start) & (peaks["start"] < r.end)]
        for q in p.itertuples():
            naive[max(q.start - r.start, 0): min(q.end - r.start, 300)] = 1
        assert np.array_equal(y[i], naive)
        assert r.label == int(naive.any())
    assert (df.loc[df["source"] == "background", "label"] == 0).all()


def test_peaks_builder_multi_condition_and_negatives(tmp_path, tiny_fasta, peaks_file):
    neg = _peaks_bed(tmp_path / "neg.bed", [("chr1", 10_000, 10_100), ("chr2", 5_000, 5_300), ("chr3", 100, 400)])
    _, _, out = build_dataset(
        "peaks", genome=tiny_fasta, out=tmp_path / "pk", length=400, split="none", negatives=neg,
        conditions=[Condition("TF1", "A", path=str(peaks_file)), Condition("TF2", "B", path=str(peaks_file))],
    )
    df = load_dataset(out).regions
    assert set(zip(df.loc[df.label == 1, "tf"], df.loc[df.label == 1, "cell"])) == {("TF1", "A"), ("TF2", "B")}
    negs = df[df.label == 0]
    assert len(negs) == 3 and (negs["end"] - negs["start"] == 400).all()
    assert sorted(((negs["start"] + negs["end"]) // 2).tolist()) == sorted([10_050, 5_150, 250])




def test_cli_build_and_info(tmp_path, tiny_fasta, peaks_file, capsys):
    code, out, err = cli(["build", "tiles", "--genome", str(tiny_fasta), "--peaks", f"TF1={peaks_file}",
                           "--length", "500", "--stride", "450", "--split", "auto", "--out", str(tmp_path / "t")],
                          capsys)
    assert code == 0, err
    assert "train" in out and "positives" in out
    code, out, err = cli(["info", str(tmp_path / "t")], capsys)
    assert code == 0, err
    n = len(load_dataset(tmp_path / "t").regions)
    assert f"{n:,} regions" in out
    # refuses to overwrite without --force
    code, out, err = cli(["build", "tiles", "--genome", str(tiny_fasta), "--peaks", f"TF1={peaks_file}",
                           "--out", str(tmp_path / "t")], capsys)
    assert code == 2 and "--force" in err




@pytest.mark.parametrize(
    "content,needles",
    [
        ("chr1\t100\t200\nchr1\tabc\t300\n", ["bad.bed:2"]),
        ("chr1\t500\t200\n", ["bad.bed:1", "start"]),
        ("1\t100\t200\n", ["bad.bed:1", "'1'", "chr"]),
        ("chr2\t39990\t40500\n", ["bad.bed:1", "chr2"]),
        ("", ["bad.bed", "no intervals"]),
    ],
    ids=["malformed", "start-after-end", "unknown-chrom-style", "past-end", "empty"],
)
def test_cli_bad_peak_files(tmp_path, tiny_fasta, capsys, content, needles):
    bad = tmp_path / "bad.bed"
    bad.write_text(content)
    code, _, err = cli(["build", "tiles", "--genome", str(tiny_fasta), "--peaks", f"TF={bad}", "--out",
                         str(tmp_path / "o")], capsys)
    assert_one_error(code, err, *needles)
    assert not (tmp_path / "o" / "regions.parquet").exists()


def test_cli_gz_not_gzip(tmp_path, tiny_fasta, capsys):
    bad = tmp_path / "peaks.bed.gz"
    bad.write_text("chr1\t1\t2\n")
    code, _, err = cli(["build", "tiles", "--genome", str(tiny_fasta), "--peaks", f"TF={bad}", "--out",
                         str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "peaks.bed.gz", "gzip")


def test_cli_bad_genomes(tmp_path, capsys, peaks_file):
    dup = write_fasta(tmp_path / "dup.fa", {"chr1": "ACGT" * 100, "chr2": "ACGT" * 50})
    dup.write_text(dup.read_text() + ">chr1\nACGT\n")
    code, _, err = cli(["build", "tiles", "--genome", str(dup), "--peaks", f"TF={peaks_file}", "--out",
                         str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "dup.fa", "chr1")
    code, _, err = cli(["build", "tiles", "--genome", str(tmp_path / "missing.fa"), "--peaks",
                         f"TF={peaks_file}", "--out", str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "missing.fa")
    notgz = tmp_path / "g.fa.gz"
    notgz.write_text(">chr1\nACGT\n")
    code, _, err = cli(["build", "tiles", "--genome", str(notgz), "--peaks", f"TF={peaks_file}", "--out",
                         str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "g.fa.gz", "gzip")


def test_cli_bad_options(tmp_path, tiny_fasta, peaks_file, capsys):
    code, _, err = cli(["build", "tiles", "--genome", str(tiny_fasta), "--peaks", str(peaks_file), "--out",
                         str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "NAME=PATH")
    code, _, err = cli(["build", "tiles", "--genome", str(tiny_fasta), "--peaks", f"T={peaks_file}", "--split",
                         "chroms", "--val", "chr9", "--out", str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "chr9")
    code, _, err = cli(["info", str(tmp_path / "nothing")], capsys)
    assert_one_error(code, err, "nothing")


def test_chrom_alias_auto(tmp_path, capsys):
    seqs = random_seqs({"chr1": 20_000, "chr2": 20_000, "chr3": 20_000, "chr4": 20_000}, seed=2)
    fa = write_fasta(tmp_path / "g.fa.gz", seqs, gz=True)
    bed = _peaks_bed(tmp_path / "p.bed", [(c, s, s + 20) for c in "1234" for s in range(1000, 19000, 1500)])
    code, _, err = cli(["build", "peaks", "--genome", str(fa), "--peaks", f"T={bed}", "--length", "200",
                         "--split", "none", "--out", str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "'1'", "--chrom-alias")
    code, _, err = cli(["build", "peaks", "--genome", str(fa), "--peaks", f"T={bed}", "--length", "200",
                         "--split", "none", "--chrom-alias", "auto", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert set(load_dataset(tmp_path / "o").regions["chrom"]) == {"chr1", "chr2", "chr3", "chr4"}


def test_gzip_genome_same_dataset(tmp_path, tiny_fasta, peaks_file):
    gz = tmp_path / "tiny.fa.gz"
    with open(tiny_fasta, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    kw = dict(conditions=[Condition("TF1", path=str(peaks_file))], length=500, stride=450, split="none")
    build_dataset("tiles", genome=tiny_fasta, out=tmp_path / "a", **kw)
    build_dataset("tiles", genome=gz, out=tmp_path / "b", **kw)
    assert _sha(tmp_path / "a" / "regions.parquet") == _sha(tmp_path / "b" / "regions.parquet")


def test_peaks_with_negative_strategies(tmp_path, tiny_fasta, peaks_file):
    from bindscape.io import bed as bd
    from bindscape.io import ranges as rg

    _, _, out = build_dataset(
        "peaks", genome=tiny_fasta, out=tmp_path / "neg", length=200, split="none",
        negatives="genomic,dinucleotide", neg_ratio=1.0, seed=3,
        conditions=[Condition("TF1", "A", path=str(peaks_file))],
    )
    df = load_dataset(out).regions
    pos, neg = df[df.label == 1], df[df.label == 0]
    assert set(neg["source"]) == {"genomic", "dinucleotide"}
    assert (neg["tf"] == "TF1").all() and (neg["cell"] == "A").all()
    gen = neg[neg.source == "genomic"]
    assert len(gen) == len(pos)
    peaks = bd.read_bed(peaks_file)
    assert not rg.overlaps_any(gen, peaks).any()
    din = neg[neg.source == "dinucleotide"]
    assert din["sequence"].str.len().eq(200).all()
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["params"]["negatives"] == ["genomic", "dinucleotide"]


def test_cli_unknown_negative_strategy(tmp_path, tiny_fasta, peaks_file, capsys):
    code, _, err = cli(["build", "peaks", "--genome", str(tiny_fasta), "--peaks", f"T={peaks_file}",
                         "--negatives", "random", "--out", str(tmp_path / "o")], capsys)
    assert_one_error(code, err, "random")

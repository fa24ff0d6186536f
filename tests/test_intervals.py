"""bindscape.io.bed, .chroms and .ranges: readers, validation messages, chromosome naming, interval arithmetic."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bindscape.errors import ChromosomeError, ConfigError, InputError
from bindscape.io import bed as bd
from bindscape.io import chroms as ch
from bindscape.io import ranges as rg
from conftest import require_shared

SIZES = {"chr1": 10_000, "chr2": 5_000, "chrX": 3_000, "chrM": 16_569}


def write(path: Path, text: str, *, gz: bool = False) -> Path:
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def frame(rows, cols=("chrom", "start", "end")) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=list(cols))
    for c in ("start", "end", "summit"):
        if c in df.columns:
            df[c] = df[c].astype("int64")
    return df


# ------------------------------------------------------------------------------------------ readers


def test_read_bed3_with_headers_comments_and_crlf(tmp_path):
    p = write(
        tmp_path / "a.bed",
        "track name=x\r\nbrowser position chr1:1-100\r\n# comment\r\nchr1\t10\t20\r\n\r\nchr2\t0\t5\r\n",
    )
    df = bd.read_bed(p)
    assert list(df.columns) == ["chrom", "start", "end"]
    assert df["chrom"].tolist() == ["chr1", "chr2"]
    assert df["start"].tolist() == [10, 0] and df["end"].tolist() == [20, 5]
    assert df["start"].dtype == np.int64 and df["end"].dtype == np.int64
    assert df.attrs["source"] == str(p)
    assert "_line" not in df.columns


def test_read_bed6_and_extra_columns(tmp_path):
    p = write(tmp_path / "b.bed", "chr1\t1\t9\tp1\t5.5\t+\tx\t7\nchr1\t3\t4\tNA\t.\t-\ty\t8\n")
    df = bd.read_bed(p)
    assert list(df.columns) == ["chrom", "start", "end", "name", "score", "strand", "extra_7", "extra_8"]
    assert df["name"].tolist() == ["p1", "NA"]  # 'NA' stays a name, not a missing value
    assert df["score"].iloc[0] == 5.5 and np.isnan(df["score"].iloc[1])  # '.' score -> NaN
    assert df["strand"].tolist() == ["+", "-"]
    assert df["extra_8"].tolist() == ["7", "8"]  # extras are kept as text


def test_read_bed_whitespace_separated(tmp_path):
    p = write(tmp_path / "ws.bed", "chr1  10 20 n1\nchr2 1   2 n2\n")
    df = bd.read_bed(p)
    assert df["end"].tolist() == [20, 2] and df["name"].tolist() == ["n1", "n2"]


def test_gzip_by_magic_bytes(tmp_path):
    text = "chr1\t10\t20\nchr1\t30\t40\n"
    a = bd.read_bed(write(tmp_path / "a.bed.gz", text, gz=True))
    b = bd.read_bed(write(tmp_path / "noext", text, gz=True))  # gzip without the suffix
    assert a["start"].tolist() == b["start"].tolist() == [10, 30]


def test_read_narrowpeak_summits(tmp_path):
    p = write(
        tmp_path / "x.narrowPeak.gz",
        "chr1\t100\t200\tpk1\t1000\t.\t7.1\t-1\t0.13\t60\nchr2\t10\t21\t.\t5\t+\t1\t2\t3\t-1\n",
        gz=True,
    )
    df = bd.read_narrowpeak(p)
    assert list(df.columns) == [
        "chrom",
        "start",
        "end",
        "name",
        "score",
        "strand",
        "signal",
        "p",
        "q",
        "summit",
    ]
    assert df["summit"].tolist() == [160, 15]  # start + offset; -1 -> centre (10+21)//2
    assert df["summit"].dtype == np.int64
    assert df["signal"].tolist() == [7.1, 1.0] and df["p"].tolist() == [-1.0, 2.0]


def test_read_summits_one_based(tmp_path):
    p = write(tmp_path / "s.txt", "# summits\nchr1:1\nchr2:1,234\nHLA-A*01:01:7\n")
    df = bd.read_summits(p)
    assert df["chrom"].tolist() == ["chr1", "chr2", "HLA-A*01:01"]
    assert df["start"].tolist() == [0, 1233, 6]
    assert (df["end"] == df["start"] + 1).all() and (df["summit"] == df["start"]).all()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("chr1:0\n", "s.txt:1: position 0 in 'chr1:0' is not valid: positions are 1-based"),
        ("chr1:5\nchr1\t5\n", "s.txt:2: expected 'chrom:position'"),
        ("chr1:5\n:7\n", "s.txt:2: expected 'chrom:position'"),
        ("chr1:5\nchr1:5x\n", "s.txt:2: position in 'chr1:5x' is not an integer"),
    ],
)
def test_read_summits_errors(tmp_path, text, expected):
    with pytest.raises(InputError, match=expected.replace("*", r"\*")):
        bd.read_summits(write(tmp_path / "s.txt", text))


def test_read_peaks_detects_format(tmp_path):
    np_text = "chr1\t100\t200\t.\t0\t.\t1\t1\t1\t10\n"
    assert bd.read_peaks(write(tmp_path / "a.narrowPeak", np_text))["summit"].tolist() == [110]
    assert bd.read_peaks(write(tmp_path / "b.NARROWPEAK.gz", np_text, gz=True))["summit"].tolist() == [110]
    assert bd.read_peaks(write(tmp_path / "c.txt", "#x\nchr1:11\n"))["start"].tolist() == [10]
    bed = bd.read_peaks(write(tmp_path / "d.bed.gz", np_text, gz=True))
    assert "summit" not in bed.columns and "extra_10" in bed.columns
    forced = bd.read_peaks(tmp_path / "d.bed.gz", format="narrowpeak", sizes=SIZES)
    assert forced["summit"].tolist() == [110]
    with pytest.raises(ConfigError):
        bd.read_peaks(tmp_path / "d.bed.gz", format="gff")


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("c.bed", "chr1\t1\t2\nchr1\t5\n", r"c\.bed:2: found 2 tab-separated columns but line 1 has 3"),
        ("c.bed", "# h\nchr1\t5\n", r"c\.bed:2: found 2 tab-separated columns; BED needs at least 3"),
        ("c.bed", "chr1\t1\t2\nchr1\t1\t2\t3\n", r"c\.bed:2: found 4 tab-separated columns but line 1 has 3"),
        ("i.bed", "chr1\t1\t2\nchr1\t1.5\t9\n", r"i\.bed:2: start '1\.5' is not an integer"),
        ("i.bed", "chr1\t1\t2\n\nchr1\t1\tx9\n", r"i\.bed:3: end 'x9' is not an integer"),
        ("n.bed", "track a\nchr1\t-5\t9\n", r"n\.bed:2: start -5 is negative"),
        ("o.bed", "chr1\t1\t2\nchr1\t1\t2\nchr1\t20\t10\n", r"o\.bed:3: start 20 is greater than end 10"),
        ("s.bed", "chr1\t1\t2\tn\t1\nchr1\t1\t2\tn\thigh\n", r"s\.bed:2: score 'high' is not a number"),
        (
            "t.bed",
            "chr1\t1\t2\tn\t1\t+\nchr1\t1\t2\tn\t1\tx\n",
            r"t\.bed:2: strand 'x' must be '\+', '-' or '\.'",
        ),
        ("e.bed", "chr1\t1\t2\n\t1\t2\n", r"e\.bed:2: the chromosome name is empty"),
        (
            "p.narrowPeak",
            "chr1\t1\t2\t.\t0\t.\t1\t1\t1\n",
            r"p\.narrowPeak:1: expected 10 tab-separated columns \(narrowPeak\), found 9",
        ),
        (
            "p.narrowPeak",
            "chr1\t100\t200\t.\t0\t.\t1\t1\t1\t100\n",
            r"p\.narrowPeak:1: summit offset 100 \(column 10\) is outside the peak \(0\.\.99",
        ),
        (
            "p.narrowPeak",
            "chr1\t100\t200\t.\t0\t.\t1\t1\t1\t-3\n",
            r"p\.narrowPeak:1: summit offset -3 \(column 10\) is outside",
        ),
        (
            "p.narrowPeak",
            "chr1\t100\t200\t.\t0\t.\t1\t1\t1\t5\nchr1\t1\t2\t.\t0\t.\tx\t1\t1\t0\n",
            r"p\.narrowPeak:2: signal 'x' is not a number",
        ),
    ],
)
def test_reader_errors_name_file_and_line(tmp_path, name, text, expected):
    p = write(tmp_path / name, text)
    reader = bd.read_narrowpeak if name.endswith("narrowPeak") else bd.read_bed
    with pytest.raises(InputError, match=expected) as ei:
        reader(p)
    assert str(p) in ei.value.message


def test_first_bad_line_wins_across_checks(tmp_path):
    p = write(tmp_path / "m.bed", "chr1\t1\t2\tn\t1\t+\nchr1\t9\t3\tn\t1\t+\nchr1\t1\t2\tn\tbad\t+\n")
    with pytest.raises(InputError, match=r"m\.bed:2: start 9 is greater than end 3"):
        bd.read_bed(p)


@pytest.mark.parametrize("reader", [bd.read_bed, bd.read_narrowpeak, bd.read_summits, bd.read_peaks])
def test_empty_and_missing_files(tmp_path, reader):
    with pytest.raises(InputError, match=r"e\.bed: contains no intervals"):
        reader(write(tmp_path / "e.bed", "track x\n# nothing\n\n"))
    with pytest.raises(InputError, match=r"e0\.bed: contains no intervals"):
        reader(write(tmp_path / "e0.bed", ""))
    with pytest.raises(InputError, match=r"nope\.bed: no such file"):
        reader(tmp_path / "nope.bed")
    with pytest.raises(InputError, match=r"fake\.bed\.gz: is named \.gz but is not gzip-compressed"):
        reader(write(tmp_path / "fake.bed.gz", "chr1\t1\t2\n"))


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(b"chr1\t1\t2\n" * 100)
    (tmp_path / "t.bed.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.bed\.gz: gzip data is corrupt or truncated"):
        bd.read_bed(tmp_path / "t.bed.gz")


# ------------------------------------------------------------------------------------------ chromosomes


def test_chr_prefix_style_hint(tmp_path):
    p = write(tmp_path / "peaks.bed", "chr1\t1\t2\nchr1\t5\t6\n1\t5\t9\n")
    with pytest.raises(ChromosomeError) as ei:
        bd.read_bed(p, sizes=SIZES)
    e = ei.value
    assert (
        e.message
        == f"{p}:3: chromosome '1' is not in the genome (genome uses 'chr' prefixes: chr1, chr2, ...)"
    )
    assert e.hint == "pass --chrom-alias auto (or 1=chr1,...) to rename"


def test_no_chr_prefix_and_mito_hints():
    ens = {"1": 100, "2": 100, "MT": 50}
    with pytest.raises(
        ChromosomeError,
        match=r"<regions>: chromosome 'chr2' is not in the genome \(genome has no 'chr' prefixes: 1, 2, \.\.\.\)",
    ):
        ch.check_chroms(frame([("chr2", 1, 2)]), ens)
    with pytest.raises(
        ChromosomeError,
        match=r"chromosome 'MT' is not in the genome \(genome calls the mitochondrial chromosome 'chrM'\)",
    ) as ei:
        ch.check_chroms(frame([("chr1", 1, 2), ("MT", 1, 2)]), SIZES, source="x.bed")
    assert "MT=chrM" in ei.value.hint and "auto" in ei.value.hint
    for name in ("M", "chrMT"):
        with pytest.raises(ChromosomeError, match="mitochondrial chromosome 'chrM'"):
            ch.check_chroms(frame([(name, 1, 2)]), SIZES)
    with pytest.raises(ChromosomeError, match="mitochondrial chromosome 'MT'"):
        ch.check_chroms(frame([("chrM", 1, 2)]), ens)


def test_unrelated_name_lists_genome_and_other_unknowns():
    with pytest.raises(ChromosomeError) as ei:
        ch.check_chroms(frame([("chr1", 1, 2), ("scaffold_9", 1, 2), ("chrUn", 3, 4)]), SIZES, source="r.bed")
    assert (
        ei.value.message
        == "r.bed: chromosome 'scaffold_9' is not in the genome (genome has 4 chromosomes: chr1, chr2, chrX, chrM)"
    )
    assert "same assembly" in ei.value.hint and "chrUn" in ei.value.hint
    with pytest.raises(ChromosomeError, match=r"genome has 'chrX' \(different case\)"):
        ch.check_chroms(frame([("chrx", 1, 2)]), SIZES)


def test_aliases_auto_and_dict(tmp_path):
    p = write(tmp_path / "e.bed", "1\t1\t2\nX\t5\t6\nMT\t1\t9\nchr2\t0\t1\n")
    df = bd.read_bed(p, sizes=SIZES, aliases="auto")
    assert df["chrom"].tolist() == ["chr1", "chrX", "chrM", "chr2"]
    df = bd.read_bed(p, sizes=SIZES, aliases={"1": "chr1", "X": "chrX", "MT": "chrM"})
    assert df["chrom"].tolist() == ["chr1", "chrX", "chrM", "chr2"]
    df = bd.read_bed(p, sizes=SIZES, aliases="1=chr1, X=chrX,MT=chrM")
    assert df["chrom"].tolist() == ["chr1", "chrX", "chrM", "chr2"]
    df = bd.read_bed(p, aliases={"1": "one"})  # without sizes a dict still renames
    assert df["chrom"].tolist() == ["one", "X", "MT", "chr2"]
    with pytest.raises(ChromosomeError, match=r"e\.bed:2: chromosome 'X' is not in the genome"):
        bd.read_bed(p, sizes=SIZES, aliases={"1": "chr1"})
    with pytest.raises(
        ChromosomeError, match=r"e\.bed:1: chromosome 'chr9' \(renamed from '1'\) is not in the genome"
    ):
        bd.read_bed(p, sizes=SIZES, aliases={"1": "chr9"})
    with pytest.raises(ConfigError, match="needs the genome"):
        bd.read_bed(p, aliases="auto")
    with pytest.raises(ConfigError, match="is not 'from=to'"):
        bd.read_bed(p, sizes=SIZES, aliases="1:chr1")


def test_auto_alias_roman_numerals_for_yeast():
    yeast = {"chrI": 230218, "chrII": 813184, "chrIII": 316620, "chrXVI": 948066, "chrM": 85779}
    df = ch.check_chroms(
        frame([("chr1", 1, 2), ("16", 3, 4), ("chrII", 0, 1), ("MT", 0, 1)]), yeast, aliases="auto"
    )
    assert df["chrom"].tolist() == ["chrI", "chrXVI", "chrII", "chrM"]
    with pytest.raises(ChromosomeError, match="Roman numerals: chrI, chrII, chrIII"):
        ch.check_chroms(frame([("chr3", 1, 2)]), yeast)


def test_unknown_drop():
    df = ch.check_chroms(frame([("chr1", 1, 2), ("chrY", 1, 2), ("chr2", 3, 4)]), SIZES, unknown="drop")
    assert df["chrom"].tolist() == ["chr1", "chr2"] and df.index.tolist() == [0, 1]


def test_check_bounds(tmp_path):
    yeast = {"chrI": 230218}
    p = write(tmp_path / "b.bed", "chrI\t1\t2\nchrI\t100\t999999\n")
    with pytest.raises(ChromosomeError) as ei:
        bd.read_bed(p, sizes=yeast)
    assert ei.value.message == f"{p}:2: interval chrI:100-999999 ends past the end of chrI (230218 bp)"
    ch.check_bounds(frame([("chrI", 0, 230218)]), yeast)  # exactly at the end is fine
    with pytest.raises(ChromosomeError, match=r"<regions>: interval chrI:5-230219 ends past"):
        ch.check_bounds(frame([("chrI", 5, 230219)]), yeast)
    with pytest.raises(ChromosomeError, match="starts before 0"):
        ch.check_bounds(frame([("chrI", -1, 5)]), yeast, source="w")


def test_sizes_from_file(tmp_path):
    p = write(tmp_path / "g.chrom.sizes", "chr1\t100\nchr2\t50\textra\n")
    assert ch.sizes_from_file(p) == {"chr1": 100, "chr2": 50}
    df = bd.read_bed(write(tmp_path / "a.bed", "chr2\t1\t50\n"), sizes=p)  # a path works as sizes
    assert len(df) == 1
    for text, msg in [
        ("chr1\t100\nchr1\t5\n", r"g2:2: chromosome 'chr1' is listed twice \(first on line 1\)"),
        ("chr1\t100\nchr2\t0\n", r"g2:2: length '0' of chr2 is not a positive integer"),
        ("chr1\n", r"g2:1: expected 'name<TAB>length'"),
        ("# x\n", r"g2: contains no chromosomes"),
    ]:
        with pytest.raises(InputError, match=msg):
            ch.sizes_from_file(write(tmp_path / "g2", text))


# ------------------------------------------------------------------------------------------ writers


def test_write_read_roundtrip_bed_and_narrowpeak(tmp_path):
    df = frame(
        [("chr1", 100, 200, "a", 5.0, "+", 150), ("chr2", 0, 10, "b", 2.5, "-", 3)],
        cols=("chrom", "start", "end", "name", "score", "strand", "summit"),
    )
    bd.write_bed(df, tmp_path / "o.bed")
    assert (tmp_path / "o.bed").read_text() == "chr1\t100\t200\ta\t5\t+\nchr2\t0\t10\tb\t2.5\t-\n"
    bd.write_bed(df[["chrom", "start", "end", "score"]].assign(score=[1.0, 2.0]), tmp_path / "s.bed")
    assert (tmp_path / "s.bed").read_text() == "chr1\t100\t200\t.\t1\t.\nchr2\t0\t10\t.\t2\t.\n"
    bd.write_bed(df, tmp_path / "c.bed", columns=["chrom", "start", "end", "summit"])
    assert (tmp_path / "c.bed").read_text().splitlines()[0] == "chr1\t100\t200\t150"
    bd.write_bed(df, tmp_path / "o.bed.gz")
    first = (tmp_path / "o.bed.gz").read_bytes()
    assert first[:2] == b"\x1f\x8b"
    bd.write_bed(df, tmp_path / "o.bed.gz")
    assert (tmp_path / "o.bed.gz").read_bytes() == first  # reproducible gzip (mtime 0)
    back = bd.read_bed(tmp_path / "o.bed.gz")
    pd.testing.assert_frame_equal(back, df.drop(columns="summit"), check_dtype=False)

    bd.write_narrowpeak(df, tmp_path / "o.narrowPeak")
    assert (tmp_path / "o.narrowPeak").read_text().splitlines()[
        0
    ] == "chr1\t100\t200\ta\t5\t+\t-1\t-1\t-1\t50"
    back = bd.read_narrowpeak(tmp_path / "o.narrowPeak")
    assert back["summit"].tolist() == [150, 3]
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".")) == []  # no temp files left
    with pytest.raises(ValueError, match="summit 500 lies outside chr1:100-200"):
        bd.write_narrowpeak(df.assign(summit=[500, 3]), tmp_path / "bad.narrowPeak")
    assert not (tmp_path / "bad.narrowPeak").exists()
    bd.write_narrowpeak(df[["chrom", "start", "end"]], tmp_path / "p3.narrowPeak")
    assert (tmp_path / "p3.narrowPeak").read_text().splitlines()[1] == "chr2\t0\t10\t.\t0\t.\t-1\t-1\t-1\t-1"


# ------------------------------------------------------------------------------------------ arithmetic vs naive


def random_intervals(rng, n, chroms=("chr1", "chr2", "chr3"), span=300, maxlen=25):
    start = rng.integers(0, span, n)
    return pd.DataFrame(
        {
            "chrom": rng.choice(list(chroms), n),
            "start": start.astype(np.int64),
            "end": (start + rng.integers(0, maxlen, n)).astype(np.int64),  # includes empty intervals
        }
    )


def naive_count(a, b, margin=0):
    """O(n*m) by broadcasting: b[j] overlaps a[i] when b.start - margin < a.end and a.start < b.end + margin."""
    ac, as_, ae = (a[c].to_numpy()[:, None] for c in ("chrom", "start", "end"))
    bc, bs, be = (b[c].to_numpy()[None, :] for c in ("chrom", "start", "end"))
    return ((ac == bc) & (bs - margin < ae) & (as_ < be + margin)).sum(axis=1)


def naive_merge(df, gap):
    rows = []
    for c in pd.unique(df["chrom"]):
        sub = sorted(df.loc[df["chrom"] == c, ["start", "end"]].itertuples(index=False))
        cs, ce = sub[0]
        for s, e in sub[1:]:
            if s <= ce + gap:
                ce = max(ce, e)
            else:
                rows.append((c, cs, ce))
                cs, ce = s, e
        rows.append((c, cs, ce))
    return rows


def naive_subtract(a, b):
    rows = []
    bn = [r for r in b[["chrom", "start", "end"]].itertuples(index=False, name=None) if r[2] > r[1]]
    for c, s, e in a[["chrom", "start", "end"]].itertuples(index=False, name=None):
        hit = [(bs, be) for bc, bs, be in bn if bc == c and bs < e and s < be]
        if not hit:
            rows.append((c, s, e))
            continue
        covered = set()
        for bs, be in hit:
            covered.update(range(bs, be))
        run = None
        for x in range(s, e + 1):
            free = x < e and x not in covered
            if free and run is None:
                run = x
            elif not free and run is not None:
                rows.append((c, run, x))
                run = None
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overlaps_counts_points_vs_naive(seed):
    rng = np.random.default_rng(seed)
    a, b = random_intervals(rng, 250), random_intervals(rng, 300, chroms=("chr1", "chr2", "chr4"))
    np.testing.assert_array_equal(rg.count_overlaps(a, b), naive_count(a, b))
    for margin in (0, 3, 40):
        np.testing.assert_array_equal(rg.overlaps_any(a, b, margin=margin), naive_count(a, b, margin) > 0)
    kept = rg.remove_overlapping(a, b, margin=2)
    pd.testing.assert_frame_equal(kept, a[naive_count(a, b, 2) == 0].reset_index(drop=True))

    pc = rng.choice(["chr1", "chr2", "chr9"], 400)
    pp = rng.integers(0, 320, 400)
    inside = (
        (a["chrom"].to_numpy()[:, None] == pc[None, :])
        & (a["start"].to_numpy()[:, None] <= pp[None, :])
        & (pp[None, :] < a["end"].to_numpy()[:, None])
    )
    np.testing.assert_array_equal(rg.contains_points(a, pc, pp), inside.any(axis=1))
    np.testing.assert_array_equal(rg.points_in(a, pc, pp), inside.any(axis=0))
    one_chrom = [bool(((a.chrom == "chr1") & (a.start <= x) & (x < a.end)).any()) for x in (5, 100)]
    np.testing.assert_array_equal(rg.points_in(a, "chr1", [5, 100]), one_chrom)  # one name for all points


@pytest.mark.parametrize("seed,gap", [(0, 0), (1, 0), (2, 5), (3, 30)])
def test_merge_vs_naive(seed, gap):
    rng = np.random.default_rng(seed)
    df = random_intervals(rng, 300)
    got = rg.merge(df, gap=gap)
    assert list(got.columns) == ["chrom", "start", "end"]
    assert list(got.itertuples(index=False, name=None)) == naive_merge(df, gap)


def test_merge_bookended_and_order():
    df = frame([("chr2", 5, 10), ("chr1", 0, 5), ("chr1", 5, 8), ("chr2", 0, 5), ("chr1", 9, 12)])
    assert list(rg.merge(df).itertuples(index=False, name=None)) == [
        ("chr2", 0, 10),
        ("chr1", 0, 8),
        ("chr1", 9, 12),
    ]
    assert list(rg.merge(df, gap=1).itertuples(index=False, name=None))[1:] == [("chr1", 0, 12)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_subtract_vs_naive(seed):
    rng = np.random.default_rng(seed)
    a, b = random_intervals(rng, 200, maxlen=60), random_intervals(rng, 120, maxlen=15)
    a["name"] = [f"r{i}" for i in range(len(a))]
    got = rg.subtract(a, b)
    assert list(got[["chrom", "start", "end"]].itertuples(index=False, name=None)) == naive_subtract(a, b)
    assert set(got["name"]) <= set(a["name"])


def test_subtract_moves_summit_and_keeps_columns():
    a = frame([("chr1", 0, 100, 10, "x")], cols=("chrom", "start", "end", "summit", "name"))
    got = rg.subtract(a, frame([("chr1", 5, 20), ("chr1", 50, 60)]))
    assert list(got[["start", "end"]].itertuples(index=False, name=None)) == [(0, 5), (20, 50), (60, 100)]
    assert got["summit"].tolist() == [2, 35, 80] and got["name"].tolist() == ["x"] * 3


# ------------------------------------------------------------------------------------------ window / clip


def test_window_anchors_and_lengths():
    df = frame(
        [("chr1", 100, 200, 120, "a"), ("chr1", 10, 21, -1, "b")],
        cols=("chrom", "start", "end", "summit", "name"),
    )
    w = rg.window(df, 50)
    assert w["start"].tolist() == [95, -10] and w["end"].tolist() == [
        145,
        40,
    ]  # summit 120; b has none -> centre 15
    assert w["name"].tolist() == ["a", "b"] and w["summit"].tolist() == [120, -1]
    w = rg.window(df, 51, anchor="center")
    assert w["start"].tolist() == [125, -10] and ((w["end"] - w["start"]) == 51).all()
    nosummit = rg.window(df.drop(columns="summit"), 10)
    assert nosummit["start"].tolist() == [145, 10]
    nullable = df.assign(summit=pd.array([130, None], dtype="Int64"))
    assert rg.window(nullable, 4)["start"].tolist() == [128, 13]
    with pytest.raises(ConfigError):
        rg.window(df, 0)
    with pytest.raises(ConfigError):
        rg.window(df, 10, anchor="left")


def test_clip():
    sizes = {"chr1": 100}
    df = frame([("chr1", -10, 20), ("chr1", 90, 110), ("chr1", 30, 40), ("chr1", 100, 120), ("chr1", 50, 50)])
    c = rg.clip(df, sizes)
    assert list(c.itertuples(index=False, name=None)) == [
        ("chr1", 0, 20),
        ("chr1", 90, 100),
        ("chr1", 30, 40),
        ("chr1", 50, 50),
    ]
    d = rg.clip(df, sizes, drop=True)
    assert list(d.itertuples(index=False, name=None)) == [("chr1", 30, 40), ("chr1", 50, 50)]
    with pytest.raises(ChromosomeError, match="chromosome 'chr1' is not in the genome"):
        rg.clip(df, {"chr2": 5})


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_real_yeast_bed_and_encode_narrowpeak():
    yeast_bed = "yeast/reb1_chipexo_rhee2011.sacCer3.bed"
    yeast_sizes = "yeast/sacCer3.chrom.sizes"
    npk = "human/encode_dream_hg19/peaks/A549/ChIPseq.A549.MYC.conservative.train.narrowPeak.gz"
    hg19 = "human/encode_dream_hg19/resources/hg19.autoX.chrom.sizes"
    root = require_shared(yeast_bed, yeast_sizes, npk, hg19)

    sizes = ch.sizes_from_file(root / yeast_sizes)
    assert len(sizes) == 16 and sizes["chrI"] == 230218
    df = bd.read_bed(root / yeast_bed, sizes=sizes)
    assert len(df) == 1773
    assert list(df.columns) == ["chrom", "start", "end", "name", "score", "strand"]
    assert (df["start"] >= 0).all() and (df["end"] <= df["chrom"].map(sizes)).all()
    assert set(df["chrom"]) <= set(sizes)

    peaks = bd.read_peaks(root / npk, sizes=root / hg19)
    assert len(peaks) == 8177
    assert ((peaks["summit"] >= peaks["start"]) & (peaks["summit"] < peaks["end"])).all()
    w = rg.clip(rg.window(peaks, 1000), root / hg19, drop=True)
    assert len(w) == len(peaks) and ((w["end"] - w["start"]) == 1000).all()

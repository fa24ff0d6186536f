"""bindscape.io.genome: FASTA -> cached uint8 arrays, batched fetches, composition, cache and errors."""

from __future__ import annotations

import gzip
import io
import json
import pickle

import numpy as np
import pytest

import bindscape.io.genome as gm
from bindscape.errors import BindscapeError, ChromosomeError, InputError
from bindscape.io.genome import Genome, decode, encode, onehot, reverse_complement_codes
from conftest import random_seqs, require_shared, write_fasta

COMP = str.maketrans("ACGTN", "TGCAN")


def naive_codes(s: str) -> np.ndarray:
    return np.array(["ACGT".index(ch) if ch in "ACGT" else 4 for ch in s.upper()], dtype=np.uint8)


def naive_onehot(s: str) -> np.ndarray:
    x = np.zeros((4, len(s)), dtype=np.float32)
    for j, ch in enumerate(s.upper()):
        if ch in "ACGT":
            x["ACGT".index(ch), j] = 1
    return x


def padded(seq: str, start: int, end: int) -> str:
    return "".join(
        seq[p].upper() if 0 <= p < len(seq) and seq[p].upper() in "ACGT" else "N" for p in range(start, end)
    )


def revcomp(s: str) -> str:
    return s.translate(COMP)[::-1]


@pytest.fixture
def seqs():
    s = random_seqs({"chr1": 5_000, "chr2": 3_333, "chrM": 257, "chr4": 1_024}, seed=3)
    # N stretches and IUPAC letters, some soft-masked
    s["chr1"] = s["chr1"][:700] + "N" * 300 + s["chr1"][1000:2000] + "nnnnRYKMrykm" + s["chr1"][2012:]
    s["chr2"] = "N" * 256 + s["chr2"][256:]
    return s


@pytest.fixture
def genome(tmp_path, seqs):
    return Genome(write_fasta(tmp_path / "g.fa", seqs, width=70))


def write_bgzip_like(path, seqs, member=1000):
    """Multi-member gzip, as bgzip writes (independent gzip blocks concatenated)."""
    text = "".join(
        f">{k}\n" + "\n".join(v[i : i + 60] for i in range(0, len(v), 60)) + "\n" for k, v in seqs.items()
    )
    data = text.encode()
    with open(path, "wb") as fh:
        for i in range(0, len(data), member):
            fh.write(gzip.compress(data[i : i + member]))
    return path


# ----------------------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("kind", ["plain", "gz", "bgzip"])
def test_round_trip(tmp_path, seqs, kind):
    if kind == "bgzip":
        path = write_bgzip_like(tmp_path / "g.fa.bgz", seqs)
        assert gzip.decompress(path.read_bytes()).count(b">") == len(seqs)
    else:
        path = write_fasta(tmp_path / ("g.fa.gz" if kind == "gz" else "g.fa"), seqs, gz=kind == "gz")
    g = Genome(path)
    assert g.chroms == list(seqs)
    assert g.sizes == {k: len(v) for k, v in seqs.items()}
    assert len(g) == sum(map(len, seqs.values()))
    assert "chr2" in g and "chr3" not in g
    for name, s in seqs.items():
        assert np.array_equal(g.codes(name), naive_codes(s))
        assert g.fetch_strings([name], [0], [len(s)]) == [padded(s, 0, len(s))]
    assert not g.codes("chr1").flags.writeable
    assert g.path == path.resolve() and g.cache_path.parent.exists()
    assert len(g.checksum) == 64 and g.cache_path.name == g.checksum
    assert "g.fa" in repr(g) and "4 chromosomes" in repr(g)


def test_header_names_and_line_endings(tmp_path):
    path = tmp_path / "x.fa"
    path.write_bytes(b">a some description\r\nACGT\r\nac\r\n\r\n>b\tdesc\nGG\n>c\n>d\nT")
    g = Genome(path)
    assert g.chroms == ["a", "b", "c", "d"]
    assert g.sizes == {"a": 6, "b": 2, "c": 0, "d": 1}
    assert g.fetch_strings(["a", "d"], [0, 0], [6, 1]) == ["ACGTAC", "T"]
    assert g.codes("c").size == 0 and g.repeat_mask("c").size == 0


def test_large_chunks_cross_headers(tmp_path, monkeypatch):
    """Chunk boundaries inside header lines and sequence lines are handled."""
    monkeypatch.setattr(gm, "_CHUNK", 37)
    s = random_seqs({f"seq{i}_with_a_long_name": 200 + 37 * i for i in range(6)}, seed=5)
    g = Genome(write_fasta(tmp_path / "c.fa.gz", s, gz=True, width=13))
    for k, v in s.items():
        assert g.fetch_strings(k, [0], [len(v)])[0] == v.upper()
        assert np.array_equal(g.repeat_mask(k), np.array([c.islower() for c in v]))


# ------------------------------------------------------------------------------------------- encoding
def test_codes_for_iupac_and_case():
    assert encode("ACGTacgt").tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert encode("NnRYKMSWBDHVrykmswbdhv-").tolist() == [4] * 23
    assert encode(b"GATTACA").tolist() == [2, 0, 3, 3, 0, 1, 0]
    assert decode(np.array([0, 1, 2, 3, 4], np.uint8)) == "ACGTN"
    assert decode(encode("acgtRyN")) == "ACGTNNN"
    assert decode(np.array([[0, 1], [2, 3]], np.uint8)) == ["AC", "GT"]
    assert reverse_complement_codes(encode("AACGTN")).tolist() == encode("NACGTT").tolist()
    c2 = np.stack([encode("ACGTN"), encode("GGGNA")])
    assert np.array_equal(reverse_complement_codes(c2), np.stack([encode("NACGT"), encode("TNCCC")]))


def test_iupac_in_fasta(genome, seqs):
    i = seqs["chr1"].index("nnnnRYKM")
    assert genome.fetch_codes("chr1", [i], length=12)[0].tolist() == [4] * 12
    assert genome.repeat_mask("chr1")[i : i + 12].tolist() == [True] * 4 + [False] * 4 + [True] * 4


def test_onehot_function():
    codes = encode("ACGTNA")
    x = onehot(codes)
    assert x.dtype == np.float32 and x.shape == (4, 6)
    assert np.array_equal(x, naive_onehot("ACGTNA"))
    x2 = onehot(np.stack([codes, codes[::-1]]))
    assert x2.shape == (2, 4, 6) and np.array_equal(x2[1], naive_onehot("ANTGCA"))


# ---------------------------------------------------------------------------------------- soft-masking
def test_softmask_repeat_mask(genome, seqs):
    assert genome.has_repeats
    for name, s in seqs.items():
        m = genome.repeat_mask(name)
        assert m.dtype == bool and np.array_equal(m, np.array([c.islower() for c in s]))


def test_no_repeats(tmp_path):
    g = Genome(write_fasta(tmp_path / "u.fa", random_seqs({"a": 500}, softmask=False)))
    assert not g.has_repeats and not g.repeat_mask("a").any()


# --------------------------------------------------------------------------------------------- fetches
def random_windows(seqs, n, length, rng, overhang=0):
    names = list(seqs)
    ch = [names[i] for i in rng.integers(0, len(names), n)]
    starts = np.array([rng.integers(-overhang, max(1, len(seqs[c]) - length + 1 + overhang)) for c in ch])
    return ch, starts


def test_onehot_matches_naive(genome, seqs):
    rng = np.random.default_rng(0)
    L = 200
    ch, starts = random_windows({k: v for k, v in seqs.items() if len(v) >= L}, 64, L, rng)
    x = genome.fetch_onehot(ch, starts, length=L)
    assert x.dtype == np.float32 and x.shape == (64, 4, L) and x.flags.c_contiguous
    for i in range(64):
        assert np.array_equal(x[i], naive_onehot(seqs[ch[i]][starts[i] : starts[i] + L]))
    codes = genome.fetch_codes(ch, starts, length=L)
    assert codes.dtype == np.uint8 and np.array_equal(onehot(codes), x)
    # `ends` instead of `length`, numpy / pandas inputs, a reused output buffer
    out = np.full((64, 4, L), 7, dtype=np.float32)
    y = genome.fetch_onehot(np.array(ch, dtype=object), starts, ends=starts + L, out=out)
    assert y is out and np.array_equal(y, x)
    pd = pytest.importorskip("pandas")
    z = genome.fetch_codes(pd.Series(ch, dtype="category"), pd.Series(starts), length=L)
    assert np.array_equal(z, codes)


def test_single_chrom_broadcast_and_strings(genome, seqs):
    s = seqs["chr2"]
    starts = np.array([0, 10, 3000])
    assert genome.fetch_codes("chr2", starts, length=5).tolist() == [
        naive_codes(s[a : a + 5]).tolist() for a in starts
    ]
    got = genome.fetch_strings(["chr2", "chrM", "chr1"], [300, 0, 695], [310, 257, 705])
    assert got == [s[300:310].upper(), seqs["chrM"].upper(), padded(seqs["chr1"], 695, 705)]
    assert got[2] == seqs["chr1"][695:700].upper() + "NNNNN"


def test_reverse_complement(genome, seqs):
    rng = np.random.default_rng(1)
    L = 300
    ch, starts = random_windows(seqs, 40, L, rng, overhang=50)
    rc = rng.random(40) < 0.5
    fwd = genome.fetch_onehot(ch, starts, length=L, pad=True)
    x = genome.fetch_onehot(ch, starts, length=L, pad=True, rc=rc)
    # rc of one-hot == channels flipped (A<->T, C<->G) and positions reversed
    assert np.array_equal(x[rc], fwd[rc][:, ::-1, ::-1])
    assert np.array_equal(x[~rc], fwd[~rc])
    codes = genome.fetch_codes(ch, starts, length=L, pad=True, rc=rc)
    fcodes = genome.fetch_codes(ch, starts, length=L, pad=True)
    assert np.array_equal(codes[rc], reverse_complement_codes(fcodes[rc]))
    strs = genome.fetch_strings(ch, starts, starts + L, pad=True, rc=rc)
    for i in range(40):
        want = padded(seqs[ch[i]], starts[i], starts[i] + L)
        assert strs[i] == (revcomp(want) if rc[i] else want)
    assert (
        genome.fetch_onehot(ch, starts, length=L, pad=True, rc=True)[0].tolist()
        == fwd[0][::-1, ::-1].tolist()
    )


def test_padding(genome, seqs):
    s = seqs["chrM"]  # 257 bp
    starts = np.array([-5, 250, -10, 300, -400])
    x = genome.fetch_codes(["chrM"] * 5, starts, length=12, pad=True)
    for i, a in enumerate(starts):
        assert decode(x[i]) == padded(s, a, a + 12)
    assert decode(x[0])[:5] == "NNNNN" and decode(x[1])[7:] == "NNNNN"
    assert (x[3] == 4).all() and (x[4] == 4).all()
    oh = genome.fetch_onehot(["chrM"] * 5, starts, length=12, pad=True)
    assert (oh[0, :, :5] == 0).all() and np.array_equal(oh[0, :, 5:], naive_onehot(s[:7]))
    assert (oh[3] == 0).all()
    # a window longer than the chromosome, both ends padded
    big = genome.fetch_strings("chrM", [-3], [260], pad=True)[0]
    assert big == "NNN" + s.upper() + "NNN"


def test_past_end_without_pad(genome):
    with pytest.raises(
        ChromosomeError, match=r"chrM:250-262 extends past the end of chrM \(257 bp\) in genome g\.fa"
    ):
        genome.fetch_onehot(["chr1", "chrM"], [0, 250], length=12)
    with pytest.raises(ChromosomeError, match="starts before 0"):
        genome.fetch_codes("chr1", [-1], length=5)
    with pytest.raises(ChromosomeError, match="g.fa"):
        genome.fetch_strings(["chr2"], [3000], [4000])
    with pytest.raises(ChromosomeError, match="past the end"):
        genome.gc_fraction(["chr2"], [3000], [4000])


def test_unequal_lengths_and_bad_args(genome):
    with pytest.raises(InputError, match="different lengths"):
        genome.fetch_codes(["chr1", "chr1"], [0, 0], ends=[10, 20])
    assert genome.fetch_codes(["chr1", "chr1"], [0, 5], ends=[10, 15]).shape == (2, 10)
    with pytest.raises(ValueError, match="out must be"):
        genome.fetch_onehot("chr1", [0], length=10, out=np.empty((1, 4, 9), np.float32))
    with pytest.raises(TypeError):
        genome.fetch_codes("chr1", [0])
    assert genome.fetch_onehot([], np.array([], dtype=np.int64), length=10).shape == (0, 4, 10)


# ------------------------------------------------------------------------------------------ composition
def test_fractions_match_naive(genome, seqs):
    rng = np.random.default_rng(2)
    ch, starts, ends = [], [], []
    for _ in range(300):
        c = list(seqs)[rng.integers(0, len(seqs))]
        n = len(seqs[c])
        a = int(rng.integers(0, n + 1))
        b = int(rng.integers(a, min(n, a + 900) + 1))
        ch.append(c), starts.append(a), ends.append(b)
    # exact block boundaries, whole chromosomes, empty and all-N intervals
    for c, a, b in [
        ("chr1", 0, 256),
        ("chr1", 255, 513),
        ("chr1", 256, 512),
        ("chr2", 0, 256),
        ("chr1", 700, 1000),
        ("chr4", 0, 1024),
        ("chrM", 0, 257),
        ("chr1", 10, 10),
        ("chrM", 256, 257),
    ]:
        ch.append(c), starts.append(a), ends.append(b)
    gc = genome.gc_fraction(ch, starts, ends)
    rep = genome.repeat_fraction(ch, starts, ends)
    nf = genome.n_fraction(ch, starts, ends)
    assert gc.dtype == np.float64 and gc.shape == (len(ch),)
    for i, (c, a, b) in enumerate(zip(ch, starts, ends, strict=True)):
        s = seqs[c][a:b]
        up = s.upper()
        nn = sum(x not in "ACGT" for x in up)
        want_gc = (up.count("G") + up.count("C")) / (len(s) - nn) if len(s) > nn else np.nan
        want_rep = sum(x.islower() for x in s) / len(s) if s else np.nan
        want_n = nn / len(s) if s else np.nan
        np.testing.assert_allclose([gc[i], rep[i], nf[i]], [want_gc, want_rep, want_n], equal_nan=True)
    assert np.isnan(gc[-5]) and nf[-5] == 1.0  # the all-N stretch


# ------------------------------------------------------------------------------------------------ cache
def test_cache_reused_and_keyed_by_checksum(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    seqs = random_seqs({"a": 1000, "b": 600}, seed=7)
    path = write_fasta(tmp_path / "x.fa", seqs)
    n0 = gm._BUILDS
    g1 = Genome(path, cache_dir=cache)
    assert gm._BUILDS == n0 + 1 and g1.cache_path.parent == cache.resolve()
    index = g1.cache_path / "index.json"
    mtime = index.stat().st_mtime_ns
    meta = json.loads(index.read_text())
    assert [c["name"] for c in meta["chroms"]] == ["a", "b"] and [c["size"] for c in meta["chroms"]] == [
        1000,
        600,
    ]
    g2 = Genome(path, cache_dir=cache)
    assert gm._BUILDS == n0 + 1 and index.stat().st_mtime_ns == mtime and g2.checksum == g1.checksum
    # a changed file gets a new cache folder
    seqs["b"] = seqs["b"][:-1] + ("A" if seqs["b"][-1] != "A" else "C")
    write_fasta(path, seqs)
    g3 = Genome(path, cache_dir=cache)
    assert gm._BUILDS == n0 + 2 and g3.checksum != g1.checksum and g3.cache_path != g1.cache_path
    assert g3.fetch_strings("b", [599], [600]) == [seqs["b"][-1].upper()]
    # no temp folders left behind; cache location: cache_dir > $BINDSCAPE_CACHE
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".tmp")) == []
    monkeypatch.setenv("BINDSCAPE_CACHE", str(tmp_path / "env-cache"))
    assert Genome(path).cache_path.parent == (tmp_path / "env-cache").resolve()


def test_interrupted_build_leaves_no_cache(tmp_path, monkeypatch):
    path = write_fasta(tmp_path / "x.fa", random_seqs({"a": 800, "b": 900}, seed=8))
    cache = tmp_path / "cache"
    real_finish = gm._ChromWriter.finish
    calls = []

    def failing_finish(self):
        calls.append(self.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_finish(self)

    monkeypatch.setattr(gm._ChromWriter, "finish", failing_finish)
    with pytest.raises(KeyboardInterrupt):
        Genome(path, cache_dir=cache)
    assert list(cache.iterdir()) == [cache / ".checksums"] or all(
        p.name.startswith(".") for p in cache.iterdir()
    )
    assert not any(p.name.startswith(".tmp") for p in cache.iterdir())
    monkeypatch.setattr(gm._ChromWriter, "finish", real_finish)
    g = Genome(path, cache_dir=cache)
    assert g.sizes == {"a": 800, "b": 900}


def test_pickle(genome, seqs):
    data = pickle.dumps(genome)
    assert len(data) < 1000  # path + cache location only, no arrays
    g2 = pickle.loads(data)
    assert (
        g2.chroms == genome.chroms and g2.checksum == genome.checksum and g2.cache_path == genome.cache_path
    )
    x = g2.fetch_onehot(["chr1", "chr2"], [5, 6], length=50)
    assert np.array_equal(x, genome.fetch_onehot(["chr1", "chr2"], [5, 6], length=50))


# ----------------------------------------------------------------------------------------------- errors
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.fa: genome file does not exist"):
        Genome(tmp_path / "nope.fa")


def test_gz_that_is_not_gzip(tmp_path):
    p = tmp_path / "fake.fa.gz"
    p.write_text(">a\nACGT\n")
    with pytest.raises(InputError, match=r"fake\.fa\.gz: not a gzip file"):
        Genome(p)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(b">a\n" + b"ACGT" * 5000)
    p = tmp_path / "trunc.fa.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"trunc\.fa\.gz: corrupt or truncated gzip"):
        Genome(p)


def test_duplicate_names(tmp_path):
    p = tmp_path / "dup.fa"
    p.write_text(">a\nACGT\n>b\nGG\n>a desc\nTT\n")
    with pytest.raises(
        InputError, match=r"dup\.fa: duplicate sequence name 'a' at line 5 \(first seen at line 1\)"
    ):
        Genome(p)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "no FASTA header"),
        (b"ACGT\nACGT\n", "no FASTA header"),
        (b">a\nAC1T\n", "unexpected character '1'"),
    ],
)
def test_malformed(tmp_path, content, message):
    p = tmp_path / "bad.fa"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as e:
        Genome(p)
    assert "bad.fa" in str(e.value) and "\n" not in str(e.value)
    assert not any((tmp_path / "..").glob("genome-cache/.tmp*"))


def test_unknown_chromosome(genome):
    with pytest.raises(
        ChromosomeError, match=r"unknown chromosome 'chr9' for genome g\.fa; known: chr1, chr2, chrM, chr4"
    ):
        genome.fetch_onehot(["chr1", "chr9"], [0, 0], length=10)
    with pytest.raises(ChromosomeError) as e:
        genome.codes("2")
    assert "'chr2'" in e.value.hint
    with pytest.raises(ChromosomeError):
        genome.gc_fraction(["chrZ"], [0], [5])
    assert issubclass(ChromosomeError, BindscapeError)


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_yeast_matches_chrom_sizes(tmp_path):
    data = require_shared("yeast/sacCer3.fa.gz", "yeast/sacCer3.chrom.sizes")
    g = Genome(data / "yeast" / "sacCer3.fa.gz", cache_dir=tmp_path / "c")
    sizes = dict(
        line.split() for line in (data / "yeast" / "sacCer3.chrom.sizes").read_text().splitlines() if line
    )
    assert g.sizes == {k: int(v) for k, v in sizes.items()}
    with gzip.open(data / "yeast" / "sacCer3.fa.gz", "rt") as fh:
        head = "".join(io.StringIO(fh.read(5000)).readlines()[1:5]).replace("\n", "")
    assert g.fetch_strings(g.chroms[0], [0], [len(head)])[0] == head.upper()
    gc = g.gc_fraction(g.chroms, [0] * len(g.chroms), [g.sizes[c] for c in g.chroms])
    assert np.all((gc > 0.3) & (gc < 0.45))  # yeast is ~38% GC


def test_many_sorted_names_and_concurrent_build(tmp_path, genome, seqs):
    # long sorted name arrays take the run-lookup path; result equals the per-row lookup
    ch = np.array(["chr1"] * 1500 + ["chr2"] * 700 + ["chr1"] * 3, dtype=object)
    starts = np.arange(ch.size) % 2000
    nf = genome.n_fraction(ch, starts, starts + 100)
    assert np.array_equal(nf, genome.n_fraction(list(ch), starts, starts + 100))
    with pytest.raises(ChromosomeError, match="'chrQ'"):
        genome.n_fraction(
            np.array(["chr1"] * 1500 + ["chrQ"], dtype=object), np.zeros(1501, int), np.ones(1501, int)
        )
    # a second builder that loses the rename race uses the winner's cache and leaves no temp folder
    n0 = gm._BUILDS
    idx = genome._build()
    assert gm._BUILDS == n0 + 1 and [c["name"] for c in idx["chroms"]] == list(seqs)
    assert not any(p.name.startswith(".tmp") for p in genome.cache_path.parent.iterdir())

"""The motif layer: loading (JASPAR, files), PWM math, scanning vs memelite's FIMO, baseline, Tomtom, CLI."""

from __future__ import annotations

import gzip
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from bindscape.cli import run_cli
from bindscape.errors import InputError
from bindscape.motifs import (
    Motif,
    PWMBaseline,
    Scanner,
    load_jaspar,
    load_motif,
    pvalue_table,
    pwm_max_scores,
    read_jaspar,
    read_meme,
    read_motifs,
    read_transfac,
    scan_genome,
    scan_sequences,
    search_jaspar,
    tomtom,
)
from bindscape.motifs.scan import encode
from conftest import require_shared, write_fasta

YEAST_IDS = ["MA0363", "MA0265", "MA0359", "MA0331", "MA0303"]


# ------------------------------------------------------------------------------------------ JASPAR
def test_jaspar_by_id_and_version():
    m = load_jaspar("MA0139.1")
    assert (m.id, m.name, m.width) == ("MA0139.1", "CTCF", 19)
    latest = load_jaspar("MA0363")  # no version: the release's latest
    assert latest.id == "MA0363.3" and latest.name == "REB1" and latest.is_counts
    assert latest.species == ("Saccharomyces cerevisiae",) and latest.taxon == "fungi"
    assert latest.matrix.shape == (4, 9)
    assert load_jaspar("MA0139.1", release=2020).width == 19
    with pytest.raises(InputError, match="no version 9"):
        load_jaspar("MA0139.9")


def test_jaspar_name_with_species_never_another_species():
    human = load_jaspar("CTCF", species="human")
    assert human.id.startswith("MA0139.") and human.species == ("Homo sapiens",)
    assert load_jaspar("ctcf", species="Homo sapiens").id == human.id
    assert load_jaspar("CTCF", species=9606).id == human.id
    fly = load_jaspar("CTCF", species="fly")
    assert fly.id.startswith("MA0531.") and fly.species == ("Drosophila melanogaster",)
    assert load_jaspar("CTCF", taxon="insects").id == fly.id
    # the name alone is used for two species: an error, not the first row (pyjaspar gives the fly motif)
    with pytest.raises(InputError, match="several species") as e:
        load_jaspar("CTCF")
    assert "Homo sapiens" in str(e.value) and "Drosophila" in str(e.value)


def test_jaspar_name_only_for_another_species():
    with pytest.raises(InputError) as e:
        load_jaspar("REB1", species="human")
    assert "exists only for Saccharomyces cerevisiae" in e.value.message
    with pytest.raises(InputError) as e:
        load_jaspar("CTCF", species="yeast")
    assert "Homo sapiens" in e.value.message and "Drosophila melanogaster" in e.value.message
    assert "Saccharomyces cerevisiae" in e.value.message  # names the species asked for too


def test_jaspar_unknown_name_suggests_close_matches():
    with pytest.raises(InputError) as e:
        load_jaspar("CTFC", species="human")
    assert "no JASPAR motif named 'CTFC'" in e.value.message
    assert "CTCF" in e.value.hint
    with pytest.raises(Exception, match="unknown species"):
        load_jaspar("CTCF", species="martian")
    with pytest.raises(Exception, match="not available"):
        load_jaspar("CTCF", species="human", release=1999)


def test_search_jaspar():
    df = search_jaspar("CTCF", species="human")
    assert set(df["name"]) <= {"CTCF", "CTCFL"} and "MA0139.2" in set(df["id"])
    assert (df["species"] == "Homo sapiens").all()
    yeast = search_jaspar(None, species="yeast")
    assert len(yeast) > 100 and "REB1" in set(yeast["name"])


# ------------------------------------------------------------------------------------------ files
MEME_TEXT = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.3 C 0.2 G 0.2 T 0.3

MOTIF M1 alpha
letter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0
 1.0 0.0 0.0 0.0
 0.0 0.5 0.5 0.0
 0.25 0.25 0.25 0.25
URL http://example

MOTIF M2
letter-probability matrix: alength= 4 w= 2
 0.1 0.2 0.3 0.4
 0.4 0.3 0.2 0.1
"""

JASPAR_TEXT = """>MA0004.1 Arnt
A  [ 4 19  0  0  0  0 ]
C  [16  0 20  0  0  0 ]
G  [ 0  1  0 20  0 20 ]
T  [ 0  0  0  0 20  0 ]
>X1 bare
1 2 3
4 5 6
7 8 9
0 1 2
"""

TRANSFAC_TEXT = """VV  TRANSFAC MATRIX TABLE
XX
//
AC  MA0004.1
XX
ID  Arnt
XX
DE  MA0004.1 Arnt ; From JASPAR
PO      A      C      G      T
01      4     16      0      0      C
02     19      0      1      0      A
03      0     20      0      0      C
XX
CC  tax_group:vertebrates
XX
//
AC  T2
XX
NA  second
P0      A      C      G      T
1       1      1      1      7
XX
//
"""


def test_read_meme(tmp_path):
    p = tmp_path / "m.meme"
    p.write_text(MEME_TEXT)
    ms = read_motifs(p)
    assert [(m.id, m.name, m.width) for m in ms] == [("M1", "alpha", 3), ("M2", "M2", 2)]
    assert ms[0].nsites == 10 and ms[1].nsites is None
    np.testing.assert_allclose(ms[0].probs[:, 1], [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(ms[0].meta["background"], [0.3, 0.2, 0.2, 0.3])


def test_read_jaspar_and_transfac(tmp_path):
    j = tmp_path / "m.jaspar"
    j.write_text(JASPAR_TEXT)
    a, b = read_jaspar(j)
    assert (a.id, a.name, a.width, a.is_counts) == ("MA0004.1", "Arnt", 6, True)
    assert a.matrix[1, 0] == 16 and b.matrix[3, 2] == 2 and b.name == "bare"
    t = tmp_path / "m.transfac"
    t.write_text(TRANSFAC_TEXT)
    x, y = read_transfac(t)
    assert (x.id, x.name, x.width) == ("MA0004.1", "Arnt", 3)
    np.testing.assert_array_equal(x.matrix[:, 0], [4, 16, 0, 0])
    assert (y.id, y.name) == ("T2", "second") and y.matrix[3, 0] == 7
    assert read_motifs(t)[0].matrix.tolist() == x.matrix.tolist()  # sniffed by extension
    # the same matrix through JASPAR's own database
    np.testing.assert_array_equal(load_jaspar("MA0004.1").matrix[:, :3], x.matrix)


def test_real_motif_collections():
    root = require_shared("motifs/H12CORE_meme_format.meme")
    expected = {"H12CORE_meme_format.meme": 1443, "H13CORE_meme_format.meme": 1611,
                "jaspar_2024_consensus.meme": 182}
    for name, n in expected.items():
        ms = read_meme(root / "motifs" / name)
        assert len(ms) == n, name
        assert all(np.allclose(m.probs.sum(axis=0), 1) for m in ms)
    first = read_meme(root / "motifs" / "jaspar_2024_consensus.meme")[0]
    assert first.id == "C001:HES_SREBF:bHLH" and first.width == 6 and first.consensus() == "CACGTG"
    # FILE:NAME selects one motif of a collection
    m = load_motif(f"{root / 'motifs' / 'jaspar_2024_consensus.meme'}:C002:CREB_XBP1:bZIP")
    assert m.width == 9


@pytest.mark.parametrize("body,line,what", [
    ("MOTIF A\nletter-probability matrix: alength= 4 w= 2\n 0.5 0.5 0 0\n 0.5 0.5 0\n", 4, "expected 4"),
    ("MOTIF A\nletter-probability matrix: alength= 4 w= 2\n 0.5 0.5 0 0\n 0.5 x 0 0.5\n", 4, "expected numbers"),
    ("MOTIF A\nletter-probability matrix: alength= 4 w= 3\n 0.5 0.5 0 0\n 0.5 0.5 0 0\nMOTIF B\n", 5,
     "expected 3 matrix rows"),
    ("MOTIF A\nletter-probability matrix: alength= 4 w= 1\n 5 5 0 0\n", 3, "sums to"),
    ("MOTIF A\n 0.5 0.5 0 0\n", 1, "no 'letter-probability"),
])
def test_malformed_meme_names_file_and_line(tmp_path, body, line, what):
    p = tmp_path / "bad.meme"
    p.write_text("MEME version 4\n\n" + body)
    with pytest.raises(InputError) as e:
        read_meme(p)
    assert e.value.message.startswith(f"{p}:{line + 2}:"), e.value.message
    assert what in e.value.message


# ------------------------------------------------------------------------------------------ PWM math
def test_pwm_pseudocount_background_and_rc():
    m = Motif("t", np.array([[8, 0], [0, 2], [2, 0], [0, 8]], dtype=float), is_counts=True)
    ppm = m.to_ppm(pseudocount=1.0)
    np.testing.assert_allclose(ppm[:, 0], (np.array([8, 0, 2, 0]) + 0.25) / 11)
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    ppm_bg = m.to_ppm(pseudocount=1.0, background=bg)
    np.testing.assert_allclose(ppm_bg[:, 1], (np.array([0, 2, 0, 8]) + bg) / 11)
    np.testing.assert_allclose(m.to_pwm(1.0, bg), np.log2(ppm_bg / bg[:, None]))
    np.testing.assert_allclose(ppm.sum(axis=0), 1)
    rc = m.reverse_complement()
    np.testing.assert_array_equal(rc.matrix, [[8, 0], [0, 2], [2, 0], [0, 8]])  # A<->T, C<->G, reversed
    np.testing.assert_array_equal(rc.matrix, m.matrix[::-1, ::-1])
    assert rc.reverse_complement().matrix.tolist() == m.matrix.tolist()
    # probability motif: FIMO's rule with nsites (20 when unknown)
    p = Motif("p", np.array([[1.0], [0], [0], [0]]))
    np.testing.assert_allclose(p.to_ppm(0.1)[:, 0], (np.array([20, 0, 0, 0]) + 0.025) / 20.1)
    assert m.information_content().shape == (2,)
    with pytest.raises(InputError):
        Motif("bad", np.ones((3, 2)))


def test_pvalue_table_is_exact():
    rng = np.random.default_rng(3)
    pwm = rng.normal(0, 2, (4, 5))
    smallest, table = pvalue_table(pwm, 0.1)
    ip = np.round(pwm / 0.1).astype(int)
    sums = np.array([sum(ip[b, j] for j, b in enumerate(seq)) for seq in itertools.product(range(4), repeat=5)])
    for k in [sums.min(), np.median(sums), sums.max() - 3, sums.max()]:
        k = int(k)
        assert math.isclose(2 ** table[k - smallest], (sums >= k).mean(), rel_tol=1e-9)


# ------------------------------------------------------------------------------------------ scanning
def _memelite_pwms(motifs, eps=1e-4):
    return {m.name: np.log2(m.probs + eps) - math.log2(0.25) for m in motifs}


def _compare_with_memelite(ours: pd.DataFrame, ref: pd.DataFrame):
    key_o = pd.DataFrame({"motif": ours["motif"].astype(str), "seq": ours["chrom"].astype(str),
                          "start": ours["start"], "strand": ours["strand"], "p": ours["p"],
                          "score": ours["score"]})
    key_r = pd.DataFrame({"motif": ref["motif_name"].astype(str), "seq": ref["sequence_name"].astype(str),
                          "start": ref["start"].astype(np.int64), "strand": ref["strand"], "p": ref["p-value"],
                          "score": ref["score"]})
    both = key_o.merge(key_r, on=["motif", "seq", "start", "strand"], how="outer", suffixes=("", "_ref"),
                       indicator=True)
    assert len(both) > 20
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"].head()
    d = np.abs(np.log10(both["p"]) - np.log10(both["p_ref"]))
    assert d.max() < 0.05
    np.testing.assert_allclose(both["score"], both["score_ref"], rtol=1e-6)


def test_scan_agrees_with_memelite_random_sequences():
    from memelite.fimo import fimo

    ms = [load_jaspar(i) for i in YEAST_IDS] + [load_jaspar("MA0139.2")]
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, (30, 3000))
    X[0, 100:140] = 4  # a run of N
    onehot = np.zeros((30, 4, 3000), dtype=np.float32)
    onehot[np.arange(30)[:, None], np.minimum(X, 3), np.arange(3000)[None]] = 1
    onehot[0, :, 100:140] = 0
    ref = pd.concat(fimo({m.name: m.probs for m in ms}, onehot, threshold=1e-4), ignore_index=True)
    ours = scan_sequences(_memelite_pwms(ms), X.astype(np.uint8), pvalue=1e-4)
    _compare_with_memelite(ours, ref)
    # the numpy reference scanner gives the same table
    ref_np = scan_sequences(_memelite_pwms(ms), X.astype(np.uint8), pvalue=1e-4, engine="numpy")
    pd.testing.assert_frame_equal(ours, ref_np)


def test_scan_agrees_with_memelite_on_yeast_chromosome():
    from memelite.fimo import fimo

    from bindscape.io.genome import Genome

    root = require_shared("yeast/sacCer3.fa.gz")
    g = Genome(root / "yeast" / "sacCer3.fa.gz")
    codes = np.asarray(g.codes("chrI"))
    ms = [load_jaspar(i) for i in YEAST_IDS]
    onehot = (codes[None, None, :] == np.arange(4)[None, :, None]).astype(np.float32)
    ref = pd.concat(fimo({m.name: m.probs for m in ms}, onehot, threshold=1e-4), ignore_index=True)
    ref["sequence_name"] = "chrI"
    ours = scan_genome(_memelite_pwms(ms), g, chroms=["chrI"], chunk_size=50_000)  # several chunks
    _compare_with_memelite(ours, ref)


def test_genome_scan_streams_in_chunks(tmp_path):
    rng = np.random.default_rng(1)
    seqs = {c: "".join("ACGT"[i] for i in rng.integers(0, 4, n)) for c, n in [("a", 30_000), ("b", 12_000),
                                                                                 ("c", 5)]}
    ms = [load_jaspar("MA0363"), load_jaspar("MA0265")]
    whole = scan_genome(ms, seqs, pvalue=1e-3)
    small = scan_genome(ms, seqs, pvalue=1e-3, chunk_size=1000)
    pd.testing.assert_frame_equal(whole, small)
    direct = scan_sequences(ms, {k: v for k, v in seqs.items() if len(v) > 20}, pvalue=1e-3)
    assert len(direct) == len(whole) and (direct["start"].to_numpy() == whole["start"].to_numpy()).all()
    assert list(whole.columns[:6]) == ["chrom", "start", "end", "strand", "score", "p"]
    assert (whole["p"] < 1e-3).all() and set(whole["strand"]) == {"+", "-"}
    # scores: recompute one hit by hand on the right strand
    sc = Scanner(ms, pvalue=1e-3)
    h = whole.iloc[0]
    m = ms[0] if h["motif"] == "REB1" else ms[1]
    site = encode(seqs[h["chrom"]][h["start"]:h["end"]])
    pwm = m.to_pwm(0.1) if h["strand"] == "+" else m.reverse_complement().to_pwm(0.1)
    assert math.isclose(pwm[site, np.arange(len(site))].sum(), h["score"], rel_tol=1e-9)
    k = [x.name for x in ms].index(m.name)
    assert math.isclose(sc.pvalues([h["score"]], k, h["strand"])[0], h["p"])
    # regions: only hits inside, none twice even with overlapping regions
    reg = pd.DataFrame({"chrom": ["a", "a"], "start": [0, 5000], "end": [10000, 20000]})
    sub = scan_genome(ms, seqs, pvalue=1e-3, regions=reg)
    exp = whole[(whole["chrom"] == "a") & (whole["end"] <= 20000)]
    assert len(sub) == len(exp)
    # a written FASTA through the genome cache gives the same hits
    fa = write_fasta(tmp_path / "g.fa", seqs)
    pd.testing.assert_frame_equal(scan_genome(ms, str(fa), pvalue=1e-3), whole)


def test_motif_longer_than_sequence_is_an_error():
    with pytest.raises(InputError, match=r"longer than sequence .* \(5 bp\)"):
        scan_sequences(load_jaspar("MA0363"), ["ACGTACGTACGTAC", "ACGTA"])


def test_planted_site_is_found_with_small_p():
    m = load_jaspar("MA0363")
    rng = np.random.default_rng(5)
    bg = "".join("ACGT"[i] for i in rng.integers(0, 4, 400))
    seq = bg[:200] + m.consensus() + bg[200:]
    rc = seq[:50] + "".join({"A": "T", "C": "G", "G": "C", "T": "A"}[c] for c in reversed(m.consensus())) + seq[59:]
    h = scan_sequences(m, {"fwd": seq, "rev": rc})
    top = h.sort_values("p").groupby("chrom", observed=True).head(1).set_index("chrom")
    assert top.loc["fwd", "start"] == 200 and top.loc["fwd", "strand"] == "+"
    assert top.loc["rev", "start"] == 50 and top.loc["rev", "strand"] == "-"
    assert top["p"].max() < 1e-5


# ------------------------------------------------------------------------------------------ baseline, tomtom, logo
def test_pwm_baseline_equals_brute_force():
    ms = [load_jaspar("MA0363"), load_jaspar("MA0359")]
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 4, (12, 60)).astype(np.uint8)
    codes[3, 10:20] = 4
    onehot = (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.float32)
    got = PWMBaseline(ms).predict(onehot)
    pwms = [m.to_pwm(0.1) for m in ms] + [m.reverse_complement().to_pwm(0.1) for m in ms]
    exp = np.full(len(codes), -np.inf)
    for i, row in enumerate(codes):
        for pwm in pwms:
            w = pwm.shape[1]
            for s in range(60 - w + 1):
                exp[i] = max(exp[i], sum(pwm[row[s + j], j] if row[s + j] < 4 else 0.0 for j in range(w)))
    np.testing.assert_allclose(got, exp)
    np.testing.assert_allclose(pwm_max_scores(codes, ms), exp)
    with pytest.raises(InputError, match="longer"):
        pwm_max_scores(onehot[:, :, :5], ms)


def test_tomtom_finds_the_same_motif():
    db = [load_jaspar(i) for i in YEAST_IDS + ["MA0281", "MA0357", "MA0299", "MA0341", "MA0139.2"]]
    q = load_jaspar("MA0363").reverse_complement()
    res = tomtom([q], db)
    assert res.iloc[0]["target"] == "REB1" and res.iloc[0]["p"] < 1e-3
    assert res.iloc[0]["strand"] == "-"


def test_logo(tmp_path):
    from bindscape.motifs import save_logo

    out = save_logo(load_jaspar("MA0363"), tmp_path / "reb1.png")
    assert out.stat().st_size > 1000


# ------------------------------------------------------------------------------------------ CLI
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    assert run_cli(["motifs", "show", "CTFC", "--species", "human"]) == 2
    err = capsys.readouterr().err
    assert "no JASPAR motif named 'CTFC'" in err and "CTCF" in err and "Traceback" not in err
    assert run_cli(["motifs", "show", "REB1", "--species", "human"]) == 2
    assert "exists only for Saccharomyces cerevisiae" in capsys.readouterr().err
    bad = tmp_path / "bad.meme"
    bad.write_text("MEME version 4\n\nMOTIF A\nletter-probability matrix: alength= 4 w= 2\n0.5 0.5 0 0\n1 0\n")
    fa = write_fasta(tmp_path / "s.fa", {"s1": "ACGTTTACCCGGAAA" * 3, "short": "ACGT"})
    assert run_cli(["motifs", "scan", str(bad), "--fasta", str(fa)]) == 2
    assert f"{bad}:6:" in capsys.readouterr().err
    assert run_cli(["motifs", "scan", "MA0363", "--fasta", str(fa)]) == 2
    assert "longer than sequence 'short'" in capsys.readouterr().err


def test_cli_search_show_scan(tmp_path, capsys):
    assert run_cli(["motifs", "search", "REB1", "--species", "yeast"]) == 0
    assert "MA0363.3" in capsys.readouterr().out
    assert run_cli(["motifs", "show", "MA0363", "--logo", str(tmp_path / "l.svg")]) == 0
    assert "ATTACCCGG" in capsys.readouterr().out and (tmp_path / "l.svg").exists()
    rng = np.random.default_rng(0)
    seqs = {f"c{i}": "".join("ACGT"[j] for j in rng.integers(0, 4, 3000)) for i in range(3)}
    seqs["c0"] = seqs["c0"][:100] + "TTACCCGG" + seqs["c0"][108:]
    fa = write_fasta(tmp_path / "g.fa", seqs)
    out = tmp_path / "hits.tsv.gz"
    assert run_cli(["motifs", "scan", "REB1", "--species", "yeast", "--genome", str(fa), "-o", str(out)]) == 0
    with gzip.open(out, "rt") as fh:
        df = pd.read_csv(fh, sep="\t")
    assert ((df["chrom"] == "c0") & (df["start"] == 99)).any() or ((df["chrom"] == "c0") & (df["start"] == 100)).any()


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_reb1_hits_enriched_near_chipexo_peaks():
    from bindscape.io.bed import read_bed
    from bindscape.io.genome import Genome
    from bindscape.io.ranges import overlaps_any

    root = require_shared("yeast/sacCer3.fa.gz", "yeast/reb1_chipexo_rhee2011.sacCer3.bed")
    g = Genome(root / "yeast" / "sacCer3.fa.gz")
    peaks = read_bed(root / "yeast" / "reb1_chipexo_rhee2011.sacCer3.bed")
    hits = scan_genome(load_jaspar("REB1", species="yeast"), g)
    near = overlaps_any(peaks, hits, margin=50).mean()
    rng = np.random.default_rng(0)
    sizes = g.sizes
    chroms = rng.choice(list(sizes), 20000, p=np.array(list(sizes.values())) / sum(sizes.values()))
    pos = (rng.random(20000) * np.array([sizes[c] for c in chroms])).astype(np.int64)
    rand = pd.DataFrame({"chrom": chroms, "start": pos, "end": pos + 1})
    base = overlaps_any(rand, hits, margin=50).mean()
    fold = near / base
    print(f"REB1 hit within +-50 bp: {near:.1%} of Reb1 ChIP-exo peaks vs {base:.1%} of random positions "
          f"(fold {fold:.1f})")
    assert near > 0.4 and fold > 10

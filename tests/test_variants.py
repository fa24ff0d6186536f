"""`bindscape variants`: VCF reading (plain, bgzip + tabix, multi-allelic), the indel window rule, statuses,
scores of single, multi-output, ensemble and multitask checkpoints, a planted-motif check with a tiny trained
model, the report, and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.errors import InputError
from bindscape.explain.variants import (
    classify_variants,
    read_vcf,
    score_variants,
    summarise,
    variant_windows,
)
from bindscape.io.genome import Genome, decode
from bindscape.models import get_model
from bindscape.train.checkpoint import save_model
from conftest import assert_one_error, cli, planted_dataset, random_seqs, write_fasta

torch.set_num_threads(1)
L = 60  # model input length; h = 30
H = L // 2
TINY = {"channels": 16, "hidden": 16, "dilations": [1], "stem_kernel": 9}
MOTIF = "TTACCCGG"
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _vcf_text(s: str) -> str:
    """SNVs, a 3-bp deletion, a 5-bp insertion, a multi-allelic site, a REF mismatch, a symbolic allele, a
    variant near the chromosome start and one on a chromosome named in another style ('1')."""
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    rows = [
        ("chr1", 1000, "snv1", s[999], other[s[999]]),
        ("chr1", 1050, "snv2", s[1049], other[s[1049]]),
        ("chr1", 1100, "del3", s[1099:1103], s[1099]),
        ("chr1", 1200, "ins5", s[1199], s[1199] + "GATTA"),
        ("chr1", 1300, "multi", s[1299], ",".join(b for b in "ACGT" if b != s[1299])),
        ("chr1", 1400, "mism", other[s[1399]], "G"),
        ("chr1", 1500, "sym", s[1499], "<DEL>"),
        ("chr1", 10, "near", s[9], other[s[9]]),
        ("1", 500, "style", "A", "C"),
    ]
    return HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n" for c, p, i, r, a in rows)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    seqs = random_seqs({"chr1": 3000, "chr2": 2000}, seed=5, softmask=False)
    fa = write_fasta(root / "g.fa", seqs)
    vcf = root / "t.vcf"
    vcf.write_text(_vcf_text(seqs["chr1"]))
    torch.manual_seed(0)
    ck = save_model(root / "model.pt", get_model("bindscape_cnn", length=L, **TINY), {"trainer": {"rc_average": True}})
    return root, fa, vcf, seqs["chr1"], ck


def test_documented_output_types_statuses_counts(setup):
    root, fa, vcf, s, _ = setup
    df = read_vcf(vcf)
    assert len(df) == 11  # 9 records, the multi-allelic one split into 3 rows
    multi = df[df["id"] == "multi"]
    assert multi["allele"].tolist() == [1, 2, 3] and set(multi["line"]) == {8}
    t = classify_variants(df, Genome(fa), L)
    st = dict(zip(t["id"] + "/" + t["alt"], t["status"], strict=True))
    assert [st[k] for k in ("snv1/" + t["alt"][0], "mism/G", "sym/<DEL>", "style/C")] == \
        ["ok", "ref_mismatch", "symbolic", "unknown_chrom"]
    assert t.set_index("id").loc["near", "status"] == "near_end"
    assert t.set_index("id").loc["del3", "type"] == "deletion" and t.set_index("id").loc["ins5", "type"] == "insertion"
    note = t.set_index("id").loc["style", "note"]
    assert "t.vcf:12" in note and "'chr' prefixes" in note and "--chrom-alias auto" in note
    assert "genome has" in t.set_index("id").loc["mism", "note"]
    c = summarise(t)
    assert c.loc["total", "ok"] == 7 and c.loc["total", "total"] == 11
    assert c.loc["snv", "ok"] == 5 and c.loc["deletion", "ok"] == 1 and c.loc["insertion", "ok"] == 1
    assert (t.loc[t["status"] == "ok", "window_start"] == t.loc[t["status"] == "ok", "pos"] - 1 - H).all()


def test_indel_window_rule_exact_sequences(setup):
    _, fa, vcf, s, _ = setup
    t = classify_variants(read_vcf(vcf), Genome(fa), L).set_index("id")
    rows = t.loc[["snv1", "del3", "ins5"]].reset_index()
    ref, alt = variant_windows(Genome(fa), rows, L)
    ref, alt = decode(ref), decode(alt)
    # SNV at 1-based 1000 -> p = 999: the window [969, 1029), the variant at index 30
    assert ref[0] == s[969:1029] and alt[0] == s[969:999] + rows["alt"][0] + s[1000:1029]
    # 3-bp deletion TGCG>T at 1100 (p = 1099): same left flank, ALT, then the genome after REF, extended
    assert ref[1] == s[1069:1129]
    assert alt[1] == s[1069:1099] + s[1099] + s[1103:1103 + 29]
    # 5-bp insertion A>AGATTA at 1200 (p = 1199): the right flank trimmed by 5
    assert ref[2] == s[1169:1229]
    assert alt[2] == s[1169:1199] + s[1199] + "GATTA" + s[1200:1200 + 24]
    assert all(len(x) == L for x in ref + alt)


def test_bgzip_tabix_and_gzip_read_the_same(setup, tmp_path):
    import ctypes
    import gzip

    import cyvcf2

    _, _, vcf0, _, _ = setup
    head, body = vcf0.read_text().split("#CHROM")
    first, *data = body.splitlines()
    vcf = tmp_path / "sorted.vcf"  # tabix needs position-sorted records
    vcf.write_text(head + "#CHROM" + first + "\n" + "".join(
        ln + "\n" for ln in sorted(data, key=lambda x: (x.split("\t")[0], int(x.split("\t")[1])))))
    plain = read_vcf(vcf)
    r = cyvcf2.VCF(str(vcf))
    w = cyvcf2.Writer(str(tmp_path / "t.vcf.gz"), r, mode="wz")  # bgzip
    for rec in r:
        w.write_record(rec)
    w.close()
    assert ctypes.CDLL(cyvcf2.cyvcf2.__file__).bcf_index_build(str(tmp_path / "t.vcf.gz").encode(), 0) == 0
    assert (tmp_path / "t.vcf.gz.tbi").exists()
    bg = read_vcf(tmp_path / "t.vcf.gz")
    with gzip.open(tmp_path / "plain.vcf.gz", "wt") as fh:
        fh.write(vcf.read_text())
    gz = read_vcf(tmp_path / "plain.vcf.gz")
    cols = ["chrom", "pos", "id", "ref", "alt", "allele"]
    pd.testing.assert_frame_equal(plain[cols], bg[cols])
    pd.testing.assert_frame_equal(plain, gz)


def test_scores_equal_predict_on_the_same_windows(setup):
    from bindscape.io.genome import onehot
    from bindscape.train import load_checkpoint, predict_arrays

    _, fa, vcf, _, ck = setup
    res = score_variants(ck, fa, vcf, progress=False)
    t = res.table
    ok = t[t["status"] == "ok"]
    assert ok[["ref_prob", "alt_prob", "delta_logit"]].notna().all().all()
    assert t.loc[t["status"] != "ok", "ref_prob"].isna().all()
    ref, alt = variant_windows(Genome(fa), ok, L)
    loaded = load_checkpoint(ck)
    np.testing.assert_allclose(ok["ref_prob"], predict_arrays(loaded, onehot(ref))[:, 0], rtol=1e-5)
    np.testing.assert_allclose(ok["alt_prob"], predict_arrays(loaded, onehot(alt))[:, 0], rtol=1e-5)
    np.testing.assert_allclose(ok["delta_prob"], ok["alt_prob"] - ok["ref_prob"])
    lo = np.log(ok["alt_prob"] / (1 - ok["alt_prob"])) - np.log(ok["ref_prob"] / (1 - ok["ref_prob"]))
    np.testing.assert_allclose(ok["delta_logit"], lo, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ok["effect"], ok["delta_logit"])
    # --chrom-alias auto renames '1' to 'chr1' (then its REF is checked like any other)
    t2 = score_variants(ck, fa, vcf, progress=False, chrom_alias="auto").table
    assert t2.loc[t2["id"] == "style", "chrom"].item() == "chr1"
    assert t2.loc[t2["id"] == "style", "status"].item() in ("ok", "ref_mismatch")


def test_multi_output_ensemble_and_multitask_columns(setup, tmp_path):
    from bindscape.data.multitask import ConditionVocab
    from bindscape.models.nettime import NetTIME
    from bindscape.train import load_checkpoint
    from bindscape.train.checkpoint import LoadedCheckpoint
    from bindscape.train.ensemble_model import MANIFEST, sha256

    _, fa, vcf, _, ck = setup
    m2 = get_model("bindscape_cnn", length=L, n_outputs=2, **TINY)
    p2 = save_model(tmp_path / "m2.pt", m2, {"data": {"label_columns": ["tfA", "tfB"]}})
    t = score_variants(p2, fa, vcf, progress=False).table
    assert {"delta_logit_tfA", "delta_logit_tfB", "ref_prob_tfA", "alt_prob_tfB"} <= set(t.columns)
    ok = t[t["status"] == "ok"]
    pick = np.where(ok["delta_logit_tfA"].abs() >= ok["delta_logit_tfB"].abs(), ok["delta_logit_tfA"],
                    ok["delta_logit_tfB"])
    np.testing.assert_allclose(ok["effect"], pick)
    # an ensemble folder of two members: the mean of the members' probabilities
    ens = tmp_path / "ens"
    ens.mkdir()
    entries = []
    for i in range(2):
        torch.manual_seed(i + 1)
        p = save_model(ens / f"m{i}.pt", get_model("bindscape_cnn", length=L, **TINY), {"trainer": {"rc_average": True}})
        entries.append({"path": p.name, "sha256": sha256(p), "seed": i, "fold": None})
    (ens / MANIFEST).write_text(json.dumps({"format": "bindscape-ensemble/1", "average": "probability",
                                            "members": entries}))
    te = score_variants(ens, fa, vcf, progress=False).table
    members = [score_variants(ens / f"m{i}.pt", fa, vcf, progress=False).table for i in range(2)]
    np.testing.assert_allclose(te["alt_prob"], (members[0]["alt_prob"] + members[1]["alt_prob"]) / 2, rtol=1e-5)
    assert load_checkpoint(ens).model.name == "ensemble"
    # a multitask (per-bp, TF x cell) model: one column set per trained condition
    vocab = ConditionVocab(["TA", "TB"], ["c1"], [("TA", "c1"), ("TB", "c1")])
    torch.manual_seed(0)
    net = NetTIME(length=L, n_tfs=2, n_cells=1, channels=8, d_tf=4, d_cell=4, n_blocks=1, decoder=8).eval()
    mt = LoadedCheckpoint(model=net, config={}, path=tmp_path / "mt.ckpt", vocab=vocab)
    tm = score_variants(mt, fa, vcf, progress=False, bp_span=5).table
    assert {"delta_logit_TA:c1", "delta_logit_TB:c1"} <= set(tm.columns)
    assert tm.loc[tm["status"] == "ok", "ref_prob_TA:c1"].between(0, 1).all()


def _planted_model(root):
    """A tiny bindscape_cnn trained (6 epochs, about 7 s) to find MOTIF in 60-bp sequences (as in tests/test_train.py)."""
    from bindscape.train import train
    from bindscape.train.config import validate_config

    ds = planted_dataset(root, {"train": 1000, "val": 200}, L, seed=0, motif=MOTIF)
    cfg = validate_config({"dataset": str(ds), "name": "planted", "out_dir": str(root / "runs"),
                           "model": {"name": "bindscape_cnn", "params": TINY}, "data": {"batch_size": 32},
                           "optim": {"lr": 0.01},
                           "trainer": {"max_epochs": 6, "progress": False, "patience": None, "seed": 0}})
    return train(cfg)


def test_planted_site_core_strongly_negative_neutral_near_zero(tmp_path):
    run = _planted_model(tmp_path)
    rng = np.random.default_rng(7)
    chrom = list(np.array(list("ACGT"))[rng.integers(0, 4, 4000)])
    chrom[1000:1008] = list(MOTIF)  # the planted site: 1-based 1001-1008, core CCC at 1004-1006
    s = "".join(chrom)
    fa = write_fasta(tmp_path / "p.fa", {"chr1": s})
    other = {"A": "C", "C": "A", "G": "T", "T": "G"}
    rows = [("core", 1005, "C", "A"), ("core2", 1004, "C", "T"), ("near", 1030, s[1029], other[s[1029]])]
    rows += [(f"n{p}", p, s[p - 1], other[s[p - 1]]) for p in range(1200, 3900, 45)]  # far from the site
    (tmp_path / "p.vcf").write_text(HEADER + "".join(f"chr1\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for i, p, r, a in rows))
    t = score_variants(run, fa, tmp_path / "p.vcf", progress=False).table.set_index("id")
    assert (t["status"] == "ok").all()
    assert t.loc["core", "ref_prob"] > 0.8, t  # the planted site is predicted bound
    # destroying the core: strongly negative (logit -5.4 and -3.6 when written)
    assert t.loc["core", "effect"] < -3 and t.loc["core2", "effect"] < -2, t["effect"].head(3)
    # a neutral change in the same window, 22 bp from the site: near zero (-0.11 when written)
    assert abs(t.loc["near", "effect"]) < 0.5 and abs(t.loc["near", "delta_prob"]) < 0.05
    null = t["effect"].iloc[3:]
    assert abs(null.median()) < 0.1 and (t.loc["core", "effect"] < null).all()


def test_cli_table_report_attributions_and_strict(setup, tmp_path, capsys):
    _, fa, vcf, _, ck = setup
    out = tmp_path / "v.tsv"
    code, o, err = cli(["variants", "-c", ck, "-g", fa, "--vcf", vcf, "-o", out, "--attribute-top", "2",
                        "--n-baselines", "3", "--report", tmp_path / "r.html", "--threads", "1"], capsys)
    assert code == 0, err
    t = pd.read_csv(out, sep="\t")
    assert len(t) == 11 and t["status"].value_counts()["ok"] == 7
    assert "ref_mismatch" in o and "near_end" in o and "top 7" in o
    z = np.load(tmp_path / "v.attributions.npz")
    assert z["ref_attr"].shape == (2, L) and z["alt_x"].shape == (2, 4, L)
    html = (tmp_path / "r.html").read_text()
    assert "Variant effects" in html and html.count("<img") >= 5  # histogram + 2 x (ref, alt) logos
    code, o, err = cli(["variants", "-c", ck, "-g", fa, "--vcf", vcf, "-o", out, "--strict"], capsys)
    assert_one_error(code, err, "t.vcf:9", "chr1:1400", "ref_mismatch")


def test_bad_inputs_one_line_exit_2(setup, tmp_path, capsys):
    _, fa, vcf, _, ck = setup
    base = ["variants", "-c", ck, "-g", fa, "-o", tmp_path / "o.tsv", "--vcf"]
    code, _, err = cli([*base, tmp_path / "missing.vcf"], capsys)
    assert_one_error(code, err, "missing.vcf", "does not exist")
    (tmp_path / "junk.vcf").write_text("hello\nworld\n")
    code, _, err = cli([*base, tmp_path / "junk.vcf"], capsys)
    assert_one_error(code, err, "junk.vcf", "not a readable VCF")
    (tmp_path / "pos.vcf").write_text(HEADER + "chr1\t100\t.\tA\tC\t.\t.\t.\nchr1\tabc\t.\tA\tC\t.\t.\t.\n")
    code, _, err = cli([*base, tmp_path / "pos.vcf"], capsys)
    assert_one_error(code, err, "pos.vcf:5", "POS 'abc'")
    (tmp_path / "cols.vcf").write_text(HEADER + "chr1\t100\n")
    code, _, err = cli([*base, tmp_path / "cols.vcf"], capsys)
    assert_one_error(code, err, "cols.vcf:4", "8 tab-separated columns")
    # the wrong genome: none of the VCF's chromosomes is in it
    g2 = write_fasta(tmp_path / "other.fa", {"I": "ACGT" * 500})
    code, _, err = cli(["variants", "-c", ck, "-g", g2, "-o", tmp_path / "o.tsv", "--vcf", vcf], capsys)
    assert_one_error(code, err, "t.vcf:4", "chromosome 'chr1' is not in the genome")
    with pytest.raises(InputError, match="REF"):
        (tmp_path / "ref.vcf").write_text(HEADER + "chr1\t100\t.\tXYZ\tC\t.\t.\t.\n")
        read_vcf(tmp_path / "ref.vcf")

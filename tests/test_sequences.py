"""Sequence-only datasets: FASTA/CSV/TSV builders, the length rule, shuffled negatives, SequenceDataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.dataset import load_dataset
from bindscape.data.sequences import SequenceDataset, build_sequence_dataset, fit_length, read_sequences
from bindscape.errors import BindscapeError, ConfigError, InputError
from conftest import cli, write_fasta


def test_fit_length_rule():
    assert fit_length(["ACGTAC"], 4) == ["CGTA"]  # crop 2: one from each end
    assert fit_length(["ACGTACG"], 4) == ["CGTA"]  # crop 3: 1 left, 2 right
    assert fit_length(["AC"], 5) == ["NACNN"]  # pad 3: 1 left, 2 right
    assert fit_length(["ACGTAC", "AC"], 4, align="left") == ["ACGT", "ACNN"]
    assert fit_length(["acgt"], 4) == ["ACGT"]
    with pytest.raises(ConfigError, match="align='middle' is not allowed; choose one of: center, left"):
        fit_length(["A"], 1, align="middle")


def test_build_from_csv_with_given_splits_and_padding(tmp_path):
    pd.DataFrame({"sequence": ["ACGTACGTAA", "CCCC", "GGGGGGGGGGGG"], "label": [1, 0, 1]}).to_csv(
        tmp_path / "train.csv", index=False)
    (tmp_path / "val.tsv").write_text("seq\ty\nACGTACGTAC\t1\nTTTTTTTTTT\t0\n")
    pd.DataFrame({"sequence": ["AAAAAAAAAA", "ACACACACAC"], "label": [0, 1]}).to_csv(tmp_path / "test.csv",
                                                                                     index=False)
    with pytest.raises(InputError, match="no column 'sequence'"):
        build_sequence_dataset(tmp_path / "x", train=[tmp_path / "val.tsv"])
    out = build_sequence_dataset(tmp_path / "ds", train=[tmp_path / "train.csv"], test=[tmp_path / "test.csv"],
                                 length=10)
    ds = load_dataset(out)
    r = ds.regions
    assert ds.meta["genome"] is None and ds.meta["builder"] == "sequences"
    assert set(r["split"]) == {"train", "test"}
    assert (r["end"] - r["start"] == 10).all() and set(r["chrom"]) == {"seq"}
    seqs = dict(zip(r["name"], r["sequence"]))
    tr = r[r["split"] == "train"].reset_index(drop=True)
    assert tr["sequence"].tolist() == ["ACGTACGTAA", "NNNCCCCNNN", "GGGGGGGGGG"]
    assert tr["label"].tolist() == [1, 0, 1]
    assert len(seqs) == 5
    # same inputs, same seed -> byte-identical regions.parquet
    out2 = build_sequence_dataset(tmp_path / "ds2", train=[tmp_path / "train.csv"], test=[tmp_path / "test.csv"],
                                  length=10)
    assert (out / "regions.parquet").read_bytes() == (out2 / "regions.parquet").read_bytes()
    with pytest.raises(InputError, match="exists and is not empty"):
        build_sequence_dataset(out, train=[tmp_path / "train.csv"])


def test_build_from_fasta_pool_random_split(tmp_path):
    rng = np.random.default_rng(0)
    pos = {f"p{i}": "".join(rng.choice(list("ACGT"), 30 + i % 5)) for i in range(40)}
    neg = {f"n{i}": "".join(rng.choice(list("ACGT"), 30)) for i in range(40)}
    write_fasta(tmp_path / "pos.fa", pos)
    write_fasta(tmp_path / "neg.fa.gz", neg, gz=True)
    out = build_sequence_dataset(tmp_path / "ds", positives=[tmp_path / "pos.fa"], negatives=[tmp_path / "neg.fa.gz"],
                                 val_frac=0.25, test_frac=0.25, seed=3)
    r = load_dataset(out).regions
    assert len(r) == 80 and int(r["label"].sum()) == 40
    assert (r["end"] - r["start"] == 34).all()  # default length: the longest input
    counts = r.groupby(["split", "label"]).size()
    assert counts["val"].tolist() == [10, 10] and counts["test"].tolist() == [10, 10]
    p0 = r.set_index("name").loc["p0", "sequence"]
    assert p0 == "NN" + pos["p0"] + "NN"


def test_positives_only_get_shuffled_negatives(tmp_path):
    pytest.importorskip("bindscape.data.negatives", reason="shuffle negatives need bindscape.data.negatives")
    rng = np.random.default_rng(1)
    pos = {f"p{i}": "".join(rng.choice(list("ACGT"), 40)) for i in range(30)}
    write_fasta(tmp_path / "pos.fa", pos)
    out = build_sequence_dataset(tmp_path / "ds", positives=[tmp_path / "pos.fa"], negative_strategy="dinucleotide",
                                 negatives_per_positive=2, seed=0)
    r = load_dataset(out).regions
    assert int((r["label"] == 0).sum()) == 60
    assert set(r.loc[r["label"] == 0, "source"]) == {"dinucleotide"}
    for split in ("train", "val", "test"):
        sub = r[r["split"] == split]
        assert (sub["label"] == 0).sum() == 2 * (sub["label"] == 1).sum()
    # a dinucleotide shuffle keeps base composition
    negs = r.loc[r["label"] == 0, "sequence"]
    assert sorted("".join(negs)) == sorted("".join(r.loc[r["label"] == 1, "sequence"]) * 2)


def test_extra_negatives_add_training_shuffles_when_negatives_are_given(tmp_path):
    pytest.importorskip("bindscape.data.negatives", reason="shuffle negatives need bindscape.data.negatives")
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(40)]
    for name, part in (("train", seqs[:20]), ("val", seqs[20:30]), ("test", seqs[30:])):
        pd.DataFrame({"sequence": part, "label": [1, 0] * (len(part) // 2)}).to_csv(tmp_path / f"{name}.csv",
                                                                                      index=False)
    files = {k: [tmp_path / f"{k}.csv"] for k in ("train", "val", "test")}
    plain = load_dataset(build_sequence_dataset(tmp_path / "plain", **files)).regions
    out = build_sequence_dataset(tmp_path / "ds", **files, extra_negatives=2, seed=3)
    ds = load_dataset(out)
    r = ds.regions
    assert ds.meta["params"]["extra_negatives"] == 2 and "extra_negatives" not in load_dataset(
        tmp_path / "plain").meta["params"]
    extra = r[r["source"] == "dinucleotide"]
    assert len(extra) == 20 and set(extra["split"]) == {"train"} and set(extra["label"]) == {0}
    for split in ("val", "test"):  # validation and test stay exactly as given
        assert r.loc[r["split"] == split, "sequence"].tolist() == plain.loc[plain["split"] == split,
                                                                             "sequence"].tolist()
    train_pos = r.loc[(r["split"] == "train") & (r["label"] == 1), "sequence"]

    def dinucs(s):
        return sorted(s[i:i + 2] for i in range(len(s) - 1))

    assert sorted(map(dinucs, extra["sequence"])) == sorted(map(dinucs, list(train_pos) * 2))
    assert len(set(extra["sequence"])) == 20  # two different shuffles per positive


def test_read_errors_are_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("sequence,label\nACGT,1\nACGT,yes\n")
    with pytest.raises(InputError, match=r"bad.csv:3: label 'yes' is not 0 or 1"):
        read_sequences(tmp_path / "bad.csv")
    (tmp_path / "bad.fa").write_text("ACGT\n>x\nACGT\n")
    with pytest.raises(InputError, match="before the first '>'"):
        read_sequences(tmp_path / "bad.fa")
    with pytest.raises(BindscapeError, match="no input sequences"):
        build_sequence_dataset(tmp_path / "e")


def test_sequence_dataset_batches_and_rc(tmp_path):
    pd.DataFrame({"sequence": ["AACG", "TTTT", "ACGN"], "label": [1, 0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    out = build_sequence_dataset(tmp_path / "ds", train=[tmp_path / "t.csv"])
    sd = SequenceDataset(out, split="train")
    x, y = sd.__getitems__([0, 2])
    assert x.shape == (2, 4, 4) and x.dtype == torch.float32
    assert y.tolist() == [1.0, 1.0]
    assert x[0].argmax(0).tolist() == [0, 0, 1, 2] and x[1, :, 3].sum() == 0  # N is all-zero
    aug = SequenceDataset(out, split="train", rc_augment=True, seed=0)
    seen = set()
    for epoch in range(8):
        aug.set_epoch(epoch)
        xa, _ = aug.__getitems__([0])
        seen.add(tuple(xa[0].argmax(0).tolist()))
    assert seen == {(0, 0, 1, 2), (1, 2, 3, 3)}  # AACG and its reverse complement CGTT
    aug.set_epoch(3)
    assert torch.equal(aug.__getitems__([0, 1])[0], aug.__getitems__([0, 1])[0])


def test_sequence_dataset_shifts_inside_the_sequence_with_n_fill(tmp_path):
    """`data.max_shift` on a sequence dataset: the sequence moves in its window, N fills the end it leaves."""
    from bindscape.io.genome import decode, shift_windows

    pd.DataFrame({"sequence": ["ACGTACGTAA"], "label": [1]}).to_csv(tmp_path / "t.csv", index=False)
    out = build_sequence_dataset(tmp_path / "ds", train=[tmp_path / "t.csv"])
    seen = set()
    sh = SequenceDataset(out, split="train", max_shift=2, seed=0)
    for epoch in range(40):
        sh.set_epoch(epoch)
        x, y = sh.__getitems__([0])
        codes = np.where(x[0].sum(0).numpy() > 0, x[0].argmax(0).numpy(), 4)
        seen.add(decode(codes))
        assert y.tolist() == [1.0]
    assert seen == {"GTACGTAANN", "CGTACGTAAN", "ACGTACGTAA", "NACGTACGTA", "NNACGTACGT"}
    sh.set_epoch(5)
    assert torch.equal(sh.__getitems__([0])[0], sh.__getitems__([0])[0])  # seeded per epoch
    rows = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert shift_windows(rows, np.array([1, -2]), 0).tolist() == [[2, 3, 4, 0], [0, 0, 5, 6]]
    assert shift_windows(rows, np.array([0, 0]), 0) is rows


# ----------------------------------------------------------- a given test file with a pool, or alone (issue 15)


def _random_seqs(rng, n: int, L: int) -> list[str]:
    return ["".join(r) for r in np.array(list("ACGT"))[rng.integers(0, 4, (n, L))]]


@pytest.fixture
def bound_and_test(tmp_path):
    """40 positives (30 bp, FASTA) and a labelled 12-row test table (7 positives, 5 negatives)."""
    rng = np.random.default_rng(7)
    write_fasta(tmp_path / "bound.fa", {f"p{i}": s for i, s in enumerate(_random_seqs(rng, 40, 30))})
    test = pd.DataFrame({"sequence": _random_seqs(rng, 12, 30), "label": [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1],
                         "name": [f"t{i}" for i in range(12)]})
    test.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path, test


def test_positives_with_given_test_file(bound_and_test, capsys):
    pytest.importorskip("bindscape.data.negatives", reason="shuffle negatives need bindscape.data.negatives")
    root, test = bound_and_test
    args = ["build", "sequences", "--positives", root / "bound.fa", "--test", root / "test.csv", "--val-frac", "0.25",
            "--seed", "5"]
    code, out, err = cli([*args, "--out", root / "ds"], capsys)
    assert code == 0, err
    ds = load_dataset(root / "ds")
    r = ds.regions
    counts = r.groupby(["split", "label"]).size().to_dict()
    # 40 positives -> 30 train + 10 val, one dinucleotide negative each; the test split is the file
    assert counts == {("train", 0): 30, ("train", 1): 30, ("val", 0): 10, ("val", 1): 10,
                      ("test", 0): 5, ("test", 1): 7}
    t = r[r["split"] == "test"].reset_index(drop=True)
    assert t["sequence"].tolist() == test["sequence"].tolist()
    assert t["label"].tolist() == test["label"].tolist() and t["name"].tolist() == test["name"].tolist()
    assert set(t["source"]) == {"given"}
    assert set(r.loc[(r["split"] != "test") & (r["label"] == 0), "source"]) == {"dinucleotide"}
    assert not set(r.loc[r["split"] != "test", "sequence"]) & set(test["sequence"])
    assert ds.meta["params"]["mode"] == "pool+test" and ds.meta["params"]["test_frac"] == 0.0
    # same seed -> byte-identical regions.parquet; another seed -> another train/val split, same test rows
    assert cli([*args, "--out", root / "ds2"], capsys)[0] == 0
    assert (root / "ds" / "regions.parquet").read_bytes() == (root / "ds2" / "regions.parquet").read_bytes()
    assert cli([*args[:-1], "6", "--out", root / "ds3"], capsys)[0] == 0
    r3 = load_dataset(root / "ds3").regions
    assert set(r3.loc[r3["split"] == "val", "name"]) != set(r.loc[r["split"] == "val", "name"])
    assert r3.loc[r3["split"] == "test", "sequence"].tolist() == test["sequence"].tolist()


def test_table_pool_with_given_test_and_leak_warning(bound_and_test, capsys):
    root, test = bound_and_test
    rng = np.random.default_rng(8)
    pool = pd.DataFrame({"sequence": _random_seqs(rng, 20, 30) + test["sequence"].tolist()[:1],
                         "label": [0, 1] * 10 + [1]})
    pool.to_csv(root / "pool.tsv", sep="\t", index=False)
    code, out, err = cli(["build", "sequences", "--input", root / "pool.tsv", "--test", root / "test.csv",
                           "--out", root / "ds"], capsys)
    assert code == 0, err
    assert "warning: 1 train/val sequences also occur in the test split" in " ".join(err.split())
    r = load_dataset(root / "ds").regions
    assert (r["split"] != "test").sum() == 21 and (r["split"] == "test").sum() == 12
    assert set(r["source"]) == {"given"}  # the pool has negatives: none are generated


def test_given_test_file_alone_scores_a_trained_model(bound_and_test, capsys):
    from bindscape.train import train, validate_config

    torch.set_num_threads(1)
    root, test = bound_and_test
    code, out, err = cli(["build", "sequences", "--positives", root / "bound.fa", "--test", root / "test.csv",
                           "--out", root / "ds"], capsys)
    assert code == 0, err
    cfg = validate_config({"dataset": str(root / "ds"), "name": "tiny", "out_dir": str(root / "runs"),
                           "model": {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1],
                                                                         "stem_kernel": 5}},
                           "data": {"batch_size": 32}, "trainer": {"max_epochs": 1, "progress": False,
                                                                   "patience": None, "threads": 1}})
    run = train(cfg)
    code, out, err = cli(["build", "sequences", "--test", root / "test.csv", "--out", root / "only"], capsys)
    assert code == 0, err
    ds = load_dataset(root / "only")
    assert ds.meta["params"]["mode"] == "test" and set(ds.regions["split"]) == {"test"}
    assert ds.regions["sequence"].tolist() == test["sequence"].tolist()
    code, out, err = cli(["predict", "-c", run, "--dataset", root / "only", "-o", root / "p.parquet"], capsys)
    assert code == 0, err
    p = pd.read_parquet(root / "p.parquet")
    assert p["label"].tolist() == test["label"].tolist() and p["prob"].between(0, 1).all()
    code, out, err = cli(["evaluate", "-c", run, "--dataset", root / "only", "--bootstrap", "0",
                           "--out", root / "ev"], capsys)
    assert code == 0, err
    assert "has no 'val' rows" in err
    m = pd.read_csv(root / "ev" / "metrics.csv")
    assert m["n"].tolist() == [12] and m["positives"].tolist() == [7] and m["threshold_source"].tolist() == ["test"]


def test_train_fasta_with_labelled_test_table_gets_training_negatives(bound_and_test):
    pytest.importorskip("bindscape.data.negatives", reason="shuffle negatives need bindscape.data.negatives")
    root, test = bound_and_test
    r = load_dataset(build_sequence_dataset(root / "ds", train=[root / "bound.fa"], test=[root / "test.csv"])).regions
    assert r.groupby(["split", "label"]).size().to_dict() == {("train", 0): 40, ("train", 1): 40,
                                                              ("test", 0): 5, ("test", 1): 7}


def _bad_inputs(root):
    (root / "nolabel.csv").write_text("sequence\n" + "A" * 30 + "\n")
    (root / "labels.csv").write_text("sequence,label\n" + "A" * 30 + ",1\n" + "C" * 30 + ",2\n")
    (root / "nalabel.csv").write_text("sequence,label\n" + "A" * 30 + ",\n")
    (root / "long.csv").write_text("sequence,label\n" + "A" * 30 + ",1\n" + "C" * 31 + ",0\n")
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("sequence,label\n")
    (root / "cell.csv").write_text("sequence,label\n" + "A" * 30 + ",1\n,0\n")
    (root / "alpha.csv").write_text("sequence,label\nACG<>AAA,1\nACGTACGT,0\n")
    (root / "alpha.fa").write_text(">a\nACGTRYACGT\n")
    (root / "empty.fa").write_text("")


BAD = [  # (arguments after `build sequences`, what the one error line must say)
    (["--positives", "bound.fa", "--test", "nolabel.csv"], "nolabel.csv: no label column 'label' (columns: sequence)"),
    (["--test", "nolabel.csv"], "nolabel.csv: no label column 'label'"),
    (["--positives", "bound.fa", "--test", "labels.csv"], "labels.csv:3: label '2' is not 0 or 1"),
    (["--positives", "bound.fa", "--test", "nalabel.csv"], "nalabel.csv:2: label is empty"),
    (["--positives", "bound.fa", "--test", "long.csv", "--length", "30"],
     "long.csv:3: test sequence of 31 bp, but --length is 30"),
    (["--positives", "bound.fa", "--test", "empty.csv"], "empty.csv: the file is empty"),
    (["--positives", "bound.fa", "--test", "header.csv"], "header.csv: no rows (only a header)"),
    (["--positives", "bound.fa", "--test", "cell.csv"], "cell.csv:3: empty sequence cell in column 'sequence'"),
    (["--positives", "bound.fa", "--test", "alpha.csv"],
     "alpha.csv:2: sequence 'ACG<>AAA' has characters other than A, C, G, T, N ('<>')"),
    (["--positives", "bound.fa", "--test", "bound.fa"], "bound.fa: a --test file with a pool or alone must be a "
                                                        "CSV/TSV with a 0/1 'label' column"),
    (["--positives", "bound.fa", "--test", "test.csv", "--test-frac", "0.2"], "--test-frac 0.2 splits a test set"),
    # issue 17: the rest of `build sequences` input checking
    (["--train", "alpha.csv"], "alpha.csv:2: sequence 'ACG<>AAA' has characters other than A, C, G, T, N"),
    (["--input", "alpha.csv"], "alpha.csv:2: sequence 'ACG<>AAA'"),
    (["--positives", "alpha.fa"], "alpha.fa:1: sequence 'ACGTRYACGT' has characters other than A, C, G, T, N ('RY')"),
    (["--train", "header.csv"], "header.csv: no rows (only a header)"),
    (["--input", "header.csv"], "header.csv: no rows (only a header)"),
    (["--train", "empty.csv"], "empty.csv: the file is empty"),
    (["--positives", "empty.fa"], "empty.fa: no FASTA records"),
    (["--train", "nolabel.csv"], "nolabel.csv: no label column 'label'"),
    (["--train", "test.csv", "--val", "nolabel.csv"], "nolabel.csv: no label column"),
    (["--positives", "bound.fa", "--train", "test.csv"], "give either --train/--val files or a pool"),
    (["--val", "test.csv"], "--val needs a --train file too"),
    (["--negatives", "bound.fa"], "--negatives goes with --positives"),
    (["--positives", "bound.fa", "--negative-strategy", "markov"], "--negative-strategy 'markov' is not allowed"),
    (["--positives", "bound.fa", "--negatives-per-positive", "0"], "--negatives-per-positive must be >= 1"),
    (["--positives", "bound.fa", "--extra-negatives", "-1"], "--extra-negatives must be >= 0"),
    (["--positives", "bound.fa", "--val-frac", "0.6", "--test-frac", "0.5"], "--val-frac + --test-frac must be < 1"),
    (["--positives", "bound.fa", "--length", "0"], "--length must be >= 1"),
    (["--positives", "bound.fa", "--align", "right"], "--align 'right' is not allowed; choose one of: center, left"),
    (["--positives", "missing.fa"], "missing.fa: file does not exist"),
    (["--train", "header.csv", "--positives", "bound.fa"], "give either --train/--val files or a pool"),
    ([], "no input sequences"),
]


@pytest.mark.parametrize(("args", "needle"), BAD, ids=[" ".join(a) or "none" for a, _ in BAD])
def test_bad_input_is_one_line_exit_2(bound_and_test, capsys, args, needle):
    root, _ = bound_and_test
    _bad_inputs(root)
    full = [root / a if (root / a).is_file() else a for a in args]
    code, out, err = cli(["build", "sequences", *full, "--out", root / "ds"], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("hint:")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], lines[0]
    assert not (root / "ds").exists()


def test_train_split_with_one_class_is_refused(tmp_path):
    pd.DataFrame({"sequence": ["ACGT", "TTTT"], "label": [0, 0]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match="the train split has only label-0 sequences"):
        build_sequence_dataset(tmp_path / "ds", train=[tmp_path / "t.csv"])


def test_pwm_baseline_scores_a_sequence_dataset(tmp_path):
    """`evaluate --pwm` on a sequence-only dataset: no genome is needed (it used to raise AttributeError)."""
    from bindscape.motifs.baseline import PWMBaseline
    from bindscape.motifs.load import load_motif
    from bindscape.recipes.kinds.tfbs import pwm_scores

    rng = np.random.default_rng(0)
    seqs = _random_seqs(rng, 40, 60)
    labels = np.arange(40) % 2
    seqs = [s[:20] + "TTACCCGG" + s[28:] if y else s for s, y in zip(seqs, labels)]  # a Reb1 site in positives
    pd.DataFrame({"sequence": seqs, "label": labels}).to_csv(tmp_path / "t.csv", index=False)
    ds = build_sequence_dataset(tmp_path / "ds", test=[tmp_path / "t.csv"])
    assert load_dataset(ds).genome_path is None
    scores = pwm_scores(PWMBaseline([load_motif("MA0363.3")]), ds, "test")
    assert len(scores) == 40
    score = scores["prob"].to_numpy()
    assert (scores["label"].to_numpy() == labels).all()
    assert score[labels == 1].min() > np.median(score[labels == 0])

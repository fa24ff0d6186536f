"""Sequence-only datasets: FASTA/CSV/TSV builders, the length rule, shuffled negatives, SequenceDataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.dataset import load_dataset
from bindscape.data.sequences import SequenceDataset, build_sequence_dataset, fit_length, read_sequences
from bindscape.errors import BindscapeError, ConfigError, InputError
from conftest import write_fasta


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

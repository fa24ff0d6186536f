"""Streaming genome-wide prediction (issue 18, items 3 and 5): tables and tracks written chunk by chunk equal
the in-memory path, bigWig read back equals the bedGraph, `--threads` has bounds, and `predict` never
imports Lightning."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pybigtools
import pytest
import torch

from bindscape.errors import ConfigError
from bindscape.train import (
    load_checkpoint,
    predict_arrays,
    predict_genome,
    save_model,
    write_genome_predictions,
)
from bindscape.train.predict import (
    iter_genome,
    to_track,
    track_intervals,
    window_starts,
    write_bigwig,
    write_tracks,
)
from conftest import assert_one_error, cli, random_seqs, write_fasta

torch.set_num_threads(1)
TINY = {"length": 60, "channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 5}
SIZES = {"chrB": 3_037, "chrA": 5_000, "chrS": 40}  # not sorted; chrS is shorter than a window


@pytest.fixture(scope="module")
def model_genome(tmp_path_factory):
    from bindscape.models import get_model

    root = tmp_path_factory.mktemp("stream")
    torch.manual_seed(0)
    ckpt = save_model(root / "model.pt", get_model("bindscape_cnn", **TINY), {"trainer": {"rc_average": True}})
    fa = write_fasta(root / "g.fa", random_seqs(SIZES, seed=3))
    return ckpt, fa


def _bigwig_frame(path) -> pd.DataFrame:
    with pybigtools.open(str(path)) as bw:
        rows = [(c, s, e, v) for c in bw.chroms() for s, e, v in bw.records(c)]
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "value"])


def test_windows_and_values_match_a_direct_reference(model_genome):
    ckpt, fa = model_genome
    from bindscape.io.genome import Genome

    df = predict_genome(ckpt, fa, stride=25, progress=False)
    g = Genome(fa)
    for chrom, size in SIZES.items():  # every `stride` bp, plus one window aligned to the end; one if short
        sub = df[df["chrom"] == chrom]
        want = [0] if size < 60 else list(range(0, size - 60 + 1, 25))
        if size >= 60 and want[-1] + 60 < size:
            want.append(size - 60)
        assert sub["start"].tolist() == want and sub["end"].max() == size
        x = g.fetch_onehot(chrom, np.array(want), length=60, pad=True)
        np.testing.assert_allclose(sub["prob"].to_numpy(), predict_arrays(ckpt, x)[:, 0], rtol=1e-6, atol=1e-7)
    assert list(dict.fromkeys(df["chrom"])) == list(SIZES)  # FASTA order
    assert window_starts(5_000, 60, 25, 10, 12).tolist() == [250, 275]


def test_streamed_table_equals_in_memory_table_row_for_row(model_genome, tmp_path):
    ckpt, fa = model_genome
    loaded = load_checkpoint(ckpt)
    ref = predict_genome(loaded, fa, stride=25, progress=False)
    chunked = pd.concat(iter_genome(loaded, fa, stride=25, progress=False, batch_size=16, chunk=32),
                        ignore_index=True)
    pd.testing.assert_frame_equal(chunked, ref)
    r = write_genome_predictions(loaded, fa, stride=25, progress=False, table=tmp_path / "t.parquet")
    assert r["windows"] == len(ref) and r["files"] == [tmp_path / "t.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), ref)
    write_genome_predictions(loaded, fa, stride=25, progress=False, table=tmp_path / "t.tsv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.tsv", sep="\t"), ref, check_dtype=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet", "t.tsv"]  # no temp files left


def test_streamed_tracks_equal_to_track_across_chunk_boundaries(model_genome):
    ckpt, fa = model_genome
    ref = predict_genome(ckpt, fa, stride=25, progress=False)
    frames = iter_genome(ckpt, fa, stride=25, progress=False, batch_size=8, chunk=8)  # many chunks per chrom
    got = pd.concat([pd.DataFrame({"chrom": c, "start": s, "end": e, "value": v})
                     for c, s, e, v in track_intervals(frames)], ignore_index=True)
    want = to_track(ref)
    key = ["chrom", "start"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True))
    for chrom, size in SIZES.items():  # the track tiles each chromosome exactly, without overlap
        sub = got[got["chrom"] == chrom]
        assert sub["start"].iloc[0] == 0 and sub["end"].iloc[-1] == size
        assert (sub["start"].to_numpy()[1:] == sub["end"].to_numpy()[:-1]).all()


def test_bigwig_read_back_equals_bedgraph_and_in_memory_values(model_genome, tmp_path):
    ckpt, fa = model_genome
    bw, bg = tmp_path / "p.bw", tmp_path / "p.bedGraph"
    r = write_genome_predictions(ckpt, fa, stride=25, progress=False, bigwig=bw, bedgraph=bg)
    assert r["files"] == [bg, bw]
    got = _bigwig_frame(bw)
    lines = bg.read_text().splitlines()
    assert lines[0] == 'track type=bedGraph name="prob"'
    bed = pd.read_csv(bg, sep="\t", header=None, skiprows=1, names=["chrom", "start", "end", "value"])
    pd.testing.assert_frame_equal(got[["chrom", "start", "end"]], bed[["chrom", "start", "end"]])
    np.testing.assert_allclose(got["value"], bed["value"], rtol=1e-4)  # bedGraph keeps 5 significant digits
    assert all(len(v.split("\t")[3].replace("0.", "").lstrip("0")) <= 5 for v in lines[1:20])
    mem = to_track(predict_genome(ckpt, fa, stride=25, progress=False))  # the in-memory path, exact float32
    merged = mem.merge(got, on=["chrom", "start", "end"], suffixes=("_mem", "_bw"))
    assert len(merged) == len(mem) == len(got)
    assert (merged["value_mem"].astype(np.float32) == merged["value_bw"].astype(np.float32)).all()
    with pybigtools.open(str(bw)) as f:
        assert f.chroms() == SIZES
    write_bigwig(predict_genome(ckpt, fa, stride=25, progress=False), tmp_path / "m.bw", SIZES)
    pd.testing.assert_frame_equal(_bigwig_frame(tmp_path / "m.bw"), got)


def test_failed_track_leaves_no_file(tmp_path):
    def broken():
        yield "chrA", np.array([0]), np.array([10]), np.array([0.5])
        raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="model exploded"):
        write_tracks(broken(), bigwig=tmp_path / "x.bw", bedgraph=tmp_path / "x.bedGraph", sizes={"chrA": 100})
    assert list(tmp_path.iterdir()) == []


def test_cli_track_output_threads_and_bounds(model_genome, tmp_path, capsys):
    ckpt, fa = model_genome
    code, out, err = cli(["predict", "-c", ckpt, "-g", fa, "--chrom", "chrA", "--stride", "25", "--threads", "1",
                          "-o", tmp_path / "a.bw"], capsys)
    assert code == 0, err
    assert "windows" in out and list(tmp_path.iterdir()) == [tmp_path / "a.bw"]  # -o .bw: the track only
    got = _bigwig_frame(tmp_path / "a.bw")
    assert set(got["chrom"]) == {"chrA"} and got["end"].max() == SIZES["chrA"]
    code, _, err = cli(["predict", "-c", ckpt, "-g", fa, "--threads", "0", "-o", tmp_path / "b.bw"], capsys)
    assert_one_error(code, err, "--threads must be >= 1")
    code, _, err = cli(["predict", "-c", ckpt, "-g", fa, "--chrom", "chrQ", "-o", tmp_path / "b.bw"], capsys)
    assert_one_error(code, err, "chrQ")
    assert not (tmp_path / "b.bw").exists()


def test_predict_does_not_import_lightning(model_genome, tmp_path):
    ckpt, fa = model_genome
    code = (
        "import sys\n"
        "from bindscape.cli import main\n"
        f"rc = main(['predict', '-c', {str(ckpt)!r}, '-g', {str(fa)!r}, '-o', {str(tmp_path / 'p.bw')!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'lightning' not in sys.modules and 'pytorch_lightning' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    assert (tmp_path / "p.bw").exists()


def test_predict_genome_to_files_does_not_import_pandas(model_genome, tmp_path):
    """Tiling straight to parquet + tracks works on arrays (pandas costs ~0.4 CPU-s per call); same table."""
    ckpt, fa = model_genome
    out = tmp_path / "p.parquet"
    code = (
        "import sys\n"
        "from bindscape.cli import main\n"
        f"rc = main(['predict', '-c', {str(ckpt)!r}, '-g', {str(fa)!r}, '--stride', '25', '-o', {str(out)!r},"
        f" '--bigwig', {str(tmp_path / 'p.bw')!r}, '--bedgraph', {str(tmp_path / 'p.bedGraph')!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    ref = predict_genome(ckpt, fa, stride=25, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out), ref)
    with pytest.raises(ConfigError, match="prob_3"):
        write_genome_predictions(ckpt, fa, stride=25, progress=False, table=tmp_path / "x.parquet", column="prob_3")
    assert not (tmp_path / "x.parquet").exists()

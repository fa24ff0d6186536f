"""Issue 17, class 4: bad data silently accepted (blacklists, predict --fasta / --bed inputs).

Each case gives one ``error: ...`` line (plus an optional ``hint:``), exit 2, no traceback and no output.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_one_error, cli, write_fasta


def _bed(path, rows):
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture
def peaks(tmp_path):
    rng = np.random.default_rng(5)
    rows = []
    for chrom, size in (("chr1", 60_000), ("chr2", 40_000), ("chr3", 30_000)):
        for s in np.sort(rng.integers(1000, size - 1000, 10)):
            rows.append((chrom, int(s), int(s) + 40, f"p{len(rows)}", 10))
    return _bed(tmp_path / "peaks.bed", rows)


# ------------------------------------------------------------------------------- every peak blacklisted
@pytest.mark.parametrize(
    "kind,extra",
    [
        ("peaks", ["--length", "200", "--negatives", "genomic"]),
        ("tiles", ["--length", "500", "--stride", "450"]),
        ("bp", ["--length", "200", "--background", "1"]),
    ],
)
def test_every_peak_blacklisted_is_one_line_exit_2(tmp_path, tiny_fasta, peaks, capsys, kind, extra):
    rows = [ln.split("\t") for ln in peaks.read_text().splitlines()]
    bl = _bed(tmp_path / "bl.bed", [(c, max(int(s) - 600, 0), int(e) + 600) for c, s, e, *_ in rows])
    out = tmp_path / "ds"
    code, _, err = cli(["build", kind, "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--blacklist", bl,
                         "--split", "none", "--out", out, *extra], capsys)
    assert_one_error(code, err, "all 30 peaks", "TF1", "blacklist", "--blacklist")
    assert not (out / "regions.parquet").exists()


def test_some_peaks_blacklisted_still_builds(tmp_path, tiny_fasta, peaks, capsys):
    first = peaks.read_text().splitlines()[0].split("\t")
    bl = _bed(tmp_path / "bl.bed", [(first[0], int(first[1]) - 50, int(first[2]) + 50)])
    code, _, err = cli(["build", "peaks", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--blacklist", bl,
                         "--length", "200", "--negatives", "genomic", "--split", "none", "--out",
                         tmp_path / "ds"], capsys)
    assert code == 0, err


# ------------------------------------------------------------------------- blacklist that fits the genome
def test_blacklist_naming_style_difference_names_alias_flag(tmp_path, tiny_fasta, peaks, capsys):
    bl = _bed(tmp_path / "bl.bed", [("chr1", 100, 200), ("2", 100, 200)])
    code, _, err = cli(["build", "tiles", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--blacklist", bl,
                         "--out", tmp_path / "ds"], capsys)
    assert_one_error(code, err, "bl.bed:2", "'2'", "--chrom-alias")
    assert not (tmp_path / "ds" / "regions.parquet").exists()
    code, _, err = cli(["build", "tiles", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--blacklist", bl,
                         "--chrom-alias", "auto", "--split", "none", "--out", tmp_path / "ds"], capsys)
    assert code == 0, err


def test_blacklist_of_another_assembly_is_refused(tmp_path, tiny_fasta, peaks, capsys):
    bl = _bed(tmp_path / "bl.bed", [("chr1", 100, 200), ("chr21", 9_000_000, 9_100_000)])
    code, _, err = cli(["build", "tiles", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--blacklist", bl,
                         "--out", tmp_path / "ds"], capsys)
    assert_one_error(code, err, "bl.bed:2", "chr21", "not in the genome", "--blacklist")
    assert not (tmp_path / "ds" / "regions.parquet").exists()


def test_blacklist_interval_past_chromosome_end_is_refused(tmp_path, tiny_fasta, peaks, capsys):
    bl = _bed(tmp_path / "bl.bed", [("chr1", 100, 200), ("chr3", 29_000, 1_000_000)])
    code, _, err = cli(["build", "peaks", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--blacklist", bl,
                         "--out", tmp_path / "ds"], capsys)
    assert_one_error(code, err, "bl.bed:2", "chr3", "past the end", "--blacklist")
    assert not (tmp_path / "ds" / "regions.parquet").exists()


def test_check_blacklist_api(tiny_fasta):
    import pandas as pd

    from bindscape.errors import ChromosomeError
    from bindscape.io.chroms import check_blacklist

    sizes = {"chr1": 1000, "chr2": 500}
    ok = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 10], "end": [1000, 20]})
    assert len(check_blacklist(ok, sizes)) == 2
    with pytest.raises(ChromosomeError, match="chr2:10-501 ends past the end"):
        check_blacklist(ok.assign(end=[1000, 501]), sizes)


# ------------------------------------------------------------------------------------ predict inputs
@pytest.fixture
def model_file(tmp_path):
    from bindscape.models import get_model
    from bindscape.train.checkpoint import save_model

    model = get_model("bindscape_cnn", length=60, channels=8, hidden=8, dilations=[1], stem_kernel=9)
    return save_model(tmp_path / "m.pt", model, {"trainer": {"rc_average": True}})


@pytest.mark.parametrize(
    "text,needles",
    [
        (">a\nACGTACGT\n>empty\n>c\nACGT\n", ["q.fa:3", "'empty'", "empty"]),
        (">a\nACGTACGT\n>odd\nACG<>AAA\n", ["q.fa:3", "'odd'", "'<>'"]),
    ],
    ids=["zero-length-record", "angle-brackets"],
)
def test_predict_fasta_refuses_bad_records(tmp_path, model_file, capsys, text, needles):
    fa = tmp_path / "q.fa"
    fa.write_text(text)
    out = tmp_path / "p.parquet"
    code, _, err = cli(["predict", "--checkpoint", model_file, "--fasta", fa, "--out", out], capsys)
    assert_one_error(code, err, *needles)
    assert not out.exists()


def test_predict_fasta_good_records_still_score(tmp_path, model_file, capsys):
    fa = write_fasta(tmp_path / "q.fa", {"a": "ACGT" * 5, "b": "acgtn" * 30})
    out = tmp_path / "p.tsv"
    code, _, err = cli(["predict", "--checkpoint", model_file, "--fasta", fa, "--out", out], capsys)
    assert code == 0, err
    assert len(out.read_text().splitlines()) == 3


def test_predict_bed_interval_past_chromosome_end(tmp_path, tiny_fasta, model_file, capsys):
    bed = _bed(tmp_path / "x.bed", [("chr1", 100, 200), ("chr3", 29_990, 30_500)])
    out = tmp_path / "p.parquet"
    code, _, err = cli(["predict", "--checkpoint", model_file, "--bed", bed, "--genome", tiny_fasta,
                         "--out", out], capsys)
    assert_one_error(code, err, "x.bed:2", "chr3:29990-30500", "past the end")
    assert not out.exists()
    # build refuses the same interval with the same words
    code, _, err2 = cli(["build", "peaks", "--genome", tiny_fasta, "--peaks", f"T={bed}", "--out",
                          tmp_path / "ds"], capsys)
    assert_one_error(code, err2, "x.bed:2", "chr3:29990-30500", "past the end")


def test_predict_bed_frame_is_checked_too(tiny_fasta, model_file):
    import pandas as pd

    from bindscape.errors import ChromosomeError
    from bindscape.train.predict import predict_bed

    df = pd.DataFrame({"chrom": ["chr2"], "start": [39_000], "end": [40_001]})
    with pytest.raises(ChromosomeError, match="ends past the end of chr2"):
        predict_bed(model_file, df, tiny_fasta, progress=False)

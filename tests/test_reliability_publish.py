"""Issue 17, class 5 (first half): dataset publication, genome checks and output locks.

- a dataset folder is published in one rename, with the parquet's sha256 in dataset.json (checked on load);
- the genome's sha256 recorded in dataset.json is checked when the dataset's genome is opened;
- two builds into the same --out: the second fails at once with one line.
"""

from __future__ import annotations

import json
import shutil

import pytest

from bindscape.data import dataset as dsmod
from bindscape.data.build import build_dataset
from bindscape.data.builders import Condition
from bindscape.data.dataset import (
    LOCK_FILE,
    GenomeChangedError,
    OutputLockedError,
    load_dataset,
    output_lock,
)
from bindscape.errors import BindscapeError
from conftest import assert_one_error, cli, random_seqs, write_fasta

SIZES = {"chr1": 60_000, "chr2": 40_000, "chr3": 30_000, "chrX": 20_000}






def _build(genome, peaks, out, *, seed=0, length=500, force=False):
    return build_dataset("tiles", genome=genome, conditions=[Condition("TF1", path=str(peaks))], out=out,
                         length=length, stride=length, split="chroms", val=["chr2"], test=["chr3"], seed=seed,
                         force=force)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _no_leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------------------------ publication
def test_dataset_json_records_parquet_sha256_and_load_checks_it(tmp_path, tiny_fasta, peaks, capsys):
    _build(tiny_fasta, peaks, tmp_path / "a")
    _build(tiny_fasta, peaks, tmp_path / "b", length=300)
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert len(meta["regions_sha256"]) == 64
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["dataset.json", "regions.parquet"]
    # what a kill between the old two renames left: a json describing another parquet
    shutil.copy(tmp_path / "b" / "regions.parquet", tmp_path / "a" / "regions.parquet")
    code, out, err = cli(["info", tmp_path / "a"], capsys)
    assert_one_error(code, err, "regions.parquet", "regions_sha256", "--force")


def _fail(*_a, **_k):
    raise OSError(28, "No space left on device (injected)")


STEPS = {
    "parquet": lambda mp: mp.setattr("pyarrow.parquet.write_table", _fail),
    "checksum": lambda mp: mp.setattr(dsmod, "file_checksum", _fail),
    "json": lambda mp: mp.setattr(dsmod.Path, "write_text", _fail),
    "exchange": lambda mp: mp.setattr(dsmod, "_exchange", _fail),
    "fallback-rename": lambda mp: (mp.setattr(dsmod, "_exchange", lambda a, b: False),
                                   mp.setattr(dsmod.os, "rename", _rename_fails_for_tmp)),
}
_real_rename = dsmod.os.rename


def _rename_fails_for_tmp(src, dst):
    if ".tmp-" in str(src):
        raise OSError(5, "I/O error (injected)")
    return _real_rename(src, dst)


@pytest.mark.parametrize("step", sorted(STEPS))
def test_fault_at_each_write_step_leaves_old_dataset_intact(tmp_path, tiny_fasta, peaks, monkeypatch, step):
    out = tmp_path / "ds"
    _build(tiny_fasta, peaks, out, seed=1)
    old = _snapshot(out)
    with monkeypatch.context() as mp:
        STEPS[step](mp)
        with pytest.raises(OSError, match="injected"):
            _build(tiny_fasta, peaks, out, seed=2, length=300, force=True)
    assert _snapshot(out) == old  # old dataset intact, byte for byte
    load_dataset(out)  # and consistent
    assert _no_leftovers(tmp_path) == []  # no temp or backup folder left behind
    # a new build afterwards is complete
    _build(tiny_fasta, peaks, out, seed=2, length=300, force=True)
    ds = load_dataset(out)
    assert (ds.regions["end"] - ds.regions["start"] == 300).all() and ds.meta["params"]["length"] == 300
    assert _no_leftovers(tmp_path) == []


def test_fault_into_new_folder_leaves_nothing(tmp_path, tiny_fasta, peaks, monkeypatch):
    monkeypatch.setattr(dsmod, "file_checksum", _fail)
    with pytest.raises(OSError, match="injected"):
        _build(tiny_fasta, peaks, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert _no_leftovers(tmp_path) == []


def test_force_rebuild_keeps_user_files_and_same_seed_bytes(tmp_path, tiny_fasta, peaks):
    out = tmp_path / "ds"
    _build(tiny_fasta, peaks, out, seed=3)
    first = (out / "regions.parquet").read_bytes()
    (out / "NOTES.txt").write_text("mine")
    _build(tiny_fasta, peaks, out, seed=3, force=True)
    assert (out / "regions.parquet").read_bytes() == first
    assert (out / "NOTES.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------------ genome check
@pytest.fixture
def changed_genome(tmp_path, tiny_fasta, peaks):
    """A dataset on `tiny_fasta`, then the genome re-simulated with another seed under the same names."""
    out = _build(tiny_fasta, peaks, tmp_path / "ds")[2]
    write_fasta(tiny_fasta, random_seqs(SIZES, seed=99))
    return out


def test_changed_genome_is_refused_when_opened(changed_genome):
    ds = load_dataset(changed_genome)
    with pytest.raises(GenomeChangedError, match="genome changed since the dataset") as exc:
        ds.open_genome()
    assert "--allow-genome-change" in exc.value.hint
    assert ds.open_genome(allow_genome_change=True) is not None
    assert load_dataset(changed_genome, allow_genome_change=True).open_genome() is not None


def test_changed_genome_is_refused_by_predict_path(changed_genome):
    from bindscape.data.torchdata import RegionDataset

    with pytest.raises(GenomeChangedError):
        RegionDataset(changed_genome, split="test")


def test_unchanged_genome_opens(tmp_path, tiny_fasta, peaks):
    out = _build(tiny_fasta, peaks, tmp_path / "ds")[2]
    assert load_dataset(out).open_genome().checksum == load_dataset(out).meta["genome"]["checksum"]


def test_train_cli_on_changed_genome_is_one_line(changed_genome, tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {changed_genome}\nout_dir: {tmp_path / 'runs'}\n"
                   "trainer: {max_epochs: 1, progress: false}\n")
    code, out, err = cli(["train", cfg], capsys)
    assert_one_error(code, err, "genome changed", "--allow-genome-change")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))


def test_allow_genome_change_flag_sets_the_way_out(monkeypatch):
    from bindscape.cli.train import allow_genome_changes

    monkeypatch.delenv(dsmod.ALLOW_GENOME_CHANGE_ENV, raising=False)
    allow_genome_changes(False)
    assert dsmod.os.environ.get(dsmod.ALLOW_GENOME_CHANGE_ENV) is None
    allow_genome_changes(True)
    assert dsmod.os.environ[dsmod.ALLOW_GENOME_CHANGE_ENV] == "1"


def test_env_way_out_opens_changed_genome(changed_genome, monkeypatch):
    monkeypatch.setenv(dsmod.ALLOW_GENOME_CHANGE_ENV, "1")
    assert load_dataset(changed_genome).open_genome() is not None


# ------------------------------------------------------------------------------------------ output lock
def test_second_build_into_locked_out_fails(tmp_path, tiny_fasta, peaks, capsys):
    out = tmp_path / "ds"
    with output_lock(out):  # another build is writing it
        with pytest.raises(OutputLockedError, match="another bindscape process"):
            _build(tiny_fasta, peaks, out)
        code, _, err = cli(["build", "tiles", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--out", out],
                            capsys)
        assert_one_error(code, err, str(out), "--out")
    assert not out.exists()  # the lock holder made it and had nothing to publish
    _build(tiny_fasta, peaks, out)
    assert not (out / LOCK_FILE).exists()
    load_dataset(out)


def test_lock_is_released_after_a_failed_build(tmp_path, tiny_fasta, peaks):
    out = tmp_path / "ds"
    with pytest.raises(BindscapeError):
        build_dataset("tiles", genome=tiny_fasta, conditions=[Condition("TF1", path=str(tmp_path / "nope.bed"))],
                      out=out, length=500)
    assert not out.exists()
    _build(tiny_fasta, peaks, out)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "regions.parquet"]


def test_two_concurrent_cli_builds_one_wins_other_fails_in_one_line(tmp_path, tiny_fasta, peaks):
    import os
    import subprocess
    import sys

    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "bindscape", "build", "tiles", "--genome", str(tiny_fasta), "--peaks",
           f"TF1={peaks}", "--out", str(out), "--length", "200", "--stride", "50"]
    env = {**os.environ, "BINDSCAPE_PROGRESS": "0"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    err = next(e for code, e in results if code == 2)
    assert_one_error(2, err, str(out))
    load_dataset(out)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "regions.parquet"]

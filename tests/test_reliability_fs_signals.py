"""Issue 17, classes 2 and 6: filesystem errors give one line + exit 2; SIGINT/SIGTERM exit 130/143 with a
line saying how to resume (never 0, never a traceback)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bindscape._util import Interrupted, check_writable
from bindscape.cli import main
from bindscape.errors import ConfigError
from conftest import planted_dataset

TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}


def _one_error_line(err: str) -> None:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err


@pytest.fixture(scope="module")
def toy_ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("fs_sig")
    return planted_dataset(root, {"train": 400, "val": 100, "test": 100}, 60, seed=0)


def _train_cfg(tmp_path: Path, ds: Path, epochs: int = 1) -> Path:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {ds}\nmodel: {json.dumps(TINY)}\n"
                   f"trainer: {{max_epochs: {epochs}, progress: false, patience: null}}\n")
    return cfg


# ---------------------------------------------------------------------------------------------- class 2
def test_check_writable_rejects_path_under_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(ConfigError, match=r"--out .*afile"):
        check_writable(f / "sub" / "out", "--out")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_writable(f, "--out")
    with pytest.raises(ConfigError, match="cannot write --out"):
        check_writable("/proc/bindscape-test/out", "--out")
    assert check_writable(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # the probe left nothing


def test_simulate_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "sim"
    f.write_text("notes")
    assert main(["simulate", "--out", str(f)]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "--out" in err and str(f) in err and "is a file, not a folder" in err
    assert f.read_text() == "notes"


def test_simulate_out_under_proc(capsys):
    assert main(["simulate", "--out", "/proc/bindscape-sim"]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "cannot write --out /proc/bindscape-sim" in err


def test_run_out_under_a_file(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert main(["run", "demo", "-o", str(f / "run")]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "cannot write --out" in err and "afile" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_train_out_dir_is_a_file(tmp_path, toy_ds, capsys):
    f = tmp_path / "runs"
    f.write_text("x")
    assert main(["train", str(_train_cfg(tmp_path, toy_ds)), "--out-dir", str(f), "--name", "r"]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "--out-dir" in err and "is a file, not a folder" in err
    assert f.read_text() == "x"


def test_predict_out_unwritable(tmp_path, toy_ds, capsys):
    assert main(["predict", "--checkpoint", str(tmp_path / "x.ckpt"), "--dataset", str(toy_ds),
                 "--out", "/proc/bindscape-pred.parquet"]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "cannot write --out /proc/bindscape-pred.parquet" in err  # checked before the checkpoint is read


def test_oserror_reaching_main_is_one_line(tmp_path, monkeypatch, capsys):
    """A full disk (ENOSPC) after the work: one line, exit 2; with --debug the traceback is kept."""
    import bindscape.simulate as sim

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "sim" / "genome.fa"))

    monkeypatch.setattr(sim, "simulate", full_disk)
    assert main(["simulate", "--out", str(tmp_path / "sim")]) == 2
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "No space left on device" in err and "genome.fa" in err
    with pytest.raises(OSError):
        main(["--debug", "simulate", "--out", str(tmp_path / "sim")])


# ---------------------------------------------------------------------------------------------- class 6
def _train_until_first_epoch(tmp_path: Path, ds: Path, sig: int):
    cfg = _train_cfg(tmp_path, ds, epochs=1000)
    env = {**os.environ, "BINDSCAPE_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bindscape", "train", str(cfg), "--out-dir",
                             str(tmp_path / "runs"), "--name", "sig"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    log = tmp_path / "runs" / "sig" / "log.txt"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and "epoch 1:" in log.read_text():  # epoch 0 checkpointed by then
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err, tmp_path / "runs" / "sig"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_training_exits_128_plus_signum(tmp_path, toy_ds, sig, code):
    rc, err, run = _train_until_first_epoch(tmp_path, toy_ds, sig)
    assert rc == code, err
    _one_error_line(err)
    assert f"interrupted by {signal.Signals(sig).name}" in err and "--resume" in err, err
    assert not (run / "metrics.json").exists()
    assert "--resume continues" in (run / "log.txt").read_text()
    assert (run / "checkpoints" / "last.ckpt").exists()


def test_signal_resume_hint_per_command(monkeypatch, capsys):
    """Recipes say to rerun the same `bindscape run`; an interrupt anywhere gives 130 and one line."""
    import bindscape.recipes as recipes

    def interrupted(*a, **k):
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(recipes, "run_recipe", interrupted)
    assert main(["run", "demo", "-o", "/tmp/never-written"]) == 130
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "rerun the same `bindscape run`" in err
    assert not Path("/tmp/never-written").exists()


def test_keyboard_interrupt_outside_training_is_130(monkeypatch, capsys, tmp_path):
    import bindscape.simulate as sim

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim, "simulate", ctrl_c)
    assert main(["simulate", "--out", str(tmp_path / "s")]) == 130
    err = capsys.readouterr().err
    _one_error_line(err)
    assert "interrupted by SIGINT" in err

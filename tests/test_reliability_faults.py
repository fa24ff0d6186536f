"""Issue 17, fault injection: a write that fails at any step never leaves a mix of old and new output.

Each test runs a command once cleanly into ``--out`` (the *old* output), counts the write steps of a second
run that replaces it (N: calls to ``os.replace``, ``os.rename``, the dataset folder swap
``bindscape.data.dataset._exchange``, ``Path.write_text``, ``Path.write_bytes`` and
``pyarrow.parquet.write_table``, the primitives every bindscape publisher goes through), then for
k = 1..N makes the k-th write step raise (``OSError``, or ``KeyboardInterrupt`` for Ctrl+C) and checks:

- the command exits nonzero with one ``error:`` line (130 for Ctrl+C), never a traceback; or, where a
  library recovers from the fault itself (``shutil.move`` copies when a rename fails), exits 0 with the new
  output complete;
- ``--out`` holds either the old output byte for byte, or the new output complete and valid;
- no temporary file or folder (``.NAME.tmp``, ``.NAME.tmp-*``, ``.NAME.old-*``) is left that could be
  mistaken for output.

`build tiles`, `build peaks`, `build sequences` and `simulate` are checked at every step; `train` and `run`
(a tiny recipe) at every step of their publication of results.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet
import pytest

from bindscape.data import dataset as dsmod
from conftest import cli

pytestmark = pytest.mark.filterwarnings("ignore")

_TARGETS = ((os, "replace"), (os, "rename"), (dsmod, "_exchange"), (Path, "write_text"), (Path, "write_bytes"),
            (pyarrow.parquet, "write_table"))


class Faults:
    """Counts calls to the write primitives in `_TARGETS`; with `fail_at`, the k-th call raises `exc`."""

    def __init__(self, mp, fail_at: int | None = None, exc: type[BaseException] = OSError):
        self.calls, self.fail_at, self.exc, self.where = 0, fail_at, exc, None
        for mod, name in _TARGETS:
            mp.setattr(mod, name, self._wrap(getattr(mod, name), name))

    def _wrap(self, real, name):
        def wrapper(*a, **k):
            self.calls += 1
            if self.calls == self.fail_at:
                self.where = name
                if self.exc is OSError:
                    raise OSError(28, f"No space left on device (injected at {name}, step {self.calls})")
                raise self.exc()
            return real(*a, **k)

        return wrapper


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(*folders: Path) -> list[str]:
    """Temporary files or folders (``.x.tmp``, ``.x.tmp-*``, ``.x.old-*``) anywhere under `folders`."""
    bad = []
    for f in folders:
        for p in f.rglob(".*"):
            if ".tmp" in p.name or ".old-" in p.name or p.name.endswith(".part"):
                bad.append(str(p))
    return bad


def assert_one_line(code: int, err: str, exc) -> None:
    """Nonzero exit and one ``error:`` line (plus a hint) for an OSError; 130 and one line for Ctrl+C.

    `bindscape run`'s stage log lines (``[run ]``, ``[skip]``) come before it and are not counted."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip() and not ln.startswith(("[run ]", "[skip]"))]
    assert "Traceback" not in err, err
    if exc is KeyboardInterrupt:
        assert code == 130, (code, err)
    else:
        assert code == 2, (code, err)
        assert lines and lines[0].startswith("error: ") and "injected" in lines[0], err
    assert 1 <= len(lines) <= 2, err


def inject_every_step(monkeypatch, capsys, args_new, out, restore_old, check_new, *, exc=OSError,
                      parents=(), steps=None):
    """Run the CLI on `args_new` with a fault at every write step k = 1..N (see `inject`)."""
    return inject(monkeypatch, lambda: cli(args_new, capsys)[::2], out, restore_old, check_new, exc=exc,
                  parents=parents, steps=steps)


def inject(monkeypatch, run, out, restore_old, check_new, *, exc=OSError, parents=(), steps=None):
    """Call `run` (-> exit code, stderr) with a fault at every write step k = 1..N; check old-or-new output,
    one line and no leftovers after each. Returns N (the write steps of a clean run).

    `steps(n)`, when given, picks the k to fault (default: all of 1..N)."""
    restore_old()
    with monkeypatch.context() as mp:
        counter = Faults(mp)
        code, err = run()
    assert code == 0, err
    n = counter.calls
    assert n >= 1
    for k in (steps(n) if steps else range(1, n + 1)):
        restore_old()
        old = snapshot(out)
        with monkeypatch.context() as mp:
            f = Faults(mp, fail_at=k, exc=exc)
            code, err = run()
        assert f.where is not None, f"step {k} of {n} was never reached"
        if code == 0:  # the fault was recovered from (shutil.move copies when a rename fails): new output only
            assert check_new(out), f"step {k}/{n} ({f.where}): exit 0 but the new output is incomplete"
        else:
            assert_one_line(code, err, exc)
            now = snapshot(out) if out.exists() else {}
            assert now == old or check_new(out), f"step {k}/{n} ({f.where}): a mix of old and new output in {out}"
        assert leftovers(out.parent, *parents) == [], f"step {k}/{n} ({f.where}) left temp files"
    return n


def as_cli(fn):
    """`fn()` as the CLI reports it: (0, "") or (2, "error: ...") for an OSError, (130, "") for Ctrl+C."""
    try:
        fn()
    except OSError as e:
        return 2, f"error: {e}"
    except KeyboardInterrupt:
        return 130, "interrupted"
    return 0, ""


def stash(src: Path, dst: Path):
    """A function that puts a copy of `src` (as it is now) back in place."""
    shutil.copytree(src, dst)

    def restore():
        if src.exists():
            shutil.rmtree(src)
        shutil.copytree(dst, src)

    return restore


# ----------------------------------------------------------------------------------------------- inputs
@pytest.fixture
def genome(tiny_fasta):
    """`tiny_fasta`, dated an hour back: its cached checksum is then trusted, so every run writes the same steps."""
    t = tiny_fasta.stat().st_mtime - 3600
    os.utime(tiny_fasta, (t, t))
    return tiny_fasta


def _dataset_is(out: Path, **params) -> bool:
    """`out` is a complete, self-consistent dataset built with `params`."""
    from bindscape.data.dataset import load_dataset

    try:
        ds = load_dataset(out)
    except Exception:  # noqa: BLE001 - anything unreadable is not a complete dataset
        return False
    return all(ds.meta["params"].get(k) == v for k, v in params.items())


# ----------------------------------------------------------------------------------------------- build
@pytest.mark.parametrize("kind,exc", [("tiles", OSError), ("peaks", OSError), ("tiles", KeyboardInterrupt)])
def test_build_fault_at_every_write_step_keeps_old_dataset_or_publishes_new(
        tmp_path, genome, peaks, monkeypatch, capsys, kind, exc):
    """Promise: `build tiles|peaks --force` interrupted at any write step leaves the old dataset or the new one."""
    out = tmp_path / "ds"
    base = ["build", kind, "--genome", genome, "--peaks", f"TF1={peaks}", "--out", out, "--split", "chroms",
            "--val", "chr2", "--test", "chr3"]
    extra = ["--negatives", "genomic"] if kind == "peaks" else []
    code, _, err = cli([*base, *extra, "--length", "400", "--seed", "1"], capsys)
    assert code == 0, err
    restore = stash(out, tmp_path / "stash")
    n = inject_every_step(monkeypatch, capsys, [*base, *extra, "--length", "300", "--seed", "2", "--force"], out,
                          restore, lambda o: _dataset_is(o, length=300))
    assert n >= 3  # parquet, json, publish rename at least


def test_build_sequences_fault_at_every_write_step(tmp_path, monkeypatch, capsys):
    """Promise: `build sequences --force` interrupted at any write step leaves the old dataset or the new one."""
    from conftest import planted_sequences

    table = planted_sequences(80, 50, np.random.default_rng(0))
    csv = tmp_path / "seqs.csv"
    table.to_csv(csv, index=False)
    out = tmp_path / "ds"
    code, _, err = cli(["build", "sequences", "--input", csv, "--out", out, "--seed", "1"], capsys)
    assert code == 0, err
    restore = stash(out, tmp_path / "stash")
    inject_every_step(monkeypatch, capsys, ["build", "sequences", "--input", csv, "--out", out, "--seed", "2",
                                            "--length", "40", "--force"],
                      out, restore, lambda o: _dataset_is(o, length=40))


# ----------------------------------------------------------------------------------------------- simulate
SIM_SETS = ["--preset", "small", "--set", "species.*.chrom_sizes=[30000,20000]"]


def _sim_is(out: Path, seed: int) -> bool:
    """`out` is a complete simulation of `seed`: its manifest names every file, and each exists."""
    import json

    try:
        man = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    files = [f for sp in man["outputs"].values() for f in (sp["genome"], sp["truth"], sp["chrom_sizes"])]
    return man["seed"] == seed and all((out / f).is_file() for f in files)


def test_simulate_fault_at_every_write_step_keeps_old_simulation_or_publishes_new(tmp_path, monkeypatch, capsys):
    """Promise: `simulate --force` into an earlier simulation, interrupted at any write step, leaves the old one
    byte for byte (with the user's files) or the new one complete: it is written into a temp folder that is
    published in one rename. Every step is faulted in the writer; the CLI's one-line exit once."""
    from bindscape.simulate import publish_outputs, simulate

    out = tmp_path / "sim"
    code, _, err = cli(["simulate", *SIM_SETS, "--seed", "1", "--out", out], capsys)
    assert code == 0, err
    (out / "NOTES.txt").write_text("mine")
    restore = stash(out, tmp_path / "stash")
    new = simulate("small", seed=2, overrides={"species.*.chrom_sizes": [30000, 20000]})
    n = inject(monkeypatch, lambda: as_cli(lambda: publish_outputs(new, out)), out, restore,
               lambda o: _sim_is(o, 2) and (o / "NOTES.txt").read_text() == "mine")
    assert n >= 4
    restore()
    old = snapshot(out)
    with monkeypatch.context() as mp:
        Faults(mp, fail_at=3)
        code, _, err = cli(["simulate", *SIM_SETS, "--seed", "2", "--out", out, "--force"], capsys)
    assert_one_line(code, err, OSError)
    assert snapshot(out) == old and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------------- train
def _train_inputs(tmp_path):
    from conftest import planted_sequences

    rng = np.random.default_rng(0)
    for split, n in (("train", 96), ("val", 48), ("test", 48)):
        planted_sequences(n, 40, rng).to_csv(tmp_path / f"{split}.csv", index=False)
    ds = tmp_path / "ds"
    code = cli(["build", "sequences", "--train", tmp_path / "train.csv", "--val", tmp_path / "val.csv", "--test",
                tmp_path / "test.csv", "--out", ds], _NoCapture())
    assert code[0] == 0
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"dataset: {ds}\nname: r\nout_dir: {tmp_path / 'runs'}\n"
                   "model: {name: bindscape_cnn, params: {channels: 4, hidden: 4, dilations: [1]}}\n"
                   "data: {batch_size: 48}\ntrainer: {max_epochs: 1, progress: false, patience: null, threads: 1}\n")
    return cfg


class _NoCapture:
    """A stand-in for capsys where the output does not matter."""

    def readouterr(self):
        class R:
            out = err = ""

        return R()


def _files_complete(run: Path) -> bool:
    """Every file in the run folder is whole: JSON/YAML parse, parquet reads, checkpoints load."""
    import json

    import pyarrow.parquet as pq
    import yaml

    from bindscape.train import load_checkpoint

    try:
        for p in run.rglob("*"):
            if p.suffix == ".json":
                json.loads(p.read_text())
            elif p.suffix == ".yaml":
                yaml.safe_load(p.read_text())
            elif p.suffix == ".parquet":
                pq.read_table(p)
            elif p.suffix == ".ckpt":
                load_checkpoint(p)
    except Exception:  # noqa: BLE001 - any unreadable file fails the promise
        return False
    return True


def _new_run_ok(run: Path, seed: int) -> bool:
    """`run` holds only the new run (seed `seed`), every file whole, and metrics.json only if it finished."""
    import json

    import yaml

    if not run.exists() or not _files_complete(run):
        return False
    m, c = run / "metrics.json", run / "config.yaml"
    if c.exists() and yaml.safe_load(c.read_text())["trainer"]["seed"] != seed:
        return False  # an old file next to new ones
    return not m.exists() or (c.exists() and json.loads(m.read_text()).get("finished") is True)


def test_train_overwrite_fault_at_first_and_last_write_steps_never_leaves_a_mix(tmp_path, monkeypatch, capsys):
    """Promise (fast form of the next test): faults at the first two write steps (old run renamed aside, new
    config.yaml) and the last (metrics.json published) of `train --overwrite`."""
    _train_faults(tmp_path, monkeypatch, capsys, steps=lambda n: (1, 2, n))


@pytest.mark.slow
def test_train_overwrite_fault_at_every_write_step_never_leaves_a_mix(tmp_path, monkeypatch, capsys):
    """Promise: `train --overwrite` interrupted at any write step leaves the old run byte for byte, or only
    new files, each whole, with metrics.json present only when the new run finished (an unfinished run is what
    `--resume` continues); one line, nonzero exit. (The old run is moved aside once the config and dataset are
    checked and put back when the new run fails: see the next test.)"""
    _train_faults(tmp_path, monkeypatch, capsys)


def _train_faults(tmp_path, monkeypatch, capsys, steps=None):
    import torch

    torch.set_num_threads(1)
    cfg = _train_inputs(tmp_path)
    run = tmp_path / "runs" / "r"
    code, _, err = cli(["train", cfg, "--seed", "1"], capsys)
    assert code == 0, err
    restore = stash(run, tmp_path / "stash")
    n = inject_every_step(monkeypatch, capsys, ["train", cfg, "--seed", "2", "--overwrite"], run, restore,
                          lambda o: _new_run_ok(o, 2), parents=(tmp_path / "runs",), steps=steps)
    assert n >= 3


def test_train_overwrite_keeps_old_run_until_the_new_one_finishes(tmp_path, monkeypatch, capsys):
    """A fault while the new run trains puts the old finished run back, byte for byte."""
    cfg = _train_inputs(tmp_path)
    run = tmp_path / "runs" / "r"
    code, _, err = cli(["train", cfg, "--seed", "1"], capsys)
    assert code == 0, err
    old = snapshot(run)
    with monkeypatch.context() as mp:
        Faults(mp, fail_at=2)  # step 1 renames the old run aside; step 2 is the new run's config.yaml
        code, _, err = cli(["train", cfg, "--seed", "2", "--overwrite"], capsys)
    assert code == 2
    assert snapshot(run) == old


# ----------------------------------------------------------------------------------------------- run
def _writing_run(state, *, progress=True):
    """A tfbs `run` whose stages each write one output file (atomically) named after the recipe's peaks."""
    from bindscape._util import atomic_write_text
    from bindscape.recipes.engine import stage

    for name in ("datasets", "train:m", "evaluate", "report"):
        def work(name=name):
            f = state.run_dir / f"{name.replace(':', '-')}.out"
            atomic_write_text(f, state.recipe.data.peaks)
            return {"file": str(f), "peaks": state.recipe.data.peaks}

        stage(state, name, work)


def _run_consistent(out: Path, n_markers: int = 0) -> bool:
    """Every stage marker was written for the recipe in recipe.json, and its output was made from that
    recipe's peaks (no marker vouches for output of other inputs); at least `n_markers` markers."""
    import json

    peaks = json.loads((out / "recipe.json").read_text())["data"]["peaks"]
    markers = list((out / "stages").glob("*.json"))
    for m in markers:
        info = json.loads(m.read_text())
        f = Path(info["file"])
        if info["peaks"] != peaks or not f.exists() or f.read_text() != peaks:
            return False
    return len(markers) >= n_markers


def test_run_fault_at_every_write_step_keeps_stage_outputs_and_markers_consistent(tmp_path, monkeypatch, capsys):
    """Promise: `bindscape run` after a recipe change, interrupted at any write step, never leaves a stage
    marker for output computed from other inputs; running again finishes every stage with the new inputs."""
    import yaml

    import bindscape.recipes.kinds.tfbs as tfbs_kind

    monkeypatch.setattr(tfbs_kind, "run", _writing_run)
    recipe = {"name": "f", "vars": {"peaks": "a.bed"},
              "data": {"genome": "g.fa", "tf": "T", "peaks": "${peaks}", "strategies": ["genomic"]},
              "train": [{"name": "m", "strategy": "genomic"}]}
    path, out = tmp_path / "r.yaml", tmp_path / "run"
    path.write_text(yaml.safe_dump(recipe))
    code, _, err = cli(["run", path, "-o", out], capsys)
    assert code == 0, err
    restore = stash(out, tmp_path / "stash")
    args = ["run", path, "-o", out, "--var", "peaks=b.bed"]
    n = inject_every_step(monkeypatch, capsys, args, out, restore, lambda o: _run_consistent(o))
    assert n >= 8  # an output file and a marker per stage, each written then renamed
    code, _, err = cli(args, capsys)  # after the last fault: running again finishes every stage
    assert code == 0 and _run_consistent(out, n_markers=4), err

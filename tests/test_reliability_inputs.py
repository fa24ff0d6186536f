"""Issue 17 (remaining promises): output locks on every builder, `--allow-genome-change` on evaluate/explain/
run, recipe stages keyed by their input files' content, `--val-frac + --test-frac` checked.

Each test names the promise it proves (docs/reliability.md lists them).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml

from bindscape.data.dataset import ALLOW_GENOME_CHANGE_ENV, LOCK_FILE, OutputLockedError, output_lock
from conftest import assert_one_error, cli, planted_sequences, random_seqs, write_fasta

pytestmark = pytest.mark.filterwarnings("ignore")
SIZES = {"chr1": 60_000, "chr2": 40_000, "chr3": 30_000, "chrX": 20_000}


@pytest.fixture(autouse=True)
def _no_genome_way_out(monkeypatch):
    """`--allow-genome-change` exports an environment variable; start each test without it (and restore)."""
    monkeypatch.setenv(ALLOW_GENOME_CHANGE_ENV, "0")


# ------------------------------------------------------------------------------------------ locks
def test_build_sequences_into_a_locked_out_fails_in_one_line(tmp_path, capsys):
    """Promise: a second `build sequences` into an --out another build is writing fails at once, one line."""
    csv = tmp_path / "s.csv"
    planted_sequences(40, 30, np.random.default_rng(0)).to_csv(csv, index=False)
    out = tmp_path / "ds"
    with output_lock(out):
        code, _, err = cli(["build", "sequences", "--input", csv, "--out", out], capsys)
        assert_one_error(code, err, str(out), "another bindscape process")
    assert not out.exists()
    code, _, err = cli(["build", "sequences", "--input", csv, "--out", out], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "regions.parquet"]


def test_build_motif_instances_into_a_locked_out_fails_in_one_line(tmp_path, tiny_fasta, peaks, capsys):
    """Promise: a second `build motif-instances` into a locked --out fails at once, one line, nothing written."""
    out = tmp_path / "mi"
    with output_lock(out):
        code, _, err = cli(["build", "motif-instances", "--genome", tiny_fasta, "--motif", "TTACCCGG", "--peaks",
                            peaks, "--out", out, "--length", "100"], capsys)
        assert_one_error(code, err, str(out), "another bindscape process")
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]


def test_negatives_benchmark_into_a_locked_out_fails_in_one_line(tmp_path, tiny_fasta, peaks, capsys):
    """Promise: a second `build negatives-benchmark` into a locked --out fails at once, one line."""
    out = tmp_path / "bench"
    with output_lock(out):
        code, _, err = cli(["build", "negatives-benchmark", "--genome", tiny_fasta, "--peaks", f"T={peaks}",
                            "--out", out, "--strategies", "shuffle"], capsys)
        assert_one_error(code, err, str(out), "another bindscape process")
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]


def test_multitask_bp_builder_into_a_locked_folder_fails(tmp_path, tiny_fasta, peaks):
    """Promise: `build_multitask_bp` (the multitask recipe's builder) refuses a folder another build holds."""
    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp

    out = tmp_path / "mt"
    with output_lock(out), pytest.raises(OutputLockedError, match="another bindscape process"):
        build_multitask_bp(tiny_fasta, [Condition("TF1", cell="c1", path=str(peaks))], out, length=100)
    build_multitask_bp(tiny_fasta, [Condition("TF1", cell="c1", path=str(peaks))], out, length=100)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "regions.parquet"]


# ------------------------------------------------------------------------------------------ split fractions
@pytest.mark.parametrize("kind", ["tiles", "peaks", "bp"])
def test_val_plus_test_frac_of_one_or_more_is_one_line_naming_both_flags(tmp_path, tiny_fasta, peaks, capsys, kind):
    """Promise: `build tiles|peaks|bp --val-frac 0.5 --test-frac 0.5` is one line + exit 2, before any work."""
    out = tmp_path / "ds"
    code, _, err = cli(["build", kind, "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--out", out,
                        "--val-frac", "0.5", "--test-frac", "0.5"], capsys)
    assert_one_error(code, err, "--val-frac", "--test-frac")
    assert not out.exists()


# ------------------------------------------------------------------------------------------ genome checks
@pytest.fixture
def changed(tmp_path, tiny_fasta, peaks, capsys):
    """A dataset and a 1-epoch run on `tiny_fasta`; then the genome is re-simulated under the same names."""
    ds = tmp_path / "ds"
    code, _, err = cli(["build", "tiles", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--out", ds,
                        "--length", "200", "--stride", "200", "--split", "chroms", "--val", "chr2", "--test",
                        "chr3"], capsys)
    assert code == 0, err
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: {ds}\nname: r\nout_dir: {tmp_path / 'runs'}\n"
                   "model: {name: bindscape_cnn, params: {channels: 4, hidden: 4, dilations: [1]}}\n"
                   "trainer: {max_epochs: 1, progress: false, patience: null, threads: 1}\n")
    code, _, err = cli(["train", cfg], capsys)
    assert code == 0, err
    write_fasta(tiny_fasta, random_seqs(SIZES, seed=99))
    return ds, tmp_path / "runs" / "r"


def test_evaluate_and_explain_refuse_a_changed_genome_unless_allowed(changed, tmp_path, capsys):
    """Promise: evaluate/explain on a dataset whose genome changed fail in one line naming
    --allow-genome-change; with the flag they proceed."""
    ds, run = changed
    code, _, err = cli(["evaluate", "-c", run, "-d", ds, "--bootstrap", "0"], capsys)
    assert_one_error(code, err, "genome changed", "--allow-genome-change")
    code, _, err = cli(["explain", "-c", run, "-d", ds, "--method", "saliency", "--n", "2", "--no-report",
                        "-o", tmp_path / "ex"], capsys)
    assert_one_error(code, err, "genome changed", "--allow-genome-change")
    assert not (tmp_path / "ex").exists()
    code, _, err = cli(["evaluate", "-c", run, "-d", ds, "--bootstrap", "0", "--allow-genome-change"], capsys)
    assert code == 0, err
    os.environ[ALLOW_GENOME_CHANGE_ENV] = "0"  # the flag exported it for this process
    code, _, err = cli(["explain", "-c", run, "-d", ds, "--method", "saliency", "--n", "2", "--no-report",
                        "-o", tmp_path / "ex", "--allow-genome-change"], capsys)
    assert code == 0, err


def _stage_reading_dataset(ds):
    """A tfbs `run` whose one stage opens the dataset's genome (as training does)."""
    from bindscape.data.dataset import load_dataset
    from bindscape.recipes.engine import stage

    def run(state, *, progress=True):
        stage(state, "train:m", lambda: {"n": len(load_dataset(ds).open_genome().sizes)})

    return run


def test_run_refuses_a_changed_genome_unless_allowed(changed, tmp_path, monkeypatch, capsys):
    """Promise: `bindscape run` whose stages read a dataset with a changed genome fails in one line naming
    --allow-genome-change; with the flag it proceeds."""
    import bindscape.recipes.kinds.tfbs as tfbs_kind

    ds, _ = changed
    monkeypatch.setattr(tfbs_kind, "run", _stage_reading_dataset(ds))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "g", "data": {"genome": "g.fa", "tf": "T", "peaks": "p.bed"}}))
    code, _, err = cli(["run", recipe, "-o", tmp_path / "run"], capsys)
    assert_one_error(code, err.replace("[run ] train:m\n", ""), "genome changed", "--allow-genome-change")
    code, _, err = cli(["run", recipe, "-o", tmp_path / "run", "--allow-genome-change"], capsys)
    assert code == 0, err


# ------------------------------------------------------------------------------------------ recipe inputs
def _recording_run(calls):
    from bindscape.recipes.engine import stage

    def run(state, *, progress=True):
        for name in ("datasets", "train:m", "report"):
            stage(state, name, lambda name=name: calls.append(name) or {})

    return run


def test_peaks_file_edited_in_place_reruns_the_stages_and_says_why(tmp_path, peaks, monkeypatch):
    """Promise: a recipe input edited in place under the same path reruns its stages (key = content sha256),
    the log names the file; touching it without a change reruns nothing."""
    import bindscape.recipes.kinds.tfbs as tfbs_kind
    from bindscape.recipes import run_recipe

    calls: list = []
    monkeypatch.setattr(tfbs_kind, "run", _recording_run(calls))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "p", "data": {"genome": "g.fa", "tf": "T", "peaks": str(peaks)}}))
    out, logs = tmp_path / "run", []
    run_recipe(recipe, out=out, progress=False, log=logs.append)
    assert calls == ["datasets", "train:m", "report"]
    memo = json.loads((out / "inputs.json").read_text())
    assert list(memo) == [str(peaks.resolve())] and len(memo[str(peaks.resolve())]["sha256"]) == 64
    st = peaks.stat()
    os.utime(peaks, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched, same bytes
    calls.clear()
    state = run_recipe(recipe, out=out, progress=False, log=logs.append)
    assert calls == [] and state.skipped == ["datasets", "train:m", "report"]
    peaks.write_text(peaks.read_text().replace("\t10\n", "\t11\n", 1))  # edited in place, same path
    calls.clear()
    logs.clear()
    state = run_recipe(recipe, out=out, progress=False, log=logs.append)
    assert calls == ["datasets", "train:m", "report"]
    assert logs[0] == f"[run ] datasets (input file changed: {peaks.resolve()})"


# ------------------------------------------------------------------------------------------ flags in hints
def _declared_flags() -> set[str]:
    """Every option name the CLI declares (``--neg-ratio``, ``--no-report``, ...), over the whole command tree."""
    import typer

    from bindscape.cli import app

    flags: set[str] = set()

    def walk(cmd):
        for p in getattr(cmd, "params", []):
            flags.update(o for o in [*p.opts, *getattr(p, "secondary_opts", [])] if o.startswith("--"))
        for child in (getattr(cmd, "commands", None) or {}).values():
            walk(child)

    walk(typer.main.get_command(app))
    return flags


def _message_texts():
    """(file:line, text) of every error message and hint in src/: the string arguments of ``raise X(...)``
    calls and of ``hint=`` keywords anywhere (f-string constant parts included)."""
    import ast
    from pathlib import Path

    import bindscape

    root = Path(bindscape.__file__).parent

    def strings(node):
        for n in ast.walk(node):
            if isinstance(n, ast.Constant) and isinstance(n.value, str):
                yield n.value

    for f in sorted(root.rglob("*.py")):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                for arg in [*node.exc.args, *(k.value for k in node.exc.keywords)]:
                    for s in strings(arg):
                        yield f"{f.relative_to(root)}:{node.lineno}", s
            elif isinstance(node, ast.keyword) and node.arg == "hint":
                for s in strings(node.value):
                    yield f"{f.relative_to(root)}:{node.value.lineno}", s


def test_every_flag_named_in_a_message_or_hint_exists():
    """Promise: every ``--flag`` an error message or hint tells the user to type is a real CLI option."""
    import re

    flags = _declared_flags()
    assert {"--neg-ratio", "--neg-on-short", "--allow-genome-change", "--val-frac"} <= flags
    bad = [(where, flag) for where, text in _message_texts()
           for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text) if flag not in flags]
    assert bad == [], bad


def test_short_negatives_hint_names_the_flags_of_the_command(tmp_path, tiny_fasta, peaks, capsys):
    """Promise: `build peaks` with too few negatives names --neg-ratio and --neg-on-short warn (not Python's
    ``ratio``/``on_short='warn'``)."""
    code, _, err = cli(["build", "peaks", "--genome", tiny_fasta, "--peaks", f"TF1={peaks}", "--out",
                        tmp_path / "ds", "--negatives", "neighbor", "--neg-ratio", "50", "--length", "200"], capsys)
    assert_one_error(code, err, "--neg-ratio", "--neg-on-short warn")
    assert "on_short" not in err and "--ratio" not in err.replace("--neg-ratio", "")

"""The CLI's usage-error contract: every command answers a usage error with click's message and exit 2.

Walks the whole typer command tree (issue 17, class 1): an unknown option, a misspelt subcommand and, where
a command has a required option, its absence. None may print a traceback (a typer release that vendors its
own click once turned each of these into a traceback with exit status 1).
"""

from __future__ import annotations

import pytest


def _leaf_commands():
    import click
    import typer

    from bindscape.cli import app

    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            out.append((tuple(path), cmd, True))
            for name, child in sub.items():
                walk(child, [*path, name])
        else:
            out.append((tuple(path), cmd, False))

    walk(root, [])
    assert isinstance(root, click.Command) or hasattr(root, "commands")
    return out


COMMANDS = _leaf_commands()


def _run(argv, capsys):
    from bindscape.cli import run_cli

    rc = run_cli(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


@pytest.mark.parametrize("path", [p for p, _, group in COMMANDS if not group], ids=" ".join)
def test_unknown_option_is_a_usage_error(path, capsys):
    rc, text = _run([*path, "--no-such-option"], capsys)
    assert rc == 2, text
    assert "No such option" in text and "Traceback" not in text


@pytest.mark.parametrize("path", [p for p, _, group in COMMANDS if group], ids=lambda p: " ".join(p) or "root")
def test_misspelt_subcommand_is_a_usage_error(path, capsys):
    rc, text = _run([*path, "bulid"], capsys)
    assert rc == 2, text
    assert "No such command" in text and "Traceback" not in text


@pytest.mark.parametrize("path", [p for p, cmd, group in COMMANDS
                                  if not group and any(getattr(x, "required", False) for x in cmd.params)],
                         ids=" ".join)
def test_missing_required_option_is_a_usage_error(path, capsys):
    rc, text = _run(list(path), capsys)
    assert rc == 2, text
    assert "Missing" in text and "Traceback" not in text


def test_non_numeric_value_is_a_usage_error(capsys):
    rc, text = _run(["build", "tiles", "--genome", "g.fa", "--out", "x", "--length", "abc"], capsys)
    assert rc == 2 and "Invalid value for '--length'" in text and "Traceback" not in text


# --- numeric options: 0, a negative and a non-numeric value (issue 17, class 3) --------------------------------
def _annotation(param):
    td = getattr(param, "type_descriptor", None)
    return getattr(td, "annotation", None)


def _dummy_args(cmd, skip):
    """Values for the command's required parameters (parsing only; the command never runs)."""
    args, opts = [], []
    for p in cmd.params:
        if p.name == skip or not getattr(p, "required", False):
            continue
        value = "1" if _annotation(p) in (int, float) else "x=y.tsv"
        if getattr(p, "param_type_name", "") == "argument":
            args.append(value)
        else:
            opts += [p.opts[0], value]
    return opts + args


NUMERIC = [(path, p.name, p.opts[0]) for path, cmd, group in COMMANDS if not group
           for p in cmd.params if _annotation(p) in (int, float)]


def _bounds(param):
    """``(low, low_open)`` declared on the option (a `bindscape.cli.options.bounded` callback), or None."""
    cb = getattr(param, "callback", None)
    for fn in (cb, getattr(cb, "__wrapped__", None), *(c.cell_contents for c in (getattr(cb, "__closure__", None) or ())
                                                        if callable(c.cell_contents))):
        if getattr(fn, "bounds", None) is not None and fn.bounds[0] is not None:
            return fn.bounds[0], fn.bounds[2]
    return None


def _parse(cmd, argv):
    """Parse `argv` for `cmd` without running it: None when accepted, else the usage error."""
    try:
        cmd.make_context(cmd.name or "x", list(argv), resilient_parsing=False)
    except Exception as exc:  # a ConfigError from the bound, or click's usage error for a non-number
        assert getattr(exc, "exit_code", None) == 2, repr(exc)
        return exc
    return None


@pytest.mark.parametrize(("path", "name", "flag"), NUMERIC, ids=[f"{' '.join(p)} {f}" for p, _, f in NUMERIC])
def test_numeric_option_declares_its_bounds(path, name, flag):
    cmd = dict((p, c) for p, c, _ in COMMANDS)[path]
    param = next(p for p in cmd.params if p.name == name)
    assert _bounds(param) is not None, f"{' '.join(path)} {flag}: declare callback=bounded(...) on the option"
    low, low_open = _bounds(param)
    assert low >= 0, f"{' '.join(path)} {flag}: negative values accepted"
    base = _dummy_args(cmd, name)
    for value in ("0", "-1", "abc"):
        err = _parse(cmd, [*base, flag, value])
        if value == "0" and low == 0 and not low_open:
            assert err is None, f"{flag} 0 should parse: {err}"
            continue
        assert err is not None, f"{' '.join(path)} {flag} {value} was accepted"
        msg = err.format_message() if hasattr(err, "format_message") else err.message
        assert flag in msg and "\n" not in msg, msg


@pytest.mark.parametrize("argv", [
    ["build", "tiles", "--length", "0"], ["build", "tiles", "--stride", "0"],
    ["build", "tiles", "--val-frac", "1.5"], ["build", "tiles", "--test-frac", "-0.5"],
    ["build", "bp", "--background", "-2"], ["build", "sequences", "--length", "0"],
    ["build", "sequences", "--val-frac", "1.5"], ["build", "sequences", "--test-frac", "-0.5"],
    ["predict", "--stride", "0"], ["predict", "--batch-size", "0"],
    ["evaluate", "--bootstrap", "-5"], ["explain", "--n", "0"],
], ids=" ".join)
def test_reported_invalid_values_are_usage_errors(argv, tmp_path, capsys, monkeypatch):
    import typer

    from bindscape.cli import app

    monkeypatch.chdir(tmp_path)
    cmd = typer.main.get_command(app)
    for part in argv[:-2]:
        cmd = cmd.commands[part]
    rc, text = _run([*argv[:-2], *_dummy_args(cmd, None), *argv[-2:]], capsys)
    assert rc == 2, text
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("hint:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {argv[-2]} must be") and "Traceback" not in text, text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["predict", "-c", "c.ckpt", "--dataset", "d", "-o", "x.xyz"],
                                  ["motifs", "scan", "MA0001", "--fasta", "s.fa", "-o", "x.xyz"]], ids=["predict", "scan"])
def test_unknown_output_extension_is_a_usage_error(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, text = _run(argv, capsys)
    assert rc == 2, text
    assert "unknown file extension" in text and ".parquet" in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == []


def test_unknown_recipe_variable_is_an_error(tmp_path, capsys):
    rc, text = _run(["run", "demo", "--var", "nosuch=1", "-o", str(tmp_path / "demo")], capsys)
    assert rc == 2, text
    assert "nosuch" in text and "its variables: seed" in text and "Traceback" not in text
    assert not (tmp_path / "demo").exists()


def test_installed_typer_and_click_are_the_pinned_pair():
    """The contract above was checked with the installed typer/click; pyproject.toml bounds both, so an install
    can only get a pair inside those bounds (a typer that vendors another click once broke every usage error)."""
    from importlib.metadata import version
    from pathlib import Path

    import tomllib
    from packaging.requirements import Requirement

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    deps = {Requirement(d).name: Requirement(d) for d in tomllib.loads(pyproject.read_text())["project"]["dependencies"]}
    for name in ("typer", "click"):
        spec = deps[name].specifier
        assert spec and any(s.operator in ("<", "<=", "==", "~=") for s in spec), f"{name} has no upper bound"
        assert spec.contains(version(name)), f"installed {name} {version(name)} is outside pyproject's {spec}"

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

"""The `bindscape` command line (typer).

Each sub-module holds one area's commands and a ``register(app)`` function (every `build` subcommand is in
`cli/build.py`, options shared by several verbs in `cli/options.py`, the closing summary tables in
`cli/summary.py`); this module wires them together and turns `BindscapeError` into one clear line plus a
hint and exit status 2 (tracebacks only with ``--debug``). Heavy imports happen inside the commands so `bindscape --help` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

app = typer.Typer(
    name="bindscape",
    help="Predict where transcription factors bind DNA: build datasets, train, evaluate, explain, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# sub-modules that define register(app); imported in order so `--help` lists commands sensibly
_COMMAND_MODULES = ["build", "simulate", "motifs", "negatives", "train", "tune", "cross_species", "multitask", "explain",
                    "run", "evaluate", "download"]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
):
    if debug:
        os.environ["BINDSCAPE_DEBUG"] = "1"
    if version:
        from bindscape import __version__

        typer.echo(f"bindscape {__version__}")
        raise typer.Exit(0)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"bindscape.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bindscape.cli.{name}":
                continue
            raise
        mod.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    from bindscape.errors import BindscapeError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int):
            return rv
    except BindscapeError as exc:
        if debug or os.environ.get("BINDSCAPE_DEBUG") == "1":
            raise
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # typer.Exit / click exits
        return int(exc.code or 0)
    except Exception as exc:  # usage errors: click's exceptions, or those of the click that typer vendors
        kind = _click_error_kind(exc)
        if kind == "usage":
            exc.show()
            return 2
        if kind == "exit":
            return exc.exit_code
        if kind == "abort":
            print("aborted", file=sys.stderr)
            return 1
        raise
    return 0


def _click_error_kind(exc: Exception) -> str | None:
    """``usage``, ``exit`` or ``abort`` when `exc` is one of click's exceptions, else None.

    Recent typer releases ship their own copy of click (``typer._click``) whose exception classes are not
    click's, so both modules are checked (a misspelt command used to end in a traceback with exit 1).
    """
    for name in ("click.exceptions", "typer._click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if isinstance(exc, mod.ClickException):
            return "usage"
        if isinstance(exc, mod.Exit):
            return "exit"
        if isinstance(exc, mod.Abort):
            return "abort"
    return None


def run_cli(argv: list[str]) -> int:
    """Run the CLI in-process (tests use this); returns the exit status."""
    return main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""The `bindscape` command line (typer).

Each sub-module holds one area's commands and a ``register(app)`` function (every `build` subcommand is in
`cli/build.py`, options shared by several verbs in `cli/options.py`, the closing summary tables in
`cli/summary.py`); this module wires them together and turns `BindscapeError` into one clear line plus a
hint and exit status 2 (tracebacks only with ``--debug``). Heavy imports happen inside the commands so `bindscape --help` stays fast.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import typer

from bindscape._util import Interrupted

app = typer.Typer(
    name="bindscape",
    help="Predict where transcription factors bind DNA: build datasets, train, evaluate, explain, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# sub-modules that define register(app); imported in order so `--help` lists commands sensibly
_COMMAND_MODULES = ["build", "simulate", "motifs", "negatives", "train", "tune", "cross_species", "multitask", "explain",
                    "run", "evaluate", "download", "export", "variants", "marginalize"]


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
    """Console-script entry point.

    Exit status: 0 on success, 2 for a user error (a `BindscapeError`, a usage error, or an `OSError` such
    as a full disk or a read-only output: one line, no traceback unless ``--debug``), 130 on SIGINT and
    143 on SIGTERM (one line saying how to resume).
    """
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    previous = _install_signal_handlers()
    debug_env = os.environ.get("BINDSCAPE_DEBUG")  # --debug sets it; an in-process call must not leak it
    try:
        return _run_app(args, debug)
    except Interrupted as exc:
        print(f"error: interrupted by {signal.Signals(exc.signum).name}; {_resume_hint(args)}", file=sys.stderr)
        return exc.exit_code
    finally:
        _restore_signal_handlers(previous)
        if debug_env is None:
            os.environ.pop("BINDSCAPE_DEBUG", None)
        else:
            os.environ["BINDSCAPE_DEBUG"] = debug_env


def _run_app(args: list[str], debug: bool) -> int:
    from bindscape.errors import BindscapeError

    try:
        rv = app(args=args, standalone_mode=False)
        if rv == 130:  # typer turns a KeyboardInterrupt into a returned 130 in non-standalone mode
            raise Interrupted(signal.SIGINT)
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
        raise Interrupted(signal.SIGINT) from None
    except SystemExit as exc:  # typer.Exit / click exits; Lightning's SIGTERMException is a SystemExit(None)
        if type(exc).__name__ == "SIGTERMException":
            raise Interrupted(signal.SIGTERM) from None
        return int(exc.code or 0)
    except OSError as exc:  # full disk, read-only mount, a path under a file ...: one line, exit 2
        if debug or os.environ.get("BINDSCAPE_DEBUG") == "1":
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        print("hint: check the --out / -o path (free space, permissions, not under a file), then rerun",
              file=sys.stderr)
        return 2
    except Exception as exc:  # usage errors: click's exceptions, or those of the click that typer vendors
        kind = _click_error_kind(exc)
        if kind and isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):  # Ctrl+C: Exit(130)/Abort
            raise Interrupted(signal.SIGINT) from None
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


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


def _install_signal_handlers() -> dict:
    """Make SIGINT and SIGTERM raise `Interrupted` (exit 130/143); returns the handlers to restore."""
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _raise_interrupted)
        except (ValueError, OSError):  # not the main thread: leave signals alone
            break
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        if handler is not None:
            signal.signal(sig, handler)


def _resume_hint(args: list[str]) -> str:
    """How to continue the interrupted command (`--resume` for training, rerun for recipes)."""
    words = [a for a in args if not a.startswith("-")]
    name = words[0] if words else ""
    if name in ("run", "demo"):
        return f"rerun the same `bindscape {name}` command to continue (finished stages are kept)"
    try:
        import typer.main

        cmd = typer.main.get_command(app).commands.get(name)  # type: ignore[attr-defined]
        opts = {o for p in getattr(cmd, "params", []) for o in getattr(p, "opts", [])}
    except Exception:  # noqa: BLE001 - a hint must never fail
        opts = set()
    if "--resume" in opts:
        return f"rerun `bindscape {name}` with --resume to continue from the last checkpoint"
    return f"rerun `bindscape {name}` (no partial output was kept)".replace("`bindscape `", "the command")


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
        if isinstance(exc, getattr(mod, "Exit", ())):  # typer._click.exceptions has no Exit or Abort: a bug
            return "exit"  # must reach the user as itself, not as an AttributeError raised here
        if isinstance(exc, getattr(mod, "Abort", ())):
            return "abort"
    return None


def run_cli(argv: list[str]) -> int:
    """Run the CLI in-process (tests use this); returns the exit status."""
    return main(argv)


if __name__ == "__main__":
    sys.exit(main())

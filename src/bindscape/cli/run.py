"""`bindscape run RECIPE` and `bindscape demo` (`bindscape evaluate` is in `bindscape.cli.evaluate`)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from bindscape.cli.options import at_least


def _parse_vars(items: list[str] | None) -> dict:
    """``["seed=1", "tf=REB1"]`` -> ``{"seed": 1, "tf": "REB1"}`` (integers where the value is one)."""
    from bindscape.errors import ConfigError

    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ConfigError(f"--var expects NAME=VALUE, got {item!r}")
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = v
    return out


def run(
    recipe: str = typer.Argument(..., help="Recipe YAML file, or a shipped recipe name (demo, yeast-reb1, cross-species, cross-species-yeast-worm, multitask-bp, multitask-bp-lineage)."),
    out: Path = typer.Option(None, "--out", "-o", help="Run folder (default runs/<recipe name>)."),
    var: list[str] = typer.Option(None, "--var", help="Set a recipe variable: NAME=VALUE. Repeatable."),
    set_: list[str] = typer.Option(None, "--set", help="Override a recipe field: KEY=VALUE with a dotted key "
                                   "into its mappings and a YAML value (e.g. 'masking=[test, train]'). Repeatable."),
    force: bool = typer.Option(False, "--force", help="Redo every stage, even those finished earlier."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    allow_genome_change: bool = typer.Option(False, "--allow-genome-change", help="Use the recipe's datasets "
                                             "even when their genome file changed since they were built."),
):
    """Run a recipe: (simulate) -> datasets -> train -> evaluate -> report. Re-running skips finished stages."""
    from bindscape._util import check_writable
    from bindscape.cli.train import allow_genome_changes

    allow_genome_changes(allow_genome_change)
    from bindscape.cli.summary import recipe_summary
    from bindscape.recipes import run_recipe
    from bindscape.recipes.engine import check_recipe_variables
    from bindscape.train import parse_set

    if out is not None:
        check_writable(out, "--out")  # before any stage runs
    variables = _parse_vars(var)
    overrides = parse_set(set_)
    check_recipe_variables(recipe, variables)  # a misspelt --var must not run the whole recipe without it
    t0 = time.perf_counter()
    state = run_recipe(recipe, out=out, variables=variables, force=force, progress=not no_progress,
                       log=lambda msg: typer.echo(msg, err=True), overrides=overrides)
    recipe_summary(state, t0)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run folder."),
    seed: int = typer.Option(0, "--seed", callback=at_least(0), help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Redo every stage."),
):
    """The main job on the embedded default data: the `demo` recipe (simulated genome, known truth)."""
    run("demo", out=out, var=[f"seed={seed}"], set_=None, force=force, no_progress=False, allow_genome_change=False)


def register(app: typer.Typer) -> None:
    """Add `bindscape run` and `bindscape demo` to `app`, the root `bindscape` typer app."""
    app.command("run")(run)
    app.command("demo")(demo)

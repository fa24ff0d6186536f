"""`bindscape tune`: hyper-parameter search with Optuna (`bindscape.train.tune`); optuna and torch are imported
inside the command."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import at_least


def tune_cmd(
    config: Path = typer.Argument(..., help="Training config (YAML), optionally with a `tune:` section; see "
                                  "docs/tuning.md."),
    budget_cpu_min: str = typer.Option(..., "--budget-cpu-min", metavar="MINUTES", help="CPU minutes for the whole search (this "
                                       "process and its children, earlier sessions of the study included); no "
                                       "trial starts once they are spent."),
    trials: int = typer.Option(None, "--trials", callback=at_least(1), help="Stop once the study holds this many finished trials "
                               "(earlier sessions included). Default: only the budget stops it."),
    out: Path = typer.Option(None, "--out", "-o", help="Tune folder (default <out_dir>/<name>-tune); an "
                             "existing study there is resumed."),
    space: Path = typer.Option(None, "--space", help="Search-space YAML (the fields of the `tune:` section); "
                               "replaces the config's `tune:` section."),
    set_: list[str] = typer.Option(None, "--set", help="Override a base-config field: KEY=VALUE (dotted keys). "
                                   "Repeatable."),
):
    """Search learning rate, width, depth, dropout, sampler (and motif options) on validation; writes study.db,
    trials.csv, best.yaml and report.html to the tune folder."""
    from bindscape.train import parse_budget

    budget = parse_budget(budget_cpu_min)  # a bad budget fails before anything is read
    from bindscape.cli.summary import tune_summary
    from bindscape.report.tune import write_report
    from bindscape.train import load_tune_config, parse_set, run_tune

    cfg, tcfg = load_tune_config(config, space, parse_set(set_))
    res = run_tune(cfg, budget, tune_config=tcfg, trials=trials, out=out)
    report = write_report(res.out_dir, command=f"bindscape tune {config} --budget-cpu-min {budget_cpu_min}"
                          + (f" --trials {trials}" if trials is not None else ""))
    tune_summary(res.trials, title=f"bindscape tune -> {res.out_dir}", monitor=res.monitor,
                 best=res.best_number, cpu_seconds=res.cpu_seconds, stopped_by=res.stopped_by,
                 files=[p for p in (res.best_config, res.out_dir / "trials.csv", report) if p is not None])
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape tune` to `app`, the root `bindscape` typer app."""
    app.command("tune")(tune_cmd)

"""`bindscape run RECIPE`, `bindscape evaluate` and `bindscape demo`."""

from __future__ import annotations

import time
from pathlib import Path

import typer


def _parse_vars(items: list[str] | None) -> dict:
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


def _summary(state, started: float) -> None:
    import json
    import sys

    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    # without a terminal rich assumes 80 columns and truncates numbers; logs can be wider
    console = Console() if sys.stdout.isatty() else Console(width=120)
    run_dir = Path(state.run_dir)
    metrics_path = run_dir / "evaluation" / "metrics.csv"
    if metrics_path.exists():
        m = pd.read_csv(metrics_path)
        from rich import box

        t = Table(title=f"{run_dir.name}: test metrics (auPRC with 95% bootstrap interval)", box=box.SIMPLE_HEAD,
                  padding=(0, 1))
        for col in ("model", "test set", "n", "auROC", "auPRC", "MCC"):
            t.add_column(col, justify="left" if col in ("model", "test set") else "right",
                         no_wrap=True)
        for r in m.itertuples():
            def ci(name, r=r):
                lo, hi = getattr(r, f"{name}_lo", None), getattr(r, f"{name}_hi", None)
                v = getattr(r, name)
                return f"{v:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo == lo and lo is not None else "")

            t.add_row(r.model, r.test_set, f"{r.n:,}", f"{r.auROC:.3f}", ci("auPRC"), f"{r.MCC:.3f}")
        console.print(t)
    ev = run_dir / "evaluation" / "summary.json"
    if ev.exists():
        s = json.loads(ev.read_text())
        if "beats_pwm_on_hq" in s:
            word = "[green]beats[/green]" if s["beats_pwm_on_hq"] else "[red]does not beat[/red]"
            console.print(f"best model on the HQ test set ({s.get('best_model_hq')}) {word} the PWM baseline")
    console.print(f"stages run: {', '.join(state.ran) or 'none'}; skipped (done earlier): "
                  f"{', '.join(state.skipped) or 'none'}; {time.perf_counter() - started:.0f} s")
    report = run_dir / "report.html"
    if report.exists():
        console.print(f"[bold]report:[/bold] {report.resolve()}")


def run(
    recipe: str = typer.Argument(..., help="Recipe YAML file, or a shipped recipe name (demo, yeast-reb1, cross-species, cross-species-yeast-worm, multitask-bp, multitask-bp-lineage)."),
    out: Path = typer.Option(None, "--out", "-o", help="Run folder (default runs/<recipe name>)."),
    var: list[str] = typer.Option(None, "--var", help="Set a recipe variable: NAME=VALUE. Repeatable."),
    force: bool = typer.Option(False, "--force", help="Redo every stage, even those finished earlier."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
):
    """Run a recipe: (simulate) -> datasets -> train -> evaluate -> report. Re-running skips finished stages."""
    from bindscape.recipes.runner import run_any

    t0 = time.perf_counter()
    state = run_any(recipe, out=out, variables=_parse_vars(var), force=force, progress=not no_progress,
                    log=lambda msg: typer.echo(msg, err=True))
    _summary(state, t0)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run folder."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Redo every stage."),
):
    """The main job on the embedded default data: the `demo` recipe (simulated genome, known truth)."""
    run("demo", out=out, var=[f"seed={seed}"], force=force, no_progress=False)


def evaluate(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Checkpoint (or run folder) of a trained model."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Dataset folder to score."),
    split: str = typer.Option("test", "--split", help="Split to evaluate ('all' for every row)."),
    val_split: str = typer.Option("val", "--val-split", help="Split for choosing the threshold ('' for none)."),
    motif: str = typer.Option(None, "--pwm", help="Also evaluate a PWM baseline: JASPAR ID, name or motif file."),
    species: str = typer.Option(None, "--species", help="Species for a motif name lookup."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples for 95% intervals (0: none)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write metrics.csv and report.html here."),
):
    """Score a dataset split with a checkpoint (and optionally a PWM baseline); print and save the metrics."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from bindscape._util import atomic_path
    from bindscape.evaluate.metrics import evaluate_scores
    from bindscape.recipes.evaluation import model_scores, pwm_scores
    from bindscape.train import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    sp = None if split == "all" else split
    scored = {Path(checkpoint).stem if Path(checkpoint).is_file() else Path(checkpoint).name:
              (model_scores(ckpt, dataset, sp, True), model_scores(ckpt, dataset, val_split, False) if val_split else None)}
    if motif:
        from bindscape.motifs import PWMBaseline, load_motif

        base = PWMBaseline([load_motif(motif, species=species)])
        scored["PWM baseline"] = (pwm_scores(base, dataset, sp), pwm_scores(base, dataset, val_split) if val_split else None)
    rows = []
    for name, (test, val) in scored.items():
        v = (val["label"].to_numpy(), val["prob"].to_numpy()) if val is not None and len(val) else None
        ev = evaluate_scores(test["label"].to_numpy(), test["prob"].to_numpy(), val=v, bootstrap=bootstrap)
        rows.append(ev.row(name))
    df = pd.DataFrame(rows)
    t = Table(title=f"{dataset} [{split}]")
    for c in ("model", "n", "positives", "auROC", "auPRC", "pAUROC_std", "F1", "MCC", "threshold_source"):
        t.add_column(c)
    for r in rows:
        t.add_row(*[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in
                    ("model", "n", "positives", "auROC", "auPRC", "pAUROC_std", "F1", "MCC", "threshold_source")])
    Console().print(t)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "metrics.csv") as tmp:
            df.to_csv(tmp, index=False)
        typer.echo(f"metrics: {out / 'metrics.csv'}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("evaluate")(evaluate)
    app.command("demo")(demo)

"""`bindscape train-cross-species CONFIG.yaml`: MORALE / GRL / source / target / joint / joint+MORALE training across species."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import RUN_NAMING, RUN_TRAINER, at_least, option_groups


def _lam_grid(text: str | None) -> list[float] | None:
    """``"0,1,2"`` -> ``[0.0, 1.0, 2.0]``; a `ConfigError` for anything but numbers and commas."""
    from bindscape.errors import ConfigError

    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--lam-grid {text!r}: expected numbers separated by commas") from None


@option_groups
def train_cross_species_cmd(
    config: Path = typer.Argument(..., help="Cross-species config (YAML); see docs/cross_species.md."),
    mode: str = typer.Option(None, "--mode", help="Override `mode` (source|target|joint|morale|joint_morale|grl)."),
    target: str = typer.Option(None, "--target", help="Override `target` (a species name)."),
    lam: float = typer.Option(None, "--lam", callback=at_least(0), help="Override `lam` (MORALE weight / GRL strength)."),
    lam_grid: str = typer.Option(None, "--lam-grid", help="Comma-separated lambdas to tune over (e.g. 0,1,2,5,10)."),
    naming=RUN_NAMING,
    trainer=RUN_TRAINER,
    **kw,
):
    """Train one model on several species with domain adaptation; writes <out_dir>/<name>/."""
    from bindscape.cli.summary import cross_species_summary
    from bindscape.cli.train import run_overrides
    from bindscape.train import load_cross_species, run_metrics, train_cross_species

    ov = run_overrides((("mode", mode), ("target", target), ("lam", lam), ("lam_grid", _lam_grid(lam_grid))), kw)
    cfg = load_cross_species(config, ov)
    run = train_cross_species(cfg, resume=kw["resume"], overwrite=kw["overwrite"])
    m = run_metrics(run)
    if m is None:  # DDP: the extra processes have no metrics to show
        return
    cross_species_summary(m, cfg, run)
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape train-cross-species` to `app`, the root `bindscape` typer app."""
    app.command("train-cross-species", help="Train across species: source | target | joint | morale | joint_morale | grl.")(
        train_cross_species_cmd)

"""`bindscape train-cross-species CONFIG.yaml`: MORALE / GRL / source / target / joint training across species."""

from __future__ import annotations

from pathlib import Path

import typer


def train_cross_species_cmd(
    config: Path = typer.Argument(..., help="Cross-species config (YAML); see docs/cross_species.md."),
    mode: str = typer.Option(None, "--mode", help="Override `mode` (source|target|joint|morale|grl)."),
    target: str = typer.Option(None, "--target", help="Override `target` (a species name)."),
    lam: float = typer.Option(None, "--lam", help="Override `lam` (MORALE weight / GRL strength)."),
    lam_grid: str = typer.Option(None, "--lam-grid", help="Comma-separated lambdas to tune over (e.g. 0,1,2,5,10)."),
    name: str = typer.Option(None, "--name", "-n", help="Override `name` (run folder <out_dir>/<name>)."),
    out_dir: str = typer.Option(None, "--out-dir", help="Override `out_dir`."),
    model: str = typer.Option(None, "--model", "-m", help="Override `model.name`."),
    epochs: int = typer.Option(None, "--epochs", help="Override `trainer.max_epochs`."),
    seed: int = typer.Option(None, "--seed", help="Override `trainer.seed`."),
    accelerator: str = typer.Option(None, "--accelerator", help="Override `trainer.accelerator` (cpu|gpu|auto)."),
    devices: str = typer.Option(None, "--devices", help="Override `trainer.devices` (N or auto; >1 GPU = DDP)."),
    set_: list[str] = typer.Option(None, "--set", help="Override any field: KEY=VALUE (dotted keys). Repeatable."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run from checkpoints/last.ckpt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run folder."),
):
    """Train one model on several species with domain adaptation; writes <out_dir>/<name>/."""
    from bindscape.errors import ConfigError
    from bindscape.train import cli_overrides, load_cross_species

    grid = None
    if lam_grid is not None:
        try:
            grid = [float(v) for v in lam_grid.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"--lam-grid {lam_grid!r}: expected numbers separated by commas") from None
    ov = cli_overrides((("mode", mode), ("target", target), ("lam", lam), ("lam_grid", grid), ("name", name),
                        ("out_dir", out_dir), ("model.name", model), ("trainer.max_epochs", epochs),
                        ("trainer.seed", seed), ("trainer.accelerator", accelerator)), devices, set_)
    cfg = load_cross_species(config, ov)

    from rich.console import Console
    from rich.table import Table

    from bindscape.train import run_metrics, train_cross_species

    run = train_cross_species(cfg, resume=resume, overwrite=overwrite)
    m = run_metrics(run)
    if m is None:  # DDP: the extra processes have no metrics to show
        return
    t = Table(title=f"{cfg.mode} (lambda {m.get('lam', cfg.lam):g}) {cfg.model.name} -> {run}")
    for c in ("species", "role", "val auPRC", "test auROC", "test auPRC", "n test"):
        t.add_column(c, justify="left" if c in ("species", "role") else "right")
    for sp in cfg.domain_species:
        role = "target" if sp == cfg.target else ("source" if sp in cfg.source_species else "other")
        v, s = m["val"].get(sp, {}), m["test"].get(sp, {})
        t.add_row(sp, role, f"{v.get('auprc', float('nan')):.4f}", f"{s.get('auroc', float('nan')):.4f}",
                  f"{s.get('auprc', float('nan')):.4f}", f"{s.get('n', 0):,}")
    Console().print(t)
    if m.get("selection"):
        Console().print(f"lambda chosen on validation auPRC of {', '.join(m['selection']['selection_species'])}: "
                        f"{m['selection']['selected_lam']:g}")
    Console().print(f"{m['cpu_seconds'] / 60:.2f} CPU-min, {m['wall_seconds'] / 60:.2f} min wall")
    return 0


def register(app: typer.Typer) -> None:
    app.command("train-cross-species", help="Train across species: source | target | joint | morale | grl.")(
        train_cross_species_cmd)

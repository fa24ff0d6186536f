"""`bindscape export RUN_OR_CHECKPOINT -o model.bsm`: one portable model file; `bundle_info` prints its card.

Every command that takes ``--checkpoint`` accepts the bundle (`bindscape.train.load_checkpoint` reads it);
`bindscape info model.bsm` prints the card through `bundle_info`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import suffixes


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def _metric_rows(metrics: dict | None) -> list[tuple[str, str]]:
    """``(split.metric, value)`` rows of a run's metrics.json: the numbers of its val/test entries."""
    rows = []
    for split in ("val", "test"):
        m = (metrics or {}).get(split)
        if isinstance(m, dict):
            rows += [(f"{split} {k}", _fmt(v)) for k, v in m.items() if isinstance(v, (int, float))]
    for k in ("best_epoch", "epochs_run", "cpu_seconds"):
        if metrics and k in metrics:
            rows.append((k, _fmt(metrics[k])))
    return rows


def _card_rows(card: dict, header: dict) -> list[tuple[str, str]]:
    out = card.get("outputs") or {}
    if "conditions" in out:
        cond = out["conditions"]
        outputs = f"multitask: TFs {', '.join(cond.get('tfs', []))}; cells {', '.join(map(str, cond.get('cells', [])))}"
    else:
        outputs = ", ".join(out.get("names", [])) or "-"
    td = card.get("training_data") or {}
    counts = ((td.get("summary") or {}).get("counts")) or {}
    genome = td.get("genome") or {}
    rows = [
        ("name", _fmt(card.get("name"))),
        ("model", f"{card.get('model')} ({card.get('n_parameters', 0):,} parameters)"),
        ("input", f"{card.get('input_length')} bp ({card.get('input_length_rule') or '-'})"),
        ("outputs", outputs),
        ("strand averaging", _fmt(card.get("rc_average"))),
        ("training data", f"{td.get('path')} ({td.get('builder', 'not readable at export')})"),
        ("examples", ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "-"),
        ("genome", f"{genome.get('path')} (sha256 {str(genome.get('checksum'))[:12]}...)" if genome else "-"),
        ("epoch", _fmt(card.get("epoch"))),
    ]
    if card.get("ensemble"):
        ens = card["ensemble"]
        rows.append(("ensemble", f"{len(ens['members'])} members, seeds {ens.get('seeds')}, folds {ens.get('folds')}"))
    rows += _metric_rows(card.get("metrics"))
    src = card.get("source") or {}
    rows += [("source", f"{src.get('path')}" + (f" (sha256 {src['sha256'][:12]}...)" if src.get("sha256") else "")),
             ("bindscape", f"{card.get('bindscape_version')}, bundle format {header.get('format_version')}, "
                           f"created {card.get('created')}"),
             ("sha256", str(header.get("sha256")))]
    return rows


def bundle_info(path: Path) -> None:
    """Print a bundle's card (checked first: format version, sha256) as a table.

    Parameters
    ----------
    path
        The ``.bsm`` file.
    """
    from rich.console import Console
    from rich.table import Table

    from bindscape.train import read_bundle

    b = read_bundle(path)
    t = Table(title=f"{path}: bindscape model bundle", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for k, v in _card_rows(b.card, b.header):
        t.add_row(k, v)
    Console().print(t)


def export_cmd(
    source: Path = typer.Argument(..., help="Run folder, checkpoint file (best.ckpt / model.pt) or ensemble folder."),
    out: Path = typer.Option(..., "--out", "-o", callback=suffixes(".bsm"), help="Bundle file to write (.bsm)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing bundle file."),
):
    """Write a trained model as one portable file (weights, config, card); use it as --checkpoint anywhere."""
    from rich.console import Console

    from bindscape._util import check_writable
    from bindscape.train import export_bundle

    check_writable(out, "--out", is_dir=False)
    path, _card = export_bundle(source, out, overwrite=overwrite)
    bundle_info(path)
    Console().print(f"bundle -> {path} ({path.stat().st_size / 1e6:.2f} MB); use it as "
                    f"`bindscape predict --checkpoint {path} ...`")
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape export` to `app`, the root `bindscape` typer app."""
    app.command("export")(export_cmd)

"""`bindscape demo`: the main job on the embedded default data (what `make demo` runs).

Simulates the demo genome (planted JASPAR motifs, known truth), builds a multi-condition tiles dataset and a
peaks dataset from it with an automatic chromosome split, and prints their summaries. Later stages
(training, evaluation, the HTML report) join here as they land.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder for everything the demo writes."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
):
    """Run the main job on the embedded default data (simulated genome + binding)."""
    from rich.console import Console

    from bindscape.cli.build import print_summary
    from bindscape.data.build import build_dataset
    from bindscape.simulate import simulate

    console = Console()
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with console.status("simulating the demo genome and binding"):
        sim = simulate(preset="demo", seed=seed, out=out / "sim")
    species, genome, conditions = _first_species(sim.out)
    console.print(f"simulated {species}: {genome} with {len(conditions)} ChIP-seq conditions")
    tiles, _, tiles_dir = build_dataset(
        "tiles", genome=genome, conditions=conditions, out=out / "tiles", length=500, stride=450, split="auto",
        seed=seed, force=True,
    )
    print_summary(tiles.regions, title=f"tiles dataset -> {tiles_dir}")
    first = [c for c in conditions if c.tf == conditions[0].tf]
    bp, _, bp_dir = build_dataset(
        "bp", genome=genome, conditions=first, out=out / "bp", length=1000, split="auto", background=1.0,
        seed=seed, force=True,
    )
    print_summary(bp.regions, title=f"base-pair dataset -> {bp_dir}")
    console.print(f"[bold green]demo finished in {time.perf_counter() - t0:.1f} s[/bold green]; "
                  f"inspect with `bindscape info {tiles_dir}`")


def _first_species(sim_out: Path):
    import json

    from bindscape.data.builders import Condition

    manifest = json.loads((Path(sim_out) / "manifest.json").read_text())
    species = manifest["species"][0]
    species = species if isinstance(species, str) else species["name"]
    folder = Path(sim_out) / species
    conditions = []
    for peak in sorted((folder / "peaks").glob("*.narrowPeak")):
        tf, _, cell = peak.name.removesuffix(".narrowPeak").partition(".")
        conditions.append(Condition(tf=tf, cell=cell or None, species=species, path=str(peak)))
    return species, folder / "genome.fa.gz", conditions


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

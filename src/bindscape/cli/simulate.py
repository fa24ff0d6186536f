"""`bindscape simulate` and `bindscape simulate-realism`: the synthetic-data generator from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import at_least


def _parse_sets(sets: list[str] | None) -> dict:
    from bindscape.errors import ConfigError

    out = {}
    for item in sets or []:
        if "=" not in item:
            raise ConfigError(
                f"--set expects key=value, got {item!r}", hint="e.g. --set chip.sensitivity=0.7"
            )
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def check_out_free(out: Path, *, force: bool) -> None:
    """Refuse to simulate into an existing, non-empty folder unless ``--force``.

    Parameters
    ----------
    out
        The ``--out`` folder.
    force
        The ``--force`` flag: write into it anyway.

    Raises
    ------
    bindscape.errors.ConfigError
        When `out` is a folder with files in it and not `force`.
    """
    from bindscape.errors import ConfigError

    if force or not out.is_dir() or not any(out.iterdir()):
        return
    what = "an earlier simulation" if (out / "manifest.json").exists() else "files"
    raise ConfigError(f"--out {out} already holds {what}; simulating would overwrite it",
                      hint="pass --force to write into it anyway, or give --out a new or empty folder")


def register(app: typer.Typer) -> None:
    """Add `bindscape simulate` to `app`, the root `bindscape` typer app."""

    @app.command("simulate")
    def simulate_cmd(
        preset: str = typer.Option(
            "demo", "--preset", "-p", help="Preset name (demo, small, multi-species) or YAML path."
        ),
        seed: int = typer.Option(0, "--seed", callback=at_least(0), help="Random seed (same seed -> byte-identical files)."),
        out: Path = typer.Option(Path("runs/sim"), "--out", "-o", help="Output folder."),
        sets: list[str] = typer.Option(
            None, "--set", help="Override a setting: dotted.key=value (repeatable)."
        ),
        realism: bool = typer.Option(
            False, "--realism", help="Also print composition statistics of the result."
        ),
        force: bool = typer.Option(
            False, "--force", help="Write into an existing, non-empty --out folder (its files may be replaced)."
        ),
    ):
        """Simulate genomes with planted TF binding and known truth (the embedded default data)."""
        from bindscape._util import check_writable
        from bindscape.cli.summary import simulate_summary
        from bindscape.simulate import simulate

        check_writable(out, "--out")  # before simulating
        check_out_free(out, force=force)
        res = simulate(preset, seed=seed, out=out, overrides=_parse_sets(sets))
        simulate_summary(res, seed=seed, out=out)
        if realism:
            from bindscape.simulate.realism import format_table, realism_table

            typer.echo(format_table(realism_table({sp: g.seqs for sp, g in res.genomes.items()})))
        return 0

    @app.command("simulate-realism")
    def realism_cmd(
        fasta: list[Path] = typer.Argument(..., help="FASTA files (plain or .gz) to compare."),
        names: list[str] = typer.Option(None, "--name", help="A label per FASTA (default: file name)."),
    ):
        """Compare genome composition: GC in 1-kb windows, CpG/TpA o/e, dinucleotide distance (Karlin delta*)."""
        from bindscape.errors import ConfigError, InputError
        from bindscape.io.genome import read_fasta as read_fasta_codes
        from bindscape.simulate.realism import format_table, realism_table

        if names and len(names) != len(fasta):
            raise ConfigError("give one --name per FASTA file")
        genomes = {}
        for i, f in enumerate(fasta):
            if not f.exists():
                raise InputError(f"FASTA file not found: {f}")
            genomes[names[i] if names else f.name] = read_fasta_codes(f)
        typer.echo(format_table(realism_table(genomes)))
        return 0

"""One call from files to a dataset folder: genome + peak files -> build -> split -> write.

This is what `bindscape build peaks|tiles|bp` runs; Python users can call `build_dataset` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bindscape.data.builders import (
    BuildResult,
    Condition,
    build_bp,
    build_peaks,
    build_tiles,
    read_conditions,
    read_negatives,
)
from bindscape.data.dataset import META_FILE, REGIONS_FILE, write_dataset
from bindscape.data.splits import assign_split
from bindscape.errors import ConfigError, InputError

KINDS = ("peaks", "tiles", "bp")


def check_output(out: str | Path, force: bool) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder", hint="choose another --out")
    if out.exists() and any(out.iterdir()):
        is_dataset = (out / REGIONS_FILE).exists() or (out / META_FILE).exists()
        if not is_dataset:
            raise InputError(f"{out}: folder exists and is not a bindscape dataset", hint="choose another --out")
        if not force:
            raise InputError(f"{out}: a dataset already exists here", hint="pass --force to overwrite it")
    return out


def build_dataset(
    kind: str,
    *,
    genome: str | Path,
    conditions: list[Condition],
    out: str | Path,
    length: int | None = None,
    stride: int | None = None,
    blacklist: str | Path | None = None,
    negatives: str | Path | None = None,
    split: str = "auto",
    val: list[str] | None = None,
    test: list[str] | None = None,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    seed: int = 0,
    aliases: Any = None,
    cache_dir: str | None = None,
    max_n_frac: float = 0.1,
    include_excluded: bool = False,
    anchor: str = "summit",
    background: float = 0.0,
    force: bool = False,
) -> tuple[BuildResult, dict[str, str], Path]:
    """Build a dataset of `kind` and write it to `out`; returns (result, chromosome -> split, out)."""
    from bindscape.io import intervals as iv
    from bindscape.io.genome import Genome

    if kind not in KINDS:
        raise ConfigError(f"unknown dataset kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    if not conditions:
        raise ConfigError("no peak files given", hint="add --peaks NAME=PATH (repeatable)")
    out = check_output(out, force)
    g = Genome(genome, cache_dir=cache_dir)
    peaks = read_conditions(conditions, g, aliases=aliases)
    bl = iv.read_bed(blacklist, sizes=None) if blacklist else None
    if bl is not None:
        bl = bl[bl["chrom"].isin(set(g.chroms))]
    if kind == "peaks":
        neg = read_negatives(negatives, g, aliases=aliases) if negatives else None
        res = build_peaks(
            g, peaks, length=length or 1000, anchor=anchor, negatives=neg, blacklist=bl,
            include_excluded=include_excluded,
        )
    elif kind == "tiles":
        if negatives:
            raise ConfigError("--negatives does not apply to tiles (every window is labelled)")
        res = build_tiles(
            g, peaks, length=length or 500, stride=stride or 450, blacklist=bl, max_n_frac=max_n_frac,
            include_excluded=include_excluded,
        )
    else:
        res = build_bp(
            g, peaks, length=length or 1000, background=background, blacklist=bl,
            include_excluded=include_excluded, seed=seed,
        )
    if res.regions.empty:
        raise InputError("the dataset would be empty", hint="check the peak files, --length and the blacklist")
    regions, mapping = assign_split(
        res.regions, split, val=val or (), test=test or (), sizes=g.sizes, val_frac=val_frac, test_frac=test_frac
    )
    res.regions = regions
    params = {
        **res.params,
        "kind": kind,
        "conditions": [
            {"tf": c.tf, "cell": c.cell, "species": c.species, "path": str(Path(c.path).resolve())} for c in conditions
        ],
        "blacklist": str(Path(blacklist).resolve()) if blacklist else None,
        "negatives": str(Path(negatives).resolve()) if negatives else None,
        "split": split,
        "val": list(val or []),
        "test": list(test or []),
        "val_frac": val_frac,
        "test_frac": test_frac,
        "chrom_alias": aliases,
    }
    write_dataset(
        out, regions, builder=kind, params=params, seed=seed, genome=g, extra={"split_chroms": mapping, "notes": res.notes}
    )
    return res, mapping, out

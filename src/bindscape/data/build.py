"""One call from files to a dataset folder: genome + peak files -> build -> split -> write.

This is what `bindscape build peaks|tiles|bp` runs; Python users can call `build_dataset` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bindscape.data.builders import (
    BuildResult,
    Condition,
    build_bp,
    build_peaks,
    build_tiles,
    read_conditions,
    read_negatives,
)
from bindscape.data.dataset import LOCK_FILE, META_FILE, REGIONS_FILE, output_lock, write_dataset
from bindscape.data.splits import assign_split
from bindscape.errors import ConfigError, InputError

KINDS = ("peaks", "tiles", "bp")


def check_output(out: str | Path, force: bool) -> Path:
    """Check that a dataset may be written to `out` (missing, empty, or an existing dataset with `force`).

    Parameters
    ----------
    out
        The output folder.
    force
        Allow overwriting an existing dataset folder.

    Returns
    -------
    Path
        `out` as a Path.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder", hint="choose another --out")
    if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()):
        is_dataset = (out / REGIONS_FILE).exists() or (out / META_FILE).exists()
        if not is_dataset:
            raise InputError(f"{out}: folder exists and is not a bindscape dataset", hint="choose another --out")
        if not force:
            raise InputError(f"{out}: a dataset already exists here", hint="pass --force to overwrite it")
    return out


def build_dataset(
    kind: str, *, genome: str | Path, conditions: list[Condition], out: str | Path, length: int | None = None,
    stride: int | None = None, blacklist: str | Path | None = None, negatives: str | Path | None = None,
    split: str = "auto", val: list[str] | None = None, test: list[str] | None = None, val_frac: float = 0.1,
    test_frac: float = 0.1, seed: int = 0, aliases: Any = None, cache_dir: str | None = None,
    max_n_frac: float = 0.1, include_excluded: bool = False, anchor: str = "summit", background: float = 0.0,
    force: bool = False, neg_ratio: float = 1.0, accessible: str | Path | None = None, neg_on_short: str = "error",
) -> tuple[BuildResult, dict[str, str], Path]:
    """Build a dataset of `kind` and write it to `out`; returns (result, chromosome -> split, out).

    For ``peaks``, `negatives` is either a table (BED/parquet path) or strategy names from
    `bindscape.data.negatives.STRATEGIES` (``"genomic,dinucleotide"``), sampled per condition at
    `neg_ratio` negatives per positive; ``accessible`` needs the `accessible` peak file.

    Parameters
    ----------
    kind, genome, conditions, out
        ``peaks``, ``tiles`` or ``bp`` (`KINDS`); the FASTA path; one `Condition` per peak file; the folder.
    length, stride, anchor, background, max_n_frac, include_excluded
        Window options of `build_peaks`, `build_tiles` and `build_bp` (defaults per kind).
    blacklist, negatives, neg_ratio, accessible, neg_on_short
        Regions to drop, and the negatives of ``peaks`` (see above).
    split, val, test, val_frac, test_frac
        The chromosome split (`assign_split`).
    seed, aliases, cache_dir, force
        Random seed, chromosome aliases, genome cache folder, overwrite an existing dataset.

    Returns
    -------
    tuple[BuildResult, dict[str, str], Path]
        The build result, chromosome -> split and the dataset folder.
    """
    from bindscape.io.genome import Genome

    if kind not in KINDS:
        raise ConfigError(f"unknown dataset kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    if not conditions:
        raise ConfigError("no peak files given", hint="add --peaks NAME=PATH (repeatable)")
    if val_frac + test_frac >= 1:  # train would get no positives (issue 17, class 3)
        raise ConfigError(f"--val-frac + --test-frac must be < 1 (got {val_frac:g} + {test_frac:g})",
                          hint="lower --val-frac or --test-frac so some data is left for training")
    out = check_output(out, force)
    with output_lock(out):  # a second build into the same --out fails at once instead of racing
        check_output(out, force)  # again under the lock: another build may have finished meanwhile
        g = Genome(genome, cache_dir=cache_dir)
        peaks = read_conditions(conditions, g, aliases=aliases)
        bl = _read_blacklist(blacklist, g.sizes, aliases) if blacklist else None
        res, strategies = _build_kind(
            kind, g, peaks, bl, negatives=negatives, aliases=aliases, accessible=accessible, length=length,
            stride=stride, anchor=anchor, background=background, max_n_frac=max_n_frac, neg_ratio=neg_ratio,
            seed=seed, neg_on_short=neg_on_short, include_excluded=include_excluded,
        )
        if res.regions.empty:
            raise InputError("the dataset would be empty", hint="check the peak files, --length and the blacklist")
        regions, mapping = assign_split(
            res.regions, split, val=val or (), test=test or (), sizes=g.sizes, val_frac=val_frac, test_frac=test_frac
        )
        res.regions = regions
        params = {
            **res.params, "kind": kind, "conditions": [
                {"tf": c.tf, "cell": c.cell, "species": c.species, "path": str(Path(c.path).resolve())} for c in conditions
            ],
            "blacklist": _resolved(blacklist), "negatives": strategies or _resolved(negatives),
            "neg_ratio": neg_ratio if strategies else None, "accessible": _resolved(accessible), "split": split,
            "val": list(val or []), "test": list(test or []), "val_frac": val_frac, "test_frac": test_frac,
            "chrom_alias": aliases,
        }
        write_dataset(
            out, regions, builder=kind, params=params, seed=seed, genome=g, extra={"split_chroms": mapping, "notes": res.notes}
        )
        return res, mapping, out


def _build_kind(kind, g, peaks, bl, *, negatives, aliases, accessible, length, stride, anchor, background,
                max_n_frac, neg_ratio, seed, neg_on_short, include_excluded) -> tuple[BuildResult, list[str]]:
    """(build result, negative strategies used) of one dataset kind."""
    strategies: list[str] = []
    if kind == "peaks":
        neg, strategies = _peak_negatives(
            negatives, g, peaks, aliases=aliases, accessible=accessible, length=length or 1000, anchor=anchor,
            blacklist=bl, ratio=neg_ratio, seed=seed, on_short=neg_on_short, include_excluded=include_excluded,
        )
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
    return res, strategies


def _read_blacklist(path, sizes: dict[str, int], aliases) -> pd.DataFrame:
    """The blacklist, checked against the genome: every chromosome in it exists, every interval fits."""
    from bindscape.errors import ChromosomeError
    from bindscape.io.bed import read_bed
    from bindscape.io.chroms import blacklist_error

    try:
        return read_bed(path, sizes=sizes, aliases=aliases)
    except ChromosomeError as e:
        raise blacklist_error(e) from None


def _resolved(path) -> str | None:
    """The absolute path as text, or None."""
    return str(Path(path).resolve()) if path else None


def _peak_negatives(negatives, genome, peaks, *, aliases, accessible, **kw) -> tuple[pd.DataFrame | None, list[str]]:
    """(negatives table or None, strategy names): a table read from `negatives`, or sampled by its strategies."""
    if negatives and Path(negatives).exists():
        return read_negatives(negatives, genome, aliases=aliases), []
    if not negatives:
        return None, []
    from bindscape.data.negatives import parse_strategies
    from bindscape.io.bed import read_peaks

    strategies = parse_strategies(str(negatives))
    acc = read_peaks(accessible, sizes=genome.sizes, aliases=aliases) if accessible else None
    from bindscape.data.negatives import NegativesShortError

    try:
        return strategy_negatives(strategies, genome, peaks, accessible=acc, **kw), strategies
    except NegativesShortError as exc:  # name this command's flags, not the Python arguments
        exc.hint = "lower --neg-ratio, choose other --negatives, or pass --neg-on-short warn to keep what was found"
        raise


def strategy_negatives(
    strategies: list[str],
    genome,
    peaks: dict[Condition, pd.DataFrame],
    *,
    length: int,
    anchor: str = "summit",
    blacklist: pd.DataFrame | None = None,
    accessible: pd.DataFrame | None = None,
    ratio: float = 1.0,
    seed: int = 0,
    on_short: str = "error",
    include_excluded: bool = False,
) -> pd.DataFrame:
    """Negatives for every condition by each named strategy, with the condition columns set.

    Parameters
    ----------
    strategies
        Strategy names (`bindscape.data.negatives.STRATEGIES`).
    genome
        The genome.
    peaks
        Peaks per condition; positives are `length`-bp windows at their anchors.
    length
        Window length in bp.
    anchor
        Where positive windows are centred: ``summit`` or the peak centre.
    blacklist
        Regions negatives must avoid (genomic and neighbor strategies).
    accessible
        Open-chromatin peaks (needed by the ``accessible`` strategy).
    ratio
        Negatives per positive, per strategy.
    seed
        Base seed; each condition and strategy gets its own.
    on_short
        ``error``, ``warn`` or ``ignore`` when a strategy finds too few negatives (not for shuffles).
    include_excluded
        Also use chromosomes excluded by default (sex, mitochondrial, unplaced).

    Returns
    -------
    pandas.DataFrame
        All negatives of all conditions and strategies.
    """
    from bindscape.data.builders import condition_columns, usable_chroms
    from bindscape.data.negatives import sample_negatives
    from bindscape.data.tfbs_benchmark import positive_windows

    usable = usable_chroms(genome, include_excluded)
    all_peaks = pd.concat([pk[["chrom", "start", "end"]] for pk in peaks.values()], ignore_index=True)
    parts = []
    for ci, (cond, pk) in enumerate(peaks.items()):
        win = positive_windows(pk, genome, length=length, anchor=anchor, chroms=set(usable), max_n_frac=1.0)
        for si, strategy in enumerate(strategies):
            opts: dict = {} if strategy in ("shuffle", "dinucleotide") else {"on_short": on_short}
            if strategy == "genomic":
                opts.update(chroms=usable, exclude=all_peaks, blacklist=blacklist)
            elif strategy == "neighbor":
                opts.update(exclude=all_peaks, blacklist=blacklist)
            elif strategy == "cross_tf":
                others = [
                    p.assign(tf=c.tf) for c, p in peaks.items() if c.tf != cond.tf and c.cell == cond.cell
                ]
                if not others:
                    raise ConfigError(
                        f"cross_tf negatives for {cond.key} need peaks of another TF in the same cell type",
                        hint="add --peaks OTHER_TF:CELL=PATH",
                    )
                opts.update(others=pd.concat(others, ignore_index=True), peaks=pk)
            elif strategy == "accessible":
                if accessible is None:
                    raise ConfigError("accessible negatives need --accessible (ATAC/DNase peaks)")
                opts.update(accessible=accessible, peaks=pk)
            neg = sample_negatives(strategy, win, genome, ratio=ratio, seed=seed + 1000 * ci + si, **opts)
            parts.append(condition_columns(neg.drop(columns=["tf", "cell", "species"], errors="ignore"), cond))
    return pd.concat(parts, ignore_index=True)

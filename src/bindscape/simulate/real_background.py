"""Plant the simulator's binding rules into real genomes (semi-real data).

    from bindscape.simulate.real_background import simulate_real
    res = simulate_real({"yeast": "sacCer3.fa.gz", "worm": "ce10.fa.gz"}, preset="multi-species",
                        seed=0, out="runs/semi", max_chrom_bp=400_000)

Each species' background is a real genome (codes and soft mask read with `bindscape.io.genome.read_fasta`, optionally
restricted to `chroms` and cut to `max_chrom_bp` per chromosome); motif groups, turnover between species,
accessibility, binding and ChIP peaks follow the preset exactly as `simulate()` does. Outside planted sites
the sequence is the real one, soft mask included. The output folder has the simulator's layout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bindscape.io.genome import read_fasta

from .genome import Genome


def load_background(path_or_codes, *, chroms: list[str] | None = None, max_chrom_bp: int | None = None,
                    min_chrom_bp: int = 10_000) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(codes, masks) per chromosome from a FASTA path or ``{chrom: codes}`` (masks then all False).

    Parameters
    ----------
    path_or_codes
        See above.
    chroms
        Chromosomes to keep, in this order (None: all, in file order); unknown names are skipped.
    max_chrom_bp
        Keep only the first this many bases of each chromosome (None: all).
    min_chrom_bp
        Chromosomes shorter than this are left out.

    Returns
    -------
    tuple[dict[str, numpy.ndarray], dict[str, numpy.ndarray]]
        uint8 codes and bool soft masks, copies.
    """
    if isinstance(path_or_codes, dict):
        codes = {c: np.asarray(v, dtype=np.uint8) for c, v in path_or_codes.items()}
        masks = {c: np.zeros(len(v), dtype=bool) for c, v in codes.items()}
    else:
        codes, masks = read_fasta(path_or_codes, with_mask=True)
    names = [c for c in (chroms or list(codes)) if c in codes and len(codes[c]) >= min_chrom_bp]
    out_c, out_m = {}, {}
    for c in names:
        n = len(codes[c]) if not max_chrom_bp else min(len(codes[c]), int(max_chrom_bp))
        out_c[c] = np.array(codes[c][:n], dtype=np.uint8)
        out_m[c] = np.array(masks[c][:n], dtype=bool)
    return out_c, out_m


def simulate_real(backgrounds: dict[str, Any], preset: str | dict = "multi-species", seed: int = 0,
                  out: str | Path | None = None, *, overrides: dict | None = None,
                  chroms: dict[str, list[str]] | None = None, max_chrom_bp: int | None = None):
    """Like `simulate()` with the species' backgrounds given (species name -> FASTA path or code dict).

    The preset's TFs, cells, binding, ChIP and turnover settings apply; its species entries are ignored
    (the first given species is the reference whose site groups the others turn over). Returns a SimResult.

    Parameters
    ----------
    backgrounds
        See above.
    preset
        Preset name, YAML path or dict (`resolve_config`).
    seed
        Seed of every random draw.
    out
        Output folder to write (None: in memory only).
    overrides
        Dotted config overrides.
    chroms
        Per species, the chromosomes to use (`load_background`).
    max_chrom_bp
        Truncate each chromosome to this many bases.

    Returns
    -------
    SimResult
    """
    from bindscape import __version__

    from . import (
        SimResult,
        call_peaks,
        load_site_motifs,
        plant_binding,
        publish_outputs,
        reference_catalogue,
        resolve_config,
        species_groups,
    )
    from .config import manifest_config

    cfg = resolve_config(preset, overrides)
    t0 = time.perf_counter()
    motifs = load_site_motifs(cfg)
    root = np.random.SeedSequence(int(seed))
    cat_ss, *species_ss = root.spawn(1 + len(backgrounds))
    genomes, truths, peaks, access_peaks, stats = {}, {}, {}, {}, {}
    bgs = {sp: load_background(src, chroms=(chroms or {}).get(sp), max_chrom_bp=max_chrom_bp)
           for sp, src in backgrounds.items()}
    ref_size = sum(len(v) for v in next(iter(bgs.values()))[0].values())
    catalogue = reference_catalogue(motifs, cfg, ref_size, np.random.default_rng(cat_ss))
    for si, ((sp, (codes, masks)), ss) in enumerate(zip(bgs.items(), species_ss, strict=True)):
        turn_rng, new_rng, bind_rng, peak_rng = (np.random.default_rng(s) for s in ss.spawn(4))
        groups, degrade = species_groups(catalogue, motifs, cfg, turn_rng, new_rng, reference=si == 0,
                                         prefix=f"{sp}_g")
        seqs, truth, flat, access, inst = plant_binding(
            {c: v.copy() for c, v in codes.items()}, cfg, bind_rng, species=sp, motifs=motifs, groups=groups,
            degrade=degrade)
        genome = Genome(sp, seqs, masks, info={"background": "real"})
        atac, chip = call_peaks(flat, inst, access, cfg, peak_rng, sp)
        access_peaks.update(atac)
        peaks.update(chip)
        genomes[sp], truths[sp] = genome, truth
        stats[sp] = {"genome_size": genome.size, "repeat_fraction": round(genome.repeat_fraction(), 4),
                     "peaks": {f"{k[1]}.{k[2]}": len(v) for k, v in peaks.items() if k[0] == sp}}
    manifest = {"bindscape_version": __version__, "generator": "bindscape.simulate.real_background",
                "preset": cfg.name, "seed": int(seed), "species": list(genomes),
                "tfs": [{"name": t.name, "jaspar_id": t.jaspar_id} for t in cfg.tfs],
                "cells": [c.name for c in cfg.cells], "coordinates": "0-based, half-open (BED)",
                "config": manifest_config(cfg), "stats": stats, "outputs": {},
                "backgrounds": {sp: str(src) if not isinstance(src, dict) else "codes" for sp, src in backgrounds.items()}}
    res = SimResult(cfg, int(seed), genomes, truths, peaks, access_peaks, manifest)
    if out is not None:
        publish_outputs(res, Path(out))
    res.timings["total"] = time.perf_counter() - t0
    return res


def plant_into_background(codes: dict[str, np.ndarray], preset: str | dict = "multi-species", seed: int = 0,
                          species: str = "real", overrides: dict | None = None):
    """Plant one species' binding into given background codes; returns (planted codes, truth).

    Parameters
    ----------
    codes
        Chromosome -> uint8 codes (copied, not changed).
    preset
        Preset name, YAML path or dict.
    seed
        Seed of the planting and binding draws.
    species
        Species name in the truth table.
    overrides
        Dotted config overrides.

    Returns
    -------
    tuple[dict[str, numpy.ndarray], pandas.DataFrame]
    """
    from . import plant_binding, resolve_config

    cfg = resolve_config(preset, overrides)
    seqs, truth, *_ = plant_binding({c: np.asarray(v, dtype=np.uint8).copy() for c, v in codes.items()}, cfg,
                                    np.random.default_rng(seed), species=species)
    return seqs, truth


__all__ = ["load_background", "simulate_real", "plant_into_background"]

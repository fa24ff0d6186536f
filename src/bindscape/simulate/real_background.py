"""Plant the simulator's binding rules into real genomes (semi-real data).

    from bindscape.simulate.real_background import simulate_real
    res = simulate_real({"yeast": "sacCer3.fa.gz", "worm": "ce10.fa.gz"}, preset="multi-species",
                        seed=0, out="runs/semi", max_chrom_bp=400_000)

Each species' background is a real genome (codes and soft mask read with `bindscape.io.genome.read_fasta`, optionally
restricted to `chroms` and cut to `max_chrom_bp` per chromosome); motif groups, turnover between species,
accessibility, binding and ChIP peaks follow the preset exactly as `simulate()` does. Outside planted sites
the sequence is the real one, soft mask included. The output folder has the simulator's layout.

Opt-in (``real_repeats={species: {...}}``, `config.RealRepeatConfig`): the species' high-copy sequence is
detected without an annotation (`real_repeats.detect_repeats`) and written as ``<species>/repeats.bed``; with
``decoy_tf`` every detected repeat gets motif copies of that TF (the simulator's decoy planting,
`real_repeats.plant_repeat_decoys`) and is silenced in that species (closed chromatin: no site in it binds;
truth ``repeat_family``, ``repeat_decoy``, reason ``silenced-repeat``), as a simulated ``RepeatFamily`` with
``decoy_tf`` is. Without it nothing changes (same bytes).
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
                  chroms: dict[str, list[str]] | None = None, max_chrom_bp: int | None = None,
                  real_repeats: dict[str, Any] | None = None):
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
    real_repeats
        Species -> `config.RealRepeatConfig` (or its dict): detect that species' repeats and, with
        ``decoy_tf``, plant silenced decoys into them (see the module docstring; None: none).

    Returns
    -------
    SimResult
    """
    from bindscape import __version__

    from . import SimResult, load_site_motifs, publish_outputs, reference_catalogue, resolve_config
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
    rr_cfg = real_repeat_configs(real_repeats, backgrounds, cfg)
    for si, ((sp, (codes, masks)), ss) in enumerate(zip(bgs.items(), species_ss, strict=True)):
        genome, truth, atac, chip, stats[sp] = _plant_species(sp, codes, masks, ss, catalogue, motifs, cfg,
                                                              reference=si == 0, rc=rr_cfg.get(sp))
        access_peaks.update(atac)
        peaks.update(chip)
        genomes[sp], truths[sp] = genome, truth
    manifest = {"bindscape_version": __version__, "generator": "bindscape.simulate.real_background",
                "preset": cfg.name, "seed": int(seed), "species": list(genomes),
                "tfs": [{"name": t.name, "jaspar_id": t.jaspar_id} for t in cfg.tfs],
                "cells": [c.name for c in cfg.cells], "coordinates": "0-based, half-open (BED)",
                "config": manifest_config(cfg), "stats": stats, "outputs": {},
                "backgrounds": {sp: str(src) if not isinstance(src, dict) else "codes" for sp, src in backgrounds.items()}}
    if rr_cfg:
        manifest["real_repeats"] = {sp: c.model_dump(mode="json") for sp, c in rr_cfg.items()}
    res = SimResult(cfg, int(seed), genomes, truths, peaks, access_peaks, manifest)
    if out is not None:
        publish_outputs(res, Path(out))
    res.timings["total"] = time.perf_counter() - t0
    return res


def _plant_species(sp: str, codes: dict, masks: dict, ss: np.random.SeedSequence, catalogue, motifs: dict, cfg, *,
                   reference: bool, rc=None):
    """One species of `simulate_real`: (genome, truth, ATAC peaks, ChIP peaks, manifest stats)."""
    from . import call_peaks, plant_binding, species_groups

    turn_rng, new_rng, bind_rng, peak_rng = (np.random.default_rng(s) for s in ss.spawn(4))
    groups, degrade = species_groups(catalogue, motifs, cfg, turn_rng, new_rng, reference=reference,
                                     prefix=f"{sp}_g")
    codes = {c: v.copy() for c, v in codes.items()}
    repeats, shift_sc, rr_stats = [], None, None
    if rc is not None:  # opt-in; a stream spawned after the four above, so nothing else moves
        repeats, shift_sc, rr_stats = real_repeat_shift(codes, sp, rc, motifs, np.random.default_rng(ss.spawn(1)[0]))
    seqs, truth, flat, access, inst = plant_binding(
        codes, cfg, bind_rng, species=sp, motifs=motifs, groups=groups, degrade=degrade,
        repeats=repeats or None, species_cfg=shift_sc)
    genome = Genome(sp, seqs, masks, info={"background": "real"}, repeats=repeats)
    atac, chip = call_peaks(flat, inst, access, cfg, peak_rng, sp)
    stats = {"genome_size": genome.size, "repeat_fraction": round(genome.repeat_fraction(), 4),
             "peaks": {f"{k[1]}.{k[2]}": len(v) for k, v in chip.items()}}
    if rr_stats is not None:
        stats["real_repeats"] = {**rr_stats, **_decoy_counts(truth)}
    return genome, truth, atac, chip, stats


def real_repeat_configs(real_repeats: dict[str, Any] | None, backgrounds: dict[str, Any], cfg) -> dict:
    """Validated `config.RealRepeatConfig` per species (raises ConfigError naming the field).

    Parameters
    ----------
    real_repeats
        Species -> settings (dict or `RealRepeatConfig`; None: none).
    backgrounds
        The species simulated (every key of `real_repeats` must be one).
    cfg
        The simulator config (``decoy_tf`` must be one of its TFs).

    Returns
    -------
    dict
        Species -> `RealRepeatConfig`, in the order given.
    """
    from bindscape.errors import ConfigError
    from bindscape.schema import validate_model

    from .config import RealRepeatConfig

    out = {}
    for sp, raw in (real_repeats or {}).items():
        if sp not in backgrounds:
            raise ConfigError(f"real_repeats.{sp}: not one of the real backgrounds ({', '.join(backgrounds)})")
        c = raw if isinstance(raw, RealRepeatConfig) else validate_model(
            RealRepeatConfig, {} if raw is None else raw, f"real_repeats.{sp}", what="real-repeat setting")
        tfs = [t.name for t in cfg.tfs]
        if c.decoy_tf is not None and c.decoy_tf not in tfs:
            raise ConfigError(f"real_repeats.{sp}.decoy_tf: {c.decoy_tf!r} is not a simulated TF ({', '.join(tfs)})")
        out[sp] = c
    return out


def real_repeat_shift(codes: dict[str, np.ndarray], species: str, rc, motifs: dict, rng: np.random.Generator):
    """Detect one species' real repeats and, with ``rc.decoy_tf``, plant decoys into them (codes in place).

    Parameters
    ----------
    codes
        Chromosome -> uint8 codes of the background (changed in place when decoys are planted).
    species
        The species name.
    rc
        Its `config.RealRepeatConfig`.
    motifs
        TF name -> `binding.SiteMotif`.
    rng
        The species' decoy stream.

    Returns
    -------
    tuple
        ``(repeats, species_cfg, stats)``: ``(chrom, start, end, name)`` rows for ``repeats.bed``; a
        `config.SpeciesConfig` whose one repeat family (``rc.name``, ``decoy_tf``) silences them, or None
        without ``decoy_tf``; detection statistics (+ ``decoy_copies``).
    """
    from .config import RepeatFamily, SpeciesConfig
    from .real_repeats import detect_repeats, plant_repeat_decoys, repeat_summary

    rep = detect_repeats(codes, k=rc.k, min_count=rc.min_count, min_length=rc.min_length,
                         merge_gap=rc.merge_gap, name=rc.name)
    stats = repeat_summary(rep, sum(len(v) for v in codes.values()))
    repeats = [(str(c), int(s), int(e), rc.name) for c, s, e in rep[["chrom", "start", "end"]].itertuples(index=False)]
    if rc.decoy_tf is None:
        return repeats, None, stats
    stats["decoy_copies"] = plant_repeat_decoys(codes, rep, motifs[rc.decoy_tf], rc.decoy_per_kb,
                                                rc.decoy_similarity, rng)
    fam = RepeatFamily(name=rc.name, kind="DNA", length=max(2, min(20000, stats["largest"])),
                       decoy_tf=rc.decoy_tf, decoy_per_kb=rc.decoy_per_kb, decoy_similarity=rc.decoy_similarity)
    sc = SpeciesConfig(name=species, chrom_sizes=[max(5000, len(v)) for v in codes.values()], repeats=[fam])
    return repeats, sc, stats


def _decoy_counts(truth) -> dict:
    """Decoys (``repeat_decoy``) and sites in silenced repeats of a truth table (empty without the columns)."""
    if "repeat_decoy" not in truth:
        return {}
    return {"decoys": int(truth.repeat_decoy.astype(bool).sum()),
            "silenced_sites": int((truth.repeat_family != "").sum())}


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


__all__ = ["load_background", "simulate_real", "plant_into_background", "real_repeat_configs", "real_repeat_shift"]

"""bindscape.simulate: synthetic genomes with planted TF binding and known truth (the embedded default data).

    from bindscape.simulate import simulate
    res = simulate("demo", seed=0, out="runs/sim")           # writes the output folder, returns SimResult
    res = simulate("small", seed=1, **{"chip.sensitivity": 0.7})  # in memory only (out=None)
    res.truth["sim"]; res.genomes["sim"].seqs["chr1"]; res.peaks[("sim", "CTCF", "liver")]

Output layout (``out``): ``manifest.json`` and per species ``<species>/genome.fa.gz``,
``<species>/chrom.sizes``, ``<species>/truth.tsv``, ``<species>/peaks/<TF>.<cell>.narrowPeak``,
``<species>/accessibility/<cell>.narrowPeak``. See docs/simulator.md.

It builds on `bindscape.motifs` (JASPAR matrices, p-value thresholds, window scores) and `bindscape.io`
(codes, reverse complements, FASTA reading); see DESIGN.md for the layer order.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .binding import (
    Flat,
    Group,
    SiteMotif,
    add_cofactor_partners,
    assign_binding,
    atac_peaks,
    background_hits,
    call_chip_peaks,
    domains_mask,
    instance_features,
    instances_to_truth,
    load_site_motif,
    make_accessibility,
    make_groups,
    place_lineage_domains,
    plant_groups,
    plant_motif,
    sample_site,
    sample_sites,
    species_shift_features,
)
from .config import (
    SimConfig,
    SpeciesConfig,
    manifest_config,
    preset_names,
    resolve_config,
    uses_species_shifts,
)
from .genome import Genome, simulate_genome, write_chrom_sizes, write_fasta_gz

__all__ = [
    "SimConfig",
    "SimResult",
    "simulate",
    "resolve_config",
    "preset_names",
    "load_site_motif",
    "load_site_motifs",
    "sample_site",
    "sample_sites",
    "plant_motif",
    "plant_binding",
    "simulate_genome",
    "SiteMotif",
    "Genome",
]


@dataclass
class SimResult:
    """What `simulate` produced. In memory always; `paths` (relative to `out`) only when written."""

    config: SimConfig
    seed: int
    genomes: dict[str, Genome]
    truth: dict[str, pd.DataFrame]
    peaks: dict[tuple[str, str, str], pd.DataFrame]
    accessibility: dict[tuple[str, str], pd.DataFrame]
    manifest: dict[str, Any]
    out: Path | None = None
    paths: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def species(self) -> list[str]:
        """The simulated species, in config order."""
        return list(self.genomes)

    def path(self, rel: str) -> Path:
        """A file of the written output folder.

        Parameters
        ----------
        rel
            Path relative to `out` (as listed in `paths` and the manifest).

        Returns
        -------
        Path
            ``out / rel``; a ValueError when the simulation was not written.
        """
        if self.out is None:
            raise ValueError("this simulation was not written (out=None)")
        return self.out / rel


def load_site_motifs(cfg: SimConfig) -> dict[str, SiteMotif]:
    """The config's TF motifs as the simulator plants them.

    Parameters
    ----------
    cfg
        The simulator config (TF names, JASPAR IDs, ``binding.site_max_pvalue``).

    Returns
    -------
    dict
        TF name -> `SiteMotif`.
    """
    return {t.name: load_site_motif(t.name, t.jaspar_id, cfg.binding.site_max_pvalue) for t in cfg.tfs}


def _n_per_tf(cfg: SimConfig, genome_size: int) -> dict[str, int]:
    return {t.name: int(round(t.sites_per_mb * genome_size / 1e6)) for t in cfg.tfs}


def reference_catalogue(motifs: dict[str, SiteMotif], cfg: SimConfig, genome_size: int,
                        rng: np.random.Generator) -> list[Group]:
    """The reference species' site groups (``sites_per_mb`` of each TF over `genome_size` bases).

    Parameters
    ----------
    motifs
        TF name -> `SiteMotif`.
    cfg
        The simulator config.
    genome_size
        Bases of the reference genome.
    rng
        The catalogue's random stream.

    Returns
    -------
    list of Group
        Group ids ``g00000``, ``g00001``, ...
    """
    return make_groups(motifs, cfg, _n_per_tf(cfg, genome_size), rng, prefix="g")


def species_groups(catalogue: list[Group], motifs: dict[str, SiteMotif], cfg: SimConfig,
                   turn_rng: np.random.Generator, new_rng: np.random.Generator, *, reference: bool,
                   prefix: str) -> tuple[list[Group], set[str]]:
    """One species' site groups: the catalogue, with turnover in every species but the reference.

    Parameters
    ----------
    catalogue
        The reference species' groups (`reference_catalogue`).
    motifs
        TF name -> `SiteMotif`.
    cfg
        The simulator config (``binding.turnover``).
    turn_rng, new_rng
        Random streams deciding which groups are lost and sampling the new ones.
    reference
        True for the first species (no turnover, no draws).
    prefix
        Group id prefix of the new groups (``<species>_g``).

    Returns
    -------
    tuple
        (groups, gids of the lost groups, planted degraded below threshold). A lost group's non-partner
        sites are replaced by as many new sites of the same TF.
    """
    groups = list(catalogue)
    if reference or cfg.binding.turnover <= 0:
        return groups, set()
    lost = [g for g in catalogue if turn_rng.random() < cfg.binding.turnover]
    n_new: dict[str, int] = {t.name: 0 for t in cfg.tfs}
    for g in lost:
        for m in g.members:
            if m.origin != "partner":
                n_new[m.tf] += 1
    groups += make_groups(motifs, cfg, n_new, new_rng, prefix=prefix)
    return groups, {g.gid for g in lost}


def call_peaks(flat: Flat, inst: pd.DataFrame, access: dict[str, np.ndarray], cfg: SimConfig,
               rng: np.random.Generator, species: str) -> tuple[dict, dict]:
    """ATAC peaks per cell and ChIP peaks per expressed TF x cell of one species.

    Parameters
    ----------
    flat
        The species' planted genome in flat coordinates.
    inst
        The instances table (with ``bound_<cell>`` columns) from `plant_binding`.
    access
        Cell -> accessible domains.
    cfg
        The simulator config (cells, TFs, ``chip``).
    rng
        The species' peak stream (one child stream per cell, in config order).
    species
        Species name (keys and peak names).

    Returns
    -------
    tuple
        ({(species, cell): ATAC narrowPeak}, {(species, tf, cell): ChIP narrowPeak}).
    """
    atac, chip = {}, {}
    cell_rngs = dict(zip([c.name for c in cfg.cells], rng.spawn(len(cfg.cells)), strict=True))
    for cell in cfg.cells:
        atac_rng, *tf_rngs = cell_rngs[cell.name].spawn(1 + len(cfg.tfs))
        atac[(species, cell.name)] = atac_peaks(flat, access[cell.name], atac_rng, f"{species}.atac.{cell.name}")
        for t, trng in zip(cfg.tfs, tf_rngs, strict=True):
            if cell.tfs is not None and t.name not in cell.tfs:
                continue
            chip[(species, t.name, cell.name)] = call_chip_peaks(
                flat, inst, t.name, cell.name, access[cell.name], cfg.chip, trng, f"{species}.{t.name}.{cell.name}"
            )
    return atac, chip


def plant_binding(
    seqs: dict[str, np.ndarray],
    cfg: SimConfig,
    rng: np.random.Generator,
    *,
    species: str = "sim",
    motifs: dict[str, SiteMotif] | None = None,
    groups=None,
    degrade: set[str] | None = None,
    access: dict[str, np.ndarray] | None = None,
    repeats: list | None = None,
    species_cfg: SpeciesConfig | None = None,
):
    """Plant binding into background sequences (synthetic or real) and decide binding per cell type.

    Parameters
    ----------
    seqs
        chrom -> uint8 codes (A,C,G,T,N = 0..4).
    cfg
        The simulator config.
    rng
        Random stream; split into accessibility, groups, placement and binding streams.
    species
        Species name written into the instances and truth.
    motifs
        TF name -> `SiteMotif` (None: `load_site_motifs`).
    groups
        Site groups to plant (None: sampled with `make_groups`); shared between species for orthologues.
    degrade
        Group ids planted with their sites mutated below threshold (turnover).
    access
        Cell type -> accessible domains (None: drawn with `make_accessibility`).
    repeats
        The species' repeat copies ``(chrom, start, end, family)``; with species shifts in `cfg`
        (`config.uses_species_shifts`), sites in copies of the species' decoy-carrying families never bind
        and the truth table gets the shift columns (`binding.species_shift_features`).
    species_cfg
        The species' shift settings when they are not in ``cfg.species`` (real backgrounds: a decoy-carrying
        family for the detected real repeats, `real_background.simulate_real`); None: looked up by name.

    Returns
    -------
    tuple
        ``(seqs, truth, flat, access, instances)``: the planted sequences, and truth with one row per motif
        instance (planted, cluster, partner, decoy, turnover and above-threshold background hits) with
        per-cell accessibility, binding probability, outcome and reason.
    """
    motifs = motifs or load_site_motifs(cfg)
    r_access, r_groups, r_place, r_bind = rng.spawn(4)
    lineage = any(c.opened_by for c in cfg.cells)
    flat = Flat.from_seqs(seqs)
    shared = None
    if access is None:  # with lineage TFs, also the domains shared by every cell type
        made = make_accessibility(flat, cfg.cells, cfg.accessibility, r_access, with_shared=lineage)
        access, shared = made if lineage else (made, None)
    if groups is None:
        groups = make_groups(motifs, cfg, _n_per_tf(cfg, int(flat.sizes.sum())), r_groups)
    fixed = None
    if lineage:  # lineage TFs open chromatin around their sites (opt-in; its own random stream): domains first
        access, fixed = place_lineage_domains(
            flat, access, groups, cfg.cells, cfg.accessibility, rng.spawn(1)[0], shared, degrade=degrade
        )
    open_mask = np.zeros(len(flat.codes), dtype=bool)
    for doms in access.values():
        open_mask |= domains_mask(doms, len(flat.codes))
    planted = plant_groups(flat, groups, motifs, r_place, open_mask=open_mask, open_bias=cfg.binding.open_bias,
                           degrade=degrade, species=species, fixed=fixed)
    parts = [planted]
    if cfg.binding.background_hits:
        parts.append(background_hits(flat, motifs, planted))
    inst = pd.concat(parts, ignore_index=True)
    inst = instance_features(inst, cfg)
    if species_cfg is not None or uses_species_shifts(cfg):
        sc = species_cfg or next((x for x in cfg.species if x.name == species), None)
        inst = species_shift_features(inst, flat, repeats or [], sc)
    inst = assign_binding(inst, access, cfg, r_bind, len(flat.codes))
    truth = instances_to_truth(flat, inst, species, cfg.cells)
    return flat.to_seqs(), truth, flat, access, inst


def simulate(
    preset: str | Path | dict | SimConfig = "demo",
    seed: int = 0,
    out: str | Path | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
    **kw,
) -> SimResult:
    """Simulate genomes + binding with known truth; write the output folder when `out` is given.

    Parameters
    ----------
    preset
        A preset name, a YAML path, a dict or a `SimConfig`.
    seed
        The seed of every random draw (same seed, same bytes).
    out
        Output folder; None keeps the result in memory only.
    overrides
        Dotted keys (``{"chip.sensitivity": 0.7, "species.*.chrom_sizes": [100000]}``).
    progress
        Unused (kept for the CLI's signature).
    **kw
        More overrides, with ``__`` for the dots (``chip__sensitivity=0.7``).

    Returns
    -------
    SimResult
        Genomes, truth tables, peaks, the manifest and timings (seconds per step).
    """
    ov = dict(overrides or {})
    ov.update({k.replace("__", "."): v for k, v in kw.items()})
    cfg = resolve_config(preset, ov)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    motifs = load_site_motifs(cfg)
    timings["motifs"] = time.perf_counter() - t0
    cat_ss, *species_ss = np.random.SeedSequence(int(seed)).spawn(1 + len(cfg.species))
    catalogue = reference_catalogue(motifs, cfg, sum(cfg.species[0].chrom_sizes), np.random.default_rng(cat_ss))
    genomes, truths, peaks, access_peaks, stats = {}, {}, {}, {}, {}
    for si, (sc, ss) in enumerate(zip(cfg.species, species_ss, strict=True)):
        g_rng, turn_rng, new_rng, bind_rng, peak_rng = (np.random.default_rng(s) for s in ss.spawn(5))
        t1 = time.perf_counter()
        genome = simulate_genome(sc, g_rng, motifs)
        timings[f"{sc.name}.genome"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        groups, degrade = species_groups(
            catalogue, motifs, cfg, turn_rng, new_rng, reference=si == 0, prefix=f"{sc.name}_g"
        )
        if sc.cofactors:  # species shift (opt-in): a stream spawned after the five above
            shift_rng = np.random.default_rng(ss.spawn(1)[0])
            groups = add_cofactor_partners(groups, sc.cofactors, motifs, cfg.binding.affinity_beta, shift_rng)
        genome.seqs, truth, flat, access, inst = plant_binding(
            genome.seqs, cfg, bind_rng, species=sc.name, motifs=motifs, groups=groups, degrade=degrade,
            repeats=genome.repeats,
        )
        timings[f"{sc.name}.binding"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        atac, chip = call_peaks(flat, inst, access, cfg, peak_rng, sc.name)
        access_peaks.update(atac)
        peaks.update(chip)
        timings[f"{sc.name}.peaks"] = time.perf_counter() - t1
        genomes[sc.name], truths[sc.name] = genome, truth
        stats[sc.name] = species_stats(genome, truth, access, chip, cfg)
    manifest = sim_manifest(cfg, seed, motifs, stats)
    res = SimResult(cfg, int(seed), genomes, truths, peaks, access_peaks, manifest, timings=timings)
    if out is not None:
        t1 = time.perf_counter()
        publish_outputs(res, Path(out))
        timings["write"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    return res


def publish_outputs(res: SimResult, out: Path) -> None:
    """`write_outputs` into a temp sibling of `out`, then publish it as `out` in one rename.

    An interrupted write leaves an earlier simulation in `out` as it was (never a mix of old and new
    files); files a user put in `out` are kept (`bindscape._util.publish_folder`).

    Parameters
    ----------
    res
        The simulation; ``res.out`` is set to `out`.
    out
        The output folder (created or replaced).
    """
    import shutil
    import tempfile

    from bindscape._util import publish_folder

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        write_outputs(res, tmp)
        publish_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    res.out = out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def species_stats(genome: Genome, truth: pd.DataFrame, access: dict[str, np.ndarray], chip: dict,
                  cfg: SimConfig) -> dict[str, Any]:
    """The manifest's statistics of one simulated species.

    Parameters
    ----------
    genome
        The planted genome.
    truth
        Its truth table.
    access
        Cell -> accessible domains (flat coordinates).
    chip
        This species' ChIP peaks, keyed (species, tf, cell).
    cfg
        The simulator config.

    Returns
    -------
    dict
        genome_size, gc, repeat_fraction, repeat_families, instances (per origin), accessible_fraction
        (per cell), bound (per tf.cell), peaks (per tf.cell).
    """
    codes = np.concatenate(list(genome.seqs.values()))
    gc = np.isin(codes, (1, 2)).sum() / max(1, (codes < 4).sum())
    return {
        "genome_size": genome.size,
        "gc": round(float(gc), 4),
        "repeat_fraction": round(genome.repeat_fraction(), 4),
        "repeat_families": genome.info.get("repeats", {}),
        "instances": {o: int(n) for o, n in truth.origin.value_counts().sort_index().items()},
        "accessible_fraction": {
            c.name: round(float((access[c.name][:, 1] - access[c.name][:, 0]).sum() / genome.size), 4)
            for c in cfg.cells
        },
        "bound": {
            f"{t.name}.{c.name}": int(truth.loc[truth.tf == t.name, f"bound_{c.name}"].sum())
            for t in cfg.tfs
            for c in cfg.cells
        },
        "peaks": {f"{k[1]}.{k[2]}": len(v) for k, v in chip.items()},
        **_shift_stats(truth, cfg),
    }


def _shift_stats(truth: pd.DataFrame, cfg: SimConfig) -> dict[str, Any]:
    """Species-shift counts for the manifest (empty without shifts, so default manifests are unchanged):
    repeat decoys per TF, sites in silenced repeats, and per cofactor-ruled TF the sites with the partner."""
    if "repeat_decoy" not in truth:
        return {}
    dec = truth[truth.repeat_decoy.astype(bool)]
    cof = truth[truth.cofactor != ""]
    return {"species_shift": {
        "repeat_decoys": {str(k): int(v) for k, v in dec.tf.value_counts().sort_index().items()},
        "silenced_sites": int((truth.repeat_family != "").sum()),
        "cofactor_present": {str(tf): round(float(g.cofactor_present.mean()), 4) for tf, g in cof.groupby("tf")},
    }}


def sim_manifest(cfg: SimConfig, seed: int, motifs: dict[str, SiteMotif], stats: dict) -> dict[str, Any]:
    """The manifest of a simulation (``outputs`` is filled in by `write_outputs`).

    Parameters
    ----------
    cfg
        The simulator config.
    seed
        The seed.
    motifs
        TF name -> `SiteMotif` (widths and thresholds are recorded).
    stats
        Species -> `species_stats`.

    Returns
    -------
    dict
        The manifest (JSON-ready).
    """
    from bindscape import __version__

    return {
        "bindscape_version": __version__,
        "generator": "bindscape.simulate",
        "preset": cfg.name,
        "seed": int(seed),
        "species": [s.name for s in cfg.species],
        "tfs": [
            {
                "name": t.name,
                "jaspar_id": t.jaspar_id,
                "width": motifs[t.name].width,
                "threshold_log2": round(motifs[t.name].threshold, 3),
                "max_log2": round(motifs[t.name].max_score, 3),
                "pioneer": t.pioneer,
                "partner": t.partner,
            }
            for t in cfg.tfs
        ],
        "cells": [c.name for c in cfg.cells],
        "coordinates": "0-based, half-open (BED)",
        "config": manifest_config(cfg),
        "stats": stats,
        "outputs": {},
    }


def _write_table(path: Path, df: pd.DataFrame, header: bool) -> None:
    from bindscape._util import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, header=header, lineterminator="\n")


def write_outputs(res: SimResult, out: Path) -> None:
    """Write the output folder (every file atomically; manifest last).

    Parameters
    ----------
    res
        The simulation; its `paths` are filled in.
    out
        The output folder (created if missing); one sub-folder per species.
    """
    from bindscape._util import atomic_write_text

    cfg = res.config
    out.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Any] = {}
    for sp, genome in res.genomes.items():
        d = out / sp
        entry: dict[str, Any] = {
            "genome": f"{sp}/genome.fa.gz",
            "chrom_sizes": f"{sp}/chrom.sizes",
            "truth": f"{sp}/truth.tsv",
            "peaks": {},
            "accessibility": {},
        }
        write_fasta_gz(
            d / "genome.fa.gz",
            genome,
            width=cfg.output.line_width,
            compresslevel=cfg.output.fasta_compresslevel,
        )
        write_chrom_sizes(d / "chrom.sizes", genome)
        _write_table(d / "truth.tsv", res.truth[sp], header=True)
        if genome.repeats:  # family-named repeat copies (BED4), for repeat-stratified evaluation
            rep = pd.DataFrame(genome.repeats, columns=["chrom", "start", "end", "name"])
            _write_table(d / "repeats.bed", rep.sort_values(["chrom", "start"], kind="stable"), header=False)
            entry["repeats"] = f"{sp}/repeats.bed"
        for (s, tf, cell), df in res.peaks.items():
            if s != sp:
                continue
            rel = f"{sp}/peaks/{tf}.{cell}.narrowPeak"
            _write_table(out / rel, df, header=False)
            entry["peaks"][f"{tf}.{cell}"] = rel
        for (s, cell), df in res.accessibility.items():
            if s != sp:
                continue
            rel = f"{sp}/accessibility/{cell}.narrowPeak"
            _write_table(out / rel, df, header=False)
            entry["accessibility"][cell] = rel
        outputs[sp] = entry
    res.manifest["outputs"] = outputs
    atomic_write_text(out / "manifest.json", json.dumps(res.manifest, indent=2, sort_keys=True) + "\n")
    res.out = out
    res.paths = outputs

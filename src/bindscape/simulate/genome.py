"""Synthetic background genomes: a Markov chain (order >= 2) with isochores, CpG depletion, CpG islands and
soft-masked repeat families; plus small writers (gzip FASTA, chrom.sizes).

Sequences are uint8 code arrays (A=0, C=1, G=2, T=3, N=4) with a separate boolean soft-mask array, so
the binding planter (`binding.py`) and the realism checks (`realism.py`) work on real genomes as well.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field

import numpy as np

from bindscape._util import atomic_path
from bindscape.io.genome import encode, reverse_complement_codes

BLOCK = 2000  # bp per independently generated Markov block (isochore and CpG-island granularity)


@dataclass
class Genome:
    """One species' sequences: chrom -> uint8 codes, chrom -> bool soft mask (True = repeat, lower case);
    `repeats`: the inserted repeat copies as (chrom, start, end, family) rows."""

    species: str
    seqs: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)
    repeats: list = field(default_factory=list)

    @property
    def chrom_sizes(self) -> dict[str, int]:
        """Chromosome -> length in bp."""
        return {c: int(len(s)) for c, s in self.seqs.items()}

    @property
    def size(self) -> int:
        """Total length in bp."""
        return int(sum(len(s) for s in self.seqs.values()))

    def repeat_fraction(self) -> float:
        """Share of the genome that is soft-masked (repeat copies)."""
        return float(sum(int(m.sum()) for m in self.masks.values()) / max(1, self.size))


# ----------------------------------------------------------------------------------------------------------
# Markov background
# ----------------------------------------------------------------------------------------------------------


def _kmer_codes(k: int) -> np.ndarray:
    """(4**k, k) array of the bases of every k-mer, most significant first."""
    idx = np.arange(4**k)
    return np.stack([(idx >> (2 * (k - 1 - i))) & 3 for i in range(k)], axis=1)


def markov_tables(
    order: int,
    gc_levels: np.ndarray,
    *,
    cpg_oe: float,
    tpa_oe: float,
    noise: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Transition tables P(next | previous `order` bases) for each target GC level.

    A (order+1)-mer's weight is the product of its base probabilities (from the GC level), a factor for every
    adjacent CG / TA pair (CpG and TpA depletion), a small poly-A/T run bonus and a species-specific
    log-normal k-mer perturbation (`noise`, shape 4**(order+1)). Returns (tables (n, 4**order, 4),
    realised GC of each table's stationary distribution (n,)).

    Parameters
    ----------
    order
        Markov order (context length).
    gc_levels
        Target GC fractions, one table each.
    cpg_oe, tpa_oe
        Weight factors of each CG / TA pair (see `calibrated_factors` for factors that hit target o/e).
    noise
        Log-weight perturbation per (order+1)-mer (None: none).

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        See above.
    """
    k1 = order + 1
    km = _kmer_codes(k1)  # (4**k1, k1)
    logw_pairs = np.zeros(len(km))
    for i in range(k1 - 1):
        a, b = km[:, i], km[:, i + 1]
        logw_pairs += np.where((a == 1) & (b == 2), np.log(cpg_oe), 0.0)
        logw_pairs += np.where((a == 3) & (b == 0), np.log(tpa_oe), 0.0)
        logw_pairs += np.where((a == b) & ((a == 0) | (a == 3)), np.log(1.08), 0.0)
    if noise is not None:
        logw_pairs = logw_pairs + noise
    # only the conditional P(last | context) matters; weight the last base by its GC-level probability
    tables, gcs = [], []
    for gc in np.atleast_1d(gc_levels):
        base_p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
        logw = logw_pairs + np.log(base_p)[km[:, -1]]
        w = np.exp(logw).reshape(4**order, 4)
        t = w / w.sum(axis=1, keepdims=True)
        tables.append(t)
        gcs.append(_stationary_gc(t, order))
    return np.array(tables), np.array(gcs)


def _stationary_gc(table: np.ndarray, order: int) -> float:
    pi = _stationary(table, order)
    last = np.arange(4**order) & 3
    return float(pi[(last == 1) | (last == 2)].sum())


def _pair_oe(table: np.ndarray, order: int) -> tuple[float, float]:
    """(CpG o/e, TpA o/e) of a table's stationary chain."""
    pi = _stationary(table, order)
    last = np.arange(4**order) & 3
    base = np.array([pi[last == b].sum() for b in range(4)])
    joint = pi[:, None] * table  # (ctx, next)
    cg = joint[last == 1, 2].sum() / (base[1] * base[2])
    ta = joint[last == 3, 0].sum() / (base[3] * base[0])
    return float(cg), float(ta)


def calibrated_factors(
    order: int, gc: float, cpg_oe: float, tpa_oe: float, noise=None
) -> tuple[float, float]:
    """CG / TA pair factors that make the chain's CpG and TpA observed/expected hit the targets at `gc`.

    Parameters
    ----------
    order
        Markov order.
    gc
        GC level the calibration is done at.
    cpg_oe, tpa_oe
        Target observed/expected ratios (also the starting factors).
    noise
        The species' k-mer perturbation, as in `markov_tables`.

    Returns
    -------
    tuple[float, float]
        ``(CG factor, TA factor)`` after six fixed-point iterations.
    """
    f_cg, f_ta = cpg_oe, tpa_oe
    for _ in range(6):
        t, _g = markov_tables(order, np.array([gc]), cpg_oe=f_cg, tpa_oe=f_ta, noise=noise)
        cg, ta = _pair_oe(t[0], order)
        f_cg *= cpg_oe / cg
        f_ta *= tpa_oe / ta
    return f_cg, f_ta


def _stationary(table: np.ndarray, order: int) -> np.ndarray:
    """Stationary distribution over contexts (power iteration on the dense context transition matrix)."""
    n = 4**order
    P = np.zeros((n, n))
    nxt = (np.arange(n)[:, None] * 4 + np.arange(4)[None, :]) % n
    np.add.at(P, (np.repeat(np.arange(n), 4), nxt.ravel()), table.ravel())
    pi = np.full(n, 1.0 / n)
    for _ in range(500):
        new = pi @ P
        if np.abs(new - pi).sum() < 1e-12:
            return new
        pi = new
    return pi


def generate_markov(
    table_index: np.ndarray, tables: np.ndarray, order: int, uniforms: np.ndarray, start_u: np.ndarray
) -> np.ndarray:
    """Generate blocks of a Markov chain in lock-step (vectorised across blocks).

    table_index: (n_blocks,) which table each block uses; uniforms: (n_blocks, BLOCK) in [0,1); start_u:
    (n_blocks,) uniform used to draw each block's first context from its table's stationary distribution.
    Returns (n_blocks, BLOCK) uint8 codes.

    Parameters
    ----------
    table_index, uniforms, start_u
        See above.
    tables
        ``(n_tables, 4**order, 4)`` transition tables (`markov_tables`).
    order
        Markov order of the tables.

    Returns
    -------
    numpy.ndarray
        See above.
    """
    n_blocks, length = uniforms.shape
    n_ctx = 4**order
    cum = np.cumsum(tables, axis=2)[:, :, :3].astype(np.float32)  # (n_tables, n_ctx, 3)
    stat_cum = np.cumsum(np.array([_stationary(t, order) for t in tables]), axis=1)
    uniq = np.unique(table_index)
    ctx = np.empty(n_blocks, dtype=np.int64)
    for t in uniq:
        sel = table_index == t
        ctx[sel] = np.minimum(np.searchsorted(stat_cum[t], start_u[sel]), n_ctx - 1)
    out = np.empty((n_blocks, length), dtype=np.uint8)
    first = _kmer_codes(order)[ctx]  # (n_blocks, order)
    out[:, :order] = first
    flat_cum = cum.reshape(-1, 3)
    base_row = table_index.astype(np.int64) * n_ctx
    for s in range(order, length):
        c = flat_cum[base_row + ctx]  # (n_blocks, 3)
        u = uniforms[:, s][:, None]
        b = (u > c).sum(axis=1)
        out[:, s] = b
        ctx = (ctx * 4 + b) % n_ctx
    return out


def background_genome(species_cfg, rng: np.random.Generator) -> Genome:
    """Markov background for one species (no repeats yet): isochores, CpG depletion and CpG islands.

    Parameters
    ----------
    species_cfg
        The species' config (chromosome sizes, Markov order, GC and CpG settings).
    rng
        Random stream.

    Returns
    -------
    Genome
        Chromosomes ``chr1``, ``chr2``, ... with empty masks; ``info['isochore_gc']`` per chromosome.
    """
    sc = species_cfg
    order = sc.markov_order
    noise = rng.normal(0.0, sc.composition_noise, 4 ** (order + 1)) if sc.composition_noise > 0 else None
    grid = np.round(np.arange(0.15, 0.80, 0.005), 3)
    f_cg, f_ta = calibrated_factors(order, sc.gc_mean, sc.cpg_oe, sc.tpa_oe, noise)
    tables, realised = markov_tables(order, grid, cpg_oe=f_cg, tpa_oe=f_ta, noise=noise)
    isl_tables, isl_gc = markov_tables(order, np.array([0.68]), cpg_oe=0.9, tpa_oe=0.9, noise=noise)
    all_tables = np.concatenate([tables, isl_tables])
    island_idx = len(tables)
    order_real = np.argsort(realised)
    real_sorted = realised[order_real]

    def table_for(gc: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(real_sorted, gc), 1, len(real_sorted) - 1)
        left = real_sorted[pos - 1]
        right = real_sorted[pos]
        pick = np.where(np.abs(gc - left) <= np.abs(gc - right), pos - 1, pos)
        return order_real[pick]

    chrom_rngs = rng.spawn(len(sc.chrom_sizes))
    idx_parts, u_parts, su_parts, block_gc = [], [], [], []
    n_blocks_per = []
    for size, crng in zip(sc.chrom_sizes, chrom_rngs, strict=True):
        nb = -(-size // BLOCK)
        n_blocks_per.append(nb)
        # isochores: runs of blocks with a shared GC level
        mean_blocks = max(1.0, sc.isochore_mean_kb * 1000 / BLOCK)
        gcs = np.empty(nb)
        i = 0
        while i < nb:
            run = int(crng.geometric(1.0 / mean_blocks))
            gcs[i : i + run] = sc.gc_mean + crng.normal(0, sc.gc_isochore_sd)
            i += run
        gcs = np.clip(gcs + crng.normal(0, sc.gc_local_sd, nb), 0.2, 0.75)
        tidx = table_for(gcs)
        n_isl = crng.poisson(sc.cpg_islands_per_mb * size / 1e6)
        if n_isl:
            tidx[crng.choice(nb, size=min(nb, n_isl), replace=False)] = island_idx
        idx_parts.append(tidx)
        block_gc.append(gcs)
        u_parts.append(crng.random((nb, BLOCK), dtype=np.float32))
        su_parts.append(crng.random(nb))
    blocks = generate_markov(
        np.concatenate(idx_parts), all_tables, order, np.concatenate(u_parts), np.concatenate(su_parts)
    )
    seqs, masks = {}, {}
    o = 0
    for ci, (size, nb) in enumerate(zip(sc.chrom_sizes, n_blocks_per, strict=True)):
        name = f"chr{ci + 1}"
        seqs[name] = np.ascontiguousarray(blocks[o : o + nb].ravel()[:size])
        masks[name] = np.zeros(size, dtype=bool)
        o += nb
    return Genome(sc.name, seqs, masks, info={"isochore_gc": [g.tolist() for g in block_gc]})


# ----------------------------------------------------------------------------------------------------------
# Repeats
# ----------------------------------------------------------------------------------------------------------


def make_consensus(fam, rng: np.random.Generator) -> np.ndarray:
    """A repeat family's consensus sequence (SINE: poly-A tail; DNA: terminal inverted repeats).

    Parameters
    ----------
    fam
        The repeat family config (kind, length, GC; ``unit`` for simple repeats).
    rng
        Random stream.

    Returns
    -------
    numpy.ndarray
        uint8 codes (a simple repeat's unit, default ``CA``).
    """
    if fam.kind == "simple":
        return encode((fam.unit or "CA").upper())
    p = np.array([(1 - fam.gc) / 2, fam.gc / 2, fam.gc / 2, (1 - fam.gc) / 2])
    cons = rng.choice(4, size=fam.length, p=p).astype(np.uint8)
    if fam.kind == "SINE" and fam.length > 60:
        tail = min(30, fam.length // 8)
        cons[-tail:] = 0
    if fam.kind == "DNA" and fam.length > 100:
        tir = min(30, fam.length // 10)
        cons[-tir:] = reverse_complement_codes(cons[:tir])
    return cons


def _copy_of(fam, cons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    L = len(cons)
    if fam.kind == "simple":
        n = int(rng.integers(20, 200))
        seq = np.resize(cons, n)
    elif fam.kind == "LINE":
        n = int(min(L, 80 + rng.exponential(900)))  # 5'-truncated copies
        seq = cons[L - n :].copy()
    elif fam.kind == "DNA":
        n = int(L * rng.uniform(0.4, 1.0))
        seq = np.concatenate([cons[: n // 2], cons[L - (n - n // 2) :]])
    else:  # SINE: mostly full length
        n = int(L * rng.uniform(0.75, 1.0))
        seq = cons[L - n :].copy()
    mut = rng.random(len(seq)) < fam.divergence
    if mut.any():
        seq[mut] = (seq[mut] + rng.integers(1, 4, int(mut.sum()))) % 4
    # CpG decay: methylated CpGs in repeat copies mutate ~10x faster (CG -> TG or CA)
    cg = np.flatnonzero((seq[:-1] == 1) & (seq[1:] == 2))
    if len(cg):
        hit = cg[rng.random(len(cg)) < min(0.9, 8 * fam.divergence)]
        if len(hit):
            to_tg = rng.random(len(hit)) < 0.5
            seq[hit[to_tg]] = 3
            seq[hit[~to_tg] + 1] = 0
    if rng.random() < 0.5:
        seq = reverse_complement_codes(seq)
    return seq.astype(np.uint8)


def plant_consensus_motifs(cons: np.ndarray, motif, per_kb: float, similarity: float,
                           rng: np.random.Generator) -> list[tuple[int, str]]:
    """Write motif copies into a repeat consensus (in place): the decoys of a species-shift family.

    ``max(1, round(len * per_kb / 1000))`` sites of affinity near `similarity` (`binding.sample_sites`) are
    spread evenly over the consensus (a SINE's poly-A tail is left alone), each on a random strand; copies of
    the consensus then carry them with the family's divergence, so some fall below the motif threshold.

    Parameters
    ----------
    cons
        Consensus codes, changed in place.
    motif
        The TF's `binding.SiteMotif`.
    per_kb, similarity
        Sites per kb of consensus; target affinity in [0, 1].
    rng
        Random stream (its own, so families without decoys are unchanged).

    Returns
    -------
    list of (int, str)
        Start and strand of each site written (fewer when the consensus is too short for all).
    """
    from bindscape.simulate.binding import sample_sites

    w = motif.width
    usable = len(cons) - w
    n = max(1, int(round(len(cons) * per_kb / 1000)))
    n = min(n, max(0, (usable + 1) // (w + 2)))
    if n == 0:
        return []
    sites = sample_sites(motif, n, rng, np.full(n, similarity))
    slot = usable / n
    out = []
    for k in range(n):
        pos = int(k * slot + rng.integers(0, max(1, int(slot) - w) + 1))
        pos = min(pos, usable)
        strand = "+" if rng.random() < 0.5 else "-"
        cons[pos : pos + w] = sites[k] if strand == "+" else reverse_complement_codes(sites[k])
        out.append((pos, strand))
    return out


def add_repeats(genome: Genome, species_cfg, rng: np.random.Generator, motifs: dict | None = None) -> dict:
    """Insert mutated copies of the species' repeat families (replacing background) and soft-mask them.

    Returns per-family statistics (copies, bases); each copy is appended to ``genome.repeats``. A family
    with ``decoy_tf`` (species shift) gets motif copies of that TF in its consensus (`plant_consensus_motifs`,
    from a separate random stream, so every other family and every copy position stay the same) and
    ``decoy_sites`` in its statistics; `motifs` (TF name -> `SiteMotif`) is needed then.

    Parameters
    ----------
    genome
        The background genome, changed in place (sequences, masks, repeats).
    species_cfg
        The species' config (``repeat_fraction``, ``repeats`` families and shares).
    rng
        Random stream.
    motifs
        TF name -> `SiteMotif`, for families with ``decoy_tf`` (None: no such family allowed).

    Returns
    -------
    dict
        Family name -> ``{"kind", "copies", "bases"}`` (+ ``decoy_sites``; empty without repeats).
    """
    sc = species_cfg
    stats: dict[str, dict] = {}
    if sc.repeat_fraction <= 0 or not sc.repeats:
        return stats
    names = list(genome.seqs)
    sizes = np.array([len(genome.seqs[c]) for c in names])
    total = int(sizes.sum())
    ends = np.cumsum(sizes)
    shares = np.array([f.share for f in sc.repeats], dtype=float)
    shares /= shares.sum()
    cons_rng, place_rng = rng.spawn(2)
    decoy_rng = rng.spawn(1)[0] if any(f.decoy_tf for f in sc.repeats) else None  # a third, later stream
    for fam, share in zip(sc.repeats, shares, strict=True):
        cons = make_consensus(fam, cons_rng)
        decoy_sites = None
        if fam.decoy_tf:
            if motifs is None or fam.decoy_tf not in motifs:
                raise ValueError(f"repeat family {fam.name}: no motif given for decoy_tf {fam.decoy_tf}")
            decoy_sites = plant_consensus_motifs(cons, motifs[fam.decoy_tf], fam.decoy_per_kb,
                                                 fam.decoy_similarity, decoy_rng)
        target = share * sc.repeat_fraction * total
        placed = copies = tries = 0
        while placed < target and tries < 200_000:
            tries += 1
            seq = _copy_of(fam, cons, place_rng)
            flat = int(place_rng.integers(0, total))
            ci = int(np.searchsorted(ends, flat, side="right"))
            size = sizes[ci]
            pos = flat - (ends[ci] - size)
            if pos + len(seq) > size:
                continue
            m = genome.masks[names[ci]]
            if m[pos : pos + len(seq)].any():
                continue
            genome.seqs[names[ci]][pos : pos + len(seq)] = seq
            m[pos : pos + len(seq)] = True
            genome.repeats.append((names[ci], int(pos), int(pos + len(seq)), fam.name))
            placed += len(seq)
            copies += 1
        stats[fam.name] = {"kind": fam.kind, "copies": copies, "bases": int(placed)}
        if decoy_sites is not None:
            stats[fam.name].update(decoy_tf=fam.decoy_tf, decoy_sites=len(decoy_sites))
    return stats


def simulate_genome(species_cfg, rng: np.random.Generator, motifs: dict | None = None) -> Genome:
    """Background + repeats for one species (deterministic given `rng`).

    Parameters
    ----------
    species_cfg
        The species' config.
    rng
        Random stream (split into background and repeat streams).
    motifs
        TF name -> `SiteMotif` for repeat families with ``decoy_tf`` (see `add_repeats`).

    Returns
    -------
    Genome
        With the repeat statistics in ``info['repeats']``.
    """
    g_rng, r_rng = rng.spawn(2)
    genome = background_genome(species_cfg, g_rng)
    genome.info["repeats"] = add_repeats(genome, species_cfg, r_rng, motifs)
    return genome


# ----------------------------------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------------------------------

_LUT = np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)


def fasta_bytes(codes: np.ndarray, mask: np.ndarray | None, width: int = 60) -> bytes:
    """Sequence lines (soft-masked lower case) with a newline every `width` characters.

    Parameters
    ----------
    codes
        uint8 codes of one chromosome.
    mask
        True where the base is written lower case (None: all upper case).
    width
        Bases per line.

    Returns
    -------
    bytes
        ASCII lines, the last one newline-terminated too (no header).
    """
    idx = codes.astype(np.uint8, copy=True)
    if mask is not None:
        idx = idx + 5 * mask.astype(np.uint8)
    arr = _LUT[idx]
    n_full = len(arr) // width
    body = np.empty((n_full, width + 1), dtype=np.uint8)
    body[:, :width] = arr[: n_full * width].reshape(n_full, width)
    body[:, width] = ord("\n")
    out = body.tobytes()
    rest = arr[n_full * width :]
    if len(rest):
        out += rest.tobytes() + b"\n"
    return out


def write_fasta_gz(
    path: str | os.PathLike, genome: Genome, *, width: int = 60, compresslevel: int = 2
) -> None:
    """Write a soft-masked, gzip-compressed FASTA atomically and reproducibly (no name/mtime in the header).

    Parameters
    ----------
    path
        Output file.
    genome
        The genome (chromosomes in order, their masks).
    width
        Bases per line.
    compresslevel
        gzip level (1-9).
    """
    with atomic_path(path) as tmp:
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0) as gz,
        ):
            for chrom, codes in genome.seqs.items():
                gz.write(f">{chrom}\n".encode())
                gz.write(fasta_bytes(codes, genome.masks.get(chrom), width))


def write_chrom_sizes(path: str | os.PathLike, genome: Genome) -> None:
    """Write the ``chrom<TAB>size`` lines of `genome` to `path`, atomically."""
    from bindscape._util import atomic_write_text

    atomic_write_text(path, "".join(f"{c}\t{n}\n" for c, n in genome.chrom_sizes.items()))

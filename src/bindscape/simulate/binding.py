"""Binding with known truth: site sampling and planting, accessibility, binding rules, peaks.

Everything works on uint8 code arrays (A=0, C=1, G=2, T=3, N=4), so the same functions plant binding into a
synthetic background or into a real genome. Motifs come from `bindscape.motifs` (JASPAR matrices, exact
p-value thresholds, window scores) and reverse complements from `bindscape.io.genome`; this module adds
the simulator's site model on top. The reusable pieces are plain functions:

- `load_site_motif(name, jaspar_id)` -> `SiteMotif` (probabilities, log-odds, p-value threshold)
- `sample_site(motif_or_pwm, rng, affinity=None)` / `sample_sites(motif, n, rng, affinities)`
- `plant_motif(seq_codes, pwm, pos, strand, rng)` writes one sampled instance in place
- `make_groups(...)` / `plant_groups(...)` sample site groups and write them into a `Flat` genome
- `make_accessibility(...)`, `place_lineage_domains(...)`, `assign_binding(...)`, `call_chip_peaks(...)`,
  `atac_peaks(...)`
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError
from bindscape.io.genome import reverse_complement_codes
from bindscape.motifs.load import UNIFORM, Motif, load_jaspar
from bindscape.motifs.scan import score_threshold, window_scores

SPACER = 1000  # N bases between chromosomes in the flat coordinate space used internally
SITE_PSEUDOCOUNT = 0.04  # in frequency units: probabilities (f + 0.01) / 1.04
SITE_BIN = 0.01  # score bin (bits) of the exact p-value threshold of planted sites
N_SCORE = -10.0  # score of an N base: no site overlaps an N


# ----------------------------------------------------------------------------------------------------------
# Motifs
# ----------------------------------------------------------------------------------------------------------


@dataclass
class SiteMotif:
    """A JASPAR motif (`bindscape.motifs.Motif`) as the simulator samples, scores and plants its sites.

    `probs` and `logodds` carry the site pseudocount; `threshold` is the log-odds score at the planted
    sites' p-value (exact, uniform background, bins of `SITE_BIN` bits); `affinity` rescales scores to [0, 1].
    """

    name: str
    jaspar_id: str
    probs: np.ndarray  # (4, w)
    logodds: np.ndarray  # (4, w) log2(p / 0.25)
    threshold: float  # log-odds score at the configured p-value
    max_score: float
    pvalue: float
    motif: Motif | None = None  # the JASPAR matrix it was made from

    @property
    def width(self) -> int:
        """Motif width (bp)."""
        return self.probs.shape[1]

    def score(self, site: np.ndarray) -> float:
        """Log-odds score of a + strand site (codes).

        Parameters
        ----------
        site
            ``(w,)`` uint8 codes.

        Returns
        -------
        float
            Bits.
        """
        return float(self.scores(site[None, :])[0])

    def scores(self, sites: np.ndarray) -> np.ndarray:
        """Scores of (n, w) code arrays (N scores -10 bits).

        Parameters
        ----------
        sites
            ``(n, w)`` uint8 codes, + strand.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` log-odds scores in bits.
        """
        lo = np.concatenate([self.logodds, np.full((1, self.width), N_SCORE)])
        return lo[sites, np.arange(self.width)[None, :]].sum(axis=1)

    def affinity(self, score) -> np.ndarray:
        """Score scaled to [0, 1]: 0 at the p-value threshold, 1 at the best possible site.

        Parameters
        ----------
        score
            Log-odds score(s) in bits (clipped to the range).

        Returns
        -------
        numpy.ndarray
            Same shape as `score`.
        """
        return np.clip((np.asarray(score) - self.threshold) / (self.max_score - self.threshold), 0.0, 1.0)


def load_site_motif(name: str, jaspar_id: str, pvalue: float = 5e-5) -> SiteMotif:
    """The simulator's view of a JASPAR 2024 matrix: pseudocounted probabilities, log-odds, site threshold.

    Parameters
    ----------
    name
        The TF name used in outputs.
    jaspar_id
        A JASPAR matrix ID (``MA0139.1``), looked up offline with `bindscape.motifs.load_jaspar`.
    pvalue
        Planted sites score at p-values at most this.

    Returns
    -------
    SiteMotif
        Raises `ConfigError` when the ID is unknown or the motif is too short for sites at `pvalue`.
    """
    try:
        motif = load_jaspar(jaspar_id, release=2024)
    except InputError as exc:
        raise ConfigError(f"TF {name}: JASPAR matrix {jaspar_id!r}: {exc.message}", hint=exc.hint) from None
    probs = motif.to_ppm(SITE_PSEUDOCOUNT, relative=True)
    lo = np.log2(probs / UNIFORM[:, None])
    thr = score_threshold(lo, pvalue, bin_size=SITE_BIN, inclusive=True, clamp=True)
    mx = float(lo.max(axis=0).sum())
    if thr >= mx - 1e-6:
        raise ConfigError(f"motif {name} ({jaspar_id}) is too short for sites at p < {pvalue:g}")
    return SiteMotif(name, jaspar_id, probs, lo, thr, mx, pvalue, motif)


def scan(codes: np.ndarray, motif: SiteMotif) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds scores (float32) of every window on both strands: (plus (n,), minus (n,)), n = len - w + 1.

    Parameters
    ----------
    codes
        ``(len,)`` uint8 codes; windows with an N score -10 bits per N.
    motif
        The motif.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        Scores of the motif and of its reverse complement at each window start.
    """
    plus = window_scores(codes, motif.logodds, n_score=N_SCORE, dtype=np.float32)
    minus = window_scores(codes, motif.logodds[::-1, ::-1], n_score=N_SCORE, dtype=np.float32)
    return plus, minus


# ----------------------------------------------------------------------------------------------------------
# Sampling and planting
# ----------------------------------------------------------------------------------------------------------

_TEMPS = np.concatenate([np.linspace(1.0, 0.35, 40), np.linspace(0.3, 0.05, 24)])


def sample_sites(motif: SiteMotif, n: int, rng: np.random.Generator, affinities=None) -> np.ndarray:
    """(n, w) + strand site codes drawn from the PWM (tempered), all scoring above the motif threshold.

    `affinities` (n,) in [0, 1] are targets: for each site, 64 candidates drawn at temperatures from 1 (the
    PWM itself) to 0.05 (near consensus) are scored and the above-threshold one closest to the target wins.
    Without targets, a site is the first above-threshold draw at temperature 1 (falling back to colder).

    Parameters
    ----------
    motif
        The motif.
    n
        Number of sites.
    rng
        Random stream.
    affinities
        See above (None: no targets).

    Returns
    -------
    numpy.ndarray
        ``(n, w)`` uint8 codes (the consensus where no candidate passed).
    """
    w = motif.width
    if n == 0:
        return np.zeros((0, w), dtype=np.uint8)
    q = motif.probs[None, :, :] ** (1.0 / _TEMPS[:, None, None])  # (K, 4, w)
    q = q / q.sum(axis=1, keepdims=True)
    cum = np.cumsum(q, axis=1)[:, :3, :]  # (K, 3, w)
    K = len(_TEMPS)
    u = rng.random((n, K, w), dtype=np.float32)
    cand = (u[:, :, None, :] > cum[None, :, :, :]).sum(axis=2).astype(np.uint8)  # (n, K, w)
    sc = motif.scores(cand.reshape(-1, w)).reshape(n, K)
    ok = sc >= motif.threshold
    aff = motif.affinity(sc)
    if affinities is None:
        pick = np.where(ok.any(axis=1), ok.argmax(axis=1), K - 1)
    else:
        dist = np.abs(aff - np.asarray(affinities)[:, None])
        dist[~ok] = np.inf
        pick = dist.argmin(axis=1)
    sites = cand[np.arange(n), pick]
    bad = ~ok[np.arange(n), pick]
    if bad.any():  # fall back to the consensus (always above threshold)
        sites[bad] = motif.probs.argmax(axis=0)
    return sites


def sample_site(pwm, rng: np.random.Generator, affinity: float | None = None) -> np.ndarray:
    """One site (+ strand codes). `pwm` is a `SiteMotif` (above-threshold, near `affinity`) or a (4, w)
    probability matrix (a plain draw, no threshold).

    Parameters
    ----------
    pwm
        See above (matrix columns are normalised).
    rng
        Random stream.
    affinity
        Target affinity in [0, 1] for a `SiteMotif` (None: none; ignored for a matrix).

    Returns
    -------
    numpy.ndarray
        ``(w,)`` uint8 codes.
    """
    if isinstance(pwm, SiteMotif):
        return sample_sites(pwm, 1, rng, None if affinity is None else [affinity])[0]
    p = np.asarray(pwm, dtype=float)
    p = p / p.sum(axis=0, keepdims=True)
    u = rng.random(p.shape[1])
    return (u[None, :] > np.cumsum(p, axis=0)[:3]).sum(axis=0).astype(np.uint8)


def plant_motif(
    seq_codes: np.ndarray, pwm, pos: int, strand: str, rng: np.random.Generator, affinity: float | None = None
) -> np.ndarray:
    """Write a sampled instance of `pwm` at seq_codes[pos:pos+w] (reverse complement for strand '-').

    Returns the + strand site codes that were sampled.

    Parameters
    ----------
    seq_codes
        uint8 codes, changed in place.
    pwm
        A `SiteMotif` or (4, w) probability matrix (see `sample_site`).
    pos
        0-based start of the instance.
    strand
        ``+`` or ``-``.
    rng
        Random stream.
    affinity
        Target affinity for a `SiteMotif` (None: none).

    Returns
    -------
    numpy.ndarray
        ``(w,)`` uint8 codes.
    """
    site = sample_site(pwm, rng, affinity)
    seq_codes[pos : pos + len(site)] = site if strand == "+" else reverse_complement_codes(site)
    return site


def degrade_site(motif: SiteMotif, site: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mutate the most informative positions until the site scores below threshold (site turnover).

    Parameters
    ----------
    motif
        The site's motif.
    site
        ``(w,)`` + strand codes (not changed).
    rng
        Random stream (jitters the order of positions).

    Returns
    -------
    numpy.ndarray
        A mutated copy: at least two positions set to their least likely base, scoring more than 2 bits
        below the threshold (or every position mutated).
    """
    site = site.copy()
    ic = (motif.probs * np.log2(motif.probs / 0.25)).sum(axis=0)
    order = np.argsort(-ic + rng.normal(0, 0.05, len(ic)))
    worst = motif.probs.argmin(axis=0)
    for k, j in enumerate(order):
        site[j] = worst[j]
        if k >= 1 and motif.score(site) < motif.threshold - 2.0:
            break
    return site


# ----------------------------------------------------------------------------------------------------------
# Flat coordinates
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Flat:
    """All chromosomes concatenated with SPACER Ns between them (internal coordinate system)."""

    names: list[str]
    offsets: np.ndarray  # start of each chrom in flat coords
    sizes: np.ndarray
    codes: np.ndarray

    @classmethod
    def from_seqs(cls, seqs: dict[str, np.ndarray]) -> Flat:
        """Concatenate chromosomes (a SPACER of N after each).

        Parameters
        ----------
        seqs
            Chromosome -> uint8 codes, in the order to lay them out.

        Returns
        -------
        Flat
        """
        names = list(seqs)
        sizes = np.array([len(seqs[c]) for c in names], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes + SPACER)[:-1]]).astype(np.int64)
        codes = np.full(int(sizes.sum() + SPACER * len(names)), 4, dtype=np.uint8)
        for c, o, s in zip(names, offsets, sizes, strict=True):
            codes[o : o + s] = seqs[c]
        return cls(names, offsets, sizes, codes)

    def to_seqs(self) -> dict[str, np.ndarray]:
        """Chromosome -> uint8 codes (copies), the inverse of `from_seqs`."""
        return {
            c: self.codes[o : o + s].copy()
            for c, o, s in zip(self.names, self.offsets, self.sizes, strict=True)
        }

    def locate(self, flat_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """flat positions -> (chrom index, position in chrom).

        Parameters
        ----------
        flat_pos
            Positions in flat coordinates.

        Returns
        -------
        tuple[numpy.ndarray, numpy.ndarray]
            Index into `names`, and the 0-based position on that chromosome.
        """
        ci = np.searchsorted(self.offsets, flat_pos, side="right") - 1
        return ci, flat_pos - self.offsets[ci]

    def valid_mask(self) -> np.ndarray:
        """True on chromosome bases, False on the spacers."""
        m = np.zeros(len(self.codes), dtype=bool)
        for o, s in zip(self.offsets, self.sizes, strict=True):
            m[o : o + s] = True
        return m


# ----------------------------------------------------------------------------------------------------------
# Accessibility
# ----------------------------------------------------------------------------------------------------------


def _domain_length(acfg, r: np.random.Generator) -> int:
    return int(
        np.clip(
            r.lognormal(np.log(acfg.domain_median), acfg.domain_sigma),
            acfg.domain_min,
            acfg.domain_max,
        )
    )


def make_accessibility(
    flat: Flat, cells, acfg, rng: np.random.Generator, *, with_shared: bool = False
) -> dict[str, np.ndarray] | tuple[dict[str, np.ndarray], np.ndarray]:
    """Per cell type, accessible domains as (k, 2) arrays of flat [start, end), non-overlapping, sorted.

    A shared set (``shared_fraction`` of the smallest cell's open bases) is open in every cell; each cell
    adds its own domains until its ``accessible_fraction`` is reached. ``with_shared=True`` also returns the
    shared domains ((k, 2), sorted).

    Parameters
    ----------
    flat
        The genome in flat coordinates (domains avoid the spacers).
    cells
        Cell-type configs (``name``, ``accessible_fraction``).
    acfg
        The ``accessibility`` config (domain length distribution, ``shared_fraction``).
    rng
        Random stream (split into a shared stream and one per cell).
    with_shared
        Also return the shared domains.

    Returns
    -------
    dict[str, numpy.ndarray] or tuple[dict[str, numpy.ndarray], numpy.ndarray]
        Cell name -> domains, and optionally the shared domains.
    """
    valid = flat.valid_mask()
    genome_size = int(flat.sizes.sum())

    def draw(target_bases: float, occupied: np.ndarray, r: np.random.Generator) -> list[tuple[int, int]]:
        out, placed, tries = [], 0, 0
        while placed < target_bases and tries < 100_000:
            tries += 1
            ln = _domain_length(acfg, r)
            s = int(r.integers(0, len(valid) - ln))
            if not valid[s] or not valid[s + ln - 1] or occupied[s : s + ln].any():
                continue
            occupied[s : s + ln] = True
            out.append((s, s + ln))
            placed += ln
        return out

    shared_rng, *cell_rngs = rng.spawn(1 + len(cells))
    min_frac = min(c.accessible_fraction for c in cells)
    shared_occ = np.zeros(len(valid), dtype=bool)
    shared = draw(acfg.shared_fraction * min_frac * genome_size, shared_occ, shared_rng)
    out = {}
    for cell, r in zip(cells, cell_rngs, strict=True):
        occ = shared_occ.copy()
        extra_target = max(0.0, cell.accessible_fraction * genome_size - shared_occ.sum())
        doms = shared + draw(extra_target, occ, r)
        arr = np.array(sorted(doms), dtype=np.int64).reshape(-1, 2)
        out[cell.name] = arr
    if with_shared:
        return out, np.array(sorted(shared), dtype=np.int64).reshape(-1, 2)
    return out


LINEAGE_ORIGINS = ("planted", "cluster", "partner")  # functional planted instances (not decoys / turnover)


def place_lineage_domains(
    flat: Flat,
    access: dict[str, np.ndarray],
    groups: list,
    cells,
    acfg,
    rng: np.random.Generator,
    shared: np.ndarray | None = None,
    *,
    degrade: set[str] | None = None,
    pad: int = 10,
) -> tuple[dict[str, np.ndarray], dict[int, int]]:
    """Lineage TFs open chromatin in their cell type (``cells.<c>.opened_by``; opt-in).

    Runs before any site is planted. For each cell with ``opened_by`` (config order, one random stream per
    cell), a random ``opened_fraction`` of its cell-specific (non-shared) accessible bases is removed (whole
    domains, in random order) and as many bases are added back as new domains, each at a random free position
    with a site group of an ``opened_by`` TF (not a decoy, not turned over) fixed at its centre; stronger
    groups are used first (Gumbel-perturbed affinity order) and a group opens at most one cell's domain.
    Domain lengths follow the accessibility config, or are ``opened_length`` when given. The cell's accessible
    fraction is kept (unless the TFs have too few groups). Because the domains exist before planting,
    ``binding.open_bias`` places other TFs' sites into them as into any accessible DNA: sites of every TF
    gather around lineage sites in that cell type, as in cell-type-specific enhancers. Cells without
    ``opened_by`` keep their domains exactly.

    Returns (accessibility per cell, {group index: start position}) for `plant_groups(fixed=...)`. `shared`
    are the domains common to all cells (default: those present in every cell when there are >= 2 cells).

    Parameters
    ----------
    flat, access, groups
        The genome in flat coordinates; cell name -> accessible domains (`make_accessibility`; not changed);
        the site groups (`make_groups`).
    cells, acfg
        Cell-type configs (``opened_by``, ``opened_fraction``, ``opened_length``); the ``accessibility``
        config.
    rng
        Random stream (one child stream per cell).
    degrade, pad
        Turned-over group ids (never used to open a domain); free bases kept on each side of a fixed group.
    """
    degrade = degrade or set()
    valid = flat.valid_mask()
    n = len(flat.codes)
    if shared is None:
        if len(cells) >= 2:
            common = set.intersection(*(set(map(tuple, access[c.name].tolist())) for c in cells))
        else:
            common = set()
        shared = np.array(sorted(common), dtype=np.int64).reshape(-1, 2)
    shared_set = set(map(tuple, shared.tolist()))
    cell_rngs = rng.spawn(len(cells))  # one stream per cell (in config order): cells do not affect each other
    out = dict(access)
    taken = flat.codes == 4  # bases (plus pad) used by fixed groups, shared by all cells
    fixed: dict[int, int] = {}
    for cell, r in zip(cells, cell_rngs, strict=True):
        if not cell.opened_by:
            continue
        kept, removed = _drop_specific_domains(access[cell.name], shared_set, cell.opened_fraction, r)
        occupied = domains_mask(kept, n) if len(kept) else np.zeros(n, dtype=bool)
        cand, anchor, aff = _lineage_candidates(groups, cell.opened_by, fixed, degrade)
        order = np.argsort(-(np.log(0.05 + aff) + r.gumbel(size=len(aff))), kind="stable")
        new, added = [], 0
        for k in order.tolist():
            if added >= removed:
                break
            gi = cand[k]
            ln = cell.opened_length or _domain_length(acfg, r)
            dom = _place_lineage_domain(ln, anchor[k], groups[gi].span, valid, occupied, taken, pad, r)
            if dom is not None:
                fixed[gi] = dom[0] + ln // 2 - anchor[k]
                new.append(dom)
                added += ln
        alldoms = np.concatenate([kept, np.array(new, dtype=np.int64).reshape(-1, 2)])
        out[cell.name] = alldoms[np.argsort(alldoms[:, 0], kind="stable")]
    return out, fixed


def _drop_specific_domains(doms: np.ndarray, shared_set: set, fraction: float,
                           r: np.random.Generator) -> tuple[np.ndarray, int]:
    """Remove whole cell-specific domains in random order until `fraction` of their bases are gone.

    Returns (kept domains: shared first, then the remaining specific ones; bases removed)."""
    is_shared = np.array([tuple(d) in shared_set for d in doms.tolist()], dtype=bool)
    specific = doms[~is_shared]
    target = fraction * float((specific[:, 1] - specific[:, 0]).sum())
    removed, drop = 0, np.zeros(len(specific), dtype=bool)
    for i in r.permutation(len(specific)):
        if removed >= target:
            break
        drop[i] = True
        removed += int(specific[i, 1] - specific[i, 0])
    return np.concatenate([doms[is_shared], specific[~drop]]), removed


def _lineage_candidates(groups: list, tfs: list[str], fixed: dict[int, int],
                        degrade: set[str]) -> tuple[list[int], list[int], np.ndarray]:
    """Groups that can open a domain for `tfs`: (group indices, anchor offset, affinity of the best site)."""
    cand, anchor, aff = [], [], []
    for gi, g in enumerate(groups):
        if gi in fixed or g.gid in degrade:
            continue
        mem = [m for m in g.members if m.tf in tfs and m.origin in LINEAGE_ORIGINS]
        if mem:
            best = max(mem, key=lambda m: m.affinity)
            cand.append(gi)
            anchor.append(best.offset + len(best.site) // 2)
            aff.append(best.affinity)
    return cand, anchor, np.asarray(aff, dtype=float)


def _place_lineage_domain(ln: int, anchor: int, span: int, valid: np.ndarray, occupied: np.ndarray,
                          taken: np.ndarray, pad: int, r: np.random.Generator) -> tuple[int, int] | None:
    """A free domain of `ln` bp with a group (`span` bp, anchored at its centre) inside; None after 50 tries.

    Marks the domain in `occupied` and the group (plus `pad`) in `taken`."""
    n = len(valid)
    for _attempt in range(50):
        ds = int(r.integers(0, n - ln))
        gs = ds + ln // 2 - anchor
        if gs - pad < 0 or gs + span + pad >= n or not (valid[ds] and valid[ds + ln - 1]):
            continue
        if occupied[ds : ds + ln].any() or taken[gs - pad : gs + span + pad].any():
            continue
        occupied[ds : ds + ln] = True
        taken[gs - pad : gs + span + pad] = True
        return ds, ds + ln
    return None


def domains_mask(domains: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the positions covered by any domain.

    Parameters
    ----------
    domains
        ``(k, 2)`` half-open [start, end) intervals (may overlap).
    n
        Length of the mask (ends up to `n`).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` bool.
    """
    d = np.zeros(n + 1, dtype=np.int32)
    np.add.at(d, domains[:, 0], 1)
    np.add.at(d, domains[:, 1], -1)
    return np.cumsum(d[:-1]) > 0


# ----------------------------------------------------------------------------------------------------------
# Site groups (catalogue) and planting
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Member:
    tf: str
    offset: int  # relative to the group start
    site: np.ndarray  # + strand codes of the motif
    strand: str
    origin: str  # planted | cluster | partner | decoy
    affinity: float
    log_odds: float
    site_id: str
    cluster_id: int


@dataclass
class Group:
    gid: str
    members: list[Member]

    @property
    def span(self) -> int:
        """Bases from the group start to the end of its last member."""
        return max(m.offset + len(m.site) for m in self.members)


def make_groups(
    motifs: dict[str, SiteMotif], cfg, n_per_tf: dict[str, int], rng: np.random.Generator, prefix: str = "g"
) -> list[Group]:
    """Sample site groups: single sites, homotypic clusters, sites with a partner motif at a preferred
    spacing, and decoys. Sequences and affinities are fixed here; positions are chosen by `plant_groups`.

    Parameters
    ----------
    motifs
        TF name -> `SiteMotif`.
    cfg
        The simulator config (``binding`` and the TFs' partner rules).
    n_per_tf
        TF name -> number of sites to sample (partner sites come on top).
    rng
        The random stream (per TF: group kinds, then affinities, sites and strands, then each group's
        spacing and partner).
    prefix
        Group id prefix; ids are ``<prefix>00000``, ``<prefix>00001``, ...

    Returns
    -------
    list of Group
    """
    bcfg = cfg.binding
    tfcfg = {t.name: t for t in cfg.tfs}
    groups: list[Group] = []
    for tf, n_target in n_per_tf.items():
        t = tfcfg[tf]
        motif = motifs[tf]
        plans = _plan_groups(bcfg, n_target, rng)
        n_sites = sum(k for _, k in plans)
        affs = rng.beta(*bcfg.affinity_beta, n_sites)
        sites = sample_sites(motif, n_sites, rng, affs)
        scores = motif.scores(sites)
        affs = motif.affinity(scores)
        strands = np.where(rng.random(n_sites) < 0.5, "+", "-")
        i = 0
        for kind, k in plans:
            gnum = len(groups)
            gid = f"{prefix}{gnum:05d}"
            origin = {"decoy": "decoy", "cluster": "cluster"}.get(kind, "planted")
            members = []
            off = 0
            for m in range(k):
                if m > 0:
                    off += motif.width + int(rng.integers(5, max(6, bcfg.cluster_span // k)))
                cluster_id = gnum if kind == "cluster" else -1
                members.append(Member(tf, off, sites[i], str(strands[i]), origin, float(affs[i]), float(scores[i]),
                                      f"{gid}.{m}", cluster_id))
                i += 1
            if kind != "decoy" and t.partner and rng.random() < t.partner_fraction:
                _add_partner(members, t, motif.width, motifs[t.partner], gid, bcfg.affinity_beta, rng)
            groups.append(Group(gid, members))
    return groups


def _plan_groups(bcfg, n_target: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """Group kinds and sizes, (kind, n sites), drawn until `n_target` sites are planned."""
    plans = []
    made = 0
    while made < n_target:
        u = rng.random()
        if u < bcfg.decoy_fraction:
            plans.append(("decoy", 1))
            made += 1
        elif u < bcfg.decoy_fraction + bcfg.cluster_fraction:
            k = int(rng.integers(bcfg.cluster_size[0], bcfg.cluster_size[1] + 1))
            plans.append(("cluster", k))
            made += k
        else:
            plans.append(("single", 1))
            made += 1
    return plans


def _add_partner(members: list[Member], t, w: int, pm: SiteMotif, gid: str, beta, rng: np.random.Generator) -> None:
    """Add a partner site at the TF's preferred spacing, downstream of the group or upstream (shifting it)."""
    psite = sample_sites(pm, 1, rng, rng.beta(*beta, 1))[0]
    pscore = pm.score(psite)
    gap = max(0, t.partner_spacing + int(rng.integers(-t.partner_jitter, t.partner_jitter + 1)))
    pstrand = "+" if rng.random() < 0.5 else "-"
    partner = Member(t.partner, 0, psite, pstrand, "partner", float(pm.affinity(pscore)), pscore, f"{gid}.p", -1)
    if rng.random() < 0.5:  # downstream of the first site; of the last one for clusters (kept intact)
        partner.offset = members[-1].offset + w + gap
        members.append(partner)
    else:  # upstream: shift everything right
        for mem in members:
            mem.offset += pm.width + gap
        members.insert(0, partner)


def plant_groups(
    flat: Flat,
    groups: list[Group],
    motifs: dict[str, SiteMotif],
    rng: np.random.Generator,
    *,
    open_mask: np.ndarray | None = None,
    open_bias: float = 0.0,
    degrade: set[str] | None = None,
    pad: int = 10,
    species: str = "sim",
    fixed: dict[int, int] | None = None,
) -> pd.DataFrame:
    """Place every group at a free position (no overlap, no N), write its sequences into flat.codes.

    A share `open_bias` of the groups is placed inside `open_mask` (accessible somewhere). Groups whose gid is
    in `degrade` are planted with each site mutated below threshold (turnover). `fixed` maps group indices to
    start positions chosen beforehand (lineage domains); those are planted there first. Returns the instances.

    `flat`: the genome in flat coordinates, its codes changed in place; `groups` (`make_groups`) are placed
    in random order, a group without a free position after 200 tries is skipped; `motifs`: TF name ->
    `SiteMotif` (for degrading sites); `open_mask` / `open_bias` None / 0: no bias; `pad`: free bases kept on
    each side of a group (no other group, no N); `species` is not used in placement; a `fixed` position that
    is not free is an error.

    Returns one row per planted site: ``tf, fstart, fend, strand, origin, affinity, log_odds, site_id,
    cluster_id`` (flat coordinates).
    """
    degrade = degrade or set()
    valid = flat.codes != 4
    occupied = ~valid
    open_idx = np.flatnonzero(open_mask & valid) if open_mask is not None and open_bias > 0 else None
    order = rng.permutation(len(groups))
    rows = []
    n = len(flat.codes)
    fixed = fixed or {}
    for gi, s in fixed.items():
        g = groups[gi]
        if s < pad or s + g.span + pad >= n or occupied[s - pad : s + g.span + pad].any():
            raise ValueError(f"fixed position {s} of group {g.gid} is not free")
        occupied[s - pad : s + g.span + pad] = True
        _write_group(flat, g, s, motifs, rng, degrade, rows)
    for gi in order:
        if gi in fixed:
            continue
        g = groups[gi]
        span = g.span
        for _attempt in range(200):
            if open_idx is not None and len(open_idx) and rng.random() < open_bias:
                s = int(open_idx[rng.integers(0, len(open_idx))]) - span // 2
            else:
                s = int(rng.integers(0, n - span))
            if s < pad or s + span + pad >= n or occupied[s - pad : s + span + pad].any():
                continue
            break
        else:
            continue
        occupied[s - pad : s + span + pad] = True
        _write_group(flat, g, s, motifs, rng, degrade, rows)
    df = pd.DataFrame(
        rows,
        columns=["tf", "fstart", "fend", "strand", "origin", "affinity", "log_odds", "site_id", "cluster_id"],
    )
    return df


def _write_group(flat: Flat, g, s: int, motifs, rng, degrade: set[str], rows: list) -> None:
    """Write group `g` at start `s` into flat.codes and append its instance rows (turnover: degraded)."""
    for m in g.members:
        site = m.site
        origin, aff, lo = m.origin, m.affinity, m.log_odds
        if g.gid in degrade:
            site = degrade_site(motifs[m.tf], site, rng)
            origin = "turnover"
            lo = motifs[m.tf].score(site)
            aff = 0.0
        start = s + m.offset
        flat.codes[start : start + len(site)] = site if m.strand == "+" else reverse_complement_codes(site)
        rows.append((m.tf, start, start + len(site), m.strand, origin, aff, lo, m.site_id, m.cluster_id))


def background_hits(flat: Flat, motifs: dict[str, SiteMotif], planted: pd.DataFrame) -> pd.DataFrame:
    """Every above-threshold window not overlapping a planted instance of the same TF (best per overlap).

    Parameters
    ----------
    flat
        The genome in flat coordinates, after planting.
    motifs
        TF name -> `SiteMotif`.
    planted
        The planted instances (`plant_groups`).

    Returns
    -------
    pandas.DataFrame
        Instances with origin ``background``, in the columns of `plant_groups`.
    """
    rows = []
    n = len(flat.codes)
    for tf, motif in motifs.items():
        w = motif.width
        plus, minus = scan(flat.codes, motif)
        best = np.maximum(plus, minus)
        pos = np.flatnonzero(best >= motif.threshold)
        if len(pos) == 0:
            continue
        mine = planted[planted.tf == tf]
        cover = np.zeros(n + 1, dtype=np.int32)
        np.add.at(cover, mine.fstart.to_numpy(), 1)
        np.add.at(cover, mine.fend.to_numpy(), -1)
        cum = np.concatenate([[0], np.cumsum(np.cumsum(cover)[:-1] > 0)])
        overl = (cum[pos + w] - cum[pos]) > 0
        pos = pos[~overl]
        sc = best[pos]
        keep = []
        last_end = -1
        last_score = -np.inf
        # greedy non-maximum suppression along the sequence
        for p, s in zip(pos.tolist(), sc.tolist(), strict=True):
            if p < last_end:
                if s > last_score:
                    keep[-1] = (p, s)
                    last_end, last_score = p + w, s
                continue
            keep.append((p, s))
            last_end, last_score = p + w, s
        for p, s in keep:
            strand = "+" if plus[p] >= minus[p] else "-"
            rows.append((tf, p, p + w, strand, "background", float(motif.affinity(s)), float(s), "", -1))
    return pd.DataFrame(
        rows,
        columns=["tf", "fstart", "fend", "strand", "origin", "affinity", "log_odds", "site_id", "cluster_id"],
    )


# ----------------------------------------------------------------------------------------------------------
# Binding rules
# ----------------------------------------------------------------------------------------------------------


def _near_count(src_s, src_e, tgt_s, tgt_e, window: int, exclude_self: bool) -> np.ndarray:
    """For each source interval, how many target intervals lie within `window` bp (gap)."""
    if len(tgt_s) == 0 or len(src_s) == 0:
        return np.zeros(len(src_s), dtype=np.int64)
    order = np.argsort(tgt_s)
    ts, te = tgt_s[order], tgt_e[order]
    maxlen = int((te - ts).max())
    lo = np.searchsorted(ts, src_s - window - maxlen, side="left")
    hi = np.searchsorted(ts, src_e + window, side="right")
    out = np.zeros(len(src_s), dtype=np.int64)
    for i in range(len(src_s)):
        seg_s, seg_e = ts[lo[i] : hi[i]], te[lo[i] : hi[i]]
        gap = np.maximum(seg_s, src_s[i]) - np.minimum(seg_e, src_e[i])
        ok = gap <= window
        if exclude_self:
            ok &= ~((seg_s == src_s[i]) & (seg_e == src_e[i]))
        out[i] = int(ok.sum())
    return out


def partner_gaps(src_s, src_e, tgt_s, tgt_e, spacing: int, max_gap: int) -> np.ndarray:
    """For each source interval, the gap (bp) to the target interval whose gap is closest to `spacing`.

    The gap follows the simulator's planting convention (`_add_partner`): a downstream target starts at
    ``source end + gap``, an upstream one ends ``gap`` bp before the source start; strand does not matter.
    Overlapping targets (negative gap) and targets farther than `max_gap` are ignored.

    Parameters
    ----------
    src_s, src_e
        Source starts and ends (half-open).
    tgt_s, tgt_e
        Target starts and ends (half-open).
    spacing
        The preferred gap (bp).
    max_gap
        The largest gap searched (bp).

    Returns
    -------
    numpy.ndarray
        ``(len(src_s),)`` int64 gaps; -1 where no target lies within `max_gap`.
    """
    out = np.full(len(src_s), -1, dtype=np.int64)
    if len(tgt_s) == 0 or len(src_s) == 0:
        return out
    order = np.argsort(tgt_s, kind="stable")
    ts, te = tgt_s[order], tgt_e[order]
    maxlen = int((te - ts).max())
    lo = np.searchsorted(ts, src_s - max_gap - maxlen, side="left")
    hi = np.searchsorted(ts, src_e + max_gap, side="right")
    for i in range(len(src_s)):
        seg_s, seg_e = ts[lo[i] : hi[i]], te[lo[i] : hi[i]]
        gap = np.maximum(seg_s, src_s[i]) - np.minimum(seg_e, src_e[i])
        gap = gap[(gap >= 0) & (gap <= max_gap)]
        if len(gap):
            out[i] = int(gap[np.argmin(np.abs(gap - spacing))])
    return out


def _spacing_rule(inst: pd.DataFrame, cfg) -> pd.DataFrame:
    """The opt-in spacing-dependent partner rule: adds ``partner_gap`` (see `instance_features`) and, for TFs
    with ``partner_rule: spacing``, sets ``partner_present`` to a partner gap within ``partner_spacing`` +-
    ``partner_tolerance`` (changes `inst` in place and returns it)."""
    inst["partner_gap"] = -1
    live = (inst.origin != "turnover").to_numpy()
    fs, fe = inst.fstart.to_numpy(), inst.fend.to_numpy()
    for t in cfg.tfs:
        sel = (inst.tf == t.name).to_numpy()
        if not t.partner or not sel.any():
            continue
        ps = (inst.tf == t.partner).to_numpy() & live
        max_gap = max(cfg.binding.partner_window, t.partner_spacing + t.partner_tolerance)
        gaps = partner_gaps(fs[sel], fe[sel], fs[ps], fe[ps], t.partner_spacing, max_gap)
        inst.loc[sel, "partner_gap"] = gaps
        if t.partner_rule == "spacing":
            inst.loc[sel, "partner_present"] = (gaps >= 0) & (np.abs(gaps - t.partner_spacing) <= t.partner_tolerance)
    return inst


def instance_features(inst: pd.DataFrame, cfg) -> pd.DataFrame:
    """Adds partner (name), partner_present, n_homotypic and pioneer columns (sequence-determined context).

    With the opt-in spacing rule (any TF with ``partner_rule: spacing``) a ``partner_gap`` column is added
    too: for sites of a TF with a partner, the gap (bp) of the live partner motif closest to the preferred
    ``partner_spacing`` (searched up to ``max(binding.partner_window, partner_spacing + partner_tolerance)``,
    -1 when none); for those TFs ``partner_present`` means a partner at ``partner_spacing`` +-
    ``partner_tolerance`` instead of one anywhere within ``binding.partner_window``.

    Parameters
    ----------
    inst
        Motif instances (planted and background; not changed).
    cfg
        The simulator config (TF partner/pioneer rules, ``binding.homotypic_window``/``partner_window``).

    Returns
    -------
    pandas.DataFrame
        A copy with the four columns; turned-over instances count neither as homotypic neighbours nor as
        partners.
    """
    tfcfg = {t.name: t for t in cfg.tfs}
    inst = inst.copy()
    inst["partner"] = [tfcfg[t].partner or "" for t in inst.tf]
    inst["pioneer"] = [tfcfg[t].pioneer for t in inst.tf]
    inst["partner_present"] = False
    inst["n_homotypic"] = 0
    live = inst.origin != "turnover"
    for tf, t in tfcfg.items():
        sel = (inst.tf == tf).to_numpy()
        if not sel.any():
            continue
        s, e = inst.fstart.to_numpy()[sel], inst.fend.to_numpy()[sel]
        same = sel & live.to_numpy()
        inst.loc[sel, "n_homotypic"] = _near_count(
            s, e, inst.fstart.to_numpy()[same], inst.fend.to_numpy()[same], cfg.binding.homotypic_window, True
        )
        if t.partner:
            ps = ((inst.tf == t.partner) & live).to_numpy()
            inst.loc[sel, "partner_present"] = (
                _near_count(
                    s,
                    e,
                    inst.fstart.to_numpy()[ps],
                    inst.fend.to_numpy()[ps],
                    cfg.binding.partner_window,
                    False,
                )
                > 0
            )
    if any(t.partner_rule == "spacing" for t in cfg.tfs):
        inst = _spacing_rule(inst, cfg)
    return inst


def assign_binding(
    inst: pd.DataFrame, access: dict[str, np.ndarray], cfg, rng: np.random.Generator, n_flat: int
) -> pd.DataFrame:
    """Per cell type: accessible_<cell>, p_bound_<cell>, bound_<cell>, reason_<cell>.

    p(bound) = sigmoid(intercept + w_aff*affinity + w_closed*[closed, not pioneer]
                       + w_closed_pioneer*[closed, pioneer] + w_no_partner*[partner rule, partner_present false]
                       + w_homotypic*min(n_homotypic, 3)); one uniform per site is shared by all cells, so
    a site's cells differ only through accessibility (and expression). Decoys and turned-over sites never
    bind. Reason for an unbound site: the factor with the largest logit deficit ('closed-chromatin',
    'no-partner', 'low-affinity'), or 'stochastic' when none is large; 'decoy', 'turnover', 'not-expressed'.

    Parameters
    ----------
    inst
        Instances with `instance_features` columns (not changed).
    access
        Cell name -> accessible domains in flat coordinates; a site is accessible when its centre is.
    cfg
        The simulator config (``binding.logit`` weights, cells and their expressed TFs).
    rng
        Random stream (one uniform per site).
    n_flat
        Length of the flat genome.

    Returns
    -------
    pandas.DataFrame
        A copy with the four columns per cell type.
    """
    L = cfg.binding.logit
    inst = inst.copy()
    centers = ((inst.fstart + inst.fend) // 2).to_numpy()
    u = rng.random(len(inst))
    aff = inst.affinity.to_numpy()
    pioneer = inst.pioneer.to_numpy(bool)
    has_rule = (inst.partner != "").to_numpy()
    no_partner = has_rule & ~inst.partner_present.to_numpy(bool)
    homo = np.minimum(inst.n_homotypic.to_numpy(), 3)
    origin = inst.origin.to_numpy()
    shift = "cofactor_logit" in inst  # species shifts (opt-in): `species_shift_features` added the columns
    for cell in cfg.cells:
        acc = domains_mask(access[cell.name], n_flat)[centers]
        closed_pen = np.where(acc, 0.0, np.where(pioneer, L.closed_pioneer, L.closed))
        logit = L.intercept + L.affinity * aff + closed_pen + L.no_partner * no_partner + L.homotypic * homo
        if shift:
            logit = logit + inst.cofactor_logit.to_numpy()
        p = 1.0 / (1.0 + np.exp(-logit))
        expressed = np.ones(len(inst), dtype=bool) if cell.tfs is None else inst.tf.isin(cell.tfs).to_numpy()
        p = np.where(expressed & (origin != "decoy") & (origin != "turnover"), p, 0.0)
        if shift:
            p = np.where(inst.repeat_family.to_numpy() != "", 0.0, p)  # silenced repeat: closed to every TF
        bound = u < p
        deficits = [-closed_pen, -L.no_partner * no_partner, L.affinity * (1 - aff)]
        names = ["closed-chromatin", "no-partner", "low-affinity"]
        if shift:
            deficits.append(-inst.cofactor_logit.to_numpy())
            names.append("no-cofactor")
        deficits, names = np.stack(deficits, axis=1), np.array(names)
        reason = np.where(deficits.max(axis=1) >= 1.0, names[deficits.argmax(axis=1)], "stochastic")
        if shift:
            reason = np.where(inst.repeat_family.to_numpy() != "", "silenced-repeat", reason)
        reason = np.where(origin == "decoy", "decoy", reason)
        reason = np.where(origin == "turnover", "turnover", reason)
        reason = np.where(~expressed, "not-expressed", reason)
        reason = np.where(bound, "bound", reason)
        inst[f"accessible_{cell.name}"] = acc
        inst[f"p_bound_{cell.name}"] = np.round(p, 4)
        inst[f"bound_{cell.name}"] = bound
        inst[f"reason_{cell.name}"] = reason
    return inst


# ----------------------------------------------------------------------------------------------------------
# Peaks
# ----------------------------------------------------------------------------------------------------------

NARROWPEAK_COLUMNS = [
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signalValue",
    "pValue",
    "qValue",
    "peak",
]


def _to_chrom(flat: Flat, df: pd.DataFrame, start_col="fstart", end_col="fend") -> pd.DataFrame:
    ci, pos = flat.locate(df[start_col].to_numpy())
    df = df.copy()
    df.insert(0, "chrom", np.array(flat.names, dtype=object)[ci] if len(df) else np.array([], dtype=object))
    df["start"] = pos
    df["end"] = pos + (df[end_col].to_numpy() - df[start_col].to_numpy())
    return df


def _narrowpeak(flat: Flat, fstart, fend, summit, signal, prefix: str) -> pd.DataFrame:
    order = np.argsort(fstart, kind="stable")
    fstart, fend, summit, signal = fstart[order], fend[order], summit[order], signal[order]
    df = pd.DataFrame({"fstart": fstart, "fend": fend})
    df = _to_chrom(flat, df)
    # a peak near a chromosome end may reach into the spacer: clip it to its chromosome
    size = df.chrom.map(dict(zip(flat.names, flat.sizes.tolist(), strict=True))).to_numpy()
    offset = (fstart - df.start.to_numpy()).astype(np.int64)  # flat position of the chromosome's base 0
    start = np.clip(df.start.to_numpy(), 0, size)
    end = np.clip(df.end.to_numpy(), 0, size)
    keep = end > start
    df, start, end = df[keep].reset_index(drop=True), start[keep], end[keep]
    summit, signal, offset = summit[keep], signal[keep], offset[keep]
    df["start"], df["end"] = start, end
    fstart = offset + start
    summit = np.clip(summit, fstart, offset + end - 1)
    pval = np.round(1.5 * signal + 2.0, 3)
    out = pd.DataFrame(
        {
            "chrom": df.chrom,
            "start": df.start,
            "end": df.end,
            "name": [f"{prefix}_{i + 1}" for i in range(len(df))],
            "score": np.minimum(1000, np.round(signal * 20)).astype(int),
            "strand": ".",
            "signalValue": np.round(signal, 3),
            "pValue": pval,
            "qValue": np.round(np.maximum(0.0, pval - 1.0), 3),
            "peak": (summit - fstart).astype(int),
        }
    )
    return out[NARROWPEAK_COLUMNS]


def _peak_shape(rng, n, ccfg):
    width = np.clip(
        np.round(rng.lognormal(np.log(ccfg.width_median), ccfg.width_sigma, n)),
        ccfg.width_min,
        ccfg.width_max,
    ).astype(np.int64)
    frac = rng.uniform(0.3, 0.7, n)
    return width, frac


def call_chip_peaks(
    flat: Flat,
    inst: pd.DataFrame,
    tf: str,
    cell: str,
    access_dom: np.ndarray,
    ccfg,
    rng: np.random.Generator,
    prefix: str,
) -> pd.DataFrame:
    """ChIP-seq-like narrowPeaks (chromosome coordinates) for one `tf` x `cell`: a `sensitivity` share of
    binding events (bound sites merged within `merge_distance`) is called, stronger events more often; false
    positives are added so that `precision` of the peaks lie on a bound site (a share in the cell's
    accessible domains `access_dom`, the rest anywhere).

    `flat`: the genome in flat coordinates; `inst`: instances with ``bound_<cell>`` (`assign_binding`);
    `ccfg`: the ``chip`` config (sensitivity, precision, merge distance, widths, summit jitter); `rng`: the
    random stream; peak names are ``<prefix>_1``, ``<prefix>_2``, ...
    """
    sel = inst[(inst.tf == tf) & inst[f"bound_{cell}"]].sort_values("fstart")
    n_sites = len(sel)
    ev_s, ev_e, ev_str, ev_acc, ev_n = _binding_events(sel, cell, ccfg.merge_distance)
    n_ev = len(ev_s)
    # call events (stronger ones first, Gumbel-top-k) until `sensitivity` of the bound sites are covered
    keys = np.log(0.3 + ev_str) + rng.gumbel(size=n_ev)
    rank = np.argsort(-keys, kind="stable")
    k_call = int(np.searchsorted(np.cumsum(ev_n[rank]), ccfg.sensitivity * n_sites - 0.5) + 1) if n_ev else 0
    called = np.sort(rank[: min(k_call, n_ev)])
    c_s, c_e = ev_s[called], ev_e[called]
    center = (c_s + c_e) // 2
    jitter = np.clip(np.round(rng.normal(0, ccfg.summit_jitter, len(called))), -40, 40).astype(np.int64)
    summit = center + jitter
    width, frac = _peak_shape(rng, len(called), ccfg)
    width = np.maximum(width, (c_e - c_s) + 90)
    start = np.minimum(summit - np.round(frac * width).astype(np.int64), c_s - 45)
    end = np.maximum(start + width, c_e + 45)
    signal = 4 + 40 * (0.3 + 0.7 * ev_str[called]) * np.where(ev_acc[called], 1.0, 0.5) * rng.lognormal(
        0, 0.3, len(called)
    )
    n_fp = int(round(len(called) * (1 - ccfg.precision) / ccfg.precision)) if ccfg.precision < 1 else 0
    all_bound = inst[inst[f"bound_{cell}"] & (inst.tf == tf)]
    avoid = np.sort(np.concatenate([all_bound.fstart.to_numpy(), start, end]))
    fp_s, fp_e, fp_sum = _false_positive_peaks(flat, access_dom, avoid, n_fp, ccfg, rng)
    fp_signal = 2 + 6 * rng.lognormal(0, 0.4, len(fp_s))
    return _narrowpeak(
        flat,
        np.concatenate([start, fp_s]),
        np.concatenate([end, fp_e]),
        np.concatenate([summit, fp_sum]),
        np.concatenate([signal, fp_signal]),
        prefix,
    )


def _binding_events(sel: pd.DataFrame, cell: str, merge_distance: int):
    """Binding events of bound sites `sel` (sorted by ``fstart``): sites closer than `merge_distance` merge.

    Returns the events' (start, end, strongest affinity, any accessible in `cell`, number of sites)."""
    fs, fe = sel.fstart.to_numpy(), sel.fend.to_numpy()
    strength = sel.affinity.to_numpy()
    acc = sel[f"accessible_{cell}"].to_numpy(bool)
    if len(fs):
        new = np.concatenate([[True], fs[1:] - fe[:-1] > merge_distance])
        ev = np.cumsum(new) - 1
    else:
        ev = np.zeros(0, dtype=int)
    n_ev = int(ev.max() + 1) if len(ev) else 0
    ev_s = np.array([fs[ev == k].min() for k in range(n_ev)], dtype=np.int64)
    ev_e = np.array([fe[ev == k].max() for k in range(n_ev)], dtype=np.int64)
    ev_str = np.array([strength[ev == k].max() for k in range(n_ev)])
    ev_acc = np.array([acc[ev == k].any() for k in range(n_ev)])
    ev_n = np.bincount(ev, minlength=n_ev) if n_ev else np.zeros(0, dtype=int)
    return ev_s, ev_e, ev_str, ev_acc, ev_n


def _false_positive_peaks(flat: Flat, access_dom: np.ndarray, avoid: np.ndarray, n_fp: int, ccfg,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to `n_fp` false-positive peaks (start, end, summit) on non-N bases, 1 kb away from `avoid` and from
    each other; a ``fp_accessible_share`` of them centred in `access_dom`."""
    valid = flat.codes != 4
    acc_idx = np.flatnonzero(domains_mask(access_dom, len(flat.codes)) & valid) if len(access_dom) else None
    fp_s, fp_e, fp_sum = [], [], []
    tries = 0
    while len(fp_s) < n_fp and tries < 100 * max(1, n_fp):
        tries += 1
        w_ = int(_peak_shape(rng, 1, ccfg)[0][0])
        if acc_idx is not None and len(acc_idx) and rng.random() < ccfg.fp_accessible_share:
            c = int(acc_idx[rng.integers(0, len(acc_idx))])
        else:
            c = int(rng.integers(ccfg.width_max, len(flat.codes) - ccfg.width_max))
        s = c - w_ // 2
        if not (valid[s] and valid[s + w_ - 1]):
            continue
        j = np.searchsorted(avoid, s - 1000)
        if j < len(avoid) and avoid[j] < s + w_ + 1000:
            continue
        fp_s.append(s)
        fp_e.append(s + w_)
        fp_sum.append(c)
        avoid = np.sort(np.concatenate([avoid, [s, s + w_]]))
    return tuple(np.array(x, dtype=np.int64) for x in (fp_s, fp_e, fp_sum))


def atac_peaks(flat: Flat, domains: np.ndarray, rng: np.random.Generator, prefix: str) -> pd.DataFrame:
    """ATAC-like narrowPeaks of one cell type's ``(k, 2)`` accessible `domains`: summit near the middle,
    log-normal signal (`rng` draws both); the other arguments as in `call_chip_peaks`."""
    if len(domains) == 0:
        return pd.DataFrame(columns=NARROWPEAK_COLUMNS)
    s, e = domains[:, 0], domains[:, 1]
    ln = e - s
    summit = s + ln // 2 + np.round(rng.normal(0, 0.1, len(s)) * ln).astype(np.int64)
    summit = np.clip(summit, s, e - 1)
    signal = 3 + 30 * rng.lognormal(0, 0.5, len(s))
    return _narrowpeak(flat, s, e, summit, signal, prefix)


def instances_to_truth(flat: Flat, inst: pd.DataFrame, species: str, cells) -> pd.DataFrame:
    """Final truth table in chromosome coordinates, sorted by (chrom order, start, tf).

    Parameters
    ----------
    flat
        The genome in flat coordinates.
    inst
        Instances with their binding columns (`assign_binding`).
    species
        Value of the ``species`` column.
    cells
        Cell-type configs, for the per-cell columns.

    Returns
    -------
    pandas.DataFrame
    """
    df = _to_chrom(flat, inst.sort_values(["fstart", "tf"], kind="stable").reset_index(drop=True))
    df.insert(0, "species", species)
    cols = [
        "species",
        "tf",
        "chrom",
        "start",
        "end",
        "strand",
        "site_id",
        "origin",
        "affinity",
        "log_odds",
        "cluster_id",
        "partner",
        "partner_present",
        *(["partner_gap"] if "partner_gap" in df else []),  # spacing rule (opt-in) only
        "n_homotypic",
        "pioneer",
    ]
    for c in cells:
        cols += [f"accessible_{c.name}", f"p_bound_{c.name}", f"bound_{c.name}", f"reason_{c.name}"]
    cols += [c for c in SHIFT_COLUMNS if c in df]  # species shifts (opt-in) only
    df = df[["tf", "chrom", "start", "end"] + [c for c in cols if c not in ("tf", "chrom", "start", "end")]]
    df = df[cols]
    df["affinity"] = df.affinity.round(4)
    df["log_odds"] = df.log_odds.round(3)
    return df.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------
# Species shifts (opt-in): silenced decoy-carrying repeat families, species-only cofactor rules
# ----------------------------------------------------------------------------------------------------------

#: truth columns written only when a config uses species shifts (`config.uses_species_shifts`)
SHIFT_COLUMNS = ("repeat_family", "repeat_decoy", "cofactor", "cofactor_present")


def add_cofactor_partners(groups: list[Group], rules, motifs: dict[str, SiteMotif], beta,
                          rng: np.random.Generator) -> list[Group]:
    """One species' groups with cofactor motifs added (``species.<sp>.cofactors``; the catalogue is shared,
    so changed groups are copies).

    For each rule, a share ``fraction`` of the groups holding a functional (planted or cluster) site of
    ``tf`` gets a ``partner`` site (affinity drawn from `beta`, origin ``cofactor``, id ``<gid>.c``)
    ``spacing`` bp downstream of the group's last member.

    Parameters
    ----------
    groups
        The species' site groups (`make_groups`; not changed).
    rules
        The species' `config.CofactorRule` list.
    motifs
        TF name -> `SiteMotif`.
    beta
        ``binding.affinity_beta`` (partner affinities).
    rng
        The species' shift stream.

    Returns
    -------
    list of Group
        Same order and ids.
    """
    out = list(groups)
    for rule in rules:
        pm = motifs[rule.partner]
        for gi, g in enumerate(out):
            if not any(m.tf == rule.tf and m.origin in ("planted", "cluster") for m in g.members):
                continue
            if rng.random() >= rule.fraction:
                continue
            site = sample_sites(pm, 1, rng, rng.beta(*beta, 1))[0]
            score = pm.score(site)
            strand = "+" if rng.random() < 0.5 else "-"
            member = Member(rule.partner, g.span + rule.spacing, site, strand, "cofactor", float(pm.affinity(score)),
                            score, f"{g.gid}.c", -1)
            out[gi] = Group(g.gid, [*g.members, member])
    return out


def repeat_family_index(flat: Flat, repeats: list, families: list[str]) -> np.ndarray:
    """Per flat base, 1 + the index in `families` of the repeat copy covering it (0: none of them).

    Parameters
    ----------
    flat
        The genome in flat coordinates.
    repeats
        ``(chrom, start, end, family)`` copies (`genome.Genome.repeats`).
    families
        The family names to mark.

    Returns
    -------
    numpy.ndarray
        ``(len(flat.codes),)`` int16.
    """
    out = np.zeros(len(flat.codes), dtype=np.int16)
    offset = dict(zip(flat.names, flat.offsets.tolist(), strict=True))
    index = {f: i + 1 for i, f in enumerate(families)}
    for chrom, start, end, fam in repeats:
        if fam in index and chrom in offset:
            out[offset[chrom] + start : offset[chrom] + end] = index[fam]
    return out


def species_shift_features(inst: pd.DataFrame, flat: Flat, repeats: list, species_cfg) -> pd.DataFrame:
    """Add the species-shift columns: ``repeat_family`` (the silenced, decoy-carrying family whose copy
    holds the site's centre, '' for none), ``repeat_decoy`` (the site is a motif copy of that family's
    ``decoy_tf``), ``cofactor`` (the partner this species requires of the site's TF, '' for none),
    ``cofactor_present`` and ``cofactor_logit`` (the rule's weight when the partner is missing; not written
    to the truth table).

    Parameters
    ----------
    inst
        Instances with `instance_features` columns (not changed).
    flat
        The genome in flat coordinates.
    repeats
        The species' repeat copies, ``(chrom, start, end, family)`` (None or empty: none).
    species_cfg
        The species' config (``repeats`` with ``decoy_tf``, ``cofactors``; None: no shifts in it).

    Returns
    -------
    pandas.DataFrame
        A copy with the five columns.
    """
    inst = inst.copy()
    fams = [f for f in (species_cfg.repeats if species_cfg else []) if f.decoy_tf]
    centers = ((inst.fstart + inst.fend) // 2).to_numpy()
    if fams and repeats:
        idx = repeat_family_index(flat, repeats, [f.name for f in fams])[centers]
        names = np.array([""] + [f.name for f in fams], dtype=object)
        tfs = np.array([""] + [f.decoy_tf for f in fams], dtype=object)
        inst["repeat_family"] = names[idx]
        inst["repeat_decoy"] = (idx > 0) & (inst.tf.to_numpy() == tfs[idx]) & (inst.origin == "background").to_numpy()
    else:
        inst["repeat_family"], inst["repeat_decoy"] = "", False
    inst["cofactor"], inst["cofactor_present"], inst["cofactor_logit"] = "", False, 0.0
    live = (inst.origin != "turnover").to_numpy()
    for rule in species_cfg.cofactors if species_cfg else []:
        sel = (inst.tf == rule.tf).to_numpy()
        ps = (inst.tf == rule.partner).to_numpy() & live
        if not sel.any():
            continue
        near = _near_count(inst.fstart.to_numpy()[sel], inst.fend.to_numpy()[sel], inst.fstart.to_numpy()[ps],
                           inst.fend.to_numpy()[ps], rule.window, False) > 0
        inst.loc[sel, "cofactor"] = rule.partner
        inst.loc[sel, "cofactor_present"] = near
        inst.loc[sel, "cofactor_logit"] = np.where(near, 0.0, rule.weight)
    return inst

"""Negative sampling strategies (TFBS-negatives, Tourne et al.): positives table + genome -> negatives table.

ChIP-seq gives positives only; how negatives are chosen decides what a model learns and how honest its scores
are. Every strategy has the same interface::

    neg = sample_negatives(strategy, positives, genome, ratio=1.0, seed=0, **options)

`positives` is a table of windows (``chrom, start, end``; the windows a model will see, e.g. 101 bp around
summits). The result has one row per negative with ``chrom, start, end`` (same length as the positive it was
made for) plus provenance: ``source`` (the strategy name), ``pos_index`` (the row of `positives` it was
matched to, -1 where that means nothing) and strategy-specific columns. Shuffle strategies have no genomic
coordinates of their own: they keep the positive's ``chrom, start, end`` (so chromosome splits follow the
positive) and carry the shuffled sequence in a ``sequence`` column, which overrides the genome at load time
(`region_codes`).

Strategies (`STRATEGIES`):

- ``genomic``: random genome windows matched on length, GC content (bins of ``gc_bin_width``) and soft-masked
  repeat fraction (bins of ``repeat_bin_width``), excluding positives plus a margin, N-containing windows
  and a blacklist (gkmSVM ``genNullSeqs`` behaviour). Candidates are drawn at random positions in rounds
  (vectorised; never all genome windows) until every (GC bin x repeat bin) quota is met.
- ``shuffle``: mononucleotide shuffle of each positive (keeps base counts).
- ``dinucleotide``: exact dinucleotide-preserving shuffle (Altschul-Erickson / uShuffle: a random last-exit
  arborescence, then random orders of the other edges; uniform over all sequences with the same
  dinucleotide counts, first and last base).
- ``neighbor``: a window centred ``min_offset..max_offset`` bp (default 101-200) up- or downstream of each
  positive's centre, overlapping no positive.
- ``cross_tf``: peaks of other TFs in the same cell line (``others=``), windows at their summits/centres,
  not overlapping this TF's positives, matched one-to-one to positives by nearest dinucleotide composition.
- ``accessible``: centres of accessibility peaks (ATAC/DNase, ``accessible=``) that overlap no peak of the
  TF: the "high-quality" negatives of a realistic test set. ``ratio=None`` takes all of them.

When a strategy cannot find as many negatives as asked it raises `NotEnoughDataError` (``on_short="error"``,
the default) or warns and returns what it found (``on_short="warn"``); either way the message says how many
were found and why. The returned frame's ``attrs["notes"]`` lists such shortfalls.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError, NotEnoughDataError
from bindscape.io.ranges import overlaps_any

STRATEGIES = ("genomic", "shuffle", "dinucleotide", "neighbor", "cross_tf", "accessible")
_ALIASES = {"neighbour": "neighbor", "dinuc": "dinucleotide", "mono": "shuffle", "cell_line": "cross_tf",
            "hq": "accessible", "crosstf": "cross_tf", "cross-tf": "cross_tf"}


class NegativesShortError(NotEnoughDataError):
    """A negative strategy found fewer negatives than asked (``on_short='error'``); each command that can
    raise it replaces the hint with its own flags (`bindscape build peaks`: ``--neg-ratio``,
    ``--neg-on-short warn``)."""


class NegativesWarning(UserWarning):
    """A strategy returned fewer negatives than asked (``on_short='warn'``)."""


# ------------------------------------------------------------------------------------------- helpers
def parse_strategies(spec: str | Sequence[str]) -> list[str]:
    """'genomic,dinucleotide' (or a list) -> validated strategy names (aliases like 'neighbour' allowed).

    Parameters
    ----------
    spec
        Comma-separated names or a list of names (case-insensitive).

    Returns
    -------
    list[str]
        Canonical names, duplicates dropped, in the given order; at least one.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for s in items:
        s = s.strip().lower()
        if not s:
            continue
        s = _ALIASES.get(s, s)
        if s not in STRATEGIES:
            raise ConfigError(f"unknown negative strategy {s!r}", hint=f"use one of: {', '.join(STRATEGIES)}")
        if s not in out:
            out.append(s)
    if not out:
        raise ConfigError("no negative strategy given", hint=f"use one of: {', '.join(STRATEGIES)}")
    return out


def _check_positives(positives: pd.DataFrame, genome=None) -> pd.DataFrame:
    missing = [c for c in ("chrom", "start", "end") if c not in positives]
    if missing:
        raise InputError(f"positives table lacks column(s) {', '.join(missing)}")
    if len(positives) == 0:
        raise InputError("positives table is empty: nothing to sample negatives for")
    pos = positives.reset_index(drop=True)
    if ((pos["end"] - pos["start"]) <= 0).any():
        raise InputError("positives table has windows of length <= 0")
    if genome is not None:
        unknown = sorted(set(pos["chrom"]) - set(genome.sizes), key=str)
        if unknown:
            from bindscape.errors import ChromosomeError

            raise ChromosomeError(
                f"positives on chromosome(s) not in the genome: {', '.join(map(str, unknown[:5]))}",
                hint=f"genome chromosomes: {', '.join(list(genome.sizes)[:5])} ...",
            )
    return pos


def _allocate(n_pos: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Positive index of each requested negative: round(ratio * n_pos) in all, each positive used
    floor(ratio) or floor(ratio) + 1 times."""
    if ratio is None or ratio < 0 or not np.isfinite(ratio):
        raise ConfigError(f"ratio must be a non-negative number, got {ratio!r}")
    n = int(round(ratio * n_pos))
    base = n // n_pos
    idx = np.repeat(np.arange(n_pos, dtype=np.int64), base)
    extra = n - base * n_pos
    if extra:
        idx = np.concatenate([idx, np.sort(rng.choice(n_pos, size=extra, replace=False))])
    return np.sort(idx, kind="stable")


def _short(strategy: str, wanted: int, found: int, why: str, on_short: str, notes: list[str]) -> None:
    if found >= wanted:
        return
    msg = f"{strategy} negatives: found {found:,} of {wanted:,} requested; {why}"
    notes.append(msg)
    if on_short == "error":
        raise NegativesShortError(msg, hint="lower ratio, relax the strategy's options, or pass on_short='warn' "
                                  "(the commands name their own flags)")
    if on_short == "warn":
        warnings.warn(msg, NegativesWarning, stacklevel=3)
    elif on_short != "ignore":
        raise ConfigError(f"on_short must be 'error', 'warn' or 'ignore', got {on_short!r}")


def _finish(df: pd.DataFrame, strategy: str, notes: list[str]) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df["source"] = strategy
    if "pos_index" not in df:
        df["pos_index"] = -1
    df["start"] = df["start"].astype(np.int64)
    df["end"] = df["end"].astype(np.int64)
    df["pos_index"] = df["pos_index"].astype(np.int64)
    front = ["chrom", "start", "end", "source", "pos_index"]
    df = df[front + [c for c in df.columns if c not in front]]
    df.attrs["notes"] = list(notes)
    return df


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"chrom": pd.Series([], dtype=object), "start": np.zeros(0, np.int64),
                         "end": np.zeros(0, np.int64)})


def _row_seeds(seed: int, n: int, salt: int) -> np.ndarray:
    return np.random.default_rng([int(seed), salt]).integers(0, 2**63 - 1, size=n, dtype=np.int64).astype(np.uint64)


def _windows_at(chrom, centre, length) -> pd.DataFrame:
    start = np.asarray(centre, dtype=np.int64) - length // 2
    return pd.DataFrame({"chrom": np.asarray(chrom, dtype=object), "start": start, "end": start + length})


def _centres(df: pd.DataFrame) -> np.ndarray:
    centre = ((df["start"] + df["end"]) // 2).to_numpy(dtype=np.int64)
    if "summit" in df:
        sm = pd.to_numeric(df["summit"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(sm) & (sm >= 0)
        centre = np.where(ok, np.nan_to_num(sm, nan=0).astype(np.int64), centre)
    return centre


def _one_length(positives: pd.DataFrame, genome, strategy: str) -> tuple[pd.DataFrame, int]:
    """(checked positives, their common length); positives of several lengths are an error."""
    pos = _check_positives(positives, genome)
    lengths = (pos["end"] - pos["start"]).unique()
    if len(lengths) != 1:
        raise InputError(f"{strategy} needs positive windows of one length")
    return pos, int(lengths[0])


def _in_genome(df: pd.DataFrame, genome) -> np.ndarray:
    size = df["chrom"].map(genome.sizes).to_numpy(dtype=np.float64)
    return (df["start"].to_numpy() >= 0) & (df["end"].to_numpy() <= size)


# ------------------------------------------------------------------------------------- numba kernels
def _kernels():
    from bindscape.data import _negatives_kernels as k

    return {"mono": k.mono_shuffle, "dinuc": k.dinuc_shuffle, "composition": k.composition}


# --------------------------------------------------------------------------------- sequence helpers
def _shuffle_rows(codes, seed: int, seeds, *, salt: int, kernel: str, check_alphabet: bool) -> np.ndarray:
    """Validate ``(N, L)`` codes, derive per-row seeds (unless given) and run a shuffle kernel."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (N, L), got shape {codes.shape}")
    if check_alphabet and codes.size and codes.max() > 4:
        raise ValueError("codes must be in 0..4 (A, C, G, T, N)")
    seeds = _row_seeds(seed, len(codes), salt) if seeds is None else np.asarray(seeds, dtype=np.uint64)
    out = np.empty_like(codes)
    _kernels()[kernel](codes, seeds, out)
    return out


def shuffle_codes(codes: np.ndarray, *, seed: int = 0, seeds: np.ndarray | None = None) -> np.ndarray:
    """Mononucleotide shuffle of each row of uint8 codes (N, L): keeps each row's base counts exactly.

    Parameters
    ----------
    codes
        ``(N, L)`` base codes (A=0 C=1 G=2 T=3 N=4).
    seed
        Seed from which the per-row seeds are derived (when `seeds` is None).
    seeds
        ``(N,)`` explicit per-row seeds.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` uint8 shuffled codes.
    """
    return _shuffle_rows(codes, seed, seeds, salt=1, kernel="mono", check_alphabet=False)


def dinucleotide_shuffle_codes(codes: np.ndarray, *, seed: int = 0, seeds: np.ndarray | None = None) -> np.ndarray:
    """Exact dinucleotide-preserving shuffle of each row of uint8 codes (N, L) (A=0 C=1 G=2 T=3 N=4).

    Each row keeps its first and last base and the count of every dinucleotide (N counts as a fifth letter),
    and is drawn uniformly from all such sequences (Altschul-Erickson). Row r is shuffled with its own seed
    (``seeds[r]``, or one derived from `seed` and r), so a row's shuffle does not depend on the batch.
    Arguments and result as `shuffle_codes` (codes must be in 0..4).
    """
    return _shuffle_rows(codes, seed, seeds, salt=2, kernel="dinuc", check_alphabet=True)


def region_codes(genome, regions: pd.DataFrame, *, length: int | None = None) -> np.ndarray:
    """uint8 codes (N, L) of equal-length regions, taking a row's ``sequence`` column (shuffled negatives)
    instead of the genome where it is set. This is the loading contract for datasets with shuffled rows.

    Parameters
    ----------
    genome
        The genome genomic rows are read from (N past chromosome ends).
    regions
        ``chrom, start, end`` rows (+ optional ``sequence``).
    length
        L (None: the regions' common length); regions of another length are re-centred to it, stored
        sequences are cut or N-padded to it.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` uint8 codes.
    """
    from bindscape.io.genome import encode

    if length is None:
        lengths = (regions["end"] - regions["start"]).unique()
        if len(lengths) != 1:
            raise InputError(f"regions have {len(lengths)} different lengths; give `length`")
        length = int(lengths[0])
    n = len(regions)
    out = np.full((n, length), 4, dtype=np.uint8)
    has_seq = np.zeros(n, dtype=bool)
    if "sequence" in regions:
        seqs = regions["sequence"].to_numpy(dtype=object)
        has_seq = np.array([isinstance(s, str) and len(s) > 0 for s in seqs], dtype=bool)
        for i in np.flatnonzero(has_seq):
            c = encode(seqs[i])[:length]
            out[i, : len(c)] = c
    rows = np.flatnonzero(~has_seq)
    if len(rows):
        sub = regions.iloc[rows]
        centre = ((sub["start"] + sub["end"]) // 2).to_numpy(dtype=np.int64)
        starts = centre - length // 2 if (sub["end"] - sub["start"] != length).any() else sub["start"].to_numpy()
        out[rows] = genome.fetch_codes(sub["chrom"].to_numpy(), starts, length=length, pad=True)
    return out


# -------------------------------------------------------------------------------------- composition
def window_composition(genome, chrom_idx: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(G+C, N, repeat) base counts (n, 3) int64 of windows [start, start+length) given by genome chromosome
    index (position in ``genome.chroms``); windows must lie inside their chromosome.

    One pass over the window's bases (plus the 1-bit repeat mask), no whole-chromosome arrays: for short
    windows this is several times faster than three prefix-count queries.

    Parameters
    ----------
    genome
        The genome (repeat counts stay 0 when it has no repeat mask).
    chrom_idx
        ``(n,)`` chromosome index of each window.
    starts
        ``(n,)`` 0-based window starts.
    length
        Window length in bp.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` int64 counts, in the input order.
    """
    chrom_idx = np.asarray(chrom_idx, dtype=np.int64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    out = np.zeros((len(starts), 3), dtype=np.int64)
    if not len(starts):
        return out
    k = _kernels()["composition"]
    has_mask = bool(getattr(genome, "has_repeats", True))
    order = np.lexsort((starts, chrom_idx))  # by chromosome, then position: pages are read in order
    sc = chrom_idx[order]
    cuts = np.flatnonzero(np.diff(sc)) + 1
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(sc)]):
        name = genome.chroms[int(sc[a])]
        codes_mm = genome.codes(name)
        mask_mm = _packed_mask(genome, name) if has_mask else np.zeros(1, np.uint8)
        seq, mask = np.asarray(codes_mm), np.asarray(mask_mm)
        rows = order[a:b]
        # in segments of _SEGMENT bases, dropping the memory-mapped pages after each, so resident memory
        # stays bounded by a segment rather than growing to the whole genome (3 Gb genomes)
        seg = starts[rows] // _SEGMENT
        bounds = np.r_[0, np.flatnonzero(np.diff(seg)) + 1, len(rows)]
        for x, y in zip(bounds[:-1], bounds[1:]):
            k(seq, mask, has_mask, rows[x:y], starts, int(length), out)
            _release(codes_mm)
            _release(mask_mm)
    return out


_SEGMENT = 1 << 24


def _release(arr) -> None:
    """Drop the pages of a memory-mapped array from this process's resident set (they stay in the OS page
    cache, so reading them again is cheap). No-op for ordinary arrays or where madvise is unavailable."""
    import mmap

    mm = getattr(arr, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        mm.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError):  # pragma: no cover - closed or unsupported mapping
        pass


def _packed_mask(genome, chrom: str) -> np.ndarray:
    arr = getattr(genome, "_array", None)
    if arr is not None:
        try:
            return arr(chrom, "mask")
        except Exception:  # pragma: no cover - a genome without a packed mask file
            pass
    return np.packbits(np.asarray(genome.repeat_mask(chrom)))


# ---------------------------------------------------------------------------------------- strategies
def genomic(
    positives: pd.DataFrame, genome, *, ratio: float = 1.0, seed: int = 0, gc_bin_width: float = 0.02,
    repeat_bin_width: float | None = 0.1, margin: int | None = None, max_n_frac: float = 0.0,
    blacklist: pd.DataFrame | None = None, exclude: pd.DataFrame | None = None, chroms: Sequence[str] | None = None,
    allow_overlap: bool = False, max_candidates: int | None = None, chunk: int = 250_000, on_short: str = "error",
) -> pd.DataFrame:
    """Random genome windows matched to the positives on length, GC bin and repeat bin (gkmSVM-style).

    - quotas: ``round(ratio * n)`` negatives, each assigned to a positive (``pos_index``) and required to
      fall into that positive's (GC bin, repeat bin) cell; GC = (G+C)/non-N bases, bins of `gc_bin_width`;
      repeat = soft-masked fraction, bins of `repeat_bin_width` (None, or a genome without soft-mask:
      GC only);
    - exclusions: positives extended by `margin` bp on each side (default: the window length), `exclude`
      (e.g. the TF's full peaks), `blacklist`, windows with N fraction above `max_n_frac` (default: any N),
      and (unless `allow_overlap`) other negatives;
    - `chroms`: chromosomes to draw from (default: those of the positives);
    - candidates are drawn uniformly over positions in rounds of at most `chunk` windows, sized from the
      observed hit rate of each unfilled cell, until all quotas are met or `max_candidates` (default
      ``max(50 * n, 2,000,000)``) windows were drawn. Memory stays O(chunk), whatever the genome size.

    Extra columns: ``gc``, ``repeat`` (fractions of the negative window).

    Parameters
    ----------
    positives, genome
        The positive windows and the `Genome`.
    ratio, seed, on_short
        Negatives per positive, random seed, and what a shortfall does (see the module doc).
    gc_bin_width, repeat_bin_width, margin, max_n_frac, blacklist, exclude, chroms, allow_overlap
        Matching and exclusions (see above).
    max_candidates, chunk
        Drawing budget and round size (see above).

    Returns
    -------
    pandas.DataFrame
        The negatives (see the module doc for the common columns).
    """
    pos = _check_positives(positives, genome)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    lengths = (pos["end"] - pos["start"]).to_numpy()
    parts = []
    for L in np.unique(lengths):
        rows = np.flatnonzero(lengths == L)
        parts.append(_genomic_one_length(
            pos, rows, int(L), genome, rng, ratio=ratio, gc_bin_width=gc_bin_width,
            repeat_bin_width=repeat_bin_width, margin=L if margin is None else int(margin),
            max_n_frac=max_n_frac, blacklist=blacklist, exclude=exclude, chroms=chroms,
            allow_overlap=allow_overlap, max_candidates=max_candidates, chunk=chunk, on_short=on_short,
            notes=notes,
        ))
    df = pd.concat(parts, ignore_index=True) if parts else _empty_frame()
    return _finish(df, "genomic", notes)


class _Cells:
    """The (GC bin x repeat bin) grid that genomic negatives are matched on, for windows of `L` bp."""

    def __init__(self, L: int, gc_bin_width: float, repeat_bin_width: float | None, genome):
        if not 0 < gc_bin_width <= 1:
            raise ConfigError(f"gc_bin_width must be in (0, 1], got {gc_bin_width}")
        if repeat_bin_width is not None and not 0 < repeat_bin_width <= 1:
            raise ConfigError(f"repeat_bin_width must be in (0, 1], got {repeat_bin_width}")
        self.L, self.gc_w, self.rep_w = L, gc_bin_width, repeat_bin_width
        self.use_rep = repeat_bin_width is not None and bool(getattr(genome, "has_repeats", True))
        self.n_gc = int(np.ceil(1.0 / gc_bin_width - 1e-9))
        self.n_rep = int(np.ceil(1.0 / repeat_bin_width - 1e-9)) if self.use_rep else 1
        self.n = self.n_gc * self.n_rep

    def of(self, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cell, GC fraction, repeat fraction) of windows from their (G+C, N, repeat) counts."""
        valid = self.L - cnt[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            gc = np.where(valid > 0, cnt[:, 0] / np.maximum(valid, 1), np.nan)
        rep = cnt[:, 2] / self.L
        g = np.minimum((np.nan_to_num(gc, nan=0.0) / self.gc_w + 1e-9).astype(np.int64), self.n_gc - 1)
        if self.use_rep:
            r = np.minimum((rep / self.rep_w + 1e-9).astype(np.int64), self.n_rep - 1)
        else:
            r = np.zeros_like(g)
        return g * self.n_rep + r, gc, rep

    def label(self, ci: int) -> str:
        """'GC a-b x repeat c-d' for cell `ci`."""
        g, r = divmod(int(ci), self.n_rep)
        lab = f"GC {g * self.gc_w:.2f}-{min((g + 1) * self.gc_w, 1):.2f}"
        if self.use_rep:
            lab += f" x repeat {r * self.rep_w:.2f}-{min((r + 1) * self.rep_w, 1):.2f}"
        return lab


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """Rank of each element among the earlier elements with the same key (0, 1, ... in array order)."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    first = np.searchsorted(sk, sk, side="left")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first
    return rank


def _genomic_one_length(pos, rows, L, genome, rng, *, ratio, gc_bin_width, repeat_bin_width, margin, max_n_frac,
                        blacklist, exclude, chroms, allow_overlap, max_candidates, chunk, on_short, notes):
    """Genomic negatives for the positives `rows` (all `L` bp long): quotas per cell, then rounds of draws."""
    cells = _Cells(L, gc_bin_width, repeat_bin_width, genome)
    cpos = {c: i for i, c in enumerate(genome.chroms)}
    sub = pos.iloc[rows]
    want_pos, want_cell = _genomic_quotas(sub, rows, L, genome, cpos, cells, ratio, rng)
    n_want = len(want_pos)
    if n_want == 0:
        return _empty_frame()
    quota = np.bincount(want_cell, minlength=cells.n)
    # the positives of each cell, in a random order (so which positive gets which negative is random)
    perm = rng.permutation(n_want)
    by_cell = perm[np.argsort(want_cell[perm], kind="stable")]
    cell_first = np.r_[0, np.cumsum(quota)[:-1]]

    names = list(chroms) if chroms is not None else sorted(set(sub["chrom"]), key=lambda c: cpos.get(c, 0))
    unknown = [c for c in names if c not in cpos]
    if unknown:
        raise InputError(f"chromosome(s) not in the genome: {', '.join(map(str, unknown[:5]))}")
    cidx = np.array([cpos[c] for c in names], dtype=np.int64)
    span = np.array([max(genome.sizes[c] - L + 1, 0) for c in names], dtype=np.int64)
    if span.sum() <= 0:
        _short("genomic", n_want, 0, f"no chromosome among {', '.join(names[:5])} is {L} bp long", on_short, notes)
        return _empty_frame()
    avoid = _avoid_by_index(sub, cpos, margin, exclude, blacklist)
    draw = _GenomicDraw(genome, cells, quota, cidx, np.cumsum(span), avoid, allow_overlap=allow_overlap,
                        max_n_frac=max_n_frac)
    budget = int(max_candidates) if max_candidates is not None else max(50 * n_want, 2_000_000)
    draw.run(rng, n_want, budget, chunk)
    c, s, cell, rank, gc, rep = draw.accepted()
    pos_index = want_pos[by_cell[cell_first[cell] + rank]] if len(cell) else np.zeros(0, np.int64)
    out = pd.DataFrame({
        "chrom": np.asarray(genome.chroms, dtype=object)[c], "start": s, "end": s + L,
        "pos_index": pos.index.to_numpy()[pos_index] if len(pos_index) else pos_index, "gc": gc, "repeat": rep,
    })
    out = out.sort_values("pos_index", kind="stable").reset_index(drop=True)
    if len(out) < n_want:
        _short("genomic", n_want, len(out), draw.shortfall(len(names)), on_short, notes)
    return out


def _genomic_quotas(sub, rows, L, genome, cpos, cells: _Cells, ratio, rng) -> tuple[np.ndarray, np.ndarray]:
    """(positive row, cell) of every requested negative."""
    inside = _in_genome(sub, genome)
    if not inside.all():
        raise InputError(f"{int((~inside).sum())} positive windows run past a chromosome end",
                         hint="drop or clip them before sampling negatives")
    pc = window_composition(genome, sub["chrom"].map(cpos).to_numpy(), sub["start"].to_numpy(), L)
    pcell, _, _ = cells.of(pc)
    want_pos = rows[_allocate(len(rows), ratio, rng)]  # positive row per requested negative
    return want_pos, pcell[np.searchsorted(rows, want_pos)]


def _avoid_by_index(sub, cpos, margin, exclude, blacklist) -> pd.DataFrame:
    """Intervals to avoid (positives +- margin, `exclude`, `blacklist`), chromosomes as genome indices."""
    avoid = [pd.DataFrame({"chrom": sub["chrom"].map(cpos).to_numpy(), "start": sub["start"].to_numpy() - margin,
                           "end": sub["end"].to_numpy() + margin})]
    for extra in (exclude, blacklist):
        if extra is not None and len(extra):
            e = extra[extra["chrom"].isin(cpos)]
            avoid.append(pd.DataFrame({"chrom": e["chrom"].map(cpos).to_numpy(), "start": e["start"].to_numpy(),
                                       "end": e["end"].to_numpy()}))
    return pd.concat(avoid, ignore_index=True)


class _GenomicDraw:
    """Rounds of uniformly drawn candidate windows that fill per-cell quotas (see `genomic`)."""

    def __init__(self, genome, cells: _Cells, quota, cidx, cum, avoid: pd.DataFrame, *, allow_overlap, max_n_frac):
        self.genome, self.cells, self.quota, self.cidx, self.cum = genome, cells, quota, cidx, cum
        self.avoid, self.allow_overlap, self.max_n_frac = avoid, allow_overlap, max_n_frac
        self.filled = np.zeros(cells.n, dtype=np.int64)
        self.hits = np.zeros(cells.n, dtype=np.int64)  # usable candidates seen per cell (hit-rate estimate)
        self.drawn = 0
        self.parts: list[tuple] = []
        self.taken = pd.DataFrame({"chrom": np.zeros(0, np.int64), "start": np.zeros(0, np.int64),
                                   "end": np.zeros(0, np.int64)})
        self.rejected = {"overlap": 0, "n": 0}

    def run(self, rng, n_want: int, budget: int, chunk: int) -> None:
        """Draw rounds until every quota is met or `budget` candidates were drawn."""
        while self.drawn < budget:
            need = self.quota - self.filled
            open_ = need > 0
            if not open_.any():
                break
            if self.drawn == 0:
                m = max(4 * n_want, 20_000)
            else:
                rate = self.hits / self.drawn
                with np.errstate(divide="ignore"):
                    est = np.where(rate[open_] > 0, need[open_] / np.maximum(rate[open_], 1e-300), np.inf)
                m = int(min(est.max() * 1.3 + 1000, 1e12)) if np.isfinite(est).all() else chunk
            m = int(min(m, chunk, budget - self.drawn))
            self.drawn += m
            self._round(rng, m, need)

    def _candidates(self, rng, m: int):
        """`m` uniform windows, without those with too many N or overlapping what must be avoided."""
        L = self.cells.L
        u = rng.integers(0, self.cum[-1], size=m, dtype=np.int64)
        k = np.searchsorted(self.cum, u, side="right")
        cand_c = self.cidx[k]
        cand_s = u - np.r_[0, self.cum[:-1]][k]
        cnt = window_composition(self.genome, cand_c, cand_s, L)
        ok = cnt[:, 1] <= self.max_n_frac * L
        self.rejected["n"] += int((~ok).sum())
        cand = pd.DataFrame({"chrom": cand_c[ok], "start": cand_s[ok], "end": cand_s[ok] + L})
        cnt = cnt[ok]
        bad = overlaps_any(cand, self.avoid)
        if not self.allow_overlap and len(self.taken):
            bad |= overlaps_any(cand, self.taken)
        self.rejected["overlap"] += int(bad.sum())
        return cand.loc[~bad], cnt[~bad]

    def _round(self, rng, m: int, need: np.ndarray) -> None:
        """One round: fill quotas in draw order (rank of each candidate within its cell)."""
        L = self.cells.L
        cand, cnt = self._candidates(rng, m)
        cc, gc, rep = self.cells.of(cnt)
        self.hits += np.bincount(cc, minlength=self.cells.n)
        rank = _rank_within(cc)
        take = rank < need[cc]
        cs, ss = cand["chrom"].to_numpy()[take], cand["start"].to_numpy()[take]
        tc, tr = cc[take], rank[take] + self.filled[cc[take]]
        tgc, trep = gc[take], rep[take]
        if not self.allow_overlap and len(cs) > 1:  # drop candidates of this round that overlap each other
            o = np.lexsort((ss, cs))
            clash = np.zeros(len(cs), dtype=bool)
            clash[o[1:]] = (cs[o[1:]] == cs[o[:-1]]) & (ss[o[1:]] < ss[o[:-1]] + L)
            if clash.any():
                keep = ~clash
                cs, ss, tc, tgc, trep = cs[keep], ss[keep], tc[keep], tgc[keep], trep[keep]
                tr = _rank_within(tc) + self.filled[tc]  # re-rank inside cells after dropping
        self.filled += np.bincount(tc, minlength=self.cells.n)
        self.parts.append((cs, ss, tc, tr, tgc, trep))
        if not self.allow_overlap:
            self.taken = pd.concat([self.taken, pd.DataFrame({"chrom": cs, "start": ss, "end": ss + L})],
                                   ignore_index=True)

    def accepted(self) -> tuple[np.ndarray, ...]:
        """(chromosome index, start, cell, rank in cell, GC, repeat) of the accepted windows."""
        dtypes = (np.int64, np.int64, np.int64, np.int64, np.float64, np.float64)
        if not self.parts:
            return tuple(np.zeros(0, d) for d in dtypes)
        return tuple(np.concatenate(col) for col in zip(*self.parts))

    def shortfall(self, n_chroms: int) -> str:
        """Why the quotas were not all met, with the emptiest cells."""
        short = np.flatnonzero(self.filled < self.quota)
        desc = [f"{self.cells.label(ci)}: {int(self.filled[ci])}/{int(self.quota[ci])}"
                for ci in short[np.argsort(-(self.quota - self.filled)[short])][:6]]
        return (f"{self.drawn:,} candidate {self.cells.L}-bp windows drawn on {n_chroms} chromosome(s) "
                f"({self.rejected['n']:,} with too many N, {self.rejected['overlap']:,} overlapping positives/"
                f"exclusions/other negatives) did not fill {len(short)} (GC x repeat) bin(s); shortest: "
                f"{'; '.join(desc)}")


def _sequence_strategy(name, positives, genome, *, ratio, seed, kernel_key):
    pos = _check_positives(positives, genome)
    rng = np.random.default_rng(seed)
    idx = _allocate(len(pos), ratio, rng)
    lengths = (pos["end"] - pos["start"]).to_numpy()[idx]
    seqs = np.empty(len(idx), dtype=object)
    copy = np.zeros(len(idx), dtype=np.int64)  # k-th negative of the same positive
    if len(idx):
        first = np.searchsorted(idx, idx, side="left")
        copy = np.arange(len(idx)) - first
    seeds = (np.asarray(idx, dtype=np.uint64) * np.uint64(1_000_003) + copy.astype(np.uint64)
             + np.uint64(int(seed) % (2**62)) * np.uint64(0x9E3779B1))
    from bindscape.io.genome import decode

    for L in np.unique(lengths):
        sel = np.flatnonzero(lengths == L)
        codes = region_codes(genome, pos.iloc[idx[sel]])
        out = np.empty_like(codes)
        _kernels()[kernel_key](codes, seeds[sel], out)
        seqs[sel] = decode(out) if len(out) else []
    df = pos.iloc[idx][["chrom", "start", "end"]].reset_index(drop=True)
    df["pos_index"] = pos.index.to_numpy()[idx]
    df["sequence"] = seqs
    return _finish(df, name, [])


def shuffle(positives: pd.DataFrame, genome, *, ratio: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Mononucleotide shuffles of the positives (keeps base counts exactly): the negatives at their positives'
    coordinates, with ``pos_index`` and the shuffled ``sequence``; arguments as for every strategy (module doc)."""
    return _sequence_strategy("shuffle", positives, genome, ratio=ratio, seed=seed, kernel_key="mono")


def dinucleotide(positives: pd.DataFrame, genome, *, ratio: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Exact dinucleotide shuffles of the positives (Altschul-Erickson); output and arguments as `shuffle`."""
    return _sequence_strategy("dinucleotide", positives, genome, ratio=ratio, seed=seed, kernel_key="dinuc")


def neighbor(
    positives: pd.DataFrame, genome, *, ratio: float = 1.0, seed: int = 0, min_offset: int = 101,
    max_offset: int = 200, exclude: pd.DataFrame | None = None, blacklist: pd.DataFrame | None = None,
    max_n_frac: float = 0.0, tries: int = 20, on_short: str = "error",
) -> pd.DataFrame:
    """A window centred `min_offset`..`max_offset` bp up- or downstream (at random) of each positive's centre,
    of the positive's length, inside the chromosome, overlapping no positive (nor `exclude`/`blacklist`).

    Each negative gets up to `tries` random draws (offset and direction). Extra column ``offset``: signed
    distance from the positive's centre to the negative's centre.

    Parameters
    ----------
    positives, genome
        The positive windows (any lengths; each neighbour has its positive's length) and the `Genome`.
    ratio, seed, on_short
        As for every strategy (see the module doc).
    min_offset, max_offset, tries
        Distance range of the neighbour's centre and draws per negative.
    exclude, blacklist, max_n_frac
        Regions to avoid besides the positives, and the N fraction allowed.

    Returns
    -------
    pandas.DataFrame
        The negatives, with ``offset``.
    """

    if not 0 <= min_offset <= max_offset:
        raise ConfigError(f"need 0 <= min_offset <= max_offset, got {min_offset}, {max_offset}")
    pos = _check_positives(positives, genome)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    idx = _allocate(len(pos), ratio, rng)
    n = len(idx)
    length = (pos["end"] - pos["start"]).to_numpy()[idx]
    centre = ((pos["start"] + pos["end"]) // 2).to_numpy()[idx]
    chrom = pos["chrom"].to_numpy(dtype=object)[idx]
    avoid = [pos[["chrom", "start", "end"]]]
    avoid += [x[["chrom", "start", "end"]] for x in (exclude, blacklist) if x is not None and len(x)]
    avoid_df = pd.concat(avoid, ignore_index=True)
    done = np.zeros(n, dtype=bool)
    out_start = np.zeros(n, dtype=np.int64)
    out_off = np.zeros(n, dtype=np.int64)
    fails = {"overlap": 0, "edge": 0, "n": 0}
    for _ in range(max(1, tries)):
        todo = np.flatnonzero(~done)
        if not len(todo):
            break
        off = rng.integers(min_offset, max_offset + 1, size=len(todo)) * rng.choice([-1, 1], size=len(todo))
        c = centre[todo] + off
        st = c - length[todo] // 2
        cand = pd.DataFrame({"chrom": chrom[todo], "start": st, "end": st + length[todo]})
        ok = _in_genome(cand, genome)
        fails["edge"] += int((~ok).sum())
        ok2 = ok.copy()
        ok2[ok] = ~overlaps_any(cand.loc[ok], avoid_df)
        fails["overlap"] += int((ok & ~ok2).sum())
        if ok2.any():
            sub = cand.loc[ok2]
            nf = genome.n_fraction(sub["chrom"].to_numpy(), sub["start"].to_numpy(), sub["end"].to_numpy())
            good = nf <= max_n_frac
            fails["n"] += int((~good).sum())
            ok2[np.flatnonzero(ok2)[~good]] = False
        hit = todo[ok2]
        done[hit] = True
        out_start[hit] = st[ok2]
        out_off[hit] = off[ok2]
    df = pd.DataFrame({"chrom": chrom[done], "start": out_start[done], "end": out_start[done] + length[done],
                       "pos_index": pos.index.to_numpy()[idx[done]], "offset": out_off[done]})
    if (~done).any():
        why = (f"after {tries} draws each, {int((~done).sum()):,} positives had no neighbour window "
               f"{min_offset}-{max_offset} bp away free of positives/exclusions and N (rejected draws: "
               f"{fails['overlap']:,} overlapping, {fails['edge']:,} past a chromosome end, {fails['n']:,} with N)")
        if length.max() > 2 * min_offset:
            why += (f"; windows of {int(length.max())} bp are longer than twice min_offset, so every neighbour"
                    " overlaps its own positive: raise min_offset/max_offset")
        _short("neighbor", n, int(done.sum()), why, on_short, notes)
    return _finish(df, "neighbor", notes)


def _dinuc_freq(codes: np.ndarray) -> np.ndarray:
    """(n, 16) dinucleotide frequencies of code rows (pairs with N ignored)."""
    a, b = codes[:, :-1].astype(np.int64), codes[:, 1:].astype(np.int64)
    valid = (a < 4) & (b < 4)
    key = np.where(valid, a * 4 + b, 16) + 17 * np.arange(len(codes))[:, None]
    cnt = np.bincount(key.ravel(), minlength=17 * len(codes)).reshape(len(codes), 17)[:, :16].astype(np.float64)
    return cnt / np.maximum(cnt.sum(axis=1, keepdims=True), 1)


def cross_tf(
    positives: pd.DataFrame, genome, *, others: pd.DataFrame, ratio: float = 1.0, seed: int = 0,
    peaks: pd.DataFrame | None = None, margin: int = 0, max_n_frac: float = 0.0, on_short: str = "error",
) -> pd.DataFrame:
    """Peaks of other TFs in the same cell line as negatives (Tourne et al.'s "cell line" negatives).

    `others`: peaks (``chrom, start, end`` [, ``summit``, ``tf``]) of other TFs. Each becomes a window of the
    positives' length at its summit (or centre); windows overlapping this TF's positives or `peaks` (its full
    peak intervals; plus `margin`) or holding N are dropped, duplicates merged. Each requested negative is
    then matched one-to-one to a positive: the unused candidate nearest in dinucleotide composition
    (Euclidean distance between 16-dim dinucleotide frequencies; positives in random order). Extra columns:
    ``source_tf`` (the other TF) and ``dinuc_dist``.

    Parameters
    ----------
    positives, genome
        The positive windows (one length) and the `Genome`.
    others, peaks, margin
        Other TFs' peaks; this TF's full peaks and the margin around what is avoided.
    ratio, seed, on_short
        Negatives per positive, random seed, and what a shortfall does (see the module doc).
    max_n_frac
        Largest N fraction of a window.

    Returns
    -------
    pandas.DataFrame
        The negatives, with ``source_tf`` and ``dinuc_dist``.
    """
    pos, L = _one_length(positives, genome, "cross_tf")
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    if others is None or len(others) == 0:
        raise InputError("cross_tf needs the peaks of other TFs (others=...)")
    oth = others[others["chrom"].isin(genome.sizes)].reset_index(drop=True)
    cand, codes, n_overlap = _cross_tf_candidates(oth, pos, genome, L, peaks=peaks, margin=margin,
                                                  max_n_frac=max_n_frac)
    idx = _allocate(len(pos), ratio, rng)
    n = len(idx)
    if len(cand) == 0 or n == 0:
        _short("cross_tf", n, 0, f"none of {len(oth):,} other-TF peaks is usable ({n_overlap:,} overlap this TF's "
               "positives)", on_short, notes)
        return _finish(_empty_frame(), "cross_tf", notes)
    fp = _dinuc_freq(region_codes(genome, pos, length=L))
    choice, dist = _nearest_unused(_dinuc_freq(codes), fp[idx], rng.permutation(n))
    got = choice >= 0
    df = cand.iloc[choice[got]].reset_index(drop=True)
    df["pos_index"] = pos.index.to_numpy()[idx[got]]
    df["dinuc_dist"] = dist[got]
    df = df.sort_values("pos_index", kind="stable").reset_index(drop=True)
    _short("cross_tf", n, len(df), f"only {len(cand):,} usable other-TF windows ({len(oth):,} peaks; {n_overlap:,} "
           "overlap this TF's positives; duplicates and N windows removed)", on_short, notes)
    return _finish(df, "cross_tf", notes)


def _cross_tf_candidates(oth, pos, genome, L: int, *, peaks, margin, max_n_frac):
    """(windows, their codes, how many overlapped the TF's positives/peaks) from other TFs' peaks."""
    cand = _windows_at(oth["chrom"], _centres(oth), L)
    cand["source_tf"] = oth["tf"].astype(str).to_numpy() if "tf" in oth else "other"
    cand = cand[_in_genome(cand, genome)]
    avoid = [pos[["chrom", "start", "end"]]] + ([peaks[["chrom", "start", "end"]]] if peaks is not None else [])
    n0 = len(cand)
    cand = cand[~overlaps_any(cand, pd.concat(avoid, ignore_index=True), margin=margin)]
    n_overlap = n0 - len(cand)
    cand = cand.drop_duplicates(["chrom", "start", "end"]).reset_index(drop=True)
    codes = region_codes(genome, cand, length=L) if len(cand) else np.zeros((0, L), np.uint8)
    nok = (codes == 4).mean(axis=1) <= max_n_frac if len(cand) else np.zeros(0, bool)
    return cand[nok].reset_index(drop=True), codes[nok], n_overlap


def _nearest_unused(fc: np.ndarray, fq: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching: query rows `fq` in `order` each take the nearest unused row of `fc`.

    Returns (chosen row of `fc` or -1, Euclidean distance or NaN) per query row."""
    from scipy.spatial import cKDTree

    tree = cKDTree(fc)
    n, n_cand = len(fq), len(fc)
    used = np.zeros(n_cand, dtype=bool)
    choice = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    m = min(n_cand, n)
    k = min(n_cand, 8)
    todo = order[:]
    while len(todo) and used.sum() < n_cand and (choice >= 0).sum() < m:
        d, j = tree.query(fq[todo], k=k)
        d, j = d.reshape(len(todo), -1), j.reshape(len(todo), -1)
        left = []
        for t, row_d, row_j in zip(todo, d, j):  # greedy, positives in random order
            free = ~used[row_j]
            if free.any():
                f = int(np.argmax(free))
                used[row_j[f]] = True
                choice[t], dist[t] = row_j[f], row_d[f]
            else:
                left.append(t)
        todo = np.asarray(left, dtype=np.int64)
        if k == n_cand:
            break
        k = min(n_cand, k * 4)
    return choice, dist


def accessible(
    positives: pd.DataFrame, genome, *, accessible: pd.DataFrame, ratio: float | None = None, seed: int = 0,
    peaks: pd.DataFrame | None = None, margin: int = 0, max_n_frac: float = 0.0, on_short: str = "error",
) -> pd.DataFrame:
    """High-quality negatives: centres (summits) of accessibility peaks that overlap no peak of the TF.

    An accessibility peak is dropped when it, or the window at its centre, overlaps a positive window or
    `peaks` (the TF's full peaks) extended by `margin`. Windows have the positives' length. ``ratio=None``
    (default) keeps every usable one; a number samples ``round(ratio * n_positives)`` without replacement.

    Parameters
    ----------
    positives, genome
        The positive windows (one length) and the `Genome`.
    accessible, peaks, margin
        Accessibility peaks; this TF's full peaks and the margin around what is avoided.
    ratio, seed, on_short
        See above; random seed; what a shortfall does (see the module doc).
    max_n_frac
        Largest N fraction of a window.

    Returns
    -------
    pandas.DataFrame
        The negatives (``pos_index`` -1).
    """
    pos, L = _one_length(positives, genome, "accessible")
    notes: list[str] = []
    if accessible is None or len(accessible) == 0:
        raise InputError("accessible needs accessibility peaks (accessible=...)")
    acc = accessible[accessible["chrom"].isin(genome.sizes)].reset_index(drop=True)
    tf = pd.concat([pos[["chrom", "start", "end"]]] + ([peaks[["chrom", "start", "end"]]] if peaks is not None else []),
                   ignore_index=True)
    bound = overlaps_any(acc, tf, margin=margin)
    win = _windows_at(acc["chrom"], _centres(acc), L)
    bound |= overlaps_any(win, tf, margin=margin)
    keep = ~bound & _in_genome(win, genome)
    win = win[keep].drop_duplicates(["chrom", "start", "end"]).reset_index(drop=True)
    if len(win):
        nf = genome.n_fraction(win["chrom"].to_numpy(), win["start"].to_numpy(), win["end"].to_numpy())
        win = win[nf <= max_n_frac].reset_index(drop=True)
    if ratio is not None:
        n = int(round(ratio * len(pos)))
        if len(win) > n:
            pick = np.sort(np.random.default_rng(seed).choice(len(win), size=n, replace=False))
            win = win.iloc[pick].reset_index(drop=True)
        _short("accessible", n, len(win), f"only {len(win):,} of {len(acc):,} accessibility peaks are unbound "
               f"({int(bound.sum()):,} overlap the TF's peaks)", on_short, notes)
    win["pos_index"] = -1
    return _finish(win, "accessible", notes)


_FUNCS = {"genomic": genomic, "shuffle": shuffle, "dinucleotide": dinucleotide, "neighbor": neighbor,
          "cross_tf": cross_tf, "accessible": accessible}


def sample_negatives(strategy: str, positives: pd.DataFrame, genome, *, ratio: float | None = 1.0, seed: int = 0,
                     **options) -> pd.DataFrame:
    """Negatives for `positives` by the named strategy (one of `STRATEGIES`); see the module docstring.

    `options` are passed to the strategy's function (e.g. ``gc_bin_width=``, ``others=``, ``accessible=``);
    an option the strategy does not take is an error naming the ones it does.

    Parameters
    ----------
    strategy
        Strategy name (aliases allowed, see `parse_strategies`).
    positives, genome
        The positive windows and the `Genome`.
    ratio
        Negatives per positive (None: every candidate; ``accessible`` only).
    seed
        Seed of the strategy's draws.
    **options
        The strategy's own keyword options.

    Returns
    -------
    pandas.DataFrame
        The negatives, as the strategy returns them.
    """
    import inspect

    (name,) = parse_strategies([strategy])
    func = _FUNCS[name]
    params = inspect.signature(func).parameters
    bad = [k for k in options if k not in params]
    if bad:
        allowed = [p for p in params if p not in ("positives", "genome")]
        raise ConfigError(f"negative strategy {name!r} takes no option(s) {', '.join(bad)}",
                          hint=f"its options: {', '.join(allowed)}")
    if ratio is None and name != "accessible":
        raise ConfigError(f"ratio=None (all candidates) only applies to 'accessible', not {name!r}")
    return func(positives, genome, ratio=ratio, seed=seed, **options)

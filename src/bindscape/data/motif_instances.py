"""Motif-instance datasets (AgentBind, Zheng et al. 2021): bound vs unbound matches of one TF's motif.

Every match of the motif (p < `pvalue`, both strands) in the genome, or in `regions`, is a candidate. A
match is **bound** when it lies fully within a ChIP peak of the TF (peaks optionally widened by
`peak_flank` bp on both sides, for ChIP-exo / summit files of 1-bp peaks) and **unbound** when it does not
touch any peak; matches that straddle a peak edge are ambiguous and dropped. A match found on both strands
at the same place counts once (the strand with the smaller p-value).

Each instance becomes a window of `length` bp centred on the match. Classes are balanced and matched on
-log10 p in bins of `bin_width`: in every bin the same number of bound and unbound instances is drawn (the
smaller of the two counts). With `gc_control`, bound and unbound instances are also paired within each bin
on the GC content of their windows (greedy nearest GC, at most `gc_tolerance` apart) -- "GC-controlled".
With `accessible` regions only matches inside them are used -- "accessibility-controlled". `mask_core`
is recorded with the dataset and honoured by `fetch_instances`, which writes N over the motif match.

Rows have chrom, start, end (the window), label (int8), strand (of the match), motif, motif_id, score, p,
neglog10p, p_bin, gc, core_start, core_end (the match relative to the window start, forward strand) and
source ('bound'/'unbound').
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError, NotEnoughDataError
from bindscape.motifs.load import DEFAULT_RELEASE, Motif, load_motif
from bindscape.motifs.scan import DEFAULT_PSEUDOCOUNT, open_genome, scan_genome

BUILDER = "motif-instances"


def _as_intervals(obj, sizes, what: str) -> pd.DataFrame:
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame):
        df = obj
    else:
        from bindscape.io.bed import read_peaks

        df = read_peaks(obj, sizes=sizes)
    for c in ("chrom", "start", "end"):
        if c not in df:
            raise InputError(f"{what}: table lacks column {c!r}")
    df = df[["chrom", "start", "end"]].copy()
    df["chrom"] = df["chrom"].astype(str)
    unknown = sorted(set(df["chrom"]) - set(sizes))
    if unknown:
        from bindscape.io.chroms import check_chroms

        check_chroms(df, sizes, source=what)
    return df


def _merged(df: pd.DataFrame, flank: int, sizes) -> pd.DataFrame:
    from bindscape.io.ranges import merge

    d = df.copy()
    d["start"] = np.maximum(d["start"].to_numpy(np.int64) - flank, 0)
    d["end"] = d["end"].to_numpy(np.int64) + flank
    d["end"] = np.minimum(d["end"].to_numpy(), d["chrom"].map(sizes).to_numpy(np.int64))
    return merge(d)


def _within(hits: pd.DataFrame, merged: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(fully inside some merged interval, overlaps some merged interval) for each hit."""
    inside = np.zeros(len(hits), dtype=bool)
    touch = np.zeros(len(hits), dtype=bool)
    if len(merged) == 0 or len(hits) == 0:
        return inside, touch
    hc = hits["chrom"].astype(str).to_numpy()
    hs = hits["start"].to_numpy(np.int64)
    he = hits["end"].to_numpy(np.int64)
    for chrom, sub in merged.groupby("chrom", sort=False):
        sel = np.flatnonzero(hc == chrom)
        if not len(sel):
            continue
        ms = sub["start"].to_numpy(np.int64)
        me = sub["end"].to_numpy(np.int64)
        o = np.argsort(ms)
        ms, me = ms[o], me[o]
        # merged intervals are disjoint: the candidate is the last one starting at or before the hit start
        i = np.searchsorted(ms, hs[sel], side="right") - 1
        ok = i >= 0
        ic = np.clip(i, 0, None)
        inside[sel] = ok & (me[ic] >= he[sel])
        # overlap with interval i (start <= hit start < end) or i + 1 (starts before hit end)
        t1 = ok & (me[ic] > hs[sel])
        j = np.clip(i + 1, 0, len(ms) - 1)
        t2 = (i + 1 < len(ms)) & (ms[j] < he[sel])
        touch[sel] = t1 | t2
    return inside, touch


def _match_gc(pos_gc: np.ndarray, neg_gc: np.ndarray, tol: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Greedy nearest-GC pairs (positive index, negative index), each used once, |dGC| <= tol."""
    order_n = np.argsort(neg_gc, kind="mergesort")
    ng = neg_gc[order_n]
    used = np.zeros(len(ng), dtype=bool)
    pi, ni = [], []
    for p in rng.permutation(len(pos_gc)):
        g = pos_gc[p]
        k = int(np.searchsorted(ng, g))
        left, right = k - 1, k
        while left >= 0 and used[left]:
            left -= 1
        while right < len(ng) and used[right]:
            right += 1
        cands = [c for c in (left, right) if 0 <= c < len(ng)]
        if not cands:
            break
        best = min(cands, key=lambda c: (abs(ng[c] - g), c))
        if abs(ng[best] - g) > tol:
            continue
        used[best] = True
        pi.append(p)
        ni.append(order_n[best])
    return np.asarray(pi, dtype=np.int64), np.asarray(ni, dtype=np.int64)


def build_motif_instances(
    genome, motif, peaks, *, length: int = 1000, pvalue: float = 1e-4, bin_width: float = 0.1,
    gc_control: bool = False, accessible=None, mask_core: bool = False, seed: int = 0, regions=None,
    peak_flank: int = 0, gc_tolerance: float = 0.02, pseudocount: float = DEFAULT_PSEUDOCOUNT, species=None,
    release=DEFAULT_RELEASE, chroms=None, cache_dir=None,
) -> pd.DataFrame:
    """Bound/unbound motif instances, balanced and matched on -log10 p (see the module doc).

    `genome`: FASTA path or Genome; `motif`: Motif, JASPAR ID, TF name (with `species`) or motif file;
    `peaks`: DataFrame or peak file (BED/narrowPeak); `accessible`, `regions`: DataFrames or BED files.
    Returns the regions table (no split column); ``.attrs['params']`` holds the parameters to store with
    the dataset and ``.attrs['stats']`` the candidate counts before matching.

    Parameters
    ----------
    genome, motif, peaks
        See above.
    length, pvalue, bin_width
        Window length, match p-value threshold and the width of the -log10 p bins classes are matched in.
    gc_control, gc_tolerance
        Also pair bound and unbound instances on window GC (at most `gc_tolerance` apart).
    accessible, regions, chroms
        Use only matches inside accessible regions / scan only `regions` / only these chromosomes.
    mask_core
        Recorded for `fetch_instances` (N over the match).
    peak_flank
        Widen peaks by this many bp on both sides.
    pseudocount, species, release
        Motif loading and scoring options.
    seed, cache_dir
        Random seed; genome cache folder.

    Returns
    -------
    pandas.DataFrame
        The instances (see the module doc for the columns).
    """
    if length <= 0:
        raise ConfigError(f"--length must be > 0, got {length}")
    if bin_width <= 0:
        raise ConfigError(f"--bin-width must be > 0, got {bin_width}")
    if peak_flank < 0:
        raise ConfigError(f"--peak-flank must be >= 0, got {peak_flank}")
    g = open_genome(genome, cache_dir=cache_dir)
    sizes = {str(k): int(v) for k, v in (g.sizes.items() if hasattr(g.sizes, "items") else zip(g.chroms, g.sizes))}
    m = motif if isinstance(motif, Motif) else load_motif(motif, species=species, release=release)
    if m.width > length:
        raise ConfigError(f"motif {m.label} ({m.width} bp) is longer than the window ({length} bp)")
    pk = _as_intervals(peaks, sizes, "peaks")
    acc = _as_intervals(accessible, sizes, "accessible regions")
    reg = _as_intervals(regions, sizes, "regions")

    hits = scan_genome(m, g, pvalue=pvalue, pseudocount=pseudocount, regions=reg, chroms=chroms)
    n_hits = len(hits)
    # one instance per place: the strand with the smaller p-value (then '+')
    hits = hits.sort_values(["p", "strand"], kind="mergesort").drop_duplicates(["chrom", "start", "end"])
    hits = hits.sort_values(["chrom", "start"], kind="mergesort").reset_index(drop=True)
    hits["chrom"] = hits["chrom"].astype(str)
    cand, stats = _labelled_candidates(hits, n_hits, pk, acc, sizes, m, length=length, peak_flank=peak_flank)
    with np.errstate(divide="ignore"):
        cand["neglog10p"] = -np.log10(cand["p"].to_numpy())
    cand["p_bin"] = np.floor(cand["neglog10p"].to_numpy() / bin_width + 1e-9).astype(np.int64)
    cand["gc"] = g.gc_fraction(cand["chrom"].to_numpy(), cand["win_start"].to_numpy(), cand["win_end"].to_numpy()) \
        if hasattr(g, "gc_fraction") else np.nan
    cand = cand.reset_index(drop=True)

    sel = _balanced(cand, np.random.default_rng(seed), gc_control=gc_control, gc_tolerance=gc_tolerance)
    if not len(sel):
        raise NotEnoughDataError(f"no -log10 p bin of width {bin_width} holds both bound and unbound matches",
                                 hint="use a wider --bin-width or a less strict --pvalue")
    df = _instance_rows(cand.loc[np.sort(sel)], m, sizes)
    stats.update(bound=int((df["label"] == 1).sum()), unbound=int((df["label"] == 0).sum()))
    df.attrs["params"] = motif_instance_params(
        motif=m, length=length, pvalue=pvalue, bin_width=bin_width, gc_control=gc_control,
        accessible=accessible, mask_core=mask_core, regions=regions, peak_flank=peak_flank,
        gc_tolerance=gc_tolerance, pseudocount=pseudocount, peaks=peaks, seed=seed)
    df.attrs["stats"] = stats
    return df


def _labelled_candidates(hits, n_hits, pk, acc, sizes, m: Motif, *, length: int, peak_flank: int):
    """(bound and unbound matches with their windows and ``label``, candidate counts); errors when a class is
    empty."""
    hs = hits["start"].to_numpy(np.int64)
    he = hits["end"].to_numpy(np.int64)
    centre = (hs + he) // 2
    ws = centre - length // 2
    we = ws + length
    csize = hits["chrom"].map(sizes).to_numpy(np.int64)
    fits = (ws >= 0) & (we <= csize)

    inside, touch = _within(hits, _merged(pk, int(peak_flank), sizes))
    keep = fits
    if acc is not None:
        acc_in, _ = _within(hits, _merged(acc, 0, sizes))
        keep = keep & acc_in
    bound = keep & inside
    unbound = keep & ~touch
    stats = {"hits": int(n_hits), "instances": int(len(hits)), "bound_candidates": int(bound.sum()),
             "unbound_candidates": int(unbound.sum()), "ambiguous": int((keep & touch & ~inside).sum()),
             "off_chromosome_end": int((~fits).sum())}
    if not bound.any():
        widths = (pk["end"] - pk["start"]).to_numpy() if len(pk) else np.zeros(1)
        hint = (f"the peaks are narrow (median {int(np.median(widths))} bp): widen them with --peak-flank"
                if np.median(widths) < 2 * m.width else "check that the peaks and the motif belong to the same TF")
        raise NotEnoughDataError(f"no motif match of {m.label} lies inside a peak ({n_hits} matches)", hint=hint)
    if not unbound.any():
        raise NotEnoughDataError(f"every match of {m.label} touches a peak: no unbound instances")
    cand = hits.assign(win_start=ws, win_end=we)[bound | unbound].copy()
    cand["label"] = bound[bound | unbound].astype(np.int8)
    return cand, stats


def _balanced(cand: pd.DataFrame, rng, *, gc_control: bool, gc_tolerance: float) -> np.ndarray:
    """Rows of `cand` drawn so every -log10 p bin holds as many bound as unbound instances."""
    chosen_pos, chosen_neg = [], []
    lab = cand["label"].to_numpy()
    for _bin, sub in cand.groupby("p_bin", sort=True):
        idx = sub.index.to_numpy()
        pos = idx[lab[idx] == 1]
        neg = idx[lab[idx] == 0]
        if not len(pos) or not len(neg):
            continue
        if gc_control:
            gp = cand["gc"].to_numpy()[pos]
            gn = cand["gc"].to_numpy()[neg]
            okp, okn = ~np.isnan(gp), ~np.isnan(gn)
            pi, ni = _match_gc(gp[okp], gn[okn], gc_tolerance, rng)
            chosen_pos.append(pos[okp][pi])
            chosen_neg.append(neg[okn][ni])
        else:
            n = min(len(pos), len(neg))
            chosen_pos.append(rng.choice(pos, n, replace=False) if n < len(pos) else pos)
            chosen_neg.append(rng.choice(neg, n, replace=False) if n < len(neg) else neg)
    return np.concatenate(chosen_pos + chosen_neg) if chosen_pos else np.zeros(0, dtype=np.int64)


def _instance_rows(out: pd.DataFrame, m: Motif, sizes: dict[str, int]) -> pd.DataFrame:
    """The regions table of the chosen instances, in genome order."""
    df = pd.DataFrame({
        "chrom": out["chrom"].to_numpy(dtype=object),
        "start": out["win_start"].to_numpy(np.int64),
        "end": out["win_end"].to_numpy(np.int64),
        "label": out["label"].to_numpy(np.int8),
        "strand": out["strand"].to_numpy(dtype=object),
        "tf": m.name,
        "motif": m.name,
        "motif_id": m.id or m.name,
        "score": out["score"].to_numpy(np.float64),
        "p": out["p"].to_numpy(np.float64),
        "neglog10p": out["neglog10p"].to_numpy(np.float64),
        "p_bin": out["p_bin"].to_numpy(np.int64),
        "gc": np.asarray(out["gc"], dtype=np.float64),
        "core_start": (out["start"] - out["win_start"]).to_numpy(np.int64),
        "core_end": (out["end"] - out["win_start"]).to_numpy(np.int64),
        "source": np.where(out["label"].to_numpy() == 1, "bound", "unbound"),
    })
    order = {c: i for i, c in enumerate(sizes)}
    df = df.assign(_o=df["chrom"].map(order)).sort_values(["_o", "start", "end", "label"], kind="mergesort")
    return df.drop(columns="_o").reset_index(drop=True)


def motif_instance_params(*, motif: Motif, peaks=None, accessible=None, regions=None, **kw) -> dict:
    """The parameters stored in dataset.json for a motif-instance dataset.

    Parameters
    ----------
    motif
        The scanned motif (label, id, source and width are stored).
    peaks, accessible, regions
        Paths (stored resolved) or tables (stored as a short description) of the inputs; None if unused.
    **kw
        Further build parameters, stored as given (floats as plain floats).

    Returns
    -------
    dict
    """
    def _src(x):
        if x is None:
            return None
        return str(Path(x).resolve()) if isinstance(x, (str, Path)) else f"<table of {len(x)} intervals>"

    return {
        "motif": motif.label, "motif_id": motif.id, "motif_source": motif.source, "motif_width": motif.width,
        "peaks": _src(peaks), "accessible": _src(accessible), "regions": _src(regions),
        **{k: (float(v) if isinstance(v, float) else v) for k, v in kw.items()},
    }


def fetch_instances(genome, regions: pd.DataFrame, *, mask_core: bool | None = None, orient: bool = False,
                    onehot: bool = True):
    """Sequences of instance windows: one-hot (N, 4, L) float32, or uint8 codes with `onehot=False`.

    `mask_core` writes N over the motif match (default: the dataset's ``mask_core`` parameter when the
    table carries it in ``attrs['params']``, else False). `orient` reverse-complements rows whose match is
    on the '-' strand, so every motif reads forward.

    Parameters
    ----------
    genome
        A FASTA path, a Genome, or a dict of in-memory sequences.
    regions
        Instance windows (all the same length) with ``chrom, start, end`` (+ ``strand``, ``core_start``,
        ``core_end``).
    mask_core
        Write N over the match (None: from ``regions.attrs['params']``).
    orient
        Reverse-complement '-' strand rows.
    onehot
        Return one-hot instead of base codes.

    Returns
    -------
    numpy.ndarray
        ``(N, 4, L)`` float32 one-hot, or ``(N, L)`` uint8 codes.
    """
    g = open_genome(genome)
    if mask_core is None:
        mask_core = bool(regions.attrs.get("params", {}).get("mask_core", False))
    lengths = (regions["end"] - regions["start"]).unique()
    if len(lengths) != 1:
        raise InputError("instance windows must all have the same length")
    L = int(lengths[0])
    rc = (regions["strand"].to_numpy() == "-") if orient else None
    codes = g.fetch_codes(regions["chrom"].to_numpy(), regions["start"].to_numpy(), L, rc=rc)
    if mask_core:
        cs = regions["core_start"].to_numpy(np.int64)
        ce = regions["core_end"].to_numpy(np.int64)
        if rc is not None:
            cs, ce = np.where(rc, L - ce, cs), np.where(rc, L - cs, ce)
        pos = np.arange(L)[None, :]
        codes[(pos >= cs[:, None]) & (pos < ce[:, None])] = 4
    if not onehot:
        return codes
    from bindscape.io.genome import onehot as _onehot

    return _onehot(codes)


def write_motif_instances(out_dir, regions: pd.DataFrame, genome, *, seed: int = 0) -> Path:
    """Write a motif-instance table (with or without splits) as a dataset folder.

    Parameters
    ----------
    out_dir
        The dataset folder.
    regions
        The instance table; its ``attrs['params']`` and ``attrs['stats']`` go into dataset.json.
    genome
        A FASTA path, a Genome, or a dict of in-memory sequences (recorded in dataset.json).
    seed
        The build seed, recorded.

    Returns
    -------
    Path
        `out_dir`.
    """
    from bindscape.data.dataset import write_dataset

    g = open_genome(genome)
    return write_dataset(out_dir, regions, builder=BUILDER, params=regions.attrs.get("params", {}), seed=seed,
                         genome=g, extra={"stats": regions.attrs.get("stats", {})})


def pbin_histograms(regions: pd.DataFrame) -> pd.DataFrame:
    """Counts per -log10 p bin and label (a check that the classes are matched).

    Parameters
    ----------
    regions
        Instance table with ``p_bin`` and ``label`` columns.

    Returns
    -------
    pandas.DataFrame
        Rows: p bins; columns: labels; values: counts.
    """
    return regions.groupby(["p_bin", "label"]).size().unstack(fill_value=0)


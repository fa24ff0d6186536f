"""Scanning DNA with PWMs: log-odds scores on both strands and exact p-values, FIMO's way.

The engine is memelite's numba FIMO kernel (`memelite.fimo._fast_hits` and its helpers), called directly on
bindscape's uint8 genome codes (A=0, C=1, G=2, T=3, N=4) so that no FASTA is parsed and no one-hot array
is built. The p-value of a score comes from the exact distribution of the motif's integer-binned scores
(bins of `bin_size` bits) under the background, computed by dynamic programming, as FIMO and memelite do:
a window is a hit when its score is above the smallest bin whose survival probability is below the
threshold, and its p-value is that of the bin its score falls in. With the same log-odds matrices the hits
and p-values are those of `memelite.fimo.fimo`.

Genome scans stream: chromosomes are cut into pieces of at most `chunk_size` bp overlapping by
(widest motif - 1) bp and batched, so memory stays at about 5 bytes per bp of one chunk.

Scores are in bits (log2 odds). Coordinates are 0-based half-open on the forward strand; `strand` says which
strand the motif was read on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError
from bindscape.motifs.load import Motif, as_background

DEFAULT_PVALUE = 1e-4
DEFAULT_PSEUDOCOUNT = 0.1
DEFAULT_BIN = 0.1
DEFAULT_CHUNK = 1 << 24  # 16.8 Mb per kernel call

HIT_COLUMNS = ["chrom", "start", "end", "strand", "score", "p", "motif", "motif_id"]

# bytes -> codes (A=0, C=1, G=2, T=3, anything else N=4), case-insensitive
_LUT = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
_COMP = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode(seq: str) -> np.ndarray:
    """A DNA string as uint8 codes (A=0, C=1, G=2, T=3, N=4).

    Parameters
    ----------
    seq
        DNA, case-insensitive; other characters become N.

    Returns
    -------
    numpy.ndarray
        ``(len(seq),)`` uint8.
    """
    return _LUT[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


def onehot_to_codes(x: np.ndarray) -> np.ndarray:
    """(N, 4, L) one-hot -> (N, L) uint8 codes; all-zero (or ambiguous) columns are N.

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot (a single ``(4, L)`` sequence is taken as N = 1); each column's largest
        channel is its base, and a column whose largest value is <= 0 is N.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` uint8 codes.
    """
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] != 4:
        raise InputError(f"one-hot sequences must have shape (N, 4, L), got {x.shape}")
    codes = x.argmax(axis=1).astype(np.uint8)
    codes[x.max(axis=1) <= 0] = 4
    return codes


# ---------------------------------------------------------------------------------------------
# motifs -> log-odds matrices and p-value tables
# ---------------------------------------------------------------------------------------------

def as_pwms(motifs, pseudocount: float = DEFAULT_PSEUDOCOUNT, background=None):
    """Normalise motif input to a list of (name, id, forward log2-odds (4, W), reverse log2-odds).

    `motifs` is a Motif, a list of Motifs, or a dict {name: (4, W) log2-odds array} (taken as is).

    Parameters
    ----------
    motifs
        See above.
    pseudocount
        Pseudo-sites for Motif log-odds (`Motif.to_pwm`); must leave them finite.
    background
        A, C, G, T background for Motif log-odds (None: uniform).

    Returns
    -------
    list[tuple[str, str, numpy.ndarray, numpy.ndarray]]
        One entry per motif (a dict entry's name is also its id).
    """
    if isinstance(motifs, Motif):
        motifs = [motifs]
    out = []
    if isinstance(motifs, dict):
        for name, pwm in motifs.items():
            pwm = np.asarray(pwm, dtype=np.float64)
            if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] == 0:
                raise InputError(f"motif {name!r}: log-odds matrix must have shape (4, W), got {pwm.shape}")
            if not np.isfinite(pwm).all():
                raise InputError(f"motif {name!r}: log-odds matrix has non-finite entries",
                                 hint="use a pseudocount > 0")
            out.append((str(name), str(name), pwm, np.ascontiguousarray(pwm[::-1, ::-1])))
        return out
    motifs = list(motifs)
    if not motifs:
        raise ConfigError("no motifs given")
    for m in motifs:
        if not isinstance(m, Motif):
            raise ConfigError(f"expected Motif objects or a dict of log-odds matrices, got {type(m).__name__}")
        fwd = m.to_pwm(pseudocount, background)
        rev = m.reverse_complement().to_pwm(pseudocount, background)
        if not (np.isfinite(fwd).all() and np.isfinite(rev).all()):
            raise InputError(f"motif {m.label!r}: zero frequencies give -inf log-odds", hint="use a pseudocount > 0")
        out.append((m.name, m.id or m.name, fwd, rev))
    return out


def _mapping_range(ip: np.ndarray) -> tuple[int, int]:
    """memelite's `_mapping_range`: smallest and largest bins reachable by a prefix, + width slack."""
    mins = np.cumsum(ip.min(axis=0))
    maxs = np.cumsum(ip.max(axis=0))
    return int(mins.min()), int(maxs.max()) + ip.shape[1]


def pvalue_table(pwm: np.ndarray, bin_size: float = DEFAULT_BIN, background=None) -> tuple[int, np.ndarray]:
    """The exact score distribution of a log-odds matrix under the background, binned.

    Returns (smallest, log2_sf): `log2_sf[j]` is log2 P(binned score >= smallest + j) for a random
    sequence drawn from the background. Each entry is rounded to the bin grid first, as FIMO/memelite do.

    Parameters
    ----------
    pwm
        (4, W) log2-odds matrix.
    bin_size
        Width of a score bin (bits).
    background
        A, C, G, T frequencies of the random sequence (None: uniform).

    Returns
    -------
    tuple[int, numpy.ndarray]
        ``smallest`` in bin units and the log2 survival function, one entry per bin.
    """
    bg = as_background(background)
    ip = np.round(np.asarray(pwm, dtype=np.float64) / bin_size).astype(np.int64)
    smallest, largest = _mapping_range(ip)
    size = largest - smallest + 1
    pdf = np.zeros(size)
    for k in range(4):
        pdf[ip[k, 0] - smallest] += bg[k]
    lo = hi = 0
    lo = int(ip[:, 0].min()) - smallest
    hi = int(ip[:, 0].max()) - smallest
    for i in range(1, ip.shape[1]):
        new = np.zeros(size)
        seg = pdf[lo : hi + 1]
        for k in range(4):
            s = int(ip[k, i])
            new[lo + s : hi + s + 1] += bg[k] * seg
        lo += int(ip[:, i].min())
        hi += int(ip[:, i].max())
        pdf = new
    sf = np.cumsum(pdf[::-1])[::-1]
    with np.errstate(divide="ignore"):
        return smallest, np.log2(sf)


def threshold_from_table(smallest: int, log2_sf: np.ndarray, pvalue: float, bin_size: float = DEFAULT_BIN, *,
                         inclusive: bool = False, clamp: bool = False) -> float:
    """The score threshold of a p-value from a `pvalue_table`.

    Parameters
    ----------
    smallest, log2_sf
        What `pvalue_table` returned.
    pvalue
        The p-value threshold.
    bin_size
        The bin size the table was built with (bits).
    inclusive
        False (FIMO's rule, used by `Scanner`): the first bin whose survival probability is below `pvalue`.
        True: the first bin whose survival probability is at most `pvalue` (the simulator's site threshold).
    clamp
        When no reachable score passes, return the highest reachable score (only the best possible sites
        pass) instead of the first unreachable bin (no site passes). The simulator's site threshold does.

    Returns
    -------
    float
        The smallest passing score (bits), or inf when no score passes.
    """
    log_t = math.log2(pvalue)
    passing = np.flatnonzero(log2_sf <= log_t if inclusive else log2_sf < log_t)
    if clamp:
        top = int(np.flatnonzero(log2_sf > -np.inf)[-1])  # the highest reachable bin
        passing = passing[passing <= top] if len(passing) and passing[0] <= top else np.array([top])
    if not len(passing):
        return math.inf
    return float((passing[0] + smallest) * bin_size)


def score_threshold(pwm: np.ndarray, pvalue: float, *, bin_size: float = DEFAULT_BIN, background=None,
                    inclusive: bool = False, clamp: bool = False) -> float:
    """The smallest log-odds score whose exact p-value passes `pvalue` (see `threshold_from_table`).

    Parameters
    ----------
    pwm
        (4, W) log2-odds matrix.
    pvalue
        The p-value threshold.
    bin_size
        Score bin size (bits) of the exact distribution.
    background
        Background frequencies (see `as_background`); None is uniform.
    inclusive, clamp
        See `threshold_from_table`.

    Returns
    -------
    float
        The threshold score (bits); inf when no score passes.
    """
    smallest, log2_sf = pvalue_table(pwm, bin_size, background)
    return threshold_from_table(smallest, log2_sf, pvalue, bin_size, inclusive=inclusive, clamp=clamp)


def window_scores(codes: np.ndarray, pwm: np.ndarray, *, n_score: float = 0.0, dtype=np.float64) -> np.ndarray:
    """Log-odds score of every window of one strand: ``sum_j pwm[codes[..., i + j], j]``.

    Parameters
    ----------
    codes
        (L,) or (N, L) uint8 codes (A=0, C=1, G=2, T=3, N=4).
    pwm
        (4, W) log2-odds matrix (use the reverse complement's matrix for the minus strand).
    n_score
        Score of an N base.
    dtype
        Accumulator dtype (columns are added left to right in this dtype).

    Returns
    -------
    np.ndarray
        (..., L - W + 1) scores.
    """
    pwm = np.asarray(pwm)
    w = pwm.shape[1]
    m = codes.shape[-1] - w + 1
    table = np.concatenate([pwm, np.full((1, w), n_score)]).astype(dtype)
    out = np.zeros(codes.shape[:-1] + (max(m, 0),), dtype=dtype)
    for j in range(w):
        out += table[codes[..., j : j + m], j]
    return out


_KERNEL_NAMES = ("_qmer_width", "_qmer_codes", "_wide_codes", "_score_bounds", "_block_layout", "_wide_layout",
                 "_wide_choice", "_fast_hits", "_WIDE_RATE")


def _memelite_kernel():
    """memelite.fimo's module when it has the kernel this scanner drives (memelite 0.5), else None."""
    import importlib
    import warnings

    try:
        mf = importlib.import_module("memelite.fimo")
    except ImportError:
        mf = None
    if mf is None or not all(hasattr(mf, n) for n in _KERNEL_NAMES):
        warnings.warn("memelite's FIMO kernel (memelite 0.5) is not available; scanning with the slower "
                      "numpy reference scanner", RuntimeWarning, stacklevel=3)
        return None
    return mf


@dataclass
class _Prepared:
    names: list[str]
    ids: list[str]
    widths: np.ndarray  # (n,) forward widths
    pwms: np.ndarray  # (4, total) log-odds, all forward strands then all reverse strands (memelite order)
    lengths: np.ndarray  # uint64 cumulative widths, (2n + 1,) (or n + 1 with one strand)
    smallest: np.ndarray  # int64
    table_offsets: np.ndarray  # int64
    tables: np.ndarray  # float64 log2 survival, concatenated
    thresholds: np.ndarray  # float32 score thresholds (inf: unreachable)
    bin_size: float
    both: bool


class Scanner:
    """Motifs prepared for scanning: log-odds on both strands, p-value tables, score thresholds.

    Build once, scan many sequences or chunks (`scan_codes`). `pvalue` is the reporting threshold.
    """

    def __init__(self, motifs, *, pvalue: float = DEFAULT_PVALUE, pseudocount: float = DEFAULT_PSEUDOCOUNT,
                 background=None, bin_size: float = DEFAULT_BIN, both_strands: bool = True):
        if not 0 < pvalue <= 1:
            raise ConfigError(f"p-value threshold must be in (0, 1], got {pvalue}")
        if bin_size <= 0:
            raise ConfigError(f"bin size must be > 0, got {bin_size}")
        self.pvalue = float(pvalue)
        self.background = as_background(background)
        entries = as_pwms(motifs, pseudocount, background)
        names = [e[0] for e in entries]
        ids = [e[1] for e in entries]
        mats = [e[2] for e in entries] + ([e[3] for e in entries] if both_strands else [])
        lengths = np.cumsum([0] + [m.shape[1] for m in mats]).astype(np.uint64)
        pwms = np.concatenate(mats, axis=1).astype(np.float64)
        smallest, tables = zip(*(pvalue_table(m, bin_size, self.background) for m in mats))
        offsets = np.cumsum([0] + [len(t) for t in tables]).astype(np.int64)
        smallest = np.array(smallest, dtype=np.int64)
        thresholds = np.array([threshold_from_table(s, t, pvalue, bin_size) for s, t in zip(smallest, tables)],
                              dtype=np.float32)
        self.prep = _Prepared(names, ids, np.array([e[2].shape[1] for e in entries]), pwms, lengths, smallest,
                              offsets, np.concatenate(tables).astype(np.float64), thresholds, float(bin_size),
                              both_strands)
        self._kernel_state = None

    # -- properties ----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Motif names, in scanning order."""
        return self.prep.names

    @property
    def max_width(self) -> int:
        """Width of the widest motif."""
        return int(self.prep.widths.max())

    @property
    def n_motifs(self) -> int:
        """Number of motifs (not counting reverse strands)."""
        return len(self.prep.names)

    def score_threshold(self, k: int = 0, strand: str = "+") -> float:
        """Smallest score bin passing the p-value threshold (hits score strictly above it).

        Parameters
        ----------
        k
            Motif index.
        strand
            ``+`` or ``-`` (the reverse-complement matrix; needs ``both_strands``).

        Returns
        -------
        float
        """
        i = k + (self.n_motifs if strand == "-" else 0)
        return float(self.prep.thresholds[i])

    def pvalues(self, scores, k: int = 0, strand: str = "+") -> np.ndarray:
        """P-values of scores of motif k (on `strand`), exactly as hits get them.

        Parameters
        ----------
        scores
            Log-odds scores (bits).
        k
            Motif index.
        strand
            ``+`` or ``-``.

        Returns
        -------
        numpy.ndarray
            P-values, same shape as `scores`.
        """
        p = self.prep
        i = k + (self.n_motifs if strand == "-" else 0)
        a, b = p.table_offsets[i], p.table_offsets[i + 1]
        idx = np.trunc(np.asarray(scores, dtype=np.float64) / p.bin_size).astype(np.int64) - p.smallest[i]
        idx = np.clip(idx, 0, b - a - 1)
        return 2.0 ** p.tables[a:b][idx]

    # -- kernel ----------------------------------------------------------------------------------
    def _state(self):
        """memelite's per-motif-set structures (bounds, block layouts), built once."""
        if self._kernel_state is None:
            mf = _memelite_kernel()
            if mf is None:
                raise ImportError("memelite's FIMO kernel is not available")

            p = self.prep
            n_alpha = 4
            pwms_n = np.zeros((n_alpha + 1, p.pwms.shape[1]), dtype=p.pwms.dtype, order="F")
            pwms_n[:n_alpha] = p.pwms
            q = mf._qmer_width(n_alpha + 1)
            col_max, gap, cuts, tops = mf._score_bounds(p.pwms, p.lengths, p.thresholds)
            blk = mf._block_layout(col_max, gap, p.lengths, q)
            w_off, w_rest = mf._wide_layout(col_max, gap, p.lengths)
            w_on = mf._wide_choice(pwms_n, p.lengths, w_off, w_rest, cuts, tops, mf._WIDE_RATE)
            n = len(p.lengths) - 1
            order = np.arange(n, dtype=np.int64)
            self._kernel_state = dict(mf=mf, pwms_n=pwms_n, q=q, cuts=cuts, tops=tops, blk=blk, w_off=w_off,
                                      w_rest=w_rest, w_on=w_on, order=order)
        return self._kernel_state

    def scan_codes(self, X: np.ndarray, lengths: np.ndarray, engine: str = "memelite"):
        """Scan concatenated sequences (uint8 codes, `lengths` = cumulative offsets, int64, first 0).

        Returns a dict of columns: seq (index of the sequence), start, end (relative to that sequence),
        strand_minus (bool), score, p, motif (index).

        Parameters
        ----------
        X
            All sequences' uint8 codes, concatenated.
        lengths
            ``(n + 1,)`` offsets of the n sequences in `X`.
        engine
            ``memelite`` (its FIMO kernel; the numpy scanner when unavailable) or ``numpy``.

        Returns
        -------
        dict[str, numpy.ndarray]
        """
        X = np.ascontiguousarray(X)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        if engine == "numpy":
            return self._scan_numpy(X, lengths)
        try:
            st = self._state()
        except ImportError:  # a memelite without these internals: stay correct, be slower
            return self._scan_numpy(X, lengths)
        import numba

        mf = st["mf"]
        p = self.prep
        Xi = np.minimum(X.view(np.uint8), 4).view(np.int8)
        codes = mf._qmer_codes(Xi, 5, st["q"])
        wcodes = mf._wide_codes(Xi)
        done = np.zeros(len(p.lengths) - 1, dtype=np.uint8)
        blk_off, blk_w, blk_rest, blk_start = st["blk"]
        previous = numba.set_parallel_chunksize(1)
        try:
            offsets, seqs, starts, ends, scores, pvals = mf._fast_hits(
                Xi, codes, st["q"], lengths, st["pwms_n"], p.lengths, p.thresholds, p.bin_size, p.smallest,
                p.tables, p.table_offsets, blk_off, blk_w, blk_rest, blk_start, st["cuts"], st["tops"],
                st["order"], wcodes, st["w_on"], st["w_off"], st["w_rest"], done)
        finally:
            numba.set_parallel_chunksize(previous)
        counts = np.diff(offsets)
        k = np.repeat(np.arange(len(counts)), counts)
        n = self.n_motifs
        return dict(seq=seqs, start=starts, end=ends, strand_minus=k >= n, score=scores, p=pvals, motif=k % n)

    def _scan_numpy(self, X, lengths):
        """Reference scanner in plain numpy (same scores, thresholds and p-values as the kernel)."""
        p = self.prep
        Xi = np.minimum(X, 4).astype(np.intp)
        cols = {k: [] for k in ("seq", "start", "end", "strand_minus", "score", "p", "motif")}
        n = self.n_motifs
        for i in range(len(p.lengths) - 1):
            a, b = int(p.lengths[i]), int(p.lengths[i + 1])
            w = b - a
            for s in range(len(lengths) - 1):
                x = Xi[lengths[s] : lengths[s + 1]]
                if len(x) - w + 1 <= 0:
                    continue
                score = window_scores(x, p.pwms[:, a:b])
                hit = np.flatnonzero(score > p.thresholds[i])
                if not len(hit):
                    continue
                sc = score[hit]
                ta, tb = p.table_offsets[i], p.table_offsets[i + 1]
                idx = np.clip(np.trunc(sc / p.bin_size).astype(np.int64) - p.smallest[i], 0, tb - ta - 1)
                cols["seq"].append(np.full(len(hit), s))
                cols["start"].append(hit)
                cols["end"].append(hit + w)
                cols["strand_minus"].append(np.full(len(hit), i >= n))
                cols["score"].append(sc)
                cols["p"].append(2.0 ** p.tables[ta:tb][idx])
                cols["motif"].append(np.full(len(hit), i % n))
        dtypes = dict(seq=np.int64, start=np.int64, end=np.int64, strand_minus=bool, score=np.float64,
                      p=np.float64, motif=np.int64)
        return {k: (np.concatenate(v) if v else np.zeros(0, dtype=dtypes[k])).astype(dtypes[k]) for k, v in cols.items()}

    # -- tables ---------------------------------------------------------------------------------
    def _table(self, cols, chrom_names, chrom_offset=None) -> pd.DataFrame:
        names = self.names
        ids = self.prep.ids
        use = names if len(set(names)) == len(names) else [f"{i} {n}" if i != n else n for i, n in zip(ids, names)]
        start = cols["start"] + (chrom_offset[cols["seq"]] if chrom_offset is not None else 0)
        df = pd.DataFrame({
            "chrom": pd.Categorical.from_codes(cols["seq"].astype(np.int32), categories=list(chrom_names)),
            "start": start.astype(np.int64),
            "end": (start + (cols["end"] - cols["start"])).astype(np.int64),
            "strand": np.where(cols["strand_minus"], "-", "+"),
            "score": cols["score"].astype(np.float64),
            "p": cols["p"].astype(np.float64),
            "motif": pd.Categorical.from_codes(cols["motif"].astype(np.int32), categories=list(dict.fromkeys(use)))
            if len(set(use)) == len(use) else np.array(use, dtype=object)[cols["motif"]],
            "motif_id": pd.Categorical.from_codes(cols["motif"].astype(np.int32), categories=ids)
            if len(set(ids)) == len(ids) else np.array(ids, dtype=object)[cols["motif"]],
        })
        order = np.lexsort((cols["strand_minus"], cols["motif"], df["start"].to_numpy(), cols["seq"]))
        return df.iloc[order].reset_index(drop=True)


def empty_hits() -> pd.DataFrame:
    """A hits table with no rows (the `HIT_COLUMNS`, typed)."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        HIT_COLUMNS, ["object", "int64", "int64", "object", "float64", "float64", "object", "object"])})


def _to_codes_list(sequences) -> tuple[list[str], list[np.ndarray]]:
    """Accept strings, a dict name->string, (N, L) codes, (N, 4, L) one-hot, or a list of code arrays."""
    if isinstance(sequences, str):
        return ["seq0"], [encode(sequences)]
    if isinstance(sequences, dict):
        names = [str(k) for k in sequences]
        vals = list(sequences.values())
    elif isinstance(sequences, np.ndarray):
        if sequences.ndim == 3:
            codes = onehot_to_codes(sequences)
        elif sequences.ndim == 2:
            codes = sequences.astype(np.uint8, copy=False)
        elif sequences.ndim == 1:
            codes = sequences.astype(np.uint8, copy=False)[None]
        else:
            raise InputError(f"sequences array must be (N, L) codes or (N, 4, L) one-hot, got {sequences.shape}")
        return [str(i) for i in range(len(codes))], list(codes)
    else:
        vals = list(sequences)
        names = [str(i) for i in range(len(vals))]
    return names, [encode(v) if isinstance(v, str) else np.asarray(v, dtype=np.uint8) for v in vals]


def scan_sequences(motifs, sequences, *, pvalue: float = DEFAULT_PVALUE, pseudocount: float = DEFAULT_PSEUDOCOUNT,
                   background=None, bin_size: float = DEFAULT_BIN, both_strands: bool = True,
                   scanner: Scanner | None = None, engine: str = "memelite") -> pd.DataFrame:
    """Hits of motifs in sequences; `chrom` holds the sequence's name (or index).

    A motif longer than a sequence is an error (it could never hit there).

    Parameters
    ----------
    motifs
        A Motif, list of Motifs or dict of (4, W) log2-odds (ignored when `scanner` is given).
    sequences
        A string, a dict name -> string, a list of strings/code arrays, ``(N, L)`` codes or ``(N, 4, L)``
        one-hot.
    pvalue
        Report hits with p below this.
    pseudocount, background
        Log-odds settings (see `as_pwms`).
    bin_size
        Score bin width of the p-value tables.
    both_strands
        Also scan the reverse-complement motifs.
    scanner
        A prepared `Scanner` to reuse (the settings above are then ignored).
    engine
        ``memelite`` or ``numpy`` (see `Scanner.scan_codes`).

    Returns
    -------
    pandas.DataFrame
        `HIT_COLUMNS`, coordinates relative to each sequence.
    """
    sc = scanner or Scanner(motifs, pvalue=pvalue, pseudocount=pseudocount, background=background,
                            bin_size=bin_size, both_strands=both_strands)
    names, codes = _to_codes_list(sequences)
    if not codes:
        return empty_hits()
    lens = np.array([len(c) for c in codes], dtype=np.int64)
    short = int(lens.argmin())
    if lens[short] < sc.max_width:
        k = int(np.argmax(sc.prep.widths))
        raise InputError(f"motif {sc.names[k]!r} ({sc.max_width} bp) is longer than sequence {names[short]!r} "
                         f"({lens[short]} bp)", hint="use longer sequences or a shorter motif")
    X = np.concatenate(codes) if len(codes) > 1 else codes[0]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    cols = sc.scan_codes(X, offsets, engine=engine)
    return sc._table(cols, names)


# ---------------------------------------------------------------------------------------------
# genomes
# ---------------------------------------------------------------------------------------------

class _MemoryGenome:
    """A dict {chrom: sequence string or codes} behaving like the parts of Genome the scanner uses."""

    def __init__(self, seqs: dict):
        self._codes = {k: (encode(v) if isinstance(v, str) else np.asarray(v, dtype=np.uint8)) for k, v in seqs.items()}
        self.chroms = list(self._codes)
        self.sizes = {k: len(v) for k, v in self._codes.items()}

    def codes(self, chrom):
        return self._codes[chrom]


def open_genome(genome, cache_dir=None):
    """A Genome from a path (FASTA, cached), an existing Genome, or a dict of in-memory sequences.

    Parameters
    ----------
    genome
        One of the above (anything with ``codes`` and ``chroms`` is used as is).
    cache_dir
        Genome cache root for a FASTA path (None: the default).

    Returns
    -------
    Genome or an in-memory equivalent
    """
    if isinstance(genome, dict):
        return _MemoryGenome(genome)
    if hasattr(genome, "codes") and hasattr(genome, "chroms"):
        return genome
    from bindscape.io.genome import Genome

    return Genome(genome, cache_dir=cache_dir)


def _sizes(genome) -> dict[str, int]:
    s = genome.sizes
    if hasattr(s, "items"):
        return {str(k): int(v) for k, v in s.items()}
    return {str(c): int(n) for c, n in zip(genome.chroms, s)}


def _merge_regions(regions: pd.DataFrame, sizes: dict[str, int]) -> list[tuple[str, int, int]]:
    out = []
    df = regions[["chrom", "start", "end"]].copy()
    df["chrom"] = df["chrom"].astype(str)
    unknown = sorted(set(df["chrom"]) - set(sizes))
    if unknown:
        from bindscape.errors import ChromosomeError

        raise ChromosomeError(f"regions name chromosomes not in the genome: {', '.join(unknown[:5])}",
                              hint=f"the genome has {', '.join(list(sizes)[:5])}...")
    order = {c: i for i, c in enumerate(sizes)}
    df = df.assign(_o=df["chrom"].map(order)).sort_values(["_o", "start", "end"])
    for chrom, sub in df.groupby("_o", sort=True):
        c = list(sizes)[chrom]
        cs, ce = None, None
        for s, e in zip(sub["start"].to_numpy(), sub["end"].to_numpy()):
            s, e = max(int(s), 0), min(int(e), sizes[c])
            if e <= s:
                continue
            if cs is not None and s <= ce:
                ce = max(ce, e)
            else:
                if cs is not None:
                    out.append((c, cs, ce))
                cs, ce = s, e
        if cs is not None:
            out.append((c, cs, ce))
    return out


def iter_genome_hits(motifs, genome, *, pvalue: float = DEFAULT_PVALUE, pseudocount: float = DEFAULT_PSEUDOCOUNT,
                     background=None, bin_size: float = DEFAULT_BIN, both_strands: bool = True,
                     chroms=None, regions: pd.DataFrame | None = None, chunk_size: int = DEFAULT_CHUNK,
                     scanner: Scanner | None = None, progress: bool = False, cache_dir=None):
    """Yield hit tables chunk by chunk (each a DataFrame with HIT_COLUMNS, genome coordinates).

    Parameters
    ----------
    motifs
        A Motif, list of Motifs or dict of (4, W) log2-odds (ignored when `scanner` is given).
    genome
        FASTA path, Genome or dict of sequences (`open_genome`).
    pvalue, pseudocount, background, bin_size, both_strands, scanner
        As in `scan_sequences`.
    chroms
        Scan only these whole chromosomes.
    regions
        Scan only these intervals (merged first); ignored when `chroms` is given.
    chunk_size
        Bases per scanned batch (at least ten motif widths); neighbouring pieces overlap by the widest
        motif's width - 1 and each hit is reported once.
    progress
        Show a progress bar.
    cache_dir
        Genome cache root for a FASTA path.

    Yields
    ------
    pandas.DataFrame
        Hits of one batch.
    """
    g = open_genome(genome, cache_dir=cache_dir)
    sc = scanner or Scanner(motifs, pvalue=pvalue, pseudocount=pseudocount, background=background,
                            bin_size=bin_size, both_strands=both_strands)
    sizes = _sizes(g)
    spans = _scan_spans(sizes, chroms, regions)
    if chunk_size < 10 * sc.max_width:
        raise ConfigError(f"chunk size {chunk_size} is too small for motifs of {sc.max_width} bp")
    all_chroms = list(sizes)
    chrom_idx = {c: i for i, c in enumerate(all_chroms)}

    def run(batch):
        return _scan_batch(g, sc, batch, all_chroms, chrom_idx)

    from bindscape._util import progress as _progress

    total = sum(e - s for _, s, e in spans)
    with _progress(disable=not progress or None) as bar:
        task = bar.add_task("scanning", total=total)
        batch, size = [], 0
        for piece in _scan_pieces(spans, chunk_size, sc.max_width - 1):
            batch.append(piece)
            size += piece[3] - piece[1]
            if size >= chunk_size:
                yield run(batch)
                bar.advance(task, sum(p[2] - p[1] for p in batch))
                batch, size = [], 0
        if batch:
            yield run(batch)
            bar.advance(task, sum(p[2] - p[1] for p in batch))


def _scan_spans(sizes: dict[str, int], chroms, regions) -> list[tuple[str, int, int]]:
    """(chrom, start, end) spans to scan: whole `chroms`, else the merged `regions`, else the whole genome."""
    if chroms is not None:
        missing = [c for c in chroms if c not in sizes]
        if missing:
            from bindscape.errors import ChromosomeError

            raise ChromosomeError(f"chromosomes not in the genome: {', '.join(missing[:5])}",
                                  hint=f"the genome has {', '.join(list(sizes)[:5])}...")
        return [(c, 0, sizes[c]) for c in chroms]
    if regions is not None:
        return _merge_regions(regions, sizes)
    return [(c, 0, n) for c, n in sizes.items()]


def _scan_pieces(spans, chunk_size: int, overlap: int):
    """Pieces ``(chrom, own_start, own_end, read_end)`` of at most `chunk_size` own bases, read `overlap`
    bases further so that hits across piece borders are found (and reported by the piece that owns them)."""
    for c, s, e in spans:
        x = s
        while x < e:
            own_end = min(x + chunk_size, e)
            yield c, x, own_end, min(own_end + overlap, e)
            x = own_end


def _scan_batch(g, sc: Scanner, batch, all_chroms: list[str], chrom_idx: dict[str, int]) -> pd.DataFrame:
    """Hits (genome coordinates) of a batch of `_scan_pieces`, each hit kept by the piece owning its start
    (`chrom_idx`: position of each chromosome in `all_chroms`)."""
    arrays, starts, idx, own = [], [], [], []
    for c, s, oe, re_ in batch:
        arr = np.asarray(g.codes(c)[s:re_])
        arrays.append(arr)
        starts.append(s)
        idx.append(chrom_idx[c])
        own.append(oe - s)
    lens = np.array([len(a) for a in arrays], dtype=np.int64)
    X = np.concatenate(arrays) if len(arrays) > 1 else np.array(arrays[0], dtype=np.uint8, copy=True)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    cols = sc.scan_codes(X, offsets)
    keep = cols["start"] < np.asarray(own, dtype=np.int64)[cols["seq"]]
    cols = {k: v[keep] for k, v in cols.items()}
    piece_start = np.asarray(starts, dtype=np.int64)
    cols["start"] = cols["start"] + piece_start[cols["seq"]]
    cols["end"] = cols["end"] + piece_start[cols["seq"]]
    cols["seq"] = np.asarray(idx, dtype=np.int64)[cols["seq"]]
    return sc._table(cols, all_chroms)


def scan_genome(motifs, genome, **kwargs) -> pd.DataFrame:
    """All hits of motifs in a genome (FASTA path, Genome or dict of sequences), streamed chunk by chunk.

    Returns HIT_COLUMNS sorted by chromosome (genome order), start, motif, strand. `regions` restricts the
    scan to intervals (merged first, so no hit is reported twice); `chroms` to some chromosomes.

    Parameters
    ----------
    motifs
        A Motif, list of Motifs or dict of (4, W) log2-odds.
    genome
        See above.
    **kwargs
        Options of `iter_genome_hits` (pvalue, chroms, regions, chunk_size, scanner, ...).

    Returns
    -------
    pandas.DataFrame
    """
    parts = list(iter_genome_hits(motifs, genome, **kwargs))
    if not parts:
        return empty_hits()
    if len(parts) == 1:
        return parts[0]
    df = pd.concat(parts, ignore_index=True)
    for col in ("chrom", "motif", "motif_id"):
        if col in df and not isinstance(df[col].dtype, pd.CategoricalDtype) and isinstance(
                parts[0][col].dtype, pd.CategoricalDtype):
            df[col] = pd.Categorical(df[col], categories=parts[0][col].cat.categories)
    return df


def write_hits(hits: pd.DataFrame, path) -> None:
    """Write a hits table: .parquet, or BED-like TSV (.bed/.tsv; gzip with .gz), atomically.

    Parameters
    ----------
    hits
        A hits table (`HIT_COLUMNS`).
    path
        Output file; ``.bed`` writes ``chrom start end motif score strand p`` without a header, any other
        text name all columns with a header.
    """
    from pathlib import Path

    from bindscape._util import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            hits.to_parquet(tmp, index=False)
        else:
            comp = "gzip" if path.suffix == ".gz" else None
            bed = str(path).removesuffix(".gz").endswith(".bed")
            df = hits[["chrom", "start", "end", "motif", "score", "strand", "p"]] if bed else hits
            df.to_csv(tmp, sep="\t", index=False, header=not bed, compression=comp, float_format="%.6g")

"""Realism checks: compare a (synthetic) genome's composition with real sequence.

All functions take uint8 code arrays (A=0, C=1, G=2, T=3, N=4) or dicts of them, so callers can pass real
genomes. Statistics: GC in non-overlapping 1-kb windows (windows with > 10% N skipped), dinucleotide
frequencies, CpG (and TpA) observed/expected, and Karlin's genomic-signature distance
delta* = mean over the 16 dinucleotides of |rho_xy(a) - rho_xy(b)|, rho_xy = f_xy / (f_x f_y), computed on
both strands (symmetrised).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

DINUCS = [a + b for a in "ACGT" for b in "ACGT"]


def _pieces(seqs) -> Iterable[np.ndarray]:
    if isinstance(seqs, Mapping):
        return list(seqs.values())
    if isinstance(seqs, np.ndarray):
        return [seqs]
    return list(seqs)


def gc_windows(seqs, window: int = 1000, max_n: float = 0.1) -> np.ndarray:
    """GC fraction (of non-N bases) of every non-overlapping window.

    Parameters
    ----------
    seqs
        uint8 codes: one array, a list of arrays or ``{chrom: codes}``.
    window
        Window length; a sequence's last partial window is skipped.
    max_n
        Windows with a larger N fraction are skipped.

    Returns
    -------
    numpy.ndarray
        GC fractions of the kept windows, sequences in order.
    """
    out = []
    for s in _pieces(seqs):
        n = len(s) // window
        if n == 0:
            continue
        w = s[: n * window].reshape(n, window)
        acgt = (w < 4).sum(axis=1)
        gc = ((w == 1) | (w == 2)).sum(axis=1)
        ok = acgt >= (1 - max_n) * window
        out.append(gc[ok] / acgt[ok])
    return np.concatenate(out) if out else np.zeros(0)


def dinucleotide_counts(seqs) -> np.ndarray:
    """(4, 4) counts of adjacent ACGT pairs (pairs touching N skipped).

    Parameters
    ----------
    seqs
        uint8 codes: one array, a list of arrays or ``{chrom: codes}`` (no pairs across sequences).

    Returns
    -------
    numpy.ndarray
        ``counts[x, y]`` of x followed by y, int64.
    """
    tot = np.zeros(16, dtype=np.int64)
    for s in _pieces(seqs):
        a, b = s[:-1].astype(np.int64), s[1:].astype(np.int64)
        ok = (a < 4) & (b < 4)
        tot += np.bincount(a[ok] * 4 + b[ok], minlength=16)
    return tot.reshape(4, 4)


def dinucleotide_freqs(seqs, symmetric: bool = True) -> np.ndarray:
    """(4, 4) dinucleotide frequencies (summing to 1).

    Parameters
    ----------
    seqs
        uint8 codes, as in `dinucleotide_counts`.
    symmetric
        Count both strands (add each pair's reverse complement).

    Returns
    -------
    numpy.ndarray
    """
    c = dinucleotide_counts(seqs).astype(float)
    if symmetric:  # add the reverse strand: pair xy on - strand is comp(y)comp(x)
        comp = [3, 2, 1, 0]
        c = c + c[np.ix_(comp, comp)].T
    return c / c.sum()


def rho(seqs) -> np.ndarray:
    """Dinucleotide relative abundance (4, 4): f_xy / (f_x f_y).

    Parameters
    ----------
    seqs
        uint8 codes, as in `dinucleotide_counts` (both strands counted).

    Returns
    -------
    numpy.ndarray
    """
    f = dinucleotide_freqs(seqs)
    m = f.sum(axis=1)
    return f / np.outer(m, m)


def cpg_oe(seqs) -> float:
    """CpG observed/expected: f_CG / (f_C f_G) over the whole sequence.

    Parameters
    ----------
    seqs
        uint8 codes, as in `dinucleotide_counts`.

    Returns
    -------
    float
    """
    return float(rho(seqs)[1, 2])


def tpa_oe(seqs) -> float:
    """TpA observed/expected: f_TA / (f_T f_A) over the whole sequence (`seqs` as in `cpg_oe`)."""
    return float(rho(seqs)[3, 0])


def karlin_delta(a, b) -> float:
    """Karlin's delta* between two sequences' dinucleotide relative abundances.

    Parameters
    ----------
    a, b
        uint8 codes, as in `dinucleotide_counts`.

    Returns
    -------
    float
        Mean absolute difference of the 16 `rho` values.
    """
    return float(np.abs(rho(a) - rho(b)).mean())


def summarize(seqs, window: int = 1000) -> dict:
    """Composition summary of a genome: bases, GC, GC of windows, CpG and TpA o/e.

    Parameters
    ----------
    seqs
        uint8 codes, as in `gc_windows`.
    window
        Window length for the GC distribution.

    Returns
    -------
    dict
        ``bases, gc, gc_1kb_mean, gc_1kb_sd, gc_1kb_p05, gc_1kb_p95, cpg_oe, tpa_oe`` (the ``gc_1kb``
        names are kept whatever `window` is).
    """
    gcw = gc_windows(seqs, window)
    codes = np.concatenate([s.ravel() for s in _pieces(seqs)])
    acgt = codes < 4
    return {
        "bases": int(acgt.sum()),
        "gc": float(np.isin(codes[acgt], (1, 2)).mean()) if acgt.any() else float("nan"),
        "gc_1kb_mean": float(gcw.mean()) if len(gcw) else float("nan"),
        "gc_1kb_sd": float(gcw.std()) if len(gcw) else float("nan"),
        "gc_1kb_p05": float(np.quantile(gcw, 0.05)) if len(gcw) else float("nan"),
        "gc_1kb_p95": float(np.quantile(gcw, 0.95)) if len(gcw) else float("nan"),
        "cpg_oe": cpg_oe(seqs),
        "tpa_oe": tpa_oe(seqs),
    }


def realism_table(
    genomes: Mapping[str, object], reference: str | None = None, window: int = 1000
) -> pd.DataFrame:
    """One row per named genome: GC (1-kb windows), CpG/TpA o/e and Karlin delta* to every other genome.

    genomes: name -> codes array or {chrom: codes}. Columns ``delta_<name>`` hold the distances.

    Parameters
    ----------
    genomes
        See above.
    reference
        Genome put in the first row (None: input order).
    window
        Window length of the GC statistics.

    Returns
    -------
    pandas.DataFrame
        ``genome``, the `summarize` fields and the ``delta_<name>`` columns.
    """
    rows = []
    names = list(genomes)
    rhos = {n: rho(genomes[n]) for n in names}
    for n in names:
        row = {"genome": n, **summarize(genomes[n], window)}
        for m in names:
            row[f"delta_{m}"] = float(np.abs(rhos[n] - rhos[m]).mean())
        rows.append(row)
    df = pd.DataFrame(rows)
    if reference is not None and reference in names:
        df = df.sort_values("genome", key=lambda s: s != reference, kind="stable")
    return df.reset_index(drop=True)


def format_table(df: pd.DataFrame) -> str:
    """A `realism_table` as a Markdown table (bases with thousands separators, other values to 3 decimals).

    Parameters
    ----------
    df
        A `realism_table`.

    Returns
    -------
    str
    """
    cols = [c for c in df.columns if c != "genome"]
    out = ["| genome | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for _, r in df.iterrows():
        vals = [f"{r[c]:,}" if c == "bases" else f"{r[c]:.3f}" for c in cols]
        out.append(f"| {r['genome']} | " + " | ".join(vals) + " |")
    return "\n".join(out)

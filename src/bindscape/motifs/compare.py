"""Motif-to-motif similarity: Tomtom (memelite's implementation) for annotating discovered motifs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError
from bindscape.motifs.load import Motif


def _matrices(motifs, pseudocount: float) -> list[np.ndarray]:
    out = []
    for m in motifs:
        if isinstance(m, Motif):
            out.append(np.ascontiguousarray(m.to_ppm(pseudocount) if pseudocount else m.probs))
        else:
            a = np.asarray(m, dtype=np.float64)
            if a.ndim != 2 or a.shape[0] != 4:
                raise ConfigError(f"a motif matrix must have shape (4, W), got {a.shape}")
            out.append(np.ascontiguousarray(a))
    return out


def tomtom(queries, targets, *, n_nearest: int | None = None, pseudocount: float = 0.0,
           reverse_complement: bool = True) -> pd.DataFrame:
    """Compare query motifs with target motifs (Tomtom, complete score, Euclidean-like column scores).

    `queries`/`targets` are Motifs or (4, W) probability matrices. Returns one row per (query, target)
    pair kept (the `n_nearest` best per query, or all): query, target, target_id, p, score, offset,
    overlap, strand, sorted by query then p. Tomtom's p-values use the target columns as background, so
    compare against a full database (> 50 motifs) for reliable values.

    Parameters
    ----------
    queries, targets
        A Motif, or a list of Motifs / (4, W) probability matrices.
    n_nearest
        Keep this many best targets per query (None: all).
    pseudocount
        Pseudocount for Motif probabilities (0: the motifs' own ``probs``).
    reverse_complement
        Also compare against the reverse-complement targets.

    Returns
    -------
    pandas.DataFrame
        As described above; ``strand`` is ``+`` or ``-``.
    """
    import warnings

    from memelite.tomtom import tomtom as _tomtom

    queries = [queries] if isinstance(queries, Motif) else list(queries)
    targets = [targets] if isinstance(targets, Motif) else list(targets)
    if not queries or not targets:
        raise ConfigError("tomtom needs at least one query and one target motif")
    Q = _matrices(queries, pseudocount)
    T = _matrices(targets, pseudocount)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _tomtom(Q, T, n_nearest=n_nearest, reverse_complement=reverse_complement)
    p, scores, offsets, overlaps, strands = res[:5]
    idxs = res[5] if len(res) > 5 else np.tile(np.arange(len(T)), (len(Q), 1))
    qn = [m.label if isinstance(m, Motif) else str(i) for i, m in enumerate(queries)]
    tn = [m.name if isinstance(m, Motif) else str(i) for i, m in enumerate(targets)]
    ti = [(m.id or m.name) if isinstance(m, Motif) else str(i) for i, m in enumerate(targets)]
    rows = []
    for i in range(len(Q)):
        for j in range(idxs.shape[1]):
            t = int(idxs[i, j])
            rows.append((qn[i], tn[t], ti[t], float(p[i, j]), float(scores[i, j]), int(offsets[i, j]),
                         int(overlaps[i, j]), "-" if strands[i, j] else "+"))
    df = pd.DataFrame(rows, columns=["query", "target", "target_id", "p", "score", "offset", "overlap", "strand"])
    return df.sort_values(["query", "p"], kind="mergesort").reset_index(drop=True)


def annotate(queries, database, *, n: int = 3, max_p: float = 0.05) -> pd.DataFrame:
    """Best `n` database matches with p <= max_p for each query (e.g. discovered motifs vs JASPAR).

    Parameters
    ----------
    queries
        Motifs (or (4, W) probability matrices) to annotate.
    database
        Target motifs.
    n
        Best matches considered per query.
    max_p
        Largest Tomtom p-value kept.

    Returns
    -------
    pandas.DataFrame
        The kept `tomtom` rows.
    """
    df = tomtom(queries, database, n_nearest=n)
    return df[df["p"] <= max_p].reset_index(drop=True)

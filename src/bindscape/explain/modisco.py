"""Motif discovery from attributions: TF-MoDISco (modisco-lite), Tomtom annotation, CWMs for logos.

`run_modisco(x, hyp)` clusters high-attribution seqlets into patterns; each `Pattern` carries its
contribution-weight matrix (CWM, (4, W)), hypothetical CWM, position probability matrix (PPM, trimmed to the
informative core) and seqlet count. `annotate_patterns(patterns, database)` compares each pattern's PPM with
a motif collection (JASPAR via `bindscape.motifs`, or a MEME file such as ../shared/data/motifs/*.meme)
with Tomtom and adds Benjamini-Hochberg q-values over each pattern's targets, as Tomtom reports them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, NotEnoughDataError


@dataclass
class Pattern:
    name: str
    cwm: np.ndarray  # (4, W) mean contribution scores
    hcwm: np.ndarray  # (4, W) mean hypothetical contributions
    ppm: np.ndarray  # (4, W) base frequencies of the seqlets
    n_seqlets: int
    sign: str = "pos"
    trim: tuple[int, int] = (0, 0)
    seqlets: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def trimmed_ppm(self) -> np.ndarray:
        """The PPM's columns inside `trim`."""
        s, e = self.trim
        return self.ppm[:, s:e]

    @property
    def trimmed_cwm(self) -> np.ndarray:
        """The CWM's columns inside `trim`."""
        s, e = self.trim
        return self.cwm[:, s:e]

    @property
    def consensus(self) -> str:
        """The most frequent base of each trimmed PPM column."""
        return "".join("ACGT"[i] for i in self.trimmed_ppm.argmax(axis=0))


def _trim(cwm: np.ndarray, frac: float = 0.3, flank: int = 1) -> tuple[int, int]:
    score = np.abs(cwm).sum(axis=0)
    keep = np.flatnonzero(score >= frac * score.max()) if score.max() > 0 else np.arange(len(score))
    return max(0, int(keep[0]) - flank), min(len(score), int(keep[-1]) + 1 + flank)


def run_modisco(x, hypothetical, *, max_seqlets: int = 2000, window: int = 21, flank: int = 10,
                min_metacluster_size: int = 50, n_leiden_runs: int = 8, final_min_cluster_size: int = 20,
                trim_frac: float = 0.3, random_state: int = 0, verbose: bool = False) -> list[Pattern]:
    """TF-MoDISco on one-hot `x` ``(N, 4, L)`` and hypothetical contributions ``(N, 4, L)``.

    Returns patterns sorted by seqlet count (positive metacluster first). Raises `NotEnoughDataError` when
    no pattern is found (too few sequences or flat attributions).

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot sequences.
    hypothetical
        ``(N, 4, L)`` hypothetical contributions of the same sequences.
    max_seqlets
        Most seqlets per metacluster.
    window
        Sliding window size of the seqlet search.
    flank
        Flank added on each side of a seqlet.
    min_metacluster_size
        Smallest metacluster kept.
    n_leiden_runs
        Leiden clustering restarts.
    final_min_cluster_size
        Smallest final pattern (seqlets).
    trim_frac
        A pattern is trimmed to the columns whose total |CWM| is at least this share of the largest (plus one
        column each side).
    random_state
        NumPy seed set before the run.
    verbose
        Let TF-MoDISco print its progress.

    Returns
    -------
    list[Pattern]
    """
    import modiscolite

    x = np.asarray(x, dtype=np.float32)
    h = np.asarray(hypothetical, dtype=np.float32)
    if x.shape != h.shape or x.ndim != 3 or x.shape[1] != 4:
        raise ConfigError(f"x and hypothetical contributions must both be (N, 4, L); got {x.shape} and {h.shape}")
    np.random.seed(random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pos, neg = modiscolite.tfmodisco.TFMoDISco(
            one_hot=x.transpose(0, 2, 1).copy(), hypothetical_contribs=h.transpose(0, 2, 1).copy(),
            sliding_window_size=window, flank_size=flank, min_metacluster_size=min_metacluster_size,
            max_seqlets_per_metacluster=max_seqlets, n_leiden_runs=n_leiden_runs,
            final_min_cluster_size=final_min_cluster_size, verbose=verbose)
    out: list[Pattern] = []
    for sign, pats in (("pos", pos), ("neg", neg)):
        for i, p in enumerate(pats or []):
            cwm = np.asarray(p.contrib_scores).T
            seq = pd.DataFrame([(s.example_idx, s.start, s.end, bool(s.is_revcomp)) for s in p.seqlets],
                               columns=["example", "start", "end", "rc"])
            out.append(Pattern(name=f"{sign}_pattern_{i}", cwm=cwm, hcwm=np.asarray(p.hypothetical_contribs).T,
                               ppm=np.asarray(p.sequence).T, n_seqlets=len(p.seqlets), sign=sign,
                               trim=_trim(cwm, trim_frac), seqlets=seq))
    if not out:
        raise NotEnoughDataError("TF-MoDISco found no pattern",
                                 hint="use more sequences (strong true positives) or another attribution method")
    return out


def load_database(database=None) -> list:
    """Motif collection for annotation: None = JASPAR CORE (pyjaspar, offline), a MEME/JASPAR file, or a
    list of `bindscape.motifs.Motif`.

    Parameters
    ----------
    database
        See above; the strings ``jaspar`` / ``jaspar_core`` also mean JASPAR CORE.

    Returns
    -------
    list
        The motifs.
    """
    from bindscape.motifs import read_motifs
    from bindscape.motifs.load import load_jaspar, search_jaspar

    if database is None or (isinstance(database, str) and database.lower() in ("jaspar", "jaspar_core")):
        ids = search_jaspar()["id"].tolist()
        return [load_jaspar(i) for i in ids]
    if isinstance(database, (list, tuple)):
        return list(database)
    return read_motifs(database)


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values.

    Parameters
    ----------
    p
        P-values.

    Returns
    -------
    numpy.ndarray
        q-values in the input order, at most 1.
    """
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p)
    q = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def annotate_patterns(patterns: list[Pattern], database=None, *, n: int = 3, trimmed: bool = True) -> pd.DataFrame:
    """Tomtom matches of each pattern (its trimmed PPM) against `database` (see `load_database`).

    Returns the `n` best matches per pattern: pattern, n_seqlets, consensus, rank, target, target_id, p, q
    (BH over all targets of that pattern), offset, strand.

    Parameters
    ----------
    patterns
        TF-MoDISco patterns (`run_modisco`).
    database
        A list of motifs, or anything `load_database` takes.
    n
        Best matches kept per pattern.
    trimmed
        Compare the trimmed PPM (False: the full one).

    Returns
    -------
    pandas.DataFrame
        Rows in pattern order, then rank.
    """
    from bindscape.motifs import tomtom

    db = load_database(database) if not isinstance(database, list) else database
    if not patterns:
        return pd.DataFrame(columns=["pattern", "n_seqlets", "consensus", "rank", "target", "target_id", "p", "q"])
    queries = [np.clip(p.trimmed_ppm if trimmed else p.ppm, 1e-4, None) for p in patterns]
    queries = [q / q.sum(axis=0, keepdims=True) for q in queries]
    res = tomtom(queries, db)
    rows = []
    for qi, grp in res.groupby("query", sort=False):
        grp = grp.copy()
        grp["q"] = bh_qvalues(grp["p"].to_numpy())
        grp = grp.sort_values("p").head(n)
        pat = patterns[int(qi)]
        for r, row in enumerate(grp.itertuples(index=False)):
            rows.append({"pattern": pat.name, "n_seqlets": pat.n_seqlets, "consensus": pat.consensus, "rank": r + 1,
                         "target": row.target, "target_id": row.target_id, "p": row.p, "q": row.q,
                         "offset": row.offset, "strand": row.strand})
    df = pd.DataFrame(rows)
    order = {p.name: i for i, p in enumerate(patterns)}
    return df.sort_values(["pattern", "rank"], key=lambda s: s.map(order) if s.name == "pattern" else s,
                          kind="mergesort").reset_index(drop=True)


def find_match(annotation: pd.DataFrame, motif_id: str, *, top_patterns: int | None = None) -> pd.Series | None:
    """The best row (lowest q) where `motif_id` (e.g. ``MA0363``, version optional) matches a pattern among
    the first `top_patterns` patterns; None when it never matches.

    Parameters
    ----------
    annotation
        An `annotate_patterns` table.
    motif_id
        JASPAR ID (compared without version) or, failing that, the target name.
    top_patterns
        Only look at the first this many patterns (None: all).

    Returns
    -------
    pandas.Series or None
    """
    df = annotation
    if top_patterns is not None:
        keep = list(dict.fromkeys(df["pattern"]))[:top_patterns]
        df = df[df["pattern"].isin(keep)]
    base = motif_id.split(".")[0].upper()
    hit = df[df["target_id"].astype(str).str.upper().str.split(".").str[0] == base]
    if hit.empty:
        hit = df[df["target"].astype(str).str.upper() == motif_id.upper()]
    return None if hit.empty else hit.sort_values("q").iloc[0]

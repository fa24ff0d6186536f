"""Choose database motifs by their enrichment in labelled sequences (``model.motifs: auto``).

`select_enriched(codes, labels, k=16)` scores every candidate JASPAR matrix (a collection and taxon group,
e.g. CORE vertebrates, offline through pyjaspar) on each sequence by its best log2-odds match over both
strands and all valid positions (N adds 0 - exactly `bindscape.motifs.pwm_max_scores`, the PWM baseline's
score), ranks the candidates by the auROC of that score for positives vs negatives, and keeps the best `k`
that are not redundant: a candidate whose aligned probability matrix correlates above `max_similarity`
(Pearson over the overlapping columns, either strand; `pwm_similarity`) with an already chosen motif is
skipped. Candidates wider than `max_width` (the first-layer kernel they will initialise) are left out and
counted. The caller passes the *training* split only; nothing here knows about other splits.

Why hand-written: the per-sequence best score of ~900 matrices on tens of thousands of sequences must be
one vectorised pass (a convolution per motif width, torch, on the current thread count), which the
scanners built for hit calling (FIMO-style p-values, memelite) do not offer; the auROC is a rank formula
over all candidates at once (scipy's `rankdata`, ties averaged). Tomtom (`bindscape.motifs.tomtom`) is not
used for redundancy because its p-values need a large target database, while here a candidate is compared
with at most `k` chosen motifs.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError
from bindscape.motifs.load import DEFAULT_RELEASE, Motif
from bindscape.motifs.scan import DEFAULT_PSEUDOCOUNT

#: `k` when ``auto`` gives no number
DEFAULT_K = 16
#: at most this many training sequences are scored (a seeded random subset; auROC s.e. <= 0.006)
DEFAULT_MAX_SEQUENCES = 10_000
#: a candidate more similar than this to a chosen motif is redundant (`pwm_similarity`)
DEFAULT_MAX_SIMILARITY = 0.9

_AUTO = re.compile(r"^auto(?::(.*))?$", re.IGNORECASE)


def parse_auto(spec: str, source: str = "model.motifs") -> int | None:
    """The motif count of an ``auto`` / ``auto:K`` spec, or None when `spec` is not one.

    Parameters
    ----------
    spec : str
        A `model.motifs` entry.
    source : str
        The config field or flag, to start error messages ("" for none).

    Returns
    -------
    int or None
        `K` (``auto`` alone gives `DEFAULT_K`); None for any other entry (a JASPAR ID, name or file).

    Raises
    ------
    ConfigError
        ``auto:`` followed by anything but a whole number >= 1.
    """
    m = _AUTO.match(str(spec).strip())
    if m is None:
        return None
    if m.group(1) is None:
        return DEFAULT_K
    try:
        k = int(m.group(1))
    except ValueError:
        k = 0
    if k < 1:
        raise ConfigError(f"{source + ': ' if source else ''}{spec!r}: K must be a whole number >= 1 "
                          f"(auto alone chooses {DEFAULT_K} motifs; auto:K chooses K)")
    return k


def candidate_motifs(*, taxon: str | None = "vertebrates", collection: str = "CORE",
                     release=DEFAULT_RELEASE) -> list[Motif]:
    """Every latest-version JASPAR matrix of a collection and taxon group (offline).

    Parameters
    ----------
    taxon : str, optional
        JASPAR tax group (``vertebrates``, ``insects``, ``plants``, ``fungi``, ``nematodes``, ...,
        case-insensitive); None keeps every group.
    collection : str
        JASPAR collection (``CORE``, ``UNVALIDATED``, ...).
    release
        JASPAR release (``2024``).

    Returns
    -------
    list of Motif
        Count matrices, in matrix-ID order.
    """
    from bindscape.motifs.load import catalogue, load_jaspar

    df = catalogue(release, collection)
    if df.empty:
        raise ConfigError(f"model.motif_collection: no JASPAR matrices in collection {collection!r}",
                          hint="use CORE (the curated collection)")
    if taxon:
        groups = sorted(set(df["tax_group"]) - {""})
        sel = df[df["tax_group"].str.lower() == taxon.lower()]
        if sel.empty:
            raise ConfigError(f"model.motif_taxon: no JASPAR {collection} matrices for taxon {taxon!r}",
                              hint=f"choose one of: {', '.join(groups)}")
        df = sel
    return [load_jaspar(mid, release=release) for mid in df["id"]]


def max_scores(codes: np.ndarray, pwms: list[np.ndarray], *, chunk: int = 2048) -> np.ndarray:
    """Best log-odds score of each motif in each sequence: both strands, valid windows only, N adds 0.

    Parameters
    ----------
    codes : np.ndarray
        (N, L) uint8 base codes (A=0, C=1, G=2, T=3, N=4).
    pwms : list of np.ndarray
        (4, W) forward-strand log2-odds matrices, each W <= L.
    chunk : int
        Sequences per convolution.

    Returns
    -------
    np.ndarray
        (N, M) float32 scores in bits (the value `pwm_max_scores` gives each motif alone).
    """
    import torch

    codes = np.asarray(codes, dtype=np.uint8)
    n, length = codes.shape
    out = np.empty((n, len(pwms)), dtype=np.float32)
    by_width: dict[int, list[int]] = {}
    for i, p in enumerate(pwms):
        if p.shape[1] > length:
            raise ConfigError(f"motif {i + 1} is {p.shape[1]} bp, longer than the sequences ({length} bp)")
        by_width.setdefault(int(p.shape[1]), []).append(i)
    weights = {w: torch.from_numpy(np.stack([m for i in idx for m in (pwms[i], pwms[i][::-1, ::-1])])
                                   .astype(np.float32)) for w, idx in by_width.items()}
    eye = torch.cat([torch.eye(4), torch.zeros(1, 4)])  # code 4 (N) -> all-zero column
    with torch.inference_mode():
        for a in range(0, n, chunk):
            x = eye[torch.from_numpy(codes[a:a + chunk].astype(np.int64))].transpose(1, 2).contiguous()
            for w, idx in by_width.items():
                s = torch.nn.functional.conv1d(x, weights[w]).amax(dim=2)  # (n, 2 * len(idx))
                out[a:a + chunk, idx] = s.view(len(x), len(idx), 2).amax(dim=2).numpy()
    return out


def column_auroc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """auROC of every score column for `positive` vs the other rows (ties count one half).

    Parameters
    ----------
    scores : np.ndarray
        (N, M) scores, higher = more likely positive.
    positive : np.ndarray
        (N,) bool.

    Returns
    -------
    np.ndarray
        (M,) auROC values.
    """
    from scipy.stats import rankdata

    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    ranks = rankdata(scores, axis=0)
    return (ranks[pos].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pwm_similarity(a: np.ndarray, b: np.ndarray, *, slack: int = 2) -> float:
    """Best Pearson correlation of two aligned probability matrices over offsets and both strands.

    The overlap must cover the shorter motif but for at most `slack` columns (and at least 4 columns);
    the correlation is taken over the overlapping columns' 4 x overlap probabilities.

    Parameters
    ----------
    a, b : np.ndarray
        (4, Wa) and (4, Wb) probability matrices (columns summing to 1).
    slack : int
        Columns of the shorter motif allowed to hang over the longer one's end.

    Returns
    -------
    float
        In [-1, 1]; 1 for a motif and itself or its reverse complement.
    """
    best = -1.0
    wa, wb = a.shape[1], b.shape[1]
    need = max(min(wa, wb) - slack, min(4, wa, wb))
    for bb in (b, b[::-1, ::-1]):
        for off in range(-(wb - need), wa - need + 1):  # b's column j sits on a's column off + j
            lo, hi = max(0, off), min(wa, off + wb)
            if hi - lo < need:
                continue
            x, y = a[:, lo:hi].ravel(), bb[:, lo - off:hi - off].ravel()
            x, y = x - x.mean(), y - y.mean()
            den = float(np.sqrt((x * x).sum() * (y * y).sum()))
            if den > 0:
                best = max(best, float((x * y).sum()) / den)
    return best


@dataclass
class Selection:
    """What `select_enriched` chose and why.

    Attributes
    ----------
    motifs : list of Motif
        The chosen motifs, best auROC first.
    table : pandas.DataFrame
        One row per chosen motif: rank, id, name, width, train_auroc.
    n_candidates : int
        Candidate matrices scored (those no wider than `max_width`).
    skipped_long : list of str
        Labels of candidates left out for being wider than `max_width`.
    n_redundant : int
        Candidates skipped for resembling a better one that was chosen.
    n_sequences, n_positive : int
        Training sequences scored and how many of them are positive.
    cpu_seconds : float
        Process CPU time of the selection.
    max_similarity : float
        The redundancy threshold used.
    """

    motifs: list
    table: pd.DataFrame
    n_candidates: int
    skipped_long: list = field(default_factory=list)
    n_redundant: int = 0
    n_sequences: int = 0
    n_positive: int = 0
    cpu_seconds: float = 0.0
    max_similarity: float = DEFAULT_MAX_SIMILARITY

    def summary(self) -> str:
        """One line for the run log: the chosen motifs with their training auROC and what was skipped."""
        chosen = ", ".join(f"{r.id} {r.name} ({r.train_auroc:.3f})" for r in self.table.itertuples())
        return (f"motifs auto: {len(self.motifs)} of {self.n_candidates} candidates by training auROC on "
                f"{self.n_sequences:,} training sequences ({self.n_positive:,} positive): {chosen}; skipped "
                f"{len(self.skipped_long)} wider than the first-layer kernel and {self.n_redundant} redundant "
                f"(aligned PWM Pearson > {self.max_similarity:g}); {self.cpu_seconds:.1f} CPU s")


def _subsample(codes: np.ndarray, positive: np.ndarray, max_sequences: int, seed: int):
    if len(codes) <= max_sequences:
        return codes, positive
    keep = np.sort(np.random.default_rng(seed).choice(len(codes), size=max_sequences, replace=False))
    return codes[keep], positive[keep]


def _check_labels(labels) -> np.ndarray:
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ConfigError(f"model.motifs: auto needs one label column, got {y.shape[1]}",
                          hint="name the motifs (JASPAR IDs or a motif file) for multi-label training")
    return y


def _non_redundant(pool: list[Motif], auc: np.ndarray, k: int, max_similarity: float) -> tuple[list[int], int]:
    """Indices of the best-`auc` motifs, skipping any too similar to one already kept; and how many were skipped."""
    chosen: list[int] = []
    redundant = 0
    for i in np.argsort(-auc, kind="stable"):
        if len(chosen) == k:
            break
        probs = pool[i].probs
        if any(pwm_similarity(probs, pool[j].probs) > max_similarity for j in chosen):
            redundant += 1
            continue
        chosen.append(int(i))
    return chosen, redundant


def select_enriched(codes: np.ndarray, labels, *, k: int = DEFAULT_K, max_width: int | None = None,
                    taxon: str | None = "vertebrates", collection: str = "CORE", release=DEFAULT_RELEASE,
                    background=None, max_similarity: float = DEFAULT_MAX_SIMILARITY,
                    max_sequences: int = DEFAULT_MAX_SEQUENCES, seed: int = 0, candidates=None) -> Selection:
    """The `k` non-redundant database motifs whose best-match score best separates positives from negatives.

    Parameters
    ----------
    codes : np.ndarray
        (N, L) uint8 codes of the training sequences (the training split only).
    labels : array-like
        (N,) labels; > 0.5 is positive, NaN rows are left out.
    k : int
        Motifs to choose (>= 1).
    max_width : int, optional
        Leave out candidates wider than this (the first-layer kernel); None keeps all that fit in L.
    taxon, collection, release
        The JASPAR candidates (`candidate_motifs`).
    background : optional
        A, C, G, T frequencies of the log-odds (None: uniform).
    max_similarity : float
        Skip a candidate whose `pwm_similarity` to a chosen motif exceeds this.
    max_sequences : int
        Score at most this many sequences (a seeded random subset).
    seed : int
        Seed of that subset.
    candidates : list of Motif, optional
        Use these instead of the JASPAR collection (tests, custom databases).

    Returns
    -------
    Selection
        Fewer than `k` motifs only when fewer non-redundant candidates exist.
    """
    t0 = time.process_time()
    if k < 1:
        raise ConfigError(f"model.motifs: auto:{k}: K must be >= 1")
    y = _check_labels(labels)
    codes = np.asarray(codes, dtype=np.uint8)
    ok = np.isfinite(y)
    codes, positive = _subsample(codes[ok], y[ok] > 0.5, max_sequences, seed)
    if positive.all() or not positive.any():
        raise ConfigError("model.motifs: auto needs positive and negative training sequences",
                          hint=f"the training split has {int(positive.sum())} positives of {len(positive)}")
    pool = candidate_motifs(taxon=taxon, collection=collection, release=release) if candidates is None \
        else list(candidates)
    limit = min(codes.shape[1], max_width or codes.shape[1])
    skipped = [m.label for m in pool if m.width > limit]
    pool = [m for m in pool if m.width <= limit]
    if not pool:
        raise ConfigError(f"model.motifs: auto: no candidate motif is at most {limit} bp wide",
                          hint="use a model with a larger first-layer kernel (model.params.stem_kernel)")
    pwms = [np.asarray(m.to_pwm(DEFAULT_PSEUDOCOUNT, background), dtype=np.float64) for m in pool]
    auc = column_auroc(max_scores(codes, pwms), positive)
    chosen, redundant = _non_redundant(pool, auc, k, max_similarity)
    table = pd.DataFrame({"rank": np.arange(1, len(chosen) + 1), "id": [pool[i].id or "" for i in chosen],
                          "name": [pool[i].name for i in chosen], "width": [pool[i].width for i in chosen],
                          "train_auroc": [round(float(auc[i]), 4) for i in chosen]})
    return Selection(motifs=[pool[i] for i in chosen], table=table, n_candidates=len(pool), skipped_long=skipped,
                     n_redundant=redundant, n_sequences=len(codes), n_positive=int(positive.sum()),
                     cpu_seconds=time.process_time() - t0, max_similarity=max_similarity)


__all__ = ["DEFAULT_K", "DEFAULT_MAX_SEQUENCES", "DEFAULT_MAX_SIMILARITY", "Selection", "candidate_motifs",
           "column_auroc", "max_scores", "parse_auto", "pwm_similarity", "select_enriched"]

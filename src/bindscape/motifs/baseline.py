"""The PWM baseline: score a sequence by its best log-odds motif match (both strands, max over motifs).

`PWMBaseline(motifs).predict(onehot)` gives one score per sequence, so evaluation can treat the PWM scan
like any model (higher = more likely bound). Scores are in bits; N columns add 0.
"""

from __future__ import annotations

import numpy as np

from bindscape.errors import InputError
from bindscape.motifs.scan import DEFAULT_PSEUDOCOUNT, as_pwms, onehot_to_codes, window_scores


def _window_max(codes: np.ndarray, pwm: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Max over windows of sum_j pwm[codes[i + j], j] per row; codes (N, L) uint8 (N=4 scores 0)."""
    n = codes.shape[0]
    out = np.empty(n)
    for a in range(0, n, chunk):
        out[a : a + chunk] = window_scores(codes[a : a + chunk].astype(np.intp), pwm).max(axis=1)
    return out


def pwm_max_scores(onehot, motifs, *, pseudocount: float = DEFAULT_PSEUDOCOUNT, background=None,
                   both_strands: bool = True) -> np.ndarray:
    """(N,) best log-odds score of any motif on either strand in each sequence.

    `onehot` is (N, 4, L) (or (N, L) uint8 codes); `motifs` a Motif, list of Motifs or dict of log-odds.

    Parameters
    ----------
    onehot
        See above; no motif may be longer than L.
    motifs
        See above (dict entries are used as is).
    pseudocount
        Added to the motif counts before the log-odds.
    background
        A, C, G, T background frequencies (None: uniform).
    both_strands
        Also score the reverse-complement motifs.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` scores in bits.
    """
    x = np.asarray(onehot)
    codes = onehot_to_codes(x) if x.ndim == 3 else np.minimum(x.astype(np.uint8), 4)
    if codes.ndim != 2:
        raise InputError(f"sequences must be (N, 4, L) one-hot or (N, L) codes, got {x.shape}")
    entries = as_pwms(motifs, pseudocount, background)
    L = codes.shape[1]
    best = np.full(codes.shape[0], -np.inf)
    for name, _id, fwd, rev in entries:
        if fwd.shape[1] > L:
            raise InputError(f"motif {name!r} ({fwd.shape[1]} bp) is longer than the sequences ({L} bp)")
        best = np.maximum(best, _window_max(codes, fwd))
        if both_strands:
            best = np.maximum(best, _window_max(codes, rev))
    return best


class PWMBaseline:
    """A 'model' whose prediction is the best PWM match in the sequence (max over motifs and strands)."""

    name = "pwm"

    def __init__(self, motifs, *, pseudocount: float = DEFAULT_PSEUDOCOUNT, background=None,
                 both_strands: bool = True):
        from bindscape.motifs.load import load_motifs

        if isinstance(motifs, dict):
            self.motifs = motifs
        else:
            self.motifs = load_motifs(motifs)
        self.pseudocount = pseudocount
        self.background = background
        self.both_strands = both_strands

    def predict(self, onehot) -> np.ndarray:
        """`pwm_max_scores` of the sequences with this baseline's motifs and settings.

        Parameters
        ----------
        onehot
            ``(N, 4, L)`` one-hot or ``(N, L)`` uint8 codes.

        Returns
        -------
        numpy.ndarray
            ``(N,)`` best log-odds scores in bits.
        """
        return pwm_max_scores(onehot, self.motifs, pseudocount=self.pseudocount, background=self.background,
                              both_strands=self.both_strands)

    __call__ = predict

    def __repr__(self) -> str:
        n = len(self.motifs)
        return f"PWMBaseline({n} motif{'s' if n != 1 else ''})"

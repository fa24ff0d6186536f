"""Sequence logos (logomaker), information-content scaled."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bindscape.motifs.load import Motif


def logo_matrix(motif: Motif, kind: str = "information", pseudocount: float = 0.0):
    """A (W, 4) DataFrame for logomaker: 'information' (bits), 'probability' or 'weight' (log2 odds).

    Parameters
    ----------
    motif
        The motif.
    kind
        One of the three kinds above.
    pseudocount
        Pseudo-sites for the probabilities (0: plain frequencies; ``weight`` then uses 0.1).

    Returns
    -------
    pandas.DataFrame
        Columns ``A, C, G, T``, one row per motif column.
    """
    import pandas as pd

    if kind == "weight":
        m = motif.to_pwm(pseudocount or 0.1)
    else:
        p = motif.to_ppm(pseudocount) if pseudocount else motif.probs
        m = p * motif.information_content()[None, :] if kind == "information" else p
        if kind not in ("information", "probability"):
            raise ValueError(f"unknown logo kind {kind!r}")
    return pd.DataFrame(np.asarray(m).T, columns=list("ACGT"))


def plot_logo(motif: Motif, ax=None, *, kind: str = "information", rc: bool = False, title: str | None = None):
    """Draw a motif logo on `ax` (a new figure when None); returns the axes.

    Parameters
    ----------
    motif
        The motif.
    ax
        Matplotlib axes to draw on.
    kind
        ``information``, ``probability`` or ``weight`` (see `logo_matrix`).
    rc
        Draw the reverse complement.
    title
        Axes title (None: the motif's label, plus `` (rc)``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import logomaker
    import matplotlib

    if ax is None:
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(max(2.5, 0.45 * motif.width), 2.0))
    m = motif.reverse_complement() if rc else motif
    logomaker.Logo(logo_matrix(m, kind), ax=ax, color_scheme="classic")
    ax.set_ylabel("bits" if kind == "information" else kind)
    if kind == "information":
        ax.set_ylim(0, 2)
    ax.set_xticks(range(m.width))
    ax.set_xticklabels([str(i + 1) for i in range(m.width)], fontsize=7)
    ax.set_title(title if title is not None else m.label + (" (rc)" if rc else ""), fontsize=9)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return ax


def save_logo(motif: Motif, path, *, kind: str = "information", rc: bool = False) -> Path:
    """Write a logo image (png/svg/pdf by extension), atomically.

    Parameters
    ----------
    motif
        The motif.
    path
        Output image (no extension: png).
    kind, rc
        As in `plot_logo`.

    Returns
    -------
    Path
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from bindscape._util import atomic_path

    path = Path(path)
    ax = plot_logo(motif, kind=kind, rc=rc)
    fig = ax.figure
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=150)
    plt.close(fig)
    return path

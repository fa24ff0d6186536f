"""The one reverse-complement-averaged prediction helper (binary, cross-species, multitask, explain).

DNA is one-hot ``(N, 4, L)`` in A,C,G,T order, optionally followed by extra track channels ``(N, 4 + T, L)``
(multitask). `rc_input` reverse-complements the DNA channels and reverses the tracks; `rc_averaged` runs a
forward function on both strands and averages, flipping per-position outputs back into the forward
strand's coordinates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def rc_input(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of a model input.

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot DNA, or ``(N, 4 + T, L)`` DNA plus T track channels.

    Returns
    -------
    torch.Tensor
        DNA channels complemented and reversed, track channels reversed.
    """
    if x.shape[1] == 4:
        return x.flip(1, 2)
    return torch.cat([x[:, :4].flip(1, 2), x[:, 4:].flip(2)], dim=1)


reverse_complement = rc_input


@torch.no_grad()
def rc_averaged(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, rc_average: bool = True,
                per_position: bool = False, space: str = "prob") -> torch.Tensor:
    """Outputs of `forward` on `x`, averaged over both strands.

    Parameters
    ----------
    forward
        Model input -> logits (``(N, K)`` per sequence, or ``(N, L)`` per position).
    x
        Model input (see `rc_input`).
    rc_average
        False: the forward strand only.
    per_position
        The output's last axis is sequence position: flip the reverse strand's output back.
    space
        ``"prob"``: average sigmoid probabilities (returns probabilities); ``"logit"``: average logits
        (returns logits).

    Returns
    -------
    torch.Tensor
        Float probabilities or logits, the shape of ``forward(x)``.
    """
    act = torch.sigmoid if space == "prob" else (lambda z: z)
    out = act(forward(x).float())
    if rc_average:
        r = act(forward(rc_input(x)).float())
        out = 0.5 * (out + (r.flip(-1) if per_position else r))
    return out


def predict_proba(model, x: torch.Tensor, rc_average: bool = True) -> torch.Tensor:
    """Sigmoid probabilities of a per-sequence model; with `rc_average`, the mean over both strands.

    Parameters
    ----------
    model
        Input ``(N, 4, L)`` -> logits ``(N, K)``.
    x
        One-hot input.
    rc_average
        Average the two strands (strand-symmetric predictions).

    Returns
    -------
    torch.Tensor
        ``(N, K)`` probabilities.
    """
    return rc_averaged(model, x, rc_average=rc_average)

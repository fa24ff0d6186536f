"""Motif-informed models: first-layer filters set from motifs, and the PWM score as a late feature.

- `init_first_layer(model, motifs)`: in the first ``nn.Conv1d`` that reads the 4 DNA channels, filters
  ``2i`` and ``2i + 1`` become motif ``i``'s log2-odds matrix (forward strand and reverse complement),
  centred in the kernel with zeros around it, bias 0; the other filters keep their random initialisation.
- `MotifFreeze`: keeps those filters fixed (gradient zeroed, values restored after each optimizer step,
  so weight decay cannot move them either) while a training loop says so.
- `MotifHybrid` (registry name ``motif_hybrid``): any registry model whose `embed(x)` is concatenated with
  each motif's best log-odds score over the window (both strands, valid positions only, N adds 0 - the
  PWM baseline's score, scaled by the motif's best possible score) before a new linear head. The head
  starts with zero weight on the learned embedding and a positive weight on the motif scores, so the
  untrained model ranks sequences exactly as the PWM scan does. The log-odds matrices are constructor
  arguments (JSON-able lists), so a checkpoint rebuilds the model with no motif database at hand.

Like `bindscape.models.conditioned`, this module builds models through the registry, so the package does
not import it (no import cycle); `bindscape.train.checkpoint` rebuilds ``motif_hybrid`` checkpoints.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bindscape.errors import ConfigError
from bindscape.models import get_model
from bindscape.models.base import BindscapeModel, InputLengthError

#: initial head weight on each (scaled) motif score of `MotifHybrid`, and the score it centres on
SCORE_WEIGHT = 8.0
SCORE_CENTRE = 0.6


def first_dna_conv(model: nn.Module) -> tuple[str, nn.Conv1d]:
    """The first ``nn.Conv1d`` (in module order) whose input is the 4 DNA channels.

    Parameters
    ----------
    model : nn.Module
        Any model.

    Returns
    -------
    tuple of (str, nn.Conv1d)
        The layer's dotted name and the layer.
    """
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv1d) and mod.in_channels == 4:
            return name, mod
    kind = getattr(model, "name", type(model).__name__)
    raise ConfigError(f"model {kind!r} has no Conv1d on the 4 DNA channels to initialise from motifs")


def motif_log_odds(motifs, *, pseudocount: float = 0.1, background=None) -> list[np.ndarray]:
    """The log2-odds matrix (4, W) of each motif, forward strand.

    Parameters
    ----------
    motifs : list of bindscape.motifs.Motif
        The motifs.
    pseudocount : float
        Pseudo-sites per column (the PWM baseline's default, 0.1).
    background : optional
        A, C, G, T frequencies (see `bindscape.motifs.as_background`); None is uniform.

    Returns
    -------
    list of np.ndarray
        One (4, W) float64 array per motif.
    """
    return [np.asarray(m.to_pwm(pseudocount, background), dtype=np.float64) for m in motifs]


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """A (4, W) matrix over A, C, G, T read on the other strand (bases complemented, columns reversed).

    Parameters
    ----------
    pwm : np.ndarray
        (4, W) matrix.

    Returns
    -------
    np.ndarray
        (4, W) matrix.
    """
    return np.ascontiguousarray(np.asarray(pwm)[::-1, ::-1])


def motif_filters(pwms: list[np.ndarray], kernel: int, names: list[str] | None = None) -> np.ndarray:
    """Conv1d weights for motifs: two filters per motif (forward, reverse complement), centred, zero-padded.

    Parameters
    ----------
    pwms : list of np.ndarray
        (4, W) log-odds matrices, W <= `kernel`.
    kernel : int
        The layer's kernel size.
    names : list of str, optional
        Motif labels for the error message.

    Returns
    -------
    np.ndarray
        (2 * len(pwms), 4, kernel) float32; motif ``i``'s columns sit at ``(kernel - W) // 2``.
    """
    out = np.zeros((2 * len(pwms), 4, kernel), dtype=np.float32)
    for i, pwm in enumerate(pwms):
        w = pwm.shape[1]
        if w > kernel:
            label = names[i] if names else f"#{i + 1}"
            raise ConfigError(f"motif {label} is {w} bp, longer than the first-layer kernel ({kernel} bp)",
                              hint=f"use a model with a first-layer kernel of at least {w} "
                                   "(e.g. model.params.stem_kernel for bindscape_cnn) or a shorter motif")
        a = (kernel - w) // 2
        out[2 * i, :, a:a + w] = pwm
        out[2 * i + 1, :, a:a + w] = reverse_complement_pwm(pwm)
    return out


@torch.no_grad()
def init_first_layer(model: nn.Module, pwms: list[np.ndarray], names: list[str] | None = None) -> dict:
    """Set the first DNA convolution's leading filters to the motifs' log-odds (both strands, centred).

    Parameters
    ----------
    model : nn.Module
        A freshly built model (the other filters keep their initialisation).
    pwms : list of np.ndarray
        (4, W) log-odds matrices (`motif_log_odds`).
    names : list of str, optional
        Motif labels for messages.

    Returns
    -------
    dict
        ``layer`` (dotted name), ``filters`` (how many were set) and ``kernel``.
    """
    name, conv = first_dna_conv(model)
    if conv.groups != 1 or conv.dilation[0] != 1:
        raise ConfigError(f"layer {name!r} is grouped or dilated; motif initialisation needs a plain Conv1d")
    k = int(conv.kernel_size[0])
    w = torch.from_numpy(motif_filters(pwms, k, names))
    if w.shape[0] > conv.out_channels:
        raise ConfigError(f"{len(pwms)} motifs need {w.shape[0]} filters; layer {name!r} has {conv.out_channels}")
    conv.weight[: w.shape[0]] = w.to(conv.weight)
    if conv.bias is not None:
        conv.bias[: w.shape[0]] = 0.0
    return {"layer": name, "filters": int(w.shape[0]), "kernel": k}


def load_model_motifs(keys, source: str = "model.motifs") -> list:
    """The motifs named in a config: JASPAR IDs or names, or motif files (every motif in them).

    Parameters
    ----------
    keys : list of str
        As in `bindscape.motifs.load_motifs`.
    source : str
        The config field or CLI flag, to start error messages.

    Returns
    -------
    list of bindscape.motifs.Motif
    """
    from bindscape.errors import BindscapeError
    from bindscape.motifs import load_motifs

    out = []
    for key in keys:
        try:
            out.extend(load_motifs([key]))
        except BindscapeError as exc:
            raise ConfigError(f"{source}: {exc.message}", hint=exc.hint) from None
    if not out:
        raise ConfigError(f"{source}: no motifs given")
    return out


def base_composition(genome) -> np.ndarray:
    """A, C, G, T frequencies of a genome (N and other codes ignored), made strand-symmetric.

    Parameters
    ----------
    genome : bindscape.io.genome.Genome
        An opened genome.

    Returns
    -------
    np.ndarray
        (4,) frequencies summing to 1, with A = T and C = G (so reverse-complement filters stay exact).
    """
    counts = np.zeros(4, dtype=np.float64)
    for chrom in genome.chroms:
        counts += np.bincount(np.asarray(genome.codes(chrom)), minlength=5)[:4]
    if counts.sum() == 0:
        raise ConfigError("model.motif_background: genome: the genome has no A/C/G/T bases")
    at, gc = counts[0] + counts[3], counts[1] + counts[2]
    return np.array([at, gc, gc, at]) / (2 * (at + gc))


def motif_model(name: str, params: dict, *, length: int, n_outputs: int, motifs: list, score: str = "none",
                background=None) -> BindscapeModel:
    """A registry model with its first-layer filters set from motifs, optionally with the PWM score head.

    Parameters
    ----------
    name : str
        Registry model name.
    params : dict
        Its constructor arguments (besides length and n_outputs).
    length, n_outputs : int
        Window length and outputs.
    motifs : list of bindscape.motifs.Motif
        The motifs (`load_model_motifs`).
    score : str
        ``none`` or ``late`` (wrap in `MotifHybrid`).
    background : optional
        A, C, G, T frequencies of the log-odds (None: uniform).

    Returns
    -------
    BindscapeModel
        The model; ``n_motif_filters`` says how many leading first-layer filters hold motifs.
    """
    pwms = motif_log_odds(motifs, background=background)
    names = [m.label for m in motifs]
    if score == "late":
        model = MotifHybrid(pwms=[p.tolist() for p in pwms], motif_names=names, inner=name,
                            inner_params=dict(params), length=length, n_outputs=n_outputs)
    else:
        model = get_model(name, length=length, n_outputs=n_outputs, **params)
    info = init_first_layer(model, pwms, names)
    model.n_motif_filters = info["filters"]
    return model


class MotifFreeze:
    """Keeps the motif filters of a model's first DNA convolution fixed while `frozen` is True.

    Call `zero_grad_rows()` after the backward pass and `restore()` after the optimizer step: the gradient
    of the motif rows is zeroed (so Adam's moments stay empty for them) and their values are put back
    (undoing decoupled weight decay).

    Parameters
    ----------
    model : nn.Module
        The model, already initialised with `init_first_layer`.
    n_filters : int
        How many leading filters hold motifs.
    """

    def __init__(self, model: nn.Module, n_filters: int):
        _, self.conv = first_dna_conv(model)
        self.n = int(n_filters)
        self.capture()

    def capture(self) -> None:
        """Remember the current motif filters (and biases) as the values to keep."""
        self.weight = self.conv.weight.detach()[: self.n].clone()
        self.bias = None if self.conv.bias is None else self.conv.bias.detach()[: self.n].clone()

    @torch.no_grad()
    def zero_grad_rows(self) -> None:
        """Zero the gradient of the motif filters."""
        for p in (self.conv.weight, self.conv.bias):
            if p is not None and p.grad is not None:
                p.grad[: self.n] = 0

    @torch.no_grad()
    def restore(self) -> None:
        """Put the remembered motif filters back."""
        self.conv.weight[: self.n] = self.weight.to(self.conv.weight)
        if self.bias is not None:
            self.conv.bias[: self.n] = self.bias.to(self.conv.bias)


def best_scores(x: torch.Tensor, pwm: torch.Tensor) -> torch.Tensor:
    """Best log-odds score of one motif over all valid windows of each sequence, both strands.

    Parameters
    ----------
    x : torch.Tensor
        (N, 4, L) one-hot DNA (N columns all zero, adding 0).
    pwm : torch.Tensor
        (2, 4, W): forward and reverse-complement log-odds.

    Returns
    -------
    torch.Tensor
        (N,) scores in bits.
    """
    return nn.functional.conv1d(x, pwm.to(x.dtype)).amax(dim=(1, 2))


class MotifHybrid(BindscapeModel):
    """A registry model plus each motif's best PWM score (both strands) as late features before a new head.

    Parameters
    ----------
    pwms : list
        Per motif, its (4, W) log2-odds matrix as nested lists (forward strand).
    motif_names : list of str
        Labels, one per motif.
    inner : str
        The registry model whose `embed` supplies the learned features.
    inner_params : dict
        Its constructor arguments (besides length and n_outputs).
    length, n_outputs : int
        As for every model.
    """

    name = "motif_hybrid"

    def __init__(self, pwms: list, motif_names: list | None = None, inner: str = "bindscape_cnn",
                 inner_params: dict | None = None, length: int = 100, n_outputs: int = 1):
        if inner == self.name:
            raise ConfigError("motif_hybrid cannot wrap itself")
        mats = [np.asarray(p, dtype=np.float64) for p in pwms or []]
        if not mats or any(m.ndim != 2 or m.shape[0] != 4 for m in mats):
            raise ConfigError("motif_hybrid needs one or more (4, W) log-odds matrices in `pwms`")
        names = list(motif_names or [f"motif{i + 1}" for i in range(len(mats))])
        self._hparams = dict(pwms=[m.tolist() for m in mats], motif_names=names, inner=inner,
                             inner_params=dict(inner_params or {}), length=length, n_outputs=n_outputs)
        self.inner = None
        self._widths = [m.shape[1] for m in mats]
        super().__init__(length=length, n_outputs=n_outputs)
        self.inner = get_model(inner, length=length, n_outputs=1, **(inner_params or {}))
        self.inner.head = nn.Identity()  # the hybrid's own head replaces it
        for i, m in enumerate(mats):
            both = np.stack([m, reverse_complement_pwm(m)]).astype(np.float32)
            self.register_buffer(f"pwm{i}", torch.from_numpy(both), persistent=False)
        top = np.array([m.max(axis=0).sum() for m in mats], dtype=np.float32)
        self.register_buffer("score_scale", torch.from_numpy(np.maximum(top, 1e-3)), persistent=False)
        d = self.inner.embed_dim
        self.head = nn.Linear(d + len(mats), n_outputs)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[:, d:] = SCORE_WEIGHT
            self.head.bias.fill_(-SCORE_WEIGHT * SCORE_CENTRE * len(mats))

    @property
    def fixed_length(self) -> bool:  # type: ignore[override]
        return bool(self.inner.fixed_length) if self.inner is not None else False

    @property
    def min_length(self) -> int:
        inner = self.inner.min_length if self.inner is not None else 1
        return max(inner, *self._widths)

    @property
    def input_length_rule(self) -> str:
        if self.fixed_length:
            return f"exactly {self.length} bp (the length the model was built for)"
        return f"any length >= {self.min_length} bp"

    def motif_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Each motif's best score over the window, both strands, divided by its best possible score.

        Parameters
        ----------
        x : torch.Tensor
            (N, 4, L) one-hot DNA.

        Returns
        -------
        torch.Tensor
            (N, n_motifs).
        """
        s = torch.stack([best_scores(x, getattr(self, f"pwm{i}")) for i in range(len(self._widths))], dim=1)
        return s / self.score_scale.to(s.dtype)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < max(self._widths):
            raise InputLengthError(f"model {self.name!r} got sequences of {x.shape[-1]} bp; it takes "
                                   f"{self.input_length_rule}")
        return torch.cat([self.inner.embed(x), self.motif_scores(x)], dim=1)


__all__ = ["MotifFreeze", "MotifHybrid", "base_composition", "best_scores", "first_dna_conv", "init_first_layer",
           "load_model_motifs", "motif_filters", "motif_log_odds", "motif_model", "reverse_complement_pwm"]

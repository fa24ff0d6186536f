"""The base class every bindscape model derives from.

A model maps one-hot DNA ``(N, 4, L)`` to logits ``(N, n_outputs)``. It is split into a trunk, `embed(x)`
-> ``(N, D)`` (the vector domain adaptation aligns), and a `head` (``nn.Module``: ``(N, D)`` -> logits), so
``forward(x) == head(embed(x))``. Every model states which input lengths it accepts (`min_length`,
`input_length_rule`) and fails with one clear line on any other length.
"""

from __future__ import annotations

import torch
from torch import nn

from bindscape.errors import ConfigError


class InputLengthError(ConfigError):
    """A sequence length a model cannot take (or a dataset/model length mismatch)."""


class BindscapeModel(nn.Module):
    """Base class: subclasses set `self.head`, implement `embed`, and may override `check_length`.

    Class attributes:
    - ``name``: the registry name.
    - ``fixed_length``: True when the model only accepts the length it was built for (it has a flatten
      layer sized for that length); False when any length >= `min_length` works (global pooling).
    """

    name: str = "base"
    fixed_length: bool = False
    default_length: int = 1000

    def __init__(self, *, length: int, n_outputs: int = 1):
        super().__init__()
        self.length = int(length)
        self.n_outputs = int(n_outputs)
        if self.length < self.min_length:
            raise InputLengthError(
                f"model {self.name!r} needs sequences of at least {self.min_length} bp, got length={self.length}",
                hint=self.input_length_rule,
            )

    # -- length rules ---------------------------------------------------------------------------------
    @property
    def min_length(self) -> int:
        """Shortest input length in bp the architecture can take."""
        return 1

    @property
    def input_length_rule(self) -> str:
        """The accepted input lengths, in words (for error messages and hints)."""
        if self.fixed_length:
            return f"exactly {self.length} bp (the length the model was built for)"
        return f"any length >= {self.min_length} bp"

    def check_length(self, length: int) -> None:
        """Raise `InputLengthError` when the model cannot take sequences of `length` bp.

        Parameters
        ----------
        length
            Input length in bp: must equal `length` for fixed-length models, else be >= `min_length`.
        """
        ok = length == self.length if self.fixed_length else length >= self.min_length
        if not ok:
            raise InputLengthError(
                f"model {self.name!r} got sequences of {length} bp; it takes {self.input_length_rule}",
                hint="rebuild the dataset with the model's length, or build the model with length="
                f"{length}" if length >= self.min_length else None,
            )

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != 4:
            raise InputLengthError(f"model {self.name!r} expects one-hot input (N, 4, L), got {tuple(x.shape)}")
        self.check_length(int(x.shape[-1]))

    # -- API ------------------------------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The trunk: one embedding vector per sequence (subclasses implement it).

        Parameters
        ----------
        x
            ``(N, 4, L)`` one-hot DNA.

        Returns
        -------
        torch.Tensor
            ``(N, D)`` embeddings, the input of `head`.
        """
        raise NotImplementedError

    @property
    def embed_dim(self) -> int:
        """D, the embedding size (found by embedding one all-zero sequence)."""
        with torch.no_grad():
            was = self.training
            self.eval()
            d = self.embed(torch.zeros(1, 4, max(self.length, self.min_length))).shape[-1]
            self.train(was)
        return int(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, n_outputs)`` logits of ``(N, 4, L)`` one-hot sequences: ``head(embed(x))`` after checking the
        input shape and length."""
        self._check_input(x)
        return self.head(self.embed(x))

    def n_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters.

        Parameters
        ----------
        trainable_only
            Count only parameters that require gradients (not frozen ones).

        Returns
        -------
        int
        """
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def hparams(self) -> dict:
        """Constructor arguments (stored in checkpoints so the model can be rebuilt)."""
        return dict(self._hparams)


def conv_out(length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a Conv1d.

    Parameters
    ----------
    length : int
        Input length.
    kernel, stride, padding, dilation : int
        The convolution's settings.

    Returns
    -------
    int
        Output length (as torch computes it).
    """
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(length: int, kernel: int, stride: int | None = None, ceil: bool = False) -> int:
    """Output length of a MaxPool1d.

    Parameters
    ----------
    length : int
        Input length.
    kernel : int
        Pool size.
    stride : int, optional
        Step (default: `kernel`).
    ceil : bool
        torch's ``ceil_mode``.

    Returns
    -------
    int
        Output length.
    """
    stride = stride or kernel
    n = length - kernel
    return (-(-n // stride) if ceil else n // stride) + 1

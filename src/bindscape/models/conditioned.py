"""`ConditionedModel`: any registry model made multitask and per-base-pair by TF and cell-type embeddings.

Kept apart from `bindscape.models.nettime` because it builds its inner model through the registry
(`bindscape.models.get_model`), which itself imports `nettime`; the package does not import this module, so
there is no import cycle.
"""

from __future__ import annotations

import torch
from torch import nn

from bindscape.models import get_model
from bindscape.models.base import BindscapeModel, InputLengthError
from bindscape.models.nettime import ConditionMixin


class ConditionedModel(ConditionMixin, BindscapeModel):
    """Any registry model made multitask and per-bp: its `embed(x)` vector (N, D) is concatenated with the TF
    and cell embeddings (``mode="concat"``) or has a projection of them added (``mode="add"``); a FC decoder
    maps the result to L per-bp logits. Track channels (if any) enter as their per-window mean."""

    name = "conditioned"

    def __init__(self, inner: str = "bindscape_cnn", inner_params: dict | None = None, length: int = 1000,
                 n_outputs: int = 1, n_tfs: int = 1, n_cells: int = 1, d_tf: int = 50, d_cell: int = 50,
                 n_tracks: int = 0, mode: str = "concat", hidden: int = 128):
        self._hparams = dict(inner=inner, inner_params=dict(inner_params or {}), length=length, n_outputs=n_outputs,
                             n_tfs=n_tfs, n_cells=n_cells, d_tf=d_tf, d_cell=d_cell, n_tracks=n_tracks, mode=mode,
                             hidden=hidden)
        super().__init__(length=length, n_outputs=n_outputs)
        if mode not in ("concat", "add"):
            raise InputLengthError(f"ConditionedModel mode {mode!r}: choose concat or add")
        self.inner = get_model(inner, length=length, n_outputs=1, **(inner_params or {}))
        self.mode = mode
        self.n_tracks = int(n_tracks)
        self._init_embeddings(n_tfs, n_cells, d_tf, d_cell)
        D = self.inner.embed_dim
        dc = d_tf + d_cell
        if mode == "concat":
            d_in = D + dc + self.n_tracks
        else:
            self.cond_proj = nn.Linear(dc + self.n_tracks, D)
            d_in = D
        self.decoder = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, length)

    @property
    def min_length(self) -> int:
        """Shortest input length in bp (the fixed window length is checked by `check_length`)."""
        return 1

    def check_length(self, length: int) -> None:
        """Raise `InputLengthError` unless `length` (bp) is the window length the model predicts."""
        if length != self.length:
            raise InputLengthError(f"model 'conditioned' predicts {self.length} bp windows, got {length} bp")

    def embed(self, x, tf=None, cell=None, tf_vec=None, cell_vec=None) -> torch.Tensor:
        """The decoder's hidden vector: inner embedding combined with the condition (and mean tracks).

        Parameters
        ----------
        x
            ``(N, 4 + n_tracks, L)``: one-hot DNA then track channels.
        tf, cell
            TF and cell-type indices, a scalar or ``(N,)`` (None: index 0).
        tf_vec, cell_vec
            Explicit embedding vectors, ``(d,)`` or ``(N, d)``, used instead of the indices.

        Returns
        -------
        torch.Tensor
            ``(N, hidden)``.
        """
        if x.dim() != 3 or x.shape[1] != 4 + self.n_tracks:
            raise InputLengthError(f"model 'conditioned' expects input (N, {4 + self.n_tracks}, L), got {tuple(x.shape)}")
        self.check_length(int(x.shape[-1]))
        h = self.inner.embed(x[:, :4])
        extra = [self.condition_vector(len(x), tf, cell, tf_vec, cell_vec, device=x.device)]
        if self.n_tracks:
            extra.append(x[:, 4:].mean(dim=-1))
        e = torch.cat(extra, dim=1)
        h = torch.cat([h, e], dim=1) if self.mode == "concat" else h + self.cond_proj(e)
        return self.decoder(h)

    def forward(self, x, tf=None, cell=None, tf_vec=None, cell_vec=None) -> torch.Tensor:
        """``(N, L)`` per-bp logits for one condition per row (arguments as in `embed`)."""
        return self.head(self.embed(x, tf, cell, tf_vec, cell_vec))

    @property
    def embed_dim(self) -> int:
        """The decoder's hidden size."""
        return int(self._hparams["hidden"])

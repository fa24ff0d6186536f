"""`nettime`: NetTIME's multitask per-base-pair model (`ConditionedModel`, which conditions any registry model
on TF and cell-type embeddings the same way, is in `bindscape.models.conditioned`).

NetTIME (Yi, Cho & Bonneau 2022): a TF embedding and a cell-type embedding (d = 50 each) are concatenated
and used as the initial hidden state of a bidirectional GRU (both directions); the GRU runs over features from
ResNet-style convolution blocks, and a fully connected decoder predicts a logit at every base pair.
Here the GRU runs on the conv features max-pooled by `pool` (CPU cost) and its output is upsampled back to
base-pair resolution and concatenated with the full-resolution conv features before the per-bp decoder.

Inputs: ``x`` (N, 4 + n_tracks, L) - one-hot DNA plus optional cell-type track channels -, ``tf`` and ``cell``
index tensors (N,). Output: per-bp logits (N, L). `embed(x, tf, cell)` is the pooled encoder vector (N, D).
`embeddings` can be overridden at call time (``tf_vec``/``cell_vec``) for embedding transfer, averages and
the random-embedding ablation.
"""

from __future__ import annotations

import torch
from torch import nn

from bindscape.models.base import BindscapeModel, InputLengthError


class _ResBlock(nn.Module):
    def __init__(self, c: int, kernel: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c, c, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(c), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv1d(c, c, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(c),
        )

    def forward(self, x):
        return torch.relu(x + self.body(x))


class ConditionMixin:
    """TF / cell embeddings with call-time overrides (NetTIME and `bindscape.models.conditioned`)."""

    def _init_embeddings(self, n_tfs: int, n_cells: int, d_tf: int, d_cell: int) -> None:
        self.tf_embedding = nn.Embedding(max(n_tfs, 1), d_tf) if d_tf else None
        self.cell_embedding = nn.Embedding(max(n_cells, 1), d_cell) if d_cell else None

    def condition_vector(self, n: int, tf=None, cell=None, tf_vec=None, cell_vec=None, device=None) -> torch.Tensor:
        """Concatenated [TF, cell] embedding (N, d_tf + d_cell); explicit vectors (d,) or (N, d) win.

        Parameters
        ----------
        n
            Number of rows N.
        tf, cell
            TF and cell-type indices, a scalar or ``(N,)`` (None: index 0).
        tf_vec, cell_vec
            Explicit embedding vectors, used instead of the indices.
        device
            Device of the result.

        Returns
        -------
        torch.Tensor
            ``(N, d_tf + d_cell)`` (parts whose embedding size is 0 left out; ``(N, 0)`` when both are).
        """
        parts = []
        for emb, idx, vec in ((self.tf_embedding, tf, tf_vec), (self.cell_embedding, cell, cell_vec)):
            if emb is None:
                continue
            if vec is not None:
                v = torch.as_tensor(vec, dtype=torch.float32, device=device)
                parts.append(v.expand(n, -1) if v.dim() == 1 else v)
            else:
                if idx is None:  # no condition given: index 0 (single-condition use)
                    idx = torch.zeros(n, dtype=torch.long, device=device)
                parts.append(emb(torch.as_tensor(idx, device=device).long().view(-1).expand(n)))
        if not parts:
            return torch.zeros(n, 0, device=device)
        return torch.cat(parts, dim=1)


class NetTIME(ConditionMixin, BindscapeModel):
    """ResNet conv blocks + biGRU (h0 = [TF emb, cell emb]) + per-bp FC decoder; any length >= `pool`."""

    name = "nettime"
    fixed_length = False

    def __init__(self, length: int = 1000, n_outputs: int = 1, n_tfs: int = 1, n_cells: int = 1,
                 d_tf: int = 50, d_cell: int = 50, n_tracks: int = 0, channels: int = 64, kernel: int = 9,
                 n_blocks: int = 2, pool: int = 5, gru_layers: int = 1, decoder: int = 64, dropout: float = 0.1,
                 use_embeddings: bool = True, decoder_condition: bool = False, film: bool = False):
        self._hparams = dict(length=length, n_outputs=n_outputs, n_tfs=n_tfs, n_cells=n_cells, d_tf=d_tf,
                             d_cell=d_cell, n_tracks=n_tracks, channels=channels, kernel=kernel, n_blocks=n_blocks,
                             pool=pool, gru_layers=gru_layers, decoder=decoder, dropout=dropout,
                             use_embeddings=use_embeddings, decoder_condition=decoder_condition, film=film)
        # decoder_condition: also give the per-bp decoder the [TF, cell] vector at every bp (not in NetTIME,
        # where the embeddings only start the GRU, whose state drifts away from them along the window)
        self.decoder_condition = bool(decoder_condition) and bool(use_embeddings)
        # film: the [TF, cell] vector also scales and shifts every conv channel (FiLM, Perez et al. 2018; not in
        # NetTIME), so a condition can switch motif detectors on or off instead of only starting the GRU
        self.film = bool(film) and bool(use_embeddings)
        self._pool = int(pool)
        super().__init__(length=length, n_outputs=n_outputs)
        self.n_in = 4 + int(n_tracks)
        self.use_embeddings = bool(use_embeddings)
        self.hidden = d_tf + d_cell
        if self.hidden <= 0:
            raise InputLengthError("nettime needs d_tf + d_cell > 0 (the GRU's hidden size)")
        self._init_embeddings(n_tfs, n_cells, d_tf, d_cell)
        self.stem = nn.Sequential(nn.Conv1d(self.n_in, channels, 15, padding=7, bias=False),
                                  nn.BatchNorm1d(channels), nn.ReLU())
        self.blocks = nn.Sequential(*[_ResBlock(channels, kernel, dropout) for _ in range(n_blocks)])
        if self.film:
            self.film_proj = nn.Linear(self.hidden, 2 * channels)
            nn.init.zeros_(self.film_proj.weight)  # starts as the identity: scale 1, shift 0
            nn.init.zeros_(self.film_proj.bias)
        self.pool = nn.MaxPool1d(pool, ceil_mode=True) if pool > 1 else nn.Identity()
        self.gru = nn.GRU(channels, self.hidden, num_layers=gru_layers, batch_first=True, bidirectional=True)
        self.gru_layers = gru_layers
        d_in = channels + 2 * self.hidden + (self.hidden if self.decoder_condition else 0)
        self.decoder = nn.Sequential(nn.Conv1d(d_in, decoder, 1), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Conv1d(decoder, 1, 1)  # the per-bp FC output layer (a 1x1 conv = FC at every bp)

    @property
    def min_length(self) -> int:
        """Shortest accepted input: the pooling width before the GRU."""
        return max(self._pool, 1)

    def _check(self, x):
        if x.dim() != 3 or x.shape[1] != self.n_in:
            raise InputLengthError(f"model 'nettime' expects one-hot input plus {self.n_in - 4} track channels "
                                   f"(N, {self.n_in}, L), got {tuple(x.shape)}")
        self.check_length(int(x.shape[-1]))

    def h0(self, n: int, tf=None, cell=None, tf_vec=None, cell_vec=None, device=None) -> torch.Tensor:
        """Initial GRU state (2 * layers, N, d_tf + d_cell): the concatenated embeddings (arguments as in
        `condition_vector`), or zeros when the model does not use embeddings."""
        if not self.use_embeddings:
            return torch.zeros(2 * self.gru_layers, n, self.hidden, device=device)
        v = self.condition_vector(n, tf, cell, tf_vec, cell_vec, device=device)
        return v.unsqueeze(0).expand(2 * self.gru_layers, -1, -1).contiguous()

    def features(self, x, tf=None, cell=None, tf_vec=None, cell_vec=None):
        """Per-bp decoder features: conv blocks (FiLM-modulated when enabled), the biGRU started from the
        condition, upsampled back to L (and the condition vector with ``decoder_condition``).

        Parameters
        ----------
        x
            ``(N, 4 + n_tracks, L)`` one-hot DNA then track channels.
        tf, cell, tf_vec, cell_vec
            The condition, as in `condition_vector`.

        Returns
        -------
        torch.Tensor
            ``(N, decoder, L)``.
        """
        self._check(x)
        c = self.blocks(self.stem(x))
        h0 = self.h0(len(x), tf, cell, tf_vec, cell_vec, device=x.device)
        if self.film:
            scale, shift = self.film_proj(h0[0]).unsqueeze(2).chunk(2, dim=1)
            c = torch.relu(c * (1 + scale) + shift)
        p = self.pool(c)
        out, _ = self.gru(p.transpose(1, 2), h0)
        out = out.transpose(1, 2)
        if self._pool > 1:
            out = out.repeat_interleave(self._pool, dim=2)[:, :, : x.shape[-1]]
        parts = [c, out]
        if self.decoder_condition:
            parts.append(h0[0].unsqueeze(2).expand(-1, -1, x.shape[-1]))
        return self.decoder(torch.cat(parts, dim=1))

    def embed(self, x, tf=None, cell=None, **kw) -> torch.Tensor:
        """`features` averaged over positions, ``(N, decoder)`` (arguments, ``tf_vec`` / ``cell_vec`` in `kw`,
        as in `features`)."""
        return self.features(x, tf, cell, **kw).mean(dim=-1)

    def forward(self, x, tf=None, cell=None, tf_vec=None, cell_vec=None) -> torch.Tensor:
        """``(N, L)`` per-bp logits for one condition per row (arguments as in `features`)."""
        return self.head(self.features(x, tf, cell, tf_vec, cell_vec)).squeeze(1)

    @property
    def embed_dim(self) -> int:
        """The decoder width (size of `embed`)."""
        return int(self._hparams["decoder"])

"""`bindscape_cnn`: the fast default model (the best accuracy per CPU-second we found on GUE).

A stem convolution (motif detectors), a max-pool that halves the length, a few residual dilated
convolution blocks (batch norm, GELU) that see motif combinations, then global max + mean pooling and a
small MLP. Any length >= `min_length` works; RC robustness comes from RC augmentation at training time and
RC-averaged prediction (`bindscape.train`).
"""

from __future__ import annotations

import torch
from torch import nn

from bindscape.models.base import BindscapeModel


class _Block(nn.Module):
    def __init__(self, c: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c, c, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
            nn.BatchNorm1d(c),
            nn.GELU(),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return x + self.body(x)


class BindscapeCNN(BindscapeModel):
    """Stem conv (`channels` x `stem_kernel`) + BN + GELU, max-pool `pool`, `len(dilations)` residual dilated
    blocks (kernel `kernel`), global max+mean pool, MLP (`hidden`), linear output."""

    name = "bindscape_cnn"

    def __init__(self, length: int = 100, n_outputs: int = 1, channels: int = 64, stem_kernel: int = 15,
                 pool: int = 2, kernel: int = 5, dilations=(1, 2, 4), hidden: int = 64, dropout: float = 0.2):
        self._hparams = dict(length=length, n_outputs=n_outputs, channels=channels, stem_kernel=stem_kernel,
                             pool=pool, kernel=kernel, dilations=list(dilations), hidden=hidden, dropout=dropout)
        self._pool = pool
        super().__init__(length=length, n_outputs=n_outputs)
        c = channels
        self.stem = nn.Sequential(
            nn.Conv1d(4, c, stem_kernel, padding=stem_kernel // 2, bias=False), nn.BatchNorm1d(c), nn.GELU(),
        )
        self.pool = nn.MaxPool1d(pool) if pool > 1 else nn.Identity()
        self.blocks = nn.Sequential(*[_Block(c, kernel, d, dropout * 0.5) for d in dilations])
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c, hidden), nn.GELU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, n_outputs)

    @property
    def min_length(self) -> int:
        """The pooling width: at least one pooled position."""
        return max(self._pool, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, pooling and dilated blocks, then global max + mean pooling through the MLP: ``(N, hidden)``."""
        h = self.blocks(self.pool(self.stem(x)))
        return self.mlp(torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1))

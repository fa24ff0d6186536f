"""`bindscape_cnn`: the fast default model (the best accuracy per CPU-second we found on GUE).

A stem convolution (motif detectors), a max-pool that halves the length, a few residual dilated
convolution blocks (batch norm, GELU) that see motif combinations, then global max + mean pooling and a
small MLP. Any length >= `min_length` works; RC robustness comes from RC augmentation at training time and
RC-averaged prediction (`bindscape.train`).
"""

from __future__ import annotations

import torch
from torch import nn

from bindscape.errors import ConfigError
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


class KmerSpectrum(nn.Module):
    """Learned k-mer spectrum: each k-mer of both strands gets a `dim`-vector, averaged over the sequence.

    ``(N, 4, L)`` one-hot -> ``(N, len(ks) * dim)``. With a linear head on top this is a linear model of the
    k-mer counts (a "wide" part beside the CNN's "deep" one). k-mers that touch an N (an all-zero column)
    are left out. The k-mer index comes from the argmax of the one-hot, so no gradient flows to the input
    through this branch: gradient attributions see the CNN only.
    """

    def __init__(self, ks, dim: int = 16):
        super().__init__()
        self.ks = [int(k) for k in ks]
        if any(k < 1 or k > 8 for k in self.ks) or len(set(self.ks)) != len(self.ks):
            raise ConfigError(f"kmers must be distinct k-mer sizes from 1 to 8, got {list(ks)}")
        self.bags = nn.ModuleList(nn.EmbeddingBag(4**k + 1, dim, mode="mean", padding_idx=4**k) for k in self.ks)
        self.dim = dim * len(self.ks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = x.argmax(1)
        valid = x.sum(1) > 0.5
        strands = ((base, valid), (3 - base.flip(-1), valid.flip(-1)))  # forward, reverse complement
        out = []
        for k, bag in zip(self.ks, self.bags):
            pw = 4 ** torch.arange(k - 1, -1, -1, device=x.device)
            idx = torch.cat([(b.unfold(1, k, 1) * pw).sum(-1) for b, _ in strands], dim=1)
            good = torch.cat([v.unfold(1, k, 1).all(-1) for _, v in strands], dim=1)
            out.append(bag(torch.where(good, idx, torch.full_like(idx, 4**k))))
        return torch.cat(out, dim=1)


class BindscapeCNN(BindscapeModel):
    """Stem conv (`channels` x `stem_kernel`) + BN + GELU, max-pool `pool`, `len(dilations)` residual dilated
    blocks (kernel `kernel`), global max+mean pool, MLP (`hidden`), linear output."""

    name = "bindscape_cnn"

    def __init__(self, length: int = 100, n_outputs: int = 1, channels: int = 64, stem_kernel: int = 15,
                 pool: int = 2, kernel: int = 5, dilations=(1, 2, 4), hidden: int = 64, dropout: float = 0.2,
                 kmers=(), kmer_dim: int = 16):
        self._hparams = dict(length=length, n_outputs=n_outputs, channels=channels, stem_kernel=stem_kernel,
                             pool=pool, kernel=kernel, dilations=list(dilations), hidden=hidden, dropout=dropout)
        if kmers:  # stored only when used, so checkpoints of the plain model keep their exact hparams
            self._hparams |= dict(kmers=[int(k) for k in kmers], kmer_dim=int(kmer_dim))
        self._pool = pool
        super().__init__(length=length, n_outputs=n_outputs)
        c = channels
        self.stem = nn.Sequential(
            nn.Conv1d(4, c, stem_kernel, padding=stem_kernel // 2, bias=False), nn.BatchNorm1d(c), nn.GELU(),
        )
        self.pool = nn.MaxPool1d(pool) if pool > 1 else nn.Identity()
        self.blocks = nn.Sequential(*[_Block(c, kernel, d, dropout * 0.5) for d in dilations])
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c, hidden), nn.GELU(), nn.Dropout(dropout))
        self.kmers = KmerSpectrum(kmers, kmer_dim) if kmers else None
        self.head = nn.Linear(hidden + (self.kmers.dim if self.kmers is not None else 0), n_outputs)

    @property
    def min_length(self) -> int:
        """The pooling width: at least one pooled position."""
        return max(self._pool, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, pooling and dilated blocks, then global max + mean pooling through the MLP: ``(N, hidden)``."""
        h = self.blocks(self.pool(self.stem(x)))
        e = self.mlp(torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1))
        return e if self.kmers is None else torch.cat([e, self.kmers(x)], dim=1)

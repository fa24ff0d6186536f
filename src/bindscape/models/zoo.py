"""Published architectures: DeepSEA, DanQ (AgentBind), CNN-LSTM and CNN-biGRU (MORALE), Enformer-lite
(TFBS negatives). Layer sizes follow the papers; notes say where a detail had to be chosen.
"""

from __future__ import annotations

import torch
from torch import nn

from bindscape.models.base import BindscapeModel, conv_out, pool_out


def dense_stack(d_in: int, sizes, dropout: float) -> tuple[nn.Sequential, int]:
    """Fully connected layers ``Linear -> ReLU -> Dropout`` of the given widths.

    Parameters
    ----------
    d_in : int
        Width of the input vector (or of the last axis, for position-wise use).
    sizes : sequence of int
        Width of each layer, in order.
    dropout : float
        Dropout after each layer.

    Returns
    -------
    tuple of (nn.Sequential, int)
        The layers and the width of their output.
    """
    layers: list[nn.Module] = []
    for s in sizes:
        layers += [nn.Linear(d_in, s), nn.ReLU(), nn.Dropout(dropout)]
        d_in = s
    return nn.Sequential(*layers), d_in


class _ConvRecurrent(BindscapeModel):
    """A valid convolution (``kernel``) and max-pool (``pool``) feeding a recurrent layer: any length that
    leaves the recurrent layer one pooled position works."""

    def __init__(self, *, length: int, n_outputs: int, kernel: int, pool: int):
        self._k, self._p = kernel, pool
        super().__init__(length=length, n_outputs=n_outputs)

    @property
    def min_length(self) -> int:
        return self._k + self._p - 1

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        """`self.conv` (convolution and pooling) output as ``(N, positions, channels)``, the recurrent input."""
        return self.conv(x).transpose(1, 2)


class DeepSEA(BindscapeModel):
    """DeepSEA (Zhou & Troyanskaya 2015) as used by AgentBind: 3 conv (320/480/960, kernel 8, pool 4 twice),
    flatten, FC 925, output. Fixed length (the flatten is sized for `length`); min length 49 bp... see
    `min_length`."""

    name = "deepsea"
    fixed_length = True

    def __init__(self, length: int = 1000, n_outputs: int = 1, channels=(320, 480, 960), kernel: int = 8,
                 pool: int = 4, hidden: int = 925, dropout: float = 0.2):
        self._hparams = dict(length=length, n_outputs=n_outputs, channels=list(channels), kernel=kernel,
                             pool=pool, hidden=hidden, dropout=dropout)
        self._k, self._p = kernel, pool
        super().__init__(length=length, n_outputs=n_outputs)
        c1, c2, c3 = channels
        self.trunk = nn.Sequential(
            nn.Conv1d(4, c1, kernel), nn.ReLU(), nn.MaxPool1d(pool), nn.Dropout(dropout),
            nn.Conv1d(c1, c2, kernel), nn.ReLU(), nn.MaxPool1d(pool), nn.Dropout(dropout),
            nn.Conv1d(c2, c3, kernel), nn.ReLU(), nn.Dropout(2.5 * dropout),
        )
        n = self._trunk_len(length)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c3 * n, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_outputs)

    def _trunk_len(self, L: int) -> int:
        k, p = self._k, self._p
        return conv_out(pool_out(conv_out(pool_out(conv_out(L, k), p), k), p), k)

    @property
    def min_length(self) -> int:
        """Shortest length that leaves one position after the three convolutions and two poolings."""
        k, p = self._k, self._p
        return ((k * p + (k - 1)) * p) + (k - 1)

    def embed(self, x):
        """Conv trunk, flatten, FC: ``(N, 4, length)`` one-hot DNA to ``(N, hidden)``."""
        return self.fc(self.trunk(x))


class DanQ(_ConvRecurrent):
    """DanQ (Quang & Xie 2016): conv 320 x 26, max-pool 13, biLSTM 320, flatten, FC 925, output.
    Fixed length."""

    name = "danq"
    fixed_length = True

    def __init__(self, length: int = 1000, n_outputs: int = 1, filters: int = 320, kernel: int = 26,
                 pool: int = 13, lstm: int = 320, hidden: int = 925, dropout: float = 0.2):
        self._hparams = dict(length=length, n_outputs=n_outputs, filters=filters, kernel=kernel, pool=pool,
                             lstm=lstm, hidden=hidden, dropout=dropout)
        super().__init__(length=length, n_outputs=n_outputs, kernel=kernel, pool=pool)
        self.conv = nn.Sequential(nn.Conv1d(4, filters, kernel), nn.ReLU(), nn.MaxPool1d(pool), nn.Dropout(dropout))
        self.rnn = nn.LSTM(filters, lstm, batch_first=True, bidirectional=True)
        n = pool_out(conv_out(length, kernel), pool)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(2.5 * dropout), nn.Linear(2 * lstm * n, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_outputs)

    def embed(self, x):
        """Conv and pooling, biLSTM over the pooled positions, flatten, FC: ``(N, 4, length)`` to
        ``(N, hidden)``."""
        h, _ = self.rnn(self._pooled(x))
        return self.fc(h)


class CNNLSTM(_ConvRecurrent):
    """Cochran et al. 2022 / MORALE two-species model: conv 240 x 20 (valid), max-pool 15, LSTM 32 (last
    state), dense 1024 -> 512 (both in the trunk; `embed` is the 512-d vector), sigmoid output.

    Any length >= 34 bp (the LSTM reads all pooled positions). The published count (613,498 at 500 bp) is
    a Keras count: Keras LSTMs have one bias vector per gate, PyTorch two, so this PyTorch model has
    4 x 32 = 128 more (`keras_parameter_count()` gives the Keras-equivalent count).
    """

    name = "cnn_lstm"
    default_length = 500

    def __init__(self, length: int = 500, n_outputs: int = 1, filters: int = 240, kernel: int = 20,
                 pool: int = 15, lstm: int = 32, dense=(1024, 512), dropout: float = 0.5):
        self._hparams = dict(length=length, n_outputs=n_outputs, filters=filters, kernel=kernel, pool=pool,
                             lstm=lstm, dense=list(dense), dropout=dropout)
        super().__init__(length=length, n_outputs=n_outputs, kernel=kernel, pool=pool)
        self.conv = nn.Sequential(nn.Conv1d(4, filters, kernel), nn.ReLU(), nn.MaxPool1d(pool))
        self.rnn = nn.LSTM(filters, lstm, batch_first=True)
        self.dense, d = dense_stack(lstm, dense, dropout)
        self.head = nn.Linear(d, n_outputs)

    def embed(self, x):
        """Conv and pooling, the LSTM's last hidden state, then the dense stack: ``(N, dense[-1])``."""
        _, (hn, _) = self.rnn(self._pooled(x))
        return self.dense(hn[-1])

    def keras_parameter_count(self) -> int:
        """The parameter count Keras reports for the same model (one LSTM bias per gate, not two)."""
        return self.n_parameters() - 4 * self.rnn.hidden_size


class CNNBiGRU(_ConvRecurrent):
    """MORALE multi-species model: conv 240 x 20 (valid) + ReLU, max-pool 16, biGRU 240 per direction, two
    position-wise FC layers, a 1x1 conv with 63 channels, global average pool (`embed`, 63-d), linear output.

    Any length >= 35 bp. The paper gives neither the FC widths nor the output layout; FC 480 -> 480 -> 29
    with a two-class output (``n_outputs=2``, softmax) reproduces its count (960,367 at 1000 bp) exactly
    with PyTorch GRUs, so those are the defaults (bindscape trains it with one sigmoid output unless
    ``n_outputs`` is given).
    """

    name = "cnn_bigru"
    default_length = 1000

    def __init__(self, length: int = 1000, n_outputs: int = 1, filters: int = 240, kernel: int = 20,
                 pool: int = 16, gru: int = 240, fc=(480, 29), channels: int = 63, dropout: float = 0.3):
        self._hparams = dict(length=length, n_outputs=n_outputs, filters=filters, kernel=kernel, pool=pool,
                             gru=gru, fc=list(fc), channels=channels, dropout=dropout)
        super().__init__(length=length, n_outputs=n_outputs, kernel=kernel, pool=pool)
        self.conv = nn.Sequential(nn.Conv1d(4, filters, kernel), nn.ReLU(), nn.MaxPool1d(pool))
        self.rnn = nn.GRU(filters, gru, batch_first=True, bidirectional=True)
        self.fc, d = dense_stack(2 * gru, fc, dropout)
        self.pointwise = nn.Sequential(nn.Conv1d(d, channels, 1), nn.ReLU())
        self.head = nn.Linear(channels, n_outputs)

    def embed(self, x):
        """Conv and pooling, biGRU, position-wise FC layers and 1x1 conv, global average pool:
        ``(N, channels)``."""
        h, _ = self.rnn(self._pooled(x))
        h = self.fc(h).transpose(1, 2)
        return self.pointwise(h).mean(dim=-1)


class _Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)


class AttentionPool(nn.Module):
    """Enformer's attention pooling: softmax-weighted sum over windows of `pool` positions."""

    def __init__(self, channels: int, pool: int = 2):
        super().__init__()
        self.pool = pool
        self.logit = nn.Conv2d(channels, channels, 1, bias=False)
        nn.init.dirac_(self.logit.weight)
        with torch.no_grad():
            self.logit.weight.mul_(2.0)

    def forward(self, x):
        """Pool ``(N, C, L)`` features by `pool` along the last axis (zero-padded to a multiple of it) to
        ``(N, C, ceil(L / pool))``."""
        n, c, L = x.shape
        rem = L % self.pool
        if rem:
            x = nn.functional.pad(x, (0, self.pool - rem))
        x = x.view(n, c, -1, self.pool)
        w = self.logit(x).softmax(dim=-1)
        return (x * w).sum(dim=-1)


class EnformerLite(BindscapeModel):
    """TFBS-negatives model (Tourne et al.): stem conv, two residual conv blocks (kernel 9) each followed by
    attention pooling (/2), global max+mean pooling, linear output. Any length >= 4 bp."""

    name = "enformer_lite"

    def __init__(self, length: int = 101, n_outputs: int = 1, channels: int = 128, kernel: int = 9,
                 stem_kernel: int = 15, dropout: float = 0.2):
        self._hparams = dict(length=length, n_outputs=n_outputs, channels=channels, kernel=kernel,
                             stem_kernel=stem_kernel, dropout=dropout)
        super().__init__(length=length, n_outputs=n_outputs)
        c = channels
        self.stem = nn.Sequential(nn.Conv1d(4, c, stem_kernel, padding=stem_kernel // 2), nn.GELU())
        blocks: list[nn.Module] = []
        for _ in range(2):
            blocks += [
                _Residual(nn.Sequential(nn.BatchNorm1d(c), nn.GELU(), nn.Conv1d(c, c, kernel, padding=kernel // 2))),
                AttentionPool(c, 2),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * c, n_outputs)

    @property
    def min_length(self) -> int:
        """Shortest accepted input: 4 bp."""
        return 4

    def embed(self, x):
        """Stem, residual blocks with attention pooling, global max + mean pooling: ``(N, 2 * channels)``."""
        h = self.blocks(self.stem(x))
        return self.drop(torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1))

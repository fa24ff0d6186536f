"""A 2-class linear-chain CRF over per-base-pair network outputs (NetTIME's binding-site caller).

Emissions come from the network's per-bp logits ``s`` (N, L): the unbound class scores 0 and the bound class
scores ``scale * s + bias`` (both learned). The CRF adds a learned 2x2 transition matrix and start/end scores.
`log_partition` is the forward algorithm (log Z), `viterbi` the best label path; `fit_crf` trains transition,
start/end, scale and bias by maximising the conditional likelihood of the true labels given fixed network
outputs (the network itself is not changed). Everything is vectorised over the batch; the loop is over L.

    crf = fit_crf(val_logits, val_labels, seed=0)
    calls = crf.decode(test_logits)          # (N, L) 0/1 numpy
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class LinearChainCRF(nn.Module):
    """2-class (unbound 0 / bound 1) linear-chain CRF; `transitions[i, j]` scores label i followed by j."""

    n_classes = 2

    def __init__(self, init_scale: float = 1.0):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(2, 2))
        self.start = nn.Parameter(torch.zeros(2))
        self.end = nn.Parameter(torch.zeros(2))
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))
        self.bias = nn.Parameter(torch.tensor(0.0))

    # -- emissions ------------------------------------------------------------------------------------
    def emissions(self, logits: torch.Tensor) -> torch.Tensor:
        """Per-bp logits (N, L) -> emission scores (N, L, 2).

        Parameters
        ----------
        logits
            ``(N, L)`` per-bp network logits.

        Returns
        -------
        torch.Tensor
            ``(N, L, 2)``: 0 for unbound, ``scale * logits + bias`` for bound.
        """
        e1 = self.scale * logits + self.bias
        return torch.stack([torch.zeros_like(e1), e1], dim=-1)

    # -- core algorithms over emission scores (N, L, 2) ------------------------------------------------
    def path_score(self, em: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of label paths `tags` (N, L) under emissions `em` (N, L, 2).

        Parameters
        ----------
        em
            ``(N, L, 2)`` emission scores (`emissions`).
        tags
            ``(N, L)`` 0/1 label paths.

        Returns
        -------
        torch.Tensor
            ``(N,)`` start + emission + transition + end scores.
        """
        tags = tags.long()
        s = self.start[tags[:, 0]] + self.end[tags[:, -1]]
        s = s + em.gather(-1, tags.unsqueeze(-1)).squeeze(-1).sum(1)
        if tags.shape[1] > 1:
            s = s + self.transitions[tags[:, :-1], tags[:, 1:]].sum(1)
        return s

    def log_partition(self, em: torch.Tensor) -> torch.Tensor:
        """Forward algorithm: log of the sum over all 2^L paths of exp(score), shape (N,).

        Parameters
        ----------
        em
            ``(N, L, 2)`` emission scores.

        Returns
        -------
        torch.Tensor
            ``(N,)`` log Z.
        """
        alpha = self.start + em[:, 0]  # (N, 2)
        T = self.transitions
        for t in range(1, em.shape[1]):
            alpha = torch.logsumexp(alpha.unsqueeze(2) + T.unsqueeze(0), dim=1) + em[:, t]
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, logits: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per base pair.

        Parameters
        ----------
        logits
            ``(N, L)`` per-bp network logits.
        tags
            ``(N, L)`` true 0/1 labels.

        Returns
        -------
        torch.Tensor
            Scalar: summed sequence NLL divided by ``N * L``.
        """
        em = self.emissions(logits)
        return (self.log_partition(em) - self.path_score(em, tags)).sum() / tags.numel()

    @torch.no_grad()
    def viterbi(self, em: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best path (N, L) and its score (N,) under emissions `em` (N, L, 2).

        Parameters
        ----------
        em
            ``(N, L, 2)`` emission scores.

        Returns
        -------
        tuple[torch.Tensor, torch.Tensor]
            ``(N, L)`` long 0/1 best paths and their ``(N,)`` scores.
        """
        N, L, _ = em.shape
        T = self.transitions
        score = self.start + em[:, 0]
        back = torch.zeros(N, L, 2, dtype=torch.long)
        for t in range(1, L):
            cand = score.unsqueeze(2) + T.unsqueeze(0)  # (N, from, to)
            best, idx = cand.max(dim=1)
            back[:, t] = idx
            score = best + em[:, t]
        score = score + self.end
        best_score, last = score.max(dim=1)
        path = torch.zeros(N, L, dtype=torch.long)
        path[:, -1] = last
        for t in range(L - 1, 0, -1):
            path[:, t - 1] = back[:, t].gather(1, path[:, t : t + 1]).squeeze(1)
        return path, best_score

    @torch.no_grad()
    def decode(self, logits, batch_size: int = 4096) -> np.ndarray:
        """Viterbi labels (N, L) uint8 for per-bp logits (numpy or tensor).

        Parameters
        ----------
        logits
            ``(N, L)`` per-bp logits (a 1-D array is one sequence).
        batch_size
            Sequences decoded at a time.

        Returns
        -------
        numpy.ndarray
            ``(N, L)`` uint8 0/1 calls.
        """
        x = torch.as_tensor(np.asarray(logits, dtype=np.float32))
        if x.dim() == 1:
            x = x[None]
        out = [self.viterbi(self.emissions(x[i : i + batch_size]))[0] for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy().astype(np.uint8)

    def describe(self) -> dict:
        """The learned parameters as plain Python values (``transitions, start, end, scale, bias``)."""
        return {"transitions": self.transitions.detach().tolist(), "start": self.start.detach().tolist(),
                "end": self.end.detach().tolist(), "scale": self.scale.item(), "bias": self.bias.item()}


def fit_crf(
    logits,
    labels,
    *,
    epochs: int = 30,  # passes over (at most max_sequences) sequences
    lr: float = 0.05,
    batch_size: int = 256,
    max_sequences: int = 4000,
    seed: int = 0,
    learn_scale: bool = False,
) -> LinearChainCRF:
    """Train a `LinearChainCRF` on fixed network outputs `logits` (N, L) and 0/1 `labels` (N, L).

    By default the emission scale stays 1 (only transitions, start/end and the bias are learned): neighbouring
    per-bp outputs of a network are strongly correlated, so maximum likelihood with a free scale shrinks it
    towards 1 / (correlation length) and Viterbi then calls almost nothing. `learn_scale=True` frees it.

    Parameters
    ----------
    logits
        ``(N, L)`` per-bp network logits (e.g. on the validation split).
    labels
        ``(N, L)`` true 0/1 labels.
    epochs
        Passes over the (sub-sampled) sequences.
    lr
        Adam learning rate.
    batch_size
        Sequences per optimizer step.
    max_sequences
        At most this many sequences, drawn at random, are used.
    seed
        Seed of the sub-sample and the batch order.
    learn_scale
        Also learn the emission scale.

    Returns
    -------
    LinearChainCRF
        The fitted CRF, in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    y = torch.as_tensor(np.asarray(labels)).long()
    if len(x) > max_sequences:
        keep = torch.randperm(len(x), generator=g)[:max_sequences]
        x, y = x[keep], y[keep]
    crf = LinearChainCRF()
    with torch.no_grad():  # start from the labels' own transition and start statistics (faster, stabler fit)
        yy = y.float()
        n01 = ((y[:, :-1] == 0) & (y[:, 1:] == 1)).sum().float()
        n10 = ((y[:, :-1] == 1) & (y[:, 1:] == 0)).sum().float()
        n0, n1 = (y[:, :-1] == 0).sum().float() + 1, (y[:, :-1] == 1).sum().float() + 1
        p01, p10 = (n01 + 0.5) / n0, (n10 + 0.5) / n1
        crf.transitions.copy_(torch.log(torch.tensor([[1 - p01, p01], [p10, 1 - p10]])))
        q = yy[:, 0].mean().clamp(1e-3, 1 - 1e-3)
        crf.start.copy_(torch.log(torch.stack([1 - q, q])))
    crf.scale.requires_grad_(learn_scale)
    opt = torch.optim.Adam([p for p in crf.parameters() if p.requires_grad], lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            b = order[i : i + batch_size]
            opt.zero_grad()
            loss = crf.nll(x[b], y[b])
            loss.backward()
            opt.step()
    return crf.eval()

"""Every batch sampler bindscape trains with, in one module (``data`` sits below ``train``, so the data layer
holds datasets only and the samplers that deal their rows out live here).

- `EpochBatchSampler`: shuffled (or ordered) batches re-drawn from (seed, epoch); DDP-aware.
- `BalancedBatchSampler`: half-positive batches (MORALE's batches); `ShardedBalancedSampler` deals them to
  DDP ranks.
- `CrossSpeciesBatchSampler`: label-balanced batches per labelled species plus a species-balanced background
  part (cross-species training).
- `MultitaskBatchSampler`: the multitask trainer's shuffled batches (one torch generator for the whole run).
- `rank_batches`: which batch numbers a DDP rank trains on (the same count on every rank).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bindscape.errors import ConfigError


def rank_world() -> tuple[int, int]:
    """This process's (rank, world size) under torch.distributed, ``(0, 1)`` without it.

    Returns
    -------
    tuple of int
        ``(rank, world_size)``.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_batches(n_batches: int) -> list[int]:
    """The batch numbers this DDP rank trains on.

    Every world_size-th batch, wrapping around at the end so that every rank runs the same number of steps
    (uneven counts make DDP's gradient all-reduce hang or crash). Without DDP: all of them.

    Parameters
    ----------
    n_batches
        Batches in one epoch over all ranks.

    Returns
    -------
    list of int
        Batch numbers, in order.
    """
    rank, world = EpochBatchSampler._rank_world()
    if world == 1 or n_batches == 0:
        return list(range(n_batches))
    return [(rank + j * world) % n_batches for j in range(-(-n_batches // world))]


class EpochBatchSampler:
    """Shuffled (or ordered) batches of indices, re-drawn from (seed, epoch) each epoch.

    Under DDP, training batches (``shuffle=True``) are dealt out by `rank_batches` (same count per rank);
    evaluation (``shuffle=False``) splits the rows instead, every row exactly once and at least one batch per
    rank, and the per-rank predictions are gathered with `bindscape.train.tasks.binary.gather_uneven`."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Re-draw the batch order from ``(seed, epoch)`` for the epoch about to start."""
        self.epoch = epoch

    def _all(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    @staticmethod
    def _rank_world() -> tuple[int, int]:
        # one place tests patch to simulate ranks
        return rank_world()

    def __len__(self) -> int:
        rank, world = self._rank_world()
        if world > 1 and not self.shuffle:
            return -(-len(range(rank, self.n, world)) // self.batch_size)
        return len(rank_batches(self._all()))

    def __iter__(self) -> Iterator[list[int]]:
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        rank, world = self._rank_world()
        if world > 1 and not self.shuffle:
            mine = order[rank::world]
            for b in range(0, len(mine), self.batch_size):
                yield mine[b : b + self.batch_size].tolist()
            return
        for b in rank_batches(self._all()):
            yield order[b * self.batch_size : (b + 1) * self.batch_size].tolist()


class BalancedBatchSampler:
    """Batches of `batch_size` indices, half positive and half negative.

    One epoch visits every negative once; positives are cycled through in fresh random orders as often as
    needed. Seeded per epoch (call `set_epoch`). Not DDP-aware: wrap it in `ShardedBalancedSampler`.
    """

    def __init__(self, labels: np.ndarray, batch_size: int, *, seed: int = 0, drop_last: bool = False):
        labels = np.asarray(labels)
        self.pos = np.flatnonzero(labels > 0.5)
        self.neg = np.flatnonzero(labels <= 0.5)
        if len(self.pos) == 0 or len(self.neg) == 0:
            raise ConfigError(
                f"balanced sampling needs positives and negatives (found {len(self.pos)} and {len(self.neg)})"
            )
        if batch_size < 2:
            raise ConfigError("balanced batches need batch_size >= 2")
        self.batch_size = batch_size
        self.half = batch_size // 2
        self.seed = seed
        self.epoch = 0
        self.drop_last = drop_last

    def set_epoch(self, epoch: int) -> None:
        """Re-draw the negatives' order and the positives' cycles from ``(seed, epoch)``."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.neg) / (self.batch_size - self.half)
        return int(np.floor(n)) if self.drop_last else int(np.ceil(n))

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        neg = rng.permutation(self.neg)
        n_batches = len(self)
        need = n_batches * self.half
        reps = int(np.ceil(need / len(self.pos)))
        pos = np.concatenate([rng.permutation(self.pos) for _ in range(reps)])[:need]
        nneg = self.batch_size - self.half
        for b in range(n_batches):
            chunk = np.concatenate([pos[b * self.half : (b + 1) * self.half], neg[b * nneg : (b + 1) * nneg]])
            yield rng.permutation(chunk).tolist()


class ShardedBalancedSampler:
    """`BalancedBatchSampler` (or any batch sampler) with per-rank batches under DDP (`rank_batches`)."""

    def __init__(self, inner):
        self.inner = inner

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch about to start on to the wrapped sampler (when it has ``set_epoch``)."""
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return len(rank_batches(len(self.inner)))

    def __iter__(self):
        if EpochBatchSampler._rank_world()[1] == 1:
            yield from self.inner
            return
        batches = list(self.inner)
        for b in rank_batches(len(batches)):
            yield batches[b]


class CrossSpeciesBatchSampler:
    """Batches of ``(domain, index, is_background)`` items, seeded per epoch; under DDP each rank takes every
    world_size-th batch, the same number on every rank.

    A label-balanced part (`pos` bound + `neg` unbound training windows from each labelled species) and, when
    `bg` > 0, a species-balanced label-agnostic background part (`bg` windows of every background species).

    Parameters
    ----------
    labels
        Per domain, the labels of its training windows.
    labelled
        Domains that give labelled windows.
    background
        Per domain, the indices allowed as background (None or empty: not a background domain).
    pos, neg, bg
        Bound, unbound and background windows per species and batch.
    steps
        Batches per epoch (None: one pass over the largest labelled species' negatives).
    seed
        Seed of the per-epoch draw.
    """

    def __init__(self, labels: list[np.ndarray], labelled: list[int], background: list[np.ndarray | None], *,
                 pos: int, neg: int, bg: int, steps: int | None = None, seed: int = 0):
        self.pos_idx, self.neg_idx = {}, {}
        for d in labelled:
            lab = np.asarray(labels[d])
            self.pos_idx[d] = np.flatnonzero(lab > 0.5)
            self.neg_idx[d] = np.flatnonzero(lab <= 0.5)
            if not len(self.pos_idx[d]) or not len(self.neg_idx[d]):
                raise ConfigError(f"species #{d}: balanced batches need bound and unbound training windows "
                                  f"(found {len(self.pos_idx[d])} and {len(self.neg_idx[d])})")
        self.bg_idx = {d: np.asarray(b) for d, b in enumerate(background) if b is not None and len(b) and bg > 0}
        self.labelled, self.pos, self.neg, self.bg, self.seed = list(labelled), pos, neg, bg, seed
        self.steps = steps or max(-(-len(self.neg_idx[d]) // neg) for d in labelled)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Re-draw every species' streams from ``(seed, epoch)``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(rank_batches(self.steps))

    @staticmethod
    def _stream(rng, pool: np.ndarray, need: int) -> np.ndarray:
        reps = -(-need // len(pool))
        return np.concatenate([rng.permutation(pool) for _ in range(reps)])[:need]

    def __iter__(self) -> Iterator[list]:
        rng = np.random.default_rng([self.seed, self.epoch])
        S = self.steps
        streams = []
        for d in self.labelled:
            streams.append((d, False, self._stream(rng, self.pos_idx[d], S * self.pos), self.pos))
            streams.append((d, False, self._stream(rng, self.neg_idx[d], S * self.neg), self.neg))
        for d, pool in self.bg_idx.items():
            streams.append((d, True, self._stream(rng, pool, S * self.bg), self.bg))
        for b in rank_batches(S):
            batch = []
            for d, is_bg, s, k in streams:
                batch += [(int(d), int(i), is_bg) for i in s[b * k : (b + 1) * k]]
            yield batch


class MultitaskBatchSampler(ShardedBalancedSampler):
    """Multitask batches: torch's ``BatchSampler(RandomSampler(generator=seeded))`` (one generator for the
    whole run, as the multitask trainer always drew them), or sequential batches with ``shuffle=False``.
    Under DDP the training batches are dealt out by `rank_batches`; evaluation batches are not split (every
    rank scores every row, so the metrics are the same on every rank).

    Parameters
    ----------
    n
        Rows in the dataset.
    batch_size
        Rows per batch.
    shuffle
        Random order (training) or sequential (evaluation).
    seed
        Seed of the generator (drawn once, at construction).
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = False, seed: int = 0):
        import torch
        from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

        rows = range(int(n))
        gen = torch.Generator().manual_seed(seed)
        sampler = RandomSampler(rows, generator=gen) if shuffle else SequentialSampler(rows)
        super().__init__(BatchSampler(sampler, batch_size, drop_last=False))
        self.shuffle = shuffle

    def __len__(self) -> int:
        return super().__len__() if self.shuffle else len(self.inner)

    def __iter__(self):
        if not self.shuffle:
            yield from self.inner
            return
        yield from super().__iter__()


def multitask_loader(tds, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A DataLoader over a `bindscape.data.multitask.MultitaskBPDataset` (its ``__getitems__`` makes whole
    batches) with a `MultitaskBatchSampler`.

    Parameters
    ----------
    tds
        The dataset.
    batch_size, shuffle, seed
        As in `MultitaskBatchSampler`.

    Returns
    -------
    torch.utils.data.DataLoader
    """
    from torch.utils.data import DataLoader

    from bindscape.data.torchdata import collate_batch

    bs = MultitaskBatchSampler(len(tds), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(tds, batch_sampler=bs, collate_fn=collate_batch)

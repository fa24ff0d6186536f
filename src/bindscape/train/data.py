"""Datasets and samplers for training: genome-based (`RegionDataset`) or sequence-only (`SequenceDataset`)
folders behind one function, plus an epoch-seeded plain batch sampler (DDP-aware)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bindscape.data.dataset import Dataset, load_dataset
from bindscape.errors import ConfigError


def open_dataset(path) -> Dataset:
    return path if isinstance(path, Dataset) else load_dataset(path)


def torch_dataset(ds: Dataset, split: str | None, *, rc_augment: bool = False, max_shift: int = 0,
                  seed: int = 0, label_columns: list[str] | None = None, genome=None):
    """A torch Dataset over one split of a dataset folder (sequence-only or genome-based)."""
    from bindscape.data.sequences import SequenceDataset, is_sequence_dataset

    label_columns = label_columns or ["label"]
    missing = [c for c in label_columns if c not in ds.regions]
    if missing and split is not None:
        raise ConfigError(f"{ds.path}: no label column(s) {', '.join(missing)} "
                          f"(columns: {', '.join(map(str, ds.regions.columns))})")
    if is_sequence_dataset(ds):
        tds = SequenceDataset(ds, split=split, rc_augment=rc_augment, seed=seed,
                              label_column=label_columns[0] if not missing else "label")
    else:
        from bindscape.data.torchdata import RegionDataset

        tds = RegionDataset(ds, genome=genome, split=split, rc_augment=rc_augment, max_shift=max_shift,
                            seed=seed, label_column=label_columns[0] if not missing else "label")
    if len(label_columns) > 1 and not missing:
        tds._y = tds.regions[label_columns].to_numpy(dtype=np.float32)
    return tds


def has_split(ds: Dataset, split: str | None) -> bool:
    return split is not None and "split" in ds.regions and bool((ds.regions["split"] == split).any())


def rank_batches(n_batches: int) -> list[int]:
    """The batch numbers this DDP rank trains on: every world_size-th, wrapping around at the end so that
    every rank runs the same number of steps (uneven counts make DDP's gradient all-reduce hang or crash).
    Without DDP: all of them."""
    rank, world = EpochBatchSampler._rank_world()
    if world == 1 or n_batches == 0:
        return list(range(n_batches))
    return [(rank + j * world) % n_batches for j in range(-(-n_batches // world))]


class EpochBatchSampler:
    """Shuffled (or ordered) batches of indices, re-drawn from (seed, epoch) each epoch.

    Under DDP, training batches (``shuffle=True``) are dealt out by `rank_batches` (same count per rank);
    evaluation (``shuffle=False``) splits the rows instead, every row exactly once and at least one batch per
    rank, and the per-rank predictions are gathered with `bindscape.train.module.gather_uneven`."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _all(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    @staticmethod
    def _rank_world() -> tuple[int, int]:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

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


class ShardedBalancedSampler:
    """`BalancedBatchSampler` with per-rank batches under DDP (`rank_batches`)."""

    def __init__(self, inner):
        self.inner = inner

    def set_epoch(self, epoch: int) -> None:
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


def make_loader(tds, *, batch_size: int, sampler: str = "plain", shuffle: bool = True, seed: int = 0,
                num_workers: int = 0):
    from torch.utils.data import DataLoader

    from bindscape.data.torchdata import BalancedBatchSampler, collate_batch

    if sampler == "balanced" and shuffle:
        labels = tds.labels if tds.labels.ndim == 1 else tds.labels.max(axis=1)
        bs = ShardedBalancedSampler(BalancedBatchSampler(labels, batch_size, seed=seed))
    else:
        bs = EpochBatchSampler(len(tds), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(tds, batch_sampler=bs, collate_fn=collate_batch, num_workers=num_workers)
    # workers are re-created each epoch (not persistent) so they see set_epoch's new augmentation draw

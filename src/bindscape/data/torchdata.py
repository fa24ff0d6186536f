"""Loading datasets for training: one-hot batches made on the fly from the genome cache.

`RegionDataset` reads a dataset folder (or a regions table plus a genome) and implements ``__getitems__``
so a DataLoader fetches a whole batch with one vectorised genome call instead of one call per example.
Augmentation: random shift of the window by up to ``max_shift`` bp (sequence past chromosome ends is N)
and reverse complement with probability 0.5. Both are seeded per epoch so CPU runs repeat exactly.

The samplers that deal rows out to batches (balanced, epoch-seeded, DDP-aware) live in
`bindscape.train.samplers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from bindscape.data.dataset import Dataset as DiskDataset
from bindscape.data.dataset import bp_labels, load_dataset, regions_and_genome, select_split, window_length
from bindscape.errors import ConfigError
from bindscape.io.genome import augmented_onehot, shift_windows


class RegionDataset(Dataset):
    """Examples ``(x, y)`` with x float32 ``(4, L)`` one-hot and y float32 label(s).

    For base-pair datasets (``bound_starts`` column) y is ``(L,)``. Condition indices, when the regions have
    ``tf``/``cell`` columns, are returned by `condition_index()` for multitask models.
    """

    def __init__(
        self,
        source: str | DiskDataset | pd.DataFrame,
        genome=None,
        *,
        split: str | None = None,
        rc_augment: bool = False,
        max_shift: int = 0,
        seed: int = 0,
        label_column: str = "label",
    ):
        regions, genome = regions_and_genome(source, genome, "RegionDataset")
        self.regions = select_split(regions, split, "; rebuild it with --split")
        self.length = window_length(self.regions, "RegionDataset")
        self.genome = genome
        self.rc_augment = rc_augment
        self.max_shift = int(max_shift)
        self.seed = seed
        self.epoch = 0
        self._chroms = self.regions["chrom"].to_numpy()
        self._starts = self.regions["start"].to_numpy(dtype=np.int64)
        # rows with their own sequence (shuffled negatives): coordinates only decide the split
        self._own_rows = np.zeros(len(self.regions), dtype=bool)
        self._own_codes = None
        if "sequence" in self.regions:
            own = self.regions["sequence"].notna().to_numpy()
            if own.any():
                from bindscape.io.genome import encode

                seqs = self.regions.loc[own, "sequence"].tolist()
                bad = [(i, len(q)) for i, q in zip(np.flatnonzero(own), seqs) if len(q) != self.length]
                if bad:
                    raise ConfigError(
                        f"row {bad[0][0]}: sequence has {bad[0][1]} bp but windows are {self.length} bp long"
                    )
                self._own_rows = own
                self._own_codes = np.full((len(self.regions), self.length), 4, dtype=np.uint8)
                self._own_codes[own] = np.stack([encode(q) for q in seqs])
        self.bp = "bound_starts" in self.regions
        if self.bp:
            self._y = bp_labels(self.regions, self.length).astype(np.float32)
        elif label_column in self.regions:
            self._y = self.regions[label_column].to_numpy(dtype=np.float32)
        else:
            self._y = np.zeros(len(self.regions), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.regions)

    @property
    def labels(self) -> np.ndarray:
        """Window labels: the label column(s), or for base-pair datasets 1 where any base pair is bound."""
        return self._y if not self.bp else (self._y.max(axis=1))

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (called by the training loop at each epoch)."""
        self.epoch = epoch

    def _rng(self, idx: np.ndarray) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(idx[0]) if len(idx) else 0, len(idx)])

    def __getitems__(self, indices: Sequence[int]):
        idx = np.asarray(indices, dtype=np.int64)
        starts = self._starts[idx]
        rc = None
        shift = np.zeros(len(idx), dtype=np.int64)
        if self.max_shift or self.rc_augment:
            rng = self._rng(idx)
            if self.max_shift:
                shift = rng.integers(-self.max_shift, self.max_shift + 1, len(idx))
            if self.rc_augment:
                rc = rng.random(len(idx)) < 0.5
        x = self.genome.fetch_onehot(self._chroms[idx], starts + shift, length=self.length, pad=True, rc=rc)
        own = self._own_rows[idx]
        if own.any():
            x[own] = augmented_onehot(self._own_codes[idx[own]], shift[own], None if rc is None else rc[own])
        y = self._y[idx]
        if self.bp:
            y = shift_windows(y, shift, 0)
            if rc is not None:
                y = np.where(rc[:, None], y[:, ::-1], y)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))

    def __getitem__(self, i: int):
        x, y = self.__getitems__([i])
        return x[0], y[0]


def collate_batch(batch):
    """DataLoader collate for `__getitems__`: the dataset already returns stacked tensors.

    Parameters
    ----------
    batch
        What the dataset's ``__getitems__`` returned for one batch.

    Returns
    -------
    Any
        `batch`, unchanged.
    """
    return batch


def dataset_onehot_batches(path: str | Path, split: str | None, batch_size: int = 1024):
    """The regions of a dataset split and an iterator over their one-hot batches.

    Parameters
    ----------
    path
        The dataset folder.
    split
        ``train``/``val``/``test``, or None for every row (rows with their own sequence included).
    batch_size
        Rows per batch.

    Returns
    -------
    ``(regions, batches)``: the split's region table and a generator of ``(n, 4, L)`` float arrays.
    """
    from bindscape.data.sequences import SequenceDataset, is_sequence_dataset

    ds = load_dataset(path)
    tds = SequenceDataset(ds, split=split) if is_sequence_dataset(ds) else RegionDataset(ds, split=split)
    n = len(tds)

    def gen():
        for i in range(0, n, batch_size):
            yield tds.__getitems__(list(range(i, min(i + batch_size, n))))[0].numpy()

    return tds.regions, gen()

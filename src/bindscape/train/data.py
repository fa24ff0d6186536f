"""Datasets for training: genome-based (`RegionDataset`) or sequence-only (`SequenceDataset`) folders behind
one function, and `make_loader` (the samplers themselves live in `bindscape.train.samplers`)."""

from __future__ import annotations

import numpy as np

from bindscape.data.dataset import Dataset, load_dataset
from bindscape.errors import ConfigError


def open_dataset(path) -> Dataset:
    """A `Dataset` as is, or the dataset folder at `path` loaded.

    Parameters
    ----------
    path
        An already loaded `Dataset`, or the path of a dataset folder.

    Returns
    -------
    Dataset
        `path` itself when it is a `Dataset`, else `load_dataset(path)`.
    """
    return path if isinstance(path, Dataset) else load_dataset(path)


def torch_dataset(ds: Dataset, split: str | None, *, rc_augment: bool = False, max_shift: int = 0,
                  seed: int = 0, label_columns: list[str] | None = None, genome=None):
    """A torch Dataset over one split of a dataset folder (sequence-only or genome-based).

    Parameters
    ----------
    ds
        The loaded dataset folder.
    split
        Split to keep (``train``/``val``/``test``); None: every row.
    rc_augment
        Reverse-complement a seeded random half of each batch (re-drawn per epoch).
    max_shift
        Largest random window shift in bp; in sequence-only datasets the sequence moves inside its own
        window and N fills the end it leaves.
    seed
        Seed of the augmentation draws.
    label_columns
        Label columns (default ``["label"]``); more than one gives ``(N, K)`` multi-label targets. With
        ``split=None`` missing columns fall back to ``label`` (zeros when that is missing too).
    genome
        Genome to read windows from (genome-based datasets); None: the dataset's own genome.

    Returns
    -------
    SequenceDataset or RegionDataset
        Examples ``(x, y)``: x float32 ``(4, L)`` one-hot, y the label(s).

    Raises
    ------
    ConfigError
        A label column is missing while `split` is given.
    """
    from bindscape.data.sequences import SequenceDataset, is_sequence_dataset

    label_columns = label_columns or ["label"]
    missing = [c for c in label_columns if c not in ds.regions]
    if missing and split is not None:
        raise ConfigError(f"{ds.path}: no label column(s) {', '.join(missing)} "
                          f"(columns: {', '.join(map(str, ds.regions.columns))})")
    if is_sequence_dataset(ds):
        tds = SequenceDataset(ds, split=split, rc_augment=rc_augment, max_shift=max_shift, seed=seed,
                              label_column=label_columns[0] if not missing else "label")
    else:
        from bindscape.data.torchdata import RegionDataset

        tds = RegionDataset(ds, genome=genome, split=split, rc_augment=rc_augment, max_shift=max_shift,
                            seed=seed, label_column=label_columns[0] if not missing else "label")
    if len(label_columns) > 1 and not missing:
        tds._y = tds.regions[label_columns].to_numpy(dtype=np.float32)
    return tds


def has_split(ds: Dataset, split: str | None) -> bool:
    """True when the dataset has rows in `split` (None: no).

    Parameters
    ----------
    ds
        The loaded dataset folder.
    split
        Split name to look for in the ``split`` column; None always gives False.

    Returns
    -------
    bool
        Whether at least one row has that split.
    """
    return split is not None and "split" in ds.regions and bool((ds.regions["split"] == split).any())


def make_loader(tds, *, batch_size: int, sampler: str = "plain", shuffle: bool = True, seed: int = 0,
                num_workers: int = 0):
    """A DataLoader over a torch dataset with an epoch-seeded, DDP-aware batch sampler.

    Parameters
    ----------
    tds
        A dataset from `torch_dataset` (``__getitems__`` makes whole batches).
    batch_size
        Rows per batch.
    sampler
        ``plain`` (`EpochBatchSampler`) or ``balanced`` (half positives; training only).
    shuffle
        Random order (training) or in order (evaluation).
    seed
        Seed of the per-epoch draw.
    num_workers
        DataLoader worker processes.

    Returns
    -------
    torch.utils.data.DataLoader
    """
    from torch.utils.data import DataLoader

    from bindscape.data.torchdata import collate_batch
    from bindscape.train.samplers import BalancedBatchSampler, EpochBatchSampler, ShardedBalancedSampler

    if sampler == "balanced" and shuffle:
        labels = tds.labels if tds.labels.ndim == 1 else np.nan_to_num(tds.labels, nan=0.0).max(axis=1)
        bs = ShardedBalancedSampler(BalancedBatchSampler(labels, batch_size, seed=seed))
    else:
        bs = EpochBatchSampler(len(tds), batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(tds, batch_sampler=bs, collate_fn=collate_batch, num_workers=num_workers)
    # workers are re-created each epoch (not persistent) so they see set_epoch's new augmentation draw

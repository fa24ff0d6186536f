"""One multi-output training set from several single-TF datasets of the same genome (transfer within a species).

Each TF's dataset labels its own windows only: a window built for Reb1 says nothing about Abf1. The pooled
dataset keeps every row of every input with one label column per TF, ``label_<TF>``, holding the row's label
where the row came from that TF's dataset and NaN (unknown) elsewhere; the binary task masks NaN labels out
of the loss and the metrics (`bindscape.train.tasks.binary`). A model pretrained on it has one output per
TF, and ``finetune.output: label_<TF>`` keeps that TF's output when fine-tuning (`bindscape.train.finetune`).

The inputs must share a genome, a window length and the same chromosomes per split, so that no TF's
validation or test chromosomes leak into pretraining through another TF's training rows.

Written here rather than with a library: it is a pandas concatenation plus the consistency checks above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import InputError

#: the columns kept from each input besides the coordinates, label and split
_KEEP = ("source", "gc", "repeat")


def label_column(tf: str) -> str:
    """The pooled dataset's label column of TF `tf`.

    Parameters
    ----------
    tf
        A TF name (a key of `pool_tf_datasets`'s ``datasets``).

    Returns
    -------
    str
        ``label_<tf>``.
    """
    return f"label_{tf}"


def _split_chroms(ds) -> dict[str, list[str]]:
    reg = ds.regions
    return {str(s): sorted(map(str, reg.loc[reg["split"] == s, "chrom"].unique())) for s in reg["split"].unique()}


def _check_compatible(loaded: dict) -> None:
    """Same genome checksum, window length and chromosomes per split for every input, or an `InputError`."""
    first_tf, first = next(iter(loaded.items()))
    ref = (first.meta.get("genome") or {}).get("checksum"), first.length
    for tf, ds in loaded.items():
        if "split" not in ds.regions or "label" not in ds.regions:
            raise InputError(f"{ds.path}: pooling needs 'label' and 'split' columns (TF {tf})")
        got = (ds.meta.get("genome") or {}).get("checksum"), ds.length
        if got[0] != ref[0]:
            raise InputError(f"{ds.path}: built on another genome than {first.path} (TF {tf} vs {first_tf})")
        if got[1] != ref[1]:
            raise InputError(f"{ds.path}: windows of {got[1]} bp, {first.path} has {ref[1]} bp",
                             hint="build every TF's dataset with the same --length")
    chroms: dict[str, tuple[str, str]] = {}
    for tf, ds in loaded.items():
        for split, names in _split_chroms(ds).items():
            for c in names:
                if chroms.setdefault(c, (split, tf))[0] != split:
                    other_split, other_tf = chroms[c]
                    raise InputError(f"{ds.path}: chromosome {c} is in split {split!r} for {tf} but in "
                                     f"{other_split!r} for {other_tf}",
                                     hint="build every TF's dataset with the same --fold and number of groups")


def pool_tf_datasets(datasets: dict[str, str | Path], out: str | Path, *, seed: int | None = 0) -> Path:
    """Write one dataset whose rows are every input's rows, with a label column per TF (NaN = unknown).

    Parameters
    ----------
    datasets
        TF name -> dataset folder (at least two; same genome, window length and split chromosomes).
    out
        The pooled dataset folder to write.
    seed
        Recorded in dataset.json.

    Returns
    -------
    Path
        `out`. Its regions have ``label_<TF>`` per TF (float: 0, 1 or NaN), ``label`` (1 where any TF's
        label is 1), ``tf`` (the TF whose dataset the row came from) and ``split``.

    Raises
    ------
    InputError
        Fewer than two inputs, or inputs that do not share a genome, length and chromosome splits.
    """
    from bindscape.data.dataset import load_dataset, write_dataset

    if len(datasets) < 2:
        raise InputError(f"pooling needs at least two TF datasets, got {len(datasets)}: {', '.join(datasets)}")
    loaded = {tf: load_dataset(p) for tf, p in datasets.items()}
    _check_compatible(loaded)
    parts = []
    for tf, ds in loaded.items():
        reg = ds.regions
        part = reg[["chrom", "start", "end", "split", *[c for c in _KEEP if c in reg]]].copy()
        for other in loaded:
            part[label_column(other)] = reg["label"].astype(float) if other == tf else np.nan
        part["tf"] = tf
        parts.append(part)
    pool = pd.concat(parts, ignore_index=True)
    cols = [label_column(tf) for tf in loaded]
    pool["label"] = (pool[cols].fillna(0).max(axis=1) > 0.5).astype(int)
    first = next(iter(loaded.values()))
    params = {"pooled": {tf: str(Path(p).resolve()) for tf, p in datasets.items()}, "label_columns": cols,
              "length": first.length}
    return write_dataset(out, pool, builder="pooled-tfs", params=params, seed=seed, genome=first.open_genome())


__all__ = ["label_column", "pool_tf_datasets"]

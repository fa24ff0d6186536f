"""One multi-output training set from several single-TF datasets of the same genome (transfer within a species).

Each TF's dataset labels its own windows only: a window built for Reb1 says nothing about Abf1. The pooled
dataset keeps every row of every input with one label column per TF, ``label_<TF>``, holding the row's label
where the row came from that TF's dataset and NaN (unknown) elsewhere; the binary task masks NaN labels out
of the loss and the metrics (`bindscape.train.tasks.binary`). A model pretrained on it has one output per
TF, and ``finetune.output: label_<TF>`` keeps that TF's output when fine-tuning (`bindscape.train.finetune`).

The inputs must share a genome, a window length and the same chromosomes per split, so that no TF's
validation or test chromosomes leak into pretraining through another TF's training rows.

Sequence-only inputs (`bindscape.data.sequences`, e.g. the GUE tasks) have no chromosomes; the leak to check
there is a sequence: every training row whose sequence equals, on either strand, a validation or test
sequence of *any* input is dropped from the pool, and the counts per TF are recorded in dataset.json
(``params.leaks``). ``keep_splits`` leaves splits (e.g. ``test``) out of the written pool; they are still
used for the leak check.

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


def _check_compatible(loaded: dict) -> bool:
    """Same genome checksum, window length and chromosomes per split for every input, or an `InputError`.

    Returns True when every input is sequence-only (no chromosomes to compare; `_drop_sequence_leaks`)."""
    from bindscape.data.sequences import is_sequence_dataset

    first_tf, first = next(iter(loaded.items()))
    ref = (first.meta.get("genome") or {}).get("checksum"), first.length
    kinds = {tf: is_sequence_dataset(ds) for tf, ds in loaded.items()}
    for tf, ds in loaded.items():
        if "split" not in ds.regions or "label" not in ds.regions:
            raise InputError(f"{ds.path}: pooling needs 'label' and 'split' columns (TF {tf})")
        if kinds[tf] != kinds[first_tf]:
            raise InputError(f"{ds.path}: {'sequence-only' if kinds[tf] else 'genome-based'} dataset (TF {tf}), "
                             f"{first.path} is {'sequence-only' if kinds[first_tf] else 'genome-based'}",
                             hint="pool only sequence-only or only genome-based datasets")
        got = (ds.meta.get("genome") or {}).get("checksum"), ds.length
        if got[0] != ref[0]:
            raise InputError(f"{ds.path}: built on another genome than {first.path} (TF {tf} vs {first_tf})")
        if got[1] != ref[1]:
            raise InputError(f"{ds.path}: windows of {got[1]} bp, {first.path} has {ref[1]} bp",
                             hint="build every TF's dataset with the same --length")
    if kinds[first_tf]:
        return True
    chroms: dict[str, tuple[str, str]] = {}
    for tf, ds in loaded.items():
        for split, names in _split_chroms(ds).items():
            for c in names:
                if chroms.setdefault(c, (split, tf))[0] != split:
                    other_split, other_tf = chroms[c]
                    raise InputError(f"{ds.path}: chromosome {c} is in split {split!r} for {tf} but in "
                                     f"{other_split!r} for {other_tf}",
                                     hint="build every TF's dataset with the same --fold and number of groups")
    return False


def _canonical(seqs: pd.Series) -> pd.Series:
    """Each sequence or its reverse complement, whichever sorts first (so both strands compare equal)."""
    table = str.maketrans("ACGTNacgtn", "TGCANtgcan")
    return pd.Series([min(s.upper(), s.upper().translate(table)[::-1]) for s in seqs], index=seqs.index)


def _drop_sequence_leaks(parts: list[pd.DataFrame]) -> tuple[list[pd.DataFrame], dict]:
    """Drop training rows whose sequence (either strand) is a validation or test sequence of any input.

    Returns the parts and, per TF, ``held_out_in_train`` (its val/test rows whose sequence is among the
    pooled training rows before dropping) and ``train_dropped`` (its training rows dropped)."""
    keys = [_canonical(p["sequence"]) for p in parts]
    held = set().union(*(set(k[p["split"] != "train"]) for p, k in zip(parts, keys, strict=True)))
    train = set().union(*(set(k[p["split"] == "train"]) for p, k in zip(parts, keys, strict=True)))
    out, leaks = [], {}
    for p, k in zip(parts, keys, strict=True):
        is_train = (p["split"] == "train").to_numpy()
        drop = is_train & k.isin(held).to_numpy()
        leaks[str(p["tf"].iloc[0])] = {"held_out_in_train": int((~is_train & k.isin(train).to_numpy()).sum()),
                                      "train_dropped": int(drop.sum())}
        out.append(p[~drop])
    return out, leaks


def pool_tf_datasets(datasets: dict[str, str | Path], out: str | Path, *, seed: int | None = 0,
                     keep_splits: tuple[str, ...] | None = None) -> Path:
    """Write one dataset whose rows are every input's rows, with a label column per TF (NaN = unknown).

    Parameters
    ----------
    datasets
        TF name -> dataset folder (at least two; same genome, window length and split chromosomes, or all
        sequence-only with the same length).
    out
        The pooled dataset folder to write.
    seed
        Recorded in dataset.json.
    keep_splits
        Splits written to the pool (None: all). Sequence-only inputs: the others still count as held out
        in the leak check.

    Returns
    -------
    Path
        `out`. Its regions have ``label_<TF>`` per TF (float: 0, 1 or NaN), ``label`` (1 where any TF's
        label is 1), ``tf`` (the TF whose dataset the row came from) and ``split``; sequence-only pools also
        ``sequence`` (placeholder coordinates renumbered ``start = row``), without the training rows whose
        sequence is held out in any input, and ``params.leaks`` in dataset.json (`_drop_sequence_leaks`).

    Raises
    ------
    InputError
        Fewer than two inputs, or inputs that do not share a genome, length and chromosome splits.
    """
    from bindscape.data.dataset import load_dataset, write_dataset

    if len(datasets) < 2:
        raise InputError(f"pooling needs at least two TF datasets, got {len(datasets)}: {', '.join(datasets)}")
    loaded = {tf: load_dataset(p) for tf, p in datasets.items()}
    sequence_only = _check_compatible(loaded)
    keep = [*_KEEP, "sequence"] if sequence_only else _KEEP
    parts = []
    for tf, ds in loaded.items():
        reg = ds.regions
        part = reg[["chrom", "start", "end", "split", *[c for c in keep if c in reg]]].copy()
        for other in loaded:
            part[label_column(other)] = reg["label"].astype(float) if other == tf else np.nan
        part["tf"] = tf
        parts.append(part)
    leaks = None
    if sequence_only:
        parts, leaks = _drop_sequence_leaks(parts)
    pool = pd.concat(parts, ignore_index=True)
    if keep_splits is not None:
        pool = pool[pool["split"].isin(keep_splits)].reset_index(drop=True)
    cols = [label_column(tf) for tf in loaded]
    pool["label"] = (pool[cols].fillna(0).max(axis=1) > 0.5).astype(int)
    first = next(iter(loaded.values()))
    length = first.length
    if sequence_only:  # placeholder coordinates repeat across inputs: one row number each
        pool["start"] = np.arange(len(pool))
        pool["end"] = pool["start"] + length
    params = {"pooled": {tf: str(Path(p).resolve()) for tf, p in datasets.items()}, "label_columns": cols,
              "length": length, **({"leaks": leaks} if leaks is not None else {})}
    return write_dataset(out, pool, builder="pooled-tfs", params=params, seed=seed,
                         genome=None if sequence_only else first.open_genome())


__all__ = ["label_column", "pool_tf_datasets"]

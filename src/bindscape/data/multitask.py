"""Multi-condition base-pair datasets for multitask (NetTIME-style) training.

`build_multitask_bp` builds one dataset for many TF x cell-type conditions. Windows come from the ``bp``
builder (`bindscape.data.builders.build_bp`: windows around each condition's peaks, randomly shifted, plus
optional peak-free background windows) and are then **cross-labelled**: each condition is also labelled on
the windows of the other conditions (``cross_label="tf"``: the same TF in other cell types, so the model must
use the cell type to tell bound from unbound; ``"all"``: every window; ``"none"``: only its own). Where a
condition has both *conserved* and *relaxed* peaks (NetTIME's IDR sets), training rows are labelled with
conserved + relaxed stretches and validation/test rows with conserved ones only.

`MultitaskBPDataset` serves ``(x, y, tf_index, cell_index)`` batches: x is one-hot DNA (N, 4, L) plus, when
a `TrackSet` is given, 2 channels per cell-type track (signal, presence indicator), y the per-bp labels
(N, L). `ConditionVocab` maps TF and cell names to embedding indices and says which names exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bindscape.data.builders import Condition, bound_stretches, build_bp, read_conditions
from bindscape.data.dataset import bp_labels, output_lock, regions_and_genome, window_length, write_dataset
from bindscape.errors import BindscapeError, ConfigError, InputError

NO_CELL = "-"


class UnknownConditionError(BindscapeError):
    """A TF or cell-type name the model was not trained on."""


@dataclass
class ConditionVocab:
    """TF and cell-type names, in embedding-index order, and the (tf, cell) pairs that were trained."""

    tfs: list[str]
    cells: list[str]
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_regions(cls, regions: pd.DataFrame) -> ConditionVocab:
        """The vocabulary of a regions table: sorted TFs, sorted cells and every (tf, cell) pair present.

        Parameters
        ----------
        regions
            Rows with a ``tf`` column (and ``cell``; without it every row is cell ``"-"``).

        Returns
        -------
        ConditionVocab
        """
        tf = regions["tf"].astype(str)
        cell = regions["cell"].astype(str) if "cell" in regions else pd.Series(NO_CELL, index=regions.index)
        pairs = sorted(set(zip(tf, cell)))
        return cls(sorted(tf.unique().tolist()), sorted(cell.unique().tolist()), [tuple(p) for p in pairs])

    def tf_index(self, tf: str) -> int:
        """The embedding index of a TF.

        Parameters
        ----------
        tf
            TF name; an unknown one raises `UnknownConditionError`.

        Returns
        -------
        int
        """
        if tf not in self.tfs:
            raise UnknownConditionError(f"unknown TF {tf!r}; this model knows: {', '.join(self.tfs)}",
                                        hint="pass one of the known TF names (--tf)")
        return self.tfs.index(tf)

    def cell_index(self, cell: str | None) -> int:
        """The embedding index of a cell type.

        Parameters
        ----------
        cell
            Cell-type name (None: ``"-"``, no cell); an unknown one raises `UnknownConditionError`.

        Returns
        -------
        int
        """
        cell = NO_CELL if cell is None else cell
        if cell not in self.cells:
            raise UnknownConditionError(f"unknown cell type {cell!r}; this model knows: {', '.join(self.cells)}",
                                        hint="pass one of the known cell-type names (--cell)")
        return self.cells.index(cell)

    def index(self, tf: str, cell: str | None) -> tuple[int, int]:
        """`tf_index` and `cell_index` together.

        Parameters
        ----------
        tf
            TF name.
        cell
            Cell-type name (None: no cell).

        Returns
        -------
        tuple[int, int]
            ``(tf index, cell index)``.
        """
        return self.tf_index(tf), self.cell_index(cell)

    def to_dict(self) -> dict:
        """JSON-ready form (``tfs``, ``cells``, ``pairs`` as lists), read back by `from_dict`."""
        return {"tfs": list(self.tfs), "cells": list(self.cells), "pairs": [list(p) for p in self.pairs]}

    @classmethod
    def from_dict(cls, d: dict) -> ConditionVocab:
        """Rebuild a vocabulary from `to_dict` output (e.g. a checkpoint's metadata).

        Parameters
        ----------
        d
            ``{"tfs": [...], "cells": [...], "pairs": [[tf, cell], ...]}`` (``pairs`` optional).

        Returns
        -------
        ConditionVocab
        """
        return cls(list(d["tfs"]), list(d["cells"]), [tuple(p) for p in d.get("pairs", [])])


def condition_keys(regions: pd.DataFrame) -> np.ndarray:
    """``"tf/cell"`` key of each row (cell ``"-"`` when the table has no ``cell`` column).

    Parameters
    ----------
    regions
        Rows with a ``tf`` column.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` strings.
    """
    cell = regions["cell"].astype(str) if "cell" in regions else NO_CELL
    return (regions["tf"].astype(str) + "/" + cell).to_numpy()


def build_multitask_bp(
    genome,
    conditions: Sequence[Condition],
    out: str | Path,
    *,
    relaxed: dict[str, str] | None = None,
    length: int = 1000,
    background: float = 0.5,
    cross_label: str = "tf",
    split: str = "auto",
    val: Sequence[str] = (),
    test: Sequence[str] = (),
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    tracks: dict | None = None,
    seed: int = 0,
    aliases=None,
) -> Path:
    """Build and write a cross-labelled multi-condition ``bp`` dataset; returns its folder.

    `relaxed` maps a condition key (``TF/CELL``) to a relaxed peak file; `tracks` (a `TrackSet.to_dict()`)
    is recorded in dataset.json so training and prediction find the same track files.

    Parameters
    ----------
    genome, conditions, out
        A `Genome` or FASTA path, one `Condition` per peak file, the dataset folder.
    relaxed, tracks
        See above.
    length, background, seed
        Window length, background windows per peak window (`build_bp`) and random seed.
    cross_label
        Which windows each condition is labelled on: ``tf``, ``all`` or ``none`` (see the module doc).
    split, val, test, val_frac, test_frac
        The chromosome split (`assign_split`).
    aliases
        Chromosome renaming for the peak files.

    Returns
    -------
    Path
        The dataset folder.
    """
    if cross_label not in ("tf", "all", "none"):
        raise ConfigError(f"cross_label {cross_label!r} is not allowed; choose one of: tf, all, none")
    if val_frac + test_frac >= 1:
        raise ConfigError(f"val_frac + test_frac must be < 1 (got {val_frac:g} + {test_frac:g})",
                          hint="lower val_frac or test_frac so some data is left for training")
    with output_lock(out):  # a second build into the same folder fails at once instead of racing
        _build_locked(genome, conditions, out, relaxed=relaxed, length=length, background=background,
                      cross_label=cross_label, split=split, val=val, test=test, val_frac=val_frac,
                      test_frac=test_frac, tracks=tracks, seed=seed, aliases=aliases)
    return Path(out)


def _build_locked(genome, conditions, out, *, relaxed, length, background, cross_label, split, val, test,
                  val_frac, test_frac, tracks, seed, aliases) -> None:
    """The body of `build_multitask_bp`, run while `out` is locked."""
    from bindscape.data.splits import assign_split
    from bindscape.io.genome import Genome

    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    conditions = list(conditions)
    peaks = read_conditions(conditions, g, aliases=aliases)
    res = build_bp(g, peaks, length=length, background=background, seed=seed)
    win = res.regions
    win["cell"] = win["cell"].fillna(NO_CELL) if "cell" in win else NO_CELL
    relaxed = dict(relaxed or {})
    known = {f"{c.tf}/{c.cell or NO_CELL}" for c in conditions}
    bad = sorted(set(relaxed) - known)
    if bad:
        raise ConfigError(f"relaxed peaks given for unknown conditions {bad}; conditions are {sorted(known)}")
    parts = [_condition_rows(win, cond, peaks[cond], cross_label, relaxed, g, aliases) for cond in conditions]
    df = _bound_summary(pd.concat(parts, ignore_index=True))
    df, mapping = assign_split(df, split, val=val, test=test, sizes=g.sizes, val_frac=val_frac, test_frac=test_frac)
    params = {"kind": "bp-multitask", "length": length, "background": background, "cross_label": cross_label,
              "conditions": [{"tf": c.tf, "cell": c.cell, "species": c.species, "path": str(Path(c.path).resolve()),
                              "relaxed": relaxed.get(f"{c.tf}/{c.cell or NO_CELL}")} for c in conditions],
              "split": split, "tracks": tracks}
    write_dataset(out, df, builder="bp-multitask", params=params, seed=seed, genome=g,
                  extra={"split_chroms": mapping, "notes": res.notes})


def _condition_rows(win: pd.DataFrame, cond: Condition, cond_peaks: pd.DataFrame, cross_label: str,
                    relaxed: dict[str, str], genome, aliases) -> pd.DataFrame:
    """One condition's rows: the windows it is labelled on (per `cross_label`), their origin and stretches."""
    from bindscape.io.bed import read_peaks

    cell = cond.cell or NO_CELL
    if cross_label == "all":
        src = win
    elif cross_label == "tf":
        src = win[win["tf"] == cond.tf]
    else:
        src = win[(win["tf"] == cond.tf) & (win["cell"] == cell)]
    w = src[["chrom", "start", "end"]].drop_duplicates().reset_index(drop=True)
    own = src[(src["tf"] == cond.tf) & (src["cell"] == cell)]
    origin = pd.Series("other", index=pd.MultiIndex.from_frame(w[["chrom", "start", "end"]]))
    for s_name in ("background", "peak"):
        o = own[own["source"] == s_name]
        idx = pd.MultiIndex.from_frame(o[["chrom", "start", "end"]])
        origin.loc[origin.index.isin(idx)] = s_name
    w["source"] = origin.to_numpy()
    bs, be = bound_stretches(w, cond_peaks)
    w["bound_starts"], w["bound_ends"] = bs, be
    key = f"{cond.tf}/{cell}"
    if key in relaxed:
        rel = read_peaks(relaxed[key], sizes=genome.sizes, aliases=aliases)
        both = pd.concat([cond_peaks[["chrom", "start", "end"]], rel[["chrom", "start", "end"]]], ignore_index=True)
        rs, re_ = bound_stretches(w, both)
        w["relaxed_starts"], w["relaxed_ends"] = rs, re_
    w["tf"], w["cell"] = cond.tf, cell
    if cond.species:
        w["species"] = cond.species
    return w


def _bound_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Fill missing relaxed stretches with the conserved ones; add ``label`` and ``bound_bp``."""
    if "relaxed_starts" in df:  # conditions without relaxed peaks: same as conserved
        miss = df["relaxed_starts"].isna()
        df.loc[miss, "relaxed_starts"] = df.loc[miss, "bound_starts"]
        df.loc[miss, "relaxed_ends"] = df.loc[miss, "bound_ends"]
    df["label"] = np.array([len(x) > 0 for x in df["bound_starts"]], dtype=np.int8)
    df["bound_bp"] = np.array([int(np.sum(np.asarray(e) - np.asarray(s))) for s, e in
                               zip(df["bound_starts"], df["bound_ends"])], dtype=np.int64)
    return df


class MultitaskBPDataset(torch.utils.data.Dataset):
    """``(x, y, tf_idx, cell_idx)`` batches from a multi-condition bp dataset (vectorised `__getitems__`).

    `use_relaxed` (training) uses the ``relaxed_*`` stretches (conserved + relaxed) when the dataset has them.
    `rc_augment` flips DNA, tracks and labels together with probability 0.5 (seeded per epoch).
    """

    def __init__(self, source, split: str | None = None, *, vocab: ConditionVocab | None = None, tracks=None,
                 genome=None, rc_augment: bool = False, use_relaxed: bool = False, seed: int = 0,
                 conditions: Sequence[str] | None = None, exclude: Sequence[str] | None = None):
        regions, genome = regions_and_genome(source, genome, "MultitaskBPDataset")
        if "tf" not in regions or "bound_starts" not in regions:
            raise InputError("not a multi-condition base-pair dataset (needs tf and bound_starts columns)",
                             hint="build it with bindscape.data.multitask.build_multitask_bp or `bindscape build bp`")
        if "cell" not in regions:
            regions = regions.assign(cell=NO_CELL)
        regions = regions.assign(cell=regions["cell"].fillna(NO_CELL).astype(str))
        if split is not None:
            regions = regions[regions["split"] == split]
        keys = condition_keys(regions)
        keep = np.ones(len(regions), bool)
        if conditions is not None:
            keep &= np.isin(keys, list(conditions))
        if exclude:
            keep &= ~np.isin(keys, list(exclude))
        self.regions = regions[keep].reset_index(drop=True)
        if len(self.regions) == 0:
            raise ConfigError(f"no examples{f' in split {split!r}' if split else ''} for these conditions")
        self.vocab = vocab or ConditionVocab.from_regions(self.regions)
        self.length = window_length(self.regions, "MultitaskBPDataset")
        self.genome = genome
        self.tracks = tracks
        self.rc_augment = rc_augment
        self.seed = seed
        self.epoch = 0
        lab = self.regions
        if use_relaxed and "relaxed_starts" in lab:
            lab = lab.drop(columns=["bound_starts", "bound_ends"]).rename(
                columns={"relaxed_starts": "bound_starts", "relaxed_ends": "bound_ends"})
        self.y = bp_labels(lab, self.length)
        self.keys = condition_keys(self.regions)
        self.tf_idx = np.array([self.vocab.tf_index(t) for t in self.regions["tf"].astype(str)], np.int64)
        self.cell_idx = np.array([self.vocab.cell_index(c) for c in self.regions["cell"]], np.int64)
        self._chroms = self.regions["chrom"].to_numpy()
        self._starts = self.regions["start"].to_numpy(np.int64)
        self._cells = self.regions["cell"].to_numpy()

    @property
    def n_channels(self) -> int:
        """Input channels: 4 DNA plus the track channels."""
        return 4 + (self.tracks.n_channels if self.tracks is not None else 0)

    def __len__(self) -> int:
        return len(self.regions)

    def set_epoch(self, epoch: int) -> None:
        """Re-draw the reverse-complement augmentation (called by the training loop at each epoch)."""
        self.epoch = epoch

    def inputs(self, idx) -> np.ndarray:
        """Model input (N, C, L) float32 for rows `idx` (no augmentation).

        Parameters
        ----------
        idx
            Row numbers.

        Returns
        -------
        numpy.ndarray
            One-hot DNA followed by the rows' cell-type track channels (when the dataset has tracks).
        """
        idx = np.asarray(idx, dtype=np.int64)
        x = self.genome.fetch_onehot(self._chroms[idx], self._starts[idx], length=self.length, pad=True)
        if self.tracks is not None:
            t = np.zeros((len(idx), self.tracks.n_channels, self.length), np.float32)
            for cell in pd.unique(self._cells[idx]):
                m = self._cells[idx] == cell
                t[m] = self.tracks.fetch(cell, self._chroms[idx][m], self._starts[idx][m], self.length)
            x = np.concatenate([x, t], axis=1)
        return x

    def __getitems__(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        x = self.inputs(idx)
        y = self.y[idx].astype(np.float32)
        if self.rc_augment:
            rng = np.random.default_rng([self.seed, self.epoch, int(idx[0]) if len(idx) else 0, len(idx)])
            rc = rng.random(len(idx)) < 0.5
            if rc.any():
                xr = x[rc][:, :, ::-1].copy()
                xr[:, :4] = xr[:, 3::-1].copy()  # complement A<->T, C<->G (channels A, C, G, T)
                x[rc] = xr
                y[rc] = y[rc][:, ::-1]
        return (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)),
                torch.from_numpy(self.tf_idx[idx]), torch.from_numpy(self.cell_idx[idx]))

    def __getitem__(self, i):
        x, y, t, c = self.__getitems__([i])
        return x[0], y[0], t[0], c[0]


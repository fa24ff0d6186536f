"""The on-disk dataset format.

A dataset is a folder holding exactly two files:

- ``regions.parquet``: one row per example with ``chrom, start, end`` (0-based, half-open) and optional
  ``label`` (int8), ``split`` (train/val/test), ``name, score, strand, summit, tf, cell, species, weight``,
  ``source`` (which builder or negative strategy made the row) and, for base-pair datasets,
  ``bound_starts``/``bound_ends``: the bound stretches inside the window, relative to ``start``.
- ``dataset.json``: the genome's path and checksum, the builder and its parameters, the seed, the bindscape
  version and counts per split/label/condition.

Sequences are not stored: they are read from the genome cache on the fly. Rows are written in a canonical
order (split, condition, chrom, start, end, label) with fixed parquet settings, so building the same dataset
twice with the same seed gives a byte-identical ``regions.parquet``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bindscape._util import atomic_path, atomic_write_text
from bindscape.errors import ConfigError, InputError

REGIONS_FILE = "regions.parquet"
META_FILE = "dataset.json"
SPLITS = ("train", "val", "test")
CONDITION_COLUMNS = ("tf", "cell", "species")
_SORT_ORDER = ("split", "species", "tf", "cell", "chrom", "start", "end", "label", "source")
_INT_COLUMNS = {"start": "int64", "end": "int64", "summit": "int64", "label": "int8"}


@dataclass
class Dataset:
    """A dataset folder loaded into memory (the regions table and its metadata)."""

    path: Path
    regions: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def genome_path(self) -> str | None:
        """The genome path recorded in dataset.json (None for sequence-only datasets)."""
        return (self.meta.get("genome") or {}).get("path")

    @property
    def length(self) -> int | None:
        """The window length when all rows have the same one, else None."""
        lengths = (self.regions["end"] - self.regions["start"]).unique()
        return int(lengths[0]) if len(lengths) == 1 else None

    def split(self, name: str) -> pd.DataFrame:
        """The rows of one split.

        Parameters
        ----------
        name
            ``train``, ``val`` or ``test``.

        Returns
        -------
        pandas.DataFrame
            Those rows, re-indexed from 0.
        """
        if "split" not in self.regions:
            raise InputError(f"{self.path}: dataset has no 'split' column", hint="rebuild it with --split")
        return self.regions[self.regions["split"] == name].reset_index(drop=True)

    def conditions(self) -> list[tuple[str, ...]]:
        """The distinct (tf, cell, species) values present (only the columns the table has), sorted."""
        cols = [c for c in CONDITION_COLUMNS if c in self.regions]
        if not cols:
            return []
        return [tuple(r) for r in self.regions[cols].drop_duplicates().sort_values(cols).itertuples(index=False)]

    def open_genome(self, cache_dir: str | None = None):
        """Open the genome recorded in dataset.json.

        Parameters
        ----------
        cache_dir
            Genome cache root (None: ``$BINDSCAPE_CACHE``, else ``~/.cache/bindscape/genomes``).

        Returns
        -------
        bindscape.io.genome.Genome
        """
        from bindscape.io.genome import Genome

        if not self.genome_path:
            raise InputError(f"{self.path / META_FILE}: no genome recorded for this dataset")
        return Genome(self.genome_path, cache_dir=cache_dir)


def canonical_order(regions: pd.DataFrame) -> pd.DataFrame:
    """Sort rows and columns into the canonical order used on disk.

    Parameters
    ----------
    regions
        A regions table (not changed).

    Returns
    -------
    pandas.DataFrame
        A sorted copy with fixed integer dtypes and ``chrom, start, end, label, split, tf, cell, species``
        (those present) first.
    """
    df = regions.copy()
    for col, dtype in _INT_COLUMNS.items():
        if col in df:
            df[col] = df[col].astype(dtype)
    keys = [c for c in _SORT_ORDER if c in df]
    df = df.sort_values(keys, kind="mergesort").reset_index(drop=True)
    front = [c for c in ("chrom", "start", "end", "label", "split", *CONDITION_COLUMNS) if c in df]
    rest = [c for c in df.columns if c not in front]
    return df[front + rest]


def summarize(regions: pd.DataFrame) -> dict[str, Any]:
    """Counts per split, label and condition (what `bindscape info` prints and dataset.json stores).

    Parameters
    ----------
    regions
        A regions table.

    Returns
    -------
    dict
        ``n``, and when the columns exist ``counts`` (``"split/label"`` -> rows), ``conditions`` (rows and
        positives per condition) and ``chroms_per_split``.
    """
    out: dict[str, Any] = {"n": int(len(regions))}
    by = [c for c in ("split", "label") if c in regions]
    if by:
        counts = regions.groupby(by, observed=True).size()
        out["counts"] = {"/".join(str(k) for k in (key if isinstance(key, tuple) else (key,))): int(v)
                         for key, v in counts.items()}
    cond = [c for c in CONDITION_COLUMNS if c in regions]
    if cond:
        grp = regions.groupby(cond, observed=True)
        out["conditions"] = {
            "/".join(str(k) for k in (key if isinstance(key, tuple) else (key,))): {
                "n": int(len(sub)),
                **({"positives": int((sub["label"] == 1).sum())} if "label" in sub else {}),
            }
            for key, sub in grp
        }
    if "split" in regions:
        out["chroms_per_split"] = {
            s: sorted(regions.loc[regions["split"] == s, "chrom"].unique().tolist()) for s in SPLITS
        }
    return out


def write_dataset(
    out_dir: str | Path,
    regions: pd.DataFrame,
    *,
    builder: str,
    params: dict[str, Any],
    seed: int | None,
    genome=None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `regions` as a dataset folder (atomically: each file is written to a temp name and renamed).

    `genome` is a `bindscape.io.genome.Genome` (its path and checksum are recorded) or None for
    sequence-only datasets that carry a ``sequence`` column.

    Parameters
    ----------
    out_dir
        The dataset folder (created if missing).
    regions
        The rows; needs ``chrom, start, end``. Written in `canonical_order`.
    builder
        Name of the builder, recorded in dataset.json.
    params
        The builder's parameters, recorded in dataset.json.
    seed
        The build seed, recorded (None: none).
    genome
        The genome the windows refer to, or None.
    extra
        More top-level dataset.json fields.

    Returns
    -------
    Path
        `out_dir`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bindscape import __version__

    for col in ("chrom", "start", "end"):
        if col not in regions:
            raise ValueError(f"regions table lacks required column {col!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = canonical_order(regions)
    table = pa.Table.from_pandas(df, preserve_index=False)
    # Drop pandas' schema blob: it embeds versions and column order details we do not need.
    table = table.replace_schema_metadata(None)
    with atomic_path(out_dir / REGIONS_FILE) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=False)
    meta = {
        "format": "bindscape-dataset/1",
        "bindscape_version": __version__,
        "builder": builder,
        "params": _jsonable(params),
        "seed": seed,
        "genome": None
        if genome is None
        else {"path": str(Path(genome.path).resolve()), "checksum": genome.checksum},
        "summary": summarize(df),
    }
    if extra:
        meta.update(_jsonable(extra))
    atomic_write_text(out_dir / META_FILE, json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return out_dir


def load_dataset(path: str | Path) -> Dataset:
    """Load a dataset folder; clear errors when it is not one.

    Parameters
    ----------
    path
        Folder with ``regions.parquet`` and ``dataset.json``.

    Returns
    -------
    Dataset
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: dataset folder does not exist", hint="build one with `bindscape build`")
    if not (path / REGIONS_FILE).exists() or not (path / META_FILE).exists():
        raise InputError(
            f"{path}: not a bindscape dataset (needs {REGIONS_FILE} and {META_FILE})",
            hint="build one with `bindscape build`",
        )
    try:
        meta = json.loads((path / META_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path / META_FILE}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        regions = pd.read_parquet(path / REGIONS_FILE)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{path / REGIONS_FILE}: cannot be read as parquet ({exc})") from None
    return Dataset(path=path, regions=regions, meta=meta)


def regions_and_genome(source, genome, who: str) -> tuple[pd.DataFrame, Any]:
    """The regions table and genome behind a torch dataset `who` built from `source` (a dataset folder, a
    `Dataset` or a regions table): a table needs `genome`; a dataset opens its own unless one is given."""
    if isinstance(source, pd.DataFrame):
        if genome is None:
            raise ConfigError(f"{who} needs a genome when given a regions table")
        return source, genome
    ds = source if isinstance(source, Dataset) else load_dataset(source)
    return ds.regions, (genome if genome is not None else ds.open_genome())


def select_split(regions: pd.DataFrame, split: str | None, rebuild: str = "") -> pd.DataFrame:
    """The rows of `split` (None: all), re-indexed from 0; a `ConfigError` when the table has no ``split``
    column (`rebuild` is appended to that message) or no rows are left."""
    if split is not None:
        if "split" not in regions:
            raise ConfigError(f"dataset has no split column{rebuild}")
        regions = regions[regions["split"] == split]
    regions = regions.reset_index(drop=True)
    if len(regions) == 0:
        raise ConfigError(f"no examples{f' in split {split!r}' if split else ''}")
    return regions


def window_length(regions: pd.DataFrame, who: str) -> int:
    """The one window length of `regions`; a `ConfigError` naming the torch dataset `who` when they differ."""
    lengths = (regions["end"] - regions["start"]).unique()
    if len(lengths) != 1:
        raise ConfigError(f"windows have {len(lengths)} different lengths; a {who} needs one")
    return int(lengths[0])


def bp_labels(regions: pd.DataFrame, length: int | None = None) -> np.ndarray:
    """Per-base-pair 0/1 labels `(N, L)` uint8 from the ``bound_starts``/``bound_ends`` columns.

    Parameters
    ----------
    regions
        Base-pair dataset rows (stretches relative to ``start``).
    length
        L (None: the longest window); stretches are clipped to it.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` uint8.
    """
    if "bound_starts" not in regions:
        raise InputError("dataset has no base-pair labels", hint="build it with `bindscape build bp`")
    if length is None:
        length = int((regions["end"] - regions["start"]).max())
    out = np.zeros((len(regions), length), dtype=np.uint8)
    for i, (bs, be) in enumerate(zip(regions["bound_starts"], regions["bound_ends"])):
        for s, e in zip(bs, be):
            out[i, max(int(s), 0) : min(int(e), length)] = 1
    return out


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj

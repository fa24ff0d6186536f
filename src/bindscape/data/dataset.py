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

Publication is atomic for the folder as a whole: both files are written into a temporary sibling folder,
which then replaces the dataset folder in one rename (an atomic exchange on Linux), so a crash leaves either
the old dataset or the new one, never a mix. ``dataset.json`` records the sha256 of ``regions.parquet``
(``regions_sha256``) and `load_dataset` checks it; `Dataset.open_genome` checks the genome's sha256 against
the recorded one (`allow_genome_change` is the explicit way out). `output_lock` keeps two builds from
writing the same folder at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bindscape._util import exchange_paths, file_checksum
from bindscape._util import publish_folder as _publish_folder
from bindscape.errors import ConfigError, InputError

REGIONS_FILE = "regions.parquet"
META_FILE = "dataset.json"
LOCK_FILE = ".bindscape.lock"
ALLOW_GENOME_CHANGE_ENV = "BINDSCAPE_ALLOW_GENOME_CHANGE"
SPLITS = ("train", "val", "test")
CONDITION_COLUMNS = ("tf", "cell", "species")
_SORT_ORDER = ("split", "species", "tf", "cell", "chrom", "start", "end", "label", "source")
_INT_COLUMNS = {"start": "int64", "end": "int64", "summit": "int64", "label": "int8"}


class GenomeChangedError(InputError):
    """The genome file of a dataset no longer has the sha256 recorded when the dataset was built."""


class OutputLockedError(InputError):
    """Another bindscape process is writing the same output folder."""


@dataclass
class Dataset:
    """A dataset folder loaded into memory (the regions table and its metadata)."""

    path: Path
    regions: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    allow_genome_change: bool = False

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

    def open_genome(self, cache_dir: str | None = None, *, allow_genome_change: bool | None = None):
        """Open the genome recorded in dataset.json and check it is the one the dataset was built on.

        The check is free: the genome cache is keyed by the file's sha256, which dataset.json records.

        Parameters
        ----------
        cache_dir
            Genome cache root (None: ``$BINDSCAPE_CACHE``, else ``~/.cache/bindscape/genomes``).
        allow_genome_change
            Use the genome even when its sha256 differs from the recorded one (None: this dataset's
            `allow_genome_change`, or the ``BINDSCAPE_ALLOW_GENOME_CHANGE=1`` environment variable that
            ``--allow-genome-change`` sets).

        Returns
        -------
        bindscape.io.genome.Genome

        Raises
        ------
        GenomeChangedError
            When the genome file changed since the dataset was built and no way out was given.
        """
        from bindscape.io.genome import Genome

        if not self.genome_path:
            raise InputError(f"{self.path / META_FILE}: no genome recorded for this dataset")
        g = Genome(self.genome_path, cache_dir=cache_dir)
        want = (self.meta.get("genome") or {}).get("checksum")
        if allow_genome_change is None:
            allow_genome_change = self.allow_genome_change or os.environ.get(ALLOW_GENOME_CHANGE_ENV, "") == "1"
        if want and g.checksum != want and not allow_genome_change:
            raise GenomeChangedError(
                f"{self.genome_path}: genome changed since the dataset {self.path} was built "
                f"(sha256 {g.checksum[:12]}... != recorded {str(want)[:12]}...); its labels may not fit the sequence",
                hint="rebuild the dataset with `bindscape build`, or pass --allow-genome-change to use it anyway",
            )
        return g


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
    """Write `regions` as a dataset folder, atomically: both files go into a temp sibling folder that then
    replaces `out_dir` in one rename (see `publish_folder`); dataset.json records the parquet's sha256.

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
    from bindscape import __version__

    for col in ("chrom", "start", "end"):
        if col not in regions:
            raise ValueError(f"regions table lacks required column {col!r}")
    out_dir = Path(out_dir)
    df = canonical_order(regions)
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
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        _write_files(tmp, df, meta)
        publish_folder(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _write_files(folder: Path, df: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Write regions.parquet, then dataset.json (with the parquet's sha256) into `folder`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    # Drop pandas' schema blob: it embeds versions and column order details we do not need.
    table = table.replace_schema_metadata(None)
    pq.write_table(table, folder / REGIONS_FILE, compression="zstd", use_dictionary=True, write_statistics=False)
    meta["regions_sha256"] = file_checksum(folder / REGIONS_FILE)
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (`bindscape._util.exchange_paths`); False when the system cannot."""
    return exchange_paths(a, b)


def publish_folder(tmp: str | Path, final: str | Path) -> None:
    """Make the complete dataset folder `tmp` appear as `final` in one rename (`bindscape._util.publish_folder`).

    Files in an existing `final` other than a dataset's own (``regions.parquet``, ``dataset.json`` and the
    lock file) are moved into `tmp` first so they are kept.

    Parameters
    ----------
    tmp
        The new folder, complete, on the same filesystem as `final`.
    final
        The folder to replace or create.
    """
    _publish_folder(tmp, final, own=(REGIONS_FILE, META_FILE, LOCK_FILE), exchange=_exchange)


def check_out_empty(out: str | Path, force: bool) -> Path:
    """`out` as a Path; an `InputError` when it holds files (other than a build's lock) and not `force`.

    Builders call it before taking `output_lock` and again under it (another build may have finished
    meanwhile).

    Parameters
    ----------
    out
        The output folder (need not exist).
    force
        Allow a non-empty folder (``--force``).

    Returns
    -------
    Path
    """
    out = Path(out)
    if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()) and not force:
        raise InputError(f"{out}: folder exists and is not empty", hint="pass --force to overwrite")
    return out


@contextlib.contextmanager
def output_lock(out: str | Path, flag: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on the output folder `out` while a build writes it.

    The lock file lives inside `out` (created if missing) and never reaches a published dataset. A second
    process that finds the folder locked fails at once with an `OutputLockedError`. When this call created
    `out` and nothing was published into it, the empty folder is removed again.

    Parameters
    ----------
    out
        The output folder.
    flag
        The CLI option that named it (for the message).

    Yields
    ------
    Path
        `out`.
    """
    from filelock import FileLock, Timeout

    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputLockedError(f"{out}: another bindscape process is writing this folder",
                                hint=f"wait for it to finish, or choose another {flag}") from None
    try:
        yield out
    finally:
        lock_path = out / LOCK_FILE
        if lock_path.exists():
            lock_path.unlink()
        lock.release()
        if created and out.is_dir() and not any(out.iterdir()):  # made here, nothing published
            out.rmdir()


def load_dataset(path: str | Path, *, allow_genome_change: bool = False) -> Dataset:
    """Load a dataset folder; clear errors when it is not one or its files do not belong together.

    Parameters
    ----------
    path
        Folder with ``regions.parquet`` and ``dataset.json``.
    allow_genome_change
        Let `Dataset.open_genome` use a genome whose sha256 differs from the recorded one.

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
    want = meta.get("regions_sha256") if isinstance(meta, dict) else None
    if want and file_checksum(path / REGIONS_FILE) != want:
        raise InputError(
            f"{path / REGIONS_FILE}: sha256 differs from regions_sha256 in {META_FILE} (damaged or mixed dataset)",
            hint="rebuild it with `bindscape build ... --force`",
        )
    try:
        regions = pd.read_parquet(path / REGIONS_FILE)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{path / REGIONS_FILE}: cannot be read as parquet ({exc})") from None
    return Dataset(path=path, regions=regions, meta=meta, allow_genome_change=allow_genome_change)


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

"""Cell-type signal tracks (DNase/ATAC, histone marks) as extra input channels.

A `TrackSet` has track names (e.g. ``["accessibility"]``) and, per cell type, a file for each name it has:
bedGraph (``chrom start end value``), BED/narrowPeak (value = signalValue when present, else 1) or bigWig
(via ``pybigtools``). Each track becomes TWO channels: the signal (``log1p`` of the
value, 0 where missing) and a presence indicator (1 where the cell type has that track, 0 where it does
not). A missing track is therefore never a silent zero: the model sees that it is missing.

    ts = TrackSet({"liver": {"atac": "liver.bedGraph"}, "myeloid": {}}, names=["atac"])
    x = ts.fetch("liver", chroms, starts, length)    # (N, 2 * n_tracks, L) float32
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError


class SignalTrack:
    """One signal track held as sorted intervals per chromosome (memory ~ number of intervals)."""

    def __init__(self, intervals: pd.DataFrame, name: str = "track", transform: str = "log1p"):
        self.name = name
        self.transform = transform
        self._by_chrom: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for chrom, sub in intervals.groupby("chrom", sort=False):
            o = np.argsort(sub["start"].to_numpy(), kind="stable")
            self._by_chrom[str(chrom)] = (sub["start"].to_numpy(np.int64)[o], sub["end"].to_numpy(np.int64)[o],
                                          sub["value"].to_numpy(np.float32)[o])

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None, transform: str = "log1p") -> SignalTrack:
        """Read a track file (`read_signal`).

        Parameters
        ----------
        path
            bedGraph, BED/narrowPeak or bigWig file.
        name
            Track name (None: the file name without its last suffix).
        transform
            ``log1p`` (of values clipped at 0) or anything else for raw values.

        Returns
        -------
        SignalTrack
        """
        return cls(read_signal(path), name=name or Path(path).stem, transform=transform)

    def fetch(self, chroms: Sequence[str], starts, length: int) -> np.ndarray:
        """Signal (N, L) float32 for windows [start, start + length); 0 outside intervals.

        Parameters
        ----------
        chroms
            ``(N,)`` chromosome of each window.
        starts
            ``(N,)`` 0-based window starts.
        length
            Window length L.

        Returns
        -------
        numpy.ndarray
            ``(N, L)`` float32, after the track's transform.
        """
        starts = np.asarray(starts, dtype=np.int64)
        out = np.zeros((len(starts), length), dtype=np.float32)
        chroms = np.asarray(chroms)
        for chrom in pd.unique(chroms):
            iv = self._by_chrom.get(str(chrom))
            if iv is None:
                continue
            s, e, v = iv
            max_len = int((e - s).max()) if len(s) else 0
            for i in np.flatnonzero(chroms == chrom):
                w0 = starts[i]
                lo = np.searchsorted(s, w0 - max_len, "left")
                hi = np.searchsorted(s, w0 + length, "left")
                for a, b, val in zip(s[lo:hi], e[lo:hi], v[lo:hi]):
                    if b > w0:
                        out[i, max(a - w0, 0) : min(b - w0, length)] = val
        if self.transform == "log1p":
            np.log1p(np.clip(out, 0, None), out=out)
        return out


def read_signal(path: str | Path) -> pd.DataFrame:
    """Read a bedGraph / BED / narrowPeak / bigWig file into ``chrom, start, end, value``.

    Parameters
    ----------
    path
        The track file; the format comes from the name (``.bw``/``.bigwig``, ``.bed``/``.narrowPeak``
        (optionally ``.gz``), anything else is read as bedGraph).

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end, value``; BED values are the signal column, or 1 without one.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: track file does not exist")
    low = path.name.lower()
    if low.endswith((".bw", ".bigwig")):
        import pybigtools

        rows = []
        with pybigtools.open(str(path)) as bw:
            for chrom in bw.chroms():
                for s, e, v in bw.records(chrom):
                    rows.append((chrom, s, e, v))
        return pd.DataFrame(rows, columns=["chrom", "start", "end", "value"])
    if low.endswith((".narrowpeak", ".narrowpeak.gz", ".bed", ".bed.gz")):
        from bindscape.io.bed import read_peaks

        df = read_peaks(path)
        val = None
        for col in ("signal", "signalValue", "signal_value"):
            if col in df:
                val = df[col].to_numpy(np.float32)
                break
        return pd.DataFrame({"chrom": df["chrom"], "start": df["start"], "end": df["end"],
                             "value": val if val is not None else np.ones(len(df), np.float32)})
    # bedGraph
    try:
        df = pd.read_csv(path, sep=r"\s+", header=None, comment="#", usecols=[0, 1, 2, 3],
                         names=["chrom", "start", "end", "value"], dtype={"chrom": str},
                         skip_blank_lines=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable bedGraph ({exc})",
                         hint="expected 4 tab-separated columns: chrom start end value") from None
    df = df[~df["chrom"].str.startswith(("track", "browser"))]
    try:
        df = df.astype({"start": np.int64, "end": np.int64, "value": np.float32})
    except (ValueError, TypeError):
        raise InputError(f"{path}: bedGraph has non-numeric start/end/value",
                         hint="expected 4 tab-separated columns: chrom start end value") from None
    return df.reset_index(drop=True)


def write_bedgraph(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``chrom, start, end, value`` as bedGraph.

    Parameters
    ----------
    df
        Intervals with those columns (others are ignored).
    path
        Output file; parent folders are created.

    Returns
    -------
    Path
        `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df[["chrom", "start", "end", "value"]].to_csv(path, sep="\t", header=False, index=False)
    return path


class TrackSet:
    """Tracks per cell type; `fetch` returns signal + presence-indicator channels (2 per track name)."""

    def __init__(self, files: Mapping[str, Mapping[str, str]], names: Sequence[str] | None = None,
                 transform: str = "log1p"):
        self.files = {str(c): {str(k): str(v) for k, v in (m or {}).items()} for c, m in files.items()}
        self.names = list(names) if names is not None else sorted({k for m in self.files.values() for k in m})
        unknown = {k for m in self.files.values() for k in m} - set(self.names)
        if unknown:
            raise ConfigError(f"tracks {sorted(unknown)} are not in the track names {self.names}")
        self.transform = transform
        self._cache: dict[tuple[str, str], SignalTrack] = {}

    @property
    def n_channels(self) -> int:
        """Input channels the tracks add: two (signal, presence) per track name."""
        return 2 * len(self.names)

    def present(self, cell: str) -> list[bool]:
        """Which track names a cell type has a file for.

        Parameters
        ----------
        cell
            Cell-type name (unknown: none present).

        Returns
        -------
        list[bool]
            One flag per track name, in `names` order.
        """
        return [name in self.files.get(cell, {}) for name in self.names]

    def _track(self, cell: str, name: str) -> SignalTrack:
        key = (cell, name)
        if key not in self._cache:
            self._cache[key] = SignalTrack.from_file(self.files[cell][name], name=name, transform=self.transform)
        return self._cache[key]

    def fetch(self, cell: str, chroms, starts, length: int) -> np.ndarray:
        """(N, 2 * n_tracks, L) float32: for each track name, the signal (0 if missing) then the presence
        indicator, of the tracks of `cell` (files are loaded once and cached); windows as in
        `SignalTrack.fetch`."""
        n = len(starts)
        out = np.zeros((n, self.n_channels, length), dtype=np.float32)
        for k, name in enumerate(self.names):
            if name in self.files.get(cell, {}):
                out[:, 2 * k] = self._track(cell, name).fetch(chroms, starts, length)
                out[:, 2 * k + 1] = 1.0
        return out

    def to_dict(self) -> dict:
        """JSON-ready form (``names``, ``files``, ``transform``), read back by `from_dict`."""
        return {"names": self.names, "files": self.files, "transform": self.transform}

    @classmethod
    def from_dict(cls, d: dict | None) -> TrackSet | None:
        """Rebuild a track set from `to_dict` output (a config's ``tracks`` or a checkpoint's metadata).

        Parameters
        ----------
        d
            ``{"names", "files", "transform"}`` (``transform`` optional), or None.

        Returns
        -------
        TrackSet or None
            None when `d` is empty or has no track names.
        """
        if not d or not d.get("names"):
            return None
        return cls(d["files"], d["names"], d.get("transform", "log1p"))

"""Prediction with a trained checkpoint: a dataset folder, a BED file, a FASTA file, or whole
chromosomes/genomes tiled in windows, with a progress bar.

Genome tiling streams: `iter_genome` predicts one chunk of windows at a time (one reused batch buffer) and
`write_genome_predictions` writes the table (parquet row groups) and the tracks (bedGraph, bigWig via
pybigtools) as the chunks come, so memory does not grow with the genome. `write_tracks` is the one track
writer (also used by `bindscape predict-bp`). The bedGraph formatter is hand-written (`bedgraph_lines`):
numpy, pandas and pyarrow have no vectorised ``%g`` formatter, and one ``%`` over a chunk is twice as fast
as formatting rows one by one.

Nothing here imports Lightning: prediction needs only torch (``tests/test_predict_stream.py`` checks it).
pandas is imported inside the functions that build frames: tiling a genome straight to parquet/bigWig/bedGraph
(`write_genome_predictions`, what ``bindscape predict --genome`` runs) works on numpy arrays and writes parquet
with pyarrow, so it never imports pandas (measured: 0.47 CPU-s and 40 MiB less per call, docs/predict.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bindscape._util import atomic_path, progress
from bindscape.errors import ConfigError, InputError
from bindscape.models.base import InputLengthError

if TYPE_CHECKING:  # pandas is imported where frames are built (see the module docstring)
    import pandas as pd

#: default windows per forward pass: measured fastest on one CPU thread (docs/predict.md); larger batches
#: put each activation above glibc's mmap threshold, so every batch pays fresh page faults
BATCH_SIZE = 64


def _as_loaded(ckpt):
    from bindscape.train.checkpoint import LoadedCheckpoint, load_checkpoint

    return ckpt if isinstance(ckpt, LoadedCheckpoint) else load_checkpoint(ckpt)


def _prob_columns(n: int) -> list[str]:
    return ["prob"] if n == 1 else [f"prob_{j}" for j in range(n)]


def predict_batches(model, batches: Iterable, *, rc_average: bool = True, total: int | None = None,
                    desc: str = "predicting", progress_bar: bool = False) -> Iterator[np.ndarray]:
    """The one batch-prediction loop of per-sequence models: probabilities of each batch, RC-averaged.

    Parameters
    ----------
    model
        Input ``(N, 4, L)`` -> logits ``(N, K)`` (put in eval mode here).
    batches
        Arrays or tensors ``(n, 4, L)``.
    rc_average
        Average both strands (`bindscape.train.rc.predict_proba`).
    total, desc, progress_bar
        Progress bar (rows in all batches, its label, show it).

    Yields
    ------
    numpy.ndarray
        ``(n, K)`` probabilities per batch.
    """
    import torch

    from bindscape.train.rc import predict_proba

    model = model.eval()
    dev = next(model.parameters()).device
    with progress(disable=not progress_bar or None, transient=True) as bar:
        task = bar.add_task(desc, total=total)
        for x in batches:
            x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
            p = predict_proba(model, x.float().to(dev), rc_average).cpu().numpy()
            bar.advance(task, len(x))
            yield p


def _predict_batches(loaded, batches: Iterable, *, total: int | None, desc: str, progress_bar: bool,
                     rc_average: bool | None = None) -> Iterator[np.ndarray]:
    rc = loaded.rc_average if rc_average is None else rc_average
    yield from predict_batches(loaded.model, batches, rc_average=rc, total=total, desc=desc,
                               progress_bar=progress_bar)


def dataset_batches(tds, batch_size: int) -> Iterator:
    """Input tensors of a torch dataset with ``__getitems__`` (`bindscape.train.data.torch_dataset`), in order."""
    n = len(tds)
    return (tds.__getitems__(list(range(i, min(i + batch_size, n))))[0] for i in range(0, n, batch_size))


def predict_rows(model, tds, *, batch_size: int = BATCH_SIZE, rc_average: bool = True) -> np.ndarray:
    """Probabilities ``(N, K)`` of every row of a torch dataset, in order (no progress bar).

    Parameters
    ----------
    model
        A per-sequence model.
    tds
        A dataset with ``__getitems__`` returning ``(x, y)``.
    batch_size
        Rows per batch.
    rc_average
        Average both strands.

    Returns
    -------
    numpy.ndarray
    """
    out = list(predict_batches(model, dataset_batches(tds, batch_size), rc_average=rc_average))
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def predict_arrays(ckpt, x: np.ndarray, *, batch_size: int = BATCH_SIZE, rc_average: bool | None = None) -> np.ndarray:
    """One-hot ``(N, 4, L)`` -> probabilities ``(N, n_outputs)``."""
    loaded = _as_loaded(ckpt)
    loaded.model.check_length(int(x.shape[-1]))
    gen = (x[i : i + batch_size] for i in range(0, len(x), batch_size))
    out = list(_predict_batches(loaded, gen, total=len(x), desc="predicting", progress_bar=False,
                                rc_average=rc_average))
    return np.concatenate(out) if out else np.zeros((0, loaded.model.n_outputs), np.float32)


def _check_dataset_length(loaded, length: int, what: str) -> None:
    if length != loaded.length:
        raise InputLengthError(
            f"{what} has {length}-bp windows but the model in {loaded.path} was trained on {loaded.length} bp",
            hint=f"rebuild the dataset with --length {loaded.length}, or predict a BED/FASTA file "
                 "(windows are resized to the model's length)")
    loaded.model.check_length(length)


def predict_dataset(ckpt, data, *, split: str | None = None, batch_size: int = BATCH_SIZE,
                    progress: bool = True) -> pd.DataFrame:
    """Score a dataset folder (or a torch dataset from `bindscape.train.data.torch_dataset`).

    Returns the regions (chrom, start, end, label, split, ...) plus ``prob`` (``prob_j`` per output).
    """
    loaded = _as_loaded(ckpt)
    if isinstance(data, (str, Path)) or hasattr(data, "meta"):
        from bindscape.train.data import open_dataset, torch_dataset

        ds = open_dataset(data)
        labels = loaded.config.get("data", {}).get("label_columns", ["label"])
        tds = torch_dataset(ds, split, label_columns=labels)
        what = f"dataset {ds.path}"
    else:
        tds, what = data, "the dataset"
    _check_dataset_length(loaded, tds.length, what)
    n = len(tds)
    gen = dataset_batches(tds, batch_size)
    p = np.concatenate(list(_predict_batches(loaded, gen, total=n, desc="predicting", progress_bar=progress)))
    keep = [c for c in ("chrom", "start", "end", "name", "label", "split", "tf", "cell", "species")
            if c in tds.regions]
    out = tds.regions[keep].reset_index(drop=True).copy()
    for j, c in enumerate(_prob_columns(p.shape[1])):
        out[c] = p[:, j]
    return out


def predict_bed(ckpt, bed: str | Path | pd.DataFrame, genome, *, batch_size: int = BATCH_SIZE,
                progress: bool = True) -> pd.DataFrame:
    """Score intervals: one window of the model's length centred on each interval's midpoint.

    The intervals are checked against the genome as `bindscape build` checks peaks (names, and bounds: an
    interval past its chromosome's end is an error, ``file:line``).

    Parameters
    ----------
    ckpt
        A checkpoint path or a loaded checkpoint.
    bed
        A BED file or a frame with ``chrom, start, end``.
    genome
        The genome FASTA path or a `Genome`.
    batch_size, progress
        Rows per batch; show a progress bar.

    Returns
    -------
    pandas.DataFrame
        The intervals plus ``window_start``, ``window_end`` and ``prob`` (``prob_j`` per output).
    """
    import pandas as pd

    from bindscape.io.bed import read_bed
    from bindscape.io.chroms import check_bounds, check_chroms
    from bindscape.io.genome import Genome

    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    if isinstance(bed, pd.DataFrame):
        regions = check_chroms(bed, g.sizes, source=bed.attrs.get("source", "--bed intervals"))
        check_bounds(regions, g.sizes, source=bed.attrs.get("source", "--bed intervals"))
    else:
        regions = read_bed(bed, sizes=g.sizes)
    loaded = _as_loaded(ckpt)
    L = loaded.length
    mid = ((regions["start"].to_numpy() + regions["end"].to_numpy()) // 2).astype(np.int64)
    ws = mid - L // 2
    chroms = regions["chrom"].to_numpy()
    n = len(regions)
    gen = (g.fetch_onehot(chroms[i : i + batch_size], ws[i : i + batch_size], length=L, pad=True)
           for i in range(0, n, batch_size))
    p = np.concatenate(list(_predict_batches(loaded, gen, total=n, desc="predicting", progress_bar=progress)))
    out = regions.reset_index(drop=True).copy()
    out["window_start"], out["window_end"] = ws, ws + L
    for j, c in enumerate(_prob_columns(p.shape[1])):
        out[c] = p[:, j]
    return out


def predict_fasta(ckpt, fasta: str | Path, *, align: str = "center", batch_size: int = BATCH_SIZE,
                  progress: bool = True) -> pd.DataFrame:
    """Score FASTA records, each resized to the model's length (`bindscape.data.sequences.fit_length`).

    Every record must hold at least one base and only A, C, G, T or N (any case); otherwise an `InputError`
    names the file, the record's header line and its name.

    Parameters
    ----------
    ckpt
        A checkpoint path or a loaded checkpoint.
    fasta
        The FASTA file (plain or gzip).
    align
        How records are cropped or padded (``center`` or ``left``).
    batch_size, progress
        Rows per batch; show a progress bar.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``length`` and ``prob`` (``prob_j`` per output), one row per record.
    """
    import pandas as pd

    from bindscape.data.sequences import fit_length, read_fasta_records
    from bindscape.io.genome import encode, onehot

    recs = read_fasta_records(fasta)
    _check_records(recs, fasta)
    loaded = _as_loaded(ckpt)
    L = loaded.length
    seqs = fit_length(recs["sequence"].tolist(), L, align)
    n = len(seqs)

    def gen():
        for i in range(0, n, batch_size):
            chunk = seqs[i : i + batch_size]
            yield onehot(encode("".join(chunk)).reshape(len(chunk), L))

    p = np.concatenate(list(_predict_batches(loaded, gen(), total=n, desc="predicting", progress_bar=progress)))
    out = pd.DataFrame({"name": recs["name"], "length": recs["sequence"].str.len()})
    for j, c in enumerate(_prob_columns(p.shape[1])):
        out[c] = p[:, j]
    return out


def _check_records(recs: pd.DataFrame, path) -> None:
    """An `InputError` for the first empty record or record with characters other than ACGTN."""
    seqs = recs["sequence"]
    empty = (seqs.str.len() == 0).to_numpy()
    bad = ~seqs.str.fullmatch(r"[ACGTNacgtn]*").to_numpy(dtype=bool)
    if not (empty.any() or bad.any()):
        return
    lines = recs.attrs.get("lines")
    i = int(np.flatnonzero(empty | bad)[0])
    where = f"{path}:{lines[i]}" if lines is not None else f"{path}: record {i + 1}"
    name = recs["name"].iloc[i]
    if empty[i]:
        raise InputError(f"{where}: record {name!r} is empty (no sequence after its header)",
                         hint="remove the record or give it a sequence")
    s = seqs.iloc[i]
    chars = "".join(sorted(set(s.upper()) - set("ACGTN")))
    more = f"; {int((empty | bad).sum())} bad records in all" if (empty | bad).sum() > 1 else ""
    raise InputError(f"{where}: record {name!r} has characters other than A, C, G, T, N ({chars!r}{more})",
                     hint="replace ambiguity codes with N and remove other characters")


#: windows per chunk of genome tiling: memory per chunk is its starts, ends and probabilities (a few MB), so
#: predicting a genome costs the same memory as predicting its smallest chromosome
CHUNK_WINDOWS = 1 << 16


def n_windows(size: int, length: int, stride: int) -> int:
    """Number of windows `tile_windows` puts on a chromosome of `size` bp.

    Parameters
    ----------
    size, length, stride
        Chromosome size, window length and step (bp).

    Returns
    -------
    int
    """
    if size < length:
        return 1
    n = (size - length) // stride + 1
    return n + int((n - 1) * stride + length < size)


def window_starts(size: int, length: int, stride: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Starts of windows ``lo..hi`` of a chromosome tiled as `tile_windows` tiles it (int64).

    Parameters
    ----------
    size, length, stride
        Chromosome size, window length and step (bp).
    lo, hi
        Window indices (half-open; hi None: all).

    Returns
    -------
    numpy.ndarray
    """
    n = n_windows(size, length, stride)
    hi = n if hi is None else min(hi, n)
    if size < length:
        return np.zeros(hi - lo, dtype=np.int64)
    starts = np.arange(lo, hi, dtype=np.int64) * stride
    if hi == n and n > (size - length) // stride + 1:  # the extra window aligned to the chromosome's end
        starts[-1] = size - length
    return starts


def tile_windows(sizes: dict[str, int], length: int, stride: int) -> Iterator[tuple[str, np.ndarray]]:
    """Window starts per chromosome: every `stride` bp, plus one aligned to the end when the step misses it.

    Parameters
    ----------
    sizes
        Chromosome -> size.
    length, stride
        Window length and step (bp).

    Yields
    ------
    tuple of (str, numpy.ndarray)
        A chromosome and its window starts (a chromosome shorter than a window gets one window at 0).
    """
    for chrom, size in sizes.items():
        yield chrom, window_starts(size, length, stride)


def _genome_sizes(g, chroms: list[str] | None) -> dict[str, int]:
    sizes = g.sizes
    if chroms:
        missing = [c for c in chroms if c not in sizes]
        if missing:
            shown = ", ".join(list(sizes)[:4]) + (", ..." if len(sizes) > 4 else "")
            raise InputError(f"--chrom: chromosome(s) {', '.join(missing)} not in the genome",
                             hint=f"the genome has {len(sizes)} chromosomes: {shown}")
        sizes = {c: sizes[c] for c in dict.fromkeys(chroms)}
    return sizes


def iter_genome(ckpt, genome, *, chroms: list[str] | None = None, stride: int | None = None,
                batch_size: int = BATCH_SIZE, progress: bool = True,
                chunk: int = CHUNK_WINDOWS) -> Iterator[pd.DataFrame]:
    """Tile chromosomes with windows and predict them, one chunk of windows at a time (memory stays flat).

    Parameters
    ----------
    ckpt
        A checkpoint path or a loaded checkpoint.
    genome
        The genome FASTA path or a `Genome`.
    chroms
        Only these chromosomes, in this order (default: all, in FASTA order).
    stride
        Step between windows (default: half the model's length).
    batch_size, progress
        Windows per forward pass; show a progress bar.
    chunk
        Windows per yielded frame (a chromosome's windows come in order, in one or more frames).

    Yields
    ------
    pandas.DataFrame
        ``chrom, start, end, prob`` (``prob_j`` per output); ``end`` is clipped to the chromosome.
    """
    import pandas as pd

    for chrom, starts, ends, p in _tile_genome(ckpt, genome, chroms=chroms, stride=stride, batch_size=batch_size,
                                               progress=progress, chunk=chunk):
        df = pd.DataFrame({"chrom": chrom, "start": starts, "end": ends})
        for j, c in enumerate(_prob_columns(p.shape[1])):
            df[c] = p[:, j]
        yield df


def _tile_genome(ckpt, genome, *, chroms, stride, batch_size, progress, chunk=CHUNK_WINDOWS
                 ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """`iter_genome`'s work on arrays: ``(chrom, starts, ends, probs (n, K))`` per chunk (no pandas)."""
    from bindscape.io.genome import Genome

    loaded = _as_loaded(ckpt)
    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    L = loaded.length
    stride = int(stride or max(L // 2, 1))
    if stride < 1:
        raise ConfigError(f"--stride must be >= 1, got {stride}")
    chunk = max(int(chunk) // batch_size, 1) * batch_size  # whole batches per chunk
    sizes = _genome_sizes(g, chroms)
    plan = [(c, size, lo) for c, size in sizes.items() for lo in range(0, n_windows(size, L, stride), chunk)]
    buf = np.empty((batch_size, 4, L), dtype=np.float32)  # one batch buffer, reused (no page faults per batch)

    def batches():
        for chrom, size, lo in plan:
            st = window_starts(size, L, stride, lo, lo + chunk)
            for i in range(0, len(st), batch_size):
                b = st[i : i + batch_size]
                yield g.fetch_onehot(chrom, b, length=L, pad=True, out=buf[: len(b)])

    total = sum(n_windows(s, L, stride) for s in sizes.values())
    probs = _predict_batches(loaded, batches(), total=total, desc="tiling genome", progress_bar=progress)
    for chrom, size, lo in plan:
        st = window_starts(size, L, stride, lo, lo + chunk)
        p = np.concatenate([next(probs) for _ in range(0, len(st), batch_size)])
        if lo + chunk >= n_windows(size, L, stride):
            if hasattr(g, "release"):  # drop the finished chromosome's pages: peak RSS stays flat
                g.release(chrom)
        yield chrom, st, np.minimum(st + L, size), p


def predict_genome(ckpt, genome, *, chroms: list[str] | None = None, stride: int | None = None,
                   batch_size: int = BATCH_SIZE, progress: bool = True) -> pd.DataFrame:
    """Tile chromosomes with windows of the model's length every `stride` bp and predict every window.

    Holds the whole table in memory; `write_genome_predictions` streams it to files instead.

    Parameters
    ----------
    ckpt, genome, chroms, stride, batch_size, progress
        As in `iter_genome`.

    Returns
    -------
    pandas.DataFrame
        One row per window: ``chrom, start, end, prob`` (``prob_j`` per output).
    """
    import pandas as pd

    frames = list(iter_genome(ckpt, genome, chroms=chroms, stride=stride, batch_size=batch_size,
                              progress=progress))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------ writers
def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a prediction table atomically: ``.tsv``/``.txt`` (tab), ``.csv``, else parquet.

    Parameters
    ----------
    df
        The table.
    path
        Output file.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix in (".tsv", ".txt"):
            df.to_csv(tmp, sep="\t", index=False)
        elif path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return path


def track_intervals(frames: Iterable[pd.DataFrame], column: str = "prob"
                    ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Windows -> non-overlapping track intervals, streamed: each window's value covers its central stretch
    (from the midpoint between its centre and the previous window's centre to the midpoint with the next),
    so overlapping tiles do not overlap in the track; the first window starts at its start, the last ends
    at its end.

    Parameters
    ----------
    frames
        Frames with ``chrom, start, end`` and `column`; each chromosome's windows sorted by start and
        contiguous (in one frame or consecutive ones).
    column
        The value column.

    Yields
    ------
    tuple
        ``(chrom, starts, ends, values)`` arrays (empty stretches dropped).
    """
    runs = ((c, sub["start"].to_numpy(np.int64), sub["end"].to_numpy(np.int64), sub[column].to_numpy())
            for df in frames for c, sub in chrom_runs(df))
    yield from window_intervals(runs)


def window_intervals(runs: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]]
                     ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """`track_intervals` on arrays: ``(chrom, starts, ends, values)`` runs of windows -> track intervals.

    Parameters
    ----------
    runs
        Windows of one chromosome per run, sorted by start; a chromosome's runs consecutive.

    Yields
    ------
    tuple
        ``(chrom, starts, ends, values)`` arrays (empty stretches dropped).
    """
    chrom, pend = None, None  # pend: (left cut, centre, end, value) of the last window seen
    for c, s, e, v in runs:
        if not len(s):
            continue
        if c != chrom and pend is not None:
            yield _last_interval(chrom, pend)
            pend = None
        chrom, centre, left = c, (s + e) // 2, s[0]
        if pend is not None:  # the held-back window of the previous chunk of this chromosome
            left, centre, e, v = pend[0], np.r_[pend[1], centre], np.r_[pend[2], e], np.r_[pend[3], v]
        cuts = np.concatenate([[left], (centre[:-1] + centre[1:]) // 2])
        ts, te = cuts[:-1], cuts[1:]
        keep = te > ts
        yield c, ts[keep], te[keep], v[:-1][keep]
        pend = (cuts[-1], centre[-1], e[-1], v[-1])
    if pend is not None:
        yield _last_interval(chrom, pend)


def chrom_runs(df: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """Consecutive rows of one chromosome, in order (a chromosome that comes back later is a new run).

    Parameters
    ----------
    df
        A frame with a ``chrom`` column.

    Yields
    ------
    tuple of (str, pandas.DataFrame)
    """
    ch = df["chrom"].to_numpy()
    if not len(ch):
        return
    bounds = np.r_[0, np.flatnonzero(ch[1:] != ch[:-1]) + 1, len(ch)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield str(ch[a]), df.iloc[a:b]


def frame_intervals(df: pd.DataFrame, column: str = "value"
                    ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Intervals that already form a track (non-overlapping, sorted per chromosome) as `write_tracks` input.

    Parameters
    ----------
    df
        ``chrom, start, end`` and `column`.
    column
        The value column.

    Yields
    ------
    tuple
        ``(chrom, starts, ends, values)`` per run of one chromosome.
    """
    for c, sub in chrom_runs(df):
        yield c, sub["start"].to_numpy(np.int64), sub["end"].to_numpy(np.int64), sub[column].to_numpy()


def _last_interval(chrom, pend):
    left, _, end, value = pend
    keep = end > left
    return (chrom, np.array([left] if keep else [], np.int64), np.array([end] if keep else [], np.int64),
            np.array([value] if keep else [], dtype=np.asarray(value).dtype))


def to_track(df: pd.DataFrame, column: str = "prob") -> pd.DataFrame:
    """Windows -> non-overlapping bedGraph intervals (`track_intervals`), chromosomes in sorted order.

    Parameters
    ----------
    df
        Windows: ``chrom, start, end`` and `column`.
    column
        The value column.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end, value``.
    """
    import pandas as pd

    parts = [pd.DataFrame({"chrom": c, "start": s, "end": e, "value": v})
             for c, s, e, v in track_intervals([df.sort_values(["chrom", "start"])], column)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["chrom", "start", "end", "value"])


def bedgraph_lines(chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> str:
    """bedGraph text of one chromosome's intervals (values with 5 significant digits, ``%.5g``).

    One ``%`` format over the whole chunk: about twice as fast as formatting row by row in Python (numpy
    and pyarrow have no ``%g`` formatter).

    Parameters
    ----------
    chrom
        The chromosome.
    starts, ends, values
        The intervals.

    Returns
    -------
    str
        Lines ending in a newline.
    """
    n = len(starts)
    flat = np.empty(3 * n, dtype=object)
    flat[0::3], flat[1::3], flat[2::3] = starts.tolist(), ends.tolist(), np.asarray(values, np.float64).tolist()
    return (chrom.replace("%", "%%") + "\t%d\t%d\t%.5g\n") * n % tuple(flat.tolist())


def _bigwig_records(intervals: Iterable, failed: list) -> Iterator[tuple[str, int, int, float]]:
    """The ``(chrom, start, end, value)`` tuples pybigtools pulls; an exception is kept in `failed` (pybigtools
    prints errors raised inside the iterator and returns normally, so the caller re-raises it)."""
    try:
        for c, s, e, v in intervals:
            yield from zip(itertools.repeat(c), s.tolist(), e.tolist(), np.asarray(v, np.float64).tolist())
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller, who re-raises it
        failed.append(exc)


def write_tracks(intervals: Iterable, *, bedgraph: str | Path | None = None, bigwig: str | Path | None = None,
                 sizes: dict[str, int] | None = None, name: str = "prob") -> list[Path]:
    """The one track writer: stream ``(chrom, starts, ends, values)`` chunks to bedGraph and/or bigWig.

    Both files are written in one pass over `intervals` and atomically (temp file + rename). bigWig goes
    through pybigtools, which consumes the records as they are produced (memory stays flat).

    Parameters
    ----------
    intervals
        Chunks of non-overlapping intervals, each chromosome's chunks consecutive and sorted
        (`track_intervals`, `frame_intervals`).
    bedgraph, bigwig
        Output files (None: not written).
    sizes
        Chromosome sizes (needed for bigWig: its header lists every chromosome written).
    name
        The bedGraph track name.

    Returns
    -------
    list of Path
        The files written.
    """
    import contextlib

    written = [Path(p) for p in (bedgraph, bigwig) if p is not None]
    if bigwig is not None and sizes is None:
        raise ConfigError("bigWig output needs the chromosome sizes", hint="pass --genome")
    with contextlib.ExitStack() as stack:
        fh = None
        if bedgraph is not None:
            fh = stack.enter_context(open(stack.enter_context(atomic_path(bedgraph)), "w"))
            fh.write(f'track type=bedGraph name="{name}"\n')

        def tee():
            for c, s, e, v in intervals:
                if fh is not None and len(s):
                    fh.write(bedgraph_lines(c, s, e, v))
                yield c, s, e, v

        if bigwig is None:
            for _ in tee():
                pass
        else:
            _write_bigwig_file(stack.enter_context(atomic_path(bigwig)), sizes, tee())
    return written


def _write_bigwig_file(tmp: Path, sizes: dict[str, int], intervals: Iterable) -> None:
    import pybigtools

    bw_tmp = tmp.with_name(tmp.name + ".bw")  # pybigtools insists on a .bw/.bigWig name
    failed: list = []
    try:
        pybigtools.open(str(bw_tmp), "w").write({str(c): int(n) for c, n in sizes.items()},
                                                _bigwig_records(intervals, failed))
        if failed:
            raise failed[0]
        if not bw_tmp.exists() or bw_tmp.stat().st_size == 0:
            raise InputError(f"{tmp.name}: pybigtools wrote no bigWig (see its message above)")
        bw_tmp.replace(tmp)
    finally:
        bw_tmp.unlink(missing_ok=True)


def write_bedgraph(df: pd.DataFrame, path: str | Path, column: str = "prob") -> Path:
    """Write windows as a bedGraph track (`to_track` semantics: overlapping windows cut at midpoints).

    Parameters
    ----------
    df
        Windows: ``chrom, start, end`` and `column`.
    path
        Output file.
    column
        The value column.

    Returns
    -------
    Path
    """
    write_tracks(track_intervals([df.sort_values(["chrom", "start"])], column), bedgraph=path, name=column)
    return Path(path)


def write_bigwig(df: pd.DataFrame, path: str | Path, sizes: dict[str, int], column: str = "prob") -> Path:
    """Write windows as a bigWig track (`to_track` semantics), chromosomes in the order of `sizes`.

    Parameters
    ----------
    df
        Windows: ``chrom, start, end`` and `column`.
    path
        Output file (``.bw`` or ``.bigwig``).
    sizes
        Chromosome sizes (every chromosome of `df` must be in it).
    column
        The value column.

    Returns
    -------
    Path
    """
    order = {c: i for i, c in enumerate(sizes)}
    unknown = sorted(set(df["chrom"]) - set(order))
    if unknown:
        raise InputError(f"chromosome(s) {', '.join(unknown[:5])} are not in the genome's sizes")
    df = df.assign(_o=df["chrom"].map(order)).sort_values(["_o", "start"])
    used = {c: sizes[c] for c in dict.fromkeys(df["chrom"])}
    write_tracks(track_intervals([df], column), bigwig=path, sizes=used, name=column)
    return Path(path)


def _arrow(values: np.ndarray):
    """A numpy column as a pyarrow array, zero-copy. ``pa.array``, ``pa.scalar`` and ``pa.table`` would import
    pandas (to check for pandas objects); `pyarrow.Array.from_buffers` does not."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


class _TableWriter:
    """Windows streamed to a table file: parquet (one row group per chunk, written with pyarrow from the arrays:
    no pandas) or tab/comma separated text (pandas' ``to_csv``, as `write_table` formats it)."""

    def __init__(self, tmp: Path, path: Path, columns: list[str]):
        self.tmp, self.kind, self.pq, self.n, self.columns = tmp, path.suffix.lower(), None, 0, columns

    def write(self, chrom: str, starts: np.ndarray, ends: np.ndarray, probs: np.ndarray) -> None:
        if self.kind in (".tsv", ".txt", ".csv"):
            import pandas as pd

            df = pd.DataFrame({"chrom": chrom, "start": starts, "end": ends})
            for j, c in enumerate(self.columns):
                df[c] = probs[:, j]
            df.to_csv(self.tmp, sep="," if self.kind == ".csv" else "\t", index=False, header=self.n == 0,
                      mode="a" if self.n else "w")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            n, name = len(starts), chrom.encode()
            offsets = np.arange(n + 1, dtype=np.int64) * len(name)
            arrays = [pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets),
                                                                   pa.py_buffer(name * n)]),
                      _arrow(starts), _arrow(ends), *(_arrow(probs[:, j]) for j in range(len(self.columns)))]
            t = pa.Table.from_arrays(arrays, names=["chrom", "start", "end", *self.columns])
            if self.pq is None:
                self.pq = pq.ParquetWriter(self.tmp, t.schema)
            self.pq.write_table(t)
        self.n += len(starts)

    def close(self) -> None:
        if self.pq is not None:
            self.pq.close()


def write_genome_predictions(ckpt, genome, *, table: str | Path | None = None,
                             bedgraph: str | Path | None = None, bigwig: str | Path | None = None,
                             column: str | None = None, chroms: list[str] | None = None,
                             stride: int | None = None, batch_size: int = BATCH_SIZE,
                             progress: bool = True) -> dict:
    """Predict a genome tiled in windows (`iter_genome`) straight to files, one chunk at a time.

    Memory stays flat as the genome grows: no table, window list or sorted copy is held; the table gets one
    parquet row group per chunk (a chromosome, or `CHUNK_WINDOWS` windows of a longer one) and the tracks
    are streamed (`write_tracks`). The values equal those of `predict_genome` + `write_table` /
    `write_bedgraph` / `write_bigwig`. All files are written atomically.

    Parameters
    ----------
    ckpt, genome, chroms, stride, batch_size, progress
        As in `iter_genome`.
    table
        Output table (``.parquet``, ``.tsv``/``.txt`` or ``.csv``; None: none).
    bedgraph, bigwig
        Output tracks (None: none).
    column
        The track's value column (default ``prob``, or ``prob_0`` for several outputs).

    Returns
    -------
    dict
        ``windows`` (rows predicted), ``column`` and ``files`` (paths written).
    """
    import contextlib

    from bindscape.io.genome import Genome

    loaded = _as_loaded(ckpt)
    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    names = _prob_columns(int(loaded.model.n_outputs))
    col = column or names[0]
    if col not in names:
        raise ConfigError(f"track column {col!r} is not an output of the model in {loaded.path}",
                          hint=f"its outputs are {', '.join(names)}")
    sizes = _genome_sizes(g, chroms)
    chunks = _tile_genome(loaded, g, chroms=chroms, stride=stride, batch_size=batch_size, progress=progress)
    files: list[Path] = []
    count = [0]
    with contextlib.ExitStack() as stack:
        tw = None
        if table is not None:
            tw = _TableWriter(stack.enter_context(atomic_path(table)), Path(table), names)
            stack.callback(tw.close)  # before the rename (LIFO)

        def tee():
            for chrom, starts, ends, p in chunks:
                if tw is not None:
                    tw.write(chrom, starts, ends, p)
                count[0] += len(starts)
                yield chrom, starts, ends, p[:, names.index(col)]

        if bedgraph is not None or bigwig is not None:
            files += write_tracks(window_intervals(tee()), bedgraph=bedgraph, bigwig=bigwig, sizes=sizes,
                                  name=col)
        else:
            for _ in tee():
                pass
    if table is not None:
        files.insert(0, Path(table))
    return {"windows": count[0], "column": col, "files": files}

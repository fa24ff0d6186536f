"""Prediction with a trained checkpoint: a dataset folder, a BED file, a FASTA file, or whole
chromosomes/genomes tiled in windows. Batched and streaming (genome tiling never holds more than one batch
of sequence), with a progress bar. Output: parquet tables and bedGraph tracks (bigWig when pybigtools is
installed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape._util import atomic_path, progress
from bindscape.errors import ConfigError, InputError
from bindscape.models.base import InputLengthError


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


def predict_rows(model, tds, *, batch_size: int = 512, rc_average: bool = True) -> np.ndarray:
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


def predict_arrays(ckpt, x: np.ndarray, *, batch_size: int = 512, rc_average: bool | None = None) -> np.ndarray:
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


def predict_dataset(ckpt, data, *, split: str | None = None, batch_size: int = 512,
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


def predict_bed(ckpt, bed: str | Path | pd.DataFrame, genome, *, batch_size: int = 512,
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


def predict_fasta(ckpt, fasta: str | Path, *, align: str = "center", batch_size: int = 512,
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


def tile_windows(sizes: dict[str, int], length: int, stride: int) -> Iterator[tuple[str, np.ndarray]]:
    for chrom, size in sizes.items():
        if size < length:
            starts = np.array([0], dtype=np.int64)
        else:
            starts = np.arange(0, size - length + 1, stride, dtype=np.int64)
            if starts[-1] + length < size:
                starts = np.append(starts, size - length)
        yield chrom, starts


def predict_genome(ckpt, genome, *, chroms: list[str] | None = None, stride: int | None = None,
                   batch_size: int = 512, progress: bool = True) -> pd.DataFrame:
    """Tile chromosomes with windows of the model's length every `stride` bp (default: length // 2);
    returns one row per window (chrom, start, end, prob...). Streams one batch at a time."""
    from bindscape.io.genome import Genome

    loaded = _as_loaded(ckpt)
    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    L = loaded.length
    stride = int(stride or max(L // 2, 1))
    if stride < 1:
        raise ConfigError(f"stride must be >= 1, got {stride}")
    sizes = g.sizes
    if chroms:
        missing = [c for c in chroms if c not in sizes]
        if missing:
            raise InputError(f"chromosome(s) {', '.join(missing)} not in the genome")
        sizes = {c: sizes[c] for c in chroms}
    tiles = list(tile_windows(sizes, L, stride))
    total = sum(len(s) for _, s in tiles)
    frames = []

    def gen():
        for chrom, starts in tiles:
            for i in range(0, len(starts), batch_size):
                st = starts[i : i + batch_size]
                yield g.fetch_onehot(np.full(len(st), chrom, dtype=object), st, length=L, pad=True)

    probs = _predict_batches(loaded, gen(), total=total, desc="tiling genome", progress_bar=progress)
    for chrom, starts in tiles:
        p = np.concatenate([next(probs) for _ in range(0, len(starts), batch_size)])
        df = pd.DataFrame({"chrom": chrom, "start": starts, "end": np.minimum(starts + L, sizes[chrom])})
        for j, c in enumerate(_prob_columns(p.shape[1])):
            df[c] = p[:, j]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------ writers
def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix in (".tsv", ".txt"):
            df.to_csv(tmp, sep="\t", index=False)
        elif path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return path


def to_track(df: pd.DataFrame, column: str = "prob") -> pd.DataFrame:
    """Windows -> non-overlapping bedGraph intervals: each window's score covers its central stretch
    (midpoints between neighbouring window centres), so overlapping tiles do not overlap in the track."""
    out = []
    for chrom, sub in df.sort_values(["chrom", "start"]).groupby("chrom", sort=False):
        c = ((sub["start"].to_numpy() + sub["end"].to_numpy()) // 2).astype(np.int64)
        cuts = np.concatenate([[sub["start"].iloc[0]], (c[:-1] + c[1:]) // 2, [sub["end"].iloc[-1]]])
        s, e = cuts[:-1], cuts[1:]
        keep = e > s
        out.append(pd.DataFrame({"chrom": chrom, "start": s[keep], "end": e[keep],
                                 "value": sub[column].to_numpy()[keep]}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["chrom", "start", "end", "value"])


def write_bedgraph(df: pd.DataFrame, path: str | Path, column: str = "prob") -> Path:
    track = to_track(df, column)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(f'track type=bedGraph name="{column}"\n')
            for r in track.itertuples(index=False):
                fh.write(f"{r.chrom}\t{r.start}\t{r.end}\t{r.value:.5g}\n")
    return path


def write_bigwig(df: pd.DataFrame, path: str | Path, sizes: dict[str, int], column: str = "prob") -> Path:
    try:
        import pybigtools
    except ImportError:
        raise ConfigError("bigWig output needs pybigtools", hint="pip install 'bindscape[bigwig]' or write .bedGraph") from None
    track = to_track(df, column)
    path = Path(path)
    order = {c: i for i, c in enumerate(sizes)}
    track = track.sort_values(["chrom", "start"], key=lambda s: s.map(order) if s.name == "chrom" else s)
    with atomic_path(path) as tmp:
        bw = pybigtools.open(str(tmp), "w")
        bw.write({c: int(sizes[c]) for c in track["chrom"].unique()},
                 ((r.chrom, int(r.start), int(r.end), float(r.value)) for r in track.itertuples(index=False)))
    return path

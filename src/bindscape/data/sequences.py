"""Sequence-only datasets: for users who have sequences but no genome (DeepBind- and GUE-style data).

`build_sequence_dataset` reads FASTA files or CSV/TSV tables with a sequence and a label column, either as
given train/val/test files or as one pool split at random (seeded), and writes the normal dataset folder
(`bindscape.data.dataset.write_dataset(..., genome=None)`) with a ``sequence`` column; ``chrom``/``start``/
``end`` are placeholders (``chrom='seq'``, ``start=i``, ``end=i+L``). When only positives are given,
negatives are made by shuffling them (`bindscape.data.negatives`, strategies ``shuffle`` and
``dinucleotide``).

Unequal lengths follow one stated rule (`fit_length`): every sequence becomes exactly ``length`` bp
(default: the longest input); longer ones are cropped and shorter ones padded with N, both centred
(``align='center'``: the extra base of an odd difference goes to the right end) or anchored at the left
(``align='left'``: crop/pad on the right).

`SequenceDataset` is the torch Dataset for such folders, with the same interface as `RegionDataset`
(``__getitems__`` batches, ``labels``, ``set_epoch`` for seeded RC augmentation).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.data.dataset import SPLITS, Dataset, load_dataset, write_dataset
from bindscape.errors import ConfigError, InputError

ALIGN = ("center", "left")
SEQUENCE_CHROM = "seq"


# ------------------------------------------------------------------------------------------- reading
def _open_text(path: Path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def read_fasta_records(path: str | Path) -> pd.DataFrame:
    """FASTA -> DataFrame(name, sequence). Clear errors for empty files and text before the first header."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    names: list[str] = []
    seqs: list[str] = []
    cur: list[str] | None = None
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if cur is not None:
                    seqs.append("".join(cur))
                names.append(line[1:].split()[0] if len(line) > 1 else f"seq{len(names)}")
                cur = []
            elif cur is None:
                raise InputError(f"{path}:{lineno}: sequence text before the first '>' header (not FASTA?)")
            else:
                cur.append(line)
    if cur is not None:
        seqs.append("".join(cur))
    if not seqs:
        raise InputError(f"{path}: no FASTA records")
    return pd.DataFrame({"name": names, "sequence": seqs})


def read_sequence_table(path: str | Path, *, sequence_column: str = "sequence",
                        label_column: str | None = "label") -> pd.DataFrame:
    """CSV/TSV (delimiter from the extension: .tsv/.txt tab, else comma) -> DataFrame(sequence[, label])."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    name = path.name.lower().removesuffix(".gz")
    sep = "\t" if name.endswith((".tsv", ".txt", ".tab")) else ","
    try:
        df = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as {'TSV' if sep == chr(9) else 'CSV'} ({exc})") from None
    if sequence_column not in df:
        raise InputError(f"{path}: no column {sequence_column!r} (columns: {', '.join(map(str, df.columns))})",
                         hint="name the column with --sequence-column")
    out = pd.DataFrame({"sequence": df[sequence_column].astype(str)})
    if label_column is not None and label_column in df:
        lab = pd.to_numeric(df[label_column], errors="coerce")
        bad = np.flatnonzero(~lab.isin([0, 1]).to_numpy())
        if len(bad):
            raise InputError(f"{path}:{bad[0] + 2}: label {df[label_column].iloc[bad[0]]!r} is not 0 or 1")
        out["label"] = lab.astype(int).to_numpy()
    if "name" in df:
        out["name"] = df["name"].astype(str)
    return out


def read_sequences(path: str | Path, *, label: int | None = None, sequence_column: str = "sequence",
                   label_column: str | None = "label") -> pd.DataFrame:
    """FASTA or CSV/TSV -> DataFrame(sequence, label?, name?). `label` sets (or overrides) every label."""
    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".fa", ".fasta", ".fna", ".fas")):
        df = read_fasta_records(path)
    else:
        df = read_sequence_table(path, sequence_column=sequence_column, label_column=label_column)
    if label is not None:
        df["label"] = int(label)
    bad = df["sequence"].str.len() == 0
    if bad.any():
        raise InputError(f"{path}: record {int(np.flatnonzero(bad.to_numpy())[0]) + 1} has an empty sequence")
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------------- length rule
def fit_length(seqs: Sequence[str], length: int, align: str = "center") -> list[str]:
    """Crop or N-pad every sequence to exactly `length` bp (see the module docstring for the rule)."""
    if align not in ALIGN:
        raise ConfigError(f"align={align!r} is not allowed; choose one of: {', '.join(ALIGN)}")
    if length < 1:
        raise ConfigError(f"length must be >= 1, got {length}")
    out = []
    for s in seqs:
        s = s.upper()
        d = len(s) - length
        if d > 0:
            a = d // 2 if align == "center" else 0
            s = s[a : a + length]
        elif d < 0:
            left = (-d) // 2 if align == "center" else 0
            s = "N" * left + s + "N" * (-d - left)
        out.append(s)
    return out


# ---------------------------------------------------------------------------------------- builder
def build_sequence_dataset(
    out: str | Path,
    *,
    inputs: Sequence[str | Path] = (),
    train: Sequence[str | Path] = (),
    val: Sequence[str | Path] = (),
    test: Sequence[str | Path] = (),
    positives: Sequence[str | Path] = (),
    negatives: Sequence[str | Path] = (),
    length: int | None = None,
    align: str = "center",
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    negative_strategy: str = "dinucleotide",
    negatives_per_positive: int = 1,
    sequence_column: str = "sequence",
    label_column: str = "label",
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Build a sequence-only dataset folder; returns its path.

    Either given splits (`train` [+ `val`, `test`]: CSV/TSV with labels, or FASTA whose records all get
    label 1 unless `negatives` FASTA are also given), or a pool (`inputs` tables, or `positives` [+
    `negatives`] FASTA) split at random with `val_frac`/`test_frac` (stratified by label, seeded). Without
    any negatives, `negatives_per_positive` shuffled copies of each positive (`negative_strategy`) are
    made per split.

    Parameters
    ----------
    out
        The dataset folder.
    inputs, positives, negatives
        A pool: labelled tables, positive and negative FASTA files.
    train, val, test
        Given splits (files).
    length, align
        Common sequence length (default: the longest) and how shorter/longer ones are fitted (`fit_length`).
    val_frac, test_frac
        Fractions of a pool held out (per label).
    negative_strategy, negatives_per_positive
        How negatives are made when none are given (``dinucleotide`` or ``shuffle``) and how many.
    sequence_column, label_column
        Column names in tables.
    seed, force
        Random seed; overwrite a non-empty folder.

    Returns
    -------
    Path
        The dataset folder.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"{out}: exists and is not empty", hint="use --force to overwrite")
    given_split = bool(train or val or test)
    df = _read_inputs(inputs, train, val, test, positives, negatives,
                      sequence_column=sequence_column, label_column=label_column)
    rng = np.random.default_rng(seed)
    if not given_split:
        df["split"] = _random_split(df["label"].to_numpy(), val_frac, test_frac, rng)
    lengths = df["sequence"].str.len()
    L = int(length) if length else int(lengths.max())
    df["sequence"] = fit_length(df["sequence"].tolist(), L, align)
    made_negatives = False
    if (df["label"] == 0).sum() == 0:
        df = _with_shuffled_negatives(df, negative_strategy, negatives_per_positive, seed)
        made_negatives = True
    df = _sequence_rows(df, L)
    if made_negatives:
        df.loc[df["label"] == 0, "source"] = negative_strategy
    params = dict(inputs=list(map(str, inputs)), train=list(map(str, train)), val=list(map(str, val)),
                  test=list(map(str, test)), positives=list(map(str, positives)),
                  negatives=list(map(str, negatives)), length=L, align=align, val_frac=val_frac,
                  test_frac=test_frac, negative_strategy=negative_strategy if made_negatives else None,
                  negatives_per_positive=negatives_per_positive, input_lengths=[int(lengths.min()),
                                                                                 int(lengths.max())])
    return write_dataset(out, df, builder="sequences", params=params, seed=seed, genome=None)


def _read_inputs(inputs, train, val, test, positives, negatives, **kw) -> pd.DataFrame:
    """All input sequences with ``label`` (and ``split`` for given splits); checks the combination."""
    parts: list[pd.DataFrame] = []
    given_split = bool(train or val or test)
    if given_split and (inputs or positives):
        raise ConfigError("give either --train/--val/--test files or a pool (--input/--positives), not both")
    if given_split:
        if not train:
            raise ConfigError("--val/--test need a --train file too")
        for split, files in (("train", train), ("val", val), ("test", test)):
            for f in files:
                df = read_sequences(f, **kw)
                if "label" not in df:
                    df["label"] = 1
                df["split"] = split
                parts.append(df)
        if negatives:
            raise ConfigError("--negatives goes with --positives (a pool); for given splits put labels in a table")
    else:
        for f in inputs:
            parts.append(read_sequences(f, **kw))
        for f in positives:
            parts.append(read_sequences(f, label=1, **kw))
        for f in negatives:
            parts.append(read_sequences(f, label=0, **kw))
        if not parts:
            raise ConfigError("no input sequences", hint="give --input TABLE, --positives FASTA or --train FILE")
    df = pd.concat(parts, ignore_index=True)
    if "label" not in df or df["label"].isna().any():
        raise InputError("some inputs have no labels", hint="FASTA inputs: use --positives/--negatives")
    return df


def _with_shuffled_negatives(df: pd.DataFrame, strategy: str, n: int, seed: int) -> pd.DataFrame:
    """`df` plus `n` shuffled copies (label 0) of each positive, made per split."""
    negs = []
    for split in SPLITS:
        pos = df[(df["split"] == split) & (df["label"] == 1)]
        if len(pos) == 0:
            continue
        shuf = _shuffled(pos["sequence"].tolist(), strategy, n, seed)
        negs.append(pd.DataFrame({"sequence": shuf, "label": 0, "split": split}))
    return pd.concat([df, *negs], ignore_index=True)


def _sequence_rows(df: pd.DataFrame, L: int) -> pd.DataFrame:
    """Names, int8 labels, canonical order and pseudo-coordinates (``chrom, start, end``) of the rows."""
    if "name" not in df:
        df["name"] = [f"seq{i}" for i in range(len(df))]
    df["name"] = df["name"].fillna("").astype(str)
    df["label"] = df["label"].astype("int8")
    # canonical order sorts by split, chrom, start: number rows within split in input order
    order = {s: i for i, s in enumerate(SPLITS)}
    df = df.sort_values("split", key=lambda s: s.map(order), kind="mergesort").reset_index(drop=True)
    df.insert(0, "chrom", SEQUENCE_CHROM)
    df.insert(1, "start", np.arange(len(df), dtype=np.int64))
    df.insert(2, "end", df["start"] + L)
    df["source"] = "given"
    return df


def _random_split(labels: np.ndarray, val_frac: float, test_frac: float, rng) -> np.ndarray:
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ConfigError(f"val_frac + test_frac must be < 1 (got {val_frac} and {test_frac})")
    split = np.full(len(labels), "train", dtype=object)
    for lab in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        nv, nt = int(round(len(idx) * val_frac)), int(round(len(idx) * test_frac))
        split[idx[:nv]] = "val"
        split[idx[nv : nv + nt]] = "test"
    return split


def _shuffled(seqs: list[str], strategy: str, n: int, seed: int) -> list[str]:
    """`n` shuffled copies of each (equal-length) sequence, via `bindscape.data.negatives`."""
    try:
        from bindscape.data import negatives as neg
    except ImportError:
        raise ConfigError(
            "only positives were given and shuffled negatives need bindscape.data.negatives, "
            "which this installation lacks", hint="give negatives (--negatives or a label column)") from None
    from bindscape.io.genome import decode, encode

    funcs = {"shuffle": neg.shuffle_codes, "dinucleotide": neg.dinucleotide_shuffle_codes}
    if strategy not in funcs:
        raise ConfigError(f"negative strategy {strategy!r} is not allowed for sequences; choose one of: "
                          f"{', '.join(funcs)}")
    L = len(seqs[0])
    codes = encode("".join(seqs)).reshape(len(seqs), L)
    out: list[str] = []
    for k in range(n):
        out.extend(decode(funcs[strategy](codes, seed=seed * 1000 + k)))
    return out


# ------------------------------------------------------------------------------------ torch Dataset
def is_sequence_dataset(ds: Dataset) -> bool:
    # a genome-based dataset may carry a partial `sequence` column (shuffled negatives): that is not this
    return "sequence" in ds.regions and not (ds.meta or {}).get("genome")


class SequenceDataset:
    """Examples ``(x, y)`` from a sequence-only dataset: x float32 ``(4, L)`` one-hot, y float32 label.

    Same interface as `RegionDataset`: ``__getitems__`` returns stacked tensors for a batch (use
    ``collate_fn=collate_batch``), ``labels``, ``length``, ``regions`` and ``set_epoch`` (re-draws the
    seeded reverse-complement augmentation).
    """

    def __init__(self, source: str | Path | Dataset | pd.DataFrame, *, split: str | None = None,
                 rc_augment: bool = False, seed: int = 0, label_column: str = "label", **_ignored):
        from bindscape.io.genome import encode

        if isinstance(source, pd.DataFrame):
            regions = source
        else:
            ds = source if isinstance(source, Dataset) else load_dataset(source)
            regions = ds.regions
        if "sequence" not in regions:
            raise InputError("not a sequence-only dataset (no 'sequence' column)",
                             hint="genome-based datasets load with RegionDataset")
        if split is not None:
            if "split" not in regions:
                raise ConfigError("dataset has no split column")
            regions = regions[regions["split"] == split]
        self.regions = regions.reset_index(drop=True)
        if len(self.regions) == 0:
            raise ConfigError(f"no examples{f' in split {split!r}' if split else ''}")
        seqs = self.regions["sequence"].tolist()
        L = {len(s) for s in seqs}
        if len(L) != 1:
            raise ConfigError("sequences have different lengths; rebuild with `bindscape build sequences`")
        self.length = L.pop()
        self._codes = encode("".join(seqs)).reshape(len(seqs), self.length)
        self._y = (self.regions[label_column].to_numpy(dtype=np.float32) if label_column in self.regions
                   else np.zeros(len(seqs), np.float32))
        self.rc_augment = rc_augment
        self.seed = seed
        self.epoch = 0
        self.bp = False

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def labels(self) -> np.ndarray:
        return self._y

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitems__(self, indices: Sequence[int]):
        import torch

        from bindscape.io.genome import onehot, reverse_complement_codes

        idx = np.asarray(indices, dtype=np.int64)
        codes = self._codes[idx]
        if self.rc_augment:
            rng = np.random.default_rng([self.seed, self.epoch, int(idx[0]) if len(idx) else 0, len(idx)])
            rc = rng.random(len(idx)) < 0.5
            if rc.any():
                codes = codes.copy()
                codes[rc] = reverse_complement_codes(codes[rc])
        return torch.from_numpy(onehot(codes)), torch.from_numpy(self._y[idx])

    def __getitem__(self, i: int):
        x, y = self.__getitems__([i])
        return x[0], y[0]

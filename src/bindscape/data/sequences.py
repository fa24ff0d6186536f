"""Sequence-only datasets: for users who have sequences but no genome (DeepBind- and GUE-style data).

`build_sequence_dataset` reads FASTA files or CSV/TSV tables with a sequence and a label column, either as
given train/val/test files, as one pool split at random (seeded), as a pool split into train/val plus a given
labelled test table (used exactly as given), or as a test table alone, and writes the normal dataset folder
(`bindscape.data.dataset.write_dataset(..., genome=None)`) with a ``sequence`` column; ``chrom``/``start``/
``end`` are placeholders (``chrom='seq'``, ``start=i``, ``end=i+L``). When only positives are given,
negatives are made by shuffling them (`bindscape.data.negatives`, strategies ``shuffle`` and
``dinucleotide``). Every input is checked (one-line `InputError` naming file and line): empty and header-only
files, empty sequences, characters other than ACGTN, missing or non-0/1 labels.

Unequal lengths follow one stated rule (`fit_length`): every sequence becomes exactly ``length`` bp
(default: the longest input); longer ones are cropped and shorter ones padded with N, both centred
(``align='center'``: the extra base of an odd difference goes to the right end) or anchored at the left
(``align='left'``: crop/pad on the right).

`SequenceDataset` is the torch Dataset for such folders, with the same interface as `RegionDataset`
(``__getitems__`` batches, ``labels``, ``set_epoch`` for seeded RC augmentation).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.data.dataset import (
    SPLITS,
    Dataset,
    check_out_empty,
    load_dataset,
    output_lock,
    select_split,
    write_dataset,
)
from bindscape.errors import ConfigError, InputError
from bindscape.io.textfile import read_text

ALIGN = ("center", "left")
SEQUENCE_CHROM = "seq"


# ------------------------------------------------------------------------------------------- reading
def _open_text(path: Path):
    # read_text: gzip by magic bytes, and a truncated gzip or non-UTF-8 byte is one InputError with the line
    return io.StringIO(read_text(path)[1], newline=None)


def _is_fasta(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith((".fa", ".fasta", ".fna", ".fas"))


def read_fasta_records(path: str | Path) -> pd.DataFrame:
    """Read a FASTA file (plain or gzip) into a table of records.

    Parameters
    ----------
    path
        The FASTA file.

    Returns
    -------
    pandas.DataFrame
        ``name, sequence`` in file order; ``attrs["lines"]`` holds each record's header line number.

    Raises
    ------
    InputError
        A missing or empty file, or text before the first ``>`` header.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    names: list[str] = []
    seqs: list[str] = []
    lines: list[int] = []
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
                lines.append(lineno)
                cur = []
            elif cur is None:
                raise InputError(f"{path}:{lineno}: sequence text before the first '>' header (not FASTA?)")
            else:
                cur.append(line)
    if cur is not None:
        seqs.append("".join(cur))
    if not seqs:
        raise InputError(f"{path}: no FASTA records (the file is empty)")
    df = pd.DataFrame({"name": names, "sequence": seqs})
    df.attrs["lines"] = lines
    return df


def read_sequence_table(path: str | Path, *, sequence_column: str = "sequence",
                        label_column: str | None = "label", require_label: bool = False) -> pd.DataFrame:
    """Read a CSV/TSV of sequences (delimiter from the extension: .tsv/.txt/.tab tab, else comma).

    Parameters
    ----------
    path
        The table (optionally gzipped).
    sequence_column, label_column
        Column names; `label_column` None ignores labels.
    require_label
        Refuse a table without `label_column`.

    Returns
    -------
    pandas.DataFrame
        ``sequence`` (upper case, surrounding blanks removed), ``label`` (int, 0/1) when the table has the
        label column, ``name`` when it has a ``name`` column; ``attrs["lines"]`` holds each row's line number.

    Raises
    ------
    InputError
        A missing, empty or header-only file, a missing column, an empty sequence cell, or a label other
        than 0/1 (the message names the file and line).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    sep = "\t" if path.name.lower().removesuffix(".gz").endswith((".tsv", ".txt", ".tab")) else ","
    kind = "TSV" if sep == "\t" else "CSV"
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty (expected a {kind} with a header row)") from None
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as {kind} ({' '.join(str(exc).split())})") from None  # one line
    columns = ", ".join(map(str, df.columns))
    if sequence_column not in df:
        raise InputError(f"{path}: no column {sequence_column!r} (columns: {columns})",
                         hint="name the column with --sequence-column")
    if require_label and label_column is not None and label_column not in df:
        raise InputError(f"{path}: no label column {label_column!r} (columns: {columns})",
                         hint="add a 0/1 label column, or name it with --label-column")
    if len(df) == 0:
        raise InputError(f"{path}: no rows (only a header)")
    lines = np.arange(len(df), dtype=np.int64) + 2
    seq = df[sequence_column]
    empty = np.flatnonzero(seq.isna().to_numpy() | (seq.fillna("").str.strip() == "").to_numpy())
    if len(empty):
        raise InputError(f"{path}:{lines[empty[0]]}: empty sequence cell in column {sequence_column!r}"
                         + (f" ({len(empty)} rows in all)" if len(empty) > 1 else ""))
    out = pd.DataFrame({"sequence": seq.str.strip().str.upper()})
    if label_column is not None and label_column in df:
        out["label"] = _labels(df[label_column], path, lines)
    if "name" in df:
        out["name"] = df["name"].fillna("").astype(str)
    out.attrs["lines"] = lines.tolist()
    return out


def _labels(col: pd.Series, path: Path, lines: np.ndarray) -> np.ndarray:
    """A label column as int 0/1, or an `InputError` naming the first bad line."""
    lab = pd.to_numeric(col.str.strip(), errors="coerce")
    bad = np.flatnonzero(~lab.isin([0, 1]).to_numpy())
    if len(bad):
        raw = col.iloc[bad[0]]
        what = "is empty" if pd.isna(raw) else f"{raw!r} is not 0 or 1"
        raise InputError(f"{path}:{lines[bad[0]]}: label {what}" + (f" ({len(bad)} bad labels in all)"
                                                                    if len(bad) > 1 else ""))
    return lab.astype(int).to_numpy()


def _check_alphabet(df: pd.DataFrame, path: Path) -> None:
    """An `InputError` naming the first record whose sequence has a character other than A, C, G, T, N."""
    ok = df["sequence"].str.upper().str.fullmatch(r"[ACGTN]+").to_numpy()
    bad = np.flatnonzero(~ok)
    if not len(bad):
        return
    lines = df.attrs.get("lines")
    where = f"{path}:{lines[bad[0]]}" if lines is not None else f"{path}: record {bad[0] + 1}"
    s = df["sequence"].iloc[bad[0]]
    chars = "".join(sorted(set(s.upper()) - set("ACGTN")))
    more = f"; {len(bad)} sequences in all" if len(bad) > 1 else ""
    raise InputError(f"{where}: sequence {s[:40]!r}{'...' if len(s) > 40 else ''} has characters other than "
                     f"A, C, G, T, N ({chars!r}{more})", hint="replace ambiguity codes with N")


def read_sequences(path: str | Path, *, label: int | None = None, sequence_column: str = "sequence",
                   label_column: str | None = "label", require_label: bool = False) -> pd.DataFrame:
    """Read FASTA or CSV/TSV sequences and check them.

    Parameters
    ----------
    path
        FASTA (``.fa``, ``.fasta``, ``.fna``, ``.fas``, optionally ``.gz``) or a CSV/TSV table.
    label
        Give every record this label (a table's label column is then ignored).
    sequence_column, label_column
        Column names in tables.
    require_label
        Refuse input without labels (a FASTA file, or a table without `label_column`) unless `label` is set.

    Returns
    -------
    pandas.DataFrame
        ``sequence``, ``label`` (when known) and ``name`` (when given); ``attrs["lines"]`` as the readers.

    Raises
    ------
    InputError
        Unreadable input (see the readers), an empty sequence, or characters other than ACGTN.
    """
    path = Path(path)
    if _is_fasta(path):
        if require_label and label is None:
            raise InputError(f"{path}: FASTA has no labels; this file needs a CSV/TSV with a 0/1 "
                             f"{label_column!r} column")
        df = read_fasta_records(path)
    else:
        df = read_sequence_table(path, sequence_column=sequence_column,
                                 label_column=None if label is not None else label_column,
                                 require_label=require_label and label is None)
    if label is not None:
        df["label"] = int(label)
    bad = np.flatnonzero((df["sequence"].str.len() == 0).to_numpy())
    if len(bad):
        lines = df.attrs.get("lines")
        where = f"{path}:{lines[bad[0]]}" if lines is not None else f"{path}: record {bad[0] + 1}"
        raise InputError(f"{where}: empty sequence")
    _check_alphabet(df, path)
    lines = df.attrs.get("lines")
    df = df.reset_index(drop=True)
    df.attrs["lines"] = lines
    return df


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
NEGATIVE_STRATEGIES = ("dinucleotide", "shuffle")


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
    test_frac: float | None = None,
    negative_strategy: str = "dinucleotide",
    negatives_per_positive: int = 1,
    extra_negatives: int = 0,
    sequence_column: str = "sequence",
    label_column: str = "label",
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Build a sequence-only dataset folder; returns its path.

    Four ways in (``params["mode"]`` in dataset.json records which):

    ``given`` splits (`train` [+ `val`, `test`]: labelled tables, or FASTA whose records get label 1); a
    ``pool`` (`inputs` tables, or `positives` [+ `negatives`]) split at random, stratified by label;
    ``pool+test``: a pool split into train/val only plus labelled `test` tables that are the test split
    exactly (rows, order, labels); ``test``: labelled `test` tables alone, for scoring a trained model.

    When the rows outside given labelled test tables have no negatives, `negatives_per_positive` shuffled
    copies of each positive (`negative_strategy`) are made per split. `extra_negatives` adds that many more
    shuffled copies of each *training* positive as training negatives even when negatives are given (an
    augmentation for data whose negatives are themselves shuffles, such as GUE's mouse tasks; validation and
    test stay as given; weigh the classes back with ``loss.pos_weight``). In the ``pool+test``/``test`` modes a
    test table is never cropped: with `length` set its sequences must have exactly that length.

    Parameters
    ----------
    out
        The dataset folder.
    inputs, positives, negatives, train, val, test
        A pool (labelled tables, positive and negative FASTA); given splits (`test` also with a pool or alone).
    length, align
        Common sequence length (default: the longest) and how shorter/longer ones are fitted (`fit_length`).
    val_frac, test_frac
        Fractions of a pool held out (per label); `test_frac` defaults to 0.1, or 0 with `test`.
    negative_strategy, negatives_per_positive
        How negatives are made when none are given (``dinucleotide`` or ``shuffle``) and how many.
    extra_negatives
        Shuffled copies (`negative_strategy`) of each training positive added as training negatives
        (default 0: none).
    sequence_column, label_column
        Column names in tables.
    seed, force
        Random seed; overwrite a non-empty folder.

    Returns
    -------
    Path
        The dataset folder.
    """
    out = check_out_empty(out, force)
    mode = _mode(inputs, train, val, test, positives, negatives)
    test_frac = _check_options(mode, length, align, val_frac, test_frac, negative_strategy, negatives_per_positive,
                               extra_negatives)
    with output_lock(out):  # a second build into the same --out fails at once instead of racing
        check_out_empty(out, force)  # again under the lock: another build may have finished meanwhile
        return _build_locked(out, mode, inputs, train, val, test, positives, negatives, length=length, align=align,
                             val_frac=val_frac, test_frac=test_frac, negative_strategy=negative_strategy,
                             negatives_per_positive=negatives_per_positive, extra_negatives=extra_negatives,
                             sequence_column=sequence_column, label_column=label_column, seed=seed)


def _build_locked(out: Path, mode: str, inputs, train, val, test, positives, negatives, *, length, align,
                  val_frac, test_frac, negative_strategy, negatives_per_positive, extra_negatives, sequence_column,
                  label_column, seed) -> Path:
    """The body of `build_sequence_dataset`, run while `out` is locked."""
    df = _read_inputs(mode, inputs, train, val, test, positives, negatives, length=length,
                      sequence_column=sequence_column, label_column=label_column)
    _split_pool(df, val_frac, test_frac, seed)
    lengths = df["sequence"].str.len()
    L = int(length) if length else int(lengths.max())
    df["sequence"] = fit_length(df["sequence"].tolist(), L, align)
    overlap = _test_overlap(df)
    made_negatives = _needs_negatives(df)
    if made_negatives:
        df = _with_shuffled_negatives(df, negative_strategy, negatives_per_positive, seed)
    if extra_negatives:  # a separate stream of shuffles: never a copy of a made negative
        df = _with_shuffled_negatives(df, negative_strategy, extra_negatives, seed, splits=("train",),
                                      first=negatives_per_positive if made_negatives else 0)
    _check_train_classes(df)
    df = _sequence_rows(df.drop(columns="given_test"), L)
    files = {k: [str(f) for f in v] for k, v in (("inputs", inputs), ("train", train), ("val", val),
                                                 ("test", test), ("positives", positives), ("negatives", negatives))}
    params = dict(mode=mode, **files, length=L, align=align, val_frac=val_frac, test_frac=test_frac,
                  negative_strategy=negative_strategy if made_negatives or extra_negatives else None,
                  negatives_per_positive=negatives_per_positive, test_in_train_val=overlap,
                  **({"extra_negatives": extra_negatives} if extra_negatives else {}),
                  input_lengths=[int(lengths.min()), int(lengths.max())])
    return write_dataset(out, df, builder="sequences", params=params, seed=seed, genome=None)


def _split_pool(df: pd.DataFrame, val_frac: float, test_frac: float, seed: int) -> None:
    """Fill the ``split`` of pool rows (those without one) at random, stratified by label (in place)."""
    pool = df["split"].isna().to_numpy()
    if pool.any():
        rng = np.random.default_rng(seed)
        df.loc[pool, "split"] = _random_split(df.loc[pool, "label"].to_numpy(), val_frac, test_frac, rng)
    df["split"] = df["split"].astype(str)  # one string type on disk, whichever way the splits came


def _mode(inputs, train, val, test, positives, negatives) -> str:
    """Which way in (see `build_sequence_dataset`), or a `ConfigError` for a combination that is none."""
    pool = bool(inputs or positives or negatives)
    if (train or val) and pool:
        raise ConfigError("give either --train/--val files or a pool (--input/--positives), not both",
                          hint="a pool may go with a given --test file")
    if val and not train:
        raise ConfigError("--val needs a --train file too")
    if negatives and not positives:
        raise ConfigError("--negatives goes with --positives (a pool)",
                          hint="for given splits put the labels in a table")
    if train:
        return "given"
    if pool:
        return "pool+test" if test else "pool"
    if test:
        return "test"
    raise ConfigError("no input sequences",
                      hint="give --input TABLE, --positives FASTA, --train FILE or a labelled --test table")


def _check_options(mode: str, length, align: str, val_frac: float, test_frac, strategy: str,
                   n_neg: int, n_extra: int = 0) -> float:
    """Option checks that need no input; returns the test fraction of a pool."""
    if length is not None and length < 1:
        raise ConfigError(f"--length must be >= 1, got {length}")
    if align not in ALIGN:
        raise ConfigError(f"--align {align!r} is not allowed; choose one of: {', '.join(ALIGN)}")
    if strategy not in NEGATIVE_STRATEGIES:
        raise ConfigError(f"--negative-strategy {strategy!r} is not allowed for sequences; choose one of: "
                          f"{', '.join(NEGATIVE_STRATEGIES)}")
    if n_neg < 1:
        raise ConfigError(f"--negatives-per-positive must be >= 1, got {n_neg}")
    if n_extra < 0:
        raise ConfigError(f"--extra-negatives must be >= 0, got {n_extra}")
    if mode in ("pool+test", "test"):
        if test_frac:
            raise ConfigError(f"--test-frac {test_frac} splits a test set off the pool, but --test gives it",
                              hint="drop --test-frac: with --test the test split is exactly that file")
        test_frac = 0.0
    test_frac = 0.1 if test_frac is None else float(test_frac)
    if mode in ("pool", "pool+test") and not (0 <= val_frac < 1 and 0 <= test_frac < 1
                                              and val_frac + test_frac < 1):
        raise ConfigError(f"--val-frac + --test-frac must be < 1, each in [0, 1) (got {val_frac} and {test_frac})")
    return test_frac


def _read_inputs(mode, inputs, train, val, test, positives, negatives, *, length, **kw) -> pd.DataFrame:
    """All input sequences with ``label``, ``split`` (None for a pool row) and ``given_test``."""
    parts: list[pd.DataFrame] = []

    def add(df: pd.DataFrame, split, given_test: bool) -> None:
        df["split"] = split
        df["given_test"] = given_test
        df.attrs.clear()  # line numbers are for read errors only; they do not concatenate
        parts.append(df)

    if mode == "given":
        for split, files in (("train", train), ("val", val), ("test", test)):
            for f in files:
                df = read_sequences(f, require_label=not _is_fasta(Path(f)), **kw)
                labelled = "label" in df
                if not labelled:
                    df["label"] = 1
                add(df, split, split == "test" and labelled)
        return pd.concat(parts, ignore_index=True)
    for f in inputs:
        add(read_sequences(f, require_label=True, **kw), None, False)
    for f in positives:
        add(read_sequences(f, label=1, **kw), None, False)
    for f in negatives:
        add(read_sequences(f, label=0, **kw), None, False)
    for f in test:
        if _is_fasta(Path(f)):
            raise InputError(f"{f}: a --test file with a pool or alone must be a CSV/TSV with a 0/1 "
                             f"{kw.get('label_column', 'label')!r} column (FASTA has no labels)",
                             hint="for positives-only test FASTA give --train FASTA --test FASTA")
        df = read_sequences(f, require_label=True, **kw)
        if length is not None:
            _check_test_length(df, Path(f), int(length))
        add(df, "test", True)
    return pd.concat(parts, ignore_index=True)


def _check_test_length(df: pd.DataFrame, path: Path, length: int) -> None:
    """A given test table is scored as given: with --length set, every sequence must have that length."""
    n = df["sequence"].str.len().to_numpy()
    bad = np.flatnonzero(n != length)
    if len(bad):
        line = df.attrs["lines"][bad[0]]
        raise InputError(f"{path}:{line}: test sequence of {n[bad[0]]} bp, but --length is {length} "
                         f"({len(bad)} of {len(n)} test sequences differ); a given test file is used as given, "
                         "never cropped or padded", hint=f"give {length}-bp test sequences, or drop --length")


def _test_overlap(df: pd.DataFrame) -> int:
    """How many train/val rows have the same (fitted) sequence as a test row: leakage the user should see."""
    test = df["split"] == "test"
    if not test.any():
        return 0
    return int(df.loc[df["split"].isin(["train", "val"]), "sequence"].isin(set(df.loc[test, "sequence"])).sum())


def _needs_negatives(df: pd.DataFrame) -> bool:
    """True when the rows outside given labelled test tables are all positives."""
    base = df.loc[~df["given_test"].to_numpy(bool), "label"]
    return len(base) > 0 and not (base == 0).any()


def _check_train_classes(df: pd.DataFrame) -> None:
    """A train split must hold both labels (a test-only dataset has none)."""
    labels = set(df.loc[df["split"] == "train", "label"].astype(int))
    if labels and len(labels) < 2:
        raise InputError(f"the train split has only label-{labels.pop()} sequences, so a model cannot learn "
                         "from it", hint="give both labels, or only positives (negatives are then generated)")


def _with_shuffled_negatives(df: pd.DataFrame, strategy: str, n: int, seed: int, splits=SPLITS,
                             first: int = 0) -> pd.DataFrame:
    """`df` plus `n` shuffled copies (label 0) of each positive outside given test tables, made per split
    (copies ``first .. first + n - 1`` of the seeded stream)."""
    negs = []
    for split in splits:
        pos = df[(df["split"] == split) & (df["label"] == 1) & ~df["given_test"].to_numpy(bool)]
        if len(pos) == 0:
            continue
        shuf = _shuffled(pos["sequence"].tolist(), strategy, n, seed, first)
        negs.append(pd.DataFrame({"sequence": shuf, "label": 0, "split": split, "given_test": False,
                                  "source": strategy}))
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
    source = df.pop("source").fillna("given") if "source" in df else "given"
    df["source"] = source
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


def _shuffled(seqs: list[str], strategy: str, n: int, seed: int, first: int = 0) -> list[str]:
    """`n` shuffled copies of each (equal-length) sequence, via `bindscape.data.negatives` (copy ``k`` uses
    seed ``seed * 1000 + k``, for k from `first`)."""
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
    for k in range(first, first + n):
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
    seeded augmentation). With ``max_shift`` each example is shifted by a random -max_shift..max_shift bp
    inside its own sequence, N filling the end it leaves (a stored sequence has no flanks to read), before
    the random reverse complement; the same draws as `RegionDataset` for the same seed, epoch and batch.
    """

    def __init__(self, source: str | Path | Dataset | pd.DataFrame, *, split: str | None = None,
                 rc_augment: bool = False, max_shift: int = 0, seed: int = 0, label_column: str = "label",
                 **_ignored):
        from bindscape.io.genome import encode

        if isinstance(source, pd.DataFrame):
            regions = source
        else:
            ds = source if isinstance(source, Dataset) else load_dataset(source)
            regions = ds.regions
        if "sequence" not in regions:
            raise InputError("not a sequence-only dataset (no 'sequence' column)",
                             hint="genome-based datasets load with RegionDataset")
        self.regions = select_split(regions, split)
        seqs = self.regions["sequence"].tolist()
        L = {len(s) for s in seqs}
        if len(L) != 1:
            raise ConfigError("sequences have different lengths; rebuild with `bindscape build sequences`")
        self.length = L.pop()
        self._codes = encode("".join(seqs)).reshape(len(seqs), self.length)
        self._y = (self.regions[label_column].to_numpy(dtype=np.float32) if label_column in self.regions
                   else np.zeros(len(seqs), np.float32))
        self.rc_augment = rc_augment
        self.max_shift = int(max_shift)
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

        from bindscape.io.genome import augmented_onehot

        idx = np.asarray(indices, dtype=np.int64)
        shift = rc = None
        if self.rc_augment or self.max_shift:
            rng = np.random.default_rng([self.seed, self.epoch, int(idx[0]) if len(idx) else 0, len(idx)])
            if self.max_shift:
                shift = rng.integers(-self.max_shift, self.max_shift + 1, len(idx))
            if self.rc_augment:
                rc = rng.random(len(idx)) < 0.5
        x = augmented_onehot(self._codes[idx], shift, rc)
        return torch.from_numpy(x), torch.from_numpy(self._y[idx])

    def __getitem__(self, i: int):
        x, y = self.__getitems__([i])
        return x[0], y[0]

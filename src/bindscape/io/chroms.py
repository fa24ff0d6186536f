"""Chromosome names and sizes: chrom.sizes files, naming styles and aliases, checks against a genome.

Region files and genomes often disagree on naming style (``1`` vs ``chr1``, ``MT`` vs ``chrM``, ``chr2``
vs sacCer3's ``chrII``). `check_chroms` checks a regions frame's ``chrom`` column against the genome's
sizes before any work, renames with explicit aliases or ``'auto'`` (by naming style), and otherwise raises
a `ChromosomeError` that names the first unknown chromosome and says how the styles differ.
`check_bounds` checks coordinates against chromosome lengths, and `check_blacklist` applies both to a
blacklist (one made for another assembly must not silently remove or miss whole chromosomes). Problems are reported as
``source:line: what is wrong`` when the frame still carries the readers' ``_line`` column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bindscape.errors import ChromosomeError, ConfigError, InputError
from bindscape.io.textfile import data_lines, read_text

__all__ = [
    "as_sizes",
    "blacklist_error",
    "check_blacklist",
    "check_bounds",
    "check_chroms",
    "parse_aliases",
    "rename_chroms",
    "sizes_from_file",
]

PathLike = str | os.PathLike
SizesLike = Mapping[str, int] | str | os.PathLike


def sizes_from_file(path: PathLike) -> dict[str, int]:
    """Read a chrom.sizes file (``name<TAB>length`` per line; a FASTA ``.fai`` works too).

    Extra columns are ignored; lengths must be positive integers and names unique.

    Parameters
    ----------
    path
        The chrom.sizes (or ``.fai``) file, plain or gzip.

    Returns
    -------
    dict[str, int]
        Chromosome lengths in file order.
    """
    src, text = read_text(path)
    lines = data_lines(text)
    line_nos = lines.line_nos
    if not lines:
        raise InputError(f"{src}: contains no chromosomes")
    out: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for ln, no in zip(lines, line_nos.tolist(), strict=True):
        f = ln.split("\t") if "\t" in ln else ln.split()
        if len(f) < 2:
            raise InputError(f"{src}:{no}: expected 'name<TAB>length', found {ln!r}")
        name, length = f[0].strip(), f[1].strip()
        if not name:
            raise InputError(f"{src}:{no}: the chromosome name is empty")
        if not re.fullmatch(r"[0-9]+", length) or int(length) <= 0:
            raise InputError(f"{src}:{no}: length {length!r} of {name} is not a positive integer")
        if name in out:
            raise InputError(
                f"{src}:{no}: chromosome {name!r} is listed twice (first on line {first_line[name]})"
            )
        out[name] = int(length)
        first_line[name] = no
    return out


def as_sizes(sizes: SizesLike) -> dict[str, int]:
    """Chromosome lengths from a dict, a chrom.sizes path or a Genome-like object (``.sizes``).

    Parameters
    ----------
    sizes
        A mapping of name to length, a chrom.sizes path, or an object with a ``sizes`` mapping.

    Returns
    -------
    dict[str, int]
        The lengths (the same dict when `sizes` already is one).
    """
    if isinstance(sizes, (str, os.PathLike)):
        return sizes_from_file(sizes)
    if isinstance(sizes, Mapping):
        return sizes if isinstance(sizes, dict) else dict(sizes)
    if hasattr(sizes, "sizes"):  # a Genome-like object
        return dict(sizes.sizes)
    raise TypeError(
        f"sizes must be a dict of chromosome lengths or a chrom.sizes path, not {type(sizes).__name__}"
    )


_MITO = ("chrM", "chrMT", "MT", "M", "chrMito", "Mito", "mito", "mitochondrion")
_ROMAN = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X",
    "XI", "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX",
]  # fmt: skip


def parse_aliases(aliases) -> dict[str, str] | str | None:
    """Normalise an `aliases` argument: None, 'auto', a dict, or text ``"1=chr1,MT=chrM"``.

    Parameters
    ----------
    aliases
        None, ``'auto'`` (any case), a mapping ``{old: new}`` or comma-separated ``from=to`` text.

    Returns
    -------
    dict[str, str] | str | None
        None, ``'auto'`` or a dict of renames; malformed text raises `ConfigError`.
    """
    if aliases is None or isinstance(aliases, Mapping):
        return None if aliases is None else {str(k): str(v) for k, v in aliases.items()}
    if isinstance(aliases, str):
        text = aliases.strip()
        if text.lower() == "auto":
            return "auto"
        out = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            if part.count("=") != 1 or not all(x.strip() for x in part.split("=")):
                raise ConfigError(
                    f"chromosome alias {part!r} is not 'from=to'",
                    hint="use auto, or e.g. 1=chr1,2=chr2,MT=chrM",
                )
            a, b = part.split("=")
            out[a.strip()] = b.strip()
        return out
    raise ConfigError(
        f"chromosome aliases must be 'auto', a dict or 'from=to,...' text, not {type(aliases).__name__}"
    )


def _auto_target(name: str, genome: Mapping[str, int]) -> tuple[str | None, str | None]:
    """(renamed name, kind of style difference) or (None, None)."""
    if name in genome:
        return name, None
    if name in _MITO:
        for m in _MITO:
            if m in genome:
                return m, "mito"
    bare = name[3:] if name.startswith("chr") else name
    if name.startswith("chr") and bare in genome:
        return bare, "nochr"
    if not name.startswith("chr") and "chr" + name in genome:
        return "chr" + name, "chr"
    roman_genome = ("chrII" in genome or "II" in genome) and not ("chr2" in genome or "2" in genome)
    if roman_genome and bare.isdigit() and 1 <= int(bare) <= len(_ROMAN):
        r = _ROMAN[int(bare) - 1]
        for cand in ("chr" + r, r):
            if cand in genome:
                return cand, "roman"
    return None, None


def _style_message(name: str, genome: Mapping[str, int]) -> tuple[str, str]:
    """(note in parentheses, hint) explaining why `name` is not in the genome."""
    names = list(genome)
    target, kind = _auto_target(name, genome)
    if kind == "chr":
        ex = [n for n in names if n.startswith("chr")][:2]
        return (
            f"genome uses 'chr' prefixes: {', '.join(ex)}, ...",
            f"pass --chrom-alias auto (or {name}={target},...) to rename",
        )
    if kind == "nochr":
        ex = [n for n in names if not n.startswith("chr")][:2]
        return (
            f"genome has no 'chr' prefixes: {', '.join(ex)}, ...",
            f"pass --chrom-alias auto (or {name}={target},...) to rename",
        )
    if kind == "mito":
        return (
            f"genome calls the mitochondrial chromosome '{target}'",
            f"pass --chrom-alias auto (or {name}={target}) to rename",
        )
    if kind == "roman":
        ex = [n for n in names if n.removeprefix("chr") in _ROMAN][:3]
        return (
            f"genome numbers chromosomes in Roman numerals: {', '.join(ex)}, ...",
            f"pass --chrom-alias auto (or {name}={target},...) to rename",
        )
    lower = {n.lower(): n for n in names}
    if name.lower() in lower:
        t = lower[name.lower()]
        return (f"genome has '{t}' (different case)", f"pass --chrom-alias {name}={t} to rename")
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (
        f"genome has {len(names)} chromosome{'s' if len(names) != 1 else ''}: {shown}",
        "check that the file and the genome are the same assembly, or drop intervals on chromosomes the genome lacks",
    )


def rename_chroms(df: pd.DataFrame, mapping: Mapping[str, str] | None) -> pd.DataFrame:
    """Rename the ``chrom`` column with `mapping` (names it lacks are kept).

    Parameters
    ----------
    df
        A regions frame.
    mapping
        ``{old: new}``; None or empty renames nothing.

    Returns
    -------
    pandas.DataFrame
        `df` itself when nothing changes, else a renamed copy.
    """
    if not mapping:
        return df
    codes, uniques = pd.factorize(df["chrom"], sort=False)
    new = np.asarray([mapping.get(u, u) for u in uniques], dtype=object)
    if all(a == b for a, b in zip(uniques, new, strict=True)):
        return df
    out = df.copy()
    out["chrom"] = pd.array(new[codes], dtype=str)
    return out


def check_chroms(
    df: pd.DataFrame,
    sizes: SizesLike,
    *,
    source: str | None = None,
    aliases=None,
    unknown: str = "error",
) -> pd.DataFrame:
    """Check (and optionally rename) chromosome names against the genome; return the frame.

    `aliases`: None (no renaming), ``'auto'`` (rename by naming style: ``1``<->``chr1``, ``MT``/``M``/
    ``chrMT``<->``chrM``, and ``chr1``->``chrI`` for genomes numbered in Roman numerals like sacCer3), a dict
    ``{old: new}`` or the text ``"1=chr1,MT=chrM"``. `unknown`: ``'error'`` raises `ChromosomeError` naming
    the first unknown chromosome (``source:line`` when the frame has a ``_line`` column) with a note when
    the naming style differs; ``'drop'`` silently removes intervals on unknown chromosomes.
    `source` defaults to ``df.attrs['source']`` or ``'<regions>'``.

    Parameters
    ----------
    df
        A regions frame with a ``chrom`` column (and optionally the readers' ``_line`` column).
    sizes
        The genome's chromosome lengths (see `as_sizes`).
    source
        The name used in error messages.
    aliases
        Renaming rule, see above.
    unknown
        ``'error'`` or ``'drop'``.

    Returns
    -------
    pandas.DataFrame
        The (possibly renamed, possibly filtered) frame.
    """
    sizes = as_sizes(sizes)
    if source is None:
        source = df.attrs.get("source", "<regions>")
    if unknown not in ("error", "drop"):
        raise ConfigError(f"unknown={unknown!r} is not valid", hint="use 'error' or 'drop'")
    alias = parse_aliases(aliases)
    original = df["chrom"]
    renamed_from: dict[str, str] = {}
    if alias == "auto":
        uniq = pd.unique(original)
        mapping = {}
        for u in uniq:
            t, _ = _auto_target(str(u), sizes)
            if t is not None and t != u:
                mapping[str(u)] = t
        df = rename_chroms(df, mapping)
        renamed_from = {v: k for k, v in mapping.items()}
    elif alias:
        df = rename_chroms(df, alias)
        renamed_from = {v: k for k, v in alias.items()}
    chrom = df["chrom"]
    known = chrom.isin(list(sizes)).to_numpy(dtype=bool) if len(sizes) else np.zeros(len(df), dtype=bool)
    if known.all():
        return df
    if unknown == "drop":
        out = df.loc[known].reset_index(drop=True)
        out.attrs = dict(df.attrs)
        return out
    i = int(np.flatnonzero(~known)[0])
    name = str(chrom.iloc[i])
    where = f"{source}:{int(df['_line'].iloc[i])}" if "_line" in df.columns else str(source)
    bad_names = pd.unique(chrom[~known])
    if name in renamed_from and renamed_from[name] != name and str(original.iloc[i]) != name:
        note, hint = _style_message(name, sizes)
        msg = (
            f"{where}: chromosome '{name}' (renamed from '{original.iloc[i]}') is not in the genome ({note})"
        )
    else:
        note, hint = _style_message(name, sizes)
        msg = f"{where}: chromosome '{name}' is not in the genome ({note})"
    if len(bad_names) > 1:
        more = ", ".join(map(str, bad_names[1:6])) + (", ..." if len(bad_names) > 6 else "")
        hint = f"{hint}; other unknown chromosomes: {more}"
    raise ChromosomeError(msg, hint=hint)


def check_bounds(df: pd.DataFrame, sizes: SizesLike, *, source: str | None = None) -> None:
    """Raise `ChromosomeError` for the first interval that starts below 0, has start > end, or ends past
    the end of its chromosome (``source:line`` when the frame has a ``_line`` column).

    Parameters
    ----------
    df
        A regions frame (``chrom, start, end``).
    sizes
        The genome's chromosome lengths (see `as_sizes`).
    source
        The name used in error messages; default ``df.attrs['source']`` or ``'<regions>'``.
    """
    sizes = as_sizes(sizes)
    if source is None:
        source = df.attrs.get("source", "<regions>")
    if len(df) == 0:
        return
    chrom = df["chrom"]
    size = chrom.map(sizes)
    if size.isna().any():
        check_chroms(df, sizes, source=source)
    size = size.to_numpy(dtype=np.int64)
    start = df["start"].to_numpy(dtype=np.int64)
    end = df["end"].to_numpy(dtype=np.int64)
    bad = (end > size) | (start < 0) | (start > end)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    where = f"{source}:{int(df['_line'].iloc[i])}" if "_line" in df.columns else str(source)
    c = chrom.iloc[i]
    iv = f"{c}:{start[i]}-{end[i]}"
    if start[i] < 0:
        raise ChromosomeError(f"{where}: interval {iv} starts before 0")
    if start[i] > end[i]:
        raise ChromosomeError(f"{where}: interval {iv} has start greater than end")
    raise ChromosomeError(
        f"{where}: interval {iv} ends past the end of {c} ({size[i]} bp)",
        hint="is the file for the same genome assembly as the genome?",
    )


def check_blacklist(
    df: pd.DataFrame, sizes: SizesLike, *, source: str | None = None, aliases=None, flag: str = "--blacklist"
) -> pd.DataFrame:
    """Check that a blacklist fits the genome: every chromosome in it exists and every interval ends within it.

    A blacklist made for another assembly (hg19 on hg38, or any other genome) would silently miss or remove
    the wrong regions, so a chromosome the genome lacks is an error (with the ``--chrom-alias`` hint when only
    the naming style differs) and so is an interval past the end of its chromosome.

    Parameters
    ----------
    df
        The blacklist intervals (``chrom, start, end``; the readers' ``_line`` column gives ``file:line``).
    sizes
        The genome's chromosome lengths (see `as_sizes`).
    source
        The name used in error messages; default ``df.attrs['source']`` or ``'<blacklist>'``.
    aliases
        Chromosome renaming, as in `check_chroms` (the same rule as the peak files).
    flag
        The option the user gave the blacklist with, named in hints.

    Returns
    -------
    pandas.DataFrame
        The (possibly renamed) blacklist.

    Raises
    ------
    ChromosomeError
        A chromosome not in the genome, or an interval that does not fit its chromosome.
    """
    sizes = as_sizes(sizes)
    if source is None:
        source = df.attrs.get("source", "<blacklist>")
    try:
        df = check_chroms(df, sizes, source=source, aliases=aliases)
        check_bounds(df, sizes, source=source)
    except ChromosomeError as e:
        raise blacklist_error(e, flag) from None
    return df


def blacklist_error(err: ChromosomeError, flag: str = "--blacklist") -> ChromosomeError:
    """The error of a blacklist that does not fit the genome: `err` naming `flag`, with advice as its hint.

    The ``--chrom-alias`` hint of a naming-style difference is kept; otherwise the hint says to use the
    blacklist of the genome's assembly.

    Parameters
    ----------
    err
        The error of `check_chroms` or `check_bounds` (or of a reader given ``sizes``).
    flag
        The option the user gave the blacklist with.

    Returns
    -------
    ChromosomeError
        The error to raise.
    """
    advice = f"use the {flag} file made for the same assembly as the genome"
    if "is not in the genome" in err.message:
        advice += " (for a genome with only some of its chromosomes, keep only their lines)"
    hint = err.hint if err.hint and "--chrom-alias" in err.hint else advice
    if err.hint and "; other unknown" in err.hint and "; other unknown" not in hint:
        hint += err.hint[err.hint.index("; other unknown") :]
    return ChromosomeError(f"{flag} {err.message}", hint=hint)

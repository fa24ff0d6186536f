"""Small text files (peak lists, chrom.sizes): read whole, gzip by magic bytes, data lines numbered.

`read_text` returns a file's decoded text (gzip/bgzip recognised by its first two bytes, not by its name;
a ``.gz`` name on plain text is an error) and `data_lines` its data lines -- without ``track``/
``browser``/``#`` header lines and blank lines -- with each line's 1-based number in the file, so readers
can report problems as ``path:line: what is wrong``. Every problem is an `InputError` naming the file.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np

from bindscape.errors import InputError

__all__ = ["DataLines", "data_lines", "read_text"]

PathLike = str | os.PathLike
_SKIP_PREFIXES = ("#", "track ", "track\t", "browser ", "browser\t")


def read_text(path: PathLike) -> tuple[str, str]:
    """Read a whole text file, decompressing gzip/bgzip (detected by magic bytes).

    Parameters
    ----------
    path
        A peak, BED or chrom.sizes file, plain or gzip/bgzip.

    Returns
    -------
    tuple[str, str]
        The display name (``str(path)``) and the decoded UTF-8 text.
    """
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise InputError(
            f"{src}: no such file", hint="check the path (relative paths start from the current folder)"
        )
    if p.is_dir():
        raise InputError(f"{src}: is a folder, not a file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"{src}: cannot be read ({e.strerror or e})") from e
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(
                f"{src}: gzip data is corrupt or truncated ({e})", hint="download the file again"
            ) from e
    elif p.name.lower().endswith((".gz", ".bgz")):
        raise InputError(
            f"{src}: is named .gz but is not gzip-compressed",
            hint="rename it without .gz, or compress it with gzip/bgzip",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{src}:{line}: is not UTF-8 text (is this a binary file?)") from e
    return src, text


class DataLines(list):
    """Data lines (a list of str) with `.line_nos` (1-based numbers in the file) and `.joined` text."""

    line_nos: np.ndarray
    _joined: str | None = None

    @property
    def joined(self) -> str:
        """The lines joined by newlines (computed once)."""
        if self._joined is None:
            self._joined = "\n".join(self)
        return self._joined


_SKIP_RE = re.compile(r"^(?:#|track(?:[ \t]|$)|browser(?:[ \t]|$)|[ \t]*$)", re.MULTILINE)


def data_lines(text: str) -> DataLines:
    """Data lines without header/comment/blank lines, with their 1-based line numbers.

    Parameters
    ----------
    text
        A file's text (``\r\n`` and ``\r`` line ends are accepted).

    Returns
    -------
    DataLines
        The kept lines; ``.line_nos`` holds their 1-based numbers in `text`.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = text[:-1] if text.endswith("\n") else text
    if body and not _SKIP_RE.search(body):  # fast path: nothing to skip
        out = DataLines(body.split("\n"))
        out.line_nos = np.arange(1, len(out) + 1, dtype=np.int64)
        out._joined = body
        return out
    lines = text.split("\n")
    keep = [
        i
        for i, ln in enumerate(lines)
        if ln and not ln.startswith(_SKIP_PREFIXES) and ln != "track" and ln != "browser" and not ln.isspace()
    ]
    out = DataLines(lines[i] for i in keep)
    out.line_nos = np.asarray(keep, dtype=np.int64) + 1
    return out

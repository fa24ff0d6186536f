"""Small helpers shared by every layer: atomic writes, progress bars, checksums, seeds.

Imports nothing else from bindscape except `errors`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    An interrupted write never leaves a half file under the final name.

    Parameters
    ----------
    path
        The final file; its folder is created if missing.

    Yields
    ------
    Path
        The temporary file to write (permissions as set by the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (default text encoding) to the file `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def file_checksum(path: str | os.PathLike, algo: str = "sha256", chunk: int = 1 << 22) -> str:
    """Checksum of a file's bytes (hex).

    Parameters
    ----------
    path
        The file.
    algo
        A `hashlib` algorithm name.
    chunk
        Bytes read at a time.

    Returns
    -------
    str
        The hex digest.
    """
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def progress(**kwargs):
    """A rich progress bar with the columns bindscape uses everywhere.

    Disabled automatically when stdout is not a terminal unless BINDSCAPE_PROGRESS=1.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    disable = kwargs.pop("disable", None)
    if disable is None:
        disable = os.environ.get("BINDSCAPE_PROGRESS", "") == "0"
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=disable,
        transient=kwargs.pop("transient", False),
        **kwargs,
    )

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


def exchange_paths(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False when the system cannot.

    Hand-written with ctypes: the standard library has no renameat2, and no maintained package offers it.

    Parameters
    ----------
    a, b
        Two existing paths on the same filesystem.

    Returns
    -------
    bool
        True when swapped.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def publish_folder(tmp: str | os.PathLike, final: str | os.PathLike, *, own: tuple[str, ...] = (),
                   exchange=exchange_paths) -> None:
    """Make the complete folder `tmp` appear as `final` in one rename; the old `final` is removed after.

    Entries of an existing `final` that `tmp` lacks and that are not in `own` (a user's files) are moved into
    `tmp` first, so they are kept. When `final` exists the two folders are swapped atomically (`exchange`);
    where the system cannot, the old folder is renamed aside just before and put back if the rename fails.

    Parameters
    ----------
    tmp
        The new folder, complete, on the same filesystem as `final`.
    final
        The folder to replace or create.
    own
        Names the publisher owns in `final`: dropped when the new folder lacks them.
    exchange
        The swap function (``exchange_paths``; tests replace it).
    """
    import shutil

    tmp, final = Path(tmp), Path(final)
    if not final.exists():
        try:
            os.rename(tmp, final)
            return
        except OSError:
            if not final.is_dir():  # an empty folder made meanwhile is replaced by rename; anything else fails
                raise
    for entry in final.iterdir():
        if entry.name not in own and not (tmp / entry.name).exists():
            os.rename(entry, tmp / entry.name)
    if exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)  # put the old folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


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


def check_writable(path: str | os.PathLike, flag: str, *, is_dir: bool = True) -> Path:
    """Fail early, before any work, when `path` cannot be created or written.

    Walks up to the nearest existing ancestor: every existing component must be a folder (the last one
    too when `is_dir`), and that ancestor must accept a new file (a probe file is created and removed,
    which also catches read-only mounts and /proc). Nothing is left behind.

    Parameters
    ----------
    path
        The output folder (or file, with ``is_dir=False``) a command will write.
    flag
        The CLI flag or config field the user typed for it (named in the error).
    is_dir
        Whether `path` is a folder (else a file whose parent folder must be writable).

    Returns
    -------
    Path
        `path` as a `Path`.

    Raises
    ------
    bindscape.errors.ConfigError
        When `path` (or a parent) is a regular file, or its folder is not writable.
    """
    from bindscape.errors import ConfigError

    path = Path(path)
    if path.exists() and is_dir and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder", hint=f"give {flag} a folder path")
    if path.is_dir() and not is_dir:
        raise ConfigError(f"{flag} {path} is a folder, not a file", hint=f"give {flag} a file path")
    probe_dir = path if (is_dir and path.is_dir()) else path.parent
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise ConfigError(f"cannot write {flag} {path}: {probe_dir} is a file, not a folder",
                          hint=f"give {flag} a path that is not under a file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".bindscape-probe.", dir=probe_dir)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {path}: {exc.strerror or exc} ({probe_dir})",
                          hint=f"give {flag} a writable location") from None
    return path


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: the command stops; `exit_code` is 128 + the signal number (130, 143).

    A `BaseException` (like `KeyboardInterrupt`) so ordinary ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int):
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.exit_code = 128 + int(signum)

"""Genomes: FASTA (plain, gzip, bgzip) -> cached uint8 code arrays -> fast batched sequence fetches.

A `Genome` is opened from a FASTA file once; the first open parses the file chromosome by chromosome
(streaming, a few 16 MB chunks in memory at a time) and writes a cache folder named by the sha256 of the
file's bytes::

    <cache root>/<sha256>/index.json           chromosome names (FASTA order), sizes, format
    <cache root>/<sha256>/00000.codes.npy      uint8 per base: A=0 C=1 G=2 T=3, N (and any other letter)=4
    <cache root>/<sha256>/00000.mask.npy       soft-masked (lower case) bases, np.packbits (1 bit per base)
    <cache root>/<sha256>/00000.counts.npy     prefix counts (G+C, N, repeat) at every 256-bp block boundary

The cache root is the `cache_dir` argument, else ``$BINDSCAPE_CACHE``, else ``~/.cache/bindscape/genomes``.
The folder is built in a temporary folder and renamed into place, so an interrupted or concurrent build never
leaves a half cache. Later opens (and every torch DataLoader worker that unpickles a `Genome`) only
memory-map the arrays: a 3 Gb genome costs ~3.6 GB of disk (3.1 GB codes + 0.4 GB mask bits + 0.14 GB block
counts) and no RAM beyond the pages actually read. Building streams the file (peak ~130 MB for the 100 Mb
worm genome, ~3 s; a reopen ~0.25 s). The sha256 of big files is remembered per (path, size, mtime, inode)
in ``<cache root>/.checksums`` so a reopen need not hash the whole file again.

Why hand-written rather than pyfaidx: deep-learning data loading fetches thousands of random fixed-length
windows per batch and wants one-hot float32 ``(N, 4, L)``. pyfaidx returns one Python string per window
(seek + read + strip newlines + upper case) that then has to be encoded and one-hot encoded. Measured with
``benchmarks/bench_fetch.py`` (yeast, random 1-kb windows, batches of 256, one core): pyfaidx + numpy
one-hot ran at ~55k windows/s on a quiet machine, `fetch_onehot` at ~450k/s (8x; 6-7x when the machine
was busy), and a plain numpy per-channel comparison on the genome held in RAM at ~330k/s. The kernel
copies each window (reverse-complemented / N-padded as asked) into a small scratch buffer and then writes
the four channels in separate passes, which LLVM vectorises; an earlier version that wrote the four
channels position by position ran 5x slower. GC, N and repeat fractions of many intervals use the block
prefix counts plus counting of at most 128 bases at each end, so they stay O(1) per interval without a
per-base cumulative sum (which would cost 12 GB as int32 for a 3 Gb genome).

numba is imported lazily (first fetch), so ``import bindscape`` stays fast; kernels are compiled with
``cache=True``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import socket
import time
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bindscape._util import atomic_write_text, file_checksum, progress
from bindscape.errors import ChromosomeError, InputError

__all__ = ["Genome", "encode", "decode", "onehot", "reverse_complement_codes", "shift_windows", "augmented_onehot",
           "default_cache_root"]

FORMAT = 1  # cache layout version; bump when the files change meaning
BLOCK_SHIFT = 8
BLOCK = 1 << BLOCK_SHIFT  # bases per prefix-count block (multiple of 8, so mask bytes align)
_CHUNK = 16 << 20  # decompressed bytes read per step while building
_PROGRESS_MIN_BYTES = 8 << 20  # show a progress bar for files at least this big
_BUILDS = 0  # number of cache builds in this process (tests check that a second open does not rebuild)

# ---------------------------------------------------------------------------------------------- tables
_CODE = np.full(256, 5, dtype=np.uint8)  # 5 = not a sequence character (an error while building)
for _ch in range(256):
    if chr(_ch).isalpha() and _ch < 128:
        _CODE[_ch] = 4
for _ch in b"-*.":
    _CODE[_ch] = 4
for _i, _ch in enumerate(b"ACGT"):
    _CODE[_ch] = _i
    _CODE[_ch + 32] = _i
_LOWER = np.zeros(256, dtype=np.uint8)
_LOWER[ord("a") : ord("z") + 1] = 1
_ENCODE = np.minimum(_CODE, 4)  # encode(): anything unknown is N
_GC_OF_CODE = np.array([0, 1, 1, 0, 0, 0], dtype=np.uint8)
_N_OF_CODE = np.array([0, 0, 0, 0, 1, 0], dtype=np.uint8)
_COMP = np.full(256, 4, dtype=np.uint8)
_COMP[:5] = [3, 2, 1, 0, 4]
_LETTERS = np.frombuffer(b"ACGTN" + b"N" * 251, dtype=np.uint8)
_STRIP = b"\r\n\t \x0b\x0c"


# ------------------------------------------------------------------------------------ plain functions
def encode(seq: str | bytes) -> np.ndarray:
    """Sequence -> uint8 codes (A=0, C=1, G=2, T=3, anything else=4); case-insensitive.

    Parameters
    ----------
    seq
        DNA as text or ASCII bytes (non-ASCII characters become N).

    Returns
    -------
    numpy.ndarray
        ``(len(seq),)`` uint8.
    """
    if isinstance(seq, str):
        seq = seq.encode("ascii", "replace")
    return _ENCODE[np.frombuffer(seq, dtype=np.uint8)]


def decode(codes) -> str | list[str]:
    """uint8 codes -> upper-case 'ACGTN' string (a list of strings for a 2-D array).

    Parameters
    ----------
    codes
        ``(L,)`` or ``(N, L)`` base codes; codes above 4 decode as N.

    Returns
    -------
    str or list[str]
    """
    codes = np.asarray(codes)
    if codes.ndim == 2:
        return [decode(row) for row in codes]
    return _LETTERS[codes.astype(np.uint8, copy=False)].tobytes().decode("ascii")


def onehot(codes) -> np.ndarray:
    """Codes (N, L) -> float32 (N, 4, L), or (L,) -> (4, L); N (code 4) is an all-zero column.

    Parameters
    ----------
    codes
        ``(L,)`` or ``(N, L)`` base codes.

    Returns
    -------
    numpy.ndarray
        float32 one-hot, channels A, C, G, T.
    """
    codes = np.asarray(codes)
    chan = np.arange(4, dtype=codes.dtype if codes.dtype.kind in "iu" else np.int64)
    if codes.ndim == 1:
        return (codes[None, :] == chan[:, None]).astype(np.float32)
    if codes.ndim != 2:
        raise ValueError(f"onehot expects codes of shape (L,) or (N, L), got {codes.shape}")
    return (codes[:, None, :] == chan[None, :, None]).astype(np.float32)


def reverse_complement_codes(codes) -> np.ndarray:
    """Reverse complement of codes along the last axis (A<->T, C<->G, N stays N).

    Parameters
    ----------
    codes
        Base codes of any shape.

    Returns
    -------
    numpy.ndarray
        Contiguous uint8 array of the same shape.
    """
    codes = np.asarray(codes)
    return np.ascontiguousarray(_COMP[codes.astype(np.uint8, copy=False)][..., ::-1])


def shift_windows(rows: np.ndarray, shift: np.ndarray, fill) -> np.ndarray:
    """Shift each row of per-base values like a window moved along the sequence, `fill` past the ends.

    A window shifted by ``+s`` reads ``row[s:]`` followed by `s` fill values (by ``-s``: `s` fill values then
    ``row[:-s]``), which is what a genome window shifted by `s` reads when the sequence ends there.

    Parameters
    ----------
    rows : numpy.ndarray
        ``(N, L)`` values: base codes (fill 4, N) or per-bp labels (fill 0).
    shift : numpy.ndarray
        ``(N,)`` integer shifts in bp.
    fill
        Value of the positions that fall outside the row.

    Returns
    -------
    numpy.ndarray
        A new ``(N, L)`` array of the same dtype (`rows` itself when no shift is nonzero).
    """
    shift = np.asarray(shift, dtype=np.int64)
    if not shift.any():
        return rows
    n, length = rows.shape
    cols = np.arange(length)[None, :] + shift[:, None]
    ok = (cols >= 0) & (cols < length)
    out = np.full_like(rows, fill)
    which = np.broadcast_to(np.arange(n)[:, None], cols.shape)
    out[ok] = rows[which[ok], cols[ok]]
    return out


def augmented_onehot(codes: np.ndarray, shift: np.ndarray | None = None, rc: np.ndarray | None = None) -> np.ndarray:
    """One-hot of stored sequences after the training augmentation: shift (N past the ends), then reverse complement.

    Parameters
    ----------
    codes : numpy.ndarray
        ``(N, L)`` base codes.
    shift : numpy.ndarray or None
        ``(N,)`` shifts in bp (`shift_windows`); None: no shift.
    rc : numpy.ndarray or None
        ``(N,)`` booleans, True where the example is reverse-complemented; None: none.

    Returns
    -------
    numpy.ndarray
        ``(N, 4, L)`` float32 one-hot (N columns all zero).
    """
    if shift is not None:
        codes = shift_windows(codes, shift, 4)
    if rc is not None and rc.any():
        codes = codes.copy()
        codes[rc] = reverse_complement_codes(codes[rc])
    return onehot(codes)


def default_cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir` > $BINDSCAPE_CACHE > ~/.cache/bindscape/genomes.

    Parameters
    ----------
    cache_dir
        An explicit cache root (None: look further); ``~`` is expanded.

    Returns
    -------
    Path
        The genome cache root.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("BINDSCAPE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "bindscape" / "genomes"


# ----------------------------------------------------------------------------------- numba kernels
# Plain functions here; `_kernels()` jit-compiles them on first use (numba is imported lazily) and binds the
# compiled versions to the module globals `_jit_*`, through which they call each other (so numba's
# on-disk cache, keyed by module and function, works across processes).
def _py_window(seq, s, rc, buf):  # pragma: no cover - compiled
    # buf <- codes of [s, s + L) (N outside the chromosome), reverse-complemented when rc
    n = seq.shape[0]
    L = buf.shape[0]
    if s >= 0 and s + L <= n:
        if rc:
            b = s + L - 1
            for j in range(L):
                c = seq[b - j] ^ 3  # 0<->3, 1<->2, 4 -> 7
                buf[j] = c if c < 4 else 4
        else:
            buf[:] = seq[s : s + L]
    else:
        for j in range(L):
            p = s + L - 1 - j if rc else s + j
            c = seq[p] if (p >= 0 and p < n) else 4
            if rc and c < 4:
                c = 3 - c
            buf[j] = c


def _py_onehot_rows(seq, rows, starts, rcs, out):  # pragma: no cover - compiled
    # per-channel passes over a one-row scratch buffer vectorise well (SIMD compare + convert + store)
    L = out.shape[2]
    buf = np.empty(L, np.uint8)
    for k in range(rows.shape[0]):
        r = rows[k]
        _jit_window(seq, starts[r], rcs[r] != 0, buf)  # noqa: F821 - bound by _kernels()
        for ch in range(4):
            o = out[r, ch]
            for j in range(L):
                o[j] = np.float32(1.0) if buf[j] == ch else np.float32(0.0)


def _py_code_rows(seq, rows, starts, rcs, out):  # pragma: no cover - compiled
    for k in range(rows.shape[0]):
        r = rows[k]
        _jit_window(seq, starts[r], rcs[r] != 0, out[r])  # noqa: F821 - bound by _kernels()


def _py_prefix_counts(seq, mask, prefix, rows, pos, out):  # pragma: no cover - compiled
    # out[r] = (G+C, N, repeat) counts over [0, pos[r]) of this chromosome: the prefix at the nearer
    # block boundary plus (or minus) a count over at most BLOCK / 2 bases
    nfull = prefix.shape[0] - 1
    half = 1 << (BLOCK_SHIFT - 1)
    for k in range(rows.shape[0]):
        r = rows[k]
        x = pos[r]
        blk = x >> BLOCK_SHIFT
        if (x & (BLOCK - 1)) > half and blk < nfull:
            a = x
            b = (blk + 1) << BLOCK_SHIFT
            sign = -1
            blk += 1
        else:
            a = blk << BLOCK_SHIFT
            b = x
            sign = 1
        gc = 0
        nn = 0
        rep = 0
        for p in range(a, b):
            c = seq[p]
            gc += (c == 1) | (c == 2)
            nn += c == 4
            rep += (mask[p >> 3] >> (7 - (p & 7))) & 1
        out[r, 0] = np.int64(prefix[blk, 0]) + sign * gc
        out[r, 1] = np.int64(prefix[blk, 1]) + sign * nn
        out[r, 2] = np.int64(prefix[blk, 2]) + sign * rep


_KERNELS = None


def _kernels() -> dict:
    """Compile (or load from numba's cache) the fetch kernels on first use."""
    global _KERNELS
    if _KERNELS is None:
        import numba

        jit = numba.njit(cache=True, nogil=True, boundscheck=False)
        g = globals()
        g["_jit_window"] = jit(_py_window)
        _KERNELS = {
            "onehot": jit(_py_onehot_rows),
            "codes": jit(_py_code_rows),
            "prefix": jit(_py_prefix_counts),
        }
    return _KERNELS


# ------------------------------------------------------------------------------------ cache building
def _npy_header(n: int) -> bytes:
    bio = io.BytesIO()
    np.lib.format.write_array_header_1_0(bio, {"descr": "|u1", "fortran_order": False, "shape": (n,)})
    return bio.getvalue()


class _ChromWriter:
    """Streams one chromosome's bytes into codes/mask .npy files and per-block counts."""

    def __init__(self, folder: Path, index: int, name: str, source: Path, line: int):
        self.name = name
        self.source = source
        self.line = line
        self.stem = f"{index:05d}"
        self.codes_fh = open(folder / f"{self.stem}.codes.npy", "wb")
        self.mask_fh = open(folder / f"{self.stem}.mask.npy", "wb")
        self.header_len = len(_npy_header(0))
        self.codes_fh.write(b"\0" * self.header_len)
        self.mask_fh.write(b"\0" * self.header_len)
        self.folder = folder
        self.size = 0
        self.tail = np.zeros(0, dtype=np.uint8)  # raw bytes of an incomplete block
        self.blocks: list[np.ndarray] = []  # (k, 3) uint16 counts per complete block

    def feed(self, raw: np.ndarray) -> None:
        i = 0
        if self.tail.size:
            k = min(BLOCK - self.tail.size, raw.size)
            self.tail = np.concatenate([self.tail, raw[:k]])
            i = k
            if self.tail.size < BLOCK:
                return
            self._write(self.tail)
            self.tail = np.zeros(0, dtype=np.uint8)
        m = (raw.size - i) // BLOCK * BLOCK
        if m:
            self._write(raw[i : i + m])
        self.tail = raw[i + m :].copy()

    def _write(self, raw: np.ndarray, full: bool = True) -> None:
        codes = _CODE[raw]
        if codes.size and codes.max() > 4:
            bad = raw[np.argmax(codes > 4)]
            raise InputError(
                f"{self.source}: unexpected character {chr(bad)!r} in the sequence of {self.name!r} "
                f"(header at line {self.line}); a FASTA sequence holds letters only",
            )
        lower = _LOWER[raw]
        self.codes_fh.write(codes.data)
        self.mask_fh.write(np.packbits(lower).data)
        self.size += raw.size
        if full:
            nb = raw.size // BLOCK
            cnt = np.empty((nb, 3), dtype=np.uint16)
            cnt[:, 0] = _GC_OF_CODE[codes].reshape(nb, BLOCK).sum(axis=1, dtype=np.uint16)
            cnt[:, 1] = _N_OF_CODE[codes].reshape(nb, BLOCK).sum(axis=1, dtype=np.uint16)
            cnt[:, 2] = lower.reshape(nb, BLOCK).sum(axis=1, dtype=np.uint16)
            self.blocks.append(cnt)

    def finish(self) -> dict:
        rep_tail = 0
        if self.tail.size:
            rep_tail = int(_LOWER[self.tail].sum())
            self._write(self.tail, full=False)
        n = self.size
        for fh, length in ((self.codes_fh, n), (self.mask_fh, (n + 7) // 8)):
            hdr = _npy_header(length)
            if len(hdr) != self.header_len:  # pragma: no cover - numpy's header is padded to 128 bytes
                raise RuntimeError("unexpected .npy header length")
            fh.seek(0)
            fh.write(hdr)
            fh.close()
        blocks = np.concatenate(self.blocks) if self.blocks else np.zeros((0, 3), dtype=np.uint16)
        dtype = np.int32 if n < 2**31 - 1 else np.int64
        prefix = np.zeros((blocks.shape[0] + 1, 3), dtype=dtype)
        np.cumsum(blocks, axis=0, dtype=dtype, out=prefix[1:])
        np.save(self.folder / f"{self.stem}.counts.npy", prefix)
        repeats = int(prefix[-1, 2]) + rep_tail
        return {"name": self.name, "size": n, "stem": self.stem, "repeats": repeats}

    def abort(self) -> None:
        self.codes_fh.close()
        self.mask_fh.close()


def _open_raw(path: Path):
    """(binary stream of FASTA bytes, raw file object for progress)."""
    raw = open(path, "rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    if path.suffix.lower() in (".gz", ".bgz", ".bgzf"):
        raw.close()
        raise InputError(
            f"{path}: not a gzip file although its name ends in {path.suffix}",
            hint="decompress-and-recompress it with gzip or bgzip, or rename it without .gz",
        )
    return raw, raw


class _FastaParser:
    """Streaming FASTA parser: chunks in, one `_ChromWriter` per record out (line numbers for errors)."""

    def __init__(self, path: Path, folder: Path):
        self.path, self.folder = path, folder
        self.chroms: list[dict] = []
        self.seen: dict[str, int] = {}
        self.writer: _ChromWriter | None = None
        self.line = 1  # line number at the start of the unprocessed data
        self.at_line_start = True
        self.carry = b""

    def _feed_seq(self, part: bytes) -> None:
        seq = part.translate(None, _STRIP)
        if not seq:
            return
        if self.writer is None:
            raise InputError(f"{self.path}: no FASTA header ('>name') before the sequence at line {self.line}")
        self.writer.feed(np.frombuffer(seq, dtype=np.uint8))

    def _start_chrom(self, header: bytes) -> None:
        self.close_record()
        fields = header.decode("utf-8", "replace").split()
        if not fields:
            raise InputError(f"{self.path}: empty sequence name in the header at line {self.line}")
        name = fields[0]
        if name in self.seen:
            raise InputError(
                f"{self.path}: duplicate sequence name {name!r} at line {self.line} "
                f"(first seen at line {self.seen[name]})"
            )
        self.seen[name] = self.line
        self.writer = _ChromWriter(self.folder, len(self.chroms), name, self.path, self.line)

    def close_record(self) -> None:
        """Finish the record being written, if any."""
        if self.writer is not None:
            self.chroms.append(self.writer.finish())
            self.writer = None

    def abort(self) -> None:
        """Drop the record being written, if any."""
        if self.writer is not None:
            self.writer.abort()

    def feed(self, chunk: bytes, eof: bool) -> None:
        """Parse one chunk (a header cut by the chunk's end is carried over to the next)."""
        buf = self.carry + chunk if self.carry else chunk
        self.carry = b""
        pos = 0
        nbuf = len(buf)
        while pos < nbuf:
            if self.at_line_start and buf[pos] == 0x3E:  # '>'
                h = pos
            else:
                k = buf.find(b"\n>", pos)
                h = -1 if k < 0 else k + 1
            if h < 0:
                part = buf[pos:]
                self._feed_seq(part)
                self.line += part.count(b"\n")
                self.at_line_start = buf[-1] == 0x0A
                return
            if h > pos:
                part = buf[pos:h]
                self._feed_seq(part)
                self.line += part.count(b"\n")
            e = buf.find(b"\n", h)
            if e < 0 and not eof:
                self.carry = buf[h:]
                self.at_line_start = True
                return
            e = nbuf if e < 0 else e
            self._start_chrom(buf[h + 1 : e].rstrip(b"\r"))
            self.line += 1
            pos = e + 1
            self.at_line_start = True


def _build_cache(path: Path, folder: Path) -> dict:
    """Parse FASTA `path` into cache files in `folder` (which exists and is empty); return the index."""
    global _BUILDS
    _BUILDS += 1
    parser = _FastaParser(path, folder)
    total = path.stat().st_size
    stream, raw = _open_raw(path)
    show = total >= _PROGRESS_MIN_BYTES
    bar = progress(transient=True, disable=None if show else True)
    task = bar.add_task(f"caching {path.name} (MB)", total=max(1, total >> 20))
    try:
        with bar:
            while True:
                try:
                    chunk = stream.read(_CHUNK)
                except (gzip.BadGzipFile, zlib.error, EOFError) as e:
                    raise InputError(f"{path}: corrupt or truncated gzip data ({e})") from None
                eof = not chunk
                parser.feed(chunk, eof)
                bar.update(task, completed=raw.tell() >> 20)
                if eof:
                    break
            parser.close_record()
    except BaseException:
        parser.abort()
        raise
    finally:
        stream.close()
        raw.close()
    chroms = parser.chroms
    if not chroms:
        what = "is empty" if parser.line <= 1 else "has no FASTA header ('>name' line)"
        raise InputError(f"{path}: {what}; expected a FASTA file")
    return {
        "format": FORMAT,
        "block": BLOCK,
        "source": str(path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "has_repeats": any(c["repeats"] > 0 for c in chroms),
        "total": int(sum(c["size"] for c in chroms)),
        "chroms": chroms,
    }


def _read_index(folder: Path) -> dict | None:
    try:
        idx = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(idx, dict) or idx.get("format") != FORMAT or idx.get("block") != BLOCK:
        return None
    return idx


def _remove_stale_tmp(root: Path, checksum: str) -> None:
    """Remove temp build folders of this checksum left by dead processes on this host."""
    host = socket.gethostname()
    for d in root.glob(f".tmp-{checksum[:16]}-*"):
        parts = d.name.split("-")
        try:
            d_host, pid = "-".join(parts[2:-2]), int(parts[-2])
        except (ValueError, IndexError):
            continue
        if d_host != host:
            continue
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


# ----------------------------------------------------------------------------------------- checksum
def _checksum(path: Path, root: Path) -> str:
    """sha256 of the file, remembered per (path, size, mtime, inode) so big files are hashed once.

    Like git's racy-index rule, a remembered checksum is trusted only when the file was last modified well
    before it was hashed (a file rewritten within the timestamp granularity is hashed again).
    """
    st = path.stat()
    key = {
        "path": str(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
    }
    import hashlib

    memo = root / ".checksums" / (hashlib.sha1(str(path).encode()).hexdigest()[:20] + ".json")
    try:
        rec = json.loads(memo.read_text())
        if (
            all(rec.get(k) == v for k, v in key.items())
            and st.st_mtime_ns < rec["hashed_at_ns"] - 2_000_000_000
        ):
            return rec["checksum"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    hashed_at = time.time_ns()
    digest = file_checksum(path)
    try:
        atomic_write_text(memo, json.dumps({**key, "checksum": digest, "hashed_at_ns": hashed_at}))
    except OSError:
        pass
    return digest


# --------------------------------------------------------------------------------------------- Genome
def _as_int_array(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iu":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.floor(a)):
            raise ValueError(f"{what} must be whole numbers")
        return a.astype(np.int64)
    if a.dtype.kind == "b" or a.size == 0:
        return a.astype(np.int64)
    try:
        return a.astype(np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be integers, got dtype {a.dtype}") from None


class Genome:
    """A FASTA genome cached as uint8 code arrays (see the module docstring).

    >>> g = Genome("ce10.fa.gz")                       # doctest: +SKIP
    >>> x = g.fetch_onehot(["chrI"] * 2, [0, 500], length=1000)   # float32 (2, 4, 1000)
    """

    def __init__(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        p = Path(path).expanduser()
        if not p.exists():
            raise InputError(f"{p}: genome file does not exist")
        if not p.is_file():
            raise InputError(f"{p}: genome path is not a file")
        self.path = p.resolve()
        self._cache_root = default_cache_root(cache_dir).resolve()
        self.checksum = _checksum(self.path, self._cache_root)
        self.cache_path = self._cache_root / self.checksum
        idx = _read_index(self.cache_path)
        if idx is None:
            idx = self._build()
        self._load_index(idx)

    # -- cache ---------------------------------------------------------------------------------------
    def _build(self) -> dict:
        root = self._cache_root
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(root, self.checksum)
        tmp = root / f".tmp-{self.checksum[:16]}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            idx = _build_cache(self.path, tmp)
            (tmp / "index.json").write_text(json.dumps(idx, indent=1))
            final = self.cache_path
            if final.exists():  # an invalid (old format or broken) cache: move it aside first
                if _read_index(final) is not None:  # someone else finished meanwhile
                    return _read_index(final)
                trash = root / f".trash-{uuid.uuid4().hex}"
                try:
                    os.replace(final, trash)
                    shutil.rmtree(trash, ignore_errors=True)
                except OSError:
                    pass
            try:
                os.rename(tmp, final)
            except OSError:
                other = _read_index(final)  # a concurrent build won the race
                if other is None:
                    raise
                return other
            return idx
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _load_index(self, idx: dict) -> None:
        self._index = idx
        self._chroms = [c["name"] for c in idx["chroms"]]
        self._sizes = {c["name"]: int(c["size"]) for c in idx["chroms"]}
        self._stems = {c["name"]: c["stem"] for c in idx["chroms"]}
        self._pos = {c: i for i, c in enumerate(self._chroms)}
        self._size_arr = np.array([self._sizes[c] for c in self._chroms], dtype=np.int64)
        self._total = int(self._size_arr.sum())
        self._has_repeats = bool(idx.get("has_repeats", False))
        self._arrays: dict[tuple[str, str], np.ndarray] = {}

    def _array(self, chrom: str, kind: str) -> np.ndarray:
        key = (chrom, kind)
        a = self._arrays.get(key)
        if a is None:
            f = self.cache_path / f"{self._stems[chrom]}.{kind}.npy"
            if kind != "counts" and self._sizes[chrom] == 0:
                a = np.zeros(0, dtype=np.uint8)
                a.flags.writeable = False
            else:
                try:
                    a = np.load(f, mmap_mode="r")
                except (OSError, ValueError) as e:
                    raise InputError(
                        f"{self.path}: genome cache file {f} is missing or broken ({e})",
                        hint=f"delete {self.cache_path} and open the genome again to rebuild it",
                    ) from None
            self._arrays[key] = a
        return a

    # -- pickling (torch DataLoader workers): only the path and cache location travel ---------------------
    def __getstate__(self) -> dict:
        return {"path": str(self.path), "cache_root": str(self._cache_root), "checksum": self.checksum}

    def __setstate__(self, state: dict) -> None:
        self.path = Path(state["path"])
        self._cache_root = Path(state["cache_root"])
        self.checksum = state["checksum"]
        self.cache_path = self._cache_root / self.checksum
        idx = _read_index(self.cache_path)
        if idx is None:  # cache removed meanwhile: rebuild from the file, which must still match
            if not self.path.exists():
                raise InputError(f"{self.path}: genome file does not exist (and its cache is gone)")
            if _checksum(self.path, self._cache_root) != self.checksum:
                raise InputError(f"{self.path}: genome file changed since this Genome was opened")
            idx = self._build()
        self._load_index(idx)

    # -- basic properties ----------------------------------------------------------------------------
    @property
    def chroms(self) -> list[str]:
        """Chromosome names in FASTA order."""
        return self._chroms

    @property
    def sizes(self) -> dict[str, int]:
        """Chromosome -> length in bp."""
        return self._sizes

    @property
    def has_repeats(self) -> bool:
        """True when the FASTA has any lower-case (soft-masked) base."""
        return self._has_repeats

    def __len__(self) -> int:
        return self._total

    def __contains__(self, chrom) -> bool:
        return chrom in self._pos

    def __repr__(self) -> str:
        n = len(self._chroms)
        return (
            f"Genome({self.path.name!r}, {n} chromosome{'s' if n != 1 else ''}, {self._total:,} bp, "
            f"checksum={self.checksum[:12]}, cache={str(self.cache_path)!r})"
        )

    def codes(self, chrom: str) -> np.ndarray:
        """uint8 codes of a whole chromosome (read-only memmap).

        Parameters
        ----------
        chrom
            Chromosome name (unknown: an error).

        Returns
        -------
        numpy.ndarray
            ``(size,)`` uint8 codes (A=0 C=1 G=2 T=3 N=4).
        """
        self._check_chrom(chrom)
        return self._array(chrom, "codes")

    def release(self, chrom: str) -> None:
        """Drop chromosome `chrom`'s memory-mapped pages from this process's resident memory.

        The pages are file-backed and are read again on demand, so this only lowers peak RSS when a long
        job walks the genome chromosome by chromosome (genome-wide prediction). A no-op where the platform
        has no ``MADV_DONTNEED`` or the chromosome is not memory-mapped.

        Parameters
        ----------
        chrom
            Chromosome name (unknown: an error).
        """
        import mmap

        codes = self.codes(chrom)
        mapping = getattr(codes, "_mmap", None)  # numpy.memmap keeps its mmap.mmap here (no public accessor)
        if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
            mapping.madvise(mmap.MADV_DONTNEED)

    def repeat_mask(self, chrom: str) -> np.ndarray:
        """``(size,)`` bool of chromosome `chrom` (unknown: an error): True where the FASTA had lower case
        (soft-masked repeat)."""
        self._check_chrom(chrom)
        n = self._sizes[chrom]
        if n == 0:
            return np.zeros(0, dtype=bool)
        return np.unpackbits(self._array(chrom, "mask"), count=n).view(bool)

    # -- argument handling ------------------------------------------------------------------------------
    def _unknown(self, chrom) -> ChromosomeError:
        known = ", ".join(self._chroms[:5]) + (
            f", ... ({len(self._chroms)} in all)" if len(self._chroms) > 5 else ""
        )
        hint = None
        c = str(chrom)
        alt = c[3:] if c.startswith("chr") else "chr" + c
        if alt in self._pos:
            hint = f"this genome names it {alt!r}; the naming styles differ ('1' vs 'chr1')"
        return ChromosomeError(
            f"unknown chromosome {c!r} for genome {self.path.name}; known: {known}", hint=hint
        )

    def _check_chrom(self, chrom) -> None:
        if chrom not in self._pos:
            raise self._unknown(chrom)

    def _chrom_idx(self, chroms, n: int | None) -> tuple[np.ndarray | int, int]:
        """-> (int index broadcast to all rows, or an int64 array of indices; number of rows)."""
        if isinstance(chroms, (str, np.str_)):
            try:
                return self._pos[chroms], n
            except KeyError:
                raise self._unknown(chroms) from None
        cat = getattr(chroms, "cat", None)  # a pandas categorical Series
        if cat is not None:
            codes = np.asarray(cat.codes, dtype=np.int64)
            cats = list(cat.categories)
            lut = np.array([self._pos.get(c, -1) for c in cats] + [-1], dtype=np.int64)
            idx = lut[codes]
        elif isinstance(chroms, np.ndarray) and chroms.ndim == 1 and chroms.size > 1000:
            # sorted-ish names (tiles, BED files): look up one name per run of equal names
            change = np.flatnonzero(chroms[1:] != chroms[:-1]) + 1
            first = np.concatenate([[0], change])
            pos = self._pos
            try:
                run_idx = np.fromiter((pos[c] for c in chroms[first]), dtype=np.int64, count=first.size)
            except KeyError as e:
                raise self._unknown(e.args[0]) from None
            idx = np.repeat(run_idx, np.diff(np.concatenate([first, [chroms.size]])))
        else:
            pos = self._pos
            try:
                idx = np.fromiter((pos[c] for c in chroms), dtype=np.int64, count=len(chroms))
            except KeyError as e:
                raise self._unknown(e.args[0]) from None
        if (idx < 0).any():
            bad = np.asarray(chroms)[np.argmax(idx < 0)]
            raise self._unknown(bad)
        if n is not None and idx.size != n:
            raise ValueError(f"got {idx.size} chromosome names for {n} intervals")
        return idx, idx.size

    def _prepare(self, chroms, starts, length, ends, pad, rc, *, fixed: bool):
        starts = _as_int_array(starts, "starts")
        if starts.ndim == 0:
            n0 = None if isinstance(chroms, (str, np.str_)) else len(chroms)
            starts = np.full(n0 if n0 is not None else 1, int(starts), dtype=np.int64)
        starts = starts.ravel()
        cidx, n = self._chrom_idx(chroms, starts.size)
        if ends is not None:
            ends = _as_int_array(ends, "ends").ravel()
            if ends.size == 1 and n != 1:
                ends = np.full(n, ends[0], dtype=np.int64)
            if ends.size != n:
                raise ValueError(f"got {ends.size} ends for {n} starts")
            lengths = ends - starts
            if fixed:
                if n and (lengths != lengths[0]).any():
                    raise InputError(
                        f"fetching from {self.path.name}: intervals have different lengths "
                        f"({lengths.min()}..{lengths.max()}); a 2-D batch needs equal lengths "
                        "(give `length=`, or use fetch_strings for variable lengths)"
                    )
                L = int(lengths[0]) if n else 0
                if length is not None and n and L != int(length):
                    raise ValueError(f"length={length} disagrees with ends - starts = {L}")
            else:
                L = lengths
        elif length is not None:
            L = int(length)
            lengths = np.full(n, L, dtype=np.int64)
        else:
            raise TypeError("give `length` or `ends`")
        if (lengths < 0).any():
            i = int(np.argmax(lengths < 0))
            raise ChromosomeError(
                f"interval {self._name(cidx, i)}:{starts[i]}-{starts[i] + lengths[i]} ends before it starts "
                f"(genome {self.path.name})"
            )
        sizes = self._size_arr[cidx] if not isinstance(cidx, (int, np.integer)) else self._size_arr[cidx]
        if not pad and n:
            bad = (starts < 0) | (starts + lengths > sizes)
            if bad.any():
                i = int(np.argmax(bad))
                size_i = int(sizes if np.ndim(sizes) == 0 else sizes[i])
                name = self._name(cidx, i)
                where = (
                    "starts before 0" if starts[i] < 0 else f"extends past the end of {name} ({size_i:,} bp)"
                )
                raise ChromosomeError(
                    f"interval {name}:{starts[i]}-{starts[i] + lengths[i]} {where} in genome {self.path.name}",
                    hint="pass pad=True to fill positions outside the chromosome with N",
                )
        if rc is None:
            rcs = np.zeros(n, dtype=np.uint8)
        else:
            rcs = np.asarray(rc).astype(np.uint8, copy=False).ravel()
            if rcs.size == 1 and n != 1:
                rcs = np.full(n, rcs[0], dtype=np.uint8)
            if rcs.size != n:
                raise ValueError(f"rc has {rcs.size} entries for {n} intervals")
        return cidx, starts, L, rcs, n

    def _name(self, cidx, i: int) -> str:
        return self._chroms[cidx if isinstance(cidx, (int, np.integer)) else int(cidx[i])]

    def _groups(self, cidx, n: int):
        """Yield (chrom name, int64 row indices) per chromosome present."""
        if isinstance(cidx, (int, np.integer)):
            yield self._chroms[cidx], np.arange(n, dtype=np.int64)
            return
        if n == 0:
            return
        first = cidx[0]
        if (cidx == first).all():
            yield self._chroms[first], np.arange(n, dtype=np.int64)
            return
        order = np.argsort(cidx, kind="stable")
        sc = cidx[order]
        cuts = np.flatnonzero(sc[1:] != sc[:-1]) + 1
        bounds = np.concatenate([[0], cuts, [n]])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            yield self._chroms[sc[a]], order[a:b]

    # -- fetching ---------------------------------------------------------------------------------------
    def _fill(self, kernel: str, cidx, starts, rcs, n: int, out: np.ndarray) -> np.ndarray:
        """Fill `out` (rows of equal length) with the `kernel` ('codes' or 'onehot') per chromosome."""
        if n == 0 or out.shape[-1] == 0:
            return out
        k = _kernels()[kernel]
        for chrom, rows in self._groups(cidx, n):
            k(np.asarray(self._array(chrom, "codes")), rows, starts, rcs, out)
        return out

    def fetch_codes(
        self, chroms: Sequence[str] | str, starts, length: int | None = None, ends=None, *, pad: bool = False,
        rc=None,
    ) -> np.ndarray:
        """uint8 codes (N, L) of N equal-length intervals; `rc` (bool per row) reverse-complements rows.

        Parameters
        ----------
        chroms
            One chromosome name for all rows, or one per row.
        starts
            0-based starts (a scalar or one per row).
        length
            Interval length L (or give `ends`).
        ends
            Interval ends; all ``ends - starts`` must be equal.
        pad
            Fill positions outside the chromosome with N instead of raising.
        rc
            Reverse-complement flag, one per row or a single one for all (None: none).

        Returns
        -------
        numpy.ndarray
            ``(N, L)`` uint8 codes.
        """
        cidx, starts, L, rcs, n = self._prepare(chroms, starts, length, ends, pad, rc, fixed=True)
        return self._fill("codes", cidx, starts, rcs, n, np.empty((n, L), dtype=np.uint8))

    def fetch_onehot(
        self, chroms: Sequence[str] | str, starts, length: int | None = None, ends=None, *, pad: bool = False,
        rc=None, out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One-hot float32 (N, 4, L) (channels A, C, G, T; N is an all-zero column).

        `out`: a C-contiguous float32 (N, 4, L) array to fill (reusing one buffer per batch saves the
        page faults of a fresh allocation).

        Parameters
        ----------
        chroms, starts, length, ends, pad, rc
            As in `fetch_codes`.
        out
            See above (None: a new array).

        Returns
        -------
        numpy.ndarray
            ``(N, 4, L)`` float32 (`out` when given).
        """
        cidx, starts, L, rcs, n = self._prepare(chroms, starts, length, ends, pad, rc, fixed=True)
        if out is None:
            out = np.empty((n, 4, L), dtype=np.float32)
        elif out.shape != (n, 4, L) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {(n, 4, L)}")
        return self._fill("onehot", cidx, starts, rcs, n, out)

    def fetch_strings(
        self, chroms: Sequence[str] | str, starts, ends, *, pad: bool = False, rc=None
    ) -> list[str]:
        """Upper-case 'ACGTN' strings of intervals (lengths may differ).

        Parameters
        ----------
        chroms
            One chromosome name for all rows, or one per row.
        starts, ends
            0-based half-open intervals.
        pad
            Fill positions outside the chromosome with N instead of raising.
        rc
            Reverse-complement flag, one per row or a single one for all (None: none).

        Returns
        -------
        list[str]
        """
        cidx, starts, lengths, rcs, n = self._prepare(chroms, starts, None, ends, pad, rc, fixed=False)
        out: list[str] = []
        for i in range(n):
            name = self._name(cidx, i)
            s, L = int(starts[i]), int(lengths[i])
            seq = np.asarray(self._array(name, "codes"))
            a, b = max(s, 0), min(s + L, self._sizes[name])
            piece = seq[a:b] if b > a else seq[:0]
            if a != s or b != s + L:
                piece = np.concatenate(
                    [
                        np.full(min(a - s, L), 4, np.uint8),
                        piece,
                        np.full(max(0, s + L - max(b, s)), 4, np.uint8),
                    ]
                )[:L]
            if rcs[i]:
                piece = _COMP[piece][::-1]
            out.append(_LETTERS[piece].tobytes().decode("ascii"))
        return out

    # -- composition ------------------------------------------------------------------------------------
    def _interval_counts(self, chroms, starts, ends) -> tuple[np.ndarray, np.ndarray]:
        """(counts (N, 3) int64 of G+C, N, repeat bases; lengths (N,))."""
        cidx, starts, lengths, _, n = self._prepare(chroms, starts, None, ends, False, None, fixed=False)
        ends = starts + lengths
        a = np.empty((n, 3), dtype=np.int64)
        b = np.empty((n, 3), dtype=np.int64)
        if n:
            k = _kernels()["prefix"]
            for chrom, rows in self._groups(cidx, n):
                seq = np.asarray(self._array(chrom, "codes"))
                mask = np.asarray(self._array(chrom, "mask"))
                prefix = np.asarray(self._array(chrom, "counts"))
                k(seq, mask, prefix, rows, starts, a)
                k(seq, mask, prefix, rows, ends, b)
        return b - a, lengths

    def gc_fraction(self, chroms, starts, ends) -> np.ndarray:
        """(G+C) / non-N bases per interval (NaN when all N or empty).

        Parameters
        ----------
        chroms
            One chromosome name for all rows, or one per row.
        starts, ends
            0-based half-open intervals inside their chromosome.

        Returns
        -------
        numpy.ndarray
            ``(N,)`` float64.
        """
        cnt, lengths = self._interval_counts(chroms, starts, ends)
        with np.errstate(invalid="ignore", divide="ignore"):
            return cnt[:, 0] / (lengths - cnt[:, 1]).astype(np.float64)

    def repeat_fraction(self, chroms, starts, ends) -> np.ndarray:
        """Soft-masked (lower-case) fraction per interval (NaN when empty); arguments and result as
        `gc_fraction`."""
        cnt, lengths = self._interval_counts(chroms, starts, ends)
        with np.errstate(invalid="ignore", divide="ignore"):
            return cnt[:, 2] / lengths.astype(np.float64)

    def n_fraction(self, chroms, starts, ends) -> np.ndarray:
        """N fraction per interval (NaN when empty); arguments and result as `gc_fraction`."""
        cnt, lengths = self._interval_counts(chroms, starts, ends)
        with np.errstate(invalid="ignore", divide="ignore"):
            return cnt[:, 1] / lengths.astype(np.float64)


def _fasta_record_name(path: Path, lineno: int, header: bytes, seen) -> str:
    """The record name of FASTA `header` (a ``>`` line); an `InputError` for an empty or repeated name."""
    fields = header[1:].decode("utf-8", "replace").split()
    if not fields:
        raise InputError(f"{path}:{lineno}: empty sequence name in the FASTA header")
    if fields[0] in seen:
        raise InputError(f"{path}:{lineno}: duplicate sequence name {fields[0]!r}")
    return fields[0]


def read_fasta(path: str | os.PathLike, *, with_mask: bool = False):
    """Read a whole FASTA file (plain or gzip) into memory as codes, without a cache.

    For small genomes read once (the simulator's real backgrounds and realism checks, tests); use `Genome`
    for anything fetched repeatedly.

    Parameters
    ----------
    path
        The FASTA file; gzip is recognised by its magic bytes.
    with_mask
        Also return the soft mask (True where the base is lower case).

    Returns
    -------
    dict or tuple of dict
        ``{chrom: uint8 codes}`` (A=0, C=1, G=2, T=3, anything else N=4) in file order, and with `with_mask`
        also ``{chrom: bool mask}``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: FASTA file does not exist")
    stream, raw = _open_raw(p)
    parts: dict[str, list[bytes]] = {}
    cur = None
    with raw, stream:
        try:
            for lineno, line in enumerate(stream, 1):
                if line.startswith(b">"):
                    cur = _fasta_record_name(p, lineno, line, parts)
                    parts[cur] = []
                elif cur is not None:
                    parts[cur].append(line.strip())
                elif line.strip():
                    raise InputError(f"{p}:{lineno}: sequence text before the first '>name' header")
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise InputError(f"{p}: corrupt or truncated gzip data ({e})", hint="download it again") from None
    if not parts:
        raise InputError(f"{p}: has no FASTA header ('>name' line); expected a FASTA file")
    codes, masks = {}, {}
    for chrom, chunks in parts.items():
        data = np.frombuffer(b"".join(chunks), dtype=np.uint8)
        codes[chrom] = _ENCODE[data]
        if with_mask:
            masks[chrom] = _LOWER[data].astype(bool)
    return (codes, masks) if with_mask else codes

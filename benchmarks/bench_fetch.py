"""Random 1-kb windows -> one-hot float32 batches: bindscape vs pyfaidx vs in-memory numpy.

    NUMBA_NUM_THREADS=1 python benchmarks/bench_fetch.py [--genome FA] [--n-windows 50000] [--batch 256]

(a) `Genome.fetch_onehot` (memory-mapped uint8 cache, fused numba gather + one-hot), with a fresh output
    per batch and with a reused `out=` buffer;
(b) pyfaidx.Fasta on an uncompressed copy (written to a temp dir beforehand, not timed) + numpy one-hot;
(c) plain numpy per-channel comparison on the whole genome held in RAM as uint8 (memory-bound reference).
Each method gets one warm-up batch (numba compilation is excluded). Prints windows/s and the ratios.
Runs single-threaded.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "yeast" / "sacCer3.fa.gz"
LUT = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    LUT[_c] = LUT[_c + 32] = _i


def random_genome(path: Path, seed: int, sizes=(3_000_000, 2_000_000, 1_500_000, 1_000_000)) -> Path:
    rng = np.random.default_rng(seed)
    with open(path, "w") as fh:
        for i, n in enumerate(sizes):
            seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, n)].tobytes().decode()
            fh.write(f">chr{i + 1}\n")
            for j in range(0, n, 60):
                fh.write(seq[j : j + 60] + "\n")
    return path


def plain_copy(src: Path, dst: Path) -> Path:
    opener = gzip.open if src.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(src, "rb") as fi, open(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo, 16 << 20)
    return dst


def measure(methods: dict, batches, rounds: int) -> dict:
    """windows/s per method: the batches are split into `rounds` slices and the methods take turns on each
    slice (so a burst of load from other processes hits all methods alike); median over rounds."""
    for fn in methods.values():
        fn(*batches[0])  # warm-up (numba compilation, page cache, pyfaidx index)
    work = batches[1:]
    per = max(1, len(work) // rounds)
    rates: dict = {k: [] for k in methods}
    for r in range(0, len(work), per):
        part = work[r : r + per]
        for k, fn in methods.items():
            t = time.perf_counter()
            n = 0
            for b in part:
                n += fn(*b).shape[0]
            rates[k].append(n / (time.perf_counter() - t))
    return {k: float(np.median(v)) for k, v in rates.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome", type=Path, default=DEFAULT)
    ap.add_argument("--n-windows", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5, help="methods alternate over this many slices")
    ap.add_argument("--cache-dir", type=Path, default=None, help="genome cache (default: a temp dir)")
    args = ap.parse_args(argv)

    import pyfaidx

    from bindscape.io.genome import Genome

    tmp = Path(tempfile.mkdtemp(prefix="bench_fetch-"))
    try:
        src = args.genome
        if not src.exists():
            print(f"{src} not found; using a seeded random genome")
            src = random_genome(tmp / "random.fa", args.seed)
        g = Genome(src, cache_dir=args.cache_dir or tmp / "cache")
        L, B = args.length, args.batch
        chroms = [c for c in g.chroms if g.sizes[c] > L]
        sizes = np.array([g.sizes[c] for c in chroms], dtype=np.int64)
        rng = np.random.default_rng(args.seed)
        nb = max(2, args.n_windows // B + 1)  # + 1 warm-up batch
        ci = rng.choice(len(chroms), size=nb * B, p=sizes / sizes.sum())
        starts = rng.integers(0, sizes[ci] - L + 1)
        names = np.array(chroms, dtype=object)[ci]
        batches = [(names[i * B : (i + 1) * B], starts[i * B : (i + 1) * B]) for i in range(nb)]
        print(
            f"genome {src.name}: {len(g):,} bp, {len(g.chroms)} chromosomes; "
            f"{(nb - 1) * B:,} windows of {L} bp in batches of {B}"
        )

        buf = np.empty((B, 4, L), dtype=np.float32)
        fa_path = plain_copy(src, tmp / "plain.fa")  # pyfaidx needs random access: not timed
        fa = pyfaidx.Fasta(str(fa_path), sequence_always_upper=True, as_raw=True)
        chan = np.arange(4, dtype=np.uint8)[None, :, None]

        def pyfaidx_batch(c, s):
            seqs = "".join(fa[ch][int(a) : int(a) + L] for ch, a in zip(c, s, strict=True))
            codes = LUT[np.frombuffer(seqs.encode(), np.uint8)].reshape(len(s), L)
            return (codes[:, None, :] == chan).astype(np.float32)

        genome = {c: np.array(g.codes(c)) for c in chroms}  # the whole genome in RAM

        def numpy_batch(c, s):
            codes = np.empty((len(s), L), dtype=np.uint8)
            for k, (ch, a) in enumerate(zip(c, s, strict=True)):
                codes[k] = genome[ch][a : a + L]
            out = np.empty((len(s), 4, L), dtype=np.float32)
            for j in range(4):
                np.equal(codes, j, out=out[:, j, :], casting="unsafe")
            return out

        methods = {
            "bindscape": lambda c, s: g.fetch_onehot(c, s, length=L),
            "bindscape (out=)": lambda c, s: g.fetch_onehot(c, s, length=L, out=buf),
            "pyfaidx + numpy": pyfaidx_batch,
            "numpy in-memory": numpy_batch,
        }
        x = methods["bindscape"](*batches[0])
        assert np.array_equal(x, pyfaidx_batch(*batches[0])) and np.array_equal(x, numpy_batch(*batches[0]))
        res = measure(methods, batches, args.rounds)

        for k, v in res.items():
            print(f"{k:>20}: {v:>10,.0f} windows/s")
        print(f"{'bindscape/pyfaidx':>20}: {res['bindscape'] / res['pyfaidx + numpy']:.2f}x")
        print(f"{'bindscape/numpy-mem':>20}: {res['bindscape'] / res['numpy in-memory']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

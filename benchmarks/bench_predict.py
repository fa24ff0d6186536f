"""`bindscape predict` (a subprocess, as users run it) vs a bare torch loop, one thread, same model and windows.

    python benchmarks/bench_predict.py [--stride 50] [--genome-stride 250] [--repeats 3] [--genome-repeats 3]
                                       [--worm-stride 2000] [--skip-worm] [--batch-sweep]

Model: the default `bindscape_cnn`, untrained (seed 0), saved with `bindscape.train.save_model`. Windows: the
model's length (100 bp) every `--stride` bp (the default tiling step: half the length) on three chromosomes,
every `--genome-stride` bp on the whole genome (fewer windows, to keep the run short), as `predict --genome`
tiles them.

(a) yeast, three chromosomes (chrI, chrVI, chrIII) and the whole genome: `bindscape predict --threads 1
    -o out.parquet` vs the reference, a bare loop in a fresh interpreter (torch + the genome's one-hot,
    RC-averaged forward in batches of 64, probabilities saved with numpy). Both are timed from process start
    to exit, so start-up (imports, checkpoint loading) counts. The outputs must be identical. A second
    reference, the same loop filling one reused batch buffer (``fetch_onehot(..., out=buf)``, as bindscape
    does), separates bindscape's own overhead from its buffer reuse.
(s) start-up: the same three commands on 12 windows (chrI, stride 20,000): the fixed cost of each.
(b) worm (100 Mb): the whole genome to bigWig vs its chromosome chrI to bigWig (`-o x.bw`): peak RSS ratio
    (memory must not grow with the genome: <= 1.2).
(c) `--batch-sweep`: `bindscape predict` on (a)'s three chromosomes at batch sizes 64, 128, 256 and 512.

Peak RSS is each process's own (``os.wait4``). Prints medians over `--repeats` of windows per second and
per CPU second (user + system: fairer when other work shares the machine) and their ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
YEAST = DATA / "yeast" / "sacCer3.fa.gz"
WORM = DATA / "worm" / "ce10.fa.gz"
THREE = ["chrI", "chrVI", "chrIII"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "BINDSCAPE_PROGRESS": "0"}

BARE = r"""
import sys, numpy as np, torch
torch.set_num_threads(1)
from bindscape.io.genome import Genome
from bindscape.train.checkpoint import load_checkpoint
ckpt, fasta, stride, out, chroms = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
model = load_checkpoint(ckpt).model.eval()
g = Genome(fasta)
L, B, probs = model.length, 64, []
with torch.no_grad():
    for c in chroms or list(g.sizes):
        size = g.sizes[c]
        st = np.arange(0, size - L + 1, stride, dtype=np.int64) if size >= L else np.zeros(1, np.int64)
        if size >= L and st[-1] + L < size:
            st = np.append(st, size - L)
        for i in range(0, len(st), B):
            x = torch.from_numpy(g.fetch_onehot(c, st[i:i + B], length=L, pad=True))  # FETCH
            p = 0.5 * (torch.sigmoid(model(x).float()) + torch.sigmoid(model(x.flip(1, 2)).float()))
            probs.append(p.numpy())
np.save(out, np.concatenate(probs))
"""


#: the reference with one reused batch buffer (what bindscape's loop does)
BARE_REUSE = BARE.replace("L, B, probs = model.length, 64, []", "L, B, probs = model.length, 64, []\n"
                          "buf = np.empty((B, 4, L), dtype=np.float32)").replace(
    "pad=True))  # FETCH", "pad=True, out=buf[:len(st[i:i + B])]))")
assert BARE_REUSE.count("out=buf") == 1


def run(cmd: list[str]) -> dict:
    """Run `cmd`; wall seconds, CPU seconds (user + sys) and peak RSS (MiB) of that process alone."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss / 1024}


def bindscape_cmd(ckpt, fasta, chroms, stride, out, batch=None) -> list[str]:
    cmd = [sys.executable, "-m", "bindscape", "predict", "-c", str(ckpt), "-g", str(fasta), "--stride", str(stride),
           "--threads", "1", "-o", str(out)]
    for c in chroms:
        cmd += ["--chrom", c]
    return cmd + (["--batch-size", str(batch)] if batch else [])


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def compare(name, ckpt, fasta, chroms, stride, repeats, tmp: Path) -> None:
    """(a): bindscape vs the two bare loops on `chroms` (empty: the whole genome), `repeats` times each,
    interleaved."""
    rows: dict[str, list[dict]] = {"bindscape predict": [], "bare torch loop": [], "bare, reused buffer": []}
    outs = {"bare torch loop": tmp / "bare.npy", "bare, reused buffer": tmp / "reuse.npy"}
    for _ in range(repeats):
        rows["bindscape predict"].append(run(bindscape_cmd(ckpt, fasta, chroms, stride, tmp / "ours.parquet")))
        for who, code in (("bare torch loop", BARE), ("bare, reused buffer", BARE_REUSE)):
            rows[who].append(run([sys.executable, "-c", code, str(ckpt), str(fasta), str(stride), str(outs[who]),
                                  *chroms]))
    a = pd.read_parquet(tmp / "ours.parquet")["prob"].to_numpy()
    same = all(np.array_equal(a, np.load(f)[:, 0]) for f in outs.values())
    n = len(a)
    print(f"{name}: {n:,} windows, outputs identical: {same} (medians of {repeats} interleaved runs)")
    for who, r in rows.items():
        print(f"  {who:20s} {n / med(r, 'wall'):8.1f} windows/s  {n / med(r, 'cpu'):8.1f} windows/CPU-s  "
              f"peak RSS {med(r, 'rss'):7.1f} MiB  (wall {med(r, 'wall'):.2f} s, CPU {med(r, 'cpu'):.2f} s)")
    ours = rows["bindscape predict"]
    for who in outs:
        ref = rows[who]
        print(f"  ratio bindscape / {who}: {med(ref, 'wall') / med(ours, 'wall'):.3f}x windows/s, "
              f"{med(ref, 'cpu') / med(ours, 'cpu'):.3f}x windows/CPU-s, peak RSS "
              f"{med(ours, 'rss') / med(ref, 'rss'):.3f}x")
    if not same:
        raise SystemExit("outputs differ")


def worm(ckpt, stride, tmp: Path) -> None:
    """(b): peak RSS of the whole worm genome to bigWig vs one chromosome to bigWig."""
    one = run(bindscape_cmd(ckpt, WORM, ["chrI"], stride, tmp / "chrI.bw"))
    whole = run(bindscape_cmd(ckpt, WORM, [], stride, tmp / "ce10.bw"))
    print(f"worm -> bigWig, stride {stride}: chrI {one['rss']:.1f} MiB ({one['wall']:.1f} s), whole genome "
          f"{whole['rss']:.1f} MiB ({whole['wall']:.1f} s): peak RSS ratio {whole['rss'] / one['rss']:.3f} "
          f"(bigWig {os.path.getsize(tmp / 'ce10.bw') / 2**20:.1f} MiB)")


def sweep(ckpt, stride, tmp: Path) -> None:
    """(c): batch sizes on the three yeast chromosomes (one run each)."""
    for b in (64, 128, 256, 512):
        r = run(bindscape_cmd(ckpt, YEAST, THREE, stride, tmp / "s.parquet", batch=b))
        n = len(pd.read_parquet(tmp / "s.parquet"))
        print(f"  batch {b:3d}: {n / r['wall']:7.1f} windows/s, {n / r['cpu']:7.1f} windows/CPU-s, "
              f"peak RSS {r['rss']:.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stride", type=int, default=50, help="tiling step on the three yeast chromosomes (bp)")
    ap.add_argument("--genome-stride", type=int, default=250, help="tiling step on the whole yeast genome (bp)")
    ap.add_argument("--worm-stride", type=int, default=2000, help="worm tiling step (bp)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the three-chromosome case")
    ap.add_argument("--genome-repeats", type=int, default=3, help="repeats of the whole-genome case")
    ap.add_argument("--startup-repeats", type=int, default=5, help="repeats of the start-up case (0: skip it)")
    ap.add_argument("--skip-worm", action="store_true")
    ap.add_argument("--batch-sweep", action="store_true")
    args = ap.parse_args()
    if not YEAST.exists():
        raise SystemExit(f"{YEAST} not found (the shared data folder)")
    import torch

    from bindscape.io.genome import Genome
    from bindscape.models import get_model
    from bindscape.train import save_model

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        torch.manual_seed(0)
        ckpt = save_model(tmp / "model.pt", get_model("bindscape_cnn"), {"trainer": {"rc_average": True}})
        for fa in (YEAST, *(() if args.skip_worm else (WORM,))):
            Genome(fa)  # build the genome cache outside the timings
        run(bindscape_cmd(ckpt, YEAST, ["chrI"], 20_000, tmp / "warm.parquet"))  # numba's on-disk cache
        if args.batch_sweep:
            print(f"batch sizes, yeast {'+'.join(THREE)}, stride {args.stride}:")
            sweep(ckpt, args.stride, tmp)
        if args.startup_repeats:
            compare("start-up: yeast chrI, stride 20,000", ckpt, YEAST, ["chrI"], 20_000, args.startup_repeats, tmp)
        compare(f"yeast {'+'.join(THREE)}, stride {args.stride}", ckpt, YEAST, THREE, args.stride, args.repeats, tmp)
        compare(f"yeast whole genome, stride {args.genome_stride}", ckpt, YEAST, [], args.genome_stride,
                args.genome_repeats, tmp)
        if not args.skip_worm:
            worm(ckpt, args.worm_stride, tmp)


if __name__ == "__main__":
    main()

"""Genome scan speed: bindscape's `scan_genome` (FASTA in, hits table out) vs memelite's FIMO, same run.

Both scan the same genome with the same motifs on both strands at the same p-value threshold and must
report the same hits (checked). memelite reads an uncompressed copy of the FASTA (pyfaidx cannot read
plain gzip); bindscape reads the .fa.gz through its genome cache, which is built once before timing
(its build time is printed separately). Both get the same log-odds (memelite's convention,
log2(p + 1e-4) - log2(0.25)), so the work is identical.

- warm: median of --repeats calls after one untimed call in this process (numba compilation excluded);
- cold: the first call in a fresh subprocess with an empty numba cache (NUMBA_CACHE_DIR), imports included;
- cached-cold: the first call in a fresh subprocess with numba's on-disk cache already filled.

    python benchmarks/bench_scan.py [--fasta F] [--motifs MA0363 ...] [--repeats 3] [--no-cold]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
DEFAULT_FASTA = HERE.parents[2] / "shared" / "data" / "yeast" / "sacCer3.fa.gz"
# 10 yeast TFs of JASPAR 2024 CORE: REB1, ABF1, RAP1, MCM1, GCN4, CBF1, PHO4, GAL4, MSN2, STE12
DEFAULT_MOTIFS = ["MA0363", "MA0265", "MA0359", "MA0331", "MA0303", "MA0281", "MA0357", "MA0299", "MA0341",
                  "MA0393"]


def _motifs(ids, release):
    import numpy as np

    from bindscape.motifs import load_jaspar

    ms = [load_jaspar(i, release=release) for i in ids]
    probs = {f"{m.id} {m.name}": m.probs for m in ms}
    logodds = {k: np.log2(v + 1e-4) - math.log2(0.25) for k, v in probs.items()}
    return probs, logodds


def run_bindscape(fasta, logodds, pvalue):
    from bindscape.motifs import scan_genome

    return scan_genome(logodds, str(fasta), pvalue=pvalue)


def run_memelite(plain_fasta, probs, pvalue):
    from memelite.fimo import fimo

    return fimo(probs, str(plain_fasta), threshold=pvalue)


def _child(args) -> None:
    """One cold call in this fresh process; prints JSON {seconds, hits}."""
    t0 = time.perf_counter()
    probs, logodds = _motifs(args.motifs, args.release)
    t_motifs = time.perf_counter() - t0
    t0 = time.perf_counter()
    if args.child == "bindscape":
        n = len(run_bindscape(args.fasta, logodds, args.pvalue))
    else:
        n = sum(len(d) for d in run_memelite(args.plain, probs, args.pvalue))
    print(json.dumps({"seconds": time.perf_counter() - t0, "hits": n, "motif_load_s": t_motifs}))


def _cold(args, which, plain, numba_cache) -> dict:
    env = dict(os.environ)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    cmd = [sys.executable, str(HERE), "--child", which, "--fasta", str(args.fasta), "--plain", str(plain),
           "--pvalue", str(args.pvalue), "--release", str(args.release), "--motifs", *args.motifs]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fasta", type=Path, default=DEFAULT_FASTA)
    ap.add_argument("--motifs", nargs="+", default=DEFAULT_MOTIFS)
    ap.add_argument("--release", type=int, default=2024)
    ap.add_argument("--pvalue", type=float, default=1e-4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocesses")
    ap.add_argument("--child", choices=["bindscape", "memelite"], help=argparse.SUPPRESS)
    ap.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    if not args.fasta.exists():
        sys.exit(f"error: {args.fasta} not found (the yeast genome lives in ../shared/data/yeast)")

    tmp = Path(tempfile.mkdtemp(prefix="bench_scan."))
    try:
        os.environ.setdefault("BINDSCAPE_CACHE", str(tmp / "genome-cache"))
        plain = tmp / "genome.fa"
        opener = gzip.open if args.fasta.suffix == ".gz" else open
        with opener(args.fasta, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        from bindscape.io.genome import Genome

        t0 = time.perf_counter()
        g = Genome(args.fasta)
        t_cache = time.perf_counter() - t0
        bp = sum(g.sizes.values())
        n_mot = len(args.motifs)
        print(f"genome {args.fasta.name}: {bp:,} bp, {len(g.chroms)} sequences; {n_mot} motifs, both strands, "
              f"p < {args.pvalue:g}; bindscape genome cache built in {t_cache:.2f} s (once per genome)")

        cold = {}
        if not args.no_cold:
            for which in ("memelite", "bindscape"):
                fresh = tmp / f"numba-{which}"
                fresh.mkdir()
                cold[which] = _cold(args, which, plain, fresh)
                cold[which + "_cached"] = _cold(args, which, plain, None)

        probs, logodds = _motifs(args.motifs, args.release)
        # one untimed call each (compilation, page cache), and the hit check
        ours = run_bindscape(args.fasta, logodds, args.pvalue)
        ref = run_memelite(plain, probs, args.pvalue)
        n_ref = sum(len(d) for d in ref)
        same = len(ours) == n_ref
        times = {"bindscape": [], "memelite": []}
        for _ in range(args.repeats):
            for which in ("memelite", "bindscape"):
                t0 = time.perf_counter()
                if which == "bindscape":
                    run_bindscape(args.fasta, logodds, args.pvalue)
                else:
                    run_memelite(plain, probs, args.pvalue)
                times[which].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        rate = {k: bp * n_mot / v for k, v in med.items()}
        print(f"hits: bindscape {len(ours):,}, memelite {n_ref:,} ({'same' if same else 'DIFFERENT'})")
        print(f"{'':10s} {'warm s (median)':>16s} {'M bp x motifs/s':>16s} {'cold s':>8s} {'cached-cold s':>14s}")
        for k in ("bindscape", "memelite"):
            c = cold.get(k, {}).get("seconds")
            cc = cold.get(k + "_cached", {}).get("seconds")
            print(f"{k:10s} {med[k]:16.3f} {rate[k] / 1e6:16.0f} {c if c is None else f'{c:8.2f}'!s:>8s} "
                  f"{cc if cc is None else f'{cc:14.2f}'!s:>14s}")
        print(f"warm ratio (bindscape / memelite throughput): {rate['bindscape'] / rate['memelite']:.2f}")
        if cold:
            print(f"cold ratio (memelite / bindscape time): {cold['memelite']['seconds'] / cold['bindscape']['seconds']:.2f}; "
                  f"cached-cold ratio: {cold['memelite_cached']['seconds'] / cold['bindscape_cached']['seconds']:.2f}")
        print("all warm times:", {k: [round(x, 3) for x in v] for k, v in times.items()})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

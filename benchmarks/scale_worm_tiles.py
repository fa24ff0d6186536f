"""Scale check: tile the 100 Mb worm genome (1000/950) with 100,000 random peaks.

Runs `bindscape build tiles` under /usr/bin/time -v in a fresh process with a fresh genome cache (so the
FASTA -> cache conversion is included) and prints wall seconds and peak RSS. Goal: < 60 s, < 2 GB.

    python benchmarks/scale_worm_tiles.py [--genome ../shared/data/worm/ce10.fa.gz] [--peaks 100000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome", default=str(HERE.parents[1] / "shared/data/worm/ce10.fa.gz"))
    ap.add_argument("--sizes", default=None, help="chrom.sizes (default: beside the genome)")
    ap.add_argument("--peaks", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    genome = Path(args.genome)
    if not genome.exists():
        print(f"genome not found: {genome}", file=sys.stderr)
        return 2
    sizes_path = Path(args.sizes) if args.sizes else genome.with_name(genome.name.split(".")[0] + ".chrom.sizes")
    sizes = dict(line.split()[:2] for line in sizes_path.read_text().splitlines() if line.strip())
    sizes = {k: int(v) for k, v in sizes.items() if k != "chrM"}
    rng = np.random.default_rng(args.seed)
    names = list(sizes)
    w = np.array([sizes[c] for c in names], float)
    ci = rng.choice(len(names), args.peaks, p=w / w.sum())
    tmp = Path(tempfile.mkdtemp(prefix="bindscape-scale-"))
    try:
        bed = tmp / "peaks.bed"
        with open(bed, "w") as fh:
            for c, s in zip(np.asarray(names)[ci], (rng.random(args.peaks) * (w[ci] - 200)).astype(int)):
                fh.write(f"{c}\t{s}\t{s + 200}\n")
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "bindscape", "build", "tiles", "--genome", str(genome),
               "--peaks", f"TF={bed}", "--length", "1000", "--stride", "950", "--split", "auto",
               "--cache-dir", str(tmp / "cache"), "--out", str(tmp / "ds")]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={"BINDSCAPE_PROGRESS": "0", **_env()})
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return proc.returncode
        wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", proc.stderr).group(1)
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
        parts = [float(p) for p in wall.split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        print(proc.stdout)
        print(f"worm tiles 1000/950 with {args.peaks:,} peaks: wall {secs:.1f} s, peak RSS {rss_kb / 1024**2:.2f} GB")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _env():
    import os

    return dict(os.environ)


if __name__ == "__main__":
    sys.exit(main())

"""10,000 SNVs from a VCF scored with the default model: `bindscape.explain.variants.score_variants` vs a bare
torch loop over the same windows.

    python benchmarks/bench_variants.py [--genome FA] [--n 10000] [--length 100] [--threads 2] [--repeats 3]

The genome is the yeast sacCer3 FASTA from ../shared/data when present (else a seeded random 4-Mb genome).
N SNVs are drawn at random positions (seeded; REF from the genome, ALT another base) and written to a VCF.
The model is `bindscape_cnn` with its default parameters, input length 100 included (untrained weights:
speed does not depend on them).

- **bindscape**: `score_variants(model, genome, vcf)`: reads the VCF with cyvcf2, checks REF against the
  genome, builds both windows and scores them with the one RC-averaged prediction loop. Everything a user
  waits for after the model and genome are open.
- **reference**: a bare loop over the same variants (positions already in memory, no VCF reading, no REF
  check): `Genome.fetch_onehot` of the reference windows, a copy with the SNV base changed, then
  ``sigmoid(model(x))`` and ``sigmoid(model(rc(x)))`` averaged, in batches of the same size.

The two alternate (which goes first alternates too); the script prints the median wall time of each,
variants/s, the ratio ``median(reference) / median(bindscape)`` (wall time, and CPU time of the process) (>= 1: bindscape is as fast), the largest
difference between the two sets of probabilities, and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "yeast" / "sacCer3.fa.gz"
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # benchmarks/bench_fetch.py: the random stand-in genome
    sys.path.insert(0, str(HERE))
RANDOM_SIZES = (1_500_000, 1_200_000, 800_000, 500_000)  # bp per chromosome of the stand-in genome


def write_snvs(genome, n: int, length: int, path: Path, seed: int):
    """N random SNVs (REF from the genome, at least one window from either chromosome end) -> VCF; frame."""
    import pandas as pd

    from bindscape.io.genome import decode

    rng = np.random.default_rng(seed)
    sizes = genome.sizes
    names = [c for c, s in sizes.items() if s > 4 * length]
    w = np.array([sizes[c] for c in names], float)
    chroms = np.array(names)[rng.choice(len(names), n, p=w / w.sum())]
    pos = np.array([rng.integers(length, sizes[c] - length) for c in chroms])  # 0-based
    ref = np.array(list(decode(genome.fetch_codes(chroms, pos, length=1)[:, 0])))
    keep = ref != "N"
    chroms, pos, ref = chroms[keep], pos[keep], ref[keep]
    alt = np.array(["ACGT"[("ACGT".index(r) + k) % 4] for r, k in zip(ref, rng.integers(1, 4, len(ref)), strict=True)])
    df = pd.DataFrame({"chrom": chroms, "pos": pos + 1, "ref": ref, "alt": alt}).sort_values(["chrom", "pos"])
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        for c in names:
            fh.write(f"##contig=<ID={c},length={sizes[c]}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for r in df.itertuples(index=False):
            fh.write(f"{r.chrom}\t{r.pos}\t.\t{r.ref}\t{r.alt}\t.\t.\t.\n")
    return df.reset_index(drop=True)


def reference_loop(model, genome, df, length: int, batch: int) -> np.ndarray:
    """(N, 2) probabilities (ref, alt): fetch, one-hot, forward both strands, average."""
    import torch

    h = length // 2
    code = {"A": 0, "C": 1, "G": 2, "T": 3}
    alt_idx = np.array([code[a] for a in df["alt"]])
    chroms, starts = df["chrom"].to_numpy(), df["pos"].to_numpy() - 1 - h
    out = []
    half = batch // 2
    with torch.no_grad():
        for i in range(0, len(df), half):
            xr = genome.fetch_onehot(chroms[i : i + half], starts[i : i + half], length=length)
            xa = xr.copy()
            xa[:, :, h] = 0.0
            xa[np.arange(len(xa)), alt_idx[i : i + half], h] = 1.0
            x = torch.from_numpy(np.concatenate([xr, xa]))
            p = 0.5 * (torch.sigmoid(model(x)) + torch.sigmoid(model(x.flip(1, 2))))
            p = p[:, 0].numpy()
            out.append(np.stack([p[: len(xr)], p[len(xr) :]], 1))
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome", type=Path, default=DEFAULT)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    from bench_fetch import random_genome

    from bindscape.explain.variants import score_variants
    from bindscape.io.genome import Genome
    from bindscape.models import get_model
    from bindscape.train.checkpoint import load_checkpoint, save_model

    tmp = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    fa = a.genome if a.genome.exists() else random_genome(tmp / "random.fa", a.seed, RANDOM_SIZES)
    g = Genome(fa)
    torch.manual_seed(a.seed)
    ck = save_model(tmp / "model.pt", get_model("bindscape_cnn", length=a.length), {"trainer": {"rc_average": True}})
    loaded = load_checkpoint(ck)
    vcf = tmp / "snvs.vcf"
    df = write_snvs(g, a.n, a.length, vcf, a.seed)
    print(f"genome {fa.name} ({sum(g.sizes.values()):,} bp), {len(df):,} SNVs, bindscape_cnn default params, "
          f"L={a.length}, {a.threads} threads, batch {a.batch} windows")
    reference_loop(loaded.model, g, df.head(a.batch), a.length, a.batch)  # warm-up (numba, allocator)
    t_ours, t_ref, c_ours, c_ref = [], [], [], []
    res = ref = None
    for r in range(a.repeats):
        for who in (("ours", "ref") if r % 2 == 0 else ("ref", "ours")):
            t0, c0 = time.perf_counter(), time.process_time()
            if who == "ours":
                res = score_variants(loaded, g, vcf, batch_size=a.batch, progress=False)
                t_ours.append(time.perf_counter() - t0)
                c_ours.append(time.process_time() - c0)
            else:
                ref = reference_loop(loaded.model, g, df, a.length, a.batch)
                t_ref.append(time.perf_counter() - t0)
                c_ref.append(time.process_time() - c0)
    t = res.table
    assert (t["status"] == "ok").all(), t["status"].value_counts()
    diff = max(np.abs(t["ref_prob"].to_numpy() - ref[:, 0]).max(), np.abs(t["alt_prob"].to_numpy() - ref[:, 1]).max())
    mo, mr = statistics.median(t_ours), statistics.median(t_ref)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bindscape score_variants: {mo:.2f} s median of {a.repeats} ({len(df) / mo:,.0f} variants/s; "
          f"runs {', '.join(f'{x:.2f}' for x in t_ours)})")
    print(f"bare torch loop         : {mr:.2f} s median of {a.repeats} ({len(df) / mr:,.0f} variants/s; "
          f"runs {', '.join(f'{x:.2f}' for x in t_ref)})")
    co, cr = statistics.median(c_ours), statistics.median(c_ref)
    print(f"CPU seconds (all threads; robust on a shared machine): bindscape {co:.2f}, reference {cr:.2f}, "
          f"ratio {cr / co:.3f}")
    print(f"ratio reference/bindscape = {mr / mo:.3f} (>= 1: bindscape as fast); max |prob difference| "
          f"= {diff:.2e}; peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()

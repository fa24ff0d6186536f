"""Interpretation benchmark (AgentBind's design): which attribution method finds the planted TAL1 context
motifs next to a GATA1 core motif? Trains the default model on simulated sequences, then reports, per method,
runtime per sequence, accuracy, recall, auROC and signal-to-noise (see `bindscape.explain.benchmark`).

    python benchmarks/bench_interpret.py [--out benchmarks/results/interpret.tsv] [--tiny] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/interpret.tsv")
    ap.add_argument("--tiny", action="store_true", help="the seconds-long test-size version")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-eval", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(a.threads)
    from bindscape.explain.benchmark import BenchmarkConfig, run_benchmark

    kw = {"seed": a.seed}
    if a.n_eval:
        kw["n_eval"] = a.n_eval
    if a.epochs:
        kw["epochs"] = a.epochs
    cfg = BenchmarkConfig.tiny(**kw) if a.tiny else BenchmarkConfig(**kw)
    t0 = time.perf_counter()
    df = run_benchmark(cfg, progress=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, sep="\t", index=False, float_format="%.4g")
    meta = {k: v for k, v in df.attrs.items()}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str))
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"model val auROC {df.attrs['val_auroc']:.3f}; train {df.attrs['train_seconds']:.1f}s; "
          f"total {time.perf_counter() - t0:.1f}s; {df.attrs['n_eval']} positives scored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The cross-species 5-seed table on the simulator's multi-species preset (issue 9).

    .venv/bin/python benchmarks/bench_cross_species.py [--out runs/bench-cross-species] [--seeds 5]
    .venv/bin/python benchmarks/bench_cross_species.py --recipe cross-species-yeast-worm --seeds 3

Runs the shipped `cross-species` recipe (simulate -> tiles datasets -> lambda tuning on seed 0 -> source /
target / joint / MORALE / GRL x seeds -> analyses -> report.html), then prints the target species' test
auPRC (mean ± sd over seeds), the chosen lambdas, differential FP/FN vs the target-trained model, the
repeat-stratified auPRC and the CPU time. Resumable: re-running skips finished stages. One torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BINDSCAPE_SHARED_DATA", REPO.parent / "shared" / "data"))  # as tests/conftest.py


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", default="cross-species", help="cross-species | cross-species-yeast-worm | a YAML")
    ap.add_argument("--out", default=None, help="default runs/bench-<recipe name>")
    ap.add_argument("--seeds", type=int, default=None, help="default: the recipe's seeds")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    import pandas as pd

    from bindscape.recipes import load_recipe, run_recipe

    rec = load_recipe(a.recipe, {"shared_data": str(SHARED_DATA)})
    if a.seeds:
        rec.seeds = list(range(a.seeds))
    a.out = a.out or f"runs/bench-{rec.name}"
    t0, c0 = time.perf_counter(), time.process_time()
    run_recipe(rec, out=a.out, force=a.force)
    out = Path(a.out) / "analysis"
    info = json.loads((out / "summary.json").read_text())
    s = pd.read_csv(out / "summary.tsv", sep="\t")
    t = s[s["species"] == rec.target].set_index("mode")
    print(f"\ntarget {rec.target}: test auPRC, mean ± sd over {len(rec.seeds)} seeds")
    for mode, r in t.iterrows():
        lam = f" (lambda {info['lam'][mode]:g})" if mode in info["lam"] and mode in ("morale", "grl") else ""
        print(f"  {mode:7s} {r['auprc_mean']:.4f} ± {r['auprc_sd']:.4f}   auROC {r['auroc_mean']:.4f}{lam}")
    for name in ("differential", "repeats", "confusion"):
        p = out / f"{name}.tsv"
        if p.exists():
            print(f"\n{name}:\n" + pd.read_csv(p, sep="\t").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\ntraining CPU {info['cpu_seconds_training'] / 60:.1f} min; this call {time.process_time() - c0:.0f} CPU s, "
          f"{time.perf_counter() - t0:.0f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""GUE transcription-factor benchmark (DNABERT-2's GUE: human TFBS 1-5, mouse TFBS 1-5 minus mouse/1).

For each task in ``../shared/data/human/gue_tf/{human,mouse}/*``: build a sequence-only dataset with
`bindscape build sequences` semantics (train/dev/test CSVs), train bindscape's default model on `train`,
select the checkpoint on `dev` (auROC), and report `test` auROC and MCC with the training CPU minutes
(process user+sys time), beside published auROCs (Nat Commun 2025, frozen embeddings) and a plain
two-layer CNN measured on the project's 2-core machine. Only public API is used.

    python benchmarks/gue.py [--tasks human/0 mouse/2] [--threads 1] [--out runs/gue]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BINDSCAPE_SHARED_DATA", REPO.parent / "shared" / "data")) / "human" / "gue_tf"

PUBLISHED = {  # task: (DNABERT-2, NT-v2, HyenaDNA, Caduceus-Ph, GROVER)
    "human/0": (0.8382, 0.8315, 0.8301, 0.8796, 0.8618),
    "human/1": (0.8210, 0.8090, 0.8205, 0.8687, 0.8495),
    "human/2": (0.7896, 0.7974, 0.7875, 0.8249, 0.8158),
    "human/3": (0.7260, 0.7103, 0.7149, 0.7725, 0.7630),
    "human/4": (0.9204, 0.9149, 0.9159, 0.9294, 0.9310),
    "mouse/0": (0.7110, 0.7040, 0.5899, 0.6841, 0.6947),
    "mouse/2": (0.9308, 0.9269, 0.8944, 0.9351, 0.9327),
    "mouse/3": (0.7622, 0.6942, 0.5880, 0.7047, 0.6815),
    "mouse/4": (0.6783, 0.7077, 0.6270, 0.7150, 0.6822),
}
PLAIN_CNN = {"human/0": 0.9042, "human/1": 0.9287, "human/2": 0.9205, "human/3": 0.8203, "human/4": 0.9545,
             "mouse/0": 0.8413, "mouse/2": 0.9605, "mouse/3": 0.9260, "mouse/4": 0.7835}

# the default model's GUE recipe: epochs scale with the training set so small tasks get enough steps
MODEL = {"name": "bindscape_cnn", "params": {"channels": 64, "hidden": 64}}
PASSES = 220_000  # training examples seen per task (about 3.5 CPU-minutes on one core of the 2-core machine)


def epochs_for(n_train: int) -> int:
    return int(min(30, max(6, round(PASSES / n_train))))


def run_task(task: str, out: Path, threads: int, seed: int, overrides: dict) -> dict:
    from bindscape.data.sequences import build_sequence_dataset
    from bindscape.train import apply_overrides, train, validate_config

    src = DATA / task
    ds = out / "datasets" / task.replace("/", "_")
    if not (ds / "regions.parquet").exists():
        build_sequence_dataset(ds, train=[src / "train.csv"], val=[src / "dev.csv"], test=[src / "test.csv"],
                               length=100, force=True, seed=seed)
    import pandas as pd

    n_train = int((pd.read_parquet(ds / "regions.parquet", columns=["split"])["split"] == "train").sum())
    cfg = {
        "dataset": str(ds), "name": task.replace("/", "_"), "out_dir": str(out / "runs"), "model": MODEL,
        "data": {"batch_size": 128, "sampler": "plain", "rc_augment": True},
        "optim": {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-2, "schedule": "onecycle",
                  "warmup_frac": 0.25},
        "trainer": {"max_epochs": epochs_for(n_train), "patience": None, "monitor": "val_auroc",
                    "rc_average": True, "seed": seed, "threads": threads, "progress": False},
    }
    cfg = validate_config(apply_overrides(cfg, overrides), source=f"gue {task}")
    run = train(cfg, overwrite=True)
    m = json.loads((run / "metrics.json").read_text())
    return {"task": task, "n_train": n_train, "epochs": cfg.trainer.max_epochs, "best_epoch": m["best_epoch"],
            "dev_auroc": m["val"]["auroc"], "test_auroc": m["test"]["auroc"], "test_mcc": m["test"]["mcc"],
            "cpu_min": m["cpu_seconds"] / 60, "wall_min": m["wall_seconds"] / 60}


def table(rows: list[dict]) -> str:
    head = ("| task | bindscape auROC | MCC | CPU-min | best published | plain CNN | DNABERT-2 | NT-v2 | "
            "HyenaDNA | Caduceus-Ph | GROVER |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        pub = PUBLISHED[r["task"]]
        lines.append(f"| {r['task']} | {r['test_auroc']:.4f} | {r['test_mcc']:.4f} | {r['cpu_min']:.2f} | "
                     f"{max(pub):.4f} | {PLAIN_CNN[r['task']]:.4f} | " + " | ".join(f"{v:.4f}" for v in pub) + " |")
    if rows:
        n = len(rows)
        mean = lambda xs: sum(xs) / n  # noqa: E731
        lines.append(
            f"| mean | {mean([r['test_auroc'] for r in rows]):.4f} | {mean([r['test_mcc'] for r in rows]):.4f} | "
            f"{mean([r['cpu_min'] for r in rows]):.2f} | {mean([max(PUBLISHED[r['task']]) for r in rows]):.4f} | "
            f"{mean([PLAIN_CNN[r['task']] for r in rows]):.4f} | "
            + " | ".join(f"{mean([PUBLISHED[r['task']][j] for r in rows]):.4f}" for j in range(5)) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=list(PUBLISHED))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "gue")
    ap.add_argument("--set", nargs="*", default=[], help="config overrides KEY=VALUE")
    ap.add_argument("--merge", nargs="*", type=Path, default=None,
                    help="only print the table for results.json files in these --out folders")
    args = ap.parse_args(argv)
    if args.merge is not None:
        rows = [r for d in args.merge for r in json.loads((d / "results.json").read_text())]
        order = list(PUBLISHED)
        rows.sort(key=lambda r: order.index(r["task"]))
        print(table(rows))
        _summary(rows)
        return 0
    if not DATA.exists():
        print(f"GUE data not found at {DATA}", file=sys.stderr)
        return 2
    from bindscape.train import parse_set

    overrides = parse_set(args.set)
    os.environ.setdefault("BINDSCAPE_PROGRESS", "0")
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for task in args.tasks:
        r = run_task(task, args.out, args.threads, args.seed, overrides)
        rows.append(r)
        print(f"{task}: test auROC {r['test_auroc']:.4f} MCC {r['test_mcc']:.4f} (dev {r['dev_auroc']:.4f}, "
              f"best epoch {r['best_epoch']}/{r['epochs']}) {r['cpu_min']:.2f} CPU-min, {r['wall_min']:.2f} min wall",
              flush=True)
        (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    md = table(rows)
    (args.out / "results.md").write_text(md + "\n")
    print(md)
    _summary(rows)
    print(f"total {(time.time() - t0) / 60:.1f} min wall")
    return 0


def _summary(rows: list[dict]) -> None:
    mean = sum(r["test_auroc"] for r in rows) / len(rows)
    beats = all(r["test_auroc"] > max(PUBLISHED[r["task"]]) for r in rows)
    print(f"\nmean test auROC {mean:.4f} (plain CNN {sum(PLAIN_CNN[r['task']] for r in rows) / len(rows):.4f}); "
          f"beats best published on every task: {beats}; max CPU-min {max(r['cpu_min'] for r in rows):.2f}")


if __name__ == "__main__":
    sys.exit(main())

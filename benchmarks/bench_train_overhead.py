"""Training-loop overhead: bindscape's Lightning training vs a bare PyTorch loop, same model, data, steps.

Both train the default model on the same synthetic sequence dataset (100 bp) for the same epochs with
AdamW + one-cycle, RC augmentation, a validation pass with RC-averaged predictions each epoch, a checkpoint
per epoch and test predictions at the end. Runs alternate (bare, bindscape, bare, bindscape, ...) and the
best wall time of each is compared, which damps noise from other processes on a shared machine.

    python benchmarks/bench_train_overhead.py [--n 8000] [--epochs 2] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

MODEL = {"name": "bindscape_cnn", "params": {"channels": 64, "hidden": 64}}


def make_data(root: Path, n: int, seed: int = 0) -> Path:
    from bindscape.data.sequences import build_sequence_dataset

    rng = np.random.default_rng(seed)
    for split, m in (("train", n), ("val", n // 8), ("test", n // 8)):
        s = np.array(list("ACGT"))[rng.integers(0, 4, (m, 100))]
        y = rng.integers(0, 2, m)
        for i in np.flatnonzero(y):
            p = rng.integers(0, 92)
            s[i, p : p + 8] = list("TTACCCGG")
        pd.DataFrame({"sequence": ["".join(r) for r in s], "label": y}).to_csv(root / f"{split}.csv", index=False)
    return build_sequence_dataset(root / "ds", train=[root / "train.csv"], val=[root / "val.csv"],
                                  test=[root / "test.csv"], force=True)


def config(ds: Path, out: Path, epochs: int, threads: int):
    from bindscape.train import validate_config

    return validate_config({
        "dataset": str(ds), "name": "bench", "out_dir": str(out), "model": MODEL,
        "data": {"batch_size": 128, "rc_augment": True},
        "optim": {"optimizer": "adamw", "lr": 3e-3, "schedule": "onecycle"},
        "trainer": {"max_epochs": epochs, "patience": None, "progress": False, "seed": 0, "threads": threads,
                    "monitor": "val_auroc"},
    })


def run_bindscape(cfg) -> tuple[float, float]:
    from bindscape.train import train

    t0, c0 = time.perf_counter(), time.process_time()
    train(cfg, overwrite=True)
    return time.perf_counter() - t0, time.process_time() - c0


def run_bare(cfg, out: Path) -> tuple[float, float]:
    """The same work written as a plain PyTorch loop."""
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score
    from torch.utils.data import DataLoader

    from bindscape.data.sequences import SequenceDataset
    from bindscape.data.torchdata import collate_batch
    from bindscape.models import get_model
    from bindscape.train import EpochBatchSampler

    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(0)
    tr = SequenceDataset(cfg.dataset, split="train", rc_augment=True, seed=0)
    va = SequenceDataset(cfg.dataset, split="val")
    te = SequenceDataset(cfg.dataset, split="test")
    sampler = EpochBatchSampler(len(tr), 128, seed=0)
    loader = DataLoader(tr, batch_sampler=sampler, collate_fn=collate_batch)
    model = get_model(MODEL["name"], length=tr.length, **MODEL["params"])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=len(loader) * cfg.trainer.max_epochs,
                                              pct_start=0.25)

    def predict(ds):
        model.eval()
        out_p = []
        with torch.no_grad():
            for i in range(0, len(ds), 512):
                x, _ = ds.__getitems__(list(range(i, min(i + 512, len(ds)))))
                out_p.append((torch.sigmoid(model(x)) + torch.sigmoid(model(x.flip(1, 2)))) / 2)
        model.train()
        return torch.cat(out_p)[:, 0].numpy()

    for epoch in range(cfg.trainer.max_epochs):
        tr.set_epoch(epoch)
        sampler.set_epoch(epoch)
        model.train()
        for x, y in loader:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sch.step()
        p = predict(va)
        roc_auc_score(va.labels, p), average_precision_score(va.labels, p)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sch": sch.state_dict()}, out / "bare.pt")
    p = predict(va), predict(te)
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import os

    import torch

    os.environ.setdefault("BINDSCAPE_PROGRESS", "0")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ds = make_data(root, args.n)
        cfg = config(ds, root / "runs", args.epochs, args.threads)
        run_bindscape(config(ds, root / "runs", 1, args.threads))  # warm-up: imports, numba caches
        bare, ours = [], []
        for _ in range(args.repeats):
            bare.append(run_bare(cfg, root))
            ours.append(run_bindscape(cfg))
            print(f"bare {bare[-1][0]:.2f} s ({bare[-1][1]:.2f} CPU s), "
                  f"bindscape {ours[-1][0]:.2f} s ({ours[-1][1]:.2f} CPU s)", flush=True)
    ratio = min(o[0] for o in ours) / min(b[0] for b in bare)
    cpu_ratio = min(o[1] for o in ours) / min(b[1] for b in bare)
    res = {"n_train": args.n, "epochs": args.epochs, "steps": args.epochs * -(-args.n // 128),
           "bare_s": round(min(b[0] for b in bare), 2), "bindscape_s": round(min(o[0] for o in ours), 2),
           "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3)}
    print(json.dumps(res))
    print(f"wall-time ratio bindscape / bare PyTorch = {ratio:.3f} (goal <= 1.10); CPU-time ratio {cpu_ratio:.3f}")
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Cost and accuracy of plain `bindscape train` (all defaults) against a plain two-layer CNN, same data, same run.

Issue 15 item 7: the default run on 50,000 sequences of 101 bp must take at most 10 CPU-minutes on one
thread. The data are real: the GUE human/0 and human/1 TF tasks (ENCODE ChIP-seq, 100 bp) pooled into one
binary task ("bound by either TF"): 50,000 training sequences drawn at random (seed 0) from their 63,050,
both dev sets (2,000) for validation and both test sets (2,000) for test, every sequence N-padded by one
base on the right to 101 bp (`bindscape build sequences --length 101`).

Rows (each one thread, trained one after the other):

- ``default``: `bindscape.train.train` with only ``dataset``, ``trainer.seed``, ``trainer.threads: 1`` and
  ``trainer.progress: false`` set: the default model with its default parameters, ``max_epochs: auto``
  (6 epochs at 50,000), patience 3, checkpoint on validation auPRC, RC-averaged predictions.
- ``previous-width`` (``--previous``): the same with the default model's previous width
  (``channels: 128, hidden: 128``), to show what the cheaper default costs and gains.
- ``plain-cnn``: the reference, hand-written here in plain torch so it shares nothing with bindscape's
  engine: conv 64 x 11 + ReLU, max-pool 4, conv 64 x 7 + ReLU, global max pool, linear (31,681 weights);
  Adam 1e-3, batch 128, random reverse complement, the same number of epochs as the default run, the epoch
  with the best validation auROC kept, RC-averaged test scores.

CPU-minutes are process CPU time (user + system) of the whole training call, validation and test scoring
included, dataset building excluded. Test auROC/auPRC carry percentile-bootstrap 95% intervals
(`bindscape.evaluate.evaluate_scores`, 1,000 resamples). "auROC gain per CPU-minute" is (auROC - 0.5) /
CPU-minutes. Training runs are long, so each row is one run (no repeats); the ratios are default / plain CNN.
A finished row is kept in ``OUT/rows/`` and reused by the next invocation (delete it to retrain).

    python benchmarks/bench_default_cost.py [--out /tmp/bench_default_cost] [--previous] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
GUE = Path(os.environ.get("BINDSCAPE_SHARED_DATA", REPO.parent / "shared" / "data")) / "human" / "gue_tf"
N_TRAIN, LENGTH = 50_000, 101


def build_data(out: Path, seed: int) -> Path:
    """The pooled GUE human/0 + human/1 dataset (50,000 / 2,000 / 2,000 sequences of 101 bp) under `out`.

    Parameters
    ----------
    out : Path
        Folder for the CSVs and the dataset (reused when present).
    seed : int
        Seed of the 50,000-row training draw.

    Returns
    -------
    Path
        The dataset folder.
    """
    from bindscape.data.sequences import build_sequence_dataset

    ds = out / "dataset"
    if (ds / "regions.parquet").exists():
        return ds
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        df = pd.concat([pd.read_csv(GUE / t / f"{split}.csv") for t in ("human/0", "human/1")], ignore_index=True)
        if split == "train":
            df = df.sample(n=N_TRAIN, random_state=seed).reset_index(drop=True)
        df.to_csv(out / f"{split}.csv", index=False)
    return build_sequence_dataset(ds, train=[out / "train.csv"], val=[out / "dev.csv"], test=[out / "test.csv"],
                                  length=LENGTH, force=True, seed=seed)


def run_bindscape(ds: Path, out: Path, name: str, seed: int, model: dict | None = None) -> dict:
    """Train with bindscape's defaults (only seed, one thread and no progress bar set; `model` optional).

    Parameters
    ----------
    ds : Path
        The dataset folder.
    out : Path
        Runs go to ``out/runs/<name>``.
    name : str
        Row name.
    seed : int
        ``trainer.seed``.
    model : dict, optional
        A ``model`` section (None: the default model and parameters).

    Returns
    -------
    dict
        Row name, CPU seconds, epochs, parameters, test labels and scores.
    """
    from bindscape.train import train, validate_config

    cfg = {"dataset": str(ds), "name": name, "out_dir": str(out / "runs"),
           "trainer": {"seed": seed, "threads": 1, "progress": False}}
    if model is not None:
        cfg["model"] = model
    t0 = time.process_time()
    run = train(validate_config(cfg, source=f"bench {name}"), overwrite=True)
    cpu = time.process_time() - t0
    m = json.loads((run / "metrics.json").read_text())
    pred = pd.read_parquet(run / "predictions.parquet")
    return {"name": name, "cpu_s": cpu, "epochs": m["max_epochs"], "epochs_run": m["epochs_run"],
            "best_epoch": m["best_epoch"], "n_parameters": m["n_parameters"], "n_train": m["n_train"],
            "y": pred["label"].to_numpy(), "s": pred["prob"].to_numpy()}


def one_hot(csv: Path) -> tuple[np.ndarray, np.ndarray]:
    """One-hot ``(N, 4, 101)`` float32 (N padded right, all-zero columns) and 0/1 labels of a GUE CSV."""
    df = pd.read_csv(csv)
    lut = np.full(256, 4, dtype=np.int64)
    for i, b in enumerate(b"ACGT"):
        lut[b] = i
        lut[b + 32] = i
    codes = np.full((len(df), LENGTH), 4, dtype=np.int64)
    for i, seq in enumerate(df["sequence"]):
        codes[i, :len(seq)] = lut[np.frombuffer(seq.encode(), dtype=np.uint8)]
    x = np.eye(5, dtype=np.float32)[codes][:, :, :4].transpose(0, 2, 1)
    return np.ascontiguousarray(x), df["label"].to_numpy()


def plain_cnn():
    """The reference: conv 64x11, ReLU, max-pool 4, conv 64x7, ReLU, global max, linear."""
    from torch import nn

    return nn.Sequential(nn.Conv1d(4, 64, 11, padding=5), nn.ReLU(), nn.MaxPool1d(4),
                         nn.Conv1d(64, 64, 7, padding=3), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
                         nn.Linear(64, 1))


def _scores(model, x) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x)
        p = torch.sigmoid(model(xt)) + torch.sigmoid(model(xt.flip(1, 2)))
    model.train()
    return (p[:, 0] / 2).numpy()


def run_plain(data: Path, epochs: int, seed: int) -> dict:
    """Train the plain CNN reference in a plain torch loop (one thread); keep the best validation epoch.

    Parameters
    ----------
    data : Path
        Folder with ``train.csv``, ``dev.csv``, ``test.csv``.
    epochs : int
        Epochs (the default run's number).
    seed : int
        Torch / shuffling seed.

    Returns
    -------
    dict
        As `run_bindscape`.
    """
    import torch

    from bindscape.evaluate.metrics import auroc

    torch.manual_seed(seed)
    (xtr, ytr), (xva, yva), (xte, yte) = (one_hot(data / f"{s}.csv") for s in ("train", "dev", "test"))
    t0 = time.process_time()
    model, rng = plain_cnn(), np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(epochs):
        order = rng.permutation(len(ytr))
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            xb = torch.from_numpy(xtr[idx])
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            xb = torch.where(flip[:, None, None], xb.flip(1, 2), xb)
            loss = loss_fn(model(xb)[:, 0], torch.from_numpy(ytr[idx]).float())
            opt.zero_grad()
            loss.backward()
            opt.step()
        score = auroc(yva, _scores(model, xva))
        if score > best:
            best, best_epoch = score, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    s = _scores(model, xte)
    return {"name": "plain-cnn", "cpu_s": time.process_time() - t0, "epochs": epochs, "epochs_run": epochs,
            "best_epoch": best_epoch, "n_parameters": sum(p.numel() for p in model.parameters()),
            "n_train": len(ytr), "y": yte, "s": s}


def score_rows(rows: list[dict], bootstrap: int, seed: int) -> pd.DataFrame:
    """Test metrics with bootstrap intervals, CPU-minutes and auROC gain per CPU-minute, one row per run."""
    from bindscape.evaluate import evaluate_scores

    out = []
    for r in rows:
        ev = evaluate_scores(r["y"], r["s"], threshold=0.5, bootstrap=bootstrap, seed=seed)
        cpu_min = r["cpu_s"] / 60
        out.append({"model": r["name"], "parameters": r["n_parameters"], "epochs": r["epochs"],
                    "best_epoch": r["best_epoch"], "cpu_min": cpu_min,
                    "seq_per_s": r["n_train"] * r["epochs_run"] / r["cpu_s"],
                    "auroc": ev.metrics["auROC"], "auroc_lo": ev.intervals["auROC"][0],
                    "auroc_hi": ev.intervals["auROC"][1], "auprc": ev.metrics["auPRC"],
                    "auprc_lo": ev.intervals["auPRC"][0], "auprc_hi": ev.intervals["auPRC"][1],
                    "auroc_gain_per_cpu_min": (ev.metrics["auROC"] - 0.5) / cpu_min})
    return pd.DataFrame(out)


def markdown(df: pd.DataFrame) -> str:
    """The results as a markdown table plus the default / plain-CNN ratios."""
    lines = ["| model | parameters | epochs (best) | CPU-min | examples seen per CPU-s | test auROC [95% CI] | "
             "test auPRC [95% CI] | auROC gain / CPU-min |", "|" + "---|" * 8]
    for r in df.itertuples():
        lines.append(f"| {r.model} | {r.parameters:,} | {r.epochs} ({r.best_epoch + 1}) | {r.cpu_min:.2f} | "
                     f"{r.seq_per_s:,.0f} | {r.auroc:.4f} [{r.auroc_lo:.4f}, {r.auroc_hi:.4f}] | "
                     f"{r.auprc:.4f} [{r.auprc_lo:.4f}, {r.auprc_hi:.4f}] | {r.auroc_gain_per_cpu_min:.4f} |")
    by = df.set_index("model")
    if {"default", "plain-cnn"} <= set(by.index):
        d, p = by.loc["default"], by.loc["plain-cnn"]
        lines.append(f"\nratios default / plain-cnn: CPU-min {d.cpu_min / p.cpu_min:.2f}, auROC "
                     f"{d.auroc - p.auroc:+.4f} (difference), auPRC {d.auprc - p.auprc:+.4f} (difference), "
                     f"auROC gain per CPU-min {d.auroc_gain_per_cpu_min / p.auroc_gain_per_cpu_min:.2f}")
    if {"default", "previous-width"} <= set(by.index):
        d, p = by.loc["default"], by.loc["previous-width"]
        lines.append(f"ratios default / previous-width: CPU-min {d.cpu_min / p.cpu_min:.2f}, auROC "
                     f"{d.auroc - p.auroc:+.4f}, auROC gain per CPU-min "
                     f"{d.auroc_gain_per_cpu_min / p.auroc_gain_per_cpu_min:.2f}")
    return "\n".join(lines)


def cached(out: Path, name: str, make) -> dict:
    """A row from ``out/rows/<name>.npz`` when an earlier invocation finished it, else ``make()`` (then saved).

    Parameters
    ----------
    out : Path
        The benchmark's output folder.
    name : str
        Row name.
    make : callable
        Trains and returns the row (`run_bindscape` / `run_plain`).

    Returns
    -------
    dict
    """
    path = out / "rows" / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            row = {k: z[k] for k in z.files}
        return {k: (v.item() if v.ndim == 0 else v) for k, v in row.items()}
    row = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **row)
    print(f"{name}: {row['cpu_s'] / 60:.2f} CPU-min, {row['epochs']} epochs", flush=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_default_cost"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--previous", action="store_true", help="also train the previous default width (128/128)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv)
    if not GUE.exists():
        print(f"GUE data not found at {GUE}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("BINDSCAPE_PROGRESS", "0")
    ds = build_data(args.out / "data", args.seed)
    rows = [cached(args.out, "default", lambda: run_bindscape(ds, args.out, "default", args.seed))]
    epochs = int(rows[0]["epochs"])
    rows.append(cached(args.out, "plain-cnn", lambda: run_plain(args.out / "data", epochs, args.seed)))
    if args.previous:
        rows.append(cached(args.out, "previous-width", lambda: run_bindscape(
            ds, args.out, "previous-width", args.seed,
            {"name": "bindscape_cnn", "params": {"channels": 128, "hidden": 128}})))
    df = score_rows(rows, args.bootstrap, args.seed)
    df.to_csv(args.out / "bench_default_cost.csv", index=False)
    md = markdown(df)
    (args.out / "bench_default_cost.md").write_text(md + "\n")
    print(md)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

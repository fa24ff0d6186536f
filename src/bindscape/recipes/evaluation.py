"""The evaluate stage of a recipe: every trained model and the PWM baseline on every test set.

Test sets are each strategy's own test split ("standard" evaluation, negatives like those trained on) and
the shared high-quality set (test-chromosome positives vs accessible-but-unbound regions). Thresholds are
chosen on the model's validation split and applied unchanged to every test set. Writes
``evaluation/metrics.csv`` (one row per model x test set, with bootstrap intervals),
``evaluation/predictions.parquet`` (labels and scores, for curves) and ``evaluation/summary.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape._util import atomic_path, atomic_write_text

PWM = "PWM baseline"


def dataset_onehot_batches(path: str | Path, split: str | None, batch_size: int = 1024):
    """(regions, iterator of one-hot batches) for a dataset split; rows with their own sequence included."""
    from bindscape.data.dataset import load_dataset
    from bindscape.data.torchdata import RegionDataset

    ds = load_dataset(path)
    tds = RegionDataset(ds, split=split)
    n = len(tds)

    def gen():
        for i in range(0, n, batch_size):
            yield tds.__getitems__(list(range(i, min(i + batch_size, n))))[0].numpy()

    return tds.regions, gen()


def pwm_scores(baseline, path: str | Path, split: str | None) -> pd.DataFrame:
    regions, batches = dataset_onehot_batches(path, split)
    s = np.concatenate([baseline.predict(x) for x in batches]) if len(regions) else np.zeros(0)
    out = regions[[c for c in ("chrom", "start", "end", "label", "split", "source") if c in regions]].copy()
    out["prob"] = s
    return out


def model_scores(ckpt, path: str | Path, split: str | None, progress: bool) -> pd.DataFrame:
    from bindscape.train import predict_dataset

    df = predict_dataset(ckpt, path, split=split, progress=progress)
    if "source" not in df:
        from bindscape.data.dataset import load_dataset

        regions = load_dataset(path).regions
        if split is not None and "split" in regions:
            regions = regions[regions["split"] == split]
        if "source" in regions:
            df["source"] = regions["source"].to_numpy()
    return df


def evaluate_benchmark(rec, run_dir: Path, data_info: dict, models: dict, *, progress: bool = True) -> dict:
    from bindscape.evaluate.metrics import evaluate_scores
    from bindscape.train import load_checkpoint

    out_dir = run_dir / "evaluation"
    test_sets = {f"{s} test": (p, "test") for s, p in data_info["datasets"].items()}
    if data_info.get("hq_test"):
        test_sets["HQ test"] = (data_info["hq_test"], None)
    scored: list[pd.DataFrame] = []
    rows = []

    def add(model: str, trained_on: str, val: pd.DataFrame | None, tests: dict[str, pd.DataFrame]):
        v = (val["label"].to_numpy(), val["prob"].to_numpy()) if val is not None and len(val) else None
        for tname, df in tests.items():
            y, s = df["label"].to_numpy(), df["prob"].to_numpy()
            ev = evaluate_scores(y, s, val=v, criterion=rec.evaluate.criterion, bootstrap=rec.evaluate.bootstrap,
                                 seed=int(rec.vars.get("seed", 0)))
            rows.append({"model": model, "trained_on": trained_on, "test_set": tname,
                         "kind": "HQ" if tname == "HQ test" else "standard", **ev.row()})
            scored.append(pd.DataFrame({"model": model, "test_set": tname, "label": y, "score": s,
                                        "source": df["source"].to_numpy() if "source" in df else "?"}))

    for name, info in models.items():
        m = next(x for x in rec.train if x.name == name)
        ckpt = load_checkpoint(Path(info["run"]) / "checkpoints" / "best.ckpt")
        own = data_info["datasets"][m.strategy]
        val = model_scores(ckpt, own, "val", progress)
        tests = {t: model_scores(ckpt, p, sp, progress) for t, (p, sp) in test_sets.items()}
        add(name, m.strategy, val, tests)

    if rec.evaluate.motif:
        from bindscape.motifs import PWMBaseline, load_motif

        motif = load_motif(rec.evaluate.motif, species=rec.evaluate.motif_species)
        base = PWMBaseline([motif])
        first = next(iter(data_info["datasets"].values()))
        val = pwm_scores(base, first, "val")
        add(PWM, "-", val, {t: pwm_scores(base, p, sp) for t, (p, sp) in test_sets.items()})

    metrics = pd.DataFrame(rows)
    preds = pd.concat(scored, ignore_index=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        preds.to_parquet(tmp, index=False)
    hq = metrics[metrics["test_set"] == "HQ test"].set_index("model")
    summary = {
        "test_sets": list(test_sets),
        "models": list(metrics["model"].unique()),
        "hq_auroc": hq["auROC"].to_dict() if len(hq) else {},
        "hq_auprc": hq["auPRC"].to_dict() if len(hq) else {},
    }
    if len(hq) and PWM in hq.index:
        best = hq.drop(index=PWM)["auPRC"]
        summary["best_model_hq"] = best.idxmax() if len(best) else None
        summary["beats_pwm_on_hq"] = bool(len(best) and best.max() > hq.loc[PWM, "auPRC"])
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return {"metrics": str((out_dir / "metrics.csv").resolve()), **summary}

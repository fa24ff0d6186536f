"""The ``multitask-bp`` recipe (NetTIME on the simulator), resumable with stage markers like `runner.py`.

Stages: ``simulate`` -> ``data`` (cross-labelled multi-condition bp dataset, accessibility tracks) ->
``train:multitask`` / ``train:holdout`` (held-out conditions excluded) / ``train:noemb`` (no embeddings, same
exclusions) / ``train:single:<TF>-<cell>`` (one per condition) -> ``evaluate`` (per-condition multi-resolution
auPRC, random-embedding ablation, transfer vs baselines, threshold-by-IOU vs CRF) -> ``report`` (HTML with a PCA
plot of the TF embeddings).

    from bindscape.recipes.multitask import run_multitask_recipe
    state = run_multitask_recipe("multitask-bp", out="runs/multitask-bp")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bindscape._util import atomic_write_text
from bindscape.errors import ConfigError
from bindscape.recipes.runner import RunState, _stage

DEFAULTS: dict[str, Any] = {
    "kind": "multitask", "name": "multitask-bp", "seed": 0, "simulate": {"preset": "demo"},
    "tfs": ["CEBPA", "GATA1", "FOXA1"], "cells": ["liver", "erythroid", "myeloid"], "held_out": [],
    "length": 500, "background": 0.5, "cross_label": "tf", "tracks": True, "model": {}, "batch_size": 32,
    "epochs": 4, "single_epochs": 4, "resolutions": [1, 200, 500], "single_task": True,
}


def load_multitask_recipe(path_or_name: str | Path | dict) -> dict:
    if isinstance(path_or_name, dict):
        data = path_or_name
    else:
        p = Path(path_or_name)
        if not p.exists():
            name = str(path_or_name).removesuffix(".yaml")
            res = resources.files("bindscape.recipes") / f"{name}.yaml"
            if not res.is_file():
                raise ConfigError(f"recipe {path_or_name!r} not found", hint="give a YAML path, multitask-bp or multitask-bp-lineage")
            text = res.read_text()
        else:
            text = p.read_text()
        data = yaml.safe_load(text) or {}
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"multitask recipe: unknown field(s) {unknown}; allowed: {sorted(DEFAULTS)}")
    rec = {**DEFAULTS, **data}
    keys = {f"{t}/{c}" for t in rec["tfs"] for c in rec["cells"]}
    bad = [h for h in rec["held_out"] if h not in keys]
    if bad:
        raise ConfigError(f"held_out {bad} are not conditions of this recipe ({sorted(keys)})")
    return rec


def _train(run_dir: Path, rec: dict, name: str, *, exclude=(), conditions=None, epochs=None, extra_params=None) -> dict:
    from bindscape.train import can_resume, train_multitask, validate_multitask_config

    params = {**rec["model"], **(extra_params or {})}
    cfg = validate_multitask_config({
        "dataset": str(run_dir / "data"), "name": name, "out_dir": str(run_dir / "models"),
        "model": {"name": "nettime", "params": params}, "exclude": list(exclude), "conditions": conditions,
        "tracks": "auto" if rec["tracks"] else "none", "data": {"batch_size": rec["batch_size"]},
        "trainer": {"max_epochs": epochs or rec["epochs"], "patience": 2, "seed": rec["seed"], "threads": 1},
    })
    # an interrupted stage (a last.ckpt but no finished metrics.json) continues where it stopped
    run = train_multitask(cfg, resume=can_resume(cfg.run_dir))
    return json.loads((run / "metrics.json").read_text())


def _data(rec: dict, run_dir: Path) -> dict:
    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp

    sim = run_dir / "sim" / "sim"
    conds = [Condition(t, c, None, str(sim / "peaks" / f"{t}.{c}.narrowPeak")) for t in rec["tfs"] for c in rec["cells"]]
    tracks = None
    if rec["tracks"]:
        tracks = {"names": ["accessibility"], "transform": "log1p",
                  "files": {c: {"accessibility": str(sim / "accessibility" / f"{c}.narrowPeak")} for c in rec["cells"]}}
    out = build_multitask_bp(sim / "genome.fa.gz", conds, run_dir / "data", length=rec["length"],
                             background=rec["background"], cross_label=rec["cross_label"], tracks=tracks,
                             seed=rec["seed"])
    meta = json.loads((out / "dataset.json").read_text())
    return {"dataset": str(out), "summary": meta["summary"]["counts"]}


def _evaluate(rec: dict, run_dir: Path) -> dict:
    import torch

    from bindscape.data.dataset import load_dataset
    from bindscape.data.multitask import MultitaskBPDataset
    from bindscape.evaluate.bp import bootstrap_auprc_diff, calling_summary, multires_metrics, sweep_threshold
    from bindscape.evaluate.crf import fit_crf
    from bindscape.train import load_multitask_checkpoint, predict_bp, predict_dataset_bp

    torch.set_num_threads(1)
    t_cpu = time.process_time()
    ds = load_dataset(run_dir / "data")
    models = run_dir / "models"
    res = rec["resolutions"]
    mt = load_multitask_checkpoint(models / "multitask")
    test = MultitaskBPDataset(ds, "test", vocab=mt.vocab, tracks=mt.tracks)
    val = MultitaskBPDataset(ds, "val", vocab=mt.vocab, tracks=mt.tracks)
    out: dict[str, Any] = {}
    s_mt = predict_dataset_bp(mt, test)
    tables = {"multitask": multires_metrics(s_mt, test.y, test.keys, res)}
    # single-task models, each on its own condition
    if rec["single_task"]:
        s_st = np.zeros_like(s_mt)
        for key in np.unique(test.keys):
            st = load_multitask_checkpoint(models / f"single-{key.replace('/', '-')}")
            rows = np.flatnonzero(test.keys == key)
            t, c = key.split("/")
            s_st[rows] = predict_bp(st, test.inputs(rows), t, c, logits=True)
        tables["single-task"] = multires_metrics(s_st, test.y, test.keys, res)
    # ablation: random embeddings with the trained embeddings' scale
    g = torch.Generator().manual_seed(rec["seed"])
    m = mt.model
    s_ab = np.zeros_like(s_mt)
    for key in np.unique(test.keys):
        rows = np.flatnonzero(test.keys == key)
        tv = torch.randn(m.tf_embedding.weight.shape[1], generator=g) * m.tf_embedding.weight.std()
        cv = torch.randn(m.cell_embedding.weight.shape[1], generator=g) * m.cell_embedding.weight.std()
        s_ab[rows] = predict_bp(mt, test.inputs(rows), tf_vec=tv.detach(), cell_vec=cv.detach(), logits=True)
    tables["random-embeddings"] = multires_metrics(s_ab, test.y, test.keys, res)
    comp = []
    for name, df in tables.items():
        comp.append(df.assign(model=name))
    comp = pd.concat(comp, ignore_index=True)
    comp.to_csv(run_dir / "comparison.csv", index=False)
    # transfer to held-out conditions
    trans, ci, swap = [], [], []
    if rec["held_out"]:
        ho = load_multitask_checkpoint(models / "holdout")
        ne = load_multitask_checkpoint(models / "noemb")
        for key in rec["held_out"]:
            t, c = key.split("/")
            rows = np.flatnonzero(test.keys == key)
            x, y = test.inputs(rows), test.y[rows]
            preds = {"embedding transfer": predict_bp(ho, x, t, c),
                     "average of trained cell types": np.mean(
                         [predict_bp(ho, x, t, c2) for c2 in rec["cells"] if (t, c2) in ho.vocab.pairs], axis=0),
                     "no embedding": predict_bp(ne, x, t, c),
                     "multitask (trained on it)": predict_bp(mt, x, t, c)}
            for method, p in preds.items():
                df = multires_metrics(p, y, None, res)
                for _, r in df.iterrows():
                    trans.append({"condition": key, "method": method, "resolution": r["resolution"], "auprc": r["auprc"]})
                if method == "embedding transfer":
                    continue
                for r in res:  # is the difference larger than the test set's sampling noise?
                    d = bootstrap_auprc_diff(preds["embedding transfer"], p, y, r, seed=rec["seed"])
                    ci.append({"condition": key, "resolution": r, "baseline": method, **d})
            # how much does the cell embedding matter? the held-out TF's embedding with each cell's embedding
            for c2 in rec["cells"]:
                a = multires_metrics(predict_bp(ho, x, t, c2), y, None, [1])["auprc"].iloc[0]
                swap.append({"condition": key, "cell_embedding": c2, "auprc_1bp": a})
    trans = pd.DataFrame(trans)
    trans.to_csv(run_dir / "transfer.csv", index=False)
    pd.DataFrame(ci).to_csv(run_dir / "transfer_ci.csv", index=False)
    pd.DataFrame(swap).to_csv(run_dir / "cell_embedding_swap.csv", index=False)
    # calling: threshold by IOU on validation vs CRF trained on validation outputs
    v_logits = predict_dataset_bp(mt, val)
    best, sweep = sweep_threshold(1 / (1 + np.exp(-v_logits)), val.y)
    crf = fit_crf(v_logits, val.y, epochs=20, max_sequences=1500, seed=rec["seed"])
    p_mt = 1 / (1 + np.exp(-s_mt))
    thr_calls = (p_mt >= best).astype(np.uint8)
    crf_calls = crf.decode(s_mt)
    calling = []
    for key in list(np.unique(test.keys)) + ["all"]:
        rows = np.arange(len(test)) if key == "all" else np.flatnonzero(test.keys == key)
        a = calling_summary(thr_calls[rows], test.y[rows])
        b = calling_summary(crf_calls[rows], test.y[rows])
        calling.append({"condition": key, "threshold": best, "iou_threshold": a["iou"], "iou_crf": b["iou"],
                        "transitions_threshold": a["transition_rate"], "transitions_crf": b["transition_rate"],
                        "transitions_truth": a["truth_transition_rate"]})
    calling = pd.DataFrame(calling)
    calling.to_csv(run_dir / "calling.csv", index=False)
    sweep.to_csv(run_dir / "threshold_sweep.csv", index=False)
    emb = {"tfs": mt.vocab.tfs, "tf": m.tf_embedding.weight.detach().numpy().tolist(),
           "cells": mt.vocab.cells, "cell": m.cell_embedding.weight.detach().numpy().tolist()}
    atomic_write_text(run_dir / "embeddings.json", json.dumps(emb) + "\n")
    out.update({"best_threshold": best, "crf": crf.describe(), "cpu_seconds": round(time.process_time() - t_cpu, 1)})
    return out


def _pca_figure(run_dir: Path):
    from bindscape.report.figures import _plt

    plt = _plt()
    emb = json.loads((run_dir / "embeddings.json").read_text())
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, names, key, title in ((axes[0], emb["tfs"], "tf", "TF embeddings"), (axes[1], emb["cells"], "cell", "cell-type embeddings")):
        X = np.asarray(emb[key])
        X = X - X.mean(0)
        u, s, vt = np.linalg.svd(X, full_matrices=False)
        P = X @ vt[:2].T if X.shape[0] > 1 else np.zeros((1, 2))
        ax.scatter(P[:, 0], P[:, 1] if P.shape[1] > 1 else 0 * P[:, 0])
        for n, (a, b) in zip(names, P[:, :2] if P.shape[1] > 1 else np.c_[P[:, 0], 0 * P[:, 0]]):
            ax.annotate(n, (a, b))
        ax.set_title(f"{title} (PCA)")
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    fig.tight_layout()
    return fig


def _report(rec: dict, run_dir: Path, state: RunState) -> dict:
    from bindscape.report import Report

    rep = Report(f"bindscape: {rec['name']}", subtitle="NetTIME-style multitask base-pair prediction")
    comp = pd.read_csv(run_dir / "comparison.csv")
    wide = comp.pivot_table(index=["condition", "resolution"], columns="model", values="auprc").reset_index()
    s = rep.section("Multitask vs single-task", "Test-chromosome auPRC of max-pooled per-bp scores, per condition.")
    s.table(wide, float_format="{:.3f}")
    tr = run_dir / "transfer.csv"
    if tr.exists() and tr.stat().st_size > 1:
        t = pd.read_csv(tr).pivot_table(index=["condition", "resolution"], columns="method", values="auprc").reset_index()
        rep.section("Transfer to held-out conditions").table(t, float_format="{:.3f}")
        ci = run_dir / "transfer_ci.csv"
        if ci.exists() and ci.stat().st_size > 1:
            rep.section("Transfer: embedding transfer minus each baseline",
                        "auPRC difference with a 95% interval from resampling test windows; an interval that "
                        "contains 0 means the test set cannot tell the two apart.").table(
                pd.read_csv(ci), float_format="{:.3f}")
        sw = run_dir / "cell_embedding_swap.csv"
        if sw.exists() and sw.stat().st_size > 1:
            t = pd.read_csv(sw).pivot_table(index="condition", columns="cell_embedding", values="auprc_1bp").reset_index()
            rep.section("Transfer: the held-out TF with each cell type's embedding",
                        "1-bp auPRC on the held-out condition's test windows. Columns that barely differ mean "
                        "the model ignores the cell embedding, so transfer can only tie the average of cell "
                        "types.").table(t, float_format="{:.3f}")
    cal = pd.read_csv(run_dir / "calling.csv")
    rep.section("Calling: threshold by IOU vs CRF", "Transition rate = label changes per bp step.").table(cal, float_format="{:.4f}")
    rep.section("Embeddings").figure(_pca_figure(run_dir), caption="PCA of the learned TF and cell-type embeddings")
    path = rep.write(run_dir / "report.html")
    return {"report": str(path)}


def run_multitask_recipe(path_or_name: str | Path | dict = "multitask-bp", out: str | Path | None = None,
                         force: bool = False, log: Callable[[str], None] = print) -> RunState:
    """Run (or resume) the multitask recipe into `out` (default ``runs/<name>``); returns what ran."""
    rec = load_multitask_recipe(path_or_name)
    run_dir = Path(out or Path("runs") / rec["name"])
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState(recipe=rec, run_dir=run_dir, force=force, log=log)  # RunState only needs a holder here
    atomic_write_text(run_dir / "recipe.json", json.dumps(rec, indent=2) + "\n")

    def sim():
        from bindscape.simulate import simulate

        simulate(rec["simulate"].get("preset", "demo"), seed=rec["seed"], out=run_dir / "sim",
                 overrides=rec["simulate"].get("overrides"))
        return {"out": str(run_dir / "sim")}

    _stage(state, "simulate", sim)
    _stage(state, "data", lambda: _data(rec, run_dir))
    _stage(state, "train:multitask", lambda: _train(run_dir, rec, "multitask"))
    if rec["held_out"]:
        _stage(state, "train:holdout", lambda: _train(run_dir, rec, "holdout", exclude=rec["held_out"]))
        _stage(state, "train:noemb", lambda: _train(run_dir, rec, "noemb", exclude=rec["held_out"],
                                                    extra_params={"use_embeddings": False}))
    if rec["single_task"]:
        for t in rec["tfs"]:
            for c in rec["cells"]:
                key = f"{t}/{c}"
                _stage(state, f"train:single:{t}-{c}",
                       lambda key=key: _train(run_dir, rec, f"single-{key.replace('/', '-')}", conditions=[key],
                                              epochs=rec["single_epochs"]))
    _stage(state, "evaluate", lambda: _evaluate(rec, run_dir))
    _stage(state, "report", lambda: _report(rec, run_dir, state))
    return state

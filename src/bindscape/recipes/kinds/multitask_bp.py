"""The ``multitask-bp`` recipe kind (``kind: multitask`` also works): NetTIME on the simulator.

Stages: ``simulate`` -> ``data`` (cross-labelled multi-condition bp dataset, accessibility tracks) ->
``train:multitask`` / ``train:holdout`` (held-out conditions excluded) / ``train:noemb`` (no embeddings, same
exclusions) / ``train:single:<TF>-<cell>`` (one per condition) -> ``evaluate`` (per-condition multi-resolution
auPRC, random-embedding ablation, transfer vs baselines, threshold-by-IOU vs CRF) -> ``report``
(`bindscape.report.multitask_bp`: tables and a PCA plot of the TF embeddings).

    from bindscape.recipes import run_recipe
    state = run_recipe("multitask-bp", out="runs/multitask-bp")
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from bindscape._util import atomic_write_text
from bindscape.errors import ConfigError
from bindscape.recipes.engine import RecipeBase, RunState, resume_training, stage
from bindscape.schema import StrictModel

LATE_VARS: tuple[str, ...] = ()


class MTSimulate(StrictModel):
    """The simulate stage: a simulator preset and its overrides (the recipe's ``seed`` seeds it)."""

    preset: str = "demo"
    overrides: dict[str, Any] = Field(default_factory=dict)


class MultitaskRecipe(RecipeBase):
    """A ``multitask-bp`` recipe: conditions are every TF x cell type."""

    kind: Literal["multitask", "multitask-bp"] = "multitask"
    name: str = "multitask-bp"
    seed: int = 0
    simulate: MTSimulate = Field(default_factory=MTSimulate)
    tfs: list[str] = Field(default_factory=lambda: ["CEBPA", "GATA1", "FOXA1"])
    cells: list[str] = Field(default_factory=lambda: ["liver", "erythroid", "myeloid"])
    held_out: list[str] = Field(default_factory=list)
    """``TF/cell`` conditions left out of the holdout and no-embedding models (the transfer test)."""
    length: int = 500
    background: float = 0.5
    cross_label: str = "tf"
    tracks: bool = True
    model: dict[str, Any] = Field(default_factory=dict)
    """NetTIME model parameters."""
    batch_size: int = 32
    epochs: int = 4
    single_epochs: int = 4
    resolutions: list[int] = Field(default_factory=lambda: [1, 200, 500])
    single_task: bool = True


SCHEMA = MultitaskRecipe


def check(rec: MultitaskRecipe) -> None:
    """Every held-out condition must be one of the recipe's TF x cell conditions.

    Parameters
    ----------
    rec
        The validated recipe; a stray condition is a `ConfigError`.
    """
    keys = {f"{t}/{c}" for t in rec.tfs for c in rec.cells}
    bad = [h for h in rec.held_out if h not in keys]
    if bad:
        raise ConfigError(f"{rec.source}: held_out {bad} are not conditions of this recipe ({sorted(keys)})")


def run(state: RunState, *, progress: bool = True) -> None:
    """Every stage of a ``multitask-bp`` recipe, in order; NetTIME training shows no progress bars.

    Parameters
    ----------
    state
        Holds the recipe, the run folder and the stage markers.
    progress
        Unused (the engine passes it to every kind).
    """
    rec, run_dir = state.recipe, state.run_dir
    stage(state, "simulate", lambda: _simulate(rec, run_dir))
    stage(state, "data", lambda: _data(rec, run_dir))
    stage(state, "train:multitask", lambda: _train(run_dir, rec, "multitask"))
    if rec.held_out:
        stage(state, "train:holdout", lambda: _train(run_dir, rec, "holdout", exclude=rec.held_out))
        stage(state, "train:noemb", lambda: _train(run_dir, rec, "noemb", exclude=rec.held_out,
                                                   extra_params={"use_embeddings": False}))
    if rec.single_task:
        for t in rec.tfs:
            for c in rec.cells:
                key = f"{t}/{c}"
                stage(state, f"train:single:{t}-{c}",
                      lambda key=key: _train(run_dir, rec, f"single-{key.replace('/', '-')}", conditions=[key],
                                             epochs=rec.single_epochs))
    stage(state, "evaluate", lambda: evaluate(rec, run_dir))
    stage(state, "report", lambda: _report(rec, run_dir))


# ----------------------------------------------------------------------------------------------- stages
def _simulate(rec: MultitaskRecipe, run_dir: Path) -> dict:
    from bindscape.simulate import simulate

    simulate(rec.simulate.preset, seed=rec.seed, out=run_dir / "sim", overrides=rec.simulate.overrides or None)
    return {"out": str(run_dir / "sim")}


def _train(run_dir: Path, rec: MultitaskRecipe, name: str, *, exclude=(), conditions=None, epochs=None,
           extra_params=None) -> dict:
    import bindscape.train

    params = {**rec.model, **(extra_params or {})}
    cfg = bindscape.train.validate_multitask_config({
        "dataset": str(run_dir / "data"), "name": name, "out_dir": str(run_dir / "models"),
        "model": {"name": "nettime", "params": params}, "exclude": list(exclude), "conditions": conditions,
        "tracks": "auto" if rec.tracks else "none", "data": {"batch_size": rec.batch_size},
        "trainer": {"max_epochs": epochs or rec.epochs, "patience": 2, "seed": rec.seed, "threads": 1},
    })
    resume = resume_training(cfg.run_dir)
    run = bindscape.train.train_multitask(cfg, resume=resume, overwrite=not resume)
    return json.loads((run / "metrics.json").read_text())


def _data(rec: MultitaskRecipe, run_dir: Path) -> dict:
    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp

    sim = run_dir / "sim" / "sim"
    conds = [Condition(t, c, None, str(sim / "peaks" / f"{t}.{c}.narrowPeak")) for t in rec.tfs for c in rec.cells]
    tracks = None
    if rec.tracks:
        tracks = {"names": ["accessibility"], "transform": "log1p",
                  "files": {c: {"accessibility": str(sim / "accessibility" / f"{c}.narrowPeak")} for c in rec.cells}}
    out = build_multitask_bp(sim / "genome.fa.gz", conds, run_dir / "data", length=rec.length,
                             background=rec.background, cross_label=rec.cross_label, tracks=tracks, seed=rec.seed)
    meta = json.loads((out / "dataset.json").read_text())
    return {"dataset": str(out), "summary": meta["summary"]["counts"]}


def _report(rec: MultitaskRecipe, run_dir: Path) -> dict:
    from bindscape.report.multitask_bp import write_report

    return {"report": str(write_report(rec, run_dir))}


# ------------------------------------------------------------------------------------------- evaluation
def evaluate(rec: MultitaskRecipe, run_dir: Path) -> dict:
    """The evaluate stage of recipe `rec`: writes comparison, transfer, calling and embedding tables into the
    run folder `run_dir` (``data/``, ``models/``). Returns the chosen IOU threshold, the CRF's description and
    the stage's CPU seconds."""
    import torch

    from bindscape.data.dataset import load_dataset
    from bindscape.data.multitask import MultitaskBPDataset
    from bindscape.train import load_multitask_checkpoint

    torch.set_num_threads(1)
    t_cpu = time.process_time()
    ds = load_dataset(run_dir / "data")
    models = run_dir / "models"
    mt = load_multitask_checkpoint(models / "multitask")
    test = MultitaskBPDataset(ds, "test", vocab=mt.vocab, tracks=mt.tracks)
    val = MultitaskBPDataset(ds, "val", vocab=mt.vocab, tracks=mt.tracks)
    s_mt = _comparison(rec, run_dir, mt, test)
    _transfer(rec, run_dir, mt, test)
    best, crf = _calling(rec, run_dir, mt, val, test, s_mt)
    m = mt.model
    emb = {"tfs": mt.vocab.tfs, "tf": m.tf_embedding.weight.detach().numpy().tolist(),
           "cells": mt.vocab.cells, "cell": m.cell_embedding.weight.detach().numpy().tolist()}
    atomic_write_text(run_dir / "embeddings.json", json.dumps(emb) + "\n")
    return {"best_threshold": best, "crf": crf.describe(), "cpu_seconds": round(time.process_time() - t_cpu, 1)}


def _comparison(rec: MultitaskRecipe, run_dir: Path, mt, test) -> np.ndarray:
    """Multitask vs single-task vs random embeddings per condition (``comparison.csv``); the multitask logits."""
    import torch

    from bindscape.evaluate.bp import multires_metrics
    from bindscape.train import load_multitask_checkpoint, predict_bp, predict_dataset_bp

    res = rec.resolutions
    s_mt = predict_dataset_bp(mt, test)
    tables = {"multitask": multires_metrics(s_mt, test.y, test.keys, res)}
    if rec.single_task:  # single-task models, each on its own condition
        s_st = np.zeros_like(s_mt)
        for key in np.unique(test.keys):
            st = load_multitask_checkpoint(run_dir / "models" / f"single-{key.replace('/', '-')}")
            rows = np.flatnonzero(test.keys == key)
            t, c = key.split("/")
            s_st[rows] = predict_bp(st, test.inputs(rows), t, c, logits=True)
        tables["single-task"] = multires_metrics(s_st, test.y, test.keys, res)
    # ablation: random embeddings with the trained embeddings' scale
    g = torch.Generator().manual_seed(rec.seed)
    m = mt.model
    s_ab = np.zeros_like(s_mt)
    for key in np.unique(test.keys):
        rows = np.flatnonzero(test.keys == key)
        tv = torch.randn(m.tf_embedding.weight.shape[1], generator=g) * m.tf_embedding.weight.std()
        cv = torch.randn(m.cell_embedding.weight.shape[1], generator=g) * m.cell_embedding.weight.std()
        s_ab[rows] = predict_bp(mt, test.inputs(rows), tf_vec=tv.detach(), cell_vec=cv.detach(), logits=True)
    tables["random-embeddings"] = multires_metrics(s_ab, test.y, test.keys, res)
    comp = pd.concat([df.assign(model=name) for name, df in tables.items()], ignore_index=True)
    comp.to_csv(run_dir / "comparison.csv", index=False)
    return s_mt


def _transfer(rec: MultitaskRecipe, run_dir: Path, mt, test) -> None:
    """Transfer to held-out conditions vs baselines, with intervals and cell-embedding swaps (3 CSV files)."""
    from bindscape.evaluate.bp import bootstrap_auprc_diff, multires_metrics
    from bindscape.train import load_multitask_checkpoint, predict_bp

    res = rec.resolutions
    trans, ci, swap = [], [], []
    if rec.held_out:
        ho = load_multitask_checkpoint(run_dir / "models" / "holdout")
        ne = load_multitask_checkpoint(run_dir / "models" / "noemb")
        for key in rec.held_out:
            t, c = key.split("/")
            rows = np.flatnonzero(test.keys == key)
            x, y = test.inputs(rows), test.y[rows]
            preds = {"embedding transfer": predict_bp(ho, x, t, c),
                     "average of trained cell types": np.mean(
                         [predict_bp(ho, x, t, c2) for c2 in rec.cells if (t, c2) in ho.vocab.pairs], axis=0),
                     "no embedding": predict_bp(ne, x, t, c),
                     "multitask (trained on it)": predict_bp(mt, x, t, c)}
            for method, p in preds.items():
                df = multires_metrics(p, y, None, res)
                for _, r in df.iterrows():
                    trans.append({"condition": key, "method": method, "resolution": r["resolution"], "auprc": r["auprc"]})
                if method == "embedding transfer":
                    continue
                for r in res:  # is the difference larger than the test set's sampling noise?
                    d = bootstrap_auprc_diff(preds["embedding transfer"], p, y, r, seed=rec.seed)
                    ci.append({"condition": key, "resolution": r, "baseline": method, **d})
            # how much does the cell embedding matter? the held-out TF's embedding with each cell's embedding
            for c2 in rec.cells:
                a = multires_metrics(predict_bp(ho, x, t, c2), y, None, [1])["auprc"].iloc[0]
                swap.append({"condition": key, "cell_embedding": c2, "auprc_1bp": a})
    pd.DataFrame(trans).to_csv(run_dir / "transfer.csv", index=False)
    pd.DataFrame(ci).to_csv(run_dir / "transfer_ci.csv", index=False)
    pd.DataFrame(swap).to_csv(run_dir / "cell_embedding_swap.csv", index=False)


def _calling(rec: MultitaskRecipe, run_dir: Path, mt, val, test, s_mt: np.ndarray):
    """Threshold by IOU on validation vs a CRF trained on validation outputs (``calling.csv``, the sweep)."""
    from bindscape.evaluate.bp import calling_summary, sweep_threshold
    from bindscape.evaluate.crf import fit_crf
    from bindscape.train import predict_dataset_bp

    v_logits = predict_dataset_bp(mt, val)
    best, sweep = sweep_threshold(1 / (1 + np.exp(-v_logits)), val.y)
    crf = fit_crf(v_logits, val.y, epochs=20, max_sequences=1500, seed=rec.seed)
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
    pd.DataFrame(calling).to_csv(run_dir / "calling.csv", index=False)
    sweep.to_csv(run_dir / "threshold_sweep.csv", index=False)
    return best, crf


__all__ = ["LATE_VARS", "MultitaskRecipe", "SCHEMA", "check", "evaluate", "run"]

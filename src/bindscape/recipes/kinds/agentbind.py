"""The ``agentbind`` recipe kind: AgentBind's experiment (Zheng et al. 2021) on motif instances.

Stages: simulate (optional) -> datasets (-> datasets:masked with ``masking: [test, train]``) -> train
(pretrain on every TF, then per TF fine-tuned and from scratch, and from scratch on masked windows) ->
evaluate -> explain -> report (`bindscape.report.agentbind`).

- **datasets**: for every control and every TF, bound vs unbound matches of the TF's motif
  (`bindscape.data.motif_instances.build_motif_instances`): ``pmatched`` (classes matched on -log10 p),
  ``gc`` (also paired on window GC) and ``accessible`` (only matches inside `data.accessible`, e.g. DNase
  footprints). Chromosome splits come from the genome's sizes alone (``kgroup`` / ``chroms``), so every TF and
  control shares its validation and test chromosomes and the cross-TF matrix never tests on training
  chromosomes. A ``pooled`` dataset per control concatenates the TFs' training, validation and test rows.
- **train**: per control and model, one model pretrained on the pooled set, then per TF a model fine-tuned
  from it (``finetune:``) and one trained from scratch. The best epoch is chosen on validation auPRC.
- **masking** (``masking: [test]``, the default, or ``[test, train]``): with ``train``, a ``datasets:masked``
  stage writes per control and TF a copy of the instance dataset whose rows carry their window as a stored
  ``sequence`` with the core replaced by N (exactly `fetch_instances(mask_core=True)`), and per control, model
  and TF one more model is trained from scratch on it (training and validation windows masked; init
  ``scratch (trained masked)``): AgentBind's "context alone" model, which never sees the core.
- **evaluate**: every per-TF model on every TF's test split (the cross-TF matrix), with the motif core as
  it is and with the core replaced by N (AgentBind's core-masked ablation at test time; the models trained
  masked are scored on masked windows only), plus the PWM of each TF (at chance by construction on p-matched
  sets). auROC
  and auPRC carry percentile-bootstrap 95% intervals. Thresholds and the pretrained-or-not choice use the
  validation split only; each test split is scored once per model and masking.
- **explain**: Grad-CAM (or another `bindscape.explain.attributions` method) on the test positives of each
  TF's model chosen on validation, oriented so the motif reads forward; the mean attribution by position
  relative to the core start (the "context track") and k-mer enrichment outside the core.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from bindscape._util import atomic_path, atomic_write_text
from bindscape.errors import ConfigError
from bindscape.recipes.engine import RecipeBase, RunState, resume_training, simulate_stage, stage
from bindscape.schema import StrictModel

LATE_VARS = ("sim",)
CONTROLS = ("pmatched", "gc", "accessible")
MASKINGS = ("test", "train")
MASKED_INIT = "scratch (trained masked)"
PWM = "PWM"
PWM_CORE = "PWM core match"
POOLED = "pooled"


class ABSimulate(StrictModel):
    """The optional simulate stage (tests and quick looks): a simulator preset, its seed and overrides."""

    preset: str = "small"
    seed: int = 0
    set: dict[str, Any] = Field(default_factory=dict)


class ABTF(StrictModel):
    """One TF: its motif (JASPAR ID, name or motif file) and its binding peaks or sites (BED)."""

    motif: str
    peaks: str
    peak_flank: int = Field(0, ge=0)
    """Widen peaks by this many bp on both sides (1-bp ChIP-exo peaks need it)."""
    motif_species: str | None = None


class ABData(StrictModel):
    """Inputs and the motif-instance builder's settings."""

    genome: str
    tfs: dict[str, ABTF]
    accessible: str | None = None
    """Accessible regions (e.g. DNase footprints) for the ``accessible`` control."""
    controls: list[Literal["pmatched", "gc", "accessible"]] = Field(default_factory=lambda: list(CONTROLS))
    length: int = Field(200, ge=20)
    pvalue: float = Field(1e-4, gt=0, lt=1)
    bin_width: float = Field(0.1, gt=0)
    gc_tolerance: float = Field(0.02, gt=0)
    split: str = "kgroup:0"
    """``kgroup[:FOLD]`` (groups of chromosomes balanced by size) or ``chroms`` (with `val` / `test`)."""
    val: list[str] = Field(default_factory=list)
    test: list[str] = Field(default_factory=list)
    groups: int = Field(3, ge=3)


class ABModel(StrictModel):
    """One architecture (training-config sections; ``model.name``: bindscape_cnn, danq, deepsea, ...)."""

    name: str
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "bindscape_cnn"})
    data: dict[str, Any] = Field(default_factory=dict)
    optim: dict[str, Any] = Field(default_factory=dict)
    trainer: dict[str, Any] = Field(default_factory=dict)


class ABPretrain(StrictModel):
    """Pretraining on the pooled TFs, then fine-tuning per TF (`bindscape.train.finetune`)."""

    enabled: bool = True
    trainer: dict[str, Any] = Field(default_factory=dict)
    """Trainer overrides for the pretraining run (the model's own trainer section otherwise)."""
    finetune_trainer: dict[str, Any] = Field(default_factory=dict)
    freeze: list[str] = Field(default_factory=list)
    reinit: list[str] = Field(default_factory=list)


class ABEvaluate(StrictModel):
    """Bootstrap resamples of the intervals and the threshold criterion (chosen on validation)."""

    bootstrap: int = Field(200, ge=0)
    criterion: Literal["F1", "MCC"] = "F1"


class ABExplain(StrictModel):
    """Context tracks and k-mer tables of each TF's model (the first model; pretrained or not by validation)."""

    enabled: bool = True
    method: str = "gradcam"
    n: int = Field(300, ge=10)
    """At most this many test positives per TF and control."""
    k: int = Field(5, ge=3, le=8)
    top_frac: float = Field(0.05, gt=0, le=1)


class AgentBindRecipe(RecipeBase):
    """An ``agentbind`` recipe."""

    kind: Literal["agentbind"] = "agentbind"
    simulate: ABSimulate | None = None
    data: ABData
    models: list[ABModel] = Field(default_factory=lambda: [ABModel(name="cnn")])
    pretrain: ABPretrain = Field(default_factory=ABPretrain)
    evaluate: ABEvaluate = Field(default_factory=ABEvaluate)
    explain: ABExplain = Field(default_factory=ABExplain)
    masking: list[Literal[MASKINGS]] = Field(default_factory=lambda: ["test"])
    """``[test]``: core masked at test time only; ``[test, train]``: also models trained and validated masked."""


SCHEMA = AgentBindRecipe


def check(rec: AgentBindRecipe) -> None:
    """Cross-field checks: TFs, controls, splits, model names and the explain method.

    Parameters
    ----------
    rec
        The validated recipe; any problem is a `ConfigError` naming the field.
    """
    path, d = rec.source, rec.data
    if not d.tfs:
        raise ConfigError(f"{path}: data.tfs: name at least one TF (TF: {{motif: ID, peaks: FILE}})")
    if POOLED in d.tfs:
        raise ConfigError(f"{path}: data.tfs: {POOLED!r} is reserved for the pooled pretraining set")
    if rec.pretrain.enabled and len(d.tfs) < 2:
        raise ConfigError(f"{path}: pretrain.enabled needs at least two TFs under data.tfs, got {len(d.tfs)}",
                          hint="add a TF or set pretrain.enabled: false")
    if not d.controls or len(set(d.controls)) != len(d.controls):
        raise ConfigError(f"{path}: data.controls: give each of {', '.join(CONTROLS)} at most once, got {d.controls}")
    if "accessible" in d.controls and not d.accessible:
        raise ConfigError(f"{path}: data.controls: 'accessible' needs data.accessible (a BED of accessible regions)")
    scheme = d.split.split(":")[0]
    if scheme not in ("kgroup", "chroms"):
        raise ConfigError(f"{path}: data.split: {d.split!r}; use kgroup[:FOLD] or chroms (with data.val/data.test)",
                          hint="every TF and control must share chromosome splits for the cross-TF matrix")
    if scheme == "chroms" and not (d.val and d.test):
        raise ConfigError(f"{path}: data.split: chroms needs data.val and data.test chromosome lists")
    if "test" not in rec.masking or len(set(rec.masking)) != len(rec.masking):
        raise ConfigError(f"{path}: masking: give test, optionally with train, each once; got {rec.masking}",
                          hint="masking: [test] (default) or masking: [test, train]")
    names = [m.name for m in rec.models]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"{path}: models: give at least one model, names unique; got {names}")
    from bindscape.explain.attributions import check_method

    try:
        check_method(rec.explain.method)
    except ConfigError as exc:
        raise ConfigError(f"{path}: explain.method: {exc}") from None


def run(state: RunState, *, progress: bool = True) -> None:
    """Every stage of an ``agentbind`` recipe.

    Parameters
    ----------
    state
        The run's state (its ``recipe`` is replaced once ``${sim}`` is known).
    progress
        Progress bars while training.
    """
    rec, run_dir = state.recipe, state.run_dir
    if rec.simulate is not None:
        rec = simulate_stage(state)
    data = stage(state, "datasets", lambda: build_datasets(rec, run_dir))
    masked = stage(state, "datasets:masked", lambda: build_masked_datasets(rec, run_dir, data)) \
        if "train" in rec.masking else None
    runs = []
    for control in rec.data.controls:
        for m in rec.models:
            runs += _train_control(state, rec, m, control, data, progress)
            if masked is not None:
                runs += _train_masked(state, rec, m, control, masked, progress)
    ev = stage(state, "evaluate", lambda: evaluate_agentbind(rec, run_dir, data, runs))
    if rec.explain.enabled:
        stage(state, "explain", lambda: explain_agentbind(rec, run_dir, data, runs, ev["chosen"]))
    stage(state, "report", lambda: _report(rec, run_dir))


def _train_control(state: RunState, rec: AgentBindRecipe, m: ABModel, control: str, data: dict,
                   progress: bool) -> list[dict]:
    """Train stages of one control and model: pretrain, then per TF fine-tuned and from scratch."""
    ds = data["datasets"][control]
    out = state.run_dir / "models" / control
    runs = []
    pre = None
    if rec.pretrain.enabled:
        trainer = {**m.trainer, **rec.pretrain.trainer}
        pre = stage(state, f"train:{control}:{m.name}:pretrain", lambda: _train(
            rec, m, data["pooled"][control], out, f"{m.name}-pretrain", trainer, progress))
    for tf in rec.data.tfs:
        info = stage(state, f"train:{control}:{m.name}:{tf}:scratch", lambda tf=tf: _train(
            rec, m, ds[tf], out, f"{m.name}-{tf}-scratch", m.trainer, progress))
        runs.append({"control": control, "model": m.name, "tf": tf, "init": "scratch", "run": info["run"]})
        if pre is not None:
            ft = {"checkpoint": str(Path(pre["run"]) / "checkpoints" / "best.ckpt"),
                  "freeze": rec.pretrain.freeze, "reinit": rec.pretrain.reinit}
            trainer = {**m.trainer, **rec.pretrain.finetune_trainer}
            info = stage(state, f"train:{control}:{m.name}:{tf}:finetune", lambda tf=tf, ft=ft, tr=trainer: _train(
                rec, m, ds[tf], out, f"{m.name}-{tf}-finetune", tr, progress, finetune=ft))
            runs.append({"control": control, "model": m.name, "tf": tf, "init": "pretrained", "run": info["run"]})
    return runs


def _train_masked(state: RunState, rec: AgentBindRecipe, m: ABModel, control: str, masked: dict,
                  progress: bool) -> list[dict]:
    """Train stages of one control and model on core-masked windows: per TF one model from scratch."""
    out = state.run_dir / "models" / control
    runs = []
    for tf in rec.data.tfs:
        info = stage(state, f"train:{control}:{m.name}:{tf}:scratch-masked", lambda tf=tf: _train(
            rec, m, masked["datasets"][control][tf], out, f"{m.name}-{tf}-scratch-masked", m.trainer, progress))
        runs.append({"control": control, "model": m.name, "tf": tf, "init": MASKED_INIT, "run": info["run"],
                     "trained_masked": True})
    return runs


# ----------------------------------------------------------------------------------------------- stages

def build_datasets(rec: AgentBindRecipe, run_dir: Path) -> dict:
    """The datasets stage: one motif-instance dataset per control x TF, plus a pooled one per control.

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; datasets go to ``datasets/<control>/<TF>`` and ``datasets/<control>/pooled``.

    Returns
    -------
    dict
        ``datasets`` (control -> TF -> folder), ``pooled`` (control -> folder), ``counts`` (control -> TF ->
        split -> bound/unbound) and ``split`` (chromosome -> split).
    """
    from bindscape.data.motif_instances import build_motif_instances, write_motif_instances
    from bindscape.io.genome import Genome

    d = rec.data
    g = Genome(d.genome)
    seed = int(rec.vars.get("seed", 0))
    datasets, pooled, counts, mapping = {}, {}, {}, {}
    for control in d.controls:
        tables = {}
        for tf, spec in d.tfs.items():
            df = build_motif_instances(
                g, spec.motif, spec.peaks, length=d.length, pvalue=d.pvalue, bin_width=d.bin_width,
                gc_control=control == "gc", gc_tolerance=d.gc_tolerance, peak_flank=spec.peak_flank,
                accessible=d.accessible if control == "accessible" else None, species=spec.motif_species, seed=seed)
            df, mapping = _split(df, d, g.sizes)
            df["tf"] = tf
            path = run_dir / "datasets" / control / tf
            write_motif_instances(path, df, g, seed=seed)
            datasets.setdefault(control, {})[tf] = str(path.resolve())
            counts.setdefault(control, {})[tf] = _split_counts(df)
            tables[tf] = df
        if len(tables) > 1:
            pool = pd.concat(list(tables.values()), ignore_index=True)
            pool.attrs.update(params={"pooled": list(tables), "control": control, "length": d.length},
                              stats={tf: t.attrs.get("stats", {}) for tf, t in tables.items()})
            path = run_dir / "datasets" / control / POOLED
            write_motif_instances(path, pool, g, seed=seed)
            pooled[control] = str(path.resolve())
    return {"datasets": datasets, "pooled": pooled, "counts": counts, "split": mapping}


def build_masked_datasets(rec: AgentBindRecipe, run_dir: Path, data: dict) -> dict:
    """The ``datasets:masked`` stage: each control x TF dataset again, its windows stored with the core as N.

    Every row gets a ``sequence`` column: its window on the forward strand as `fetch_instances` reads it with
    ``mask_core=True``. The training loader reads stored sequences instead of the genome (coordinates then
    only decide the split), so a model trained on these folders never sees a core base, in training or in
    validation; ``dataset.json`` records ``mask_core: true`` and the folder it was masked from.

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; datasets go to ``datasets-masked/<control>/<TF>``.
    data
        The datasets stage's record.

    Returns
    -------
    dict
        ``datasets`` (control -> TF -> folder) and ``masked_bases`` (control -> TF -> N bases written over
        cores, summed over rows).
    """
    from bindscape.data.dataset import load_dataset
    from bindscape.data.motif_instances import fetch_instances, write_motif_instances
    from bindscape.io.genome import Genome, decode

    g = Genome(rec.data.genome)
    seed = int(rec.vars.get("seed", 0))
    datasets, n_masked = {}, {}
    for control, ds in data["datasets"].items():
        for tf, path in ds.items():
            src = load_dataset(path)
            df = src.regions.copy()
            codes = fetch_instances(g, df, mask_core=True, onehot=False)
            df["sequence"] = decode(codes)
            df.attrs["params"] = {**src.meta.get("params", {}), "mask_core": True, "masked_from": str(path)}
            df.attrs["stats"] = src.meta.get("stats", {})
            out = run_dir / "datasets-masked" / control / tf
            write_motif_instances(out, df, g, seed=seed)
            datasets.setdefault(control, {})[tf] = str(out.resolve())
            n_masked.setdefault(control, {})[tf] = int((df["core_end"] - df["core_start"]).sum())
    return {"datasets": datasets, "masked_bases": n_masked}


def _split(df: pd.DataFrame, d: ABData, sizes) -> tuple[pd.DataFrame, dict]:
    """Chromosome splits from the genome's sizes (the same for every TF and control)."""
    from bindscape.data.splits import assign_split

    attrs = dict(df.attrs)
    sizes = {str(k): int(v) for k, v in dict(sizes).items()}
    out, mapping = assign_split(df, d.split, val=d.val, test=d.test, sizes=sizes, k=d.groups)
    out.attrs.update(attrs)
    out.attrs["params"] = {**attrs.get("params", {}), "split": d.split, "val": d.val, "test": d.test}
    for need in ("train", "val", "test"):
        if not (out["split"] == need).any():
            raise ConfigError(f"data.split: the {need} split of {df['motif'].iloc[0]} instances is empty",
                              hint="choose data.val/data.test chromosomes that hold instances")
    return out, mapping


def _split_counts(df: pd.DataFrame) -> dict:
    return {s: {"bound": int((sub["label"] == 1).sum()), "unbound": int((sub["label"] == 0).sum())}
            for s, sub in df.groupby("split", sort=True)}


def _train(rec: AgentBindRecipe, m: ABModel, dataset: str, out: Path, name: str, trainer: dict, progress: bool,
           finetune: dict | None = None) -> dict:
    import bindscape.train

    body = {"dataset": dataset, "name": name, "out_dir": str(out), "model": m.model, "data": m.data,
            "optim": m.optim, "trainer": {"seed": int(rec.vars.get("seed", 0)), "progress": progress, **trainer}}
    if finetune is not None:
        body["finetune"] = finetune
    cfg = bindscape.train.validate_config(body, source=f"{rec.source}: models.{m.name}")
    resume = resume_training(cfg.run_dir)
    run = bindscape.train.train(cfg, resume=resume, overwrite=not resume)
    metrics = json.loads((run / "metrics.json").read_text())
    return {"run": str(run.resolve()), "resumed": resume, "cpu_seconds": metrics.get("cpu_seconds"),
            "val": metrics.get("val"), "epochs": metrics.get("epochs")}


def _report(rec: AgentBindRecipe, run_dir: Path) -> dict:
    from bindscape.report.agentbind import write_report

    return {"report": str(write_report(rec, run_dir).resolve())}


# ------------------------------------------------------------------------------------------- evaluation
def _load_split(path: str, split: str) -> pd.DataFrame:
    from bindscape.data.dataset import load_dataset

    ds = load_dataset(path)
    r = ds.regions
    return r[r["split"] == split].reset_index(drop=True)


def _scores(scorer, genome, regions: pd.DataFrame, masked: bool) -> np.ndarray:
    from bindscape.data.motif_instances import fetch_instances

    if not len(regions):
        return np.zeros(0)
    x = fetch_instances(genome, regions, mask_core=masked)
    s = np.asarray(scorer(x))
    return s[:, 0] if s.ndim == 2 else s


def evaluate_agentbind(rec: AgentBindRecipe, run_dir: Path, data: dict, runs: list[dict]) -> dict:
    """The evaluate stage: every per-TF model and each TF's PWM on every TF's test split, core kept and masked.

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; ``evaluation/metrics.csv`` (one row per control x model x init x trained TF x test TF
        x masking, with intervals), ``evaluation/cross_tf.csv`` and ``evaluation/summary.json``.
    data
        The datasets stage's record.
    runs
        One record per per-TF training run (``control``, ``model``, ``tf``, ``init``, ``run``).

    Returns
    -------
    dict
        The summary: ``chosen`` (control/model/TF -> init chosen on validation auROC), CPU seconds of training.
    """
    from bindscape.io.genome import Genome

    genome = Genome(rec.data.genome)
    rows, val_auroc, cells = [], {}, {}
    for control, ds in data["datasets"].items():
        tests = {tf: _load_split(p, "test") for tf, p in ds.items()}
        for r in (r for r in runs if r["control"] == control):
            rows += _model_rows(rec, genome, r, ds, tests, val_auroc, cells)
        rows += _pwm_rows(rec, genome, control, ds, tests)
    metrics = pd.DataFrame(rows)
    out = run_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    cross = cross_tf_table(cells)
    with atomic_path(out / "cross_tf.csv") as tmp:
        cross.to_csv(tmp, index=False)
    chosen = {}
    for (control, model, tf), v in _group_val(val_auroc).items():
        chosen[f"{control}/{model}/{tf}"] = max(v, key=lambda k: (v[k], k == "scratch"))
    cpu = sum(json.loads((Path(r["run"]) / "metrics.json").read_text()).get("cpu_seconds", 0) or 0 for r in runs)
    pre = {str(p) for p in (run_dir / "models").glob("*/*-pretrain/metrics.json")}
    cpu += sum(json.loads(Path(p).read_text()).get("cpu_seconds", 0) or 0 for p in pre)
    summary = {"chosen": chosen, "val_auroc": {"/".join(k): v for k, v in val_auroc.items()},
               "cpu_seconds_training": round(cpu, 1), "masking": "test time (core bases read as N)"}
    if "train" in rec.masking:
        summary["masking"] += f"; {MASKED_INIT}: also trained and validated with the core read as N"
        summary["cpu_seconds_training_masked"] = round(sum(
            json.loads((Path(r["run"]) / "metrics.json").read_text()).get("cpu_seconds", 0) or 0
            for r in runs if r.get("trained_masked")), 1)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _group_val(val_auroc: dict) -> dict:
    grouped: dict = {}
    for (control, model, tf, init), v in val_auroc.items():
        grouped.setdefault((control, model, tf), {})[init] = v
    return grouped


def _eval_row(rec, y, s, val, **keys) -> dict:
    from bindscape.evaluate.metrics import evaluate_scores

    ev = evaluate_scores(y, s, val=val, criterion=rec.evaluate.criterion, bootstrap=rec.evaluate.bootstrap,
                         seed=int(rec.vars.get("seed", 0)))
    who = f"{keys['trained_on']} {keys['init']} model on " if keys["model"] not in (PWM, PWM_CORE) else ""
    test_set = f"{keys['control']}: {who}{keys['test_tf']} test{', core masked' if keys['core_masked'] else ''}"
    return {**keys, "test_set": test_set, **ev.row()}


def _model_rows(rec, genome, r: dict, ds: dict, tests: dict, val_auroc: dict, cells: dict) -> list[dict]:
    """One model's rows: its own validation split (threshold, selection) then every TF's test split."""
    from bindscape.evaluate.metrics import auroc
    from bindscape.train import load_checkpoint, predict_arrays

    ckpt = load_checkpoint(Path(r["run"]) / "checkpoints" / "best.ckpt")
    val = _load_split(ds[r["tf"]], "val")
    rows = []
    # a model trained on masked windows is scored on masked windows only, and takes no part in `chosen`
    trained_masked = bool(r.get("trained_masked", False))
    extra = {"trained_masked": trained_masked} if "train" in rec.masking else {}
    for masked in (True,) if trained_masked else (False, True):
        vs = _scores(lambda x: predict_arrays(ckpt, x), genome, val, masked)
        yv = val["label"].to_numpy()
        if not masked:
            val_auroc[(r["control"], r["model"], r["tf"], r["init"])] = float(auroc(yv, vs))
        for test_tf, t in tests.items():
            s = _scores(lambda x: predict_arrays(ckpt, x), genome, t, masked)
            cell = cells.setdefault((r["control"], r["model"], r["init"], masked), {})
            cell[(r["tf"], test_tf)] = (t["label"].to_numpy(), s)
            rows.append(_eval_row(rec, t["label"].to_numpy(), s, (yv, vs), control=r["control"], model=r["model"],
                                  init=r["init"], trained_on=r["tf"], test_tf=test_tf, core_masked=masked,
                                  **extra))
    return rows


def _pwm_rows(rec, genome, control: str, ds: dict, tests: dict) -> list[dict]:
    from bindscape.motifs import PWMBaseline, load_motif

    extra = {"trained_masked": False} if "train" in rec.masking else {}
    rows = []
    for tf, t in tests.items():
        spec = rec.data.tfs[tf]
        base = PWMBaseline([load_motif(spec.motif, species=spec.motif_species)])
        val = _load_split(ds[tf], "val")
        for masked in (False, True):
            vs = _scores(base.predict, genome, val, masked)
            s = _scores(base.predict, genome, t, masked)
            rows.append(_eval_row(rec, t["label"].to_numpy(), s, (val["label"].to_numpy(), vs), control=control,
                                  model=PWM, init="-", trained_on=tf, test_tf=tf, core_masked=masked, **extra))
        # the instance's own match (-log10 p): what the classes are matched on, at chance by construction
        rows.append(_eval_row(rec, t["label"].to_numpy(), t["neglog10p"].to_numpy(),
                              (val["label"].to_numpy(), val["neglog10p"].to_numpy()), control=control,
                              model=PWM_CORE, init="-", trained_on=tf, test_tf=tf, core_masked=False, **extra))
    return rows


def cross_tf_table(cells: dict, metric: str = "auROC") -> pd.DataFrame:
    """The cross-TF matrices (each TF's model on each TF's test split) in one table, via `cross_matrix`.

    Parameters
    ----------
    cells
        ``(control, model, init, core_masked) -> {(trained TF, test TF): (labels, scores)}``.
    metric
        The metric in the cells (``auROC``, ``auPRC``).

    Returns
    -------
    pandas.DataFrame
        Columns control, model, init, core_masked, trained_on, then one column per test TF.
    """
    from bindscape.evaluate.metrics import cross_matrix

    frames = []
    for (control, model, init, masked), scores in cells.items():
        mat = cross_matrix(scores, metric=metric).rename_axis(index="trained_on", columns=None).reset_index()
        for i, (name, v) in enumerate((("control", control), ("model", model), ("init", init),
                                       ("core_masked", masked))):
            mat.insert(i, name, v)
        frames.append(mat)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ------------------------------------------------------------------------------------------- explanation
def explain_agentbind(rec: AgentBindRecipe, run_dir: Path, data: dict, runs: list[dict], chosen: dict) -> dict:
    """The explain stage: context tracks and k-mer tables outside the core, per control and TF.

    Uses the first model of the recipe, pretrained or not as chosen on validation, on at most ``explain.n``
    test positives (interpretation only: nothing is selected on it).

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; ``explain/tracks.csv`` (mean attribution by position relative to the core start),
        ``explain/kmers.csv`` and ``explain/summary.json`` (the core's share of the attribution).
    data
        The datasets stage's record.
    runs
        The per-TF training runs.
    chosen
        ``control/model/TF`` -> the init chosen on validation.

    Returns
    -------
    dict
        The tables written and the core share per control and TF.
    """
    from bindscape.io.genome import Genome

    genome = Genome(rec.data.genome)
    model = rec.models[0].name
    tracks, kmers, share = [], [], {}
    for control, ds in data["datasets"].items():
        for tf, path in ds.items():
            init = chosen[f"{control}/{model}/{tf}"]
            r = next(r for r in runs if (r["control"], r["model"], r["tf"], r["init"]) == (control, model, tf, init))
            track, km, core_share = _explain_one(rec, genome, r, path)
            keys = {"control": control, "tf": tf, "model": model, "init": init}
            tracks.append(track.assign(**keys))
            kmers.append(km.head(25).assign(**keys))
            share[f"{control}/{tf}"] = core_share
    out = run_dir / "explain"
    out.mkdir(parents=True, exist_ok=True)
    for name, frames in (("tracks", tracks), ("kmers", kmers)):
        with atomic_path(out / f"{name}.csv") as tmp:
            pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
    info = {"method": rec.explain.method, "model": model, "core_share": share, "k": rec.explain.k,
            "top_frac": rec.explain.top_frac}
    atomic_write_text(out / "summary.json", json.dumps(info, indent=2) + "\n")
    return info


def _explain_one(rec: AgentBindRecipe, genome, r: dict, path: str) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(context track, k-mer table outside the core, the core's share of |attribution|) of one model."""
    from bindscape.data.motif_instances import fetch_instances
    from bindscape.explain.attributions import attribute, position_scores
    from bindscape.explain.kmers import kmer_enrichment
    from bindscape.train import load_checkpoint

    test = _load_split(path, "test")
    pos = test[test["label"] == 1]
    if len(pos) > rec.explain.n:
        pos = pos.sample(rec.explain.n, random_state=int(rec.vars.get("seed", 0))).sort_index()
    x = fetch_instances(genome, pos, mask_core=False, orient=True)
    L = x.shape[-1]
    rc = pos["strand"].to_numpy() == "-"
    cs, ce = pos["core_start"].to_numpy(np.int64), pos["core_end"].to_numpy(np.int64)
    cs, ce = np.where(rc, L - ce, cs), np.where(rc, L - cs, ce)
    model = load_checkpoint(Path(r["run"]) / "checkpoints" / "best.ckpt").model
    attr = attribute(model, x, rec.explain.method, batch_size=64)
    scores = position_scores(attr, x, rec.explain.method)
    where = np.arange(L)[None, :]
    core = (where >= cs[:, None]) & (where < ce[:, None])
    rel = (where - cs[:, None]).ravel()
    track = (pd.DataFrame({"position": rel, "attribution": scores.ravel()})
             .groupby("position", sort=True)["attribution"].agg(["mean", "count"]).reset_index()
             .assign(core_width=int(np.median(ce - cs))))
    total = float(np.abs(scores).sum())
    core_share = float(np.abs(scores[core]).sum() / total) if total > 0 else float("nan")
    km = kmer_enrichment(scores, x, k=rec.explain.k, top_frac=rec.explain.top_frac, core_mask=core)
    return track, km, core_share


__all__ = ["AgentBindRecipe", "CONTROLS", "LATE_VARS", "MASKED_INIT", "MASKINGS", "SCHEMA", "build_datasets",
           "build_masked_datasets", "check", "cross_tf_table",
           "evaluate_agentbind", "explain_agentbind", "run"]

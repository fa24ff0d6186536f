"""Use all the data honestly: a final model on train + validation, and ensembles over seeds and folds.

Final model (`train_final`, ``bindscape train CONFIG --final [--epochs-from RUN]``)
    The number of epochs comes from a finished run of the same dataset and model that validated on the
    validation split: its best epoch (0-based) ``k`` gives ``k + 1`` epochs. The final model then trains
    on the train and validation rows together (``data.train_split: [train, val]``, ``data.val_split:
    null``) for exactly that many epochs, with no early stopping and no validation (its best checkpoint is
    its last epoch), and its test split is scored once at the end. ``metrics.json`` records where the epoch
    count came from (``final``) and the number of training rows (``n_train``).

Ensemble (`train_ensemble`, ``bindscape ensemble CONFIG --seeds 0,1,2 [--folds K] --out DIR``)
    One member per seed (and per fold). With ``folds=K`` the chromosomes of the train and validation rows
    are dealt into K groups (balanced by positives); member k validates on group k and trains on the rest,
    the test split is never touched. Each member is a normal run folder under ``DIR/members/<name>/`` plus
    its weights ``model.pt``; ``DIR/ensemble.json`` lists the members with their sha256. The folder is one
    checkpoint: ``load_checkpoint(DIR)`` returns a model that averages the members' probabilities (each
    member's own reverse-complement averaging included; see `bindscape.train.ensemble_model`). The
    ensemble's test split is scored once (``DIR/metrics.json``, ``DIR/predictions.parquet``); its
    validation metrics are reported only for seed-only ensembles, whose validation rows no member trained on.
    An interrupted ensemble resumes: finished members are reused, an unfinished member continues.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape._util import atomic_path, atomic_write_text
from bindscape.errors import ConfigError
from bindscape.train.checkpoint import load_checkpoint, save_model
from bindscape.train.config import TrainConfig, apply_overrides, validate_config
from bindscape.train.engine import can_resume, log_line
from bindscape.train.ensemble_model import FORMAT, MANIFEST, sha256
from bindscape.train.tasks.binary import train


# ------------------------------------------------------------------------------------------ final model
def _same_path(a: str, b: str) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def epochs_from_run(run: str | Path, cfg: TrainConfig) -> dict:
    """The epoch count a finished, validated run chose for `cfg`'s dataset and model.

    Parameters
    ----------
    run
        The run folder (``metrics.json`` and ``config.yaml``) of a run that validated on a validation split.
    cfg
        The config of the final model (same dataset and model required).

    Returns
    -------
    dict
        ``run``, ``best_epoch`` (0-based), ``epochs`` (= best_epoch + 1), ``monitor``, ``val`` (its
        validation metrics at the best epoch).
    """
    import yaml

    run = Path(run)
    mf, cf = run / "metrics.json", run / "config.yaml"
    if not mf.exists() or not cf.exists():
        raise ConfigError(f"--epochs-from {run}: not a finished run folder (needs metrics.json and config.yaml)",
                          hint="train with validation first: bindscape train CONFIG (then --final)")
    m = json.loads(mf.read_text())
    old = yaml.safe_load(cf.read_text()) or {}
    if not m.get("finished", False) or m.get("best_epoch") is None:
        raise ConfigError(f"--epochs-from {run}: the run is not finished", hint="--resume it first")
    if "val" not in m or not (old.get("data") or {}).get("val_split"):
        raise ConfigError(f"--epochs-from {run}: the run did not validate on a validation split, so its "
                          "epoch count was not chosen by validation",
                          hint="use a run trained with data.val_split set (the default 'val')")
    if not _same_path(str(old.get("dataset", "")), cfg.dataset):
        raise ConfigError(f"--epochs-from {run}: it trained on dataset {old.get('dataset')!r}, not {cfg.dataset!r}")
    if old.get("model") != cfg.model.model_dump(mode="json"):
        raise ConfigError(f"--epochs-from {run}: its model section differs from this config's",
                          hint="the epoch count is chosen for one model; use the same model settings")
    k = int(m["best_epoch"])
    return {"run": str(run), "best_epoch": k, "epochs": k + 1, "monitor": m.get("monitor"), "val": m["val"]}


def final_config(cfg: TrainConfig, epochs_from: str | Path | None = None,
                 name: str | None = None) -> tuple[TrainConfig, dict]:
    """The config of the final model: train + validation rows, the validated epoch count, no validation.

    Parameters
    ----------
    cfg
        The validated config (``data.train_split`` and ``data.val_split`` name the splits to merge).
    epochs_from
        The validated run folder (default: ``cfg.run_dir``, the run this config writes).
    name
        Run name of the final model (default ``<cfg.name>-final``).

    Returns
    -------
    tuple
        ``(final config, provenance dict from `epochs_from_run`)``.
    """
    d = cfg.data
    if d.val_split is None:
        raise ConfigError("--final: data.val_split is null; the final model adds the validation split to "
                          "training, so the config must name it")
    train_splits = [d.train_split] if isinstance(d.train_split, str) else list(d.train_split)
    info = epochs_from_run(epochs_from if epochs_from is not None else cfg.run_dir, cfg)
    ov = {"data.train_split": [*train_splits, d.val_split], "data.val_split": None,
          "trainer.max_epochs": info["epochs"], "trainer.patience": None, "trainer.stop_after_epochs": None,
          "name": name or f"{cfg.name}-final"}
    return validate_config(apply_overrides(cfg, ov), source="final model config"), info


def train_final(cfg: TrainConfig, *, epochs_from: str | Path | None = None, name: str | None = None,
                overwrite: bool = False, resume: bool = False) -> Path:
    """Train the final model on train + validation for the epoch count chosen by validation.

    Parameters
    ----------
    cfg
        The config the validated run used.
    epochs_from
        The validated run folder (default ``cfg.run_dir``).
    name
        Run name (default ``<cfg.name>-final``).
    overwrite, resume
        As for `bindscape.train.train`.

    Returns
    -------
    Path
        The final run folder; its ``metrics.json`` has ``final`` (the epoch provenance) and ``n_train``.
    """
    fcfg, info = final_config(cfg, epochs_from, name)
    log_line(fcfg.run_dir, f"final model: {info['epochs']} epoch(s) = best epoch {info['best_epoch']} + 1 of "
                           f"{info['run']} (monitor {info['monitor']}); training on {fcfg.data.train_split}")
    run = train(fcfg, resume=resume, overwrite=overwrite)
    mf = run / "metrics.json"
    m = json.loads(mf.read_text())
    m["final"] = {k: info[k] for k in ("run", "best_epoch", "epochs", "monitor")}
    m["final"]["validated_run_val"] = info["val"]
    atomic_write_text(mf, json.dumps(m, indent=2, default=float) + "\n")
    return run


# ------------------------------------------------------------------------------------------ folds
def assign_folds(regions: pd.DataFrame, splits: list[str], k: int) -> dict[str, int]:
    """Deal the chromosomes of the rows in `splits` into `k` groups, balanced by positives (then rows).

    Parameters
    ----------
    regions
        A dataset's regions (``chrom``, ``split``, optional ``label``).
    splits
        The splits whose chromosomes are dealt (train and validation).
    k
        Number of folds (>= 2).

    Returns
    -------
    dict
        Chromosome -> fold index. Deterministic: largest chromosome first, into the lightest group.
    """
    sub = regions[regions["split"].isin(splits)]
    pos = sub["label"].astype(float) if "label" in sub else pd.Series(0.0, index=sub.index)
    stats = (pd.DataFrame({"chrom": sub["chrom"].astype(str), "pos": pos, "n": 1})
             .groupby("chrom").sum().sort_values(["pos", "n"], ascending=False, kind="mergesort"))
    if len(stats) < k:
        raise ConfigError(f"--folds {k}: the {'+'.join(splits)} rows span {len(stats)} chromosome(s); "
                          f"chromosome folds need at least {k}",
                          hint="use fewer folds, or --seeds alone (sequence datasets have no chromosomes)")
    load = np.zeros((k, 2))
    out: dict[str, int] = {}
    for chrom, r in stats.iterrows():
        g = int(np.lexsort((np.arange(k), load[:, 1], load[:, 0]))[0])
        out[str(chrom)] = g
        load[g] += (r["pos"], r["n"])
    return out


def write_fold_datasets(dataset: str | Path, k: int, out: Path, train_split: str = "train",
                        val_split: str = "val") -> list[Path]:
    """One dataset folder per fold: fold i's chromosome group is its validation split, the others train.

    Parameters
    ----------
    dataset
        The dataset folder (test rows are copied unchanged).
    k
        Number of folds.
    out
        Parent folder (``out/fold<i>``).
    train_split, val_split
        The split names to re-deal.

    Returns
    -------
    list of Path
    """
    from bindscape.data.dataset import load_dataset, write_dataset

    ds = load_dataset(dataset)
    fold_of = assign_folds(ds.regions, [train_split, val_split], k)
    paths = []
    for i in range(k):
        reg = ds.regions.copy()
        pool = reg["split"].isin([train_split, val_split])
        in_val = reg["chrom"].astype(str).map(fold_of).eq(i)
        reg.loc[pool, "split"] = np.where(in_val[pool], val_split, train_split)
        val_chroms = sorted(c for c, g in fold_of.items() if g == i)
        p = write_dataset(out / f"fold{i}", reg, builder="fold", params={"folds": k, "fold": i},
                          seed=ds.meta.get("seed"), genome=None,
                          extra={"genome": ds.meta.get("genome"), "derived_from": str(Path(dataset).resolve()),
                                 "fold": i, "val_chroms": val_chroms})
        paths.append(p)
    return paths


# ------------------------------------------------------------------------------------------ ensembles
def member_plan(cfg: TrainConfig, seeds: list[int], folds: int | None, out: Path) -> list[dict]:
    """The members of an ensemble: name, seed, fold, dataset (fold datasets are written under ``out/folds``).

    Parameters
    ----------
    cfg
        The base config.
    seeds
        Seeds (one member per seed, per fold).
    folds
        Number of chromosome folds, or None.
    out
        The ensemble folder.

    Returns
    -------
    list of dict
    """
    if not seeds:
        raise ConfigError("--seeds: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: repeated seed(s) in {seeds}")
    if folds is None:
        return [{"name": f"seed{s}", "seed": int(s), "fold": None, "dataset": cfg.dataset} for s in seeds]
    if folds < 2:
        raise ConfigError(f"--folds {folds}: need at least 2 folds (or leave --folds out)")
    d = cfg.data
    if not isinstance(d.train_split, str) or d.val_split is None:
        raise ConfigError("--folds re-deals one train and one validation split; data.train_split must be one "
                          "split and data.val_split set")
    paths = write_fold_datasets(cfg.dataset, folds, out / "folds", d.train_split, d.val_split)
    return [{"name": f"fold{i}-seed{s}", "seed": int(s), "fold": i, "dataset": str(p)}
            for i, p in enumerate(paths) for s in seeds]


def _train_member(cfg: TrainConfig, m: dict, members_dir: Path, epochs_from) -> dict:
    """Train (or reuse, or resume) one member; returns its manifest entry."""
    ov = {"trainer.seed": m["seed"], "dataset": m["dataset"], "out_dir": str(members_dir), "name": m["name"]}
    mcfg = validate_config(apply_overrides(cfg, ov), source=f"ensemble member {m['name']}")
    run = mcfg.run_dir
    mf = run / "metrics.json"
    done = mf.exists() and json.loads(mf.read_text()).get("finished", False)
    if not done:
        if epochs_from is not None:
            run = train_final(mcfg, epochs_from=epochs_from, name=m["name"], overwrite=True)
        else:
            run = train(mcfg, resume=can_resume(run), overwrite=True)
    metrics = json.loads((run / "metrics.json").read_text())
    weights = run / "model.pt"
    if not done or not weights.exists():
        best = load_checkpoint(metrics["best_checkpoint"])
        save_model(weights, best.model, best.config)
    rel = weights.relative_to(members_dir.parent)
    return {"name": m["name"], "path": str(rel), "sha256": sha256(weights), "seed": m["seed"], "fold": m["fold"],
            "run": str(run.relative_to(members_dir.parent)), "best_epoch": metrics.get("best_epoch"),
            "cpu_seconds": metrics.get("cpu_seconds"), "wall_seconds": metrics.get("wall_seconds"), "val": metrics.get("val"), "test": metrics.get("test")}


def train_ensemble(cfg: TrainConfig, *, seeds: list[int] = (0, 1, 2), folds: int | None = None,
                   out: str | Path | None = None, epochs_from: str | Path | None = None,
                   overwrite: bool = False) -> Path:
    """Train one member per seed (and chromosome fold) and write the ensemble folder.

    Parameters
    ----------
    cfg
        The base config (each member overrides ``trainer.seed`` and, with folds, ``dataset``).
    seeds
        Member seeds.
    folds
        Chromosome folds of the train + validation rows (None: every member uses the dataset's splits).
    out
        The ensemble folder (default ``<out_dir>/<name>-ensemble``).
    epochs_from
        Seed members become final models (train + validation, the epoch count of this validated run);
        not with `folds`.
    overwrite
        Remove an existing ensemble folder first (otherwise finished members are reused).

    Returns
    -------
    Path
        The ensemble folder: ``ensemble.json``, ``members/<name>/`` (run folder + ``model.pt``),
        ``metrics.json``, ``predictions.parquet`` (test split), ``log.txt``.
    """
    out = Path(out) if out is not None else Path(cfg.out_dir) / f"{cfg.name}-ensemble"
    if epochs_from is not None and folds is not None:
        raise ConfigError("--epochs-from (final members on train+val) and --folds exclude each other",
                          hint="fold members validate on their own fold; final members have no validation")
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = member_plan(cfg, [int(s) for s in seeds], folds, out)
    log_line(out, f"ensemble of {len(plan)} member(s): {', '.join(m['name'] for m in plan)}")
    entries = []
    for i, m in enumerate(plan, 1):
        log_line(out, f"member {i}/{len(plan)}: {m['name']}")
        entries.append(_train_member(cfg, m, out / "members", epochs_from))
    manifest = {"format": FORMAT, "average": "probability", "rc_average": cfg.trainer.rc_average,
                "seeds": sorted({int(s) for s in seeds}), "folds": folds,
                "final": epochs_from is not None, "members": entries}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, default=float) + "\n")
    _score_ensemble(cfg, out, entries, validate=folds is None and epochs_from is None)
    return out


def _score_ensemble(cfg: TrainConfig, out: Path, entries: list[dict], validate: bool) -> dict:
    """Score the ensemble once on the test split (and validation for seed-only ensembles)."""
    from bindscape.data.sequences import is_sequence_dataset
    from bindscape.evaluate.metrics import binary_metrics
    from bindscape.train.data import has_split, open_dataset, torch_dataset
    from bindscape.train.predict import predict_dataset

    ens = load_checkpoint(out)
    ds = open_dataset(cfg.dataset)
    genome = None if is_sequence_dataset(ds) else ds.open_genome()
    res: dict = {"members": len(entries), "average": "probability",
                 "cpu_seconds": round(sum(e.get("cpu_seconds") or 0.0 for e in entries), 2),
                 "wall_seconds": round(sum(e.get("wall_seconds") or 0.0 for e in entries), 2)}
    for key, split in (("val", cfg.data.val_split if validate else None), ("test", cfg.data.test_split)):
        if not has_split(ds, split):
            continue
        tds = torch_dataset(ds, split, label_columns=cfg.data.label_columns, genome=genome)
        pred = predict_dataset(ens, tds, batch_size=max(cfg.data.batch_size, 512), progress=False)
        res[key] = binary_metrics(tds.labels, pred[[c for c in pred.columns if c.startswith("prob")]].to_numpy())
        if key == "test":
            with atomic_path(out / "predictions.parquet") as tmp:
                pred.to_parquet(tmp, index=False)
    res["member_metrics"] = [{k: e.get(k) for k in ("name", "seed", "fold", "best_epoch", "val", "test")}
                             for e in entries]
    atomic_write_text(out / "metrics.json", json.dumps(res, indent=2, default=float) + "\n")
    summary = ", ".join(f"{k} auROC {res[k]['auroc']:.4f} auPRC {res[k]['auprc']:.4f}"
                        for k in ("val", "test") if k in res)
    log_line(out, f"done: ensemble {summary}; members {res['cpu_seconds']:.0f} CPU s")
    return res


__all__ = ["train_final", "final_config", "epochs_from_run", "train_ensemble", "member_plan", "assign_folds",
           "write_fold_datasets"]

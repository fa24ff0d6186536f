"""`train(config) -> run folder`: the whole training run.

Run folder (``<out_dir>/<name>/``): ``config.yaml`` (fully resolved), ``checkpoints/best.ckpt`` and
``last.ckpt`` (Lightning, with the config inside), ``metrics.json`` (val/test metrics of the best
checkpoint, best epoch, CPU and wall seconds), ``predictions.parquet`` (test split), ``log.txt``,
``logs/`` (CSV, and TensorBoard when installed). Files are written atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bindscape._util import atomic_path, atomic_write_text
from bindscape.errors import ConfigError
from bindscape.train.config import TrainConfig, dump_config


def is_rank_zero() -> bool:
    """False in the extra processes a DDP run starts (they train but write no summaries)."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def run_metrics(run_dir: Path) -> dict | None:
    """A finished run's metrics.json, or None in the extra processes of a DDP run (which write none)."""
    if not is_rank_zero():
        return None
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def _log(run_dir: Path, msg: str) -> None:
    if not is_rank_zero():  # DDP: only the first process writes log.txt
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "log.txt", "a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")


def build_model(cfg: TrainConfig, length: int, n_outputs: int):
    from bindscape.models import get_model

    kw = dict(cfg.model.params)
    kw.update(length=length, n_outputs=n_outputs)
    model = get_model(cfg.model.name, **kw)
    model.check_length(length)
    return model


def epoch_log_callback(cfg, run_dir: Path, prefixes: tuple[str, ...] = ("val_",)):
    """A Lightning callback that writes one log.txt line per validation (metrics starting with `prefixes`)
    and stops after ``cfg.trainer.stop_after_epochs`` epochs (as if interrupted; `--resume` continues)."""
    import lightning as L

    class _EpochLog(L.Callback):
        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking or not trainer.is_global_zero:
                return
            m = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(prefixes)}
            _log(run_dir, f"epoch {trainer.current_epoch}: " + " ".join(f"{k}={v:.4f}" for k, v in sorted(m.items())))

        def on_train_epoch_end(self, trainer, pl_module):
            stop = cfg.trainer.stop_after_epochs
            if stop and trainer.current_epoch + 1 >= stop:
                trainer.should_stop = True
                _log(run_dir, f"stopping after epoch {trainer.current_epoch} (stop_after_epochs={stop})")

    return _EpochLog()


def _callbacks(cfg: TrainConfig, run_dir: Path):
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    mon = cfg.trainer.monitor
    mode = "min" if mon == "val_loss" else "max"
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor=mon, mode=mode,
                           save_top_k=1, save_last=True, enable_version_counter=False)
    cbs: list = [ckpt]
    if cfg.trainer.patience:
        cbs.append(EarlyStopping(monitor=mon, mode=mode, patience=cfg.trainer.patience))

    cbs.append(epoch_log_callback(cfg, run_dir))
    if cfg.trainer.progress:
        from lightning.pytorch.callbacks import TQDMProgressBar

        cbs.append(TQDMProgressBar(refresh_rate=20))
    return cbs, ckpt


def _loggers(run_dir: Path, resume: bool = False):
    from lightning.pytorch.loggers import CSVLogger

    version = "csv"
    if resume:  # keep the interrupted part's log: csv, csv-resume1, csv-resume2, ...
        k = 1
        while (run_dir / "logs" / f"csv-resume{k}").exists():
            k += 1
        version = f"csv-resume{k}"
    loggers = [CSVLogger(run_dir, name="logs", version=version)]
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            return loggers
    from lightning.pytorch.loggers import TensorBoardLogger

    loggers.append(TensorBoardLogger(run_dir, name="logs", version=version.replace("csv", "tb")))
    return loggers


def _check_resume(cfg, run_dir: Path, keys: tuple[str, ...] = ("dataset", "model")) -> Path:
    """The run's last.ckpt, after checking that the config fields in `keys` match the saved config.yaml."""
    import yaml

    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.exists():
        raise ConfigError(f"{run_dir}: nothing to resume (no checkpoints/last.ckpt)",
                          hint="start the run without --resume")
    saved = run_dir / "config.yaml"
    if saved.exists():
        old = yaml.safe_load(saved.read_text()) or {}
        new = cfg.model_dump(mode="json")
        for key in keys:
            if old.get(key) != new.get(key):
                raise ConfigError(f"--resume: {key} differs from the run being resumed ({saved})",
                                  hint="resume with the same config, or start a new run (--name)")
    return last


def prepare_run(cfg, run_dir: Path, *, resume: bool, overwrite: bool,
                keys: tuple[str, ...] = ("dataset", "model")) -> Path | None:
    """Shared start of every training loop: the checkpoint to resume from (`_check_resume` on `keys`) or
    None; an existing run folder with checkpoints is an error unless `overwrite` (then it is removed).
    Also sets torch's thread count and seeds everything from ``cfg.trainer``."""
    import shutil

    import lightning as L
    import torch

    ckpt_path = None
    if resume:
        ckpt_path = _check_resume(cfg, run_dir, keys)
    elif (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        if not overwrite:
            raise ConfigError(f"{run_dir}: run folder already has checkpoints",
                              hint="use --resume to continue it, --overwrite to replace it, or another --name")
        shutil.rmtree(run_dir)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    return ckpt_path


def _quiet_lightning() -> None:
    """Keep Lightning's banner lines (GPU available, tips) out of bindscape's output; warnings stay."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")


def make_trainer(cfg, run_dir: Path, callbacks: list, steps: int, resume: bool):
    """The Lightning Trainer every bindscape training loop uses (single-task and cross-species)."""
    import lightning as L

    return L.Trainer(
        max_epochs=cfg.trainer.max_epochs, accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices,
        strategy=cfg.trainer.strategy, precision=cfg.trainer.precision, callbacks=callbacks,
        logger=_loggers(run_dir, resume), enable_progress_bar=cfg.trainer.progress, enable_model_summary=False,
        num_sanity_val_steps=0, log_every_n_steps=min(cfg.trainer.log_every_n_steps, max(steps, 1)),
        limit_train_batches=cfg.trainer.limit_train_batches, deterministic=cfg.trainer.deterministic,
        use_distributed_sampler=False, default_root_dir=run_dir, enable_checkpointing=True,
    )


def train(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train per `cfg`; returns the run folder. `resume` continues from ``checkpoints/last.ckpt``."""

    from bindscape.train.data import has_split, make_loader, open_dataset, torch_dataset
    from bindscape.train.module import BinaryTask

    _quiet_lightning()
    run_dir = cfg.run_dir
    ckpt_path = prepare_run(cfg, run_dir, resume=resume, overwrite=overwrite)
    t_wall, t_cpu = time.perf_counter(), time.process_time()

    ds = open_dataset(cfg.dataset)
    d = cfg.data
    genome = None
    from bindscape.data.sequences import is_sequence_dataset

    if not is_sequence_dataset(ds):
        genome = ds.open_genome()
    if not has_split(ds, d.train_split):
        raise ConfigError(f"{cfg.dataset}: no examples in split {d.train_split!r}",
                          hint="build the dataset with a split (--split) or set data.train_split")
    train_ds = torch_dataset(ds, d.train_split, rc_augment=d.rc_augment, max_shift=d.max_shift,
                             seed=cfg.trainer.seed, label_columns=d.label_columns, genome=genome)
    val_ds = (torch_dataset(ds, d.val_split, label_columns=d.label_columns, genome=genome)
              if has_split(ds, d.val_split) else None)
    n_outputs = len(d.label_columns)
    finetune_state = None
    if cfg.finetune is not None:
        from bindscape.train.finetune import prepare_finetune

        model, finetune_state = prepare_finetune(cfg, train_ds.length, n_outputs)
    else:
        model = build_model(cfg, train_ds.length, n_outputs)
    train_loader = make_loader(train_ds, batch_size=d.batch_size, sampler=d.sampler, shuffle=True,
                               seed=cfg.trainer.seed, num_workers=d.num_workers)
    val_loader = (make_loader(val_ds, batch_size=max(d.batch_size, 512), shuffle=False, num_workers=d.num_workers)
                  if val_ds is not None else None)
    steps = len(train_loader)
    if isinstance(cfg.trainer.limit_train_batches, int):
        steps = min(steps, cfg.trainer.limit_train_batches)
    elif isinstance(cfg.trainer.limit_train_batches, float):
        steps = max(1, int(steps * cfg.trainer.limit_train_batches))
    config = cfg.model_dump(mode="json")
    task = BinaryTask(model, config, steps_per_epoch=steps)
    task.epoch_objects = [train_ds, train_loader.batch_sampler]

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    _log(run_dir, f"{'resume' if resume else 'start'}: model {cfg.model.name} ({model.n_parameters():,} parameters), "
                  f"{len(train_ds):,} train / {len(val_ds) if val_ds is not None else 0:,} val examples of "
                  f"{train_ds.length} bp" + (f"; fine-tuning {finetune_state}" if finetune_state else ""))
    callbacks, ckpt_cb = _callbacks(cfg, run_dir)
    if val_loader is None:
        ckpt_cb.monitor = None
        callbacks = [c for c in callbacks if type(c).__name__ != "EarlyStopping"]
    trainer = make_trainer(cfg, run_dir, callbacks, steps, resume)
    trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader, ckpt_path=ckpt_path)
    cpu_s, wall_s = time.process_time() - t_cpu, time.perf_counter() - t_wall
    if not trainer.is_global_zero:
        return run_dir
    stopped_early = bool(cfg.trainer.stop_after_epochs and trainer.current_epoch < cfg.trainer.max_epochs)
    _finish(cfg, run_dir, ds, genome, trainer, ckpt_cb, cpu_s, wall_s, interrupted=stopped_early)
    return run_dir


def _finish(cfg, run_dir, ds, genome, trainer, ckpt_cb, cpu_s, wall_s, *, interrupted: bool) -> None:
    from bindscape.train.checkpoint import load_checkpoint
    from bindscape.train.data import has_split, torch_dataset
    from bindscape.train.predict import predict_dataset

    best = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else run_dir / "checkpoints" / "last.ckpt"
    prev = {}
    if (run_dir / "metrics.json").exists():
        prev = json.loads((run_dir / "metrics.json").read_text())
    out = {
        "run": str(run_dir), "model": cfg.model.name, "finished": not interrupted,
        "best_checkpoint": str(best), "best_epoch": None,
        "epochs_run": int(trainer.current_epoch),
        "cpu_seconds": round(cpu_s + (prev.get("cpu_seconds", 0) if prev.get("finished") is False else 0), 2),
        "wall_seconds": round(wall_s + (prev.get("wall_seconds", 0) if prev.get("finished") is False else 0), 2),
        "monitor": cfg.trainer.monitor,
    }
    if ckpt_cb.best_model_score is not None:
        out["best_score"] = float(ckpt_cb.best_model_score)
    loaded = load_checkpoint(best)
    out["best_epoch"] = loaded.extra.get("epoch")
    out["n_parameters"] = loaded.model.n_parameters()
    d = cfg.data
    for key, split in (("val", d.val_split), ("test", d.test_split)):
        if not has_split(ds, split):
            continue
        tds = torch_dataset(ds, split, label_columns=d.label_columns, genome=genome)
        pred = predict_dataset(loaded, tds, batch_size=max(d.batch_size, 512), progress=False)
        from bindscape.train.metrics import binary_metrics

        pcols = [c for c in pred.columns if c.startswith("prob")]
        out[key] = binary_metrics(tds.labels, pred[pcols].to_numpy())
        if key == "test":
            with atomic_path(run_dir / "predictions.parquet") as tmp:
                pred.to_parquet(tmp, index=False)
    atomic_write_text(run_dir / "metrics.json", json.dumps(out, indent=2) + "\n")
    _log(run_dir, "done: " + ", ".join(f"{k} auROC {out[k]['auroc']:.4f} auPRC {out[k]['auprc']:.4f}"
                                         for k in ("val", "test") if k in out) +
         f"; {cpu_s:.0f} CPU s, {wall_s:.0f} s wall" + (" (stopped; --resume continues)" if interrupted else ""))

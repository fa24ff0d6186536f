"""The one training engine: `fit(task, cfg)` runs any training task (single-task binary, cross-species,
multitask base-pair) the same way.

The engine owns everything around the model: the run folder and its checks (``resume``: the config fields
in ``task.resume_keys`` must match the saved ``config.yaml``; an existing run with checkpoints is an error
unless ``overwrite``), seeding, the Lightning Trainer (accelerator, devices, strategy and precision from the
config's ``trainer`` section, for every task: DDP works the same for all), callbacks (best/last checkpoint,
early stopping, one ``log.txt`` line per epoch, ``stop_after_epochs``, progress bar), loggers (CSV, and
TensorBoard when installed; a resumed run logs to ``csv-resume<k>``), the choice of the best checkpoint, CPU
and wall time accumulated over resumes, the ``finished`` flag, ``config.yaml`` and ``metrics.json``.

A task plug-in (`bindscape.train.tasks`) supplies what differs, through `Task`:

- ``resume_keys``: config fields a resumed run must keep;
- ``setup(cfg, resume) -> Prepared``: datasets, loaders, model and LightningModule (called after seeding,
  so model construction and sampler seeds draw random numbers in a fixed order);
- ``finish(cfg, done: Finished) -> (fields, summary)``: evaluation of the best checkpoint, predictions
  written to the run folder, the task's ``metrics.json`` fields and the text of the ``done:`` log line.

Data loading is part of ``setup`` (not an argument of `fit`) because it must happen after seeding.
Run folder: ``config.yaml``, ``checkpoints/best.ckpt`` + ``last.ckpt``, ``metrics.json``, ``log.txt``,
``logs/``, plus what the task writes (``predictions.parquet``). Files are written atomically.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bindscape._util import Interrupted, atomic_write_text
from bindscape.errors import ConfigError


# ------------------------------------------------------------------------------------------- plug-ins
@dataclass
class Prepared:
    """What a task's ``setup`` hands the engine."""

    module: Any  # the LightningModule
    train_loader: Any
    val_loaders: Any  # a loader, a list of loaders, or None (no validation split)
    steps: int  # optimizer steps per epoch
    start: str  # the text of the "start:" / "resume:" log line after the colon
    log_prefixes: tuple[str, ...] = ("val_",)


@dataclass
class Finished:
    """The finished (or stopped) fit, for a task's ``finish`` hook."""

    run_dir: Path
    trainer: Any
    best: Path  # best checkpoint (last.ckpt when nothing was monitored)
    loaded: Any  # `bindscape.train.checkpoint.LoadedCheckpoint` of `best`
    resume: bool
    previous: dict = field(default_factory=dict)  # metrics.json of the run being resumed


class Task(Protocol):
    """A training task plug-in (see the module docstring)."""

    resume_keys: tuple[str, ...]

    def setup(self, cfg, resume: bool) -> Prepared:
        """Build datasets, loaders, model and LightningModule (called after seeding).

        Parameters
        ----------
        cfg
            The task's validated config.
        resume
            The run continues from ``checkpoints/last.ckpt``.

        Returns
        -------
        Prepared
            What the engine trains.
        """
        ...

    def finish(self, cfg, done: Finished) -> tuple[dict, str]:
        """Evaluate the best checkpoint and write the task's outputs (on rank zero only).

        Parameters
        ----------
        cfg
            The task's validated config.
        done
            The finished (or stopped) fit.

        Returns
        -------
        tuple[dict, str]
            The task's ``metrics.json`` fields and the text of the ``done:`` log line.
        """
        ...


# ------------------------------------------------------------------------------------------- helpers
def is_rank_zero() -> bool:
    """False in the extra processes a DDP run starts (they train but write no summaries).

    Returns
    -------
    bool
    """
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def run_metrics(run_dir: Path) -> dict | None:
    """A finished run's metrics.json, or None in the extra processes of a DDP run (which write none).

    Parameters
    ----------
    run_dir
        The run folder.

    Returns
    -------
    dict or None
    """
    if not is_rank_zero():
        return None
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def can_resume(run_dir: str | Path) -> bool:
    """True when `run_dir` holds an unfinished run of any task (a last.ckpt and no finished metrics.json).

    Parameters
    ----------
    run_dir
        A run folder that may or may not exist.

    Returns
    -------
    bool
        Whether ``fit(..., resume=True)`` can continue it.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "checkpoints" / "last.ckpt").exists():
        return False
    m = run_dir / "metrics.json"
    return not m.exists() or json.loads(m.read_text()).get("finished") is False


def log_line(run_dir: Path, msg: str) -> None:
    """Append a time-stamped line to the run's ``log.txt`` (only the first DDP process writes).

    Parameters
    ----------
    run_dir
        The run folder (created when missing).
    msg
        The line.
    """
    if not is_rank_zero():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "log.txt", "a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")


def quiet_lightning() -> None:
    """Keep Lightning's banner lines (GPU available, tips) out of bindscape's output; warnings stay."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")


def check_resume(cfg, run_dir: Path, keys: tuple[str, ...]) -> Path:
    """The run's last.ckpt, after checking that the config fields in `keys` match the saved config.yaml.

    Parameters
    ----------
    cfg
        The new config (pydantic).
    run_dir
        The run folder being resumed.
    keys
        Top-level config fields that must not change.

    Returns
    -------
    Path
        ``checkpoints/last.ckpt``.
    """
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


def prepare_run(cfg, run_dir: Path, *, resume: bool, overwrite: bool, keys: tuple[str, ...],
                defer_remove: bool = False) -> Path | None:
    """Start of every training run: the checkpoint to resume from (`check_resume` on `keys`) or None.

    An existing run folder with checkpoints is an error unless `overwrite` (then it is removed, or left for
    the caller to remove with `replace_old_run` once the config is known good when `defer_remove`). Also
    sets torch's thread count and seeds everything from ``cfg.trainer``.

    Parameters
    ----------
    cfg
        The config (with a ``trainer`` section).
    run_dir
        The run folder.
    resume, overwrite
        See `fit`.
    keys
        Fields a resumed run must keep.
    defer_remove
        Keep an old run folder that `overwrite` replaces; `fit` removes it only after the dataset opened
        and the model built.

    Returns
    -------
    Path or None
    """
    import shutil

    import lightning as L
    import torch

    ckpt_path = None
    if resume:
        ckpt_path = check_resume(cfg, run_dir, keys)
    elif (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        if not overwrite:
            raise ConfigError(f"{run_dir}: run folder already has checkpoints",
                              hint="use --resume to continue it, --overwrite to replace it, or another --name")
        if not defer_remove:
            shutil.rmtree(run_dir)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    return ckpt_path


def replace_old_run(run_dir: Path) -> Path | None:
    """Move an earlier run in `run_dir` that ``--overwrite`` replaces out of the way (one rename).

    The old folder is renamed aside to a hidden sibling, so an interruption never leaves a mix of old and new
    files in `run_dir`. `fit` deletes the aside copy once the new run has written its metrics, and puts it
    back (`restore_old_run`) when the new run fails or is interrupted, so a failed ``--overwrite`` loses
    nothing.

    Parameters
    ----------
    run_dir
        The run folder; nothing happens when it has no checkpoints.

    Returns
    -------
    Path or None
        Where the old run now is (None when there was none).
    """
    import os

    ckpts = run_dir / "checkpoints"
    if not (ckpts.exists() and any(ckpts.iterdir())):
        return None
    aside = run_dir.with_name(f".{run_dir.name}.old-{os.getpid()}")
    os.replace(run_dir, aside)
    return aside


def restore_old_run(run_dir: Path, aside: Path) -> None:
    """Put back the run that `replace_old_run` moved aside, dropping the new run's partial files.

    Parameters
    ----------
    run_dir
        The run folder.
    aside
        The path `replace_old_run` returned.
    """
    import os
    import shutil

    if run_dir.exists():
        partial = run_dir.with_name(f".{run_dir.name}.failed-{os.getpid()}")
        os.replace(run_dir, partial)
        shutil.rmtree(partial, ignore_errors=True)
    os.replace(aside, run_dir)  # byte for byte as it was: not even log.txt says the overwrite failed


def epoch_log_callback(cfg, run_dir: Path, prefixes: tuple[str, ...] = ("val_",)):
    """A Lightning callback that writes one log.txt line per validation and honours ``stop_after_epochs``.

    Parameters
    ----------
    cfg
        The config (``cfg.trainer.stop_after_epochs``: stop as if interrupted; `--resume` continues).
    run_dir
        The run folder.
    prefixes
        Logged metrics whose names start with one of these go into the line.

    Returns
    -------
    lightning.Callback
        Its ``stopped`` attribute is True once it has stopped the run.
    """
    import lightning as L

    class _EpochLog(L.Callback):
        stopped = False

        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking or not trainer.is_global_zero:
                return
            m = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(prefixes)}
            log_line(run_dir, f"epoch {trainer.current_epoch}: " +
                     " ".join(f"{k}={v:.4f}" for k, v in sorted(m.items())))

        def on_train_epoch_end(self, trainer, pl_module):
            stop = cfg.trainer.stop_after_epochs
            if stop and trainer.current_epoch + 1 >= stop:
                trainer.should_stop = True
                self.stopped = True
                log_line(run_dir, f"stopping after epoch {trainer.current_epoch} (stop_after_epochs={stop})")

    return _EpochLog()


def make_callbacks(cfg, run_dir: Path, *, validate: bool = True, prefixes: tuple[str, ...] = ("val_",)):
    """Checkpoint (best by ``cfg.trainer.monitor`` + last), early stopping, epoch log, progress bar.

    Parameters
    ----------
    cfg
        Its ``trainer`` section sets monitor, patience, progress and stop_after_epochs.
    run_dir
        Checkpoints go to ``<run_dir>/checkpoints``.
    validate
        False when there is no validation split: nothing is monitored (best = last), no early stopping.
    prefixes
        Metric prefixes for the epoch log line.

    Returns
    -------
    tuple
        ``(callbacks, checkpoint callback, epoch-log callback)``.
    """
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    mon = cfg.trainer.monitor if validate else None
    mode = "min" if mon == "val_loss" else "max"
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor=mon, mode=mode,
                           save_top_k=1, save_last=True, enable_version_counter=False)
    cbs: list = [ckpt]
    if cfg.trainer.patience and mon:
        cbs.append(EarlyStopping(monitor=mon, mode=mode, patience=cfg.trainer.patience))
    epoch_log = epoch_log_callback(cfg, run_dir, prefixes)
    cbs.append(epoch_log)
    if cfg.trainer.progress:
        from lightning.pytorch.callbacks import TQDMProgressBar

        cbs.append(TQDMProgressBar(refresh_rate=20))
    return cbs, ckpt, epoch_log


def make_loggers(run_dir: Path, resume: bool = False) -> list:
    """CSV logger (and TensorBoard when installed) under ``logs/``; a resume keeps the earlier logs.

    Parameters
    ----------
    run_dir
        The run folder.
    resume
        Log to ``csv-resume<k>`` (the first free k) instead of ``csv``.

    Returns
    -------
    list
    """
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


def make_trainer(cfg, run_dir: Path, callbacks: list, steps: int, resume: bool):
    """The Lightning Trainer of every bindscape task, configured from ``cfg.trainer``.

    Parameters
    ----------
    cfg
        Its ``trainer`` section: max_epochs, accelerator, devices, strategy, precision, progress, ...
    run_dir
        Lightning's default root and the loggers' folder.
    callbacks
        From `make_callbacks`.
    steps
        Optimizer steps per epoch (caps the logging interval).
    resume
        Passed to `make_loggers`.

    Returns
    -------
    lightning.Trainer
    """
    import lightning as L

    t = cfg.trainer
    return L.Trainer(
        max_epochs=t.max_epochs, accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        precision=t.precision, callbacks=callbacks, logger=make_loggers(run_dir, resume),
        enable_progress_bar=t.progress, enable_model_summary=False, num_sanity_val_steps=0,
        log_every_n_steps=min(t.log_every_n_steps, max(steps, 1)), limit_train_batches=t.limit_train_batches,
        deterministic=t.deterministic, use_distributed_sampler=False, default_root_dir=run_dir,
        enable_checkpointing=True,
    )


def limited_steps(n_batches: int, limit) -> int:
    """Optimizer steps per epoch under ``trainer.limit_train_batches`` (int: a count, float: a fraction).

    Parameters
    ----------
    n_batches
        Batches in the training loader.
    limit
        The limit, or None.

    Returns
    -------
    int
    """
    if isinstance(limit, bool) or limit is None:
        return n_batches
    if isinstance(limit, int):
        return min(n_batches, limit)
    return max(1, int(n_batches * limit))


# ------------------------------------------------------------------------------------------------ fit
def fit(task: Task, cfg, run_dir: str | Path | None = None, *, resume: bool = False,
        overwrite: bool = False) -> Path:
    """Train `task` per `cfg` and write the run folder (see the module docstring).

    Parameters
    ----------
    task
        A task plug-in (`bindscape.train.tasks`).
    cfg
        Its validated config (``trainer`` section: a `bindscape.train.config.TrainerConfig`).
    run_dir
        The run folder (default ``cfg.run_dir``).
    resume
        Continue from ``checkpoints/last.ckpt`` (optimizer, epoch, early-stopping and best-checkpoint state
        included); CPU and wall time of the interrupted part are added.
    overwrite
        Replace an existing run folder that has checkpoints (otherwise an error).

    Returns
    -------
    Path
        The run folder.
    """
    quiet_lightning()
    run_dir = Path(run_dir) if run_dir is not None else Path(cfg.run_dir)
    ckpt_path = prepare_run(cfg, run_dir, resume=resume, overwrite=overwrite, keys=task.resume_keys,
                            defer_remove=True)
    prev: dict = {}
    if resume and (run_dir / "metrics.json").exists():
        prev = json.loads((run_dir / "metrics.json").read_text())
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    prep = task.setup(cfg, resume)  # dataset opened, model built: only now move an earlier run aside
    aside = replace_old_run(run_dir) if overwrite and not resume and is_rank_zero() else None
    try:
        _train_and_record(task, cfg, run_dir, prep, ckpt_path, resume, prev, t_wall, t_cpu)
    except BaseException:
        if aside is not None:
            restore_old_run(run_dir, aside)
        raise
    if aside is not None:
        import shutil

        shutil.rmtree(aside, ignore_errors=True)
    return run_dir


def _train_and_record(task, cfg, run_dir: Path, prep, ckpt_path, resume: bool, prev: dict, t_wall: float,
                      t_cpu: float) -> None:
    """The part of `fit` after setup: config.yaml, the Trainer, training, metrics.json."""
    from bindscape.train.config import dump_config

    run_dir.mkdir(parents=True, exist_ok=True)
    if is_rank_zero():
        atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    log_line(run_dir, f"{'resume' if resume else 'start'}: {prep.start}")
    callbacks, ckpt_cb, epoch_log = make_callbacks(cfg, run_dir, validate=prep.val_loaders is not None,
                                                   prefixes=prep.log_prefixes)
    trainer = make_trainer(cfg, run_dir, callbacks, prep.steps, resume)
    _fit_or_interrupted(trainer, prep, ckpt_path, run_dir)
    cpu_s, wall_s = time.process_time() - t_cpu, time.perf_counter() - t_wall
    if not trainer.is_global_zero:
        return
    interrupted = bool(epoch_log.stopped and trainer.current_epoch < cfg.trainer.max_epochs)
    if prev.get("finished") is False:  # time spent before the interruption counts too
        cpu_s += prev.get("cpu_seconds", 0.0)
        wall_s += prev.get("wall_seconds", 0.0)
    _write_metrics(task, cfg, run_dir, trainer, ckpt_cb, resume, prev, interrupted, cpu_s, wall_s)


def _fit_or_interrupted(trainer, prep: Prepared, ckpt_path, run_dir: Path) -> None:
    """``trainer.fit``; a signal ends in `Interrupted` (exit 130/143 from the CLI) after a line in train.log.

    Lightning turns SIGTERM into ``SystemExit(None)`` (a killed run would exit 0) and Ctrl+C into
    ``SystemExit(1)``; both become `bindscape._util.Interrupted` here.
    """
    import signal

    try:
        trainer.fit(prep.module, train_dataloaders=prep.train_loader, val_dataloaders=prep.val_loaders,
                    ckpt_path=ckpt_path)
        return
    except Interrupted as exc:
        signum = exc.signum
    except SystemExit:
        if trainer.received_sigterm:
            signum = signal.SIGTERM
        elif trainer.interrupted:
            signum = signal.SIGINT
        else:
            raise
    if is_rank_zero():
        log_line(run_dir, f"interrupted by {signal.Signals(signum).name}; --resume continues from the last checkpoint")
    raise Interrupted(signum) from None


def _write_metrics(task, cfg, run_dir, trainer, ckpt_cb, resume, prev, interrupted, cpu_s, wall_s) -> None:
    from bindscape.train.checkpoint import load_checkpoint

    best = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else run_dir / "checkpoints" / "last.ckpt"
    loaded = load_checkpoint(best)
    out: dict = {
        "run": str(run_dir), "model": cfg.model.name, "finished": not interrupted, "best_checkpoint": str(best),
        "best_epoch": loaded.extra.get("epoch"), "epochs_run": int(trainer.current_epoch),
        "cpu_seconds": round(cpu_s, 2), "wall_seconds": round(wall_s, 2), "monitor": cfg.trainer.monitor,
        "n_parameters": loaded.model.n_parameters(), "resumed": bool(resume) or bool(prev.get("resumed")),
    }
    if ckpt_cb.best_model_score is not None:
        out["best_score"] = float(ckpt_cb.best_model_score)
    fields, summary = task.finish(cfg, Finished(run_dir, trainer, best, loaded, resume, prev))
    out.update(fields)
    atomic_write_text(run_dir / "metrics.json", json.dumps(out, indent=2, default=float) + "\n")
    log_line(run_dir, f"done: {summary}; {cpu_s:.0f} CPU s, {wall_s:.0f} s wall" +
             (" (stopped; --resume continues)" if interrupted else ""))


__all__ = ["fit", "can_resume", "Task", "Prepared", "Finished", "prepare_run", "replace_old_run", "restore_old_run", "check_resume", "make_trainer",
           "make_callbacks", "make_loggers", "epoch_log_callback", "log_line", "quiet_lightning", "run_metrics",
           "is_rank_zero", "limited_steps"]

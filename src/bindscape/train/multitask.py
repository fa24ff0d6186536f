"""Multitask per-base-pair training (NetTIME): one model for many TF x cell-type conditions.

`train_multitask(config) -> run dir` trains `nettime` (or any registry model wrapped by `ConditionedModel`)
with a class-weighted per-bp BCE on a multi-condition bp dataset. Run folder: ``config.yaml``,
``checkpoints/best.ckpt`` + ``last.ckpt``, ``metrics.json`` (best per-bp val auPRC, CPU s, ``finished``),
``log.txt`` (one line per epoch). ``train_multitask(cfg, resume=True)`` continues an interrupted run from
``checkpoints/last.ckpt`` (optimizer, epoch counter, early-stopping and best-checkpoint state included). The checkpoint's ``bindscape`` entry holds the resolved config, the model's constructor
arguments AND the condition vocabulary (TF and cell names, trained pairs) and the track set, so
`load_multitask_checkpoint(path)` alone restores everything needed to predict.

    loaded = load_multitask_checkpoint("runs/mt/nettime")
    p = predict_bp(loaded, x, tf="HNF4A", cell="liver")     # (N, L) probabilities
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bindscape._util import atomic_write_text
from bindscape.data.multitask import ConditionVocab, MultitaskBPDataset, UnknownConditionError
from bindscape.data.tracks import TrackSet
from bindscape.errors import ConfigError
from bindscape.train.checkpoint import FORMAT, CheckpointError, _read, _resolve
from bindscape.train.multitask_config import MultitaskConfig

__all__ = ["train_multitask", "can_resume", "load_multitask_checkpoint", "LoadedMultitask", "predict_bp",
           "predict_dataset_bp", "build_multitask_model", "UnknownConditionError"]


def rc_input(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of (N, 4 + T, L): DNA channels complemented and reversed, tracks reversed."""
    dna = x[:, :4].flip(1, 2)
    return dna if x.shape[1] == 4 else torch.cat([dna, x[:, 4:].flip(2)], dim=1)


def build_multitask_model(cfg: MultitaskConfig, length: int, vocab: ConditionVocab, n_track_channels: int):
    from bindscape.models.nettime import ConditionedModel, NetTIME

    kw = dict(cfg.model.params)
    kw.update(length=length, n_tfs=len(vocab.tfs), n_cells=len(vocab.cells), n_tracks=n_track_channels)
    cls = NetTIME if cfg.model.name == "nettime" else ConditionedModel
    try:
        return cls(**kw)
    except TypeError as exc:
        raise ConfigError(f"model {cfg.model.name!r}: {exc}") from None


def _auprc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if 0 < y.sum() < y.size else float("nan")


def _task_class():
    """The Lightning module class (built lazily: lightning is a heavy import)."""
    import lightning as L

    class _Task(L.LightningModule):
        def __init__(self, model, config: dict, meta: dict, pos_weight: float | None):
            super().__init__()
            self.model = model
            self.config = config
            self.meta = meta  # conditions + tracks, stored in checkpoints
            self.register_buffer("pos_weight", torch.tensor(float(pos_weight)) if pos_weight else None,
                                 persistent=False)
            self.epoch_objects: list = []
            self._vp: list = []
            self._vy: list = []

        def on_train_epoch_start(self):
            for o in self.epoch_objects:
                o.set_epoch(self.current_epoch)

        def training_step(self, batch, batch_idx):
            x, y, tf, cell = batch
            logits = self.model(x, tf, cell)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
            self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
            return loss

        def on_validation_epoch_start(self):
            self._vp, self._vy = [], []

        def validation_step(self, batch, batch_idx):
            x, y, tf, cell = batch
            p = torch.sigmoid(self.model(x, tf, cell))
            if self.config["trainer"]["rc_average"]:
                p = 0.5 * (p + torch.sigmoid(self.model(rc_input(x), tf, cell)).flip(1))
            self._vp.append(p[:, ::5].detach().cpu())  # every 5th bp: enough for auPRC
            self._vy.append(y[:, ::5].detach().cpu())

        def on_validation_epoch_end(self):
            if not self._vp:
                return
            p, y = torch.cat(self._vp).numpy().ravel(), torch.cat(self._vy).numpy().ravel()
            v = _auprc(y, p)
            self.log("val_auprc", v if np.isfinite(v) else 0.0, prog_bar=True)

        def configure_optimizers(self):
            o = self.config["optim"]
            return torch.optim.AdamW(self.model.parameters(), lr=o["lr"], weight_decay=o["weight_decay"])

        def on_save_checkpoint(self, checkpoint):
            checkpoint["bindscape"] = {"format": FORMAT, "config": json.dumps(self.config),
                                       "model": json.dumps(self.model.hparams()), "model_name": self.model.name,
                                       "multitask": json.dumps(self.meta)}

    return _Task


def _pos_weight(cfg: MultitaskConfig, y: np.ndarray) -> float | None:
    pw = cfg.loss.pos_weight
    if pw is None:
        return None
    if pw == "auto":
        pos = float(y.mean())
        pw = (1 - pos) / pos if pos > 0 else 1.0
    return float(min(pw, cfg.loss.max_pos_weight))


def _resolve_tracks(cfg: MultitaskConfig, ds) -> TrackSet | None:
    if cfg.tracks == "none":
        return None
    if cfg.tracks == "auto":
        return TrackSet.from_dict(ds.meta.get("params", {}).get("tracks"))
    return TrackSet.from_dict(cfg.tracks)


#: config fields that must not change when a run is resumed (they define the model and its data)
_RESUME_KEYS = ("dataset", "model", "conditions", "exclude", "tracks")


def can_resume(run_dir: str | Path) -> bool:
    """True when `run_dir` holds an unfinished multitask run (a last.ckpt and no finished metrics.json)."""
    run_dir = Path(run_dir)
    if not (run_dir / "checkpoints" / "last.ckpt").exists():
        return False
    m = run_dir / "metrics.json"
    return not m.exists() or json.loads(m.read_text()).get("finished") is False


def train_multitask(cfg: MultitaskConfig, *, overwrite: bool = True, resume: bool = False) -> Path:
    """Train per `cfg`; returns the run folder. `resume` continues from ``checkpoints/last.ckpt``."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from bindscape.data.dataset import load_dataset
    from bindscape.train.fit import _log, _quiet_lightning, epoch_log_callback, prepare_run

    _quiet_lightning()
    run_dir = cfg.run_dir
    ckpt_path = prepare_run(cfg, run_dir, resume=resume, overwrite=overwrite, keys=_RESUME_KEYS)
    prev: dict = {}
    if resume and (run_dir / "metrics.json").exists():
        prev = json.loads((run_dir / "metrics.json").read_text())
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    ds = load_dataset(cfg.dataset)
    genome = ds.open_genome()
    tracks = _resolve_tracks(cfg, ds)
    vocab = ConditionVocab.from_regions(ds.regions)  # every TF and cell gets an embedding row
    d = cfg.data
    kw = dict(vocab=vocab, tracks=tracks, genome=genome, conditions=cfg.conditions, exclude=cfg.exclude)
    train_ds = MultitaskBPDataset(ds, d.train_split, rc_augment=d.rc_augment, use_relaxed=d.use_relaxed,
                                  seed=cfg.trainer.seed, **kw)
    val_ds = MultitaskBPDataset(ds, d.val_split, **kw) if (ds.regions["split"] == d.val_split).any() else None
    trained_pairs = sorted({tuple(k.split("/", 1)) for k in train_ds.keys})
    vocab = ConditionVocab(vocab.tfs, vocab.cells, trained_pairs)
    model = build_multitask_model(cfg, train_ds.length, vocab, tracks.n_channels if tracks else 0)
    pw = _pos_weight(cfg, train_ds.y)
    config = cfg.model_dump(mode="json")
    meta = {"conditions": vocab.to_dict(), "tracks": tracks.to_dict() if tracks else None, "pos_weight": pw,
            "length": train_ds.length}
    task = _task_class()(model, config, meta, pw)
    train_loader = train_ds.loader(d.batch_size, shuffle=True, seed=cfg.trainer.seed)
    task.epoch_objects = [train_ds]
    val_loader = val_ds.loader(max(d.batch_size, 64)) if val_ds is not None else None
    run_dir.mkdir(parents=True, exist_ok=True)
    import yaml

    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    _log(run_dir, f"{'resume' if resume else 'start'}: {model.name} ({model.n_parameters():,} parameters), "
                  f"{len(train_ds):,} train windows, {len(vocab.pairs)} conditions, pos_weight={pw}")
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val_auprc" if val_ds else None,
                           mode="max", save_top_k=1, save_last=True, enable_version_counter=False)
    cbs = [ckpt, epoch_log_callback(cfg, run_dir, ("val_", "train_"))]
    if val_ds is not None and cfg.trainer.patience:
        cbs.append(EarlyStopping(monitor="val_auprc", mode="max", patience=cfg.trainer.patience))
    trainer = L.Trainer(max_epochs=cfg.trainer.max_epochs, accelerator=cfg.trainer.accelerator, devices=1,
                        callbacks=cbs, logger=False, enable_progress_bar=cfg.trainer.progress,
                        enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=run_dir,
                        limit_train_batches=cfg.trainer.limit_train_batches, log_every_n_steps=10)
    trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader, ckpt_path=ckpt_path)
    cpu_s, wall_s = time.process_time() - t_cpu, time.perf_counter() - t_wall
    stop = cfg.trainer.stop_after_epochs
    interrupted = bool(stop and trainer.current_epoch < cfg.trainer.max_epochs and not
                       any(getattr(c, "stopped_epoch", 0) for c in cbs))
    if prev.get("finished") is False:  # time spent before the interruption counts too
        cpu_s += prev.get("cpu_seconds", 0.0)
        wall_s += prev.get("wall_seconds", 0.0)
    best = Path(ckpt.best_model_path) if ckpt.best_model_path else run_dir / "checkpoints" / "last.ckpt"
    out = {"run": str(run_dir), "model": model.name, "finished": not interrupted, "best_checkpoint": str(best),
           "epochs_run": int(trainer.current_epoch), "cpu_seconds": round(cpu_s, 2), "wall_seconds": round(wall_s, 2),
           "n_parameters": model.n_parameters(), "conditions": vocab.to_dict(), "pos_weight": pw,
           "resumed": bool(resume) or bool(prev.get("resumed"))}
    if ckpt.best_model_score is not None:
        out["best_val_auprc"] = float(ckpt.best_model_score)
    atomic_write_text(run_dir / "metrics.json", json.dumps(out, indent=2) + "\n")
    _log(run_dir, f"done: best val per-bp auPRC {out.get('best_val_auprc', float('nan')):.4f}; "
                  f"{cpu_s:.0f} CPU s, {wall_s:.0f} s wall" + (" (stopped; resume continues)" if interrupted else ""))
    return run_dir


# -- loading and prediction ----------------------------------------------------------------------------
@dataclass
class LoadedMultitask:
    model: nn.Module
    config: dict
    vocab: ConditionVocab
    tracks: TrackSet | None
    path: Path
    extra: dict = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.model.length)

    def index(self, tf: str, cell: str | None) -> tuple[int, int]:
        """Embedding indices; unknown names raise `UnknownConditionError` listing the known ones."""
        return self.vocab.index(tf, cell)


def load_multitask_checkpoint(path: str | Path, *, map_location: str = "cpu") -> LoadedMultitask:
    """Rebuild a multitask model, its config, condition names and tracks from a checkpoint (or run folder)."""
    from bindscape.models.nettime import ConditionedModel, NetTIME

    path = Path(path)
    if path.exists():
        path = _resolve(path)
    obj = _read(path)
    meta = obj["bindscape"]
    if "multitask" not in meta:
        raise CheckpointError(f"{path}: not a multitask checkpoint (no condition names inside)",
                              hint="use `bindscape predict` for single-task checkpoints")
    mt = json.loads(meta["multitask"])
    hp = json.loads(meta["model"])
    cls = {"nettime": NetTIME, "conditioned": ConditionedModel}.get(meta["model_name"])
    if cls is None:
        raise CheckpointError(f"{path}: unknown multitask model {meta['model_name']!r}")
    model = cls(**hp)
    sd = {k[len("model."):]: v for k, v in obj["state_dict"].items() if k.startswith("model.")} or obj["state_dict"]
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit model {meta['model_name']!r} ({str(exc)[:160]})") from None
    model.eval().to(map_location)
    return LoadedMultitask(model, json.loads(meta["config"]), ConditionVocab.from_dict(mt["conditions"]),
                           TrackSet.from_dict(mt.get("tracks")), path,
                           {k: v for k, v in obj.items() if k in ("epoch", "global_step")} | {"pos_weight": mt.get("pos_weight")})


@torch.no_grad()
def predict_bp(loaded: LoadedMultitask, x, tf: str | None = None, cell: str | None = None, *, tf_vec=None,
               cell_vec=None, rc_average: bool = True, batch_size: int = 128, logits: bool = False) -> np.ndarray:
    """Per-bp probabilities (or logits) (N, L) for input `x` (N, C, L) under condition (tf, cell); `tf_vec` /
    `cell_vec` replace the looked-up embeddings (transfer, averages, ablation)."""
    m = loaded.model
    ti = ci = None
    if tf_vec is None:
        ti = loaded.vocab.tf_index(tf)
    if cell_vec is None:
        ci = loaded.vocab.cell_index(cell)
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        n = len(xb)
        t = None if ti is None else torch.full((n,), ti, dtype=torch.long)
        c = None if ci is None else torch.full((n,), ci, dtype=torch.long)
        z = m(xb, t, c, tf_vec=tf_vec, cell_vec=cell_vec)
        if rc_average:
            zr = m(rc_input(xb), t, c, tf_vec=tf_vec, cell_vec=cell_vec).flip(1)
            z = 0.5 * (z + zr)  # average logits over strands
        out.append(z if logits else torch.sigmoid(z))
    return torch.cat(out).numpy() if out else np.zeros((0, loaded.length), np.float32)


def predict_dataset_bp(loaded: LoadedMultitask, tds: MultitaskBPDataset, *, logits: bool = True, **kw) -> np.ndarray:
    """Per-bp outputs for every row of a `MultitaskBPDataset` (each row under its own condition)."""
    out = np.zeros((len(tds), tds.length), np.float32)
    for key in np.unique(tds.keys):
        rows = np.flatnonzero(tds.keys == key)
        tf, cell = key.split("/", 1)
        out[rows] = predict_bp(loaded, tds.inputs(rows), tf, cell, logits=logits, **kw)
    return out

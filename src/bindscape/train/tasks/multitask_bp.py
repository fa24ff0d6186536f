"""Multitask per-base-pair training (NetTIME): one model for many TF x cell-type conditions.

`train_multitask(config) -> run dir` trains `nettime` (or any registry model wrapped by `ConditionedModel`)
with a class-weighted per-bp BCE on a multi-condition bp dataset, through the one training engine
(`bindscape.train.engine.fit`: devices/strategy/precision, DDP, CSV logs, resume and time accounting as for
every task). Run folder: ``config.yaml``, ``checkpoints/best.ckpt`` + ``last.ckpt``, ``metrics.json`` (best
per-bp val auPRC, CPU s, ``finished``), ``log.txt`` (one line per epoch), ``logs/``.
``train_multitask(cfg, resume=True)`` continues an interrupted run from ``checkpoints/last.ckpt``. The
checkpoint's ``bindscape`` entry holds the resolved config, the model's constructor arguments AND the
condition vocabulary (TF and cell names, trained pairs) and the track set, so `load_checkpoint(path)` (or
its typed wrapper `load_multitask_checkpoint`) alone restores everything needed to predict.

    loaded = load_multitask_checkpoint("runs/mt/nettime")
    p = predict_bp(loaded, x, tf="HNF4A", cell="liver")     # (N, L) probabilities
    write_bp_predictions(loaded, "genome.fa", "HNF4A", "liver", out="sites.bed", bigwig="p.bw")  # streamed

`iter_bp` / `write_bp_predictions` (what ``bindscape predict-bp`` runs) predict regions or a whole genome
per base pair in batches of windows and release each chromosome's values as soon as they are final, so the
called sites and tracks are written as they come and memory does not grow with the genome.

Config example (`bindscape train-multitask CONFIG.yaml`)::

    dataset: runs/mt/data            # a multi-condition bp dataset (bindscape.data.multitask.build_multitask_bp)
    name: nettime
    out_dir: runs/mt
    model: {name: nettime, params: {d_tf: 50, d_cell: 50, channels: 64, pool: 5}}
    #  or  {name: conditioned, params: {inner: bindscape_cnn, mode: concat}}   (any registry model)
    exclude: [GATA1/liver]           # held-out conditions (transfer)
    tracks: auto                     # auto: the dataset's tracks; none: DNA only
    data: {batch_size: 32, rc_augment: true, use_relaxed: true}
    optim: {lr: 0.002, weight_decay: 0.0001}
    loss: {pos_weight: auto, max_pos_weight: 20}
    trainer: {max_epochs: 6, patience: 2, seed: 0, threads: 1}
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from pydantic import Field
from torch import nn

from bindscape.data.multitask import ConditionVocab, MultitaskBPDataset, UnknownConditionError
from bindscape.data.tracks import TrackSet
from bindscape.errors import ConfigError
from bindscape.schema import StrictModel, validate_model
from bindscape.train.checkpoint import LoadedMultitask, load_multitask_checkpoint
from bindscape.train.config import TrainerConfig
from bindscape.train.engine import Finished, Prepared, fit
from bindscape.train.rc import rc_averaged

HINT = "see docs/multitask.md for the config fields"
#: config fields that must not change when a run is resumed (they define the model and its data)
RESUME_KEYS = ("dataset", "model", "conditions", "exclude", "tracks")


# ---------------------------------------------------------------------------------------------- config
class MTModelConfig(StrictModel):
    name: Literal["nettime", "conditioned"] = "nettime"
    """nettime, or conditioned (wraps `params.inner`, any registry model)."""
    params: dict[str, Any] = Field(default_factory=dict)


class MTDataConfig(StrictModel):
    batch_size: int = Field(32, ge=1)
    rc_augment: bool = True
    use_relaxed: bool = True
    """Train on conserved + relaxed peaks where the dataset has relaxed ones (evaluation: conserved only)."""
    train_split: str = "train"
    val_split: str = "val"
    test_split: str | None = "test"


class MTOptimConfig(StrictModel):
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)


class MTLossConfig(StrictModel):
    pos_weight: float | Literal["auto"] | None = "auto"
    """Weight of bound base pairs in the per-bp BCE; auto = unbound/bound ratio of the training set."""
    max_pos_weight: float = Field(20.0, gt=0)


class MTTrainerConfig(TrainerConfig):
    """The one `TrainerConfig` (devices, strategy, precision, ...) with multitask defaults."""

    max_epochs: int = Field(6, ge=1)
    patience: int | None = Field(2, ge=1)
    monitor: Literal["val_auprc"] = "val_auprc"
    threads: int | None = Field(1, ge=1)
    progress: bool = False
    log_every_n_steps: int = Field(10, ge=1)


class MultitaskConfig(StrictModel):
    dataset: str
    name: str = "multitask"
    out_dir: str = "runs"
    model: MTModelConfig = Field(default_factory=MTModelConfig)
    conditions: list[str] | None = None
    """Train only on these TF/CELL conditions (default: all)."""
    exclude: list[str] = Field(default_factory=list)
    """Hold these TF/CELL conditions out of training (their TF and cell still get embeddings)."""
    tracks: Literal["auto", "none"] | dict = "auto"
    data: MTDataConfig = Field(default_factory=MTDataConfig)
    optim: MTOptimConfig = Field(default_factory=MTOptimConfig)
    loss: MTLossConfig = Field(default_factory=MTLossConfig)
    trainer: MTTrainerConfig = Field(default_factory=MTTrainerConfig)

    @property
    def run_dir(self) -> Path:
        """The run folder, ``out_dir/name``."""
        return Path(self.out_dir) / self.name


def validate_multitask_config(data: dict, source: str = "config") -> MultitaskConfig:
    """Validate a multitask training config `data` (a mapping with ``dataset``, ``model``,
    ``conditions``/``exclude``, ``tracks``, ``data``, ``optim``, ``loss`` and ``trainer`` sections) before any
    work; `source` (file name or label) starts each error line."""
    return validate_model(MultitaskConfig, data, source, what="multitask config", hint=HINT)


def load_multitask_config(path: str | Path, overrides: dict[str, Any] | None = None) -> MultitaskConfig:
    """Read a multitask YAML config (`bindscape train-multitask CONFIG.yaml`) and validate it.

    Parameters
    ----------
    path
        The YAML file; errors name it.
    overrides
        Dotted keys set before validation, e.g. ``{"trainer.max_epochs": 2}`` (the CLI's ``--set``).

    Returns
    -------
    MultitaskConfig
    """
    from bindscape.train.config import read_yaml_config

    return validate_multitask_config(read_yaml_config(path, overrides), str(path))


# ---------------------------------------------------------------------------------------------- module
def build_multitask_model(cfg: MultitaskConfig, length: int, vocab: ConditionVocab, n_track_channels: int):
    """`NetTIME` or `ConditionedModel` per ``cfg.model``, sized for the vocabulary and tracks.

    Parameters
    ----------
    cfg
        The config.
    length
        Window length.
    vocab
        TF and cell names (one embedding row each).
    n_track_channels
        Extra input channels.

    Returns
    -------
    torch.nn.Module
    """
    from bindscape.models.conditioned import ConditionedModel
    from bindscape.models.nettime import NetTIME

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


class MultitaskTask(L.LightningModule):
    """Per-bp BCE (positive weight); AdamW; validation per-bp auPRC (every 5th bp) with RC averaging.

    Parameters
    ----------
    model
        A conditioned model ``(x, tf, cell) -> (N, L)`` logits.
    config
        The resolved config dict.
    meta
        Condition vocabulary, tracks, pos_weight and length, stored in every checkpoint.
    pos_weight
        BCE weight of bound base pairs (None: 1).
    """

    def __init__(self, model, config: dict, meta: dict, pos_weight: float | None):
        super().__init__()
        self.model = model
        self.config = config
        self.meta = meta
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)) if pos_weight else None,
                             persistent=False)
        self.epoch_objects: list = []
        self._vp: list = []
        self._vy: list = []

    def on_train_epoch_start(self):
        """Pass the epoch to `epoch_objects` (the training dataset re-draws its augmentation)."""
        for o in self.epoch_objects:
            o.set_epoch(self.current_epoch)

    def training_step(self, batch, batch_idx):
        """Per-bp BCE (with `pos_weight`) of one batch.

        Parameters
        ----------
        batch
            ``(x, y, tf, cell)``: inputs, ``(N, L)`` per-bp labels and TF/cell indices.
        batch_idx
            Batch number in the epoch (unused).

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        x, y, tf, cell = batch
        logits = self.model(x, tf, cell)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def on_validation_epoch_start(self):
        """Clear the predictions collected in the last validation."""
        self._vp, self._vy = [], []

    def validation_step(self, batch, batch_idx):
        """Collect per-bp probabilities (RC-averaged when configured) and labels at every 5th bp.

        Parameters
        ----------
        batch
            ``(x, y, tf, cell)`` as in `training_step`.
        batch_idx
            Batch number (unused).
        """
        x, y, tf, cell = batch
        p = rc_averaged(lambda z: self.model(z, tf, cell), x, rc_average=self.config["trainer"]["rc_average"],
                        per_position=True)
        self._vp.append(p[:, ::5].detach().cpu())  # every 5th bp: enough for auPRC
        self._vy.append(y[:, ::5].detach().cpu())

    def on_validation_epoch_end(self):
        """Log ``val_auprc``, the per-bp auPRC of the collected predictions (0 when undefined)."""
        if not self._vp:
            return
        p, y = torch.cat(self._vp).numpy().ravel(), torch.cat(self._vy).numpy().ravel()
        v = _auprc(y, p)
        self.log("val_auprc", v if np.isfinite(v) else 0.0, prog_bar=True)

    def configure_optimizers(self):
        """AdamW over the model's parameters with the config's ``optim.lr`` and ``optim.weight_decay``."""
        o = self.config["optim"]
        return torch.optim.AdamW(self.model.parameters(), lr=o["lr"], weight_decay=o["weight_decay"])

    def on_save_checkpoint(self, checkpoint):
        """Store the config, model hyperparameters and multitask `meta` under ``checkpoint["bindscape"]``.

        Parameters
        ----------
        checkpoint
            The Lightning checkpoint dict, changed in place.
        """
        from bindscape.train.checkpoint import checkpoint_meta

        checkpoint["bindscape"] = checkpoint_meta(self.config, self.model, multitask=self.meta)


# -------------------------------------------------------------------------------------------- training
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


class MultitaskPlugin:
    """The engine plug-in of multitask base-pair training."""

    resume_keys = RESUME_KEYS

    def __init__(self):
        self.vocab = self.pw = None

    def setup(self, cfg: MultitaskConfig, resume: bool) -> Prepared:
        """Load the dataset, build train/val `MultitaskBPDataset` loaders, the model and its `MultitaskTask`.

        Parameters
        ----------
        cfg
            A validated multitask config.
        resume
            The run continues from its last checkpoint (unused here).

        Returns
        -------
        Prepared
            What `bindscape.train.engine.fit` trains (no val loader when the val split is empty).
        """
        from bindscape.data.dataset import load_dataset
        from bindscape.train.samplers import multitask_loader

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
        self.vocab = vocab = ConditionVocab(vocab.tfs, vocab.cells, trained_pairs)
        model = build_multitask_model(cfg, train_ds.length, vocab, tracks.n_channels if tracks else 0)
        self.pw = pw = _pos_weight(cfg, train_ds.y)
        meta = {"conditions": vocab.to_dict(), "tracks": tracks.to_dict() if tracks else None, "pos_weight": pw,
                "length": train_ds.length}
        task = MultitaskTask(model, cfg.model_dump(mode="json"), meta, pw)
        train_loader = multitask_loader(train_ds, d.batch_size, shuffle=True, seed=cfg.trainer.seed)
        task.epoch_objects = [train_ds]
        val_loader = multitask_loader(val_ds, max(d.batch_size, 64)) if val_ds is not None else None
        from bindscape.train.engine import limited_steps

        steps = limited_steps(len(train_loader), cfg.trainer.limit_train_batches)
        start = (f"{model.name} ({model.n_parameters():,} parameters), {len(train_ds):,} train windows, "
                 f"{len(vocab.pairs)} conditions, pos_weight={pw}")
        return Prepared(task, train_loader, val_loader, steps, start, log_prefixes=("val_", "train_"))

    def finish(self, cfg: MultitaskConfig, done: Finished) -> tuple[dict, str]:
        """The multitask ``metrics.json`` fields; nothing is re-evaluated.

        Parameters
        ----------
        cfg
            The run's validated multitask config (unused).
        done
            The finished (or stopped) fit.

        Returns
        -------
        tuple[dict, str]
            ``conditions``, ``pos_weight`` and ``best_val_auprc`` (when monitored), and the ``done:`` line text.
        """
        fields = {"conditions": self.vocab.to_dict(), "pos_weight": self.pw}
        score = done.trainer.checkpoint_callback.best_model_score
        if score is not None:
            fields["best_val_auprc"] = float(score)
        return fields, f"best val per-bp auPRC {fields.get('best_val_auprc', float('nan')):.4f}"


def train_multitask(cfg: MultitaskConfig, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Train a multitask model per `cfg` with the engine; returns the run folder.

    Parameters
    ----------
    cfg
        A validated `MultitaskConfig`.
    overwrite
        Replace an existing run folder with checkpoints (default False, as for every task).
    resume
        Continue from ``checkpoints/last.ckpt``.

    Returns
    -------
    Path
    """
    return fit(MultitaskPlugin(), cfg, cfg.run_dir, resume=resume, overwrite=overwrite)


# -------------------------------------------------------------------------------------------- prediction
@torch.no_grad()
def predict_bp(loaded: LoadedMultitask, x, tf: str | None = None, cell: str | None = None, *, tf_vec=None,
               cell_vec=None, rc_average: bool = True, batch_size: int = 128, logits: bool = False) -> np.ndarray:
    """Per-bp probabilities (or logits) ``(N, L)`` under one condition.

    Parameters
    ----------
    loaded
        From `load_multitask_checkpoint`.
    x
        Input ``(N, C, L)`` (DNA plus track channels).
    tf, cell
        Condition names (looked up in the vocabulary).
    tf_vec, cell_vec
        Embeddings that replace the looked-up ones (transfer, averages, ablation).
    rc_average
        Average logits over both strands.
    batch_size
        Rows per forward pass.
    logits
        Return logits instead of probabilities.

    Returns
    -------
    numpy.ndarray
    """
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
        z = rc_averaged(lambda v, t=t, c=c: m(v, t, c, tf_vec=tf_vec, cell_vec=cell_vec), xb,
                        rc_average=rc_average, per_position=True, space="logit")
        out.append(z if logits else torch.sigmoid(z))
    return torch.cat(out).numpy() if out else np.zeros((0, loaded.length), np.float32)


def predict_dataset_bp(loaded: LoadedMultitask, tds: MultitaskBPDataset, *, logits: bool = True, **kw) -> np.ndarray:
    """Per-bp outputs for every row of a `MultitaskBPDataset` (each row under its own condition).

    Parameters
    ----------
    loaded
        From `load_multitask_checkpoint`.
    tds
        The dataset.
    logits
        Logits (default) or probabilities.
    **kw
        Passed to `predict_bp`.

    Returns
    -------
    numpy.ndarray
        ``(N, L)``.
    """
    out = np.zeros((len(tds), tds.length), np.float32)
    for key in np.unique(tds.keys):
        rows = np.flatnonzero(tds.keys == key)
        tf, cell = key.split("/", 1)
        out[rows] = predict_bp(loaded, tds.inputs(rows), tf, cell, logits=logits, **kw)
    return out


__all__ = ["train_multitask", "load_multitask_checkpoint", "LoadedMultitask", "predict_bp",
           "predict_dataset_bp", "build_multitask_model", "UnknownConditionError", "MultitaskConfig",
           "MultitaskTask", "MultitaskPlugin", "validate_multitask_config", "load_multitask_config",
           "bp_windows", "iter_bp", "bp_intervals", "SiteCaller", "write_bp_predictions"]


# ------------------------------------------------------------------------------ streamed per-bp prediction
# `bindscape predict-bp` over regions or a whole genome, streamed: windows flow through the model one batch at
# a time, each chromosome's per-bp values are released as soon as no later window can reach them, and the
# called sites and tracks are written as they come, so memory does not grow with the genome. Hand-written
# because no library tiles, merges and calls per-bp model outputs: tangermeme/gReLU predict whole arrays.


def bp_windows(starts, ends, size: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of `length` bp covering regions of one chromosome, in region order then window order.

    A region's windows start at its start every `length` bp; a last one is aligned to its end; each window is
    clipped to the chromosome. A window predicts the part of its region it covers.

    Parameters
    ----------
    starts, ends
        The regions (0-based, half-open), in the order given.
    size
        The chromosome's length.
    length
        The model's window length.

    Returns
    -------
    tuple of numpy.ndarray
        ``(w, lo, hi)``: window starts and the stretch ``[lo, hi)`` of its region each window predicts.
    """
    ws, los, his = [], [], []
    for s, e in zip(np.asarray(starts, np.int64).tolist(), np.asarray(ends, np.int64).tolist()):
        w = s + length * np.arange((max(e - length, s) - s) // length + 1, dtype=np.int64)
        if w[-1] + length < e:
            w = np.r_[w, e - length]
        w = np.minimum(np.maximum(w, 0), max(size - length, 0))
        ws.append(w)
        los.append(np.maximum(w, s))
        his.append(np.minimum(w + length, e))
    if not ws:
        return (np.zeros(0, np.int64),) * 3
    return np.concatenate(ws), np.concatenate(los), np.concatenate(his)


class _BpBuffer:
    """One chromosome's per-bp values, painted window by window (a later window wins where windows overlap) and
    released in position order as soon as no later window reaches them (``safe``: the smallest ``lo`` of the
    windows still to come), so the buffer spans a few windows for sorted regions."""

    def __init__(self, lo: np.ndarray):
        self.safe = np.minimum.accumulate(lo[::-1])[::-1] if len(lo) else lo
        self.base = int(lo.min()) if len(lo) else 0
        self.vals, self.cov, self.k = np.zeros(0, np.float32), np.zeros(0, bool), 0

    def paint(self, pred: np.ndarray, w: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        """Paint the next windows (rows of `pred`); return ``(positions, values)`` that are now final."""
        need = int(hi.max()) - self.base if len(hi) else 0
        if need > len(self.vals):
            n = max(need, 2 * len(self.vals))
            vals, cov = np.zeros(n, np.float32), np.zeros(n, bool)
            vals[: len(self.vals)], cov[: len(self.cov)] = self.vals, self.cov
            self.vals, self.cov = vals, cov
        for p, a, b, c in zip(pred, (lo - self.base).tolist(), (hi - self.base).tolist(), (lo - w).tolist()):
            if b > a:
                self.vals[a:b], self.cov[a:b] = p[c : c + b - a], True
        self.k += len(w)
        return self.release(int(self.safe[self.k]) if self.k < len(self.safe) else None)

    def release(self, limit: int | None):
        """``(positions, values)`` of painted base pairs before `limit` (None: all), dropped from the buffer."""
        cut = len(self.vals) if limit is None else min(max(limit - self.base, 0), len(self.vals))
        keep = np.flatnonzero(self.cov[:cut])
        out = (self.base + keep, self.vals[keep])
        self.vals, self.cov, self.base = self.vals[cut:], self.cov[cut:], self.base + cut
        return out


def _bp_plan(g, regions) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
    """Each chromosome's regions (chromosomes in order of first appearance, regions in the order given)."""
    if regions is None:
        return [(c, (np.zeros(1, np.int64), np.array([g.sizes[c]], np.int64))) for c in g.chroms]
    ch = regions["chrom"].astype(str).to_numpy()
    s, e = regions["start"].to_numpy(np.int64), regions["end"].to_numpy(np.int64)
    return [(c, (s[ch == c], e[ch == c])) for c in dict.fromkeys(ch.tolist())]


def iter_bp(loaded: LoadedMultitask, genome, tf: str | None, cell: str | None, *, regions=None,
            batch_size: int = 64, progress: bool = True) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Per-bp probabilities of regions (or every chromosome) under one condition, streamed in position order.

    Regions are tiled with `bp_windows`; windows go through the model `batch_size` at a time (batches run on
    across regions and chromosomes); where windows overlap the later one wins. Memory holds one batch and a
    few windows' values, however large the genome.

    Parameters
    ----------
    loaded
        From `load_multitask_checkpoint`.
    genome
        A `Genome` or a FASTA path.
    tf, cell
        The condition.
    regions
        A frame with ``chrom, start, end`` (None: every chromosome, in FASTA order). Chromosomes come out in
        order of first appearance; each chromosome's base pairs sorted, each once.
    batch_size
        Windows per forward pass.
    progress
        Show a progress bar (windows done).

    Yields
    ------
    tuple
        ``(chrom, positions, values)``: 0-based positions (int64) and float32 probabilities.
    """
    from bindscape._util import progress as progress_bar
    from bindscape.io.genome import Genome

    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    length = loaded.length
    loaded.index(tf, cell)  # unknown names fail before any work
    plan = _bp_plan(g, regions)
    total = sum(len(bp_windows(s, e, g.sizes[c], length)[0]) for c, (s, e) in plan)
    buf = np.empty((batch_size, 4, length), dtype=np.float32)  # one reused one-hot buffer
    pending: list = []  # [chrom, _BpBuffer, w, lo, hi]: chromosomes with windows not yet predicted, in order
    with progress_bar(disable=not progress or None, transient=True) as bar:
        task = bar.add_task(f"predict-bp {tf}/{cell or '-'}", total=total)
        for i, (chrom, (s, e)) in enumerate(plan):
            w, lo, hi = bp_windows(s, e, g.sizes[chrom], length)
            pending.append([chrom, _BpBuffer(lo), w, lo, hi])
            last = i == len(plan) - 1
            while pending and ((n := sum(len(p[2]) for p in pending)) >= batch_size or last):
                yield from _bp_batch(loaded, g, tf, cell, pending, buf, batch_size)
                bar.advance(task, min(n, batch_size))


def _bp_batch(loaded, g, tf, cell, pending: list, buf: np.ndarray, batch_size: int):
    """Predict the next batch of `pending` windows, paint them, and yield what is final; finished chromosomes
    are released in full (and their genome pages dropped)."""
    length = loaded.length
    take, n = [], 0
    for item in pending:
        k = min(batch_size - n, len(item[2]))
        take.append((item, k))
        n += k
        if n == batch_size:
            break
    chroms = np.concatenate([np.full(k, item[0], dtype=object) for item, k in take])
    starts = np.concatenate([item[2][:k] for item, k in take])
    x = g.fetch_onehot(chroms.tolist(), starts, length=length, pad=True, out=buf[:n])
    if loaded.tracks is not None:
        x = np.concatenate([x, loaded.tracks.fetch(cell, chroms, starts, length)], axis=1)
    pred = predict_bp(loaded, x, tf, cell, batch_size=batch_size)
    row = 0
    for item, k in take:
        chrom, bb = item[0], item[1]
        pos, val = bb.paint(pred[row : row + k], item[2][:k], item[3][:k], item[4][:k])
        row += k
        item[2:] = item[2][k:], item[3][k:], item[4][k:]
        if len(pos):
            yield chrom, pos, val
        if not len(item[2]):  # a chromosome's windows are all planned at once: it is finished
            pos, val = bb.release(None)
            if len(pos):
                yield chrom, pos, val
            pending[:] = [p for p in pending if p is not item]
            if hasattr(g, "release"):  # drop the finished chromosome's pages: peak RSS stays flat
                g.release(chrom)


def _run_starts(pos: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices where a run starts: a gap between positions or a change of `key` (NaN never equals itself)."""
    brk = np.ones(len(pos), bool)
    brk[1:] = (np.diff(pos) != 1) | (key[1:] != key[:-1])
    return np.flatnonzero(brk)


def bp_intervals(chunks) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per-bp values -> track intervals for `bindscape.train.write_tracks`: adjacent base pairs with exactly
    equal values become one interval (across chunks too), so every base pair keeps its value.

    Parameters
    ----------
    chunks
        ``(chrom, positions, values)`` from `iter_bp` (each chromosome's chunks consecutive, positions sorted).

    Yields
    ------
    tuple
        ``(chrom, starts, ends, values)``.
    """
    held = None  # the last interval seen: it may go on in the next chunk
    for c, pos, v in chunks:
        if not len(pos):
            continue
        i = _run_starts(pos, v)
        s, e, val = pos[i], np.r_[pos[i[1:] - 1], pos[-1]] + 1, v[i]
        if held is not None and (held[0] != c or held[2] != s[0] or held[3] != val[0]):
            yield held[0], np.array([held[1]]), np.array([held[2]]), np.array([held[3]], v.dtype)
        elif held is not None:
            s[0] = held[1]
        if len(s) > 1:
            yield c, s[:-1], e[:-1], val[:-1]
        held = (c, int(s[-1]), int(e[-1]), val[-1])
    if held is not None:
        yield held[0], np.array([held[1]]), np.array([held[2]]), np.array([held[3]])


class SiteCaller:
    """Called sites, fed chunk by chunk: runs of adjacent base pairs with probability >= `threshold` (a run
    may go on across chunks, so the last one is held until the next chunk or `finish`).

    Parameters
    ----------
    threshold
        The probability threshold.
    """

    def __init__(self, threshold: float):
        self.threshold, self.held = threshold, None

    def add(self, chrom: str, pos: np.ndarray, v: np.ndarray) -> list[tuple[str, int, int, float]]:
        """Feed one chunk of `iter_bp`; return the sites it completes: ``(chrom, start, end, score)`` with
        score the run's highest probability."""
        on = v >= self.threshold
        i = _run_starts(pos, on)  # every run (called or not): a gap or a change of call ends it
        sel = on[i]
        if not sel.any():
            return []
        j = np.r_[i[1:], len(pos)][sel]
        score = np.maximum.reduceat(v, i)[sel]
        s, e = pos[i[sel]], pos[j - 1] + 1
        done = []
        if self.held is not None and self.held[0] == chrom and self.held[2] == s[0]:
            s[0], score[0] = self.held[1], max(self.held[3], score[0])
        elif self.held is not None:
            done.append(self.held)
        done += zip([chrom] * (len(s) - 1), s[:-1].tolist(), e[:-1].tolist(), score[:-1].tolist())
        self.held = (chrom, int(s[-1]), int(e[-1]), float(score[-1]))
        return done

    def finish(self) -> list[tuple[str, int, int, float]]:
        """The held site, if any (call after the last chunk)."""
        done, self.held = ([] if self.held is None else [self.held]), None
        return done


def write_bp_predictions(loaded: LoadedMultitask, genome, tf: str | None, cell: str | None, *, out,
                         regions=None, bedgraph=None, bigwig=None, threshold: float = 0.5, batch_size: int = 64,
                         progress: bool = True) -> dict:
    """Predict per-bp probabilities (`iter_bp`) straight to called sites (BED) and tracks, streamed.

    Sites (`SiteCaller`) are written as ``chrom, start, end, score`` (the run's highest probability,
    ``%.4f``); tracks go through `bindscape.train.write_tracks` (adjacent equal values merged by
    `bp_intervals`). Every file is written atomically (a temporary file renamed when complete); the sites
    file is renamed last, after the tracks.

    Parameters
    ----------
    loaded, genome, tf, cell, regions, batch_size, progress
        As in `iter_bp`.
    out
        The called sites (BED).
    bedgraph, bigwig
        Per-bp probability tracks (None: not written).
    threshold
        Probability threshold for calling a base pair bound.

    Returns
    -------
    dict
        ``sites``, ``bp`` (base pairs predicted), ``chroms`` (chromosomes predicted), ``files`` (written).
    """
    from bindscape._util import atomic_path
    from bindscape.io.genome import Genome
    from bindscape.train.predict import write_tracks

    g = genome if hasattr(genome, "fetch_onehot") else Genome(genome)
    n = {"sites": 0, "bp": 0, "chroms": 0}
    caller = SiteCaller(threshold)
    with atomic_path(out) as tmp, open(tmp, "w") as fh:

        def write(sites):
            fh.writelines(f"{c}\t{s}\t{e}\t{score:.4f}\n" for c, s, e, score in sites)
            n["sites"] += len(sites)

        def tee():
            last = None
            for c, pos, v in iter_bp(loaded, g, tf, cell, regions=regions, batch_size=batch_size,
                                     progress=progress):
                n["bp"], n["chroms"], last = n["bp"] + len(pos), n["chroms"] + (c != last), c
                write(caller.add(c, pos, v))
                yield c, pos, v

        if bedgraph is None and bigwig is None:
            for _ in tee():
                pass
        else:
            write_tracks(bp_intervals(tee()), bedgraph=bedgraph, bigwig=bigwig, sizes=g.sizes,
                         name=f"{tf}/{cell or '-'}")
        write(caller.finish())
    files = [Path(out)] + [Path(p) for p in (bedgraph, bigwig) if p is not None]
    return {**n, "files": files}

"""Single-task binary classification (one or more outputs): `train(cfg) -> run folder`.

`BinaryTask` is the LightningModule (BCE with optional positive weight and label smoothing; Adam/AdamW;
one-cycle/cosine/plateau/constant LR; validation auROC/auPRC/loss/MCC with RC-averaged predictions;
per-batch reseeding so resumed CPU runs equal uninterrupted ones). `BinaryPlugin` plugs it into the engine
(`bindscape.train.engine.fit`) and, at the end, scores the best checkpoint on the val and test splits and
writes ``predictions.parquet`` (test split).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import nn

from bindscape.errors import ConfigError
from bindscape.evaluate.metrics import binary_metrics
from bindscape.train.config import RESUME_KEYS, TrainConfig, check_split_names, resolve_max_epochs
from bindscape.train.engine import Finished, Prepared, fit
from bindscape.train.rc import predict_proba


def gather_uneven(module, t: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor over DDP ranks whose first dimension differs between ranks.

    Validation batches are dealt out round-robin, so ranks hold different counts: pad to the longest,
    all-gather, trim.

    Parameters
    ----------
    module
        The LightningModule (its ``all_gather``).
    t
        This rank's rows.

    Returns
    -------
    torch.Tensor
        Every rank's rows, rank 0 first.
    """
    n = torch.tensor([t.shape[0]], device=t.device)
    sizes = module.all_gather(n).view(-1).tolist()
    pad = t.new_zeros((max(sizes) - t.shape[0], *t.shape[1:]))
    g = module.all_gather(torch.cat([t, pad]))  # (world, max, ...)
    return torch.cat([g[r, : int(k)] for r, k in enumerate(sizes)])


def configure_adam(module, params, config: dict):
    """Adam/AdamW plus the configured LR schedule (``config["optim"]``), in Lightning's return format.

    Parameters
    ----------
    module
        The LightningModule (for ``steps_per_epoch``).
    params
        Parameters to optimise.
    config
        The resolved config dict.

    Returns
    -------
    torch.optim.Optimizer or dict
    """
    o = config["optim"]
    cls = torch.optim.AdamW if o["optimizer"] == "adamw" else torch.optim.Adam
    opt = cls(params, lr=o["lr"], weight_decay=o["weight_decay"])
    total = module.steps_per_epoch * int(config["trainer"]["max_epochs"])
    if o["schedule"] == "onecycle" and total >= 4:
        # OneCycleLR divides by (pct_start * total - 1): keep the warm-up at least 2 steps, at most half
        pct = min(max(o["warmup_frac"], 2.0 / total), 0.5)
        sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=o["lr"], total_steps=total, pct_start=pct)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}
    if o["schedule"] == "cosine":
        sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}
    if o["schedule"] == "plateau":
        mon = config["trainer"]["monitor"]
        sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min" if mon == "val_loss" else "max",
                                                         factor=0.5, patience=1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "monitor": mon, "interval": "epoch"}}
    return opt


class BinaryTask(L.LightningModule):
    """BCE (optional positive weight, label smoothing); Adam/AdamW; one-cycle/cosine/plateau/constant LR;
    validation auROC/auPRC/loss with RC-averaged predictions; per-epoch reseeding so resumed CPU runs
    equal uninterrupted ones."""

    def __init__(self, model: nn.Module, config: dict, steps_per_epoch: int = 1):
        super().__init__()
        self.model = model
        self.config = config
        self.steps_per_epoch = max(int(steps_per_epoch), 1)
        pw = config["loss"].get("pos_weight")
        self.register_buffer("pos_weight", torch.tensor(float(pw)) if pw else None, persistent=False)
        self.epoch_objects: list = []  # datasets/samplers with set_epoch (set by the plug-in)
        self._val_p: list[torch.Tensor] = []
        self._val_y: list[torch.Tensor] = []

    def forward(self, x):
        return self.model(x)

    # -- training -------------------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        for obj in self.epoch_objects:
            obj.set_epoch(self.current_epoch)

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # dropout etc. draw from a stream fixed by (seed, epoch, batch): a resumed run repeats it exactly
        seed = int(self.config["trainer"]["seed"])
        torch.manual_seed((seed * 1_000_003 + self.current_epoch * 100_003 + batch_idx) % (2**63 - 1))

    def bce(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """BCE with the configured positive weight and label smoothing; NaN labels (unknown, e.g. another
        TF's rows in a pooled multi-output dataset, `bindscape.data.pooled`) are left out of the mean."""
        y = y.view_as(logits).to(logits.dtype)
        known = ~torch.isnan(y)
        ls = self.config["loss"].get("label_smoothing") or 0.0
        if ls:
            y = y * (1 - ls) + 0.5 * ls
        if bool(known.all()):
            return nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
        per = nn.functional.binary_cross_entropy_with_logits(logits, torch.where(known, y, 0.0),
                                                             pos_weight=self.pos_weight, reduction="none")
        return (per * known).sum() / known.sum().clamp(min=1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.bce(self.model(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    # -- validation -----------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_p, self._val_y = [], []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        p = predict_proba(self.model, x, self.config["trainer"]["rc_average"])
        self._val_p.append(p.detach())
        self._val_y.append(y.view_as(p).detach())

    def on_validation_epoch_end(self) -> None:
        if not self._val_p:
            return
        p = torch.cat(self._val_p)
        y = torch.cat(self._val_y)
        if self.trainer.world_size > 1:
            p, y = gather_uneven(self, p), gather_uneven(self, y)
        m = binary_metrics(y.cpu().numpy(), p.cpu().numpy())
        for k in ("auroc", "auprc", "loss", "mcc"):
            v = m[k]
            self.log(f"val_{k}", float(v) if np.isfinite(v) else 0.0, prog_bar=k in ("auroc", "auprc"),
                     sync_dist=False)
        self._val_p, self._val_y = [], []

    # -- optimisation ---------------------------------------------------------------------------------
    def configure_optimizers(self):
        return configure_adam(self, [p for p in self.model.parameters() if p.requires_grad], self.config)

    def configure_callbacks(self):
        n = int(self.config.get("model", {}).get("motif_freeze_epochs") or 0)
        return [MotifFreezeCallback(n)] if n and getattr(self.model, "n_motif_filters", 0) else []

    def on_fit_start(self) -> None:
        sel = getattr(self.model, "motif_selection", None)  # model.motifs: auto
        if sel is not None and self.trainer.is_global_zero:
            from bindscape.models.motif_auto import write_selection

            write_selection(Path(self.trainer.default_root_dir) / "motifs_auto.tsv", sel)

    # -- checkpoints ----------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from bindscape.train.checkpoint import checkpoint_meta

        sel = getattr(self.model, "motif_selection", None)
        extra = {"motifs_auto": sel.table.to_dict("records")} if sel is not None else {}
        checkpoint["bindscape"] = checkpoint_meta(self.config, self.model, **extra)


def build_model(cfg, length: int, n_outputs: int, genome=None, train_data=None):
    """The registry model named in ``cfg.model`` for windows of `length` bp and `n_outputs` outputs.

    With ``model.motifs`` the first DNA convolution's leading filters start as the motifs' log-odds and,
    with ``model.motif_score: late``, the model is wrapped in `bindscape.models.motif_init.MotifHybrid`.

    Parameters
    ----------
    cfg
        A config with a ``model`` section (name, params, motif options).
    length
        Window length.
    n_outputs
        Output columns.
    genome
        The dataset's genome (for ``model.motif_background: genome``).
    train_data
        A callable returning the training split without augmentation (for ``model.motifs: auto``; the
        model's ``motif_selection`` then says what was chosen).

    Returns
    -------
    bindscape.models.base.BindscapeModel
    """
    from bindscape.models import get_model

    mc = cfg.model
    if getattr(mc, "motifs", None):
        from bindscape.models.motif_auto import config_motifs
        from bindscape.models.motif_init import base_composition, motif_model

        if mc.motif_background == "genome" and genome is None:
            raise ConfigError("model.motif_background: genome needs a dataset built on a genome",
                              hint="use motif_background: uniform for sequence datasets")
        bg = base_composition(genome) if mc.motif_background == "genome" else None
        motifs, selection = config_motifs(mc, length=length, n_outputs=n_outputs, train_data=train_data,
                                          background=bg, seed=cfg.trainer.seed)
        model = motif_model(mc.name, dict(mc.params), length=length, n_outputs=n_outputs,
                            motifs=motifs, score=mc.motif_score, background=bg)
        model.motif_selection = selection
    else:
        model = get_model(mc.name, **{**mc.params, "length": length, "n_outputs": n_outputs})
    model.check_length(length)
    return model


class MotifFreezeCallback(L.Callback):
    """Keeps the motif filters of the first DNA convolution fixed for the first `epochs` epochs.

    Parameters
    ----------
    epochs : int
        Epochs ``0 .. epochs - 1`` train with the motif filters frozen.
    """

    def __init__(self, epochs: int):
        self.epochs = int(epochs)
        self.freeze = None

    def on_train_start(self, trainer, pl_module) -> None:
        from bindscape.models.motif_init import MotifFreeze

        self.freeze = MotifFreeze(pl_module.model, getattr(pl_module.model, "n_motif_filters", 0))

    def _active(self, trainer) -> bool:
        return self.freeze is not None and trainer.current_epoch < self.epochs

    def on_after_backward(self, trainer, pl_module) -> None:
        if self._active(trainer):
            self.freeze.zero_grad_rows()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._active(trainer):
            self.freeze.restore()


def merged_splits(ds, splits: str | list[str]):
    """The dataset and split to train on: as is for one split; for several, a view whose rows in `splits`
    form one split named ``"a+b"`` (the final model trains on ``[train, val]``).

    Parameters
    ----------
    ds
        A loaded `bindscape.data.dataset.Dataset`.
    splits
        One split name or a list of them (each must have rows).

    Returns
    -------
    tuple
        ``(dataset, split name)``.
    """
    import dataclasses

    if isinstance(splits, str):
        return ds, splits
    reg = ds.regions
    have = set(reg["split"].unique()) if "split" in reg else set()
    missing = [s for s in splits if s not in have]
    if missing:
        raise ConfigError(f"{ds.path}: data.train_split: no examples in split(s) {', '.join(map(repr, missing))}",
                          hint=f"the dataset has splits: {', '.join(sorted(map(str, have))) or 'none'}")
    name = "+".join(splits)
    view = reg[reg["split"].isin(splits)].copy()
    view["split"] = name
    return dataclasses.replace(ds, regions=view.reset_index(drop=True)), name


class BinaryPlugin:
    """The engine plug-in of single-task training (see `bindscape.train.engine`)."""

    resume_keys = RESUME_KEYS

    def __init__(self):
        self.ds = self.genome = None
        self.n_train = 0

    def setup(self, cfg: TrainConfig, resume: bool) -> Prepared:
        from bindscape.data.sequences import is_sequence_dataset
        from bindscape.train.data import has_split, make_loader, open_dataset, torch_dataset
        from bindscape.train.engine import limited_steps

        self.ds = ds = open_dataset(cfg.dataset)
        d = cfg.data
        self.genome = genome = None if is_sequence_dataset(ds) else ds.open_genome()
        check_split_names(d, sorted(map(str, ds.regions["split"].dropna().unique())) if "split" in ds.regions else [],
                          cfg.dataset)
        tview, tsplit = merged_splits(ds, d.train_split)
        if not has_split(tview, tsplit):
            raise ConfigError(f"{cfg.dataset}: no examples in split {d.train_split!r}",
                              hint="build the dataset with a split (--split) or set data.train_split")
        train_ds = torch_dataset(tview, tsplit, rc_augment=d.rc_augment, max_shift=d.max_shift,
                                 seed=cfg.trainer.seed, label_columns=d.label_columns, genome=genome)
        self.n_train = len(train_ds)
        self.epochs_source = resolve_max_epochs(cfg.trainer, self.n_train)  # `auto`: by training-set size
        val_ds = (torch_dataset(ds, d.val_split, label_columns=d.label_columns, genome=genome)
                  if has_split(ds, d.val_split) else None)
        n_outputs = len(d.label_columns)
        finetune_state = None
        if cfg.finetune is not None:
            from bindscape.train.finetune import prepare_finetune

            model, finetune_state = prepare_finetune(cfg, train_ds.length, n_outputs)
        else:
            model = build_model(cfg, train_ds.length, n_outputs, genome=genome, train_data=lambda: torch_dataset(
                tview, tsplit, label_columns=d.label_columns, genome=genome))
        train_loader = make_loader(train_ds, batch_size=d.batch_size, sampler=d.sampler, shuffle=True,
                                   seed=cfg.trainer.seed, num_workers=d.num_workers)
        val_loader = (make_loader(val_ds, batch_size=max(d.batch_size, 512), shuffle=False,
                                  num_workers=d.num_workers) if val_ds is not None else None)
        steps = limited_steps(len(train_loader), cfg.trainer.limit_train_batches)
        task = BinaryTask(model, cfg.model_dump(mode="json"), steps_per_epoch=steps)
        task.epoch_objects = [train_ds, train_loader.batch_sampler]
        start = (f"model {cfg.model.name} ({model.n_parameters():,} parameters), {len(train_ds):,} train / "
                 f"{len(val_ds) if val_ds is not None else 0:,} val examples of {train_ds.length} bp"
                 + (f"; fine-tuning {finetune_state}" if finetune_state else "")
                 + (f"; {model.motif_selection.summary()}" if getattr(model, "motif_selection", None) else ""))
        return Prepared(task, train_loader, val_loader, steps, start)

    def finish(self, cfg: TrainConfig, done: Finished) -> tuple[dict, str]:
        from bindscape._util import atomic_path
        from bindscape.train.data import has_split, torch_dataset
        from bindscape.train.predict import predict_dataset

        out: dict = {"n_train": self.n_train, "max_epochs": cfg.trainer.max_epochs,
                     "max_epochs_source": getattr(self, "epochs_source", "config")}
        d = cfg.data
        for key, split in (("val", d.val_split), ("test", d.test_split)):
            if not has_split(self.ds, split):
                continue
            tds = torch_dataset(self.ds, split, label_columns=d.label_columns, genome=self.genome)
            pred = predict_dataset(done.loaded, tds, batch_size=max(d.batch_size, 512), progress=False)
            pcols = [c for c in pred.columns if c.startswith("prob")]
            out[key] = binary_metrics(tds.labels, pred[pcols].to_numpy())
            if key == "test":
                with atomic_path(done.run_dir / "predictions.parquet") as tmp:
                    pred.to_parquet(tmp, index=False)
        summary = ", ".join(f"{k} auROC {out[k]['auroc']:.4f} auPRC {out[k]['auprc']:.4f}"
                            for k in ("val", "test") if k in out)
        return out, summary


def train(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train a single-task model per `cfg` with the engine; returns the run folder.

    Parameters
    ----------
    cfg
        A validated `TrainConfig` (`bindscape.train.config.load_config`).
    resume
        Continue from ``checkpoints/last.ckpt``.
    overwrite
        Replace an existing run folder with checkpoints.

    Returns
    -------
    Path
        The run folder: ``config.yaml``, ``checkpoints/``, ``metrics.json`` (val/test metrics of the best
        checkpoint, best epoch, CPU and wall seconds), ``predictions.parquet`` (test split), ``log.txt``,
        ``logs/``.
    """
    return fit(BinaryPlugin(), cfg, cfg.run_dir, resume=resume, overwrite=overwrite)


__all__ = ["BinaryTask", "BinaryPlugin", "MotifFreezeCallback", "build_model", "merged_splits", "gather_uneven", "configure_adam", "train"]

"""The Lightning module for binary classification with one or more outputs."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from bindscape.train.metrics import binary_metrics


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """One-hot (N, 4, L) in A,C,G,T order -> its reverse complement."""
    return x.flip(1, 2)


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, rc_average: bool = True) -> torch.Tensor:
    """Sigmoid probabilities; with `rc_average`, the mean over both strands (strand-symmetric)."""
    p = torch.sigmoid(model(x).float())
    if rc_average:
        p = 0.5 * (p + torch.sigmoid(model(reverse_complement(x)).float()))
    return p


def gather_uneven(module, t: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor over DDP ranks whose first dimension differs between ranks (validation batches
    are dealt out round-robin, so ranks hold different counts): pad to the longest, all-gather, trim."""
    n = torch.tensor([t.shape[0]], device=t.device)
    sizes = module.all_gather(n).view(-1).tolist()
    pad = t.new_zeros((max(sizes) - t.shape[0], *t.shape[1:]))
    g = module.all_gather(torch.cat([t, pad]))  # (world, max, ...)
    return torch.cat([g[r, : int(k)] for r, k in enumerate(sizes)])


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
        self.epoch_objects: list = []  # datasets/samplers with set_epoch (set by fit)
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

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        y = y.view_as(logits).to(logits.dtype)
        ls = self.config["loss"].get("label_smoothing") or 0.0
        if ls:
            y = y * (1 - ls) + 0.5 * ls
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
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
        o = self.config["optim"]
        params = [p for p in self.model.parameters() if p.requires_grad]
        cls = torch.optim.AdamW if o["optimizer"] == "adamw" else torch.optim.Adam
        opt = cls(params, lr=o["lr"], weight_decay=o["weight_decay"])
        total = self.steps_per_epoch * int(self.config["trainer"]["max_epochs"])
        if o["schedule"] == "onecycle" and total >= 4:
            # OneCycleLR divides by (pct_start * total - 1): keep the warm-up at least 2 steps, at most half
            pct = min(max(o["warmup_frac"], 2.0 / total), 0.5)
            sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=o["lr"], total_steps=total, pct_start=pct)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}
        if o["schedule"] == "cosine":
            sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}
        if o["schedule"] == "plateau":
            mon = self.config["trainer"]["monitor"]
            sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min" if mon == "val_loss" else "max",
                                                             factor=0.5, patience=1)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "monitor": mon, "interval": "epoch"}}
        return opt

    # -- checkpoints ----------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        import json

        from bindscape.train.checkpoint import FORMAT

        checkpoint["bindscape"] = {"format": FORMAT, "config": json.dumps(self.config),
                                   "model": json.dumps(self.model.hparams()), "model_name": self.model.name}

"""Cross-species training: MORALE moment alignment and gradient reversal (GRL) for any model with `embed()`.

    from bindscape.train.domain import morale_loss, grad_reverse, train_cross_species
    loss = morale_loss(emb, domains)            # (N, D) embeddings, (N,) species index
    run = train_cross_species(cfg)              # cfg: bindscape.train.domain_config.CrossSpeciesConfig

Modes: ``source`` (labelled source species only), ``target`` (the target's labels: the upper bound),
``joint`` (all labelled species), ``morale`` (source labels + lam * L_MORALE on background embeddings of
every species) and ``grl`` (source labels + a species classifier behind a gradient-reversal layer).

Batches (`CrossSpeciesBatchSampler`): a label-balanced part (``pos_per_species`` bound +
``neg_per_species`` unbound training windows from each labelled species) and, for morale/grl, a
species-balanced label-agnostic background part (``background_per_species`` training windows of every
species, target included). Background comes from the training split only (never validation/test
chromosomes) and never from sex chromosomes or the mitochondrion (`bindscape.data.splits.is_excluded`).

Run folder: ``config.yaml``, ``checkpoints/best.ckpt`` (loads with `load_checkpoint`; the species
classifier is not part of the model), ``metrics.json`` (per-species val/test auROC/auPRC),
``predictions.parquet`` (every species' val + test windows), ``log.txt``. With ``lam_grid`` one sub-run per
value (``lam-<value>/``) and the best on validation is copied up, with ``selection.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bindscape.errors import ConfigError
from bindscape.train.module import BinaryTask, gather_uneven, predict_proba

# ----------------------------------------------------------------------------------------------- losses


def morale_loss(embeddings: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
    """MORALE's moment-alignment loss.

    For each domain j present in `domains`, the mean mu_j and the (unbiased, n-1) covariance C_j of its rows
    of `embeddings`; ``L = 2 / (n (n + 1)) * sum_{l < k} (||C_l - C_k||_F^2 + ||mu_l - mu_k||_2^2)`` over the
    n domains present. Zero when fewer than two domains are present (still attached to the graph). No
    parameters: the gradient reaches the model only through `embeddings`.
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be (N, D), got {tuple(embeddings.shape)}")
    domains = torch.as_tensor(domains, device=embeddings.device).view(-1)
    doms = torch.unique(domains)
    mus, covs = [], []
    for d in doms:
        e = embeddings[domains == d].float()
        if len(e) < 2:
            continue
        mu = e.mean(dim=0)
        c = e - mu
        mus.append(mu)
        covs.append(c.T @ c / (len(e) - 1))
    n = len(mus)
    if n < 2:
        return embeddings.sum() * 0.0
    total = embeddings.new_zeros((), dtype=torch.float32)
    for i in range(n):
        for k in range(i + 1, n):
            total = total + ((covs[i] - covs[k]) ** 2).sum() + ((mus[i] - mus[k]) ** 2).sum()
    return total * (2.0 / (n * (n + 1)))


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = float(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Identity forward; the gradient is multiplied by ``-lam`` on the way back."""
    return _GradReverse.apply(x, lam)


class GradientReversal(nn.Module):
    def __init__(self, lam: float = 1.0):
        super().__init__()
        self.lam = float(lam)

    def forward(self, x):
        return grad_reverse(x, self.lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam}"


class SpeciesClassifier(nn.Module):
    """GRL branch: reversal -> flatten -> Linear(hidden[0]) ReLU -> Linear(hidden[1]) sigmoid -> output.

    One logit for two species (BCE), one per species otherwise (cross-entropy). MORALE puts the branch
    after the CNN's max pooling; bindscape attaches it to `embed()` so it works for every model.
    """

    def __init__(self, d_in: int, n_species: int, hidden=(1024, 512), lam: float = 1.0):
        super().__init__()
        self.grl = GradientReversal(lam)
        self.n_species = int(n_species)
        layers: list[nn.Module] = [nn.Flatten()]
        d = d_in
        for i, h in enumerate(hidden):
            layers += [nn.Linear(d, h), nn.ReLU() if i < len(hidden) - 1 else nn.Sigmoid()]
            d = h
        layers.append(nn.Linear(d, 1 if self.n_species == 2 else self.n_species))
        self.net = nn.Sequential(*layers)

    def forward(self, emb):
        return self.net(self.grl(emb))

    def loss(self, emb, domains):
        out = self(emb)
        if self.n_species == 2:
            return nn.functional.binary_cross_entropy_with_logits(out.view(-1), domains.float().view(-1))
        return nn.functional.cross_entropy(out, domains.long().view(-1))


# ------------------------------------------------------------------------------------------------ data


class MultiSpeciesDataset(torch.utils.data.Dataset):
    """Training windows of several species (one `RegionDataset` each); items are ``(domain, index, bg)``.

    ``__getitems__`` returns ``(x, y, domain, is_background)`` tensors for a whole batch.
    """

    def __init__(self, parts: list):
        self.parts = parts
        self.length = int(parts[0].length)
        bad = [p.length for p in parts if p.length != self.length]
        if bad:
            raise ConfigError(f"species datasets have different window lengths ({self.length} and {bad[0]})",
                              hint="build every species' dataset with the same --length")

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            p.set_epoch(epoch)

    def __getitems__(self, items):
        items = list(items)
        n = len(items)
        dom = np.array([it[0] for it in items], dtype=np.int64)
        idx = np.array([it[1] for it in items], dtype=np.int64)
        bg = np.array([bool(it[2]) for it in items])
        x = torch.empty(n, 4, self.length)
        y = torch.empty(n)
        for d in np.unique(dom):
            rows = np.flatnonzero(dom == d)
            xd, yd = self.parts[d].__getitems__(idx[rows].tolist())
            x[rows] = xd.float()
            y[rows] = yd.float().view(len(rows), -1)[:, 0]
        return x, y, torch.from_numpy(dom), torch.from_numpy(bg)

    def __getitem__(self, i):  # pragma: no cover - the loader uses __getitems__
        return self.__getitems__([i])


def background_pool(regions, genome_chroms=None) -> np.ndarray:
    """Row indices usable as background: training split, not on sex chromosomes / mitochondrion."""
    from bindscape.data.splits import is_excluded

    chroms = list(genome_chroms) if genome_chroms is not None else sorted(regions["chrom"].unique())
    ok = np.ones(len(regions), dtype=bool)
    if "split" in regions:
        ok &= (regions["split"] == "train").to_numpy()
    excl = {c for c in regions["chrom"].unique() if is_excluded(str(c), chroms)}
    if excl:
        ok &= ~regions["chrom"].isin(excl).to_numpy()
    return np.flatnonzero(ok)


class CrossSpeciesBatchSampler:
    """Batches of ``(domain, index, is_background)`` items (see the module docstring), seeded per epoch;
    under DDP each rank takes every world_size-th batch, the same number on every rank.

    labels: per domain, the labels of its training windows; labelled: domains that give labelled windows;
    background: per domain, the indices allowed as background (None or empty: not a background domain).
    """

    def __init__(self, labels: list[np.ndarray], labelled: list[int], background: list[np.ndarray | None], *,
                 pos: int, neg: int, bg: int, steps: int | None = None, seed: int = 0):
        self.pos_idx, self.neg_idx = {}, {}
        for d in labelled:
            lab = np.asarray(labels[d])
            self.pos_idx[d] = np.flatnonzero(lab > 0.5)
            self.neg_idx[d] = np.flatnonzero(lab <= 0.5)
            if not len(self.pos_idx[d]) or not len(self.neg_idx[d]):
                raise ConfigError(f"species #{d}: balanced batches need bound and unbound training windows "
                                  f"(found {len(self.pos_idx[d])} and {len(self.neg_idx[d])})")
        self.bg_idx = {d: np.asarray(b) for d, b in enumerate(background) if b is not None and len(b) and bg > 0}
        self.labelled, self.pos, self.neg, self.bg, self.seed = list(labelled), pos, neg, bg, seed
        self.steps = steps or max(-(-len(self.neg_idx[d]) // neg) for d in labelled)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        from bindscape.train.data import rank_batches

        return len(rank_batches(self.steps))

    @staticmethod
    def _stream(rng, pool: np.ndarray, need: int) -> np.ndarray:
        reps = -(-need // len(pool))
        return np.concatenate([rng.permutation(pool) for _ in range(reps)])[:need]

    def __iter__(self) -> Iterator[list]:
        rng = np.random.default_rng([self.seed, self.epoch])
        S = self.steps
        streams = []
        for d in self.labelled:
            streams.append((d, False, self._stream(rng, self.pos_idx[d], S * self.pos), self.pos))
            streams.append((d, False, self._stream(rng, self.neg_idx[d], S * self.neg), self.neg))
        for d, pool in self.bg_idx.items():
            streams.append((d, True, self._stream(rng, pool, S * self.bg), self.bg))
        from bindscape.train.data import rank_batches

        for b in rank_batches(S):
            batch = []
            for d, is_bg, s, k in streams:
                batch += [(int(d), int(i), is_bg) for i in s[b * k : (b + 1) * k]]
            yield batch


# ---------------------------------------------------------------------------------------------- module


class CrossSpeciesTask(BinaryTask):
    """`BinaryTask` with per-species validation and a domain-adaptation term (morale | grl)."""

    def __init__(self, model, config: dict, steps_per_epoch: int = 1, *, species: list[str],
                 selection: list[str]):
        super().__init__(model, config, steps_per_epoch)
        self.mode = config["mode"]
        self.lam = float(config["lam"])
        self.species = list(species)
        self.selection = list(selection)
        self.species_head = None
        if self.mode == "grl":
            sh = config["species_head"]
            self.species_head = SpeciesClassifier(model.embed_dim, len(species), sh["hidden"], self.lam)
        self._vals: dict[int, tuple[list, list]] = {}

    def training_step(self, batch, batch_idx):
        x, y, dom, bg = batch
        emb = self.model.embed(x)
        lab = ~bg
        logits = self.model.head(emb[lab])
        yl = y[lab].view_as(logits).to(logits.dtype)
        ls = self.config["loss"].get("label_smoothing") or 0.0
        if ls:
            yl = yl * (1 - ls) + 0.5 * ls
        cls = nn.functional.binary_cross_entropy_with_logits(logits, yl, pos_weight=self.pos_weight)
        loss = cls
        n = len(x)
        if self.mode == "morale" and bg.any():
            al = morale_loss(emb[bg], dom[bg])
            loss = loss + self.lam * al
            self.log("train_morale", al, on_step=False, on_epoch=True, batch_size=n)
        elif self.mode == "grl" and bg.any():
            sp = self.species_head.loss(emb[bg], dom[bg])
            loss = loss + float(self.config["species_head"]["weight"]) * sp
            self.log("train_species_loss", sp, on_step=False, on_epoch=True, batch_size=n)
        self.log("train_cls_loss", cls, on_step=False, on_epoch=True, batch_size=n)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=n)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._vals = {}

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x, y = batch
        p = predict_proba(self.model, x, self.config["trainer"]["rc_average"])
        ps, ys = self._vals.setdefault(dataloader_idx, ([], []))
        ps.append(p.detach().view(-1))
        ys.append(y.detach().view(-1)[: len(p)] if y.dim() == 1 else y.detach()[:, 0])

    def on_validation_epoch_end(self) -> None:
        from bindscape.train.metrics import binary_metrics

        per: dict[str, dict] = {}
        for i, (ps, ys) in self._vals.items():
            p, y = torch.cat(ps), torch.cat(ys)
            if self.trainer.world_size > 1:
                p, y = gather_uneven(self, p), gather_uneven(self, y)
            m = binary_metrics(y.cpu().numpy(), p.cpu().numpy())
            sp = self.species[i]
            per[sp] = m
            for k in ("auroc", "auprc"):
                v = m[k]
                self.log(f"val_{k}_{sp}", float(v) if np.isfinite(v) else 0.0, sync_dist=False)
        for k in ("auroc", "auprc", "loss"):
            vals = [per[s][k] for s in self.selection if s in per and np.isfinite(per[s][k])]
            if vals:
                self.log(f"val_{k}", float(np.mean(vals)), prog_bar=k == "auprc", sync_dist=False)
        self._vals = {}

    def configure_optimizers(self):
        out = super().configure_optimizers()
        if self.species_head is not None:
            opt = out["optimizer"] if isinstance(out, dict) else out
            o = self.config["optim"]
            opt.add_param_group({"params": list(self.species_head.parameters()), "lr": o["lr"],
                                 "weight_decay": o["weight_decay"]})
            sch = out.get("lr_scheduler", {}).get("scheduler") if isinstance(out, dict) else None
            if sch is not None and hasattr(sch, "base_lrs"):  # keep schedulers consistent with the new group
                sch.base_lrs.append(o["lr"])
                if isinstance(sch, torch.optim.lr_scheduler.OneCycleLR):
                    g = opt.param_groups[-1]
                    g["initial_lr"] = opt.param_groups[0]["initial_lr"]
                    g["max_lr"] = opt.param_groups[0]["max_lr"]
                    g["min_lr"] = opt.param_groups[0]["min_lr"]
                    g["lr"] = opt.param_groups[0]["lr"]
                    for key in ("betas", "base_momentum", "max_momentum"):
                        if key in opt.param_groups[0]:
                            g[key] = opt.param_groups[0][key]
        return out

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["bindscape"]["cross_species"] = json.dumps({"species": self.species, "mode": self.mode,
                                                               "lam": self.lam})


# -------------------------------------------------------------------------------------------- training


def _open_species(cfg) -> dict:
    from bindscape.train.data import open_dataset

    out = {}
    for sp, path in cfg.species.items():
        ds = open_dataset(path)
        if "split" not in ds.regions:
            raise ConfigError(f"species.{sp}: {path} has no split column", hint="build it with --split auto")
        out[sp] = (ds, ds.open_genome())
    return out


def _predict(model, tds, rc_average: bool, batch_size: int) -> np.ndarray:
    out = []
    model.eval()
    for s in range(0, len(tds), batch_size):
        x, _ = tds.__getitems__(list(range(s, min(s + batch_size, len(tds)))))
        out.append(predict_proba(model, x.float(), rc_average)[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_cross_species(cfg, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train per a `CrossSpeciesConfig` (or a dict); returns the run folder. With ``lam_grid`` (morale/grl)
    one sub-run per lambda, and the best by validation auPRC of ``selection_species`` is copied up."""
    from bindscape.train.domain_config import CrossSpeciesConfig, validate_cross_species

    if not isinstance(cfg, CrossSpeciesConfig):
        cfg = validate_cross_species(cfg)
    if cfg.lam_grid and cfg.mode in ("morale", "grl"):
        return _train_grid(cfg, resume=resume, overwrite=overwrite)
    return _train_one(cfg, resume=resume, overwrite=overwrite)


def _train_grid(cfg, *, resume: bool, overwrite: bool) -> Path:
    from bindscape._util import atomic_write_text

    run_dir = cfg.run_dir
    scores = {}
    for lam in cfg.lam_grid:
        sub = cfg.model_copy(update={"lam": float(lam), "lam_grid": None, "out_dir": str(run_dir),
                                     "name": f"lam-{lam:g}"})
        m_path = sub.run_dir / "metrics.json"
        if m_path.exists() and not overwrite and json.loads(m_path.read_text()).get("finished"):
            pass  # done earlier
        else:
            last = sub.run_dir / "checkpoints" / "last.ckpt"
            _train_one(sub, resume=last.exists() and not overwrite, overwrite=True)
        scores[float(lam)] = json.loads(m_path.read_text())["select_score"]
    best = max(scores, key=lambda k: (scores[k], -k))  # ties: the smaller lambda
    src = run_dir / f"lam-{best:g}"
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    for rel in ("metrics.json", "predictions.parquet", "checkpoints/best.ckpt"):
        shutil.copyfile(src / rel, run_dir / (rel + ".tmp"))
        (run_dir / (rel + ".tmp")).replace(run_dir / rel)
    from bindscape.train.domain_config import dump_cross_species

    atomic_write_text(run_dir / "config.yaml", dump_cross_species(cfg))
    sel = {"selected_lam": best, "scores": {f"{k:g}": v for k, v in scores.items()},
           "selection_species": cfg.selection_species, "criterion": "mean validation auPRC"}
    atomic_write_text(run_dir / "selection.json", json.dumps(sel, indent=2) + "\n")
    m = json.loads((run_dir / "metrics.json").read_text())
    m["selection"] = sel
    atomic_write_text(run_dir / "metrics.json", json.dumps(m, indent=2) + "\n")
    return run_dir


def _train_one(cfg, *, resume: bool = False, overwrite: bool = False) -> Path:

    from bindscape._util import atomic_path, atomic_write_text
    from bindscape.data.torchdata import RegionDataset
    from bindscape.train.data import make_loader
    from bindscape.train.domain_config import dump_cross_species
    from bindscape.train.fit import _callbacks, _log, _quiet_lightning, build_model, make_trainer, prepare_run

    _quiet_lightning()
    run_dir = cfg.run_dir
    ckpt_path = prepare_run(cfg, run_dir, resume=resume, overwrite=overwrite,
                            keys=("species", "target", "sources", "mode", "model"))
    t_wall, t_cpu = time.perf_counter(), time.process_time()

    species = cfg.domain_species
    opened = _open_species(cfg)
    b = cfg.batch
    parts, labels, bgs = [], [], []
    use_bg = cfg.mode in ("morale", "grl")
    for i, sp in enumerate(species):
        ds, genome = opened[sp]
        tds = RegionDataset(ds, genome=genome, split="train", rc_augment=b.rc_augment, seed=cfg.trainer.seed + i,
                            label_column=cfg.label_column)
        parts.append(tds)
        labels.append(tds.labels)
        bgs.append(background_pool(tds.regions, genome.chroms) if use_bg else None)
    labelled = [species.index(s) for s in cfg.labelled_species]
    train_ds = MultiSpeciesDataset(parts)
    sampler = CrossSpeciesBatchSampler(labels, labelled, bgs, pos=b.pos_per_species, neg=b.neg_per_species,
                                       bg=b.background_per_species, steps=b.steps_per_epoch, seed=cfg.trainer.seed)
    from torch.utils.data import DataLoader

    from bindscape.data.torchdata import collate_batch

    train_loader = DataLoader(train_ds, batch_sampler=sampler, collate_fn=collate_batch)
    val_sets = [RegionDataset(opened[sp][0], genome=opened[sp][1], split="val", label_column=cfg.label_column)
                for sp in species]
    val_loaders = [make_loader(v, batch_size=b.eval_batch_size, shuffle=False) for v in val_sets]
    model = build_model(cfg, train_ds.length, 1)
    steps = len(sampler)
    config = cfg.model_dump(mode="json")
    task = CrossSpeciesTask(model, config, steps_per_epoch=steps, species=species, selection=cfg.selection_species)
    task.epoch_objects = [train_ds, sampler]
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_cross_species(cfg))
    _log(run_dir, f"{'resume' if resume else 'start'}: mode {cfg.mode} lam {cfg.lam:g}, model {cfg.model.name} "
                  f"({model.n_parameters():,} parameters); labelled {', '.join(cfg.labelled_species)}; target "
                  f"{cfg.target}; {steps} steps/epoch")
    callbacks, ckpt_cb = _callbacks(cfg, run_dir)
    trainer = make_trainer(cfg, run_dir, callbacks, steps, resume)
    trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loaders, ckpt_path=ckpt_path)
    cpu_s, wall_s = time.process_time() - t_cpu, time.perf_counter() - t_wall
    if not trainer.is_global_zero:
        return run_dir

    # -- evaluate the best checkpoint on every species' val and test windows
    import pandas as pd

    from bindscape.train.checkpoint import load_checkpoint
    from bindscape.train.metrics import binary_metrics

    best = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else run_dir / "checkpoints" / "last.ckpt"
    loaded = load_checkpoint(best)
    rows, out = [], {"val": {}, "test": {}}
    for sp in species:
        ds, genome = opened[sp]
        for split in ("val", "test"):
            if not (ds.regions["split"] == split).any():
                continue
            tds = RegionDataset(ds, genome=genome, split=split, label_column=cfg.label_column)
            p = _predict(loaded.model, tds, cfg.trainer.rc_average, b.eval_batch_size)
            out[split][sp] = {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else v)
                              for k, v in binary_metrics(tds.labels, p).items()}
            r = tds.regions[["chrom", "start", "end"]].copy()
            r["species"], r["split"], r["label"], r["prob"] = sp, split, tds.labels, p
            rows.append(r)
    pred = pd.concat(rows, ignore_index=True)
    with atomic_path(run_dir / "predictions.parquet") as tmp:
        pred.to_parquet(tmp, index=False)
    sel = [out["val"][s]["auprc"] for s in cfg.selection_species if s in out["val"]]
    metrics = {
        "run": str(run_dir), "mode": cfg.mode, "lam": cfg.lam, "seed": cfg.trainer.seed, "model": cfg.model.name,
        "target": cfg.target, "sources": cfg.source_species, "labelled": cfg.labelled_species,
        "selection_species": cfg.selection_species, "select_score": float(np.mean(sel)) if sel else float("nan"),
        "best_checkpoint": str(best), "best_epoch": loaded.extra.get("epoch"),
        "epochs_run": int(trainer.current_epoch), "finished": True,
        "cpu_seconds": round(cpu_s, 2), "wall_seconds": round(wall_s, 2), **out,
    }
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    t = out["test"].get(cfg.target, {})
    _log(run_dir, f"done: target {cfg.target} test auPRC {t.get('auprc', float('nan')):.4f}; "
                  f"{cpu_s:.0f} CPU s, {wall_s:.0f} s wall")
    return run_dir


__all__ = ["morale_loss", "grad_reverse", "GradientReversal", "SpeciesClassifier", "MultiSpeciesDataset",
           "CrossSpeciesBatchSampler", "CrossSpeciesTask", "background_pool", "train_cross_species"]

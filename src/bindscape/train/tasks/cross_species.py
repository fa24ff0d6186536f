"""Cross-species training (MORALE moment alignment, gradient reversal) for any model with `embed()`.

    from bindscape.train import train_cross_species, validate_cross_species
    from bindscape.train.tasks.cross_species import morale_loss, grad_reverse
    loss = morale_loss(emb, domains)            # (N, D) embeddings, (N,) species index
    run = train_cross_species(cfg)              # cfg: CrossSpeciesConfig (or a dict)

Modes: ``source`` (labelled source species only), ``target`` (the target's labels: the upper bound),
``joint`` (all labelled species), ``morale`` (source labels + lam * L_MORALE on background embeddings of
every species), ``joint_morale`` (every species' labels, as ``joint``, + lam * L_MORALE, as ``morale``) and
``grl`` (source labels + a species classifier behind a gradient-reversal layer).

Batches (`bindscape.train.samplers.CrossSpeciesBatchSampler`): a label-balanced part (``pos_per_species``
bound + ``neg_per_species`` unbound training windows from each labelled species) and, for morale/grl, a
species-balanced label-agnostic background part (``background_per_species`` training windows of every
species, target included) for morale/joint_morale/grl. Background comes from the training split only (never validation/test
chromosomes) and never from sex chromosomes or the mitochondrion (`bindscape.data.splits.is_excluded`).

Config example::

    name: cebpa-primate
    out_dir: runs
    species:                       # one dataset folder per species (bindscape build tiles ...)
      primate: data/primate
      rodent: data/rodent
      fish: data/fish
    target: primate                # the species we want to predict in
    sources: [rodent, fish]        # labelled species (default: every species but the target)
    mode: morale                   # source | target | joint | morale | joint_morale | grl
    lam: 1.0                       # MORALE weight / GRL reversal strength
    lam_grid: [0, 1, 2, 5, 10]     # optional: train one run per value, keep the best on validation
    select_on: auto                # auto: source val auPRC with 2 species, target val auPRC with more
    batch: {pos_per_species: 32, neg_per_species: 32, background_per_species: 64}
    model: {name: cnn_lstm}
    trainer: {max_epochs: 5, seed: 0}

The `model`, `optim`, `loss` and `trainer` sections are those of `bindscape.train.config.TrainConfig`.

Run folder (written by `bindscape.train.engine.fit`): ``config.yaml``, ``checkpoints/best.ckpt`` (loads
with `load_checkpoint`; the species classifier is not part of the model), ``metrics.json`` (per-species
val/test auROC/auPRC), ``predictions.parquet`` (every species' val + test windows), ``log.txt``. With
``lam_grid`` one sub-run per value (``lam-<value>/``) and the best on validation is copied up, with
``selection.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from bindscape.errors import ConfigError
from bindscape.evaluate.metrics import binary_metrics
from bindscape.schema import StrictModel, validate_model
from bindscape.train.config import LossConfig, ModelConfig, OptimConfig, TrainerConfig
from bindscape.train.engine import Finished, Prepared, fit
from bindscape.train.rc import predict_proba
from bindscape.train.tasks.binary import BinaryTask, build_model, gather_uneven

HINT = "see docs/cross_species.md for the config fields"
#: config fields a resumed cross-species run must keep
RESUME_KEYS = ("species", "target", "sources", "mode", "model")

# ---------------------------------------------------------------------------------------------- config
MODES = ("source", "target", "joint", "morale", "joint_morale", "grl")
#: modes that add lam * L_MORALE on the background embeddings
MORALE_MODES = ("morale", "joint_morale")
#: modes that draw the species-balanced background part (and take a lambda / lambda grid)
ADAPT_MODES = (*MORALE_MODES, "grl")
MORALE_GRID = [float(x) for x in range(11)]  # MORALE paper: 0..10 step 1
GRL_GRID = [x * 0.5 for x in range(21)]  # 0..10 step 0.5


class BatchConfig(StrictModel):
    """Batch composition. The labelled part holds `pos_per_species` bound + `neg_per_species` unbound
    windows from each labelled species (MORALE two-species: 200 + 200); the background part holds
    `background_per_species` label-agnostic training windows from every species, target included
    (MORALE: 400 per species with two species, 50 with five). Background is only drawn in morale/grl."""

    pos_per_species: int = Field(32, ge=1)
    neg_per_species: int = Field(32, ge=1)
    background_per_species: int = Field(64, ge=2)
    steps_per_epoch: int | None = Field(None, ge=1)
    """None: one pass over the largest labelled species' negatives."""
    rc_augment: bool = True
    eval_batch_size: int = Field(512, ge=1)


class SpeciesHeadConfig(StrictModel):
    """GRL's species classifier (MORALE's two-species setup: flatten -> 1024 ReLU -> 512 sigmoid -> 1)."""

    hidden: list[int] = Field(default_factory=lambda: [1024, 512])
    weight: float = Field(1.0, ge=0)
    """Weight of the species-classification loss (the paper: 1)."""


class CrossSpeciesConfig(StrictModel):
    species: dict[str, str]
    """species name -> dataset folder (all with the same window length and a split column)."""
    target: str
    sources: list[str] | None = None
    mode: Literal["source", "target", "joint", "morale", "joint_morale", "grl"] = "morale"
    lam: float = Field(1.0, ge=0)
    lam_grid: list[float] | None = None
    select_on: Literal["auto", "source", "target", "label-free"] = "auto"
    name: str = "cross-species"
    out_dir: str = "runs"
    label_column: str = "label"
    batch: BatchConfig = Field(default_factory=BatchConfig)
    species_head: SpeciesHeadConfig = Field(default_factory=SpeciesHeadConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)

    @model_validator(mode="after")
    def _check(self) -> CrossSpeciesConfig:
        names = list(self.species)
        if len(names) < 2:
            raise ValueError("species: cross-species training needs two or more species")
        if self.target not in self.species:
            raise ValueError(f"target: {self.target!r} is not one of species: {', '.join(names)}")
        if self.sources is not None:
            bad = [s for s in self.sources if s not in self.species]
            if bad:
                raise ValueError(f"sources: {bad[0]!r} is not one of species: {', '.join(names)}")
            if self.target in self.sources:
                raise ValueError(f"sources: the target {self.target!r} cannot be a source")
            if not self.sources:
                raise ValueError("sources: needs at least one source species")
        if self.lam_grid is not None and (not self.lam_grid or any(v < 0 for v in self.lam_grid)):
            raise ValueError("lam_grid: needs one or more values >= 0")
        return self

    @property
    def source_species(self) -> list[str]:
        """The source species: `sources`, or every species but the target when unset."""
        return list(self.sources) if self.sources is not None else [s for s in self.species if s != self.target]

    @property
    def labelled_species(self) -> list[str]:
        """Species whose labels train the model: the target (``target``), all (``joint``, ``joint_morale``),
        else the sources."""
        if self.mode == "target":
            return [self.target]
        if self.mode in ("joint", "joint_morale"):
            return list(self.species)
        return self.source_species

    @property
    def domain_species(self) -> list[str]:
        """Species in the training (domain) index order: sources/labelled first, then the rest."""
        order = self.source_species + [self.target]
        return order + [s for s in self.species if s not in order]

    @property
    def selection_species(self) -> list[str]:
        """Whose validation auPRC picks epochs and lambda (MORALE: source with 2 species, target with more;
        ``label-free``: the sources, as no target label may be used)."""
        how = self.select_on
        if how == "auto":
            how = "source" if len(self.species) == 2 else "target"
        if self.mode == "target":
            return [self.target]
        return [self.target] if how == "target" else self.source_species

    @property
    def run_dir(self) -> Path:
        """The run folder, ``out_dir/name``."""
        return Path(self.out_dir) / self.name


# ----------------------------------------------------------------------------------------------- losses


def morale_loss(embeddings: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
    """MORALE's moment-alignment loss.

    For each domain j present in `domains`, the mean mu_j and the (unbiased, n-1) covariance C_j of its rows
    of `embeddings`; ``L = 2 / (n (n + 1)) * sum_{l < k} (||C_l - C_k||_F^2 + ||mu_l - mu_k||_2^2)`` over the
    n domains present. Zero when fewer than two domains are present (still attached to the graph). No
    parameters: the gradient reaches the model only through `embeddings`.

    Parameters
    ----------
    embeddings
        ``(N, D)`` embeddings.
    domains
        ``(N,)`` domain (species) index of each row; domains with fewer than two rows are left out.

    Returns
    -------
    torch.Tensor
        The scalar loss (float32).
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
    """Identity forward; the gradient is multiplied by ``-lam`` on the way back.

    Parameters
    ----------
    x
        Any tensor.
    lam
        Reversal strength.

    Returns
    -------
    torch.Tensor
        A view of `x` whose gradient is reversed and scaled.
    """
    return _GradReverse.apply(x, lam)


class GradientReversal(nn.Module):
    def __init__(self, lam: float = 1.0):
        super().__init__()
        self.lam = float(lam)

    def forward(self, x):
        """`grad_reverse` with this layer's ``lam``.

        Parameters
        ----------
        x
            Any tensor.

        Returns
        -------
        torch.Tensor
            `x` unchanged forward; its gradient times ``-lam`` backward.
        """
        return grad_reverse(x, self.lam)

    def extra_repr(self) -> str:
        """``lam=<value>`` for the module's repr."""
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
        """Species logits of embeddings seen through the gradient-reversal layer.

        Parameters
        ----------
        emb
            ``(N, D)`` embeddings (``model.embed(x)``).

        Returns
        -------
        torch.Tensor
            ``(N, 1)`` logits for two species, ``(N, n_species)`` otherwise.
        """
        return self.net(self.grl(emb))

    def loss(self, emb, domains):
        """Species-classification loss: BCE for two species, cross-entropy otherwise.

        Parameters
        ----------
        emb
            ``(N, D)`` embeddings.
        domains
            ``(N,)`` species index of each row.

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
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
        """Pass the epoch to every species' dataset (re-draws their augmentation)."""
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
    """Row indices usable as background: training split, not on sex chromosomes / mitochondrion.

    Parameters
    ----------
    regions
        Window table with a ``chrom`` column (and a ``split`` column: only ``train`` rows are kept).
    genome_chroms
        All the genome's chromosome names, so `is_excluded` can tell roman-numeral chrX apart (None: the
        chromosomes in `regions`).

    Returns
    -------
    numpy.ndarray
        Positional row indices into `regions`.
    """
    from bindscape.data.splits import is_excluded

    chroms = list(genome_chroms) if genome_chroms is not None else sorted(regions["chrom"].unique())
    ok = np.ones(len(regions), dtype=bool)
    if "split" in regions:
        ok &= (regions["split"] == "train").to_numpy()
    excl = {c for c in regions["chrom"].unique() if is_excluded(str(c), chroms)}
    if excl:
        ok &= ~regions["chrom"].isin(excl).to_numpy()
    return np.flatnonzero(ok)


# ---------------------------------------------------------------------------------------------- module


class CrossSpeciesTask(BinaryTask):
    """`BinaryTask` with per-species validation and a domain-adaptation term (morale | joint_morale | grl)."""

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
        """BCE on the labelled rows plus, on the background rows, lam * MORALE (morale, joint_morale) or the
        weighted species loss (grl).

        Parameters
        ----------
        batch
            ``(x, y, domain, is_background)`` from `MultiSpeciesDataset`.
        batch_idx
            Batch number in the epoch (unused).

        Returns
        -------
        torch.Tensor
            The scalar training loss.
        """
        x, y, dom, bg = batch
        emb = self.model.embed(x)
        lab = ~bg
        logits = self.model.head(emb[lab])
        cls = self.bce(logits, y[lab])
        loss = cls
        n = len(x)
        if self.mode in MORALE_MODES and bg.any():
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
        """Clear the per-species predictions collected in the last validation."""
        self._vals = {}

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        """Collect the batch's (optionally RC-averaged) probabilities and labels for its species.

        Parameters
        ----------
        batch
            ``(x, y)`` validation windows.
        batch_idx
            Batch number (unused).
        dataloader_idx
            Which validation loader, i.e. the species' index in `species`.
        """
        x, y = batch
        p = predict_proba(self.model, x, self.config["trainer"]["rc_average"])
        ps, ys = self._vals.setdefault(dataloader_idx, ([], []))
        ps.append(p.detach().view(-1))
        ys.append(y.detach().view(-1)[: len(p)] if y.dim() == 1 else y.detach()[:, 0])

    def on_validation_epoch_end(self) -> None:
        """Log ``val_auroc_<species>``/``val_auprc_<species>`` and their means over the selection species."""
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
        """`BinaryTask`'s optimizer and scheduler, with the GRL species head added as a parameter group."""
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
        """Add species, mode and lam (JSON) under ``checkpoint["bindscape"]["cross_species"]``.

        Parameters
        ----------
        checkpoint
            The Lightning checkpoint dict, changed in place.
        """
        super().on_save_checkpoint(checkpoint)
        checkpoint["bindscape"]["cross_species"] = json.dumps({"species": self.species, "mode": self.mode,
                                                               "lam": self.lam})


# -------------------------------------------------------------------------------------------- training


def validate_cross_species(data: dict, source: str = "config") -> CrossSpeciesConfig:
    """Validate a cross-species config (a mapping) before any work.

    Parameters
    ----------
    data
        A cross-species config: ``species`` (name -> dataset folder), ``target``, ``mode``, ``lam``, ...
    source
        File name or label that starts each error line.

    Returns
    -------
    CrossSpeciesConfig
    """
    from bindscape.train.config import check_model_name

    cfg = validate_model(CrossSpeciesConfig, data, source, what="cross-species config", hint=HINT)
    check_model_name(cfg.model.name, source)
    return cfg


def load_cross_species(path: str | Path, overrides: dict[str, Any] | None = None) -> CrossSpeciesConfig:
    """`validate_cross_species` of a YAML file after dotted-key `overrides` (``{"lam": 2.0}``).

    Parameters
    ----------
    path, overrides
        See `bindscape.train.config.read_yaml_config`.

    Returns
    -------
    CrossSpeciesConfig
    """
    from bindscape.train.config import read_yaml_config

    return validate_cross_species(read_yaml_config(path, overrides), source=str(path))


def dump_cross_species(cfg: CrossSpeciesConfig) -> str:
    """The config as YAML (``config.yaml``).

    Parameters
    ----------
    cfg
        A validated cross-species config.

    Returns
    -------
    str
        YAML text.
    """
    from bindscape.train.config import dump_config

    return dump_config(cfg)


def open_species(cfg: CrossSpeciesConfig) -> dict:
    """Each species' dataset and genome: ``{species: (Dataset, Genome)}`` (a split column is required).

    Parameters
    ----------
    cfg
        A validated cross-species config (``species``: name -> dataset folder).

    Returns
    -------
    dict
        ``{species: (Dataset, Genome)}`` in the order of ``cfg.species``.
    """
    from bindscape.train.data import open_dataset

    out = {}
    for sp, path in cfg.species.items():
        ds = open_dataset(path)
        if "split" not in ds.regions:
            raise ConfigError(f"species.{sp}: {path} has no split column", hint="build it with --split auto")
        out[sp] = (ds, ds.open_genome())
    return out


class CrossSpeciesPlugin:
    """The engine plug-in of one cross-species run (one mode, one lambda)."""

    resume_keys = RESUME_KEYS

    def __init__(self):
        self.opened: dict = {}

    def setup(self, cfg: CrossSpeciesConfig, resume: bool) -> Prepared:
        """Open every species, build the cross-species training loader, one val loader per species, the
        model and its `CrossSpeciesTask`.

        Parameters
        ----------
        cfg
            A validated cross-species config.
        resume
            The run continues from its last checkpoint (unused here).

        Returns
        -------
        Prepared
            What `bindscape.train.engine.fit` trains.
        """
        from torch.utils.data import DataLoader

        from bindscape.data.torchdata import RegionDataset, collate_batch
        from bindscape.train.data import make_loader
        from bindscape.train.samplers import CrossSpeciesBatchSampler

        species = cfg.domain_species
        self.opened = opened = open_species(cfg)
        b = cfg.batch
        parts, labels, bgs = [], [], []
        use_bg = cfg.mode in ADAPT_MODES
        for i, sp in enumerate(species):
            ds, genome = opened[sp]
            tds = RegionDataset(ds, genome=genome, split="train", rc_augment=b.rc_augment,
                                seed=cfg.trainer.seed + i, label_column=cfg.label_column)
            parts.append(tds)
            labels.append(tds.labels)
            bgs.append(background_pool(tds.regions, genome.chroms) if use_bg else None)
        labelled = [species.index(s) for s in cfg.labelled_species]
        train_ds = MultiSpeciesDataset(parts)
        sampler = CrossSpeciesBatchSampler(labels, labelled, bgs, pos=b.pos_per_species, neg=b.neg_per_species,
                                           bg=b.background_per_species, steps=b.steps_per_epoch,
                                           seed=cfg.trainer.seed)
        train_loader = DataLoader(train_ds, batch_sampler=sampler, collate_fn=collate_batch)
        val_sets = [RegionDataset(opened[sp][0], genome=opened[sp][1], split="val", label_column=cfg.label_column)
                    for sp in species]
        val_loaders = [make_loader(v, batch_size=b.eval_batch_size, shuffle=False) for v in val_sets]
        model = build_model(cfg, train_ds.length, 1)
        steps = len(sampler)
        task = CrossSpeciesTask(model, cfg.model_dump(mode="json"), steps_per_epoch=steps, species=species,
                                selection=cfg.selection_species)
        task.epoch_objects = [train_ds, sampler]
        start = (f"mode {cfg.mode} lam {cfg.lam:g}, model {cfg.model.name} ({model.n_parameters():,} "
                 f"parameters); labelled {', '.join(cfg.labelled_species)}; target {cfg.target}; "
                 f"{steps} steps/epoch")
        return Prepared(task, train_loader, val_loaders, steps, start)

    def finish(self, cfg: CrossSpeciesConfig, done: Finished) -> tuple[dict, str]:
        """Score the best checkpoint on every species' val and test windows; write predictions.parquet.

        Parameters
        ----------
        cfg
            The run's validated cross-species config.
        done
            The finished (or stopped) fit.

        Returns
        -------
        tuple[dict, str]
            ``metrics.json`` fields (mode, lam, species roles, ``select_score``, per-species ``val``/``test``
            metrics) and the ``done:`` line text (the target's test auPRC).
        """
        import pandas as pd

        from bindscape._util import atomic_path
        from bindscape.data.torchdata import RegionDataset
        from bindscape.train.predict import predict_rows

        rows, out = [], {"val": {}, "test": {}}
        for sp in cfg.domain_species:
            ds, genome = self.opened[sp]
            for split in ("val", "test"):
                if not (ds.regions["split"] == split).any():
                    continue
                tds = RegionDataset(ds, genome=genome, split=split, label_column=cfg.label_column)
                p = predict_rows(done.loaded.model, tds, batch_size=cfg.batch.eval_batch_size,
                                 rc_average=cfg.trainer.rc_average)[:, 0]
                out[split][sp] = {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else v)
                                  for k, v in binary_metrics(tds.labels, p).items()}
                r = tds.regions[["chrom", "start", "end"]].copy()
                r["species"], r["split"], r["label"], r["prob"] = sp, split, tds.labels, p
                rows.append(r)
        with atomic_path(done.run_dir / "predictions.parquet") as tmp:
            pd.concat(rows, ignore_index=True).to_parquet(tmp, index=False)
        sel = [out["val"][s]["auprc"] for s in cfg.selection_species if s in out["val"]]
        fields = {"mode": cfg.mode, "lam": cfg.lam, "seed": cfg.trainer.seed, "target": cfg.target,
                  "sources": cfg.source_species, "labelled": cfg.labelled_species,
                  "selection_species": cfg.selection_species,
                  "select_score": float(np.mean(sel)) if sel else float("nan"), **out,
                  "alignment": domain_alignment(done.loaded.model, self.opened, cfg)}
        t = out["test"].get(cfg.target, {})
        return fields, f"target {cfg.target} test auPRC {t.get('auprc', float('nan')):.4f}"


def embed_split(model, ds, genome, split: str, *, batch_size: int = 512, max_rows: int | None = None,
                seed: int = 0) -> np.ndarray:
    """``model.embed`` of one split's windows (forward strand, no labels used), at most `max_rows` of them
    (a seeded random subset).

    Parameters
    ----------
    model
        A model with ``embed``.
    ds, genome
        A species' dataset and genome (`open_species`).
    split
        Which windows (``val``: held out from training).
    batch_size, max_rows, seed
        Rows per batch; the cap (None: all) and the subset's seed.

    Returns
    -------
    numpy.ndarray
        ``(n, D)`` float32 embeddings.
    """
    from bindscape.data.torchdata import RegionDataset

    tds = RegionDataset(ds, genome=genome, split=split)
    rows = np.arange(len(tds))
    if max_rows is not None and len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    out = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            x = tds.__getitems__(rows[i : i + batch_size].tolist())[0]
            out.append(model.embed(x.float()).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def domain_alignment(model, opened: dict, cfg: CrossSpeciesConfig, *, max_per_domain: int = 1000,
                     seed: int = 0) -> dict:
    """Label-free measures of how far the target's embeddings are from the sources' (validation windows,
    held out from training; no label is read): a domain classifier's accuracy and the moment distance.

    ``domain_accuracy``: 5-fold cross-validated accuracy of a logistic regression (scikit-learn) telling
    target windows from source windows (equal numbers, at most `max_per_domain` each) on standardised
    embeddings; 0.5 = indistinguishable. ``moment_distance``: `morale_loss` between the two groups of
    standardised embeddings (scale-free, so a shrunken embedding does not look aligned).

    Parameters
    ----------
    model
        The trained model.
    opened
        ``{species: (Dataset, Genome)}`` (`open_species`).
    cfg
        The run's config (target and source species).
    max_per_domain, seed
        Cap on windows per side and the subset seed.

    Returns
    -------
    dict
        ``domain_accuracy``, ``moment_distance``, ``windows`` per side (nan values with < 10 windows).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    tgt = embed_split(model, *opened[cfg.target], "val", max_rows=max_per_domain, seed=seed)
    src = [embed_split(model, *opened[s], "val", max_rows=max_per_domain, seed=seed) for s in cfg.source_species]
    src = np.concatenate([e for e in src if len(e)]) if any(len(e) for e in src) else np.zeros((0, 0))
    m = min(len(tgt), len(src))
    if m < 10:
        return {"domain_accuracy": float("nan"), "moment_distance": float("nan"), "windows": int(m)}
    rng = np.random.default_rng(seed)
    tgt, src = tgt[rng.choice(len(tgt), m, replace=False)], src[rng.choice(len(src), m, replace=False)]
    x = np.concatenate([tgt, src]).astype(np.float64)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-8)
    y = np.r_[np.ones(m), np.zeros(m)]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    acc = cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=folds, scoring="accuracy")
    dist = morale_loss(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
    return {"domain_accuracy": round(float(acc.mean()), 4), "moment_distance": round(float(dist), 4),
            "windows": int(m)}


def train_cross_species(cfg, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train per a `CrossSpeciesConfig` (or a dict); returns the run folder.

    With ``lam_grid`` (morale/joint_morale/grl) one sub-run per lambda, and the best by validation auPRC of
    ``selection_species`` is copied up.

    Parameters
    ----------
    cfg
        A `CrossSpeciesConfig` or a mapping to validate.
    resume
        Continue from ``checkpoints/last.ckpt`` (with a grid: continue unfinished sub-runs).
    overwrite
        Replace an existing run folder with checkpoints.

    Returns
    -------
    Path
    """
    if not isinstance(cfg, CrossSpeciesConfig):
        cfg = validate_cross_species(cfg)
    if cfg.lam_grid and cfg.mode in ADAPT_MODES:
        return _train_grid(cfg, resume=resume, overwrite=overwrite)
    return fit(CrossSpeciesPlugin(), cfg, cfg.run_dir, resume=resume, overwrite=overwrite)


def _train_grid(cfg, *, resume: bool, overwrite: bool) -> Path:
    from bindscape._util import atomic_write_text

    run_dir = cfg.run_dir
    scores, per_lam = {}, {}
    for lam in cfg.lam_grid:
        sub = cfg.model_copy(update={"lam": float(lam), "lam_grid": None, "out_dir": str(run_dir),
                                     "name": f"lam-{lam:g}"})
        m_path = sub.run_dir / "metrics.json"
        if m_path.exists() and not overwrite and json.loads(m_path.read_text()).get("finished"):
            pass  # done earlier
        else:
            last = sub.run_dir / "checkpoints" / "last.ckpt"
            fit(CrossSpeciesPlugin(), sub, sub.run_dir, resume=last.exists() and not overwrite, overwrite=True)
        m = json.loads(m_path.read_text())
        scores[float(lam)] = m["select_score"]
        per_lam[float(lam)] = _lambda_evidence(m, cfg)
    choices = lambda_choices(per_lam)
    best = max(scores, key=lambda k: (scores[k], -k))  # ties: the smaller lambda
    if cfg.select_on == "label-free":
        best = choices["label-free"]
    src = run_dir / f"lam-{best:g}"
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    for rel in ("metrics.json", "predictions.parquet", "checkpoints/best.ckpt"):
        shutil.copyfile(src / rel, run_dir / (rel + ".tmp"))
        (run_dir / (rel + ".tmp")).replace(run_dir / rel)
    atomic_write_text(run_dir / "config.yaml", dump_cross_species(cfg))
    criterion = ("label-free: lowest domain-classifier accuracy on held-out target windows among lambdas "
                 f"within {LABEL_FREE_TOLERANCE:g} of the best source validation auPRC"
                 if cfg.select_on == "label-free" else
                 f"mean validation auPRC of {', '.join(cfg.selection_species)}")
    sel = {"selected_lam": best, "scores": {f"{k:g}": v for k, v in scores.items()},
           "selection_species": cfg.selection_species, "criterion": criterion,
           "select_on": cfg.select_on, "choices": choices,
           "per_lam": {f"{k:g}": v for k, v in per_lam.items()}}
    atomic_write_text(run_dir / "selection.json", json.dumps(sel, indent=2) + "\n")
    m = json.loads((run_dir / "metrics.json").read_text())
    m["selection"] = sel
    atomic_write_text(run_dir / "metrics.json", json.dumps(m, indent=2) + "\n")
    return run_dir


__all__ = ["morale_loss", "grad_reverse", "GradientReversal", "SpeciesClassifier", "MultiSpeciesDataset",
           "CrossSpeciesTask", "CrossSpeciesConfig", "CrossSpeciesPlugin", "background_pool",
           "train_cross_species", "validate_cross_species", "load_cross_species", "MODES", "MORALE_MODES",
           "ADAPT_MODES", "MORALE_GRID",
           "GRL_GRID", "domain_alignment", "embed_split", "lambda_choices", "LABEL_FREE_TOLERANCE"]


#: how far below the best source validation auPRC a lambda may be and still be chosen label-free
LABEL_FREE_TOLERANCE = 0.01


def _lambda_evidence(metrics: dict, cfg: CrossSpeciesConfig) -> dict:
    """What each criterion reads from one lambda's metrics.json."""
    def mean_val(species):
        v = [metrics["val"][s]["auprc"] for s in species if s in metrics.get("val", {})]
        v = [x for x in v if x is not None and np.isfinite(x)]
        return float(np.mean(v)) if v else float("nan")

    al = metrics.get("alignment") or {}
    return {"source_val_auprc": mean_val(cfg.source_species), "target_val_auprc": mean_val([cfg.target]),
            "domain_accuracy": al.get("domain_accuracy", float("nan")),
            "moment_distance": al.get("moment_distance", float("nan")),
            "target_test_auprc": metrics.get("test", {}).get(cfg.target, {}).get("auprc", float("nan"))}


def lambda_choices(per_lam: dict[float, dict], tolerance: float | None = None) -> dict[str, float]:
    """The lambda each criterion picks from a tuning grid (ties: the smaller lambda).

    ``source``: best mean source validation auPRC; ``target``: best target validation auPRC (needs target
    labels); ``label-free``: among lambdas whose source validation auPRC is within `tolerance` of the best,
    the lowest domain-classifier accuracy on held-out target windows (`domain_alignment`; no target label),
    falling back to ``source`` when no accuracy could be measured.

    Parameters
    ----------
    per_lam
        Lambda -> ``source_val_auprc``, ``target_val_auprc``, ``domain_accuracy`` (`_lambda_evidence`).
    tolerance
        Allowed source validation auPRC loss (None: `LABEL_FREE_TOLERANCE`).

    Returns
    -------
    dict
        ``{"source": lam, "target": lam, "label-free": lam}``.
    """
    tol = LABEL_FREE_TOLERANCE if tolerance is None else tolerance

    def best(key, sign=1.0, among=None):
        lams = [k for k in (among or per_lam) if np.isfinite(per_lam[k][key])]
        if not lams:
            return None
        return max(lams, key=lambda k: (sign * per_lam[k][key], -k))

    src = best("source_val_auprc")
    tgt = best("target_val_auprc")
    ok = [k for k in per_lam if src is not None and per_lam[k]["source_val_auprc"] >= per_lam[src]["source_val_auprc"] - tol]
    free = best("domain_accuracy", -1.0, ok) if ok else None
    return {"source": src, "target": tgt, "label-free": free if free is not None else src}

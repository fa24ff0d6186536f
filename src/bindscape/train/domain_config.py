"""Cross-species training config (MORALE / GRL): pydantic, loaded from YAML, validated before any work.

Example::

    name: cebpa-primate
    out_dir: runs
    species:                       # one dataset folder per species (bindscape build tiles ...)
      primate: data/primate
      rodent: data/rodent
      fish: data/fish
    target: primate                # the species we want to predict in
    sources: [rodent, fish]        # labelled species (default: every species but the target)
    mode: morale                   # source | target | joint | morale | grl
    lam: 1.0                       # MORALE weight / GRL reversal strength
    lam_grid: [0, 1, 2, 5, 10]     # optional: train one run per value, keep the best on validation
    select_on: auto                # auto: source val auPRC with 2 species, target val auPRC with more
    batch: {pos_per_species: 32, neg_per_species: 32, background_per_species: 64}
    model: {name: cnn_lstm}
    trainer: {max_epochs: 5, seed: 0}

The `model`, `optim`, `loss` and `trainer` sections are those of `bindscape.train.config.TrainConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bindscape.errors import ConfigError
from bindscape.train.config import LossConfig, ModelConfig, OptimConfig, TrainerConfig, _format_error

MODES = ("source", "target", "joint", "morale", "grl")
MORALE_GRID = [float(x) for x in range(11)]  # MORALE paper: 0..10 step 1
GRL_GRID = [x * 0.5 for x in range(21)]  # 0..10 step 0.5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class BatchConfig(_Strict):
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


class SpeciesHeadConfig(_Strict):
    """GRL's species classifier (MORALE's two-species setup: flatten -> 1024 ReLU -> 512 sigmoid -> 1)."""

    hidden: list[int] = Field(default_factory=lambda: [1024, 512])
    weight: float = Field(1.0, ge=0)
    """Weight of the species-classification loss (the paper: 1)."""


class CrossSpeciesConfig(_Strict):
    species: dict[str, str]
    """species name -> dataset folder (all with the same window length and a split column)."""
    target: str
    sources: list[str] | None = None
    mode: Literal["source", "target", "joint", "morale", "grl"] = "morale"
    lam: float = Field(1.0, ge=0)
    lam_grid: list[float] | None = None
    select_on: Literal["auto", "source", "target"] = "auto"
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
        return list(self.sources) if self.sources is not None else [s for s in self.species if s != self.target]

    @property
    def labelled_species(self) -> list[str]:
        if self.mode == "target":
            return [self.target]
        if self.mode == "joint":
            return list(self.species)
        return self.source_species

    @property
    def domain_species(self) -> list[str]:
        """Species in the training (domain) index order: sources/labelled first, then the rest."""
        order = self.source_species + [self.target]
        return order + [s for s in self.species if s not in order]

    @property
    def selection_species(self) -> list[str]:
        """Whose validation auPRC picks epochs and lambda (MORALE: source with 2 species, target with more)."""
        how = self.select_on
        if how == "auto":
            how = "source" if len(self.species) == 2 else "target"
        if self.mode == "target":
            return [self.target]
        return [self.target] if how == "target" else self.source_species

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def _error(exc: ValidationError, source: str) -> ConfigError:
    err = exc.errors()[0]
    if err["type"] == "value_error":  # model_validator messages already start with the field name
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return ConfigError(f"{source}: {msg}", hint="see docs/cross_species.md for the config fields")
    e = _format_error(exc, source)
    e.hint = "see docs/cross_species.md for the config fields"
    return e


def validate_cross_species(data: dict, source: str = "config") -> CrossSpeciesConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a cross-species config is a YAML mapping, got {type(data).__name__}")
    try:
        cfg = CrossSpeciesConfig.model_validate(data)
    except ValidationError as exc:
        raise _error(exc, source) from None
    from bindscape.train.config import check_model_name

    check_model_name(cfg.model.name, source)
    return cfg


def load_cross_species(path: str | Path, overrides: dict[str, Any] | None = None) -> CrossSpeciesConfig:
    from bindscape.train.config import read_yaml_config

    return validate_cross_species(read_yaml_config(path, overrides), source=str(path))


def dump_cross_species(cfg: CrossSpeciesConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

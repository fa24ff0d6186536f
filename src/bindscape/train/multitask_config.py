"""Configuration of multitask base-pair training (`bindscape train-multitask CONFIG.yaml`).

Example::

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

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from bindscape.train.config import _format_error, _Strict


class MTModelConfig(_Strict):
    name: Literal["nettime", "conditioned"] = "nettime"
    """nettime, or conditioned (wraps `params.inner`, any registry model)."""
    params: dict[str, Any] = Field(default_factory=dict)


class MTDataConfig(_Strict):
    batch_size: int = Field(32, ge=1)
    rc_augment: bool = True
    use_relaxed: bool = True
    """Train on conserved + relaxed peaks where the dataset has relaxed ones (evaluation: conserved only)."""
    train_split: str = "train"
    val_split: str = "val"
    test_split: str | None = "test"


class MTOptimConfig(_Strict):
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)


class MTLossConfig(_Strict):
    pos_weight: float | Literal["auto"] | None = "auto"
    """Weight of bound base pairs in the per-bp BCE; auto = unbound/bound ratio of the training set."""
    max_pos_weight: float = Field(20.0, gt=0)


class MTTrainerConfig(_Strict):
    max_epochs: int = Field(6, ge=1)
    patience: int | None = Field(2, ge=1)
    seed: int = 0
    threads: int | None = Field(1, ge=1)
    progress: bool = False
    limit_train_batches: int | float | None = None
    rc_average: bool = True
    accelerator: str = "cpu"
    stop_after_epochs: int | None = Field(None, ge=1)
    """Stop (as if interrupted) after this many epochs; ``resume`` continues from last.ckpt. For tests."""


class MultitaskConfig(_Strict):
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
        return Path(self.out_dir) / self.name


def validate_multitask_config(data: dict, source: str = "config") -> MultitaskConfig:
    try:
        return MultitaskConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_error(exc, source) from None


def load_multitask_config(path: str | Path, overrides: dict[str, Any] | None = None) -> MultitaskConfig:
    from bindscape.train.config import read_yaml_config

    return validate_multitask_config(read_yaml_config(path, overrides), str(path))

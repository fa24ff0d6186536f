"""Training configuration: pydantic models loaded from YAML (`yaml.safe_load`).

An invalid config fails before any work with the field's dotted name and the allowed values, e.g.
``config.yaml: optim.optimizer: 'sgd' is not allowed; choose one of: adam, adamw``. Flags override fields
with dotted keys (`apply_overrides(cfg, {"optim.lr": 1e-3})`). The fully resolved config is written to the
run folder (``config.yaml``) and stored in every checkpoint.

Example::

    dataset: data/reb1            # a dataset folder (bindscape build ...)
    name: reb1                    # run folder: <out_dir>/<name>
    model: {name: bindscape_cnn, params: {channels: 128}}
    data: {batch_size: 128, sampler: balanced, rc_augment: true}
    optim: {optimizer: adamw, lr: 0.003, schedule: onecycle}
    trainer: {max_epochs: auto, patience: 3, monitor: val_auprc, seed: 0}   # auto: by training-set size
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bindscape.errors import ConfigError
from bindscape.schema import StrictModel, validate_model

HINT = "see docs/training.md for the config fields"


class ModelConfig(StrictModel):
    name: str = "bindscape_cnn"
    """Registry name (`bindscape.models.list_models()`)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Extra constructor arguments (length and n_outputs come from the dataset)."""
    motifs: list[str] = Field(default_factory=list)
    """JASPAR IDs or names, or motif files (all their motifs): the first DNA conv's leading filters start as
    their log-odds, both strands, centred (docs/training.md, "Motif-informed models"). ``auto`` / ``auto:K``:
    the K (default 16) JASPAR motifs most enriched in the training split's positives
    (`bindscape.motifs.enrichment`)."""
    motif_taxon: str | None = "vertebrates"
    """``motifs: auto``: the JASPAR tax group of the candidates (vertebrates, insects, plants, fungi, ...);
    None: every group."""
    motif_collection: str = "CORE"
    """``motifs: auto``: the JASPAR collection of the candidates."""
    motif_freeze_epochs: int = Field(0, ge=0)
    """Keep the motif filters fixed for this many epochs."""
    motif_score: Literal["none", "late"] = "none"
    """``late``: each motif's best log-odds score (both strands) joins `embed()` before a new linear head."""
    motif_background: Literal["uniform", "genome"] = "uniform"
    """Background of the log-odds: uniform, or the base composition of the dataset's genome."""

    @field_validator("motifs", mode="before")
    @classmethod
    def _motifs_list(cls, v):
        return [v] if isinstance(v, str) else v  # `motifs: auto` (or one ID) needs no brackets

    @field_validator("motifs")
    @classmethod
    def _motifs_auto(cls, v):
        from bindscape.motifs.enrichment import parse_auto

        try:
            auto = [m for m in v if parse_auto(m, source="") is not None]
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        if auto and len(v) > 1:
            raise ValueError("auto chooses the motifs itself; give `auto` (or auto:K) alone")
        return v

    @model_validator(mode="after")
    def _motif_options(self):
        if not self.motifs and (self.motif_freeze_epochs or self.motif_score != "none"):
            raise ValueError("motif_freeze_epochs / motif_score need model.motifs")
        return self


class DataConfig(StrictModel):
    batch_size: int = Field(128, ge=1)
    sampler: Literal["plain", "balanced"] = "plain"
    rc_augment: bool = True
    max_shift: int = Field(0, ge=0)
    num_workers: int = Field(0, ge=0)
    label_columns: list[str] = Field(default_factory=lambda: ["label"])
    train_split: str | list[str] = "train"
    """A split, or several trained on together (the final model: ``[train, val]``)."""
    val_split: str | None = "val"
    """None: no validation (a final model; best checkpoint = last epoch)."""
    test_split: str | None = "test"


class OptimConfig(StrictModel):
    optimizer: Literal["adam", "adamw"] = "adamw"
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    schedule: Literal["onecycle", "cosine", "constant", "plateau"] = "onecycle"
    warmup_frac: float = Field(0.25, ge=0, lt=1)


class LossConfig(StrictModel):
    pos_weight: float | None = Field(None, gt=0)
    """BCE positive-class weight; None = 1."""
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)


class TrainerConfig(StrictModel):
    max_epochs: int = Field(10, ge=1)
    patience: int | None = Field(3, ge=1)
    """Early stopping patience in epochs (None: no early stopping)."""
    monitor: Literal["val_auprc", "val_auroc", "val_loss"] = "val_auprc"
    rc_average: bool = True
    """Average predictions over both strands at validation/test/prediction time."""
    seed: int = 0
    accelerator: str = "cpu"
    """cpu | gpu | auto (Lightning's accelerator names)."""
    devices: int | str = 1
    """Number of devices or 'auto'; more than one GPU trains with DDP."""
    strategy: str = "auto"
    precision: str = "32-true"
    threads: int | None = Field(None, ge=1)
    """torch CPU threads (None: torch's default)."""
    progress: bool = True
    log_every_n_steps: int = Field(50, ge=1)
    limit_train_batches: int | float | None = None
    deterministic: bool = False
    stop_after_epochs: int | None = Field(None, ge=1)
    """Stop (as if interrupted) after this many epochs; `--resume` continues. For tests and time slicing."""


#: the epoch rule of ``trainer.max_epochs: auto`` (single-task training): about this many training examples
#: seen, at least / at most this many epochs (docs/training.md, "How many epochs")
AUTO_EPOCH_EXAMPLES = 220_000
AUTO_EPOCH_RANGE = (6, 30)


def auto_epochs(n_train: int) -> int:
    """The number of epochs ``trainer.max_epochs: auto`` resolves to for a training set of `n_train` examples.

    About `AUTO_EPOCH_EXAMPLES` examples are seen whatever the size (``round(220,000 / n_train)`` epochs),
    clamped to `AUTO_EPOCH_RANGE`: small sets get more passes (30 at most; early stopping still applies),
    large ones at least 6. It is the rule `benchmarks/gue.py` was tuned with on the nine GUE TF tasks
    (1,904-32,378 training sequences); on 50,000 sequences of 101 bp it gives 6 epochs, about 3 CPU-minutes
    on one core with the default model (docs/accuracy.md, "Defaults and cost").

    Parameters
    ----------
    n_train : int
        Training examples per epoch (the rows of ``data.train_split``).

    Returns
    -------
    int
        Epochs, within `AUTO_EPOCH_RANGE`.
    """
    lo, hi = AUTO_EPOCH_RANGE
    if n_train < 1:
        return hi
    return int(min(hi, max(lo, round(AUTO_EPOCH_EXAMPLES / n_train))))


class SingleTaskTrainerConfig(TrainerConfig):
    """The `TrainerConfig` of single-task training, whose ``max_epochs`` defaults to ``auto``."""

    max_epochs: int | str = "auto"
    """Epochs, or ``auto``: `auto_epochs` of the training-set size (resolved when training starts; the run's
    config.yaml and metrics.json record the number)."""

    @field_validator("max_epochs", mode="before")
    @classmethod
    def _epochs(cls, value):
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError(f"must be 'auto' or a whole number greater than or equal to 1 (got {value!r})")


def resolve_max_epochs(trainer: TrainerConfig, n_train: int) -> str:
    """Replace ``trainer.max_epochs: auto`` by `auto_epochs` of `n_train`, in place.

    Parameters
    ----------
    trainer : TrainerConfig
        The config's ``trainer`` section (changed in place when its ``max_epochs`` is ``auto``).
    n_train : int
        Training examples per epoch.

    Returns
    -------
    str
        ``"auto"`` when the number was resolved here, ``"config"`` when the config gave it.
    """
    if trainer.max_epochs != "auto":
        return "config"
    trainer.max_epochs = auto_epochs(n_train)
    return "auto"


#: config fields a resumed single-task run must keep (they define the model and its data)
RESUME_KEYS = ("dataset", "model")


class FinetuneConfig(StrictModel):
    checkpoint: str
    """Checkpoint to start from (its model config is used; `model` in this config is ignored)."""
    freeze: list[str] = Field(default_factory=list)
    """Parameter-name prefixes to freeze, e.g. [conv, rnn]."""
    reinit: list[str] = Field(default_factory=list)
    """Parameter-name prefixes to re-initialise, e.g. [dense, head] (AgentBind)."""
    output: str | int | None = None
    """Keep only this output of a multi-output checkpoint's head: one of its ``data.label_columns`` (e.g.
    ``label_Reb1`` of a pooled dataset, `bindscape.data.pooled`) or an index; None: the head as is."""


class TrainConfig(StrictModel):
    dataset: str
    name: str = "run"
    out_dir: str = "runs"
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    trainer: SingleTaskTrainerConfig = Field(default_factory=SingleTaskTrainerConfig)
    finetune: FinetuneConfig | None = None

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def validate_config(data: dict, source: str = "config") -> TrainConfig:
    """Validate a single-task training config `data` (the parsed YAML mapping) before any work; `source`
    (where it came from) starts every error message."""
    cfg = validate_model(TrainConfig, data, source, what="training config", hint=HINT)
    check_model_name(cfg.model.name, source)
    check_model_params(cfg.model.name, cfg.model.params, source)
    check_splits(cfg.data, source)
    return cfg


def _param_problem(value: Any, default: Any) -> str | None:
    """Why `value` cannot replace a constructor default `default`, or None when it can."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "is not true or false"
    if isinstance(default, int):
        low = 1 if default >= 1 else 0
        if isinstance(value, bool) or not isinstance(value, int):
            return "is not a whole number"
        return None if value >= low else f"must be >= {low}"
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "is not a number"
        if 0 <= default < 1 and not 0 <= value < 1:
            return "must be >= 0 and < 1"
        return None
    if isinstance(default, tuple | list) and all(isinstance(v, int) for v in default):
        ok = (isinstance(value, list | tuple) and value
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value))
        return None if ok else "must be a non-empty list of whole numbers >= 1"
    return None


def check_model_params(name: str, params: dict[str, Any], source: str) -> None:
    """A `ConfigError` naming ``model.params.<field>`` when a constructor argument is unknown or unusable.

    Parameters
    ----------
    name : str
        A registered model name.
    params : dict
        ``model.params`` from the config; each value is checked against the type and sign of the
        constructor's default (sizes are whole numbers >= 1, dropout is in [0, 1)).
    source : str
        Where the config came from; starts the message.
    """
    import inspect

    from bindscape.models import MODELS

    sig = inspect.signature(MODELS[name].__init__).parameters
    allowed = [k for k in sig if k != "self" and sig[k].kind == sig[k].POSITIONAL_OR_KEYWORD]
    for key, value in params.items():
        if key not in allowed:
            raise ConfigError(f"{source}: model.params.{key}: not an argument of model {name!r}; "
                              f"choose from: {', '.join(k for k in allowed if k not in ('length', 'n_outputs'))}",
                              hint=HINT)
        problem = _param_problem(value, sig[key].default)
        if problem:
            raise ConfigError(f"{source}: model.params.{key}: {value!r} {problem}",
                              hint=f"fix model.params.{key} in the config or pass --set model.params.{key}=VALUE")


def check_splits(d: DataConfig, source: str) -> None:
    """A `ConfigError` when the validation or test split is also trained on (selection would be dishonest)."""
    train = [d.train_split] if isinstance(d.train_split, str) else list(d.train_split)
    if not train:
        raise ConfigError(f"{source}: data.train_split: give at least one split")
    for key, split in (("val_split", d.val_split), ("test_split", d.test_split)):
        if split is not None and split in train:
            raise ConfigError(f"{source}: data.{key}: {split!r} is also in data.train_split {train}",
                              hint="a final model on train+val sets data.val_split: null (bindscape train --final)")


def check_split_names(d: DataConfig, present: list[str], source: str) -> None:
    """A `ConfigError` when ``data.val_split`` or ``data.test_split`` names a split the dataset lacks.

    The default names (``val``, ``test``) may be absent (a dataset built without them trains with no
    validation / test); any other name is taken as a typo rather than silently training without it.

    Parameters
    ----------
    d : DataConfig
        The config's ``data`` section.
    present : list of str
        The split names the dataset has rows in.
    source : str
        The dataset (or config) the message starts with.
    """
    for key, split, default in (("val_split", d.val_split, "val"), ("test_split", d.test_split, "test")):
        if split is not None and split != default and split not in present:
            raise ConfigError(f"{source}: data.{key}: no split {split!r} in the dataset; its splits are: "
                              f"{', '.join(present) or 'none'}",
                              hint=f"set data.{key} to one of them (--set data.{key}=NAME) or to null")


def check_model_name(name: str, source: str) -> None:
    """A registry model name, or a ConfigError listing the registered ones."""
    from bindscape.models import list_models

    if name not in list_models():
        raise ConfigError(f"{source}: model.name: {name!r} is not allowed; choose one of: {', '.join(list_models())}")


def read_yaml_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict:
    """A YAML config file as a dict, with dotted-key overrides applied; clear errors for missing/bad files."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}); a config is a YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).split("\n")[0]  # a ReaderError has no .problem
        raise ConfigError(f"{path}{where}: not valid YAML ({what})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping, got {type(data).__name__}")
    return apply_overrides(data, overrides) if overrides else data


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config, apply dotted-key overrides, validate."""
    return validate_config(read_yaml_config(path, overrides), source=str(path))


def apply_overrides(data: dict | TrainConfig, overrides: dict[str, Any]) -> dict:
    """Set dotted keys (``trainer.max_epochs``) in a config dict; returns a new dict."""
    import copy

    d = data.model_dump() if isinstance(data, TrainConfig) else copy.deepcopy(data)
    for key, value in overrides.items():
        cur = d
        parts = key.split(".")
        for p in parts[:-1]:
            if cur.get(p) is None:
                cur[p] = {}
            if not isinstance(cur[p], dict):
                raise ConfigError(f"override {key}: {p} is not a section")
            cur = cur[p]
        cur[parts[-1]] = value
    return d


def cli_overrides(pairs, devices: str | None = None, sets: list[str] | None = None) -> dict[str, Any]:
    """Config overrides from CLI options: ``(dotted key, value)`` pairs whose value is not None, then
    ``--devices`` (N or auto) and last the ``--set KEY=VALUE`` items."""
    ov: dict[str, Any] = {k: v for k, v in pairs if v is not None}
    if devices is not None:
        ov["trainer.devices"] = int(devices) if devices.isdigit() else devices
    ov.update(parse_set(sets))
    return ov


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``["optim.lr=1e-3", "data.sampler=balanced"]`` -> dict (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE (e.g. optim.lr=0.001)")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def dump_config(cfg) -> str:
    """A validated config (any of the training configs) as the YAML written to ``config.yaml``.

    Parameters
    ----------
    cfg
        A pydantic config.

    Returns
    -------
    str
    """
    import yaml

    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

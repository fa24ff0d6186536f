"""Hyper-parameter search with Optuna: `run_tune(cfg, budget_cpu_min)` -> a tune folder.

One Optuna study per tune folder (``study.db``, SQLite, opened with ``load_if_exists``): running the same
command again resumes the search and keeps every finished trial. The sampler is TPE with a seed; a
`optuna.pruners.MedianPruner` stops a trial whose validation curve (the config's ``trainer.monitor``, reported
after every epoch by a Lightning callback) falls below the median of earlier trials at the same epoch. A
pruned trial stops cleanly at the end of its epoch (the engine writes its run folder as usual) and is then
marked pruned.

Every trial is an ordinary single-task run (`bindscape.train.tasks.binary`) under ``trials/trial-NNN``, with
the test split switched off: the search reads validation only. The CPU budget counts this process's CPU time
(children included) plus what earlier sessions of the same study spent; no trial starts once it is spent
(the trial running at that moment finishes).

Tune folder: ``study.db``, ``trials.csv`` (one row per trial), ``best.yaml`` (the base config with the best
trial's values, a training config for ``bindscape train``), ``tune.json`` (the summary), ``log.txt`` and
``trials/``. The search space is the default one for the config's model (`default_space`) merged with the
``tune:`` section of the YAML (`TuneConfig`); see docs/tuning.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from bindscape._util import atomic_path, atomic_write_text
from bindscape.errors import ConfigError, NotEnoughDataError
from bindscape.schema import StrictModel, validate_model
from bindscape.train.config import TrainConfig, apply_overrides, read_yaml_config, validate_config

HINT = "see docs/tuning.md for the tune: section"
#: model constructor arguments that set the width (the first one the model has is searched)
WIDTH_PARAMS = ("channels", "filters")
#: integer constructor arguments that set the depth (number of blocks/layers)
DEPTH_PARAMS = ("blocks", "n_blocks", "depth", "layers", "n_layers")


# --------------------------------------------------------------------------------------------- config
class DimSpec(StrictModel):
    """One search dimension over a dotted config key.

    ``float``/``int``: a range (``log`` for a log scale, ``step`` for a grid); ``categorical``: ``choices``;
    ``depth``: an integer n that becomes the dilation list ``[1, 2, 4, ...]`` of length n.
    """

    type: Literal["float", "int", "categorical", "depth"]
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical dimension needs a non-empty choices list")
            return self
        if self.low is None or self.high is None or not self.low <= self.high:
            raise ValueError(f"a {self.type} dimension needs low <= high (got low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale dimension needs low > 0")
        if self.type == "depth" and self.low < 1:
            raise ValueError("a depth dimension needs low >= 1")
        return self


class TuneConfig(StrictModel):
    """The ``tune:`` section of a training YAML (or a ``--space`` file): search space and search settings."""

    space: dict[str, DimSpec | None] = Field(default_factory=dict)
    """Dotted config key -> dimension; these replace the default's; ``null`` drops a default dimension."""
    defaults: bool = True
    """Start from `default_space` (False: search only `space`)."""
    seed: int = 0
    """Seed of the TPE sampler."""
    startup_trials: int = Field(5, ge=0)
    """Random trials before TPE takes over."""
    prune_startup_trials: int = Field(3, ge=0)
    """Trials that finish before the median pruner prunes anything."""
    prune_warmup_epochs: int = Field(1, ge=0)
    """Epochs of each trial that are never pruned."""


def parse_budget(value: Any, flag: str = "--budget-cpu-min") -> float:
    """A CPU budget in minutes: a positive finite number, else a `ConfigError` naming `flag`.

    Parameters
    ----------
    value
        The user's value (a string from the command line, or a number).
    flag
        Named in the error.

    Returns
    -------
    float
        The budget in CPU minutes.
    """
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag}: {value!r} is not a number of CPU minutes",
                          hint=f"e.g. {flag} 30") from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise ConfigError(f"{flag}: {value!r} must be a positive number of CPU minutes", hint=f"e.g. {flag} 30")
    return minutes


def load_tune_config(path: str | Path, space_file: str | Path | None = None,
                     overrides: dict[str, Any] | None = None) -> tuple[TrainConfig, TuneConfig]:
    """Read a training YAML with an optional ``tune:`` section; `space_file` (a YAML of the same fields,
    top-level or under ``tune:``) replaces that section.

    Parameters
    ----------
    path
        The training config.
    space_file
        Optional search-space file.
    overrides
        Dotted-key overrides of the training config.

    Returns
    -------
    tuple of (TrainConfig, TuneConfig)
    """
    data = read_yaml_config(path, overrides)
    tune_data, source = data.pop("tune", None) or {}, f"{path}: tune"
    if space_file is not None:
        raw = read_yaml_config(space_file)
        tune_data, source = raw.get("tune", raw) or {}, str(space_file)
    cfg = validate_config(data, source=str(path))
    tcfg = validate_model(TuneConfig, tune_data, source, what="tune section", hint=HINT)
    return cfg, tcfg


# ---------------------------------------------------------------------------------------------- space
def model_defaults(name: str) -> dict[str, Any]:
    """Constructor arguments of the registry model `name` with their default values.

    Parameters
    ----------
    name
        A registry name (`bindscape.models.list_models`).

    Returns
    -------
    dict
        Argument name -> default (arguments without a default are left out).
    """
    import inspect

    from bindscape.models import MODELS

    sig = inspect.signature(MODELS[name].__init__)
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def _choices_of(field) -> list | None:
    """The allowed values of a pydantic field annotated ``Literal[...]`` or ``bool`` (None otherwise)."""
    ann = field.annotation
    if ann is bool:
        return [False, True]
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) is Literal:
        return list(args)
    for a in args:  # Optional[Literal[...]]
        if typing.get_origin(a) is Literal:
            return list(typing.get_args(a))
    return None


def motif_space(cfg: TrainConfig) -> dict[str, DimSpec]:
    """Motif dimensions of the base config `cfg`, when its model config has motif fields and names motifs
    (``model.motifs``): ``model.motif_freeze_epochs`` (0 .. 3) and ``model.motif_score`` (its allowed values)
    where present."""
    fields = type(cfg.model).model_fields
    if "motifs" not in fields or not getattr(cfg.model, "motifs", None):
        return {}
    out: dict[str, DimSpec] = {}
    if "motif_freeze_epochs" in fields:
        out["model.motif_freeze_epochs"] = DimSpec(type="int", low=0, high=min(3, cfg.trainer.max_epochs)
                                                     if isinstance(cfg.trainer.max_epochs, int) else 3)
    if "motif_score" in fields:
        choices = _choices_of(fields["motif_score"])
        if choices and len(choices) > 1:
            out["model.motif_score"] = DimSpec(type="categorical", choices=choices)
    return out


def default_space(cfg: TrainConfig) -> dict[str, DimSpec]:
    """The default search space of `cfg`'s model: learning rate, width, depth, dropout, sampler, motifs.

    Width and depth are searched where the model has them (``channels``/``filters``; ``dilations`` or a
    block count), around the config's value (or the model's default).

    Parameters
    ----------
    cfg
        The base config.

    Returns
    -------
    dict
        Dotted config key -> `DimSpec`.
    """
    cur = {**model_defaults(cfg.model.name), **cfg.model.params}
    space: dict[str, DimSpec] = {"optim.lr": DimSpec(type="float", low=1e-4, high=1e-2, log=True)}
    width = next((k for k in WIDTH_PARAMS if isinstance(cur.get(k), int) and not isinstance(cur.get(k), bool)),
                 None)
    if width:
        w = int(cur[width])
        space[f"model.params.{width}"] = DimSpec(type="int", low=max(8, w // 4), high=max(16, 2 * w), log=True)
    if isinstance(cur.get("dilations"), list | tuple):
        space["model.params.dilations"] = DimSpec(type="depth", low=1, high=max(4, len(cur["dilations"])))
    else:
        depth = next((k for k in DEPTH_PARAMS if isinstance(cur.get(k), int) and not isinstance(cur.get(k), bool)),
                     None)
        if depth:
            space[f"model.params.{depth}"] = DimSpec(type="int", low=1, high=max(4, int(cur[depth]) + 1))
    if isinstance(cur.get("dropout"), float | int) and not isinstance(cur.get("dropout"), bool):
        space["model.params.dropout"] = DimSpec(type="float", low=0.0, high=0.5)
    space["data.sampler"] = DimSpec(type="categorical", choices=["plain", "balanced"])
    space.update(motif_space(cfg))
    return space


def resolve_space(cfg: TrainConfig, tcfg: TuneConfig) -> dict[str, DimSpec]:
    """`default_space` (unless ``tcfg.defaults`` is False) merged with ``tcfg.space``; checked on `cfg`.

    Each dimension's low end (or first choice) is applied to the config and validated, so a key that is not a
    config field fails here, before any trial, with the dimension's name.

    Parameters
    ----------
    cfg
        The base config.
    tcfg
        The tune settings.

    Returns
    -------
    dict
        Dotted config key -> `DimSpec`, in a fixed order.
    """
    space = dict(default_space(cfg)) if tcfg.defaults else {}
    for key, spec in tcfg.space.items():
        if spec is None:
            space.pop(key, None)
        else:
            space[key] = spec
    if not space:
        raise ConfigError("tune: the search space is empty", hint=HINT)
    base = cfg.model_dump(mode="json")
    for key, spec in space.items():
        probe = spec.choices[0] if spec.type == "categorical" else spec.low
        try:
            validate_config(apply_overrides(base, {key: config_value(spec, probe)}), source=f"tune.space.{key}")
        except ConfigError as exc:
            raise ConfigError(exc.message, hint=HINT) from None
    return space


def config_value(spec: DimSpec, value: Any) -> Any:
    """The value to set in the config for the `value` the sampler suggested for dimension `spec` (a depth n
    becomes the dilations ``[1, 2, ..., 2**(n-1)]``)."""
    if spec.type == "depth":
        return [2**i for i in range(int(value))]
    if spec.type == "int":
        return int(value)
    return value


def suggest(trial, key: str, spec: DimSpec) -> Any:
    """Ask `trial` for a value of dimension `key` (Optuna's ``suggest_*``).

    Parameters
    ----------
    trial
        An `optuna.Trial`.
    key
        The dotted config key (the Optuna parameter name).
    spec
        The dimension.

    Returns
    -------
    The suggested value (before `config_value`).
    """
    if spec.type == "categorical":
        return trial.suggest_categorical(key, spec.choices)
    if spec.type == "float":
        return trial.suggest_float(key, spec.low, spec.high, log=spec.log, step=None if spec.log else spec.step)
    step = 1 if spec.log or spec.step is None else int(spec.step)
    return trial.suggest_int(key, int(spec.low), int(spec.high), log=spec.log, step=step)


# --------------------------------------------------------------------------------------------- trials
def cpu_seconds() -> float:
    """CPU time of this process and its finished children (data-loader workers), user + system.

    Returns
    -------
    float
        Seconds.
    """
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def pruning_callback(trial, monitor: str):
    """A Lightning callback that reports ``monitor`` to `trial` after every validation and, when Optuna's
    pruner says so, stops training at the end of the epoch (its ``pruned`` attribute becomes True).

    Parameters
    ----------
    trial
        The `optuna.Trial`.
    monitor
        The logged validation metric (``trainer.monitor``).

    Returns
    -------
    lightning.Callback
    """
    import lightning as L

    class _Pruning(L.Callback):
        pruned = False
        last: float | None = None

        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking or monitor not in trainer.callback_metrics:
                return
            self.last = float(trainer.callback_metrics[monitor])
            trial.report(self.last, step=int(trainer.current_epoch))
            if trial.should_prune():
                self.pruned = True
                trainer.should_stop = True

    return _Pruning()


def trial_plugin(trial, monitor: str):
    """The single-task engine plug-in with `pruning_callback` attached to its LightningModule.

    Parameters
    ----------
    trial
        The `optuna.Trial`.
    monitor
        The monitored validation metric.

    Returns
    -------
    tuple
        ``(plug-in, callback)``.
    """
    from bindscape.train.tasks.binary import BinaryPlugin

    cb = pruning_callback(trial, monitor)

    class _TrialPlugin(BinaryPlugin):
        def setup(self, cfg, resume):
            prep = super().setup(cfg, resume)
            prep.module.configure_callbacks = lambda: [cb]  # Lightning merges these into the trainer's
            return prep

    return _TrialPlugin(), cb


def trial_config(base: dict, values: dict[str, Any], tune_dir: Path, number: int) -> TrainConfig:
    """The config of trial `number`: `base` with the trial's values, its run folder under ``trials/``, no test
    split (selection reads validation only) and no per-epoch progress bar.

    Parameters
    ----------
    base
        The base config as a dict (``model_dump(mode="json")``).
    values
        Dotted key -> config value.
    tune_dir
        The tune folder.
    number
        The trial number.

    Returns
    -------
    TrainConfig
    """
    ov = {**values, "name": f"trial-{number:03d}", "out_dir": str(tune_dir / "trials"), "data.test_split": None,
          "trainer.progress": False}
    return validate_config(apply_overrides(base, ov), source=f"tune trial {number}")


def run_trial(trial, base: dict, space: dict[str, DimSpec], tune_dir: Path) -> float:
    """The objective: train one trial's config and return its best validation score (raises
    `optuna.TrialPruned` when the pruner stopped it).

    Parameters
    ----------
    trial
        The `optuna.Trial`.
    base
        The base config as a dict.
    space
        The search space.
    tune_dir
        The tune folder.

    Returns
    -------
    float
        The monitored validation metric at the best epoch.
    """
    import optuna

    from bindscape.train.engine import fit, log_line

    t0 = cpu_seconds()
    values = {k: config_value(s, suggest(trial, k, s)) for k, s in space.items()}
    cfg = trial_config(base, values, tune_dir, trial.number)
    plugin, cb = trial_plugin(trial, cfg.trainer.monitor)
    run = fit(plugin, cfg, cfg.run_dir, overwrite=True)
    m = json.loads((run / "metrics.json").read_text())
    attrs = {"cpu_s": round(cpu_seconds() - t0, 2), "run": str(run), "epochs_run": m.get("epochs_run"),
             "best_epoch": m.get("best_epoch"), "last_value": cb.last}
    for k in ("auroc", "auprc", "mcc", "loss"):
        attrs[f"val_{k}"] = m.get("val", {}).get(k)
    for k, v in attrs.items():
        trial.set_user_attr(k, v)
    score = m.get("best_score")
    state = "pruned" if cb.pruned else "complete"
    log_line(tune_dir, f"trial {trial.number} {state}: {cfg.trainer.monitor}="
             f"{'-' if score is None else f'{score:.4f}'}, {attrs['cpu_s']:.0f} CPU s; " +
             ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()))
    if cb.pruned:
        raise optuna.TrialPruned(f"pruned at epoch {m.get('epochs_run')}")
    if score is None:
        raise ConfigError(f"{base['dataset']}: no validation score (is split {base['data']['val_split']!r} empty?)",
                          hint="tune needs a validation split")
    return float(score)


# ---------------------------------------------------------------------------------------------- study
def config_hash(base: dict, space: dict[str, DimSpec]) -> str:
    """A checksum of what makes trials comparable: the base config (name, out_dir and progress aside) and
    the search space. A study resumed with a different one is refused.

    Parameters
    ----------
    base
        The base config as a dict.
    space
        The search space.

    Returns
    -------
    str
    """
    b = {k: v for k, v in base.items() if k not in ("name", "out_dir")}
    b["trainer"] = {k: v for k, v in b["trainer"].items() if k != "progress"}
    blob = json.dumps({"config": b, "space": {k: s.model_dump() for k, s in space.items()}}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def open_study(tune_dir: Path, cfg: TrainConfig, tcfg: TuneConfig, space: dict[str, DimSpec]):
    """Create or load the study in ``<tune_dir>/study.db``; trials left running by a killed session are
    marked failed (the caller holds the folder's lock, so none is running now).

    Parameters
    ----------
    tune_dir
        The tune folder.
    cfg, tcfg, space
        Base config, tune settings, search space (checked against a resumed study's).

    Returns
    -------
    optuna.Study
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "minimize" if cfg.trainer.monitor == "val_loss" else "maximize"
    sampler = optuna.samplers.TPESampler(seed=tcfg.seed, n_startup_trials=tcfg.startup_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=tcfg.prune_startup_trials,
                                         n_warmup_steps=tcfg.prune_warmup_epochs)
    study = optuna.create_study(storage=f"sqlite:///{tune_dir / 'study.db'}", study_name="bindscape-tune",
                                load_if_exists=True, direction=direction, sampler=sampler, pruner=pruner)
    h = config_hash(cfg.model_dump(mode="json"), space)
    old = study.user_attrs.get("config_hash")
    if old is None:
        study.set_user_attr("config_hash", h)
        study.set_user_attr("monitor", cfg.trainer.monitor)
    elif old != h:
        raise ConfigError(f"{tune_dir / 'study.db'}: holds a search over a different config or search space",
                          hint="use another --out, or remove that folder to start over")
    fail_running(study)
    return study


def fail_running(study) -> int:
    """Mark the study's RUNNING trials as failed (they belong to a session that was interrupted).

    Parameters
    ----------
    study
        The `optuna.Study`.

    Returns
    -------
    int
        How many were marked.
    """
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in running:
        study.tell(t.number, state=TrialState.FAIL)
    return len(running)


# -------------------------------------------------------------------------------------------- outputs
@dataclass
class TuneResult:
    """What `tune` did: the folder, the trials table and the best trial (None when none completed)."""

    out_dir: Path
    trials: pd.DataFrame
    monitor: str
    stopped_by: str  # "trials" or "budget"
    cpu_seconds: float
    best_number: int | None = None
    best_value: float | None = None
    best_config: Path | None = None


def trials_table(study, space: dict[str, DimSpec] | None = None) -> pd.DataFrame:
    """One row per trial: number, state, value, the searched values, CPU seconds and validation metrics.

    Parameters
    ----------
    study
        The `optuna.Study`.
    space
        The search space: values are shown as set in the config (a depth as its dilation list); None: as
        Optuna suggested them.

    Returns
    -------
    pandas.DataFrame
        Columns ``number, state, value, <dotted keys...>, cpu_s, epochs_run, best_epoch, val_auroc,
        val_auprc, last_value, run``.
    """
    rows = []
    for t in study.get_trials(deepcopy=False):
        u = t.user_attrs
        params = {k: config_value(space[k], v) if space and k in space else v for k, v in t.params.items()}
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value, **params,
                     **{k: u.get(k) for k in ("cpu_s", "epochs_run", "best_epoch", "val_auroc", "val_auprc",
                                              "last_value", "run")}})
    cols = ["number", "state", "value"]
    return pd.DataFrame(rows, columns=None if rows else cols)


def best_config_yaml(base: dict, values: dict[str, Any], *, number: int, monitor: str, value: float,
                     n_finished: int) -> str:
    """The best trial's training config as YAML, with a header comment naming the trial and its score.

    Parameters
    ----------
    base
        The base config as a dict (its name gains ``-tuned``; its test split is kept).
    values
        The best trial's dotted key -> config value.
    number, monitor, value, n_finished
        For the header: trial number, metric, its validation value, trials finished.

    Returns
    -------
    str
    """
    import yaml

    d = apply_overrides(base, {**values, "name": f"{base['name']}-tuned"})
    validate_config(d, source="best.yaml")
    head = (f"# bindscape tune: best of {n_finished} finished trials is trial {number}, "
            f"{monitor} = {value:.6f} (validation split {base['data']['val_split']!r})\n"
            "# train it: bindscape train best.yaml\n")
    return head + yaml.safe_dump(d, sort_keys=False)


def write_outputs(study, base: dict, space: dict[str, DimSpec], tune_dir: Path, *, stopped_by: str,
                  budget_cpu_min: float) -> TuneResult:
    """Write ``trials.csv``, ``best.yaml`` (when a trial completed) and ``tune.json``.

    Parameters
    ----------
    study
        The `optuna.Study`.
    base, space, tune_dir
        As in `run_trial`.
    stopped_by
        Why the search stopped (``trials`` or ``budget``).
    budget_cpu_min
        The budget, for ``tune.json``.

    Returns
    -------
    TuneResult
    """
    from optuna.trial import TrialState

    df = trials_table(study, space)
    with atomic_path(tune_dir / "trials.csv") as tmp:
        df.to_csv(tmp, index=False)
    monitor = study.user_attrs.get("monitor", base["trainer"]["monitor"])
    res = TuneResult(tune_dir, df, monitor, stopped_by, float(study.user_attrs.get("cpu_seconds", 0.0)))
    counts = {s.name.lower(): int((df["state"] == s.name.lower()).sum()) if len(df) else 0 for s in TrialState}
    summary: dict[str, Any] = {"monitor": monitor, "direction": study.direction.name.lower(), "stopped_by": stopped_by,
                               "budget_cpu_min": budget_cpu_min, "cpu_seconds": res.cpu_seconds, "trials": counts,
                               "space": {k: s.model_dump(exclude_none=True) for k, s in space.items()}}
    if counts["complete"]:
        best = study.best_trial
        values = {k: config_value(space[k], v) for k, v in best.params.items() if k in space}
        text = best_config_yaml(base, values, number=best.number, monitor=monitor, value=best.value,
                                n_finished=counts["complete"] + counts["pruned"])
        atomic_write_text(tune_dir / "best.yaml", text)
        res.best_number, res.best_value, res.best_config = best.number, float(best.value), tune_dir / "best.yaml"
        summary.update(best_trial=best.number, best_value=res.best_value, best_params=values,
                       best_run=best.user_attrs.get("run"))
    atomic_write_text(tune_dir / "tune.json", json.dumps(summary, indent=2, default=str) + "\n")
    return res


# ------------------------------------------------------------------------------------------------ tune
def _search(study, base: dict, space: dict[str, DimSpec], tune_dir: Path, budget_s: float, trials: int | None,
            show_progress: bool | None) -> str:
    """Run trials until `trials` have finished (complete or pruned) or the CPU budget is spent."""
    from optuna.trial import TrialState

    from bindscape._util import progress
    from bindscape.train.engine import log_line

    prior, t0 = float(study.user_attrs.get("cpu_seconds", 0.0)), cpu_seconds()

    def spent() -> float:
        return prior + cpu_seconds() - t0

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))

    log_line(tune_dir, f"{'resume' if finished() else 'start'}: {finished()} finished trials, "
             f"{prior / 60:.2f} of {budget_s / 60:.2f} CPU-min spent; searching {', '.join(space)}")
    with progress(disable=None if show_progress is None else not show_progress) as bar:
        task = bar.add_task("tune", total=trials, completed=finished())
        started = False
        try:
            while True:
                if trials is not None and finished() >= trials:
                    return "trials"
                # the budget is checked between trials: a session with budget left always starts one trial
                # (otherwise its own start-up CPU time could exhaust a tiny budget before any trial runs)
                if (spent() if started else prior) >= budget_s:
                    return "budget"
                started = True
                study.optimize(lambda t: run_trial(t, base, space, tune_dir), n_trials=1)
                study.set_user_attr("cpu_seconds", round(spent(), 2))
                best = (f", best {study.best_value:.4f}"
                        if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) else "")
                bar.update(task, completed=finished(),
                           description=f"tune ({spent() / 60:.1f}/{budget_s / 60:.1f} CPU-min{best})")
        except (KeyboardInterrupt, SystemExit):
            msg = f"interrupted after {finished()} finished trials (kept in study.db); run the same command to resume"
            log_line(tune_dir, msg)
            print(f"bindscape tune: {msg}", file=sys.stderr)
            raise
        finally:
            fail_running(study)
            study.set_user_attr("cpu_seconds", round(spent(), 2))
            with atomic_path(tune_dir / "trials.csv") as tmp:
                trials_table(study, space).to_csv(tmp, index=False)


def run_tune(cfg: TrainConfig, budget_cpu_min: float | str, *, tune_config: TuneConfig | None = None,
         trials: int | None = None, out: str | Path | None = None, progress: bool | None = None) -> TuneResult:
    """Search hyper-parameters of `cfg` with Optuna within a CPU budget; resumable (see the module docstring).

    Parameters
    ----------
    cfg
        The base training config (its dataset needs a validation split).
    budget_cpu_min
        CPU minutes (this process and its children, plus earlier sessions of the same study); no trial
        starts once they are spent. Must be a positive number.
    tune_config
        Search space and settings (default `TuneConfig()`: the default space).
    trials
        Stop once the study holds this many finished (complete or pruned) trials, counting earlier
        sessions; None: only the budget stops the search.
    out
        The tune folder (default ``<out_dir>/<name>-tune``); an existing study there is resumed.
    progress
        Show the progress bar over trials (None: unless ``BINDSCAPE_PROGRESS=0``).

    Returns
    -------
    TuneResult
        Also written: ``study.db``, ``trials.csv``, ``best.yaml``, ``tune.json``, ``log.txt``, ``trials/``.
    """
    from filelock import FileLock, Timeout

    from bindscape.train.data import has_split, open_dataset

    budget = parse_budget(budget_cpu_min)
    if trials is not None and (isinstance(trials, bool) or int(trials) < 1):
        raise ConfigError(f"--trials: {trials!r} must be at least 1")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("bindscape tune needs optuna", hint="pip install 'optuna>=4'") from None
    tcfg = tune_config or TuneConfig()
    space = resolve_space(cfg, tcfg)
    if not has_split(open_dataset(cfg.dataset), cfg.data.val_split):
        raise NotEnoughDataError(f"{cfg.dataset}: no examples in validation split {cfg.data.val_split!r}",
                                 hint="tune selects on validation; build the dataset with a validation split")
    tune_dir = Path(out) if out is not None else cfg.run_dir.with_name(f"{cfg.name}-tune")
    tune_dir.mkdir(parents=True, exist_ok=True)
    base = cfg.model_dump(mode="json")
    lock = FileLock(tune_dir / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"{tune_dir}: another bindscape tune is running on this folder",
                          hint="wait for it, or use another --out") from None
    try:
        study = open_study(tune_dir, cfg, tcfg, space)
        stopped = _search(study, base, space, tune_dir, budget * 60, trials, progress)
        return write_outputs(study, base, space, tune_dir, stopped_by=stopped, budget_cpu_min=budget)
    finally:
        lock.release()


__all__ = ["run_tune", "TuneConfig", "TuneResult", "DimSpec", "load_tune_config", "parse_budget", "default_space",
           "resolve_space", "trials_table", "cpu_seconds"]

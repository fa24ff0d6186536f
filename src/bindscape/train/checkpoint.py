"""Checkpoints: `load_checkpoint(path)` restores the model and the resolved config from a file alone.

bindscape's Lightning checkpoints (``checkpoints/best.ckpt``, ``last.ckpt``) carry a ``bindscape`` entry
with the resolved training config and the model's constructor arguments as JSON strings, so they load with
``torch.load(..., weights_only=True)``. Multitask checkpoints add the condition vocabulary (TF and cell
names, trained pairs) and the track set, which `load_checkpoint` restores too (``loaded.vocab``,
``loaded.tracks``). `save_model` writes the same content without the training state (``model.pt``: the
format `load_checkpoint` also reads). A portable model bundle (``.bsm``, `bindscape.train.bundle`) holds
the same content plus a model card and a sha256, and loads the same way without its run folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bindscape.errors import BindscapeError, InputError

FORMAT = "bindscape-checkpoint/1"


class CheckpointError(InputError):
    """A checkpoint that is missing, damaged or not a bindscape checkpoint."""


@dataclass
class LoadedCheckpoint:
    """A model (eval mode) with its resolved config; `vocab`/`tracks` for multitask checkpoints."""

    model: Any  # BindscapeModel, in eval mode
    config: dict
    path: Path
    extra: dict = field(default_factory=dict)
    vocab: Any = None  # bindscape.data.multitask.ConditionVocab (multitask checkpoints)
    tracks: Any = None  # bindscape.data.tracks.TrackSet or None

    @property
    def length(self) -> int:
        return int(self.model.length)

    @property
    def rc_average(self) -> bool:
        return bool(self.config.get("trainer", {}).get("rc_average", True))

    def index(self, tf: str, cell: str | None) -> tuple[int, int]:
        """Embedding indices of a condition; unknown names raise `UnknownConditionError` listing the known ones.

        Parameters
        ----------
        tf, cell
            TF and cell-type names (cell None: no cell type).

        Returns
        -------
        tuple of int
        """
        if self.vocab is None:
            raise CheckpointError(f"{self.path}: not a multitask checkpoint (no condition names inside)")
        return self.vocab.index(tf, cell)


#: multitask checkpoints: the same object, typed for readers
LoadedMultitask = LoadedCheckpoint


def resolve_checkpoint(path: Path) -> Path:
    """A run folder -> its best checkpoint (``checkpoints/best.ckpt``, ``best.ckpt`` or ``model.pt``).

    Parameters
    ----------
    path
        A checkpoint file or a folder.

    Returns
    -------
    Path
    """
    if path.is_dir():
        for cand in (path / "checkpoints" / "best.ckpt", path / "best.ckpt", path / "model.pt"):
            if cand.exists():
                return cand
        raise CheckpointError(f"{path}: folder holds no best.ckpt or model.pt")
    return path


def read_checkpoint(path: Path) -> dict:
    """The raw dict of checkpoint file `path` (``weights_only=True``), checked to be a bindscape checkpoint:
    ``bindscape`` (format, config, model arguments) and ``state_dict``. A model bundle (``.bsm``,
    `bindscape.train.bundle`) is checked (format version, sha256) and its payload returned: the same dict,
    or for an ensemble bundle ``members`` (one such dict each), ``config`` and ``manifest``."""
    import torch

    from bindscape.train import bundle

    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint does not exist",
                              hint="train a model first (`bindscape train`) or check the path")
    if path.suffix == bundle.SUFFIX:
        return bundle.read_bundle(path).payload
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, unsafe globals
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({msg})",
                              hint="the file is damaged or incomplete; use another checkpoint (e.g. last.ckpt)") from None
    if bundle.looks_like_bundle(obj):  # a bundle under another file name
        return bundle.check_bundle(obj, path).payload
    if not isinstance(obj, dict) or not isinstance(obj.get("bindscape"), dict) or not isinstance(
            obj.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not a bindscape checkpoint (no model config inside)")
    if obj["bindscape"].get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {obj['bindscape'].get('format')!r}")
    return obj


def _build(meta: dict, path: Path, multitask: bool):
    from bindscape.models import get_model

    hp = json.loads(meta["model"])
    name = meta["model_name"]
    if multitask:
        from bindscape.models.conditioned import ConditionedModel
        from bindscape.models.nettime import NetTIME

        cls = {"nettime": NetTIME, "conditioned": ConditionedModel}.get(name)
        if cls is None:
            raise CheckpointError(f"{path}: unknown multitask model {name!r}")
        return cls(**hp)
    if name == "motif_hybrid":  # a registry model plus PWM-score features (model.motif_score: late)
        from bindscape.models.motif_init import MotifHybrid

        return MotifHybrid(**hp)
    return get_model(name, **hp)


def load_checkpoint(path: str | Path, *, map_location: str = "cpu") -> LoadedCheckpoint:
    """Rebuild the model (eval mode, on `map_location`) and the resolved config from a checkpoint.

    Parameters
    ----------
    path
        A checkpoint file (``best.ckpt``, ``last.ckpt``, ``model.pt``), a run folder, an ensemble folder
        (``ensemble.json`` + members: the model averages the members' probabilities,
        `bindscape.train.ensemble_model`), or a model bundle (``.bsm``, `bindscape export`; its sha256 and
        format version are checked).
    map_location
        Device for the model.

    Returns
    -------
    LoadedCheckpoint
        ``vocab`` and ``tracks`` are set for multitask checkpoints; ``extra`` holds the epoch and global
        step (and the multitask ``pos_weight``; for an ensemble, its manifest).
    """
    path = Path(path)
    from bindscape.train.ensemble_model import is_ensemble, open_ensemble

    if is_ensemble(path):  # an ensemble folder (bindscape ensemble): members averaged in probability
        model, config, extra, folder = open_ensemble(path, load_checkpoint, map_location=map_location)
        return LoadedCheckpoint(model=model, config=config, path=folder, extra=extra)
    if path.exists():
        path = resolve_checkpoint(path)
    obj = read_checkpoint(path)
    try:
        if "members" in obj:  # an ensemble bundle (bindscape export of an ensemble folder)
            from bindscape.train.ensemble_model import EnsembleModel

            members = [_loaded_from(m, path, map_location).model for m in obj["members"]]
            return LoadedCheckpoint(model=EnsembleModel(members).eval().to(map_location),
                                    config=json.loads(obj["config"]), path=path,
                                    extra={"manifest": json.loads(obj["manifest"])})
        return _loaded_from(obj, path, map_location)
    except BindscapeError as exc:  # e.g. an unknown model name: say which file holds it
        if str(path) in exc.message:
            raise
        raise CheckpointError(f"{path}: {exc.message}", hint=exc.hint) from None
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:  # right format, wrong contents
        what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}" if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({what})",
                              hint="use another checkpoint of the run (e.g. last.ckpt) or retrain") from None


def _loaded_from(obj: dict, path: Path, map_location: str) -> LoadedCheckpoint:
    """A `LoadedCheckpoint` from a checked checkpoint dict (`read_checkpoint`) read from `path`."""
    meta = obj["bindscape"]
    mt = json.loads(meta["multitask"]) if "multitask" in meta else None
    model = _build(meta, path, mt is not None)
    sd = obj["state_dict"]
    if any(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit model {meta['model_name']!r} ({str(exc)[:160]})") from None
    model.eval().to(map_location)
    extra = {k: v for k, v in obj.items() if k in ("epoch", "global_step")}
    loaded = LoadedCheckpoint(model=model, config=json.loads(meta["config"]), path=path, extra=extra)
    if mt is not None:
        from bindscape.data.multitask import ConditionVocab
        from bindscape.data.tracks import TrackSet

        loaded.vocab = ConditionVocab.from_dict(mt["conditions"])
        loaded.tracks = TrackSet.from_dict(mt.get("tracks"))
        loaded.extra["pos_weight"] = mt.get("pos_weight")
    return loaded


def load_multitask_checkpoint(path: str | Path, *, map_location: str = "cpu") -> LoadedMultitask:
    """`load_checkpoint` for multitask checkpoints: an error when the file holds no condition names.

    Parameters
    ----------
    path
        A checkpoint file or run folder.
    map_location
        Device for the model.

    Returns
    -------
    LoadedMultitask
        Model, config, ``vocab`` (TF and cell names, trained pairs) and ``tracks``.
    """
    p = Path(path)
    if p.exists():
        p = resolve_checkpoint(p)
    if "multitask" not in read_checkpoint(p).get("bindscape", {}):
        raise CheckpointError(f"{p}: not a multitask checkpoint (no condition names inside)",
                              hint="use `bindscape predict` for single-task checkpoints")
    return load_checkpoint(p, map_location=map_location)


def checkpoint_meta(config: dict, model, **extra: Any) -> dict:
    """The ``bindscape`` entry every training task stores in its Lightning checkpoints.

    Parameters
    ----------
    config
        The resolved training config (JSON-able).
    model
        The model (its ``hparams()`` rebuild it).
    **extra
        More JSON-able entries (e.g. ``multitask``: condition names and tracks), stored as JSON strings.

    Returns
    -------
    dict
    """
    meta = {"format": FORMAT, "config": json.dumps(config), "model": json.dumps(model.hparams()),
            "model_name": model.name}
    meta.update({k: json.dumps(v) for k, v in extra.items()})
    return meta


def save_model(path: str | Path, model, config: dict) -> Path:
    """Write weights + config only (no optimizer state), atomically.

    Parameters
    ----------
    path
        Output file (``model.pt``).
    model
        The model.
    config
        Its resolved training config.

    Returns
    -------
    Path
    """
    import torch

    from bindscape._util import atomic_path

    path = Path(path)
    obj = {"bindscape": checkpoint_meta(config, model),
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path

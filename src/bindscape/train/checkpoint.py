"""Checkpoints: `load_checkpoint(path)` restores the model and the resolved config from a file alone.

bindscape's Lightning checkpoints (``checkpoints/best.ckpt``, ``last.ckpt``) carry a ``bindscape`` entry
with the resolved training config and the model's constructor arguments as JSON strings, so they load with
``torch.load(..., weights_only=True)``. `save_model` writes the same content without the training state
(``model.pt``: the format `load_checkpoint` also reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bindscape.errors import InputError

FORMAT = "bindscape-checkpoint/1"


class CheckpointError(InputError):
    """A checkpoint that is missing, damaged or not a bindscape checkpoint."""


@dataclass
class LoadedCheckpoint:
    model: Any  # BindscapeModel, in eval mode
    config: dict
    path: Path
    extra: dict = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.model.length)

    @property
    def rc_average(self) -> bool:
        return bool(self.config.get("trainer", {}).get("rc_average", True))


def _resolve(path: Path) -> Path:
    if path.is_dir():
        for cand in (path / "checkpoints" / "best.ckpt", path / "best.ckpt", path / "model.pt"):
            if cand.exists():
                return cand
        raise CheckpointError(f"{path}: folder holds no best.ckpt or model.pt")
    return path


def _read(path: Path) -> dict:
    import torch

    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint does not exist",
                              hint="train a model first (`bindscape train`) or check the path")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, unsafe globals
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({msg})",
                              hint="the file is damaged or incomplete; use another checkpoint (e.g. last.ckpt)") from None
    if not isinstance(obj, dict) or "bindscape" not in obj or "state_dict" not in obj:
        raise CheckpointError(f"{path}: not a bindscape checkpoint (no model config inside)")
    if obj["bindscape"].get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {obj['bindscape'].get('format')!r}")
    return obj


def load_checkpoint(path: str | Path, *, map_location: str = "cpu") -> LoadedCheckpoint:
    """Rebuild the model (eval mode, on `map_location`) and the resolved config from a checkpoint."""
    from bindscape.models import get_model

    path = Path(path)
    if path.exists():
        path = _resolve(path)
    obj = _read(path)
    meta = obj["bindscape"]
    config = json.loads(meta["config"])
    hp = json.loads(meta["model"])
    model = get_model(meta["model_name"], **hp)
    sd = obj["state_dict"]
    if any(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit model {meta['model_name']!r} ({str(exc)[:160]})") from None
    model.eval().to(map_location)
    extra = {k: v for k, v in obj.items() if k in ("epoch", "global_step")}
    return LoadedCheckpoint(model=model, config=config, path=path, extra=extra)


def save_model(path: str | Path, model, config: dict) -> Path:
    """Write weights + config only (no optimizer state), atomically."""
    import torch

    from bindscape._util import atomic_path

    path = Path(path)
    obj = {"bindscape": {"format": FORMAT, "config": json.dumps(config), "model": json.dumps(model.hparams()),
                         "model_name": model.name},
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path

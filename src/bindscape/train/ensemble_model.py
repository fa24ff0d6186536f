"""Ensemble checkpoint folders: one model-like object that averages its members' probabilities.

An ensemble folder holds ``ensemble.json`` (format, averaging rule, and per member its checkpoint path
relative to the folder, sha256, seed and fold) plus the member checkpoints. `open_ensemble` checks every
member (present, sha256 as recorded, one input length, one output count) and returns an `EnsembleModel`;
`bindscape.train.load_checkpoint(folder)` calls it, so ``predict``, ``evaluate``, ``explain`` and the
reports use an ensemble like a single model.

Averaging: the ensemble's probability is the mean of its members' sigmoid probabilities (not of their
logits). `EnsembleModel.forward` returns the logit of that mean, so ``sigmoid(forward(x))`` is the mean
member probability; reverse-complement averaging (`bindscape.train.rc.predict_proba`) is linear in the
probabilities, so an RC-averaged ensemble prediction equals the mean of the members' RC-averaged
predictions.

This module imports nothing from `bindscape.train.checkpoint` (which imports it): members are loaded with
the function the caller passes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from bindscape.errors import InputError
from bindscape.models.base import InputLengthError

MANIFEST = "ensemble.json"
FORMAT = "bindscape-ensemble/1"
_EPS = 1e-12


class EnsembleError(InputError):
    """An ensemble folder whose manifest or member checkpoints are missing or damaged."""


class EnsembleModel(nn.Module):
    """Members averaged in probability space; ``forward`` returns the logit of the mean probability.

    Parameters
    ----------
    members
        Per-sequence models (``(N, 4, L)`` -> logits ``(N, K)``), all built for the same length and K.

    Notes
    -----
    ``embed(x)`` concatenates the members' embeddings. Attribution methods see the averaged model; Grad-CAM
    without a named layer uses the last member's last conv layer.
    """

    name = "ensemble"

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise EnsembleError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.length = int(members[0].length)
        self.n_outputs = int(members[0].n_outputs)
        self.fixed_length = any(getattr(m, "fixed_length", False) for m in members)

    @property
    def min_length(self) -> int:
        return max(int(getattr(m, "min_length", 1)) for m in self.members)

    @property
    def input_length_rule(self) -> str:
        return self.members[0].input_length_rule

    def check_length(self, length: int) -> None:
        """Raise `InputLengthError` unless every member takes `length` bp."""
        for m in self.members:
            m.check_length(length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.stack([torch.sigmoid(m(x).double()) for m in self.members]).mean(0)
        return torch.logit(p.clamp(_EPS, 1 - _EPS)).to(x.dtype)

    def member_probs(self, x: torch.Tensor) -> torch.Tensor:
        """``(M, N, K)`` sigmoid probabilities of each member on one strand."""
        return torch.stack([torch.sigmoid(m(x).float()) for m in self.members])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.embed(x) for m in self.members], dim=-1)

    def n_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def hparams(self) -> dict:
        return {"members": len(self.members)}


def is_ensemble(path: str | Path) -> bool:
    """True for an ensemble folder (it holds ``ensemble.json``) or the manifest file itself."""
    p = Path(path)
    return (p.is_dir() and (p / MANIFEST).exists()) or (p.is_file() and p.name == MANIFEST)


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict:
    """The checked ``ensemble.json`` of an ensemble `folder`: ``format``, ``average``, ``members`` (each with
    ``path`` and ``sha256``), ..."""
    f = folder / MANIFEST
    try:
        man = json.loads(f.read_text())
    except FileNotFoundError:
        raise EnsembleError(f"{f}: ensemble manifest does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnsembleError(f"{f}: not valid JSON ({exc})", hint="rebuild the ensemble (bindscape ensemble)") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise EnsembleError(f"{f}: not a bindscape ensemble manifest (format {FORMAT} expected)")
    members = man.get("members")
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) and "path" in m for m in members):
        raise EnsembleError(f"{f}: 'members' must list at least one member with a 'path'")
    return man


def check_member(folder: Path, entry: dict) -> Path:
    """The member's checkpoint path after checking that it exists and has the recorded sha256."""
    p = folder / entry["path"]
    if not p.exists():
        raise EnsembleError(f"{folder / MANIFEST}: member checkpoint {entry['path']} is missing",
                            hint="rebuild the ensemble, or remove the member from ensemble.json")
    want = entry.get("sha256")
    if want and sha256(p) != want:
        raise EnsembleError(f"{p}: member checkpoint is damaged (sha256 differs from ensemble.json)",
                            hint="rebuild the ensemble (bindscape ensemble ... --overwrite)")
    return p


def check_compatible(folder: Path, loaded: list, paths: list[Path]) -> None:
    """One clear error when members differ in input length, output count or RC averaging."""
    lengths = {int(ld.model.length) for ld in loaded}
    if len(lengths) > 1:
        per = ", ".join(f"{p.relative_to(folder)}={int(ld.model.length)} bp" for p, ld in zip(paths, loaded))
        raise InputLengthError(f"{folder}: ensemble members have different input lengths ({per})",
                               hint="ensemble only models trained on windows of one length")
    outs = {int(ld.model.n_outputs) for ld in loaded}
    if len(outs) > 1:
        raise EnsembleError(f"{folder}: ensemble members have different output counts ({sorted(outs)})")
    if len({bool(ld.rc_average) for ld in loaded}) > 1:
        raise EnsembleError(f"{folder}: ensemble members differ in trainer.rc_average",
                            hint="ensemble models trained with the same strand averaging")


def open_ensemble(path: str | Path, load_member: Callable, *, map_location: str = "cpu") -> tuple:
    """Read an ensemble folder: manifest, members checked and loaded, the averaging model.

    Parameters
    ----------
    path
        The ensemble folder (or its ``ensemble.json``).
    load_member
        ``load_member(path, map_location=...)`` -> a loaded checkpoint (`bindscape.train.load_checkpoint`).
    map_location
        Device for the members.

    Returns
    -------
    tuple
        ``(EnsembleModel in eval mode, config, extra, folder)``: the config is the first member's with an
        ``ensemble`` entry (average rule, member paths, seeds, folds); ``extra`` holds the manifest.
    """
    folder = Path(path)
    folder = folder.parent if folder.is_file() else folder
    man = read_manifest(folder)
    if man.get("average", "probability") != "probability":
        raise EnsembleError(f"{folder / MANIFEST}: average {man.get('average')!r} is not supported (probability)")
    paths = [check_member(folder, e) for e in man["members"]]
    loaded = []
    for p in paths:
        try:
            loaded.append(load_member(p, map_location=map_location))
        except InputError as exc:
            raise EnsembleError(f"{folder / MANIFEST}: member {p.relative_to(folder)}: {exc}") from None
    check_compatible(folder, loaded, paths)
    model = EnsembleModel([ld.model for ld in loaded]).eval().to(map_location)
    config = dict(loaded[0].config)
    config["ensemble"] = {"average": "probability", "members": [e["path"] for e in man["members"]],
                          "seeds": [e.get("seed") for e in man["members"]],
                          "folds": [e.get("fold") for e in man["members"]]}
    return model, config, {"manifest": man}, folder


__all__ = ["EnsembleModel", "EnsembleError", "open_ensemble", "is_ensemble", "read_manifest", "sha256",
           "MANIFEST", "FORMAT"]

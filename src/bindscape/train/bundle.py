"""Portable model bundles (``.bsm``): one file that `load_checkpoint` reads without the run folder.

A bundle is a plain ``torch.save`` dict that loads with ``torch.load(path, weights_only=True)`` (only
tensors, dicts, lists, strings and numbers)::

    {"bindscape_bundle": {"format": "bindscape-bundle", "format_version": 1, "bindscape_version": "0.1.0",
                          "sha256": "<hex digest of card + payload>"},
     "card": "<JSON: the model card>",
     "payload": {"bindscape": {...checkpoint meta...}, "state_dict": {...}}}     # one model
     "payload": {"members": [{"bindscape": ..., "state_dict": ...}, ...],        # an ensemble: every member
                 "config": "<JSON>", "manifest": "<JSON>"}

The payload is what `bindscape.train.checkpoint.read_checkpoint` returns for an ordinary checkpoint (the
model's weights only, no optimizer state), so a bundle restores exactly the same model. The card
(`model_card` in `bindscape.train.export`) records the resolved config, input length, output names or
conditions, the training data summary, metrics, bindscape version and the source's sha256.

The digest is computed over a canonical walk of the card and payload (keys sorted; each tensor's name,
dtype, shape and raw bytes) rather than over the file's bytes, so it checks what was stored, independent of
torch's zip layout. This module imports nothing from `bindscape.train.checkpoint` (which imports it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bindscape.errors import InputError

KEY = "bindscape_bundle"
FORMAT = "bindscape-bundle"
FORMAT_VERSION = 1
SUFFIX = ".bsm"


class BundleError(InputError):
    """A model bundle that is damaged, truncated, from a newer bindscape, or not a bundle at all."""


@dataclass
class Bundle:
    """A checked bundle: its header, card (a dict) and payload (a checkpoint-like dict)."""

    path: Path
    header: dict
    card: dict
    payload: dict

    @property
    def is_ensemble(self) -> bool:
        return "members" in self.payload


def _feed(h, obj: Any) -> None:
    """Feed a canonical encoding of `obj` (dicts, lists, str, numbers, None, tensors) into hash `h`."""
    import torch

    if isinstance(obj, dict):
        h.update(b"{%d" % len(obj))
        for k in sorted(obj, key=str):
            _feed(h, str(k))
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[%d" % len(obj))
        for v in obj:
            _feed(h, v)
        h.update(b"]")
    elif torch.is_tensor(obj):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, str):
        b = obj.encode()
        h.update(b"s%d:" % len(b) + b)
    elif obj is None or isinstance(obj, (bool, int, float)):
        h.update(f"n{obj!r};".encode())
    else:
        raise TypeError(f"bundle payload holds a {type(obj).__name__}; only tensors, dicts, lists, str, numbers")


def digest(card: str, payload: dict) -> str:
    """The sha256 hex digest a bundle records for its card and payload.

    Parameters
    ----------
    card
        The card as its JSON string.
    payload
        The payload dict.

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    _feed(h, card)
    _feed(h, payload)
    return h.hexdigest()


def write_bundle(path: str | Path, card: dict, payload: dict) -> Path:
    """Write a bundle atomically (temp file + rename): header, card and payload with its sha256.

    Parameters
    ----------
    path
        Output file (``.bsm``).
    card
        The model card (JSON-able).
    payload
        ``{"bindscape": meta, "state_dict": weights}`` or an ensemble payload (``members``, ``config``,
        ``manifest``).

    Returns
    -------
    Path
    """
    import torch

    from bindscape import __version__
    from bindscape._util import atomic_path

    path = Path(path)
    card_s = json.dumps(card, sort_keys=True, default=str)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "bindscape_version": __version__,
              "sha256": digest(card_s, payload)}
    with atomic_path(path) as tmp:
        torch.save({KEY: header, "card": card_s, "payload": payload}, tmp)
    return path


def looks_like_bundle(obj: Any) -> bool:
    """True when a loaded object carries a bundle header (whatever its file name)."""
    return isinstance(obj, dict) and KEY in obj


def check_bundle(obj: Any, path: str | Path) -> Bundle:
    """Check a loaded bundle object: header, format version, sha256; return it as a `Bundle`.

    Parameters
    ----------
    obj
        What ``torch.load(path, weights_only=True)`` returned.
    path
        Its file (named in errors).

    Returns
    -------
    Bundle
    """
    from bindscape import __version__

    path = Path(path)
    if not looks_like_bundle(obj) or not isinstance(obj[KEY], dict) or obj[KEY].get("format") != FORMAT:
        raise BundleError(f"{path}: not a bindscape model bundle",
                          hint="make one with `bindscape export RUN_FOLDER -o model.bsm`")
    head = obj[KEY]
    ver = head.get("format_version")
    if not isinstance(ver, int) or ver > FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format version {ver} (written by bindscape "
                          f"{head.get('bindscape_version')}) is newer than this bindscape {__version__} reads "
                          f"(up to {FORMAT_VERSION})", hint="upgrade bindscape to load it")
    card, payload = obj.get("card"), obj.get("payload")
    if not isinstance(card, str) or not isinstance(payload, dict):
        raise BundleError(f"{path}: damaged model bundle (card or payload missing)",
                          hint="export the model again (`bindscape export`)")
    try:
        ok = digest(card, payload) == head.get("sha256")
    except TypeError:
        ok = False
    if not ok:
        raise BundleError(f"{path}: damaged model bundle (sha256 of its contents differs from the recorded one)",
                          hint="export the model again (`bindscape export`) or copy the file again")
    return Bundle(path=path, header=head, card=json.loads(card), payload=payload)


def read_bundle(path: str | Path) -> Bundle:
    """Load and check a ``.bsm`` file (``weights_only=True``).

    Parameters
    ----------
    path
        The bundle file.

    Returns
    -------
    Bundle
        A `BundleError` (one line) when the file is missing, truncated, damaged, newer or not a bundle.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model bundle does not exist" if not path.exists() else
                          f"{path}: not a model bundle (a folder)", hint="check the path")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a torch file, unsafe globals
        msg = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise BundleError(f"{path}: not a readable model bundle ({msg})",
                          hint="the file is truncated or not a bundle; export it again (`bindscape export`)") from None
    return check_bundle(obj, path)


__all__ = ["Bundle", "BundleError", "read_bundle", "write_bundle", "check_bundle", "looks_like_bundle", "digest",
           "FORMAT", "FORMAT_VERSION", "SUFFIX"]

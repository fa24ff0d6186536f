"""`export_bundle`: a run folder, checkpoint or ensemble folder -> one portable ``.bsm`` model bundle.

The bundle (format: `bindscape.train.bundle`) holds the model's weights and checkpoint meta exactly as
`load_checkpoint` reads them, plus a model card: resolved config, input length, output names or
conditions, a summary of the training data (from the dataset's ``dataset.json``), the run's metrics, the
bindscape version and the source checkpoint's sha256. An ensemble folder is bundled whole (every member),
so the bundle predicts like the folder. After writing, the bundle is read back and its weights compared
with the source's, tensor by tensor.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from bindscape.errors import InputError
from bindscape.train.bundle import BundleError, read_bundle, write_bundle
from bindscape.train.checkpoint import LoadedCheckpoint, load_checkpoint, read_checkpoint, resolve_checkpoint
from bindscape.train.ensemble_model import check_member, is_ensemble, read_manifest, sha256

_SUMMARY_KEYS = ("format", "builder", "seed", "genome", "summary", "regions_sha256", "bindscape_version")


def _model_only(obj: dict) -> dict:
    """The checkpoint dict reduced to what `load_checkpoint` needs: meta, model weights, epoch and step."""
    sd = obj["state_dict"]
    if any(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
    out = {"bindscape": dict(obj["bindscape"]), "state_dict": {k: v.detach().cpu().clone() for k, v in sd.items()}}
    out.update({k: int(obj[k]) for k in ("epoch", "global_step") if k in obj})
    return out


def _run_folder(source: Path, ckpt: Path | None) -> Path | None:
    """The folder whose ``metrics.json`` describes the model, if any."""
    if source.is_dir():
        return source
    if ckpt is not None and ckpt.parent.name == "checkpoints":
        return ckpt.parent.parent
    return ckpt.parent if ckpt is not None else None


def training_data_summary(dataset: str | None) -> dict:
    """The training data as a card records it: the dataset path plus its ``dataset.json`` summary.

    Parameters
    ----------
    dataset
        The dataset folder named in the training config.

    Returns
    -------
    dict
        ``path`` and, when the folder is readable, ``builder``, ``seed``, ``genome``, ``summary`` (counts per
        split/label), ``length`` and the parquet's sha256; ``available: False`` otherwise.
    """
    if not dataset:
        return {"path": None, "available": False}
    meta_file = Path(dataset) / "dataset.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return {"path": str(dataset), "available": False}
    out = {"path": str(dataset), "available": True, **{k: meta.get(k) for k in _SUMMARY_KEYS if k in meta}}
    params = meta.get("params") or {}
    out["length"] = params.get("length")
    return out


def _outputs(loaded: LoadedCheckpoint) -> dict:
    """Output names (binary/multi-label heads) or the condition vocabulary (multitask models)."""
    out: dict = {"n_outputs": int(getattr(loaded.model, "n_outputs", 1))}
    if loaded.vocab is not None:
        out["conditions"] = loaded.vocab.to_dict()
        out["tracks"] = loaded.tracks.to_dict() if loaded.tracks is not None else None
        return out
    cols = list((loaded.config.get("data") or {}).get("label_columns") or [])
    out["names"] = cols if len(cols) == out["n_outputs"] else [f"output{i}" for i in range(out["n_outputs"])]
    return out


def model_card(loaded: LoadedCheckpoint, source: Path, ckpt: Path | None, members: list | None = None) -> dict:
    """The card a bundle carries (what `bindscape info model.bsm` prints).

    Parameters
    ----------
    loaded
        The loaded source model.
    source
        What the user exported (run folder, checkpoint file or ensemble folder).
    ckpt
        The checkpoint file read (None for an ensemble folder).
    members
        Ensemble members as ``(relative path, sha256)`` pairs, or None.

    Returns
    -------
    dict
    """
    from bindscape import __version__

    model = loaded.model
    run = _run_folder(source, ckpt)
    metrics = None
    if run is not None and (run / "metrics.json").is_file():
        try:
            metrics = json.loads((run / "metrics.json").read_text())
        except ValueError:
            metrics = None
    card = {
        "name": loaded.config.get("name"),
        "model": getattr(model, "name", type(model).__name__),
        "hparams": model.hparams() if hasattr(model, "hparams") else {},
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "input_length": int(model.length),
        "input_length_rule": getattr(model, "input_length_rule", None),
        "rc_average": loaded.rc_average,
        "outputs": _outputs(loaded),
        "config": loaded.config,
        "training_data": training_data_summary(loaded.config.get("dataset")),
        "metrics": metrics,
        "epoch": loaded.extra.get("epoch"),
        "global_step": loaded.extra.get("global_step"),
        "source": {"path": str(source.resolve()), "checkpoint": str(ckpt.resolve()) if ckpt else None,
                   "sha256": sha256(ckpt) if ckpt else None},
        "bindscape_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if members is not None:
        card["ensemble"] = {**(loaded.config.get("ensemble") or {}), "average": "probability",
                            "members": [{"path": p, "sha256": s} for p, s in members]}
    return card


def _ensemble_payload(folder: Path, loaded: LoadedCheckpoint) -> tuple[dict, list]:
    folder = folder.parent if folder.is_file() else folder
    man = read_manifest(folder)
    paths = [check_member(folder, e) for e in man["members"]]
    payload = {"members": [_model_only(read_checkpoint(resolve_checkpoint(p))) for p in paths],
               "config": json.dumps(loaded.config), "manifest": json.dumps(man)}
    return payload, [(e["path"], sha256(p)) for e, p in zip(man["members"], paths)]


def _check_same_weights(out: Path, payload: dict) -> None:
    """Read the bundle back and compare every tensor with what was meant to be written."""
    import torch

    back = read_bundle(out).payload
    want = payload.get("members", [payload])
    got = back.get("members", [back])
    same = len(want) == len(got) and all(
        a["state_dict"].keys() == b["state_dict"].keys()
        and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
        for a, b in zip(want, got))
    if not same:
        raise BundleError(f"{out}: the written bundle's weights differ from the source's", hint="export it again")


def export_bundle(source: str | Path, out: str | Path, *, overwrite: bool = False) -> tuple[Path, dict]:
    """Write the model at `source` as one portable bundle file `out` (atomically; read back and checked).

    Parameters
    ----------
    source
        A run folder, a checkpoint file (``best.ckpt``, ``last.ckpt``, ``model.pt``), an ensemble folder
        (every member is bundled) or another bundle.
    out
        The bundle file to write (``.bsm``).
    overwrite
        Replace an existing `out`.

    Returns
    -------
    tuple
        ``(out, card)``.
    """
    source, out = Path(source), Path(out)
    if not source.exists():
        raise InputError(f"{source}: no such run folder or checkpoint", hint="pass a run folder or a best.ckpt")
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists", hint="pass --overwrite to replace it, or choose another -o")
    loaded = load_checkpoint(source)
    if is_ensemble(source):
        payload, members = _ensemble_payload(source, loaded)
        card = model_card(loaded, source.parent if source.is_file() else source, None, members)
    else:
        ckpt = resolve_checkpoint(source)
        obj = read_checkpoint(ckpt)
        payload = obj if "members" in obj else _model_only(obj)  # "members": re-exporting an ensemble bundle
        card = model_card(loaded, source, ckpt)
    write_bundle(out, card, payload)
    _check_same_weights(out, payload)
    return out, card


__all__ = ["export_bundle", "model_card", "training_data_summary"]

"""The ``joint_morale`` cross-species mode: every species' labels (as ``joint``) + lam * L_MORALE on the
background embeddings (as ``morale``), issue 19 claim 4b."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from bindscape.errors import ConfigError
from bindscape.recipes.kinds.cross_species import CrossSpeciesRecipe, _config, mode_lam
from bindscape.train.tasks.cross_species import (
    MODES,
    CrossSpeciesPlugin,
    CrossSpeciesTask,
    morale_loss,
    train_cross_species,
    validate_cross_species,
)

torch.set_num_threads(1)


def _cfg(ds, tmp_path, mode, lam=1.0, **kw):
    return {"species": ds, "target": "primate", "mode": mode, "lam": lam, "name": f"{mode}-{lam:g}",
            "out_dir": str(tmp_path), "model": {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8}},
            "batch": {"pos_per_species": 4, "neg_per_species": 4, "background_per_species": 6, "steps_per_epoch": 2},
            "trainer": {"max_epochs": 1, "progress": False, "patience": None, "seed": 0}, **kw}


def test_config_accepts_joint_morale():
    base = {"species": {"primate": "x", "rodent": "y", "fish": "z"}, "target": "primate"}
    cfg = validate_cross_species({**base, "mode": "joint_morale", "lam": 0.003})
    assert "joint_morale" in MODES and cfg.mode == "joint_morale" and cfg.lam == 0.003
    assert cfg.labelled_species == ["primate", "rodent", "fish"]  # the target's labels too, as joint
    assert cfg.labelled_species == validate_cross_species({**base, "mode": "joint"}).labelled_species
    assert cfg.source_species == ["rodent", "fish"]
    with pytest.raises(ConfigError, match="mode"):
        validate_cross_species({**base, "mode": "joint-morale"})


def test_recipe_lambda_falls_back_to_morale():
    assert mode_lam({"morale": 0.003, "grl": 1.0}, "joint_morale") == 0.003
    assert mode_lam({"morale": 0.003, "joint_morale": 0.01}, "joint_morale") == 0.01
    assert mode_lam({"grl": 1.0}, "joint_morale") is None and mode_lam({}, "joint_morale", 1.0) == 1.0
    assert mode_lam({"morale": 0.003}, "grl") is None
    rec = CrossSpeciesRecipe.model_validate({"name": "r", "data": {"tf": "FOXA1", "cell": "liver"},
                                             "target": "primate", "modes": ["joint", "joint_morale"],
                                             "lam": {"morale": 0.003}})
    ds = {"primate": "p", "rodent": "r"}
    d = _config(rec, ds, Path("/tmp/x"), mode="joint_morale", seed=1, name="jm")
    assert d["mode"] == "joint_morale" and d["lam"] == 0.003
    assert _config(rec, ds, Path("/tmp/x"), mode="joint", seed=1, name="j")["lam"] == 0.0


def test_batches_use_target_labels_and_background(tiny_species, tmp_path):
    cfg = validate_cross_species(_cfg(tiny_species, tmp_path, "joint_morale"))
    prep = CrossSpeciesPlugin().setup(cfg, resume=False)
    x, y, dom, bg = next(iter(prep.train_loader))
    tgt = cfg.domain_species.index("primate")
    for d in range(2):  # each species: 4 bound + 4 unbound labelled rows and 6 background rows
        assert int((~bg & (dom == d) & (y == 1)).sum()) == 4 and int((~bg & (dom == d) & (y == 0)).sum()) == 4
        assert int((bg & (dom == d)).sum()) == 6
    assert int((~bg & (dom == tgt)).sum()) == 8  # the target's labels train the model


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_loss_is_joint_bce_plus_lambda_morale(tiny_species, tmp_path):
    """On one batch: joint_morale's loss = the BCE of the labelled rows (joint's loss) + lam * L_MORALE."""
    cfg = validate_cross_species(_cfg(tiny_species, tmp_path, "joint_morale", lam=0.5))
    prep = CrossSpeciesPlugin().setup(cfg, resume=False)
    batch = next(iter(prep.train_loader))
    x, y, dom, bg = batch
    task = prep.module
    task.eval()  # no dropout, fixed batch-norm statistics: the same embeddings in every call
    got = task.training_step(batch, 0)
    emb = task.model.embed(x)
    bce = task.bce(task.model.head(emb[~bg]), y[~bg])
    assert got.item() == pytest.approx((bce + 0.5 * morale_loss(emb[bg], dom[bg])).item(), rel=1e-5)
    joint = CrossSpeciesTask(task.model, {**cfg.model_dump(mode="json"), "mode": "joint"},
                             species=task.species, selection=task.selection)
    assert joint.training_step(batch, 0).item() == pytest.approx(bce.item(), rel=1e-5)
    assert got.item() > bce.item()  # the species' background embeddings differ: the MORALE term is > 0


def test_lambda_changes_training(tiny_species, tmp_path):
    runs = {lam: train_cross_species(_cfg(tiny_species, tmp_path, "joint_morale", lam=lam)) for lam in (0.0, 1.0)}
    pred = {lam: pd.read_parquet(r / "predictions.parquet")["prob"].to_numpy() for lam, r in runs.items()}
    assert len(pred[0.0]) == len(pred[1.0]) and abs(pred[0.0] - pred[1.0]).max() > 1e-4
    m = json.loads((runs[1.0] / "metrics.json").read_text())
    assert m["mode"] == "joint_morale" and m["lam"] == 1.0 and set(m["test"]) == {"primate", "rodent"}
    log = (runs[1.0] / "log.txt").read_text()
    assert "labelled primate, rodent" in log or "labelled rodent, primate" in log

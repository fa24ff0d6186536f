"""``trainer.max_epochs: auto`` (the default of single-task training): epochs scale with the training set."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from bindscape.errors import ConfigError
from bindscape.train import auto_epochs, train, validate_config
from bindscape.train.config import AUTO_EPOCH_RANGE
from conftest import assert_one_error, cli, planted_dataset

torch.set_num_threads(1)
TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}


def test_rule_sees_a_fixed_number_of_examples_clamped():
    lo, hi = AUTO_EPOCH_RANGE
    assert (lo, hi) == (6, 30)
    assert auto_epochs(1_904) == hi  # GUE mouse/3: 115 passes wanted, clamped to 30
    assert auto_epochs(32_378) == 7  # GUE human/0 (the benchmark's 7 epochs)
    assert auto_epochs(50_000) == lo  # 4.4 passes wanted, at least 6
    assert auto_epochs(10_000_000) == lo and auto_epochs(0) == hi
    assert [auto_epochs(n) for n in (11_000, 22_000, 44_000)] == [20, 10, 6]


def test_default_is_auto_and_an_explicit_number_wins():
    assert validate_config({"dataset": "x"}).trainer.max_epochs == "auto"
    assert validate_config({"dataset": "x", "trainer": {"max_epochs": 3}}).trainer.max_epochs == 3
    for bad in (0, "many", 2.5, True):
        with pytest.raises(ConfigError, match=r"trainer.max_epochs: must be 'auto' or a whole number"):
            validate_config({"dataset": "x", "trainer": {"max_epochs": bad}})


def test_cross_species_keeps_its_fixed_default():
    from bindscape.train import TrainerConfig

    assert TrainerConfig().max_epochs == 10


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("auto")
    ds = planted_dataset(root, {"train": 200, "val": 60, "test": 60}, 40, seed=1)
    return root, ds


def _cfg(root, ds, name, trainer):
    return {"dataset": str(ds), "name": name, "out_dir": str(root / "runs"), "model": TINY,
            "data": {"batch_size": 50}, "trainer": {"progress": False, "patience": None, "threads": 1, **trainer}}


def test_auto_is_resolved_from_the_training_set_and_recorded(toy, monkeypatch):
    import bindscape.train.config as config

    root, ds = toy
    # 200 training rows; a smaller example budget keeps the test fast: round(600 / 200) = 3 epochs
    monkeypatch.setattr(config, "AUTO_EPOCH_EXAMPLES", 600)
    monkeypatch.setattr(config, "AUTO_EPOCH_RANGE", (1, 30))
    run = train(validate_config(_cfg(root, ds, "auto", {})))
    m = json.loads((run / "metrics.json").read_text())
    assert m["max_epochs"] == 3 and m["max_epochs_source"] == "auto" and m["n_train"] == 200
    assert m["epochs_run"] == 3
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_epochs"] == 3
    # an explicit number wins over the rule
    run = train(validate_config(_cfg(root, ds, "fixed", {"max_epochs": 1})))
    m = json.loads((run / "metrics.json").read_text())
    assert m["max_epochs"] == 1 and m["max_epochs_source"] == "config" and m["epochs_run"] == 1


def test_cli_rejects_a_bad_epoch_setting(toy, tmp_path, capsys):
    root, ds = toy
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_cfg(root, ds, "bad", {"max_epochs": "lots"})))
    code, _, err = cli(["train", path], capsys)
    assert_one_error(code, err, "trainer.max_epochs", "'auto'")

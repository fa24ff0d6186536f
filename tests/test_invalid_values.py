"""Invalid config values are one clear error, never a traceback or a silent change (issue 17, class 3).

``model.params`` are checked against the model's constructor before any work (a negative or non-numeric
size used to end in a torch traceback or in the leaked text "not all arguments converted during string
formatting"), and a ``data.val_split`` the dataset does not have is an error naming the field and the splits
present (a typo used to train with no validation and exit 0).
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from bindscape.cli import run_cli
from bindscape.errors import ConfigError
from bindscape.train.config import validate_config


@pytest.mark.parametrize(("params", "needle"), [
    ({"channels": -4}, "model.params.channels: -4 must be >= 1"),
    ({"channels": "sixteen"}, "model.params.channels: 'sixteen' is not a whole number"),
    ({"dropout": 1.5}, "model.params.dropout: 1.5 must be >= 0 and < 1"),
    ({"dilations": [1, 0]}, "model.params.dilations"),
    ({"chanels": 8}, "model.params.chanels: not an argument of model 'bindscape_cnn'"),
])
def test_bad_model_params_name_the_field(params, needle):
    with pytest.raises(ConfigError) as exc:
        validate_config({"dataset": "x", "model": {"params": params}}, source="cfg.yaml")
    assert needle in exc.value.message and "\n" not in exc.value.message
    assert "not all arguments converted" not in str(exc.value)


def test_good_model_params_still_validate():
    cfg = validate_config({"dataset": "x", "model": {"params": {"channels": 16, "hidden": 16, "dilations": [1],
                                                                 "dropout": 0.0}}})
    assert cfg.model.params["channels"] == 16


def _dataset(tmp_path):
    from bindscape.data.sequences import build_sequence_dataset
    from conftest import planted_sequences

    planted_sequences(40, 60, np.random.default_rng(0)).to_csv(tmp_path / "s.csv", index=False)
    return build_sequence_dataset(tmp_path / "ds", inputs=[tmp_path / "s.csv"], val_frac=0.2, test_frac=0.2)


@pytest.mark.parametrize("channels", [-4, "sixteen"])
def test_train_with_bad_channels_is_one_line(tmp_path, capsys, channels):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": str(tmp_path / "ds"), "out_dir": str(tmp_path / "runs"),
                                   "model": {"params": {"channels": channels}}}))
    rc = run_cli(["train", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error: ") and "model.params.channels" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_val_split_typo_is_an_error(tmp_path, capsys):
    ds = _dataset(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": str(ds), "out_dir": str(tmp_path / "runs"),
                                   "model": {"params": {"channels": 8, "hidden": 8, "dilations": [1]}},
                                   "data": {"val_split": "validation", "batch_size": 16},
                                   "trainer": {"max_epochs": 1, "progress": False}}))
    rc = run_cli(["train", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2, err
    line = err.splitlines()[0]
    assert "data.val_split" in line and "'validation'" in line and "test, train, val" in line, err
    assert "Traceback" not in err

"""benchmarks/gue.py --pretrain: each task fine-tunes its own output of the pooled model and is charged a
ninth of the pretraining CPU; --dev-only keeps the trainer off the test split (no training here)."""

from __future__ import annotations

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def gue():
    return load_benchmark("gue")


def test_finetune_overrides_pick_the_tasks_output_and_split_the_cpu(gue):
    pre = {"checkpoint": "/x/pretrain/checkpoints/best.ckpt", "cpu_seconds": 9 * 60.0}
    ov, share = gue.finetune_overrides("mouse/4", pre, {"optim.lr": 1e-3})
    assert ov == {"finetune.checkpoint": pre["checkpoint"], "finetune.output": "label_mouse_4", "optim.lr": 1e-3}
    assert share == pytest.approx(1.0)  # nine tasks share 9 CPU-minutes
    assert gue.finetune_overrides("human/0", pre, {}, shared_by=4)[1] == pytest.approx(9 / 4)
    assert gue.finetune_overrides("human/0", None, {"a": 1}) == ({"a": 1}, 0.0)


def test_task_config_fine_tunes_and_dev_only_drops_the_test_split(gue, tmp_path):
    pre = {"checkpoint": str(tmp_path / "best.ckpt"), "cpu_seconds": 0.0}
    ov, _ = gue.finetune_overrides("human/3", pre, {})
    cfg = gue.task_config("human/3", tmp_path / "ds", tmp_path, 1, 0, 27_294, ov, dev_only=True)
    assert cfg.finetune.output == "label_human_3" and cfg.finetune.checkpoint == pre["checkpoint"]
    assert cfg.data.test_split is None and cfg.trainer.max_epochs == gue.epochs_for(27_294)
    full = gue.task_config("human/3", tmp_path / "ds", tmp_path, 1, 0, 27_294, {}, epochs=3)
    assert full.data.test_split == "test" and full.finetune is None and full.trainer.max_epochs == 3

"""DDP: how batches are dealt to ranks (fast, ranks simulated), and real two-process training on CPU with
the gloo backend (slow: each run starts a second Python process; `make bench` / `pytest -m slow`). The
same code paths run on GPUs with `accelerator: gpu, devices: N`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bindscape.train.data import EpochBatchSampler

DDP = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "progress": False, "threads": 1,
       "max_epochs": 1, "patience": None}
MODEL = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8}}


def _bindscape(args, cwd):
    exe = Path(sys.executable).with_name("bindscape")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _as_rank(monkeypatch, rank, world=2):
    monkeypatch.setattr(EpochBatchSampler, "_rank_world", staticmethod(lambda: (rank, world)))


@pytest.mark.parametrize("n,batch", [(10, 3), (5, 4), (1, 8), (64, 16)])
def test_ranks_get_equal_training_steps_and_disjoint_eval_rows(monkeypatch, n, batch):
    from bindscape.data.torchdata import BalancedBatchSampler
    from bindscape.train.data import ShardedBalancedSampler
    from bindscape.train.domain import CrossSpeciesBatchSampler

    train, evals, bal, cs = {}, {}, {}, {}
    labels = (np.arange(n) % 3 == 0).astype(float)
    labels[0] = 1
    labels[-1] = 0 if n > 1 else labels[-1]
    for r in (0, 1):
        _as_rank(monkeypatch, r)
        s = EpochBatchSampler(n, batch, shuffle=True, seed=1)
        train[r] = list(s)
        assert len(s) == len(train[r])
        e = EpochBatchSampler(n, batch, shuffle=False)
        evals[r] = list(e)
        assert len(e) == len(evals[r])
        if n > 1:
            b = ShardedBalancedSampler(BalancedBatchSampler(labels, 2, seed=0))
            bal[r] = list(b)
            assert len(b) == len(bal[r])
            c = CrossSpeciesBatchSampler([labels], [0], [np.arange(n)], pos=1, neg=1, bg=2, steps=5, seed=0)
            cs[r] = list(c)
            assert len(c) == len(cs[r]) == 3
    assert len(train[0]) == len(train[1])  # DDP all-reduces gradients every step: equal step counts
    assert sorted(i for b in train[0] + train[1] for i in b) >= list(range(n))  # every row seen (wrap-around)
    rows = sorted(i for b in evals[0] + evals[1] for i in b)
    assert rows == list(range(n))  # evaluation: every row exactly once
    if n >= 2:
        assert evals[0] and evals[1]
    if bal:
        assert len(bal[0]) == len(bal[1])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["morale", "grl"])
def test_cross_species_ddp(tmp_path, tiny_species, mode):
    cfg = {"species": tiny_species, "target": "primate", "mode": mode, "lam": 0.001, "name": "cs",
           "out_dir": str(tmp_path), "model": MODEL, "species_head": {"hidden": [16, 8]},
           "batch": {"pos_per_species": 4, "neg_per_species": 4, "background_per_species": 6,
                     "steps_per_epoch": 4, "eval_batch_size": 24},  # 24: uneven validation shards per rank
           "trainer": DDP}
    (tmp_path / "cs.yaml").write_text(yaml.safe_dump(cfg))
    r = _bindscape(["train-cross-species", str(tmp_path / "cs.yaml")], tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    m = json.loads((tmp_path / "cs" / "metrics.json").read_text())
    assert m["finished"] and set(m["test"]) == {"primate", "rodent"}
    assert (tmp_path / "cs" / "log.txt").read_text().count("start:") == 1  # only the first process logs


@pytest.mark.slow
def test_single_task_ddp(tmp_path, tiny_species):
    cfg = {"dataset": tiny_species["primate"], "name": "st", "out_dir": str(tmp_path), "model": MODEL,
           "data": {"batch_size": 24}, "trainer": DDP}
    (tmp_path / "st.yaml").write_text(yaml.safe_dump(cfg))
    r = _bindscape(["train", str(tmp_path / "st.yaml")], tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    m = json.loads((tmp_path / "st" / "metrics.json").read_text())
    assert 0 <= m["test"]["auprc"] <= 1

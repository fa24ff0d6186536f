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

from bindscape.train.samplers import EpochBatchSampler

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
    from bindscape.train.samplers import (
        BalancedBatchSampler,
        CrossSpeciesBatchSampler,
        ShardedBalancedSampler,
    )

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


_MT_SCRIPT = """
import sys

import yaml

from bindscape.train import train_multitask, validate_multitask_config

train_multitask(validate_multitask_config(yaml.safe_load(open(sys.argv[1]))))
"""


def _multitask_dataset(root: Path) -> Path:
    import pandas as pd

    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp
    from conftest import write_fasta

    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), 20_000)) for c in ("chr1", "chr2", "chr3")}
    write_fasta(root / "g.fa", seqs)
    conds = []
    for tf, cell in (("TA", "c1"), ("TA", "c2"), ("TB", "c1")):
        rows = [(c, int(s), int(s) + 60) for c in seqs for s in rng.integers(200, 19_000, 10)]
        p = root / f"{tf}.{cell}.bed"
        pd.DataFrame(rows).to_csv(p, sep="\t", header=False, index=False)
        conds.append(Condition(tf, cell, None, str(p)))
    return build_multitask_bp(root / "g.fa", conds, root / "data", length=100, background=0.5, split="chroms",
                              val=["chr2"], test=["chr3"], seed=0)


@pytest.mark.slow
def test_multitask_ddp_writes_what_one_process_writes(tmp_path):
    data = _multitask_dataset(tmp_path)
    (tmp_path / "mt.py").write_text(_MT_SCRIPT)
    model = {"name": "nettime", "params": {"channels": 8, "d_tf": 4, "d_cell": 4, "n_blocks": 1, "decoder": 8}}
    files = {}
    for name, devices in (("one", 1), ("two", 2)):
        trainer = {**DDP, "devices": devices, "strategy": "ddp" if devices > 1 else "auto", "max_epochs": 2}
        cfg = {"dataset": str(data), "name": name, "out_dir": str(tmp_path), "model": model,
               "data": {"batch_size": 16}, "trainer": trainer}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        r = subprocess.run([sys.executable, str(tmp_path / "mt.py"), str(tmp_path / f"{name}.yaml")], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
        run = tmp_path / name
        files[name] = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
        m = json.loads((run / "metrics.json").read_text())
        assert m["finished"] and m["epochs_run"] == 2 and 0 <= m["best_val_auprc"] <= 1
        assert (run / "log.txt").read_text().count("start:") == 1  # only the first process logs
        assert (run / "logs" / "csv" / "metrics.csv").exists()  # multitask runs log like every task
    assert files["one"] == files["two"]

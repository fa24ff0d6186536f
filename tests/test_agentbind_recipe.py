"""The ``agentbind`` recipe kind: a tiny end-to-end run on a simulated genome, tables checked against each
other, resume, and one-line schema errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bindscape.errors import ConfigError
from bindscape.recipes import load_recipe, run_recipe

SIM = "${sim}/sim"
TINY = {
    "name": "tiny-agentbind",
    "kind": "agentbind",
    "vars": {"seed": 0},
    "simulate": {"preset": "small", "seed": "${seed}",
                 "set": {"tfs.GATA1.sites_per_mb": 1500, "tfs.CTCF.sites_per_mb": 1500,
                         "cells.erythroid.accessible_fraction": 0.3,
                         "species.*.chrom_sizes": [250_000, 200_000, 200_000]}},
    "data": {"genome": f"{SIM}/genome.fa.gz", "accessible": f"{SIM}/accessibility/erythroid.narrowPeak",
             "tfs": {"GATA1": {"motif": "MA0035.4", "peaks": f"{SIM}/peaks/GATA1.erythroid.narrowPeak"},
                     "CTCF": {"motif": "MA0139.1", "peaks": f"{SIM}/peaks/CTCF.erythroid.narrowPeak"}},
             "length": 100, "pvalue": 1e-3},
    "models": [{"name": "cnn", "model": {"name": "bindscape_cnn",
                                         "params": {"channels": 16, "hidden": 16, "dilations": [1]}},
                "data": {"batch_size": 64}, "trainer": {"max_epochs": 2, "patience": None, "threads": 1}}],
    "pretrain": {"trainer": {"max_epochs": 2}},
    "evaluate": {"bootstrap": 20},
    "explain": {"n": 40, "k": 4, "top_frac": 0.2},
}


def _write(tmp_path: Path, recipe: dict) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(recipe))
    return p


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("agentbind")
    lines: list[str] = []
    state = run_recipe(_write(root, TINY), out=root / "run", log=lines.append, progress=False)
    return root, state


def test_every_stage_runs_and_writes_its_tables(tiny_run):
    root, state = tiny_run
    run = root / "run"
    controls = ("pmatched", "gc", "accessible")
    expected = ["simulate", "datasets", "evaluate", "explain", "report"]
    for c in controls:
        expected += [f"train:{c}:cnn:pretrain"] + [f"train:{c}:cnn:{tf}:{i}" for tf in ("GATA1", "CTCF")
                                                    for i in ("scratch", "finetune")]
    assert sorted(state.ran) == sorted(expected)
    m = pd.read_csv(run / "evaluation" / "metrics.csv")
    # 3 controls x 2 TFs x 2 inits x 2 test TFs x 2 maskings + the PWM: 3 controls x 2 TFs x (2 maskings + core)
    assert len(m) == 3 * 2 * 2 * 2 * 2 + 3 * 2 * 3
    core = m[m["model"] == "PWM core match"]
    assert len(core) == 6 and core["auROC"].between(0.2, 0.8).all()  # matched on it: near chance
    assert m["threshold_source"].eq("val").all()
    assert "trained_masked" not in m.columns and not (run / "datasets-masked").exists()  # default: test time only
    assert (m["auROC_lo"] <= m["auROC"]).all() and (m["auROC"] <= m["auROC_hi"]).all()
    # the fine-tuned models start from the pretrained checkpoint
    cfg = yaml.safe_load((run / "models" / "gc" / "cnn-CTCF-finetune" / "config.yaml").read_text())
    assert cfg["finetune"]["checkpoint"].endswith("models/gc/cnn-pretrain/checkpoints/best.ckpt")
    # the pooled pretraining set holds both TFs' instances
    pooled = pd.read_parquet(run / "datasets" / "gc" / "pooled" / "regions.parquet")
    sizes = [len(pd.read_parquet(run / "datasets" / "gc" / tf / "regions.parquet")) for tf in ("GATA1", "CTCF")]
    assert len(pooled) == sum(sizes) and set(pooled["tf"]) == {"GATA1", "CTCF"}
    assert (run / "report.html").stat().st_size > 10_000


def test_cross_tf_diagonal_equals_per_tf_test_auroc(tiny_run):
    root, _ = tiny_run
    ev = root / "run" / "evaluation"
    m = pd.read_csv(ev / "metrics.csv")
    cross = pd.read_csv(ev / "cross_tf.csv")
    assert len(cross) == 3 * 2 * 2 * 2  # control x init x masking x trained TF
    for r in cross.itertuples(index=False):
        row = r._asdict()
        for test_tf in ("GATA1", "CTCF"):
            hit = m[(m["control"] == row["control"]) & (m["init"] == row["init"]) & (m["model"] == row["model"])
                    & (m["core_masked"] == row["core_masked"]) & (m["trained_on"] == row["trained_on"])
                    & (m["test_tf"] == test_tf)]
            assert len(hit) == 1
            assert hit["auROC"].iloc[0] == pytest.approx(row[test_tf], abs=1e-9)


def test_splits_are_shared_and_selection_uses_validation(tiny_run):
    root, _ = tiny_run
    run = root / "run"
    maps = {}
    for p in (run / "datasets").glob("*/*/regions.parquet"):
        r = pd.read_parquet(p)
        maps[p.parent] = dict(zip(r["chrom"], r["split"]))
    merged: dict = {}
    for mp in maps.values():
        for c, s in mp.items():
            assert merged.setdefault(c, s) == s  # every dataset puts a chromosome in the same split
    summary = json.loads((run / "evaluation" / "summary.json").read_text())
    for key, init in summary["chosen"].items():
        scores = {i: v for k, v in summary["val_auroc"].items() for i in [k.rsplit("/", 1)[1]]
                  if k.rsplit("/", 1)[0] == key}
        assert scores[init] == max(scores.values())
    ex = json.loads((run / "explain" / "summary.json").read_text())
    assert set(ex["core_share"]) == {f"{c}/{tf}" for c in ("pmatched", "gc", "accessible") for tf in ("GATA1", "CTCF")}
    tracks = pd.read_csv(run / "explain" / "tracks.csv")
    assert tracks["position"].min() < 0 < tracks["position"].max()
    kmers = pd.read_csv(run / "explain" / "kmers.csv")
    assert kmers["kmer"].str.len().eq(4).all()


def test_rerun_skips_every_stage(tiny_run):
    root, state = tiny_run
    again = run_recipe(_write(root, TINY), out=root / "run", log=lambda s: None, progress=False)
    assert again.ran == [] and sorted(again.skipped) == sorted(state.ran)


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"data": {**TINY["data"], "lenght": 5}}, "data.lenght"),
        ({"data": {**TINY["data"], "controls": ["gc", "shuffled"]}}, "data.controls"),
        ({"data": {**TINY["data"], "accessible": None}}, "'accessible' needs data.accessible"),
        ({"data": {**TINY["data"], "split": "auto"}}, "data.split"),
        ({"data": {**TINY["data"], "tfs": {"GATA1": TINY["data"]["tfs"]["GATA1"]}}}, "at least two TFs"),
        ({"models": [TINY["models"][0], TINY["models"][0]]}, "names unique"),
        ({"explain": {"method": "nope"}}, "explain.method"),
        ({"masking": ["foo"]}, "masking"),
        ({"masking": ["train"]}, "masking: give test"),
        ({"masking": ["test", "test"]}, "masking: give test"),
    ],
)
def test_schema_errors_are_one_line(tmp_path, patch, needle):
    with pytest.raises(ConfigError) as exc:
        load_recipe(_write(tmp_path, {**TINY, **patch}))
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_shipped_recipe_loads_and_names_its_data_variable():
    rec = load_recipe("agentbind", {"data": "/x/yeast"})
    assert rec.kind == "agentbind" and set(rec.data.tfs) == {"Reb1", "Abf1"}
    assert rec.data.tfs["Reb1"].motif == "MA0363.3" and rec.data.genome == "/x/yeast/sacCer3.fa.gz"
    with pytest.raises(ConfigError, match=r"unknown variable \$\{data\}"):
        load_recipe("agentbind")


def test_cli_rerun_prints_the_summary_and_bad_input_is_exit_2(tiny_run, tmp_path, capsys):
    from bindscape.cli import main

    root, _ = tiny_run
    assert main(["run", str(root / "r.yaml"), "--out", str(root / "run"), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "stages run: none" in out.out and "GATA1 scratch model on CTCF test, core masked" in out.out
    bad = _write(tmp_path, {**TINY, "data": {**TINY["data"], "controls": ["gc", "gc"]}})
    assert main(["run", str(bad)]) == 2
    assert "data.controls" in capsys.readouterr().err


def test_yeast_datasets_share_the_recipes_chromosome_splits(tmp_path):
    from bindscape.recipes.kinds.agentbind import build_datasets
    from conftest import require_shared

    shared = require_shared("yeast/sacCer3.fa.gz", "yeast/reb1_chipexo_rhee2011.sacCer3.bed",
                            "yeast/abf1_sites_rossi2018.sacCer3.bed")
    rec = load_recipe("agentbind", {"data": str(shared / "yeast")})
    rec = rec.model_copy(update={"data": rec.data.model_copy(update={"controls": ["pmatched"]})})
    info = build_datasets(rec, tmp_path)
    assert set(info["datasets"]["pmatched"]) == {"Reb1", "Abf1"} and "pmatched" in info["pooled"]
    assert {c for c, s in info["split"].items() if s == "test"} == {"chrIV", "chrXI", "chrI"}
    for tf in ("Reb1", "Abf1"):
        counts = info["counts"]["pmatched"][tf]
        assert all(counts[s]["bound"] > 10 and counts[s]["unbound"] > 10 for s in ("train", "val", "test"))
        r = pd.read_parquet(Path(info["datasets"]["pmatched"][tf]) / "regions.parquet")
        assert (r["label"] == 1).sum() == (r["label"] == 0).sum()  # balanced over the genome


# ------------------------------------------------------------------------------- masking at train time
MASKED = {**TINY, "name": "tiny-agentbind-masked", "data": {**TINY["data"], "controls": ["pmatched"]},
          "pretrain": {"enabled": False}, "explain": {"enabled": False}, "masking": ["test", "train"]}


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("agentbind-masked")
    state = run_recipe(_write(root, MASKED), out=root / "run", log=lambda s: None, progress=False)
    return root / "run", state


def test_masking_train_adds_models_trained_on_masked_windows(masked_run):
    from bindscape.recipes.kinds.agentbind import MASKED_INIT

    run, state = masked_run
    tfs = ("GATA1", "CTCF")
    assert "datasets:masked" in state.ran
    assert {f"train:pmatched:cnn:{tf}:scratch-masked" for tf in tfs} <= set(state.ran)
    m = pd.read_csv(run / "evaluation" / "metrics.csv")
    extra = m[m["init"] == MASKED_INIT]
    # per TF one model, scored on every TF's test split with the core masked only
    assert len(extra) == 2 * 2 and extra["core_masked"].all() and extra["trained_masked"].all()
    assert not m.loc[m["init"] != MASKED_INIT, "trained_masked"].any()
    assert (extra["auROC_lo"] <= extra["auROC"]).all() and (extra["auROC"] <= extra["auROC_hi"]).all()
    assert extra["threshold_source"].eq("val").all()
    # 2 TFs x 2 test TFs x (scratch: 2 maskings + trained masked: 1) + PWM rows 2 TFs x 3
    assert len(m) == 2 * 2 * 3 + 2 * 3
    summary = json.loads((run / "evaluation" / "summary.json").read_text())
    assert set(summary["chosen"].values()) == {"scratch"}  # selection is among unmasked-trained inits only
    assert summary["cpu_seconds_training_masked"] > 0 and "trained and validated" in summary["masking"]


def test_masked_models_train_and_validate_on_windows_with_n_over_the_core(masked_run):
    import numpy as np

    from bindscape.train.data import open_dataset, torch_dataset

    run, _ = masked_run
    for tf in ("GATA1", "CTCF"):
        cfg = yaml.safe_load((run / "models" / "pmatched" / f"cnn-{tf}-scratch-masked" / "config.yaml").read_text())
        assert Path(cfg["dataset"]) == (run / "datasets-masked" / "pmatched" / tf).resolve()
        ds = open_dataset(cfg["dataset"])
        assert ds.meta["params"]["mask_core"] is True
        plain = open_dataset(str(run / "datasets" / "pmatched" / tf))
        for split in ("train", "val"):
            tds = torch_dataset(ds, split, genome=ds.open_genome())  # what the training engine reads
            x, _ = tds.__getitems__(list(range(len(tds))))
            x = x.numpy()
            cs, ce = tds.regions["core_start"].to_numpy(), tds.regions["core_end"].to_numpy()
            pos = np.arange(x.shape[-1])[None, :]
            core = (pos >= cs[:, None]) & (pos < ce[:, None])
            assert core.any() and (x.sum(axis=1)[core] == 0).all()  # every core base is N
            ref = torch_dataset(plain, split, genome=plain.open_genome())
            xr, _ = ref.__getitems__(list(range(len(ref))))
            xr = xr.numpy()
            assert (xr.sum(axis=1)[core] == 1).mean() > 0.99  # the same windows unmasked have their bases
            np.testing.assert_array_equal(x.transpose(0, 2, 1)[~core], xr.transpose(0, 2, 1)[~core])


def test_report_shows_trained_masked_rows_beside_test_masked(masked_run):
    from bindscape.recipes.kinds.agentbind import MASKED_INIT
    from bindscape.report.agentbind import context_table

    run, _ = masked_run
    t = context_table(pd.read_csv(run / "evaluation" / "metrics.csv"))
    rows = t[t["init"] == MASKED_INIT]
    assert len(rows) == 2 and rows["auROC core kept"].eq("-").all()
    assert rows["auROC core masked"].str.match(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$").all()
    html = (run / "report.html").read_text()
    assert MASKED_INIT in html


def test_cli_bad_masking_is_one_line_exit_2(tmp_path, capsys):
    from conftest import assert_one_error, cli

    assert_one_error(*cli(["run", _write(tmp_path, {**TINY, "masking": ["foo"]})], capsys)[::2], "masking")
    assert_one_error(*cli(["run", _write(tmp_path, {**TINY, "masking": ["train"]})], capsys)[::2],
                     "masking: give test")

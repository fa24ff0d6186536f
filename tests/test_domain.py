"""Cross-species training (MORALE / GRL): losses, batches, modes, config, real-background planting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.errors import ConfigError
from bindscape.train.samplers import CrossSpeciesBatchSampler
from bindscape.train.tasks.cross_species import (
    SpeciesClassifier,
    background_pool,
    grad_reverse,
    morale_loss,
    train_cross_species,
    validate_cross_species,
)
from conftest import assert_golden

torch.set_num_threads(1)


def _numpy_morale(emb: np.ndarray, dom: np.ndarray) -> float:
    ds = np.unique(dom)
    mus = [emb[dom == d].mean(0) for d in ds]
    covs = [np.cov(emb[dom == d], rowvar=False) for d in ds]
    n = len(ds)
    tot = sum(((covs[i] - covs[k]) ** 2).sum() + ((mus[i] - mus[k]) ** 2).sum()
              for i in range(n) for k in range(i + 1, n))
    return 2.0 / (n * (n + 1)) * tot


@pytest.mark.parametrize("n_domains", [2, 3, 5])
def test_morale_matches_numpy(n_domains):
    rng = np.random.default_rng(n_domains)
    emb = rng.normal(size=(40 * n_domains, 6)) + np.repeat(np.arange(n_domains), 40)[:, None] * 0.3
    dom = np.repeat(np.arange(n_domains), 40)
    rng.shuffle(dom)
    got = morale_loss(torch.tensor(emb, dtype=torch.float64), torch.tensor(dom)).item()
    assert got == pytest.approx(_numpy_morale(emb, dom), rel=1e-5)


def test_morale_zero_for_identical_domains():
    x = torch.randn(30, 5)
    emb = torch.cat([x, x, x])
    dom = torch.repeat_interleave(torch.arange(3), 30)
    assert morale_loss(emb, dom).item() == pytest.approx(0.0, abs=1e-10)
    assert morale_loss(x, torch.zeros(30, dtype=torch.long)).item() == 0.0  # one domain


def test_morale_gradient_only_through_embeddings():
    from bindscape.models import get_model

    model = get_model("bindscape_cnn", length=50, channels=8, hidden=8)
    x = torch.randn(12, 4, 50)
    loss = morale_loss(model.embed(x), torch.tensor([0, 1, 2] * 4))
    loss.backward()
    assert all(p.grad is None for p in model.head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.stem.parameters())


def test_grad_reverse():
    x = torch.randn(5, 3, requires_grad=True)
    y = grad_reverse(x, 2.5)
    assert torch.equal(y, x)
    (y * torch.arange(3.0)).sum().backward()
    assert torch.allclose(x.grad, -2.5 * torch.arange(3.0).expand(5, 3))


def test_species_classifier_reverses_into_embeddings():
    torch.manual_seed(0)
    emb = torch.randn(8, 6, requires_grad=True)
    head = SpeciesClassifier(6, 2, hidden=(16, 8), lam=1.0)
    head.loss(emb, torch.tensor([0, 1] * 4)).backward()
    g_rev = emb.grad.clone()
    emb.grad = None
    torch.nn.functional.binary_cross_entropy_with_logits(head.net(emb).view(-1), torch.tensor([0.0, 1.0] * 4)).backward()
    assert torch.allclose(g_rev, -emb.grad)
    assert SpeciesClassifier(6, 3).net[-1].out_features == 3


def test_batch_composition():
    lab0 = np.r_[np.ones(10), np.zeros(90)]
    lab1 = np.r_[np.ones(5), np.zeros(45)]
    lab2 = np.zeros(30)
    bg = [np.arange(100), np.arange(50), np.arange(0, 30, 2)]
    s = CrossSpeciesBatchSampler([lab0, lab1, lab2], [0, 1], bg, pos=4, neg=6, bg=8, seed=1)
    assert len(s) == max(-(-90 // 6), -(-45 // 6))
    for batch in s:
        assert len(batch) == 2 * (4 + 6) + 3 * 8
        for d, lab in ((0, lab0), (1, lab1)):
            ys = [lab[i] for dd, i, b in batch if dd == d and not b]
            assert sum(ys) == 4 and len(ys) == 10
        for d in range(3):
            assert sum(1 for dd, _, b in batch if dd == d and b) == 8
        assert {i for dd, i, b in batch if dd == 2} <= set(range(0, 30, 2))
        assert not any(dd == 2 and not b for dd, _, b in batch)  # unlabelled species: background only


def test_background_pool_excludes_val_test_sex():
    reg = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2", "chrX", "chrY", "chrM", "chr3"],
                        "start": 0, "end": 10, "split": ["train", "train", "val", "train", "train", "train", "test"]})
    assert background_pool(reg).tolist() == [0, 1]
    yeast = pd.DataFrame({"chrom": ["chrIX", "chrX", "chrM"], "start": 0, "end": 10, "split": "train"})
    assert background_pool(yeast, ["chrIX", "chrX", "chrXI", "chrM"]).tolist() == [0, 1]


TINY = {
    "bindscape_cnn": {"channels": 8, "hidden": 8},
    "cnn_lstm": {"filters": 8, "lstm": 4, "dense": [16, 8]},
    "cnn_bigru": {"filters": 8, "gru": 4, "fc": [8, 8], "channels": 4},
}


def _cfg(ds, tmp_path, mode, model="bindscape_cnn", **kw):
    return {"species": ds, "target": "primate", "mode": mode, "lam": 1.0, "name": f"{model}-{mode}",
            "out_dir": str(tmp_path), "model": {"name": model, "params": TINY[model]},
            "species_head": {"hidden": [16, 8]},
            "batch": {"pos_per_species": 4, "neg_per_species": 4, "background_per_species": 6, "steps_per_epoch": 2},
            "trainer": {"max_epochs": 1, "progress": False, "patience": None}, **kw}


@pytest.mark.parametrize("model", list(TINY))
def test_every_mode_trains(tiny_species, tmp_path, model):
    from bindscape.train.checkpoint import load_checkpoint

    for mode in ("source", "target", "joint", "morale", "grl"):
        run = train_cross_species(_cfg(tiny_species, tmp_path, mode, model))
        m = json.loads((run / "metrics.json").read_text())
        assert m["mode"] == mode and set(m["test"]) == {"primate", "rodent"}
        assert 0 <= m["test"]["primate"]["auprc"] <= 1
        pred = pd.read_parquet(run / "predictions.parquet")
        assert set(pred["split"]) == {"val", "test"} and pred["prob"].between(0, 1).all()
        assert load_checkpoint(run).model.name == model
        assert_golden(f"cross_species/{model}/{mode}",
                      {"select_score": m["select_score"], "pred_sum": pred["prob"].sum(),
                       **{f"{s}_{sp}": m[s][sp]["auprc"] for s in ("val", "test") for sp in ("primate", "rodent")}})


def test_lambda_grid_selects(tiny_species, tmp_path):
    run = train_cross_species(_cfg(tiny_species, tmp_path, "morale", lam_grid=[0, 2]))
    sel = json.loads((run / "selection.json").read_text())
    assert sel["selected_lam"] in (0.0, 2.0) and set(sel["scores"]) == {"0", "2"}
    assert sel["selection_species"] == ["rodent"]  # two species: the source's validation auPRC
    assert (run / "checkpoints" / "best.ckpt").exists()


def test_config_errors_name_the_field():
    base = {"species": {"a": "x", "b": "y"}, "target": "a"}
    with pytest.raises(ConfigError, match="mode"):
        validate_cross_species({**base, "mode": "adapt"})
    with pytest.raises(ConfigError, match="target"):
        validate_cross_species({**base, "target": "c"})
    with pytest.raises(ConfigError, match="species"):
        validate_cross_species({"species": {"a": "x"}, "target": "a"})
    with pytest.raises(ConfigError, match="sources"):
        validate_cross_species({**base, "sources": ["a"]})
    with pytest.raises(ConfigError, match="batch.pos_per_species"):
        validate_cross_species({**base, "batch": {"pos_per_species": 0}})
    with pytest.raises(ConfigError, match="model.name"):
        validate_cross_species({**base, "model": {"name": "nope"}})
    cfg = validate_cross_species({"species": {"a": "x", "b": "y", "c": "z"}, "target": "a"})
    assert cfg.source_species == ["b", "c"] and cfg.selection_species == ["a"]


def test_plant_into_real_background_keeps_background(tmp_path):
    from bindscape.simulate.real_background import simulate_real

    rng = np.random.default_rng(3)
    bgs = {"sp1": {"chrI": rng.integers(0, 4, 60000).astype(np.uint8)},
           "sp2": {"chrI": rng.integers(0, 4, 50000).astype(np.uint8)}}
    res = simulate_real(bgs, preset="multi-species", seed=1, out=tmp_path / "semi",
                        overrides={"tfs": [{"name": "FOXA1", "sites_per_mb": 600}]})
    for sp, codes in bgs.items():
        planted = res.genomes[sp].seqs["chrI"]
        t = res.truth[sp]
        inside = np.zeros(len(planted), bool)
        for s, e in zip(t["start"], t["end"]):
            inside[s:e] = True
        changed = planted != codes["chrI"]
        assert changed.any() and not (changed & ~inside).any()
        assert (tmp_path / "semi" / sp / "genome.fa.gz").exists()


def test_cli_train_cross_species(tiny_species, tmp_path):
    import typer
    import yaml
    from typer.testing import CliRunner

    from bindscape.cli.cross_species import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode
    cfg = tmp_path / "cs.yaml"
    cfg.write_text(yaml.safe_dump(_cfg(tiny_species, tmp_path, "source")))
    r = CliRunner().invoke(app, ["train-cross-species", str(cfg), "--mode", "grl", "--lam", "0.5", "--name", "cli"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert m["mode"] == "grl" and m["lam"] == 0.5


def test_recipe_loads():
    from bindscape.recipes import load_recipe

    rec = load_recipe("cross-species")
    assert rec.kind == "cross-species"
    assert rec.target == "primate" and rec.modes == ["source", "target", "joint", "morale", "grl"]
    assert len(rec.seeds) == 5


def test_semi_real_recipe_loads_and_names_a_missing_genome(tmp_path):
    from bindscape.recipes import load_recipe
    from bindscape.recipes import run_recipe as run_cross_species_recipe

    rec = load_recipe("cross-species-yeast-worm", {"shared_data": str(tmp_path / "nowhere")})
    assert rec.target == "yeast" and rec.sources == ["worm"] and rec.select_on == "auto"
    assert rec.simulate.real_backgrounds["worm"].endswith("nowhere/worm/ce10.fa.gz")
    with pytest.raises(ConfigError, match="real_backgrounds.worm: .*ce10.fa.gz does not exist"):
        run_cross_species_recipe(rec, out=tmp_path / "run", log=lambda s: None)


def test_plant_into_real_yeast_keeps_sequence_and_soft_mask(tmp_path):
    from bindscape.io.genome import read_fasta as read_fasta_codes
    from bindscape.simulate.real_background import simulate_real
    from conftest import require_shared

    fa = require_shared("yeast/sacCer3.fa.gz") / "yeast" / "sacCer3.fa.gz"
    res = simulate_real({"a": fa, "b": fa}, preset="multi-species", seed=0, out=tmp_path / "semi",
                        chroms={"a": ["chrI"], "b": ["chrVI"]}, overrides={"tfs.FOXA1.sites_per_mb": 1000})
    real, real_mask = read_fasta_codes(fa, with_mask=True)
    for sp, chrom in (("a", "chrI"), ("b", "chrVI")):
        codes, masks = read_fasta_codes(tmp_path / "semi" / sp / "genome.fa.gz", with_mask=True)
        assert list(codes) == [chrom]
        changed = codes[chrom] != real[chrom]
        assert 0 < changed.mean() < 0.05  # planted sites only
        assert (masks[chrom] == real_mask[chrom]).all()  # the real soft mask is kept
        peaks = pd.read_csv(tmp_path / "semi" / sp / "peaks" / "FOXA1.liver.narrowPeak", sep="\t", header=None)
        assert len(peaks) > 20 and (peaks[2] <= len(real[chrom])).all()
    assert res.species == ["a", "b"]


def test_cross_species_recipe_end_to_end(tmp_path):
    """A tiny version of the shipped recipe: simulate -> datasets -> tuning -> modes x seeds -> hold-outs ->
    analyses -> report with the per-species, differential and per-family repeat tables; a re-run skips."""
    from bindscape.recipes import load_recipe
    from bindscape.recipes import run_recipe as run_cross_species_recipe

    rec = load_recipe("cross-species")
    rec.simulate.set = {"species.*.chrom_sizes": [60000, 50000, 40000], "tfs.*.sites_per_mb": 900}
    rec.data.length = rec.data.stride = 100
    rec.modes, rec.seeds = ["source", "target", "morale"], [0, 1]
    rec.lam_grid, rec.holdout_modes = {"morale": [0, 0.001]}, ["source"]
    rec.train = {"model": {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8}},
                 "batch": {"pos_per_species": 4, "neg_per_species": 4, "background_per_species": 6,
                           "steps_per_epoch": 2},
                 "trainer": {"max_epochs": 1, "patience": None, "threads": 1}}
    logs = []
    state = run_cross_species_recipe(rec, out=tmp_path / "run", log=logs.append)
    a = tmp_path / "run" / "analysis"
    summ = pd.read_csv(a / "summary.tsv", sep="\t")
    assert set(summ["mode"]) == {"source", "target", "morale"} and (summ["n_runs"] == 2).all()
    diff = pd.read_csv(a / "differential.tsv", sep="\t")
    assert set(diff["mode"]) == {"source", "morale"} and (diff["reference"] == "target").all()
    rep = pd.read_csv(a / "repeats.tsv", sep="\t")
    assert {"all", "repeat", "non-repeat"} <= set(rep["stratum"])
    assert any(s.startswith("family:") for s in rep["stratum"])  # from the simulator's repeats.bed
    hold = pd.read_csv(a / "holdouts.tsv", sep="\t")
    assert set(hold["group"]) == {"without rodent", "without fish"}
    html = (tmp_path / "run" / "report.html").read_text()
    for title in ("Per-species test performance", "Differential false positives", "Repeat-stratified", "hold-outs"):
        assert title in html
    info = json.loads((a / "summary.json").read_text())
    assert info["lam"]["morale"] in (0.0, 0.001) and info["selection_species"] == ["primate"]
    tune = pd.read_csv(a / "tuning.tsv", sep="\t")
    assert sorted(tune["lam"]) == [0.0, 0.001] and tune["chosen"].sum() == 1
    assert tune.loc[tune["chosen"], "lam"].item() == info["lam"]["morale"]
    again = run_cross_species_recipe(rec, out=tmp_path / "run", log=logs.append)
    assert not again.ran and "report" in again.skipped and state.ran


def test_resume_continues_and_refuses_a_changed_config(tiny_species, tmp_path):
    cfg = _cfg(tiny_species, tmp_path, "morale")
    cfg["trainer"] = {**cfg["trainer"], "max_epochs": 2, "stop_after_epochs": 1}
    run = train_cross_species(cfg)
    assert (run / "checkpoints" / "last.ckpt").exists()
    with pytest.raises(ConfigError, match="already has checkpoints"):
        train_cross_species(cfg)
    with pytest.raises(ConfigError, match="--resume: mode differs"):
        train_cross_species({**cfg, "mode": "grl"}, resume=True)
    cfg["trainer"]["stop_after_epochs"] = None
    run = train_cross_species(cfg, resume=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["finished"] and m["epochs_run"] == 2
    with pytest.raises(ConfigError, match="nothing to resume"):
        train_cross_species({**cfg, "name": "fresh"}, resume=True)


def test_cross_species_resume_counts_earlier_time_and_marks_unfinished(tiny_species, tmp_path):
    trainer = {"max_epochs": 2, "progress": False, "patience": None, "stop_after_epochs": 1}
    cfg = _cfg(tiny_species, tmp_path, "morale", "bindscape_cnn", trainer=trainer)
    run = train_cross_species(cfg)
    first = json.loads((run / "metrics.json").read_text())
    assert first["finished"] is False and first["epochs_run"] == 1  # stopped, not done
    with pytest.raises(ConfigError, match="already has checkpoints"):  # overwrite defaults to False
        train_cross_species(cfg)
    run = train_cross_species({**cfg, "trainer": {**trainer, "stop_after_epochs": None}}, resume=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["finished"] is True and m["resumed"] is True and m["epochs_run"] == 2
    assert m["cpu_seconds"] > first["cpu_seconds"]  # the interrupted part's time is counted too

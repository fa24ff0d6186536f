"""MORALE's Figure 3 (issue 19): importance-score correlation with the target model on the source-only model's
differential FP/FN windows (`bindscape.explain.cross_species_attr`), its recipe settings and report section."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bindscape.explain import cross_species_attr as csa
from conftest import random_seqs, write_fasta

L = 50


def test_median_interval():
    v = np.arange(101, dtype=float)
    med, lo, hi = csa.median_interval(v, seed=1)
    assert med == 50 and lo < 50 < hi and hi - lo < 30
    assert csa.median_interval(v, seed=1) == (med, lo, hi)  # seeded
    assert csa.median_interval([0.3, np.nan]) == (0.3, 0.3, 0.3)
    assert all(np.isnan(csa.median_interval([np.nan])))


def test_summarize_pairs_windows_against_source():
    win = pd.DataFrame({"kind": "dFP", "chrom": "c", "start": np.arange(40) * 100, "end": np.arange(40) * 100 + L,
                        "label": 0})
    r_src = np.linspace(0.2, 0.6, 40)
    per = pd.concat([win.assign(mode="source", r=r_src), win.assign(mode="morale", r=r_src + 0.1),
                     win.assign(mode="grl", r=r_src - np.where(np.arange(40) < 10, -0.05, 0.05))])
    s = csa.summarize_correlations(per, n_boot=500).set_index("mode")
    assert s.loc["source", "median_r"] == pytest.approx(np.median(r_src)) and np.isnan(s.loc["source", "diff_median"])
    assert s.loc["morale", "diff_median"] == pytest.approx(0.1) and s.loc["morale", "more_target_like"] == 1.0
    assert s.loc["morale", "diff_lo"] == pytest.approx(0.1) and s.loc["morale", "windows"] == 40
    assert s.loc["grl", "more_target_like"] == pytest.approx(0.25) and s.loc["grl", "diff_median"] == pytest.approx(-0.05)
    assert (s["r_lo"] <= s["median_r"]).all() and (s["median_r"] <= s["r_hi"]).all()
    assert set(s["kind"]) == {"dFP"}  # no dFN row without dFN windows


@pytest.fixture
def fake_runs(tmp_path):
    """A seeded random genome, source/target/morale runs (2 seeds) with predictions on 60 test windows and
    tiny random `bindscape_cnn` checkpoints; morale-seed<k> holds the same weights as target-seed<k>."""
    import torch

    from bindscape.io.genome import Genome
    from bindscape.models import get_model
    from bindscape.train import save_model

    genome = Genome(write_fasta(tmp_path / "g.fa", random_seqs({"chr1": 6000}, seed=3)))
    n = 60
    win = pd.DataFrame({"species": "primate", "split": "test", "chrom": "chr1", "start": np.arange(n) * 100,
                        "end": np.arange(n) * 100 + L, "label": (np.arange(n) % 6 == 0).astype(float)})
    # source: 25 unbound windows scored >= 0.5 above target (dFP), 5 bound ones below (dFN)
    p_tgt = np.where(win["label"] > 0, 0.9, 0.1)
    p_src = p_tgt.copy()
    p_src[(win["label"] == 0).to_numpy().nonzero()[0][:25]] = 0.95
    p_src[(win["label"] > 0).to_numpy().nonzero()[0][:5]] = 0.2
    runs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        tgt_model = get_model("bindscape_cnn", length=L, channels=8, hidden=8)
        torch.manual_seed(10 + seed)
        src_model = get_model("bindscape_cnn", length=L, channels=8, hidden=8)
        for mode, model, prob in (("source", src_model, p_src), ("target", tgt_model, p_tgt),
                                  ("morale", tgt_model, p_tgt)):
            d = tmp_path / f"{mode}-seed{seed}"
            d.mkdir()
            save_model(d / "model.pt", model, {})
            win.assign(prob=prob).to_parquet(d / "predictions.parquet")
            (d / "metrics.json").write_text(json.dumps({"lam": 0.0}))
            runs.append({"mode": mode, "seed": seed, "run": str(d)})
    return runs, genome


def test_differential_windows_capped_and_seeded(fake_runs):
    runs, _ = fake_runs
    w = csa.differential_windows(runs, "primate", max_windows=10, seed=0)
    assert (w["kind"] == "dFP").sum() == 10 and (w["kind"] == "dFN").sum() == 5
    assert (w.loc[w["kind"] == "dFP", "label"] == 0).all() and (w.loc[w["kind"] == "dFN", "label"] > 0).all()
    assert w.equals(csa.differential_windows(runs, "primate", max_windows=10, seed=0))
    assert not w.equals(csa.differential_windows(runs, "primate", max_windows=10, seed=1))
    assert len(csa.differential_windows(runs, "primate", by="morale")) == 0  # morale agrees with target


def test_attribution_correlations(fake_runs, tmp_path):
    runs, genome = fake_runs
    per, info = csa.attribution_correlations(runs, "primate", genome, max_windows=8, method="grad_x_input")
    assert info["windows"] == {"dFP": 8, "dFN": 5} and info["method"] == "grad_x_input"
    assert set(per["mode"]) == {"source", "morale"} and len(per) == 2 * 13
    same = per.loc[per["mode"] == "morale", "r"]
    assert np.allclose(same, 1.0, atol=1e-5)  # identical weights: the same map as the target's
    other = per.loc[per["mode"] == "source", "r"]
    assert other.between(-1, 1).all() and (other < 0.999).all()
    s = csa.summarize_correlations(per, n_boot=200).set_index(["kind", "mode"])
    assert s.loc[("dFP", "morale"), "more_target_like"] == 1.0 and s.loc[("dFN", "morale"), "diff_median"] > 0
    paths = csa.write_tables(per, s.reset_index(), tmp_path / "analysis")
    assert pd.read_csv(paths["attribution_corr"], sep="\t").shape[0] == 4


def test_deeplift_shap_is_the_default(fake_runs):
    runs, genome = fake_runs
    per, info = csa.attribution_correlations(runs, "primate", genome, max_windows=3, n_baselines=2)
    assert info["method"] == "deeplift_shap" and len(per) == 2 * (3 + 3)  # the cap applies per kind
    assert np.allclose(per.loc[per["mode"] == "morale", "r"], 1.0, atol=1e-5)


def test_no_differential_windows_gives_empty_tables(fake_runs):
    runs, genome = fake_runs
    same = [r for r in runs if r["mode"] != "source"]
    per, info = csa.attribution_correlations(same, "primate", genome, by="morale", method="grad_x_input")
    assert per.empty and info["windows"] == {"dFP": 0, "dFN": 0}
    assert csa.summarize_correlations(per).empty


def test_recipe_attribution_settings():
    from bindscape.errors import BindscapeError
    from bindscape.recipes import load_recipe

    rec = load_recipe("cross-species-shift")
    a = rec.attribution
    assert a.enabled and a.method == "deeplift_shap" and a.max_windows == 200 and a.n_baselines == 5
    d = rec.model_dump(mode="json", exclude={"source"})
    d["attribution"] = {"method": "shapley"}
    with pytest.raises(BindscapeError, match="attribution.method"):
        load_recipe(d)
    d["attribution"] = {"max_windows": 0}
    with pytest.raises(BindscapeError, match="max_windows"):
        load_recipe(d)


def test_report_section(tmp_path):
    """The report section reads the stage's marker and tables: a violin per window kind and the medians."""
    from types import SimpleNamespace

    from bindscape.report import Report, cross_species

    a = tmp_path / "analysis"
    a.mkdir()
    (tmp_path / "stages").mkdir()
    win = pd.DataFrame({"kind": "dFP", "chrom": "c", "start": np.arange(30) * 100, "end": np.arange(30) * 100 + L,
                        "label": 0})
    rng = np.random.default_rng(0)
    per = pd.concat([win.assign(mode=m, r=rng.uniform(0.3, 0.9, 30)) for m in ("source", "morale")])
    csa.write_tables(per, csa.summarize_correlations(per, n_boot=100), a)
    (tmp_path / "stages" / "attribution.json").write_text(json.dumps({
        "windows": {"dFP": 30, "dFN": 0}, "method": "deeplift_shap", "n_baselines": 5, "max_windows": 200,
        "correlation": "pearson", "cpu_seconds": 12.0}))
    rec = SimpleNamespace(target="primate", modes=["source", "target", "morale"])
    r = Report(title="t")
    cross_species._attribution(r, rec, tmp_path)
    html = r.write(tmp_path / "r.html").read_text()
    assert "MORALE Figure 3" in html and "No dFN windows" in html and "more_target_like" in html
    assert html.count("<img") == 2  # dFP: the correlations and their change against source-only

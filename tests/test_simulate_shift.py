"""Species shifts in the simulator (issue 19): silenced repeat families carrying motif decoys, species-only
cofactor rules, the truth columns that record them, byte-identical defaults, config errors; the analyses that
use them (decoy FP rates, paired gaps, lambda criteria) and a tiny end-to-end cross-species-shift recipe."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from bindscape.errors import ConfigError
from bindscape.simulate import load_site_motif, resolve_config, simulate
from bindscape.simulate.binding import SHIFT_COLUMNS
from bindscape.simulate.genome import plant_consensus_motifs
from conftest import assert_one_error, cli

# small preset seed 0 at HEAD before the species shifts existed (sha256 of the written files)
SMALL_SEED0 = {
    "sim/genome.fa.gz": "8ccea1adaf4041d588d6c4382c94adcdc38e96a211f354fca2b6fae9a3136b4f",
    "sim/truth.tsv": "3aa02364cc6118a301e61bf59e44d4e7993ad5a46dc4f292828d908b00daaf89",
    "sim/repeats.bed": "ed92005cad0dab35bfd0b77dbf1ebe3ac517954b33962c3e75ee0fd3ba290111",
    "sim/peaks/GATA1.erythroid.narrowPeak": "8a4ae7c68fa9c6600efed6b9c06a821725a6b7095b5e06e8b4f724235b84881c",
    "sim/accessibility/liver.narrowPeak": "a7fe699aabf223bbf7c1b364b90c06d0ad07c00d8efb73ae81a6bc19d0a101da",
}
TINY = {"species.*.chrom_sizes": [150000, 100000], "tfs.*.sites_per_mb": 400}
SINE = "species.sim.repeats.SINE_Alu-like"
DECOY = {**TINY, f"{SINE}.decoy_tf": "GATA1", f"{SINE}.decoy_per_kb": 3.4, f"{SINE}.decoy_similarity": 0.9}
COFACTOR = {**TINY, "species.sim.cofactors": [{"tf": "CTCF", "partner": "GATA1", "window": 40, "weight": -4.0,
                                               "fraction": 0.6, "spacing": 8}]}


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_defaults_are_byte_identical(tmp_path):
    res = simulate("small", seed=0, out=tmp_path / "a")
    assert {k: _sha(res.out / k) for k in SMALL_SEED0} == SMALL_SEED0
    assert not set(SHIFT_COLUMNS) & set(res.truth["sim"].columns)
    man = json.loads((res.out / "manifest.json").read_text())
    sp = man["config"]["species"][0]
    assert "cofactors" not in sp and not any("decoy_tf" in f for f in sp["repeats"])
    assert "species_shift" not in man["stats"]["sim"]


@pytest.fixture(scope="module")
def plain():
    return simulate("small", seed=1, overrides=TINY)


@pytest.fixture(scope="module")
def decoy(tmp_path_factory):
    return simulate("small", seed=1, out=tmp_path_factory.mktemp("decoy"), overrides=DECOY)


def test_decoys_sit_in_the_silenced_family_and_never_bind(decoy, plain):
    truth = decoy.truth["sim"]
    assert set(SHIFT_COLUMNS) <= set(truth.columns)
    stats = decoy.manifest["stats"]["sim"]
    fam = stats["repeat_families"]["SINE_Alu-like"]
    assert fam["decoy_tf"] == "GATA1" and fam["decoy_sites"] == 1  # 300 bp x 3.4 per kb
    dec = truth[truth.repeat_decoy]
    assert len(dec) > 0.3 * fam["copies"]  # most copies keep an above-threshold copy of the motif
    assert (dec.tf == "GATA1").all() and (dec.origin == "background").all()
    assert (dec.repeat_family == "SINE_Alu-like").all()
    assert stats["species_shift"]["repeat_decoys"] == {"GATA1": len(dec)}
    # every decoy's centre lies in a SINE_Alu-like copy of repeats.bed
    rep = pd.read_csv(decoy.out / "sim/repeats.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
    sine = rep[rep.name == "SINE_Alu-like"]
    for _, r in dec.iterrows():
        c = (r.start + r.end) // 2
        s = sine[sine.chrom == r.chrom]
        assert ((s.start <= c) & (s.end > c)).any()
    silenced = truth[truth.repeat_family != ""]
    for cell in ("liver", "erythroid"):
        assert not silenced[f"bound_{cell}"].any() and (silenced[f"p_bound_{cell}"] == 0).all()
        assert (silenced[f"reason_{cell}"].isin(["silenced-repeat", "not-expressed", "decoy", "turnover"])).all()
        assert (silenced[f"reason_{cell}"] == "silenced-repeat").mean() > 0.8
        assert (truth.loc[truth.repeat_family == "", f"reason_{cell}"] != "silenced-repeat").all()
    # without the knob the same copies hold few GATA1 matches: the decoys come from the consensus
    pt = plain.truth["sim"]
    bg = pt[(pt.tf == "GATA1") & (pt.origin == "background")]
    in_sine = [((sine.chrom == r.chrom) & (sine.start <= (r.start + r.end) // 2) & (sine.end > (r.start + r.end) // 2)).any()
               for _, r in bg.iterrows()]
    assert len(dec) > 5 * max(1, sum(in_sine))


def test_decoys_keep_the_repeat_landscape(decoy, plain):
    """The motif copies change the consensus (and so the CpG-decay draws of later copies), not the amount of
    each family: per-family bases stay at their targets, and only GATA1 gains matches."""
    a, b = decoy.manifest["stats"]["sim"], plain.manifest["stats"]["sim"]
    for fam, st in b["repeat_families"].items():
        assert abs(a["repeat_families"][fam]["bases"] - st["bases"]) < 0.03 * st["bases"] + 300
    assert a["repeat_fraction"] == pytest.approx(b["repeat_fraction"], abs=0.01)
    assert a["gc"] == pytest.approx(b["gc"], abs=0.01)
    ta, tb = decoy.truth["sim"], plain.truth["sim"]
    for tf in ("CTCF", "TAL1"):  # other TFs' planted sites are untouched
        assert (ta.tf == tf).sum() == pytest.approx((tb.tf == tf).sum(), rel=0.1)


def test_decoy_density_and_similarity():
    motif = load_site_motif("GATA1", "MA0035.4")
    rng = np.random.default_rng(0)
    for per_kb, n in ((3.4, 1), (10, 3), (20, 6)):
        cons = np.zeros(300, np.uint8)
        sites = plant_consensus_motifs(cons, motif, per_kb, 0.8, rng)
        assert len(sites) == n
        starts = sorted(p for p, _ in sites)
        assert all(b - a >= motif.width for a, b in zip(starts, starts[1:], strict=False))
    for sim in (0.2, 0.9):
        affs = []
        for _ in range(40):
            cons = np.zeros(300, np.uint8)
            (pos, strand), = plant_consensus_motifs(cons, motif, 1, sim, rng)
            site = cons[pos : pos + motif.width]
            if strand == "-":
                site = (3 - site)[::-1]
            affs.append(float(motif.affinity(motif.score(site))))
        assert abs(np.median(affs) - sim) < 0.1  # decoy_similarity is the copies' affinity in the consensus
        assert min(affs) >= 0  # above the site threshold


def test_cofactor_rule_shifts_labels():
    res = simulate("small", seed=2, overrides=COFACTOR)
    t = res.truth["sim"]
    cof = t[t.origin == "cofactor"]
    assert len(cof) and (cof.tf == "GATA1").all() and cof.site_id.str.endswith(".c").all()
    ctcf = t[t.tf == "CTCF"]
    assert (ctcf.cofactor == "GATA1").all() and (t.loc[t.tf != "CTCF", "cofactor"] == "").all()
    planted = ctcf[ctcf.origin == "planted"]
    assert 0.45 < planted.cofactor_present.mean() < 0.8  # fraction 0.6 of the groups got one
    lone = planted[~planted.cofactor_present & planted.accessible_liver]
    paired = planted[planted.cofactor_present & planted.accessible_liver]
    assert paired.bound_liver.mean() > lone.bound_liver.mean() + 0.2
    assert (lone.reason_liver == "no-cofactor").mean() > 0.5
    assert res.manifest["stats"]["sim"]["species_shift"]["cofactor_present"]["CTCF"] == pytest.approx(
        ctcf.cofactor_present.mean(), abs=1e-3)


def test_shift_preset_has_shifts_in_the_target_only():
    res = simulate("multi-species-shift", seed=0, overrides={"species.*.chrom_sizes": [120000],
                                                             "tfs.*.sites_per_mb": 400})
    t = {sp: res.truth[sp] for sp in res.species}
    assert t["primate"].repeat_decoy.sum() > 5 and (t["primate"].cofactor == "CEBPA").any()
    for sp in ("rodent", "fish"):
        assert not t[sp].repeat_decoy.any() and (t[sp].cofactor == "").all() and (t[sp].repeat_family == "").all()


@pytest.mark.parametrize("key,value,needle", [
    (f"{SINE}.decoy_tf", "FOXA1", "species.sim.repeats.SINE_Alu-like.decoy_tf: 'FOXA1' is not a simulated TF"),
    ("species.sim.repeats.(CA)n.decoy_tf", "GATA1", "a simple repeat cannot carry motif copies"),
    (f"{SINE}.decoy_similarity", 1.5, "decoy_similarity"),
    ("species.sim.cofactors", [{"tf": "CTCF", "partner": "CTCF"}], "species.sim.cofactors.0: tf and partner"),
    ("species.sim.cofactors", [{"tf": "CTCF", "partner": "HNF4A"}], "species.sim.cofactors.0.partner: 'HNF4A'"),
])
def test_config_errors(key, value, needle):
    with pytest.raises(ConfigError) as e:
        resolve_config("small", {key: value})
    assert needle in str(e.value)


def test_cli_error_is_one_line(tmp_path, capsys):
    code, _, err = cli(["simulate", "--preset", "small", "--out", tmp_path / "x", "--set", f"{SINE}.decoy_tf=REST"],
                       capsys)
    assert_one_error(code, err, "decoy_tf", "REST")


# ------------------------------------------------------------------------------------------ analyses
def _runs(tmp_path):
    """Two modes x three seeds of fake predictions on 8 primate test windows (two hold a decoy)."""
    win = pd.DataFrame({"chrom": "chr1", "start": np.arange(8) * 100, "end": np.arange(8) * 100 + 100,
                        "label": [1, 1, 0, 0, 0, 0, 0, 0]})
    runs = []
    for mode, dec_p in (("source", 0.9), ("target", 0.1)):
        for seed in range(3):
            d = tmp_path / f"{mode}{seed}"
            d.mkdir()
            prob = np.array([0.8, 0.7, dec_p, dec_p, 0.1, 0.6 if seed == 0 else 0.2, 0.1, 0.1])
            df = win.assign(species="primate", split="test", prob=prob)
            df.to_parquet(d / "predictions.parquet")
            (d / "metrics.json").write_text(json.dumps({"lam": 0.0}))
            runs.append({"mode": mode, "seed": seed, "run": str(d)})
    return runs


def test_decoy_fp_rates(tmp_path):
    from bindscape.evaluate.cross_species import decoy_fp_rates

    truth = pd.DataFrame({"chrom": "chr1", "start": [210, 330, 450], "end": [220, 340, 460], "tf": "FOXA1",
                          "repeat_decoy": [True, True, False]})
    t = decoy_fp_rates(_runs(tmp_path), "primate", truth, tf="FOXA1").set_index(["mode", "stratum"])
    assert t.loc[("source", "decoy"), "fp_rate_mean"] == 1.0 and t.loc[("target", "decoy"), "fp_rate_mean"] == 0
    assert t.loc[("source", "decoy"), "windows"] == 2 and t.loc[("source", "other negative"), "windows"] == 4
    other = t.loc[("source", "other negative")]
    assert other.fp_rate_mean == pytest.approx(1 / 12) and other.fp_rate_lo < other.fp_rate_mean < other.fp_rate_hi


def test_paired_differences_and_lambda_choices():
    from bindscape.evaluate.cross_species import paired_differences
    from bindscape.train.tasks.cross_species import lambda_choices

    table = pd.DataFrame({"mode": ["source"] * 3 + ["morale"] * 3, "seed": [0, 1, 2] * 2, "species": "primate",
                          "auprc": [0.40, 0.42, 0.44, 0.45, 0.46, 0.50]})
    d = paired_differences(table, "primate").iloc[0]
    assert d["mode"] == "morale" and d.diff_mean == pytest.approx(0.05) and d.diff_lo > 0 and d.seeds == 3
    per = {0.0: {"source_val_auprc": 0.50, "target_val_auprc": 0.30, "domain_accuracy": 0.90},
           0.001: {"source_val_auprc": 0.495, "target_val_auprc": 0.35, "domain_accuracy": 0.70},
           0.01: {"source_val_auprc": 0.40, "target_val_auprc": 0.20, "domain_accuracy": 0.50}}
    assert lambda_choices(per) == {"source": 0.0, "target": 0.001, "label-free": 0.001}
    assert lambda_choices(per, tolerance=0.2)["label-free"] == 0.01  # collapse is kept out by the tolerance only
    nan = {k: {**v, "domain_accuracy": float("nan")} for k, v in per.items()}
    assert lambda_choices(nan)["label-free"] == 0.0  # nothing measured: the source choice


# ------------------------------------------------------------------------------------------ recipe
def test_shift_recipes_load():
    from bindscape.recipes import load_recipe

    rec = load_recipe("cross-species-shift")
    assert rec.simulate.preset == "multi-species-shift" and rec.target == "primate"
    assert rec.sources == ["rodent", "fish"] and len(rec.seeds) == 5
    pair = load_recipe("cross-species-shift-pair")
    assert pair.sources == ["rodent"] and pair.target == "primate"


def tiny_recipe(name: str):
    """A shipped cross-species recipe shrunk to seconds: three 40-60 kb chromosomes per species, 100-bp tiles,
    source/target/morale x 2 seeds, a two-value MORALE grid, one-epoch 8-channel models, at most 20 windows
    per kind in the attribution stage."""
    from bindscape.recipes import load_recipe

    rec = load_recipe(name)
    rec.simulate.set = {"species.*.chrom_sizes": [60000, 50000, 40000], "tfs.*.sites_per_mb": 900}
    rec.data.length = rec.data.stride = 100
    rec.modes, rec.seeds = ["source", "target", "morale"], [0, 1]
    rec.lam_grid = {"morale": [0, 0.001]}
    rec.train = {"model": {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8}},
                 "batch": {"pos_per_species": 4, "neg_per_species": 4, "background_per_species": 6,
                           "steps_per_epoch": 2},
                 "trainer": {"max_epochs": 1, "patience": None, "threads": 1}}
    rec.attribution.max_windows = 20
    return rec


def _assert_attribution_stage(run_dir) -> None:
    """The Figure-3 stage ran: its marker, its tables (possibly empty) and the report section."""
    info = json.loads((run_dir / "stages" / "attribution.json").read_text())
    assert info["method"] == "deeplift_shap" and set(info["windows"]) == {"dFP", "dFN"}
    assert all(0 <= n <= 20 for n in info["windows"].values())
    per = (run_dir / "analysis" / "attribution_windows.tsv").read_text().splitlines()
    assert len(per) == 1 + 2 * sum(info["windows"].values())  # header + source and morale per window
    assert "MORALE Figure 3" in (run_dir / "report.html").read_text()


def test_cross_species_shift_recipe_end_to_end(tmp_path):
    """A tiny cross-species-shift-pair: two species only (fish dropped), lambda by source validation with the
    label-free and target choices reported, decoy FP rates, paired gaps, the Figure-3 attribution stage and
    the report sections."""
    from bindscape.recipes import run_recipe

    rec = tiny_recipe("cross-species-shift-pair")
    run_recipe(rec, out=tmp_path / "run", log=lambda s: None)
    a = tmp_path / "run" / "analysis"
    info = json.loads((a / "summary.json").read_text())
    assert info["selection_species"] == ["rodent"]  # two species: fish is not part of the runs
    assert "mean validation auPRC of rodent" in info["lambda_criterion"][0]
    m = json.loads((tmp_path / "run" / "models" / "source-seed0" / "metrics.json").read_text())
    assert set(m["test"]) == {"primate", "rodent"} and 0 <= m["alignment"]["domain_accuracy"] <= 1
    choice = pd.read_csv(a / "lambda_choice.tsv", sep="\t")
    assert set(choice["criterion"]) == {"source", "target", "label-free"}
    assert choice["used"].sum() == 1 and choice.loc[choice["used"], "criterion"].item() == "source"
    tune = pd.read_csv(a / "tuning.tsv", sep="\t")
    assert {"source_val_auprc", "target_val_auprc", "domain_accuracy"} <= set(tune.columns)
    dec = pd.read_csv(a / "decoys.tsv", sep="\t")
    assert set(dec["stratum"]) == {"decoy", "other negative"} and set(dec["mode"]) == {"source", "target", "morale"}
    gaps = pd.read_csv(a / "gaps.tsv", sep="\t")
    assert set(gaps["mode"]) == {"target", "morale"} and (gaps["seeds"] == 2).all()
    html = (tmp_path / "run" / "report.html").read_text()
    for title in ("Decoy false positives", "paired by seed", "label-free"):
        assert title in html
    _assert_attribution_stage(tmp_path / "run")


def test_cross_species_shift_covariate_recipe_end_to_end(tmp_path):
    """A tiny cross-species-shift-covariate: three species, lambda by the target's validation, the decoy
    table, paired gaps, the Figure-3 stage and the report."""
    from bindscape.recipes import run_recipe

    rec = tiny_recipe("cross-species-shift-covariate")
    run_recipe(rec, out=tmp_path / "run", log=lambda s: None)
    a = tmp_path / "run" / "analysis"
    info = json.loads((a / "summary.json").read_text())
    assert info["selection_species"] == ["primate"] and info["lam"]["morale"] in (0.0, 0.001)
    summ = pd.read_csv(a / "summary.tsv", sep="\t")
    assert set(summ["species"]) == {"primate", "rodent", "fish"} and (summ["n_runs"] == 2).all()
    dec = pd.read_csv(a / "decoys.tsv", sep="\t")
    assert set(dec["stratum"]) == {"decoy", "other negative"} and (dec["runs"] == 2).all()
    assert dec.loc[dec["stratum"] == "decoy", "windows"].gt(0).all()  # the target's SINEs carry decoys
    choice = pd.read_csv(a / "lambda_choice.tsv", sep="\t")
    assert choice.loc[choice["used"], "criterion"].item() == "target"
    _assert_attribution_stage(tmp_path / "run")
    again = run_recipe(rec, out=tmp_path / "run", log=lambda s: None)
    assert not again.ran and "attribution" in again.skipped  # a finished stage is resumed, not redone


def test_label_free_lambda_selection(tiny_species, tmp_path):
    """select_on: label-free picks lambda without a target label: epochs on the source's validation, lambda by
    the domain classifier among lambdas near the best source validation auPRC; all three choices recorded."""
    from bindscape.train.tasks.cross_species import lambda_choices, train_cross_species

    cfg = {"species": tiny_species, "target": "primate", "mode": "morale", "lam_grid": [0, 0.001],
           "select_on": "label-free", "name": "lf", "out_dir": str(tmp_path),
           "model": {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8}},
           "batch": {"pos_per_species": 4, "neg_per_species": 4, "background_per_species": 6, "steps_per_epoch": 2},
           "trainer": {"max_epochs": 1, "progress": False, "patience": None}}
    run = train_cross_species(cfg)
    sel = json.loads((run / "selection.json").read_text())
    assert sel["selection_species"] == ["rodent"] and sel["criterion"].startswith("label-free")
    assert set(sel["choices"]) == {"source", "target", "label-free"}
    assert sel["selected_lam"] == sel["choices"]["label-free"]
    per = {float(k): v for k, v in sel["per_lam"].items()}
    assert lambda_choices(per) == sel["choices"]
    for v in per.values():
        assert 0 <= v["domain_accuracy"] <= 1 and v["moment_distance"] >= 0

"""The covariate-shift preset and recipe (issue 19, part 2): ``multi-species-covariate`` gives the target
(primate) alone an abundant, silenced, decoy-carrying SINE family and no cofactor rule, so the species differ
in what their windows look like but never in how the same sequence binds."""

from __future__ import annotations

from bindscape.simulate import resolve_config, simulate

TINY = {"species.*.chrom_sizes": [120000], "tfs.*.sites_per_mb": 400}


def test_covariate_preset_has_no_label_shift():
    cfg = resolve_config("multi-species-covariate", {})
    by = {sc.name: sc for sc in cfg.species}
    assert all(not sc.cofactors for sc in cfg.species)  # no label-shift rule anywhere
    fams = {f.name: f for f in by["primate"].repeats}
    assert fams["SINE_Alu-like"].decoy_tf == "FOXA1"
    assert by["primate"].repeat_fraction * fams["SINE_Alu-like"].share >= 0.3  # abundant in the target
    for sp in ("rodent", "fish"):
        assert not any(f.decoy_tf for f in by[sp].repeats)


def test_covariate_preset_decoys_are_unbound_and_target_only():
    res = simulate("multi-species-covariate", seed=0, overrides=TINY)
    t = {sp: res.truth[sp] for sp in res.species}
    prim = t["primate"]
    assert prim.repeat_decoy.sum() > 20
    assert not prim.loc[prim.repeat_family != "", "bound_liver"].any()  # silenced: nothing there binds
    assert (prim.cofactor == "").all()
    for sp in ("rodent", "fish"):
        assert not t[sp].repeat_decoy.any() and (t[sp].repeat_family == "").all()


def test_covariate_recipe_loads():
    from bindscape.recipes import load_recipe

    rec = load_recipe("cross-species-shift-covariate")
    assert rec.simulate.preset == "multi-species-covariate" and rec.target == "primate"
    assert rec.sources == ["rodent", "fish"] and len(rec.seeds) == 5
    assert 0 in rec.lam_grid["morale"] and 0 in rec.lam_grid["grl"]

"""Annotation-free repeat detection in real backgrounds and decoys planted into the detected repeats
(issue 19: the semi-real yeast + worm recipe with decoys in real repeats)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bindscape.errors import ConfigError
from bindscape.simulate.real_repeats import detect_repeats, plant_repeat_decoys, repeat_summary


def _rc(codes: np.ndarray) -> np.ndarray:
    return (3 - codes)[::-1].copy()


def _genome_with_copies(seed: int = 0, n_copies: int = 5, length: int = 600):
    """Random 3 x 40 kb genome; `n_copies` mutated copies of one element (some reversed) and 2 of another."""
    rng = np.random.default_rng(seed)
    codes = {f"chr{i}": rng.integers(0, 4, 40_000).astype(np.uint8) for i in (1, 2, 3)}
    elem, pair = rng.integers(0, 4, length).astype(np.uint8), rng.integers(0, 4, 400).astype(np.uint8)
    copies, spots = [], [("chr1", 1_000), ("chr1", 20_000), ("chr2", 5_000), ("chr3", 12_000), ("chr3", 30_000)]
    for i, (chrom, pos) in enumerate(spots[:n_copies]):
        seq = elem.copy()
        seq[rng.choice(length, 6, replace=False)] = rng.integers(0, 4, 6)  # a few substitutions
        codes[chrom][pos : pos + length] = _rc(seq) if i % 2 else seq
        copies.append((chrom, pos, pos + length))
    codes["chr2"][30_000:30_400] = pair
    codes["chr3"][2_000:2_400] = pair  # two copies only: below min_count=3
    return codes, copies


def _covered(rep: pd.DataFrame, chrom: str, start: int, end: int) -> int:
    r = rep[rep.chrom == chrom]
    return int(sum(max(0, min(e, end) - max(s, start)) for s, e in zip(r.start, r.end, strict=True)))


def test_detector_finds_planted_copies_on_both_strands_and_not_unique_sequence():
    codes, copies = _genome_with_copies()
    rep = detect_repeats(codes, k=21, min_count=3, min_length=100)
    for chrom, s, e in copies:  # every copy, forward or reverse, is found almost end to end
        assert _covered(rep, chrom, s, e) >= 0.9 * (e - s)
    in_copies = sum(_covered(rep, c, s, e) for c, s, e in copies)
    outside = int((rep.end - rep.start).sum()) - in_copies
    assert 0 <= outside <= 2 * len(copies)  # nothing in unique sequence (a copy's edge may extend by chance)
    assert rep.cluster.nunique() == 1 and (rep.name == "real_repeat").all()
    assert _covered(rep, "chr2", 30_000, 30_400) == 0  # a 2-copy element is below min_count 3
    with_two = detect_repeats(codes, k=21, min_count=2, min_length=100)
    assert _covered(with_two, "chr2", 30_000, 30_400) >= 360 and with_two.cluster.nunique() == 2
    s = repeat_summary(rep, 120_000)
    assert s["intervals"] == len(rep) == len(copies) and s["bases"] == in_copies + outside and s["clusters"] == 1


def test_detector_skips_n_and_checks_arguments():
    codes, copies = _genome_with_copies(n_copies=3)
    chrom, s, e = copies[0]
    codes[chrom][s : e] = 4  # an N block: not a repeat even though it is "repeated" within itself
    rep = detect_repeats(codes, k=21, min_count=3, min_length=100)
    assert _covered(rep, chrom, s, e) == 0
    assert len(detect_repeats({"c": np.zeros(10, np.uint8)}, k=21)) == 0
    with pytest.raises(ValueError, match="k must be in 12..31"):
        detect_repeats(codes, k=40)
    with pytest.raises(ValueError, match="min_count must be >= 2"):
        detect_repeats(codes, min_count=1)


def test_decoys_land_inside_detected_repeats_only():
    from bindscape.simulate import load_site_motif

    codes, _ = _genome_with_copies()
    rep = detect_repeats(codes, k=21, min_count=3, min_length=100)
    before = {c: v.copy() for c, v in codes.items()}
    motif = load_site_motif("FOXA1", "MA0148.4")
    n = plant_repeat_decoys(codes, rep, motif, per_kb=3.0, similarity=0.9, rng=np.random.default_rng(1))
    assert n == int(sum(max(1, round((e - s) * 3.0 / 1000)) for s, e in zip(rep.start, rep.end, strict=True)))
    inside = {c: np.zeros(len(v), bool) for c, v in codes.items()}
    for c, s, e in rep[["chrom", "start", "end"]].itertuples(index=False):
        inside[c][s:e] = True
    changed = {c: codes[c] != before[c] for c in codes}
    assert sum(int(m.sum()) for m in changed.values()) > 0
    assert all(not (changed[c] & ~inside[c]).any() for c in codes)


def _real(tmp_path, real_repeats):
    from bindscape.simulate.real_background import simulate_real

    a, _ = _genome_with_copies(seed=3)
    b, _ = _genome_with_copies(seed=4)
    return simulate_real({"t": a, "s": b}, preset="multi-species", seed=0, out=tmp_path,
                         overrides={"tfs.FOXA1.sites_per_mb": 1000, "binding.turnover": 0.0},
                         real_repeats=real_repeats)


def test_simulate_real_plants_silenced_decoys_into_detected_repeats(tmp_path):
    rr = {"t": {"decoy_tf": "FOXA1", "decoy_per_kb": 5, "decoy_similarity": 0.9, "k": 21}}
    res = _real(tmp_path / "dec", rr)
    bed = pd.read_csv(tmp_path / "dec" / "t" / "repeats.bed", sep="\t", header=None,
                      names=["chrom", "start", "end", "name"])
    assert len(bed) > 0 and set(bed.name) == {"real_repeat"}
    assert not (tmp_path / "dec" / "s" / "repeats.bed").exists()
    truth = res.truth["t"]
    dec = truth[truth.repeat_decoy.astype(bool)]
    assert len(dec) >= 12 and set(dec.tf) == {"FOXA1"}
    centre = (dec.start + dec.end) // 2
    assert all(((bed.chrom == c) & (bed.start <= x) & (x < bed.end)).any() for c, x in zip(dec.chrom, centre,
                                                                                       strict=True))
    assert (dec.p_bound_liver == 0).all() and not dec.bound_liver.any()
    assert set(dec.reason_liver) == {"silenced-repeat"}
    silenced = truth[truth.repeat_family == "real_repeat"]
    assert not silenced.bound_liver.any()  # silenced: no site in a detected repeat binds, for any TF
    st = res.manifest["stats"]["t"]["real_repeats"]
    per_interval = [max(1, round((e - s) * 5 / 1000)) for s, e in zip(bed.start, bed.end, strict=True)]
    assert st["decoys"] == len(dec) and st["decoy_copies"] == sum(per_interval) and st["intervals"] == len(bed)
    assert res.manifest["real_repeats"]["t"]["decoy_per_kb"] == 5


def test_real_repeats_without_decoys_change_nothing_but_add_repeats_bed(tmp_path):
    plain = _real(tmp_path / "plain", None)
    detect = _real(tmp_path / "detect", {"t": {"k": 21}})
    assert "repeat_decoy" not in plain.truth["t"] and "real_repeats" not in plain.manifest
    assert not (tmp_path / "plain" / "t" / "repeats.bed").exists()
    assert (tmp_path / "detect" / "t" / "repeats.bed").exists() and detect.manifest["real_repeats"]["t"]["k"] == 21
    assert "repeat_decoy" not in detect.truth["t"]  # detection alone silences nothing
    for sp in ("t", "s"):
        for rel in ("genome.fa.gz", "truth.tsv", "peaks/FOXA1.liver.narrowPeak"):
            assert (tmp_path / "plain" / sp / rel).read_bytes() == (tmp_path / "detect" / sp / rel).read_bytes()


def test_real_repeat_settings_fail_with_the_field_named(tmp_path):
    from bindscape.recipes import load_recipe

    base = load_recipe("cross-species-yeast-worm-decoys", {"shared_data": "/x"})
    assert base.simulate.real_repeats["yeast"]["decoy_tf"] == "FOXA1" and base.target == "yeast"
    import yaml

    import bindscape.recipes

    shipped = Path(bindscape.recipes.__file__).parent / "cross-species-yeast-worm-decoys.yaml"
    raw = yaml.safe_load(shipped.read_text())
    for patch, needle in (({"yeast": {"decoy_tf": "REB1"}}, "simulate.real_repeats.yeast.decoy_tf: 'REB1'"),
                          ({"yeast": {"decoy_per_kb": 0}}, "simulate.real_repeats.yeast: decoy_per_kb"),
                          ({"fly": {}}, "simulate.real_repeats.fly: not one of the real backgrounds")):
        raw["simulate"]["real_repeats"] = patch
        p = tmp_path / "r.yaml"
        p.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError) as exc:
            load_recipe(str(p), {"shared_data": "/x"})
        assert needle in str(exc.value)


@pytest.mark.slow
def test_tiny_decoy_recipe_end_to_end_reports_decoy_fp_rates(tmp_path):
    import yaml

    import bindscape.recipes
    from bindscape.recipes import load_recipe, run_recipe
    from conftest import require_shared

    data = require_shared("yeast/sacCer3.fa.gz", "worm/ce10.fa.gz")
    raw = yaml.safe_load((Path(bindscape.recipes.__file__).parent / "cross-species-yeast-worm-decoys.yaml").read_text())
    raw["simulate"].update(max_chrom_bp=250_000, chroms={"worm": ["chrI", "chrII", "chrIII"], "yeast": [
        "chrII", "chrIII", "chrIV", "chrV", "chrVII", "chrX", "chrXII", "chrXVI"]})
    raw.update(modes=["source", "target"], seeds=[0], lam_grid={})
    raw["train"].update(batch={"pos_per_species": 8, "neg_per_species": 8, "background_per_species": 16,
                               "steps_per_epoch": 5}, trainer={"max_epochs": 1, "patience": None, "threads": 1})
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(raw))
    run_recipe(load_recipe(str(p), {"shared_data": str(data)}), out=tmp_path / "run", log=lambda s: None,
               progress=False)
    bed = pd.read_csv(tmp_path / "run" / "sim" / "yeast" / "repeats.bed", sep="\t", header=None)
    assert len(bed) > 20 and (tmp_path / "run" / "sim" / "worm" / "repeats.bed").exists()
    dec = pd.read_csv(tmp_path / "run" / "analysis" / "decoys.tsv", sep="\t")
    assert set(dec["mode"]) == {"source", "target"} and set(dec["stratum"]) == {"decoy", "other negative"}
    assert (dec[dec.stratum == "decoy"].windows > 0).all()
    reps = pd.read_csv(tmp_path / "run" / "analysis" / "repeats.tsv", sep="\t")
    assert "family:real_repeat" in set(reps.stratum)
    assert (tmp_path / "run" / "report.html").exists()

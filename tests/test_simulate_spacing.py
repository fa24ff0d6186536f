"""The simulator's opt-in spacing-dependent partner rule (issue 18): ``tfs.<TF>.partner_rule: spacing`` makes
the partner bonus depend on the gap (``partner_spacing`` +- ``partner_tolerance``), the truth table records the
gap, the default (``window``) is byte-identical to before, and bad settings are one-line config errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from bindscape.errors import ConfigError
from bindscape.simulate import resolve_config, simulate
from bindscape.simulate.binding import partner_gaps
from conftest import assert_one_error, cli

TINY = {"species.*.chrom_sizes": [150000, 100000], "tfs.*.sites_per_mb": 400}
# TAL1 + GATA1 at a preferred gap of 9 bp; co-planted partners spread over 3-15 bp (jitter 6), but only
# 7-11 bp (tolerance 2) counts for binding
SPACING = {**TINY, "tfs.TAL1.sites_per_mb": 3000, "cells.erythroid.accessible_fraction": 0.5,
           "tfs.TAL1.partner_rule": "spacing", "tfs.TAL1.partner_jitter": 6, "tfs.TAL1.partner_fraction": 0.9,
           "binding.logit.no_partner": -6.0}


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_partner_gaps_follow_the_planting_convention():
    # source [100, 110); targets downstream at gap 12 (starts at 110 + 12), upstream at gap 3 (ends at 97),
    # overlapping (ignored) and far (beyond max_gap, ignored)
    src_s, src_e = np.array([100, 500]), np.array([110, 510])
    tgt_s = np.array([122, 87, 105, 300])
    tgt_e = np.array([130, 97, 115, 308])
    assert partner_gaps(src_s, src_e, tgt_s, tgt_e, spacing=12, max_gap=40).tolist() == [12, -1]
    assert partner_gaps(src_s, src_e, tgt_s, tgt_e, spacing=2, max_gap=40).tolist() == [3, -1]
    assert partner_gaps(src_s, src_e, tgt_s, tgt_e, spacing=12, max_gap=5).tolist() == [3, -1]
    assert partner_gaps(src_s, src_e, tgt_s[:0], tgt_e[:0], spacing=12, max_gap=40).tolist() == [-1, -1]


@pytest.fixture(scope="module")
def spacing_sim():
    return simulate("small", seed=1, overrides=SPACING)


def test_spacing_rule_binds_only_at_the_preferred_gap(spacing_sim):
    truth = spacing_sim.truth["sim"]
    tal = truth[(truth.tf == "TAL1") & truth.origin.isin(["planted", "cluster"]) & truth.accessible_erythroid]
    gap = tal.partner_gap.to_numpy()
    right = (gap >= 7) & (gap <= 11)
    wrong = (gap >= 0) & ~right  # a GATA1 motif within 40 bp, at another gap
    assert (tal.partner_present.to_numpy(bool) == right).all()
    assert right.sum() >= 80 and wrong.sum() >= 150  # co-planted partners at every gap 3-15
    bound = tal.bound_erythroid.to_numpy(bool)
    assert bound[right].mean() > 0.5  # measured: 82 of 119
    assert bound[wrong].mean() < 0.05  # measured: 4 of 208, as without a partner (3 of 133)
    assert (tal.reason_erythroid[wrong & ~bound] == "no-partner").mean() > 0.9


def test_spacing_rule_logit_is_exact(spacing_sim):
    cfg = spacing_sim.config
    L = cfg.binding.logit
    truth = spacing_sim.truth["sim"]
    tal = truth[(truth.tf == "TAL1") & truth.origin.isin(["planted", "cluster", "background"])]
    acc = tal.accessible_erythroid.to_numpy(bool)
    logit = (L.intercept + L.affinity * tal.affinity.to_numpy() + np.where(acc, 0.0, L.closed)
             + L.no_partner * ~tal.partner_present.to_numpy(bool) + L.homotypic * np.minimum(tal.n_homotypic, 3))
    assert np.abs(tal.p_bound_erythroid.to_numpy() - 1 / (1 + np.exp(-logit))).max() < 2e-3  # affinity rounded
    other = truth[truth.tf != "TAL1"]
    assert (other.partner_gap == -1).all()


def test_window_rule_is_the_default_and_byte_identical(tmp_path):
    a = simulate("small", seed=0, out=tmp_path / "a", overrides=TINY)
    b = simulate("small", seed=0, out=tmp_path / "b", overrides={**TINY, "tfs.TAL1.partner_rule": "window",
                                                                 "tfs.TAL1.partner_tolerance": 2})
    files = sorted(p.relative_to(a.out) for p in a.out.rglob("*") if p.is_file())
    assert files and {f: _sha(a.out / f) for f in files} == {f: _sha(b.out / f) for f in files}
    assert "partner_gap" not in a.truth["sim"].columns
    man = json.loads((a.out / "manifest.json").read_text())
    assert not any("partner_rule" in t or "partner_tolerance" in t for t in man["config"]["tfs"])


def test_manifest_records_the_rule(tmp_path):
    res = simulate("small", seed=0, out=tmp_path / "s", overrides={**TINY, "tfs.TAL1.partner_rule": "spacing"})
    man = json.loads((res.out / "manifest.json").read_text())
    tal = next(t for t in man["config"]["tfs"] if t["name"] == "TAL1")
    assert tal["partner_rule"] == "spacing" and tal["partner_tolerance"] == 2
    header = (res.out / "sim" / "truth.tsv").read_text().split("\n", 1)[0].split("\t")
    assert header[header.index("partner_present") + 1] == "partner_gap"


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("tfs.CTCF.partner_rule", "spacing", "tfs.CTCF.partner_rule: 'spacing' needs a partner"),
        ("tfs.TAL1.partner_rule", "near", "partner_rule"),
        ("tfs.TAL1.partner_tolerance", -1, "partner_tolerance"),
        ("tfs.TAL1.partner_tolerance", 51, "partner_tolerance"),
    ],
)
def test_config_errors(key, value, needle):
    with pytest.raises(ConfigError) as e:
        resolve_config("small", {key: value})
    assert needle in str(e.value)


def test_cli_error_is_one_line(tmp_path, capsys):
    code, _, err = cli(["simulate", "--preset", "small", "--out", tmp_path / "x", "--set",
                        "tfs.CTCF.partner_rule=spacing"], capsys)
    assert_one_error(code, err, "tfs.CTCF.partner_rule", "tfs.CTCF.partner")

"""The simulator: determinism, genome composition, planted sites, binding rules, peaks, species, CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bindscape.errors import ConfigError
from bindscape.io.genome import read_fasta as read_fasta_codes
from bindscape.simulate import load_site_motif, resolve_config, sample_site, simulate
from bindscape.simulate.realism import cpg_oe, gc_windows, karlin_delta

NP_COLS = ["chrom", "start", "end", "name", "score", "strand", "signalValue", "pValue", "qValue", "peak"]
# small preset, denser sites so rates are measured on a few hundred events
DENSE = {"tfs.*.sites_per_mb": 600, "species.*.chrom_sizes": [250000, 150000]}


def _checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim_small")
    return simulate("small", seed=3, out=out, overrides=DENSE)


@pytest.fixture(scope="module")
def multi():
    return simulate(
        "multi-species",
        seed=1,
        overrides={"species.*.chrom_sizes": [200000, 150000, 100000], "tfs.*.sites_per_mb": 200},
    )


def test_layout_and_manifest(small):
    out = small.out
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 3 and man["species"] == ["sim"]
    assert [t["name"] for t in man["tfs"]] == ["CTCF", "GATA1", "TAL1"]
    assert man["cells"] == ["liver", "erythroid"]
    assert man["config"]["chip"]["sensitivity"] == 0.8
    ent = man["outputs"]["sim"]
    for rel in [
        ent["genome"],
        ent["chrom_sizes"],
        ent["truth"],
        *ent["peaks"].values(),
        *ent["accessibility"].values(),
    ]:
        assert (out / rel).is_file(), rel
    assert len(ent["peaks"]) == 6 and ent["peaks"]["TAL1.erythroid"] == "sim/peaks/TAL1.erythroid.narrowPeak"
    sizes = (out / "sim/chrom.sizes").read_text().split()
    assert sizes == ["chr1", "250000", "chr2", "150000"]
    with gzip.open(out / "sim/genome.fa.gz", "rt") as fh:
        lines = fh.read().splitlines()
    assert lines[0] == ">chr1" and len(lines[1]) == 60
    seqs = read_fasta_codes(out / "sim/genome.fa.gz")
    assert {c: len(s) for c, s in seqs.items()} == {"chr1": 250000, "chr2": 150000}
    truth = pd.read_csv(out / "sim/truth.tsv", sep="\t")
    for col in [
        "species",
        "tf",
        "chrom",
        "start",
        "end",
        "strand",
        "affinity",
        "log_odds",
        "cluster_id",
        "partner",
        "accessible_liver",
        "bound_liver",
        "reason_liver",
        "bound_erythroid",
    ]:
        assert col in truth.columns
    assert truth.affinity.between(0, 1).all()
    assert set(truth.reason_liver) <= {
        "bound",
        "closed-chromatin",
        "low-affinity",
        "no-partner",
        "stochastic",
        "decoy",
        "turnover",
        "not-expressed",
    }
    assert {"planted", "decoy", "background", "partner", "cluster"} <= set(truth.origin)
    peaks = pd.read_csv(out / "sim/peaks/CTCF.liver.narrowPeak", sep="\t", header=None, names=NP_COLS)
    assert len(peaks) > 20
    w = peaks.end - peaks.start
    assert w.min() >= 150 and np.median(w) > 200 and w.max() < 1000
    assert ((peaks.peak >= 0) & (peaks.peak < w)).all()
    assert peaks.score.between(0, 1000).all()


def test_determinism(small, tmp_path):
    a = _checksums(small.out)
    simulate("small", seed=3, out=tmp_path / "a", overrides=DENSE)
    assert _checksums(tmp_path / "a") == a
    simulate("small", seed=4, out=tmp_path / "b", overrides=DENSE)
    b = _checksums(tmp_path / "b")
    assert b.keys() == a.keys()
    assert b["sim/genome.fa.gz"] != a["sim/genome.fa.gz"] and b["sim/truth.tsv"] != a["sim/truth.tsv"]


def test_softmask_repeats_gc_cpg(small):
    g = small.genomes["sim"]
    _, masks = read_fasta_codes(small.out / "sim/genome.fa.gz", with_mask=True)
    frac = sum(m.sum() for m in masks.values()) / g.size
    assert abs(frac - 0.30) < 0.03, frac
    assert abs(g.repeat_fraction() - frac) < 1e-9
    # repeats.bed names the family of every inserted copy, and exactly the masked bases are covered
    rep = pd.read_csv(small.out / "sim/repeats.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
    assert set(rep["name"]) == {f.name for f in small.config.species[0].repeats}
    assert small.manifest["outputs"]["sim"]["repeats"] == "sim/repeats.bed"
    for chrom, m in masks.items():
        cover = np.zeros(len(m), bool)
        for a, b in rep.loc[rep["chrom"] == chrom, ["start", "end"]].to_numpy():
            assert not cover[a:b].any()  # copies never overlap
            cover[a:b] = True
        assert (cover == m).all()
    # GC varies across isochores: 1-kb window sd well above the binomial sd (~0.016)
    gcw = gc_windows(g.seqs)
    assert 0.36 < gcw.mean() < 0.46 and gcw.std() > 0.025
    assert cpg_oe(g.seqs) < 0.6
    # without CpG depletion (and without repeats) CpG o/e is near 1
    r = simulate(
        "small",
        seed=0,
        overrides={
            "species.sim.cpg_oe": 1.0,
            "species.sim.repeat_fraction": 0.0,
            "species.sim.cpg_islands_per_mb": 0,
            "tfs.*.sites_per_mb": 10,
            "species.sim.chrom_sizes": [100000],
        },
    )
    assert cpg_oe(r.genomes["sim"].seqs) > 0.85


def _independent_threshold(counts: np.ndarray, pvalue: float) -> tuple[np.ndarray, float]:
    """Log-odds (natural log, pseudocount 0.1 per count column) and the p-value threshold, by enumeration-
    free DP on a 0.05-nat grid -- independent of the simulator's own scoring code."""
    probs = (counts + 0.1 * counts.sum(0) / 100 + 0.025) / (counts.sum(0) + 0.1 * counts.sum(0) / 25 + 0.1)
    probs = probs / probs.sum(0)
    lo = np.log(probs / 0.25)
    ints = np.floor(lo / 0.05).astype(int)
    dist = {0: 1.0}
    for j in range(lo.shape[1]):
        new: dict[int, float] = {}
        for s, p in dist.items():
            for b in range(4):
                new[s + ints[b, j]] = new.get(s + ints[b, j], 0.0) + p / 4
        dist = new
    acc = 0.0
    for s in sorted(dist, reverse=True):
        acc += dist[s]
        if acc > pvalue:
            return lo, (s + 1) * 0.05
    return lo, -np.inf


def test_pwm_scan_finds_planted_sites(small):
    from pyjaspar import jaspardb

    db = jaspardb(release="JASPAR2024")
    truth = small.truth["sim"]
    seqs = small.genomes["sim"].seqs
    planted = truth[truth.origin.isin(["planted", "cluster", "partner", "decoy"])]
    found = total = 0
    for tf, df in planted.groupby("tf"):
        jid = {t.name: t.jaspar_id for t in small.config.tfs}[tf]
        m = db.fetch_motif_by_id(jid)
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=float)
        lo, thr = _independent_threshold(counts, 1e-4)
        w = lo.shape[1]
        rc = lo[::-1, ::-1]
        for chrom, start, strand in zip(df.chrom, df.start, df.strand, strict=True):
            s = seqs[chrom][start : start + w]
            mat = lo if strand == "+" else rc
            score = mat[s, np.arange(w)].sum() if (s < 4).all() else -np.inf
            found += score >= thr
            total += 1
    frac = found / total
    print(f"PWM scan found {found}/{total} = {frac:.3f} planted sites at p < 1e-4")
    assert total > 500 and frac >= 0.95


def test_sample_site_affinity():
    m = load_site_motif("GATA1", "MA0035.4")
    rng = np.random.default_rng(0)
    weak = [m.affinity(m.score(sample_site(m, rng, 0.05))) for _ in range(20)]
    strong = [m.affinity(m.score(sample_site(m, rng, 0.95))) for _ in range(20)]
    assert min(weak + strong) >= 0 and np.mean(strong) > np.mean(weak) + 0.5
    raw = sample_site(m.probs, rng)
    assert raw.shape == (m.width,) and raw.max() < 4


def _overlaps(peaks: pd.DataFrame, chrom, start, end) -> np.ndarray:
    out = np.zeros(len(chrom), dtype=bool)
    for c, grp in peaks.groupby("chrom"):
        ps, pe = grp.start.to_numpy(), grp.end.to_numpy()
        sel = np.flatnonzero(np.asarray(chrom) == c)
        for i in sel:
            out[i] = ((ps < end[i]) & (pe > start[i])).any()
    return out


def test_chip_sensitivity_precision(small):
    truth = small.truth["sim"]
    n_bound = n_hit = n_peaks = n_tp = 0
    for (_sp, tf, cell), peaks in small.peaks.items():
        b = truth[(truth.tf == tf) & truth[f"bound_{cell}"]]
        hit = _overlaps(peaks, b.chrom.to_numpy(), b.start.to_numpy(), b.end.to_numpy())
        n_bound += len(b)
        n_hit += hit.sum()
        tp = _overlaps(
            b.rename(columns={}), peaks.chrom.to_numpy(), peaks.start.to_numpy(), peaks.end.to_numpy()
        )
        n_peaks += len(peaks)
        n_tp += tp.sum()
    sens, prec = n_hit / n_bound, n_tp / n_peaks
    print(
        f"ChIP sensitivity {sens:.3f} (configured 0.8), precision {prec:.3f} (configured 0.9); "
        f"{n_bound} bound sites, {n_peaks} peaks"
    )
    assert n_bound > 300
    assert abs(sens - 0.8) < 0.05 and abs(prec - 0.9) < 0.04


def test_binding_rules(small):
    t = small.truth["sim"]
    live = t[~t.origin.isin(["decoy", "turnover"])]
    for cell in ("liver", "erythroid"):
        nonpio = live[~live.pioneer]
        acc = nonpio[nonpio[f"accessible_{cell}"]][f"bound_{cell}"].mean()
        closed = nonpio[~nonpio[f"accessible_{cell}"]][f"bound_{cell}"].mean()
        assert acc > 0.3 and closed < 0.05 and acc > 8 * closed, (acc, closed)
        # partner effect: accessible TAL1 sites bind far more often with a GATA1 partner nearby
        tal = live[(live.tf == "TAL1") & live[f"accessible_{cell}"]]
        with_p = tal[tal.partner_present][f"bound_{cell}"].mean()
        without = tal[~tal.partner_present][f"bound_{cell}"].mean()
        assert with_p > without + 0.25, (with_p, without)
        # binding depends on affinity, and decoys never bind
        acc_sites = nonpio[nonpio[f"accessible_{cell}"] & (nonpio.tf == "CTCF")]
        assert (
            acc_sites[acc_sites.affinity > 0.6][f"bound_{cell}"].mean()
            > acc_sites[acc_sites.affinity < 0.3][f"bound_{cell}"].mean() + 0.2
        )
        assert not t[t.origin == "decoy"][f"bound_{cell}"].any()
        # accessible-but-unbound instances exist (the HQ negatives later issues need)
        assert (t[f"accessible_{cell}"] & ~t[f"bound_{cell}"]).sum() > 50
    # cell types differ: some sites bound in one cell only
    assert (t.bound_liver != t.bound_erythroid).sum() > 20


def test_multi_species(multi):
    names = multi.species
    assert names == ["primate", "rodent", "fish"]
    st = multi.manifest["stats"]
    gcs = {s: st[s]["gc"] for s in names}
    reps = {s: st[s]["repeat_fraction"] for s in names}
    print("multi-species GC", gcs, "repeat share", reps)
    assert gcs["primate"] - gcs["fish"] > 0.03
    assert reps["fish"] - reps["rodent"] > 0.1
    assert abs(reps["primate"] - 0.40) < 0.03
    fams = {s: set(st[s]["repeat_families"]) for s in names}
    assert not fams["primate"] & fams["fish"]
    assert karlin_delta(multi.genomes["primate"].seqs, multi.genomes["fish"].seqs) > 0.02
    tfsets = [set(multi.truth[s].tf) for s in names]
    assert tfsets[0] == tfsets[1] == tfsets[2] == {"CEBPA", "FOXA1", "HNF4A", "CTCF"}
    for s in names:
        assert (multi.truth[s].species == s).all()
    # shared catalogue sites (same site_id) across species; turnover recorded in non-reference species
    ids = [set(multi.truth[s].site_id[multi.truth[s].origin.isin(["planted", "cluster"])]) for s in names]
    shared = len(ids[0] & ids[1]) / len(ids[0])
    assert 0.55 < shared < 0.85, shared
    assert (multi.truth["rodent"].reason_liver == "turnover").sum() > 20
    assert (multi.truth["primate"].origin == "turnover").sum() == 0


def test_overrides_and_errors():
    cfg = resolve_config(
        "small", {"chip.sensitivity": "0.7", "tfs.CTCF.sites_per_mb": 5, "species.*.chrom_sizes": "[50000]"}
    )
    assert cfg.chip.sensitivity == 0.7 and cfg.tfs[0].sites_per_mb == 5
    assert cfg.species[0].chrom_sizes == [50000]
    with pytest.raises(ConfigError, match="unknown simulator preset"):
        resolve_config("nope")
    with pytest.raises(ConfigError, match="chip.bogus"):
        resolve_config("small", {"chip.bogus": 1})
    with pytest.raises(ConfigError, match="sensitivity"):
        resolve_config("small", {"chip.sensitivity": 3})


def test_cli(tmp_path, capsys):
    from bindscape.cli import main

    out = tmp_path / "cli"
    rc = main(
        [
            "simulate",
            "--preset",
            "small",
            "--seed",
            "2",
            "--out",
            str(out),
            "--set",
            "species.*.chrom_sizes=[60000,40000]",
            "--set",
            "tfs.*.sites_per_mb=100",
        ]
    )
    assert rc == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["species"][0]["chrom_sizes"] == [60000, 40000]
    assert (out / "sim/genome.fa.gz").is_file() and (out / "sim/truth.tsv").is_file()
    assert (out / "sim/peaks/GATA1.liver.narrowPeak").is_file()
    assert (out / "sim/accessibility/erythroid.narrowPeak").is_file()
    assert main(["simulate", "--preset", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown simulator preset" in err and "demo" in err and "multi-species" in err
    assert main(["simulate", "--preset", "small", "--set", "chip.bogus=1", "--out", str(tmp_path / "y")]) == 2
    rc = main(["simulate-realism", str(out / "sim/genome.fa.gz"), "--name", "small"])
    assert rc == 0 and "cpg_oe" in capsys.readouterr().out


def test_realism_against_real(shared_data):
    pytest.importorskip("gzip")
    from conftest import require_shared

    require_shared("human/hg19_chr22_20000001-21000000.fa.gz")
    human = read_fasta_codes(shared_data / "human/hg19_chr22_20000001-21000000.fa.gz")
    r = simulate("small", seed=0, overrides={"tfs.*.sites_per_mb": 10})
    syn = r.genomes["sim"].seqs
    assert cpg_oe(human) < 0.5 and cpg_oe(syn) < 0.5
    assert karlin_delta(syn, human) < 0.12


def test_peaks_stay_inside_chromosomes(tmp_path):
    """Regression: a ChIP peak at a chromosome end used to reach past it (into the internal spacer)."""
    from bindscape.simulate import simulate

    res = simulate(preset="demo", seed=0, out=tmp_path / "s", overrides={
        "tfs.HNF4A.sites_per_mb": 4000, "tfs.FOXA1.sites_per_mb": 1200, "cells.liver.accessible_fraction": 0.35,
        "tfs.HNF4A.partner_fraction": 0.6, "binding.logit.affinity": 2.0, "binding.logit.no_partner": -5.0,
        "species.*.chrom_sizes": [400_000, 300_000, 300_000]})
    sizes = dict(line.split() for line in (tmp_path / "s/sim/chrom.sizes").read_text().splitlines())
    import pandas as pd

    for f in list((tmp_path / "s/sim/peaks").glob("*.narrowPeak")) + list((tmp_path / "s/sim/accessibility").glob("*")):
        df = pd.read_csv(f, sep="\t", header=None)
        if len(df) == 0:
            continue
        assert (df[1] >= 0).all() and (df[1] < df[2]).all()
        assert (df[2] <= df[0].map(lambda c: int(sizes[c]))).all(), f.name
        assert ((df[9] >= 0) & (df[9] < df[2] - df[1])).all(), f.name
    assert res is not None


def _functional(t: pd.DataFrame, tfs) -> pd.DataFrame:
    """The functional planted instances (planted, cluster, partner) of the TFs `tfs` in a truth table."""
    return t[t.origin.isin(["planted", "cluster", "partner"]) & t.tf.isin(tfs)]


def _near(t: pd.DataFrame, rows, tfs, window: int = 250, self_ok: bool = False) -> np.ndarray:
    """For each row of `rows`: is a functional site of `tfs` (other than itself unless self_ok) centred within
    `window` bp?"""
    src = _functional(t, tfs)
    out = np.zeros(len(rows), dtype=bool)
    for ch, sub in rows.groupby("chrom"):
        c = ((sub.start + sub.end) // 2).to_numpy()
        o = np.sort(((src[src.chrom == ch].start + src[src.chrom == ch].end) // 2).to_numpy())
        if len(o) == 0:
            continue
        d = np.abs(c[:, None] - o[None, :])
        if not self_ok:
            d[d == 0] = 10**9
        out[rows.index.get_indexer(sub.index)] = d.min(axis=1) <= window
    return out


def test_lineage_tfs_open_chromatin(small):
    """cells.<c>.opened_by (opt-in): the cell's specific accessible DNA moves onto its lineage TFs' sites, and
    other TFs' sites gather there (cell-type-specific enhancers)."""
    # demo-like site density: with DENSE's 600 sites/Mb, open_bias packs the random domains with sites too
    base = {"tfs.*.sites_per_mb": 150, "species.*.chrom_sizes": [600000, 400000]}
    lineage = {**base, "cells.erythroid.opened_by": ["GATA1", "TAL1"], "cells.erythroid.opened_fraction": 0.8,
               "cells.erythroid.opened_length": 400}
    ref, res = simulate("small", seed=3, overrides=base), simulate("small", seed=3, overrides=lineage)
    t0, t1 = ref.truth["sim"], res.truth["sim"]
    # default: the option is absent from the manifest (unchanged files); with it, recorded
    assert all("opened_by" not in c and "opened_length" not in c for c in small.manifest["config"]["cells"])
    cells1 = {c["name"]: c for c in res.manifest["config"]["cells"]}
    assert cells1["erythroid"]["opened_by"] == ["GATA1", "TAL1"] and cells1["erythroid"]["opened_length"] == 400
    assert "opened_by" not in cells1["liver"]
    # a cell without opened_by keeps exactly its accessible domains (sites are placed anew around them)
    acc0, acc1 = (r.accessibility[("sim", "liver")][["chrom", "start", "end"]] for r in (ref, res))
    assert acc0.equals(acc1)

    def acc(t, tf, cell):
        return _functional(t, [tf])[f"accessible_{cell}"].mean()

    for tf in ("GATA1", "TAL1"):
        with_opt, without, other = acc(t1, tf, "erythroid"), acc(t0, tf, "erythroid"), acc(t1, tf, "liver")
        print(tf, "accessible in erythroid", round(without, 3), "->", round(with_opt, 3), "liver", round(other, 3))
        assert with_opt > 1.5 * without and with_opt > 1.5 * other, (tf, with_opt, without, other)
        assert _functional(t1, [tf]).bound_erythroid.mean() > _functional(t0, [tf]).bound_erythroid.mean()
    # CTCF (not a lineage TF here) is not opened in erythroid ...
    assert acc(t1, "CTCF", "erythroid") < acc(t0, "CTCF", "erythroid") + 0.05
    # ... but its sites accessible in erythroid sit near GATA1/TAL1 sites far more often than those accessible in
    # liver, or than without the option: the cell type is written in the sequence around every TF's sites
    ctcf = _functional(t1, ["CTCF"])
    near = _near(t1, ctcf, ["GATA1", "TAL1"])
    in_ery, in_liver = near[ctcf.accessible_erythroid.to_numpy(bool)].mean(), near[ctcf.accessible_liver.to_numpy(bool)].mean()
    ctcf0 = _functional(t0, ["CTCF"])
    before = _near(t0, ctcf0, ["GATA1", "TAL1"])[ctcf0.accessible_erythroid.to_numpy(bool)].mean()
    print("CTCF accessible in erythroid near GATA1/TAL1", round(before, 3), "->", round(in_ery, 3), "liver", round(in_liver, 3))
    assert in_ery > 3 * in_liver and in_ery > 1.5 * before, (in_ery, in_liver, before)
    # the accessible fraction is kept; domains stay sorted, non-overlapping, inside chromosomes; the opened
    # domains have the given length, each centred on a GATA1/TAL1 site
    fr0, fr1 = (r.manifest["stats"]["sim"]["accessible_fraction"]["erythroid"] for r in (ref, res))
    assert abs(fr1 - fr0) < 0.01, (fr0, fr1)
    peaks = res.accessibility[("sim", "erythroid")]
    for _, df in peaks.groupby("chrom"):
        s, e = df.start.to_numpy(), df.end.to_numpy()
        assert (np.diff(s) > 0).all() and (s[1:] >= e[:-1]).all()
    opened = peaks[(peaks.end - peaks.start) == 400]
    assert len(opened) > 50
    mids = pd.DataFrame({"chrom": opened.chrom, "start": opened.start + 200, "end": opened.start + 200})
    assert _near(t1, mids.reset_index(drop=True), ["GATA1", "TAL1"], window=0, self_ok=True).mean() > 0.95


def test_lineage_option_errors():
    with pytest.raises(ConfigError, match=r"cells\.liver\.opened_by: unknown TFs \['NOPE'\]"):
        resolve_config("small", {"cells.liver.opened_by": ["NOPE"]})
    with pytest.raises(ConfigError, match=r"cells\.liver\.opened_by: \['GATA1'\] are not expressed"):
        resolve_config("small", {"cells.liver.opened_by": ["GATA1"], "cells.liver.tfs": ["CTCF"]})
    with pytest.raises(ConfigError, match="opened_fraction"):
        resolve_config("small", {"cells.liver.opened_fraction": 1.5})
    assert resolve_config("small").cells[0].opened_by is None

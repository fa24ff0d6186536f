"""`bindscape predict-bp` streams region by region: outputs equal the former in-memory implementation.

`_reference_predict_bp` is a verbatim copy of the former `predict_bp_cmd` body (every window's one-hot, every
bp's prediction and a per-bp pandas frame for the whole genome held in memory): the streamed command must
write the same called sites (byte for byte), the same per-bp values in the bedGraph and the bigWig.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import assert_one_error, cli, write_fasta

torch.set_num_threads(1)


# -- the former implementation (reference) -------------------------------------------------------------------
def _reference_tile(regions, sizes: dict[str, int], L: int):
    rows = []
    for i, (c, s, e) in enumerate(zip(regions["chrom"], regions["start"], regions["end"])):
        size = sizes[c]
        starts = list(range(int(s), max(int(e) - L, int(s)) + 1, L))
        if starts[-1] + L < e:
            starts.append(int(e) - L)
        for w in starts:
            rows.append((i, c, int(min(max(w, 0), max(size - L, 0)))))
    return rows, np.array([r[2] for r in rows], dtype=np.int64)


def _reference_predict_bp(checkpoint, tf, cell, genome, bed, out, bedgraph=None, bigwig=None, threshold=0.5,
                          batch_size=64):
    from bindscape.io.bed import read_bed
    from bindscape.io.genome import Genome
    from bindscape.train import frame_intervals, load_multitask_checkpoint, predict_bp, write_tracks

    loaded = load_multitask_checkpoint(checkpoint)
    g = Genome(genome)
    L = loaded.length
    regions = read_bed(bed) if bed else pd.DataFrame({"chrom": g.chroms, "start": 0, "end": [g.sizes[c] for c in g.chroms]})
    rows, starts = _reference_tile(regions, g.sizes, L)
    chroms = np.array([r[1] for r in rows])
    x = g.fetch_onehot(chroms, starts, length=L, pad=True)
    if loaded.tracks is not None:
        x = np.concatenate([x, loaded.tracks.fetch(cell, chroms, starts, L)], axis=1)
    p = predict_bp(loaded, x, tf, cell, batch_size=batch_size)
    graph = []
    for (i, c, w), pw in zip(rows, p):
        s, e = int(regions["start"].iloc[i]), int(regions["end"].iloc[i])
        lo, hi = max(s, w), min(e, w + L)
        seg = pw[lo - w : hi - w]
        graph.append(pd.DataFrame({"chrom": c, "start": np.arange(lo, hi), "end": np.arange(lo, hi) + 1, "value": seg}))
    gdf = pd.concat(graph, ignore_index=True).drop_duplicates(["chrom", "start"], keep="last").sort_values(["chrom", "start"])
    on = (gdf["value"].to_numpy() >= threshold).astype(np.int8)
    brk = np.ones(len(gdf), bool)
    brk[1:] = (gdf["chrom"].to_numpy()[1:] != gdf["chrom"].to_numpy()[:-1]) | (np.diff(gdf["start"].to_numpy()) != 1) | (on[1:] != on[:-1])
    run_id = np.cumsum(brk)
    runs = gdf.assign(on=on, run=run_id)[on == 1].groupby("run").agg(chrom=("chrom", "first"), start=("start", "min"),
                                                                      end=("end", "max"), score=("value", "max"))
    out.parent.mkdir(parents=True, exist_ok=True)
    runs[["chrom", "start", "end", "score"]].to_csv(out, sep="\t", header=False, index=False, float_format="%.4f")
    if bedgraph or bigwig:
        write_tracks(frame_intervals(gdf, "value"), bedgraph=bedgraph, bigwig=bigwig, sizes=g.sizes,
                     name=f"{tf}/{cell or '-'}")
    return gdf


# -- a tiny multitask checkpoint -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mt(tmp_path_factory):
    """A 1-epoch nettime model (window 100 bp) on a 3-chromosome random genome, with one accessibility track."""
    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp
    from bindscape.train.tasks.multitask_bp import train_multitask, validate_multitask_config

    root = tmp_path_factory.mktemp("mtstream")
    rng = np.random.default_rng(1)
    sizes = {"chrB": 6_050, "chrA": 9_017, "chrC": 4_003}  # FASTA order is not name order
    write_fasta(root / "g.fa", {c: "".join(rng.choice(list("ACGT"), n)) for c, n in sizes.items()})
    conds = []
    for tf in ("TA", "TB"):
        for cell in ("c1", "c2"):
            rows = [(c, int(s), int(s) + 60) for c, n in sizes.items() for s in rng.integers(100, n - 200, 6)]
            p = root / f"{tf}.{cell}.bed"
            pd.DataFrame(rows).to_csv(p, sep="\t", header=False, index=False)
            conds.append(Condition(tf, cell, None, str(p)))
    bg = root / "c1.bedGraph"
    pd.DataFrame([("chrA", 0, 1000, 2.0), ("chrA", 1000, 1200, 5.0)]).to_csv(bg, sep="\t", header=False, index=False)
    tracks = {"names": ["atac"], "files": {"c1": {"atac": str(bg)}, "c2": {}}}
    data = build_multitask_bp(root / "g.fa", conds, root / "data", length=100, background=0.5, tracks=tracks,
                              split="chroms", val=["chrB"], test=["chrC"], seed=0)
    cfg = validate_multitask_config({
        "dataset": str(data), "name": "m", "out_dir": str(root),
        "model": {"name": "nettime", "params": {"channels": 8, "d_tf": 4, "d_cell": 4, "n_blocks": 1, "decoder": 8}},
        "data": {"batch_size": 32}, "trainer": {"max_epochs": 1, "patience": None, "threads": 1},
    })
    return train_multitask(cfg), root / "g.fa", sizes


# -- helpers ---------------------------------------------------------------------------------------------------
def _per_bp_lines(path) -> dict:
    """bedGraph -> {(chrom, position): value text}, every interval expanded to its base pairs."""
    out = {}
    for line in path.read_text().splitlines()[1:]:
        c, s, e, v = line.split("\t")
        for pos in range(int(s), int(e)):
            assert (c, pos) not in out
            out[(c, pos)] = v
    return out


def _bigwig_values(path, sizes) -> dict:
    """bigWig -> {chrom: float32 values per bp (NaN where not covered)}."""
    import pybigtools

    with pybigtools.open(str(path)) as bw:
        return {c: np.asarray(bw.values(c, 0, n, fillna=None), np.float32) for c, n in sizes.items()}


def _run_both(mt, tmp_path, *, bed=None, threshold=None, batch_size=64):
    """The reference and the streamed command on the same inputs: (reference frame, ref files, new files)."""
    run, fa, sizes = mt
    ref = {k: tmp_path / f"ref.{k}" for k in ("bed", "bedGraph", "bw")}
    new = {k: tmp_path / f"new.{k}" for k in ("bed", "bedGraph", "bw")}
    gdf = _reference_predict_bp(run, "TA", "c1", fa, bed, ref["bed"], batch_size=batch_size)
    threshold = float(np.quantile(gdf["value"], 0.7)) if threshold is None else threshold
    gdf = _reference_predict_bp(run, "TA", "c1", fa, bed, ref["bed"], ref["bedGraph"], ref["bw"], threshold,
                                batch_size)
    args = ["predict-bp", "-c", run, "--tf", "TA", "--cell", "c1", "-g", fa, "-o", new["bed"],
            "--bedgraph", new["bedGraph"], "--bigwig", new["bw"], "--threshold", repr(threshold),
            "--batch-size", batch_size]
    return gdf, ref, new, args + (["--bed", bed] if bed else [])


# -- identity with the former implementation ------------------------------------------------------------------
def test_whole_genome_equals_the_in_memory_reference(mt, tmp_path, capsys):
    _, _, sizes = mt
    gdf, ref, new, args = _run_both(mt, tmp_path)
    code, out, err = cli(args, capsys)
    assert code == 0, err
    assert "binding sites for TA/c1 (19,070 bp on 3 chromosomes, threshold" in out
    ref_sites, new_sites = ref["bed"].read_text().splitlines(), new["bed"].read_text().splitlines()
    assert len(new_sites) > 5 and sorted(new_sites) == sorted(ref_sites)  # the same sites, byte for byte
    assert [s.split("\t")[0] for s in new_sites] == sorted((s.split("\t")[0] for s in new_sites),
                                                          key=list(sizes).index)  # in FASTA order
    assert _per_bp_lines(new["bedGraph"]) == _per_bp_lines(ref["bedGraph"])
    a, b = _bigwig_values(new["bw"], sizes), _bigwig_values(ref["bw"], sizes)
    for c in sizes:
        np.testing.assert_array_equal(a[c], b[c])  # float32, bit for bit
        np.testing.assert_array_equal(a[c], gdf[gdf["chrom"] == c]["value"].to_numpy())  # every bp covered
    _check_zoom_levels(new["bw"], a)


def _check_zoom_levels(path, values: dict) -> None:
    """pybigtools writes its own zoom levels (no option sets them, docs/predict.md): each level's records
    summarise the per-bp values of their bins."""
    import pybigtools

    with pybigtools.open(str(path)) as bw:
        zooms = bw.zooms()
        assert zooms and bw.info()["zoomLevels"] == len(zooms)
        for z in zooms:
            for c, v in values.items():
                for s, e, summary in bw.zoom_records(z, c):
                    assert e - s <= z and summary["bases_covered"] == e - s
                    assert summary["sum"] == pytest.approx(float(v[s:e].astype(np.float64).sum()), rel=1e-5)
                    assert summary["max_val"] == pytest.approx(float(v[s:e].max()))


def test_overlapping_unsorted_regions_equal_the_reference_byte_for_byte(mt, tmp_path, capsys):
    """Regions sorted by chromosome name (as `sort -k1,1`): overlaps (later region wins), a region shorter than
    the window, one at the chromosome's end, unsorted within a chromosome, small batches across regions."""
    _, _, sizes = mt
    bed = tmp_path / "q.bed"
    bed.write_text("chrA\t3000\t3350\nchrA\t120\t135\nchrA\t3200\t3900\nchrA\t8900\t9017\n"
                   "chrA\t50\t260\nchrB\t0\t6050\nchrC\t3990\t4003\nchrC\t1000\t1001\n")
    gdf, ref, new, args = _run_both(mt, tmp_path, bed=bed, batch_size=3)
    code, _, err = cli(args, capsys)
    assert code == 0, err
    assert new["bed"].read_bytes() == ref["bed"].read_bytes() and new["bed"].stat().st_size > 0
    assert _per_bp_lines(new["bedGraph"]) == _per_bp_lines(ref["bedGraph"])
    a, b = _bigwig_values(new["bw"], sizes), _bigwig_values(ref["bw"], sizes)
    for c in sizes:
        np.testing.assert_array_equal(a[c], b[c])
    assert len(gdf) == (3900 - 3000) + (260 - 50) + 117 + 6050 + 13 + 1  # overlaps counted once


def test_threshold_above_every_value_writes_an_empty_bed(mt, tmp_path, capsys):
    gdf, ref, new, args = _run_both(mt, tmp_path, threshold=1.0)
    code, out, _ = cli(args, capsys)
    assert code == 0 and out.startswith("0 binding sites")
    assert new["bed"].read_bytes() == ref["bed"].read_bytes() == b""


# -- the streaming pieces ------------------------------------------------------------------------------------
def _chunks(values: dict, cuts: list[int]):
    """Split each chromosome's (positions, values) at `cuts` (indices), as `iter_bp` may."""
    for c, (pos, v) in values.items():
        bounds = [0, *[k for k in cuts if 0 < k < len(pos)], len(pos)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            yield c, pos[a:b], v[a:b]


def test_sites_and_intervals_do_not_depend_on_chunking():
    from bindscape.train import bp_intervals
    from bindscape.train.tasks.multitask_bp import SiteCaller

    rng = np.random.default_rng(3)
    pos = np.r_[np.arange(10, 60), np.arange(70, 90)]  # a gap at 60..70
    v = rng.choice(np.array([0.1, 0.6, 0.9], np.float32), len(pos))
    v[20:30] = 0.9  # a long equal stretch: one interval
    values = {"c1": (pos, v), "c2": (np.arange(5), np.full(5, 0.7, np.float32))}

    def run(cuts):
        caller = SiteCaller(0.5)
        sites = [s for ch in _chunks(values, cuts) for s in caller.add(*ch)] + caller.finish()
        return sites, [(c, s.tolist(), e.tolist(), x.tolist()) for c, s, e, x in bp_intervals(_chunks(values, cuts))]

    one_sites, one_iv = run([])
    for cuts in ([1], [25, 50], list(range(1, 70, 3)), list(range(70))):
        sites, iv = run(cuts)
        assert sites == one_sites
        flat = lambda ivs: [(c, s, e, x) for c, ss, es, xs in ivs for s, e, x in zip(ss, es, xs)]  # noqa: E731
        assert flat(iv) == flat(one_iv)
    flat_iv = [(c, s, e, x) for c, ss, es, xs in one_iv for s, e, x in zip(ss, es, xs)]
    assert ("c1", 30, 40, pytest.approx(0.9)) in flat_iv or any(s <= 30 and e >= 40 for _, s, e, _ in flat_iv)
    assert flat_iv[-1] == ("c2", 0, 5, pytest.approx(0.7))  # five equal base pairs: one interval
    on = v >= 0.5
    assert sum(e - s for c, s, e, _ in one_sites if c == "c1") == int(on.sum())
    assert all(e <= 60 or s >= 70 for c, s, e, _ in one_sites if c == "c1")  # never across the gap


def test_tiling_covers_each_region_with_windows_inside_the_chromosome():
    from bindscape.train.tasks.multitask_bp import bp_windows

    w, lo, hi = bp_windows([0, 250, 990], [230, 260, 1000], 1000, 100)
    assert w.tolist() == [0, 100, 130, 250, 900]
    assert lo.tolist() == [0, 100, 130, 250, 990] and hi.tolist() == [100, 200, 230, 260, 1000]


# -- bad input -------------------------------------------------------------------------------------------------
def test_bad_input_is_one_line(mt, tmp_path, capsys):
    run, fa, _ = mt
    base = ["predict-bp", "-c", run, "-g", fa]
    code, _, err = cli(base + ["--tf", "NOPE", "--cell", "c1", "-o", tmp_path / "x.bed"], capsys)
    assert_one_error(code, err, "this model knows: TA, TB")
    bed = tmp_path / "q.bed"
    bed.write_text("chrA\t0\t100\nchrZ\t0\t100\n")
    code, _, err = cli(base + ["--tf", "TA", "--cell", "c1", "--bed", bed, "-o", tmp_path / "x.bed"], capsys)
    assert_one_error(code, err, "q.bed:2", "chrZ")
    bed.write_text("A\t0\t100\nchrA\t9000\t9100\n")
    code, _, err = cli(base + ["--tf", "TA", "--cell", "c1", "--bed", bed, "-o", tmp_path / "x.bed"], capsys)
    assert_one_error(code, err, "q.bed:1", "'A' is not in the genome", "--chrom-alias")  # a flag it has
    code, _, err = cli(base + ["--tf", "TA", "--cell", "c1", "--bed", bed, "-o", tmp_path / "x.bed",
                               "--chrom-alias", "A=chrA"], capsys)
    assert_one_error(code, err, "q.bed:2", "ends past the end of chrA (9017 bp)")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for flag in ("-o", "--bigwig"):
        outs = {"-o": tmp_path / "ok.bed", flag: blocker / "sites.bed"}
        code, _, err = cli(base + ["--tf", "TA", "--cell", "c1", *[x for kv in outs.items() for x in kv]], capsys)
        assert_one_error(code, err, flag if flag != "-o" else "--out", "is a file, not a folder")
    assert not (tmp_path / "x.bed").exists() and not (tmp_path / "ok.bed").exists()


def test_a_failed_run_leaves_no_half_file(mt, tmp_path, monkeypatch):
    import bindscape.train.tasks.multitask_bp as mbp

    run, fa, _ = mt
    real, calls = mbp.predict_bp, []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(mbp, "predict_bp", flaky)
    loaded = mbp.load_multitask_checkpoint(run)
    with pytest.raises(RuntimeError, match="disk full"):
        mbp.write_bp_predictions(loaded, fa, "TA", "c1", out=tmp_path / "s.bed", bedgraph=tmp_path / "p.bedGraph",
                                 bigwig=tmp_path / "p.bw", threshold=0.0, batch_size=8, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no temporary file

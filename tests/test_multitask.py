"""Multitask base-pair prediction (NetTIME): bp evaluation, tracks, the nettime model, training, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.errors import BindscapeError
from bindscape.evaluate.bp import (
    call_intervals,
    calling_summary,
    iou,
    max_pool,
    multires_metrics,
    sweep_threshold,
    transition_rate,
)
from conftest import assert_golden, write_fasta

torch.set_num_threads(1)


# -- evaluation -----------------------------------------------------------------------------------------
def test_iou_sweep_picks_the_best_threshold():
    y = np.zeros((2, 20), np.uint8)
    y[0, 5:10] = 1
    y[1, 12:16] = 1
    s = np.full(y.shape, 0.1)
    s[y == 1] = 0.6
    s[0, 3:5] = 0.4  # a shoulder: included by thresholds <= 0.4
    s[1, 0] = 0.8  # a false spike: included by every threshold <= 0.8
    best, table = sweep_threshold(s, y, thresholds=[0.05, 0.3, 0.5, 0.7, 0.9])
    assert best == 0.5
    row = table.set_index("threshold").loc[0.5]
    assert row["iou"] == pytest.approx(9 / 10)
    assert table.set_index("threshold").loc[0.3, "iou"] == pytest.approx(9 / 12)
    assert table.set_index("threshold").loc[0.9, "iou"] == 0.0


def test_interval_calling_from_per_bp_scores():
    s = np.array([[0.9, 0.9, 0.1, 0.1, 0.8, 0.1], [0.1] * 6, [0.7] * 6])
    calls = (s >= 0.5).astype(np.uint8)
    iv = call_intervals(calls)
    assert iv.to_dict("list") == {"row": [0, 0, 2], "start": [0, 4, 0], "end": [2, 5, 6]}
    g = call_intervals(calls, chrom=["c1", "c1", "c2"], start=[100, 200, 300])
    assert g[["chrom", "start", "end"]].values.tolist() == [["c1", 100, 102], ["c1", 104, 105], ["c2", 300, 306]]
    assert transition_rate(calls).tolist() == pytest.approx([3 / 5, 0, 0])
    assert iou(calls, calls) == 1.0
    summ = calling_summary(calls, calls)
    assert summ["iou"] == 1.0 and summ["transition_rate"] == summ["truth_transition_rate"]


def test_multi_resolution_max_pooling():
    x = np.array([[0.1, 0.5, 0.2, 0.9, 0.3]])
    assert max_pool(x, 1).tolist() == x.tolist()
    assert max_pool(x, 2).tolist() == [[0.5, 0.9, 0.3]]
    assert max_pool(x, 5).tolist() == [[0.9]]
    y = np.array([[0, 0, 0, 1, 0], [0, 0, 0, 0, 0]], np.uint8)
    s = np.array([[0.1, 0.2, 0.3, 0.9, 0.1], [0.8, 0.1, 0.1, 0.1, 0.1]])
    df = multires_metrics(s, y, ["A/x", "B/y"], resolutions=(1, 5)).set_index(["condition", "resolution"])
    assert set(df.index.get_level_values(0)) == {"A/x", "B/y", "mean"}
    assert df.loc[("A/x", 1), "auprc"] == pytest.approx(1.0)
    assert df.loc[("A/x", 5), "n_bins"] == 1
    both = multires_metrics(s, y, resolutions=(5,))
    assert both["n_bins"].tolist() == [2] and both["auprc"].iloc[0] == pytest.approx(1.0)


def test_bootstrap_difference_of_auprc():
    from bindscape.evaluate.bp import bootstrap_auprc_diff

    rng = np.random.default_rng(0)
    y = np.zeros((40, 30), np.uint8)
    y[:, 10:15] = 1
    good = y + 0.3 * rng.random(y.shape)
    noise = rng.random(y.shape)
    d = bootstrap_auprc_diff(good, noise, y, resolution=1, n_boot=50)
    assert d["diff"] > 0.5 and 0 < d["ci_low"] <= d["diff"] <= d["ci_high"] and d["n_windows"] == 40
    same = bootstrap_auprc_diff(good, good, y, resolution=5, n_boot=20)
    assert same["diff"] == same["ci_low"] == same["ci_high"] == 0.0
    with pytest.raises(BindscapeError, match="differ in shape"):
        bootstrap_auprc_diff(good, noise[:3], y)


# -- tiny genome with two TFs x two cells ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), 30_000)) for c in ("chr1", "chr2", "chr3")}
    write_fasta(root / "g.fa", seqs)
    paths = {}
    for tf in ("TA", "TB"):
        for cell in ("c1", "c2"):
            rows = []
            for c in seqs:
                for s in rng.integers(200, 29_000, 12):
                    rows.append((c, int(s), int(s) + 60))
            p = root / f"{tf}.{cell}.bed"
            pd.DataFrame(rows).to_csv(p, sep="\t", header=False, index=False)
            paths[(tf, cell)] = p
    bg = root / "c1.bedGraph"
    pd.DataFrame([("chr1", 0, 1000, 2.0), ("chr1", 1000, 1200, 5.0)]).to_csv(bg, sep="\t", header=False, index=False)
    return root, paths, bg


def _build(tiny, out):
    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp

    root, paths, bg = tiny
    conds = [Condition(tf, cell, None, str(p)) for (tf, cell), p in paths.items()]
    tracks = {"names": ["atac"], "files": {"c1": {"atac": str(bg)}, "c2": {}}}
    return build_multitask_bp(root / "g.fa", conds, out, length=100, background=0.5, tracks=tracks,
                              split="chroms", val=["chr2"], test=["chr3"], seed=0,
                              relaxed={"TA/c1": str(paths[("TB", "c2")])})


def test_missing_track_is_masked_with_an_indicator(tiny):
    from bindscape.data.tracks import TrackSet

    _, _, bg = tiny
    ts = TrackSet({"c1": {"atac": str(bg)}, "c2": {}}, names=["atac"])
    a = ts.fetch("c1", ["chr1", "chr1"], [950, 5000], 100)
    assert a.shape == (2, 2, 100)
    assert a[0, 0, 0] == pytest.approx(np.log1p(2.0)) and a[0, 0, 60] == pytest.approx(np.log1p(5.0))
    assert (a[1, 0] == 0).all() and (a[:, 1] == 1).all()  # present but no signal there: indicator 1
    b = ts.fetch("c2", ["chr1"], [950], 100)
    assert (b == 0).all()  # missing: signal masked to 0 AND indicator 0, so the model can tell
    with pytest.raises(BindscapeError, match="pybigtools|does not exist"):
        from bindscape.data.tracks import read_signal

        read_signal(tiny[0] / "nope.bw")


def test_dataset_cross_labels_and_relaxed(tiny, tmp_path):
    from bindscape.data.dataset import load_dataset
    from bindscape.data.multitask import MultitaskBPDataset
    from bindscape.data.tracks import TrackSet

    ds = load_dataset(_build(tiny, tmp_path / "d"))
    r = ds.regions
    assert set(zip(r["tf"], r["cell"])) == {("TA", "c1"), ("TA", "c2"), ("TB", "c1"), ("TB", "c2")}
    assert (r["source"] == "other").any()  # the same TF's windows from the other cell, labelled here too
    ts = TrackSet.from_dict(ds.meta["params"]["tracks"])
    tds = MultitaskBPDataset(ds, "train", tracks=ts, use_relaxed=True)
    x, y, t, c = tds.__getitems__(list(range(8)))
    assert x.shape == (8, 6, 100) and y.shape == (8, 100) and t.dtype == torch.long
    cons = MultitaskBPDataset(ds, "train", tracks=ts, use_relaxed=False)
    ta = tds.keys == "TA/c1"
    assert tds.y[ta].sum() > cons.y[ta].sum()  # relaxed peaks add bound bp in training
    assert (tds.y[~ta] == cons.y[~ta]).all()


def test_nettime_shapes_and_hidden_state_from_embeddings():
    from bindscape.models import get_model

    m = get_model("nettime", length=50, n_tfs=3, n_cells=2, d_tf=4, d_cell=3, channels=8, pool=5).eval()
    x = torch.zeros(5, 4, 50)
    x[:, 1] = 1
    tf, cell = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([0, 1, 0, 1, 1])
    out = m(x, tf, cell)
    assert out.shape == (5, 50)
    h0 = m.h0(5, tf, cell)
    assert h0.shape == (2, 5, 7)  # both GRU directions start from [TF emb, cell emb]
    assert torch.allclose(h0[0, 1], torch.cat([m.tf_embedding.weight[1], m.cell_embedding.weight[1]]))
    assert torch.allclose(h0[1], h0[0])
    # the embeddings drive the output; explicit vectors override the lookup
    assert not torch.allclose(m(x, tf, cell), m(x, tf, torch.tensor([1, 0, 1, 0, 0])))
    same = m(x, tf_vec=m.tf_embedding.weight[2], cell_vec=m.cell_embedding.weight[0])
    assert torch.allclose(same[2], out[2], atol=1e-5)
    m2 = get_model("nettime", length=50, channels=8, n_tracks=2, use_embeddings=False).eval()
    assert m2(torch.zeros(2, 6, 50)).shape == (2, 50) and (m2.h0(2) == 0).all()


def test_nettime_decoder_condition_reaches_every_base_pair():
    from bindscape.models import get_model

    torch.manual_seed(0)
    m = get_model("nettime", length=60, n_tfs=2, n_cells=1, d_tf=3, d_cell=2, channels=8, pool=5, n_blocks=1,
                  decoder_condition=True).eval()
    assert m.decoder[0].in_channels == 8 + 2 * 5 + 5  # conv features + biGRU output + [TF, cell] vector
    assert m.hparams()["decoder_condition"] is True
    x = torch.zeros(2, 4, 60)
    x[:, 2] = 1
    a, b = m(x, torch.tensor([0, 0]), torch.tensor([0, 0])), m(x, torch.tensor([1, 1]), torch.tensor([0, 0]))
    assert a.shape == (2, 60) and (a - b).abs().min() > 0  # the TF changes the logit at every bp
    # without embeddings there is no condition vector to give the decoder: same model as before
    m0 = get_model("nettime", length=60, channels=8, pool=5, n_blocks=1, d_tf=3, d_cell=2, use_embeddings=False,
                   decoder_condition=True)
    assert m0.decoder[0].in_channels == 8 + 2 * 5


def test_nettime_film_starts_as_identity_and_lets_the_condition_gate_channels():
    from bindscape.models import get_model

    torch.manual_seed(0)
    kw = dict(length=60, n_tfs=2, n_cells=2, d_tf=3, d_cell=2, channels=8, pool=5, n_blocks=1)
    plain, film = get_model("nettime", **kw).eval(), get_model("nettime", film=True, **kw).eval()
    film.load_state_dict(plain.state_dict(), strict=False)  # same weights; film_proj is zero-initialised
    assert film.hparams()["film"] is True and film.film_proj.out_features == 16
    x = torch.randn(3, 4, 60).softmax(dim=1)
    tf, cell = torch.tensor([0, 1, 1]), torch.tensor([1, 0, 1])
    assert torch.allclose(plain(x, tf, cell), film(x, tf, cell), atol=1e-6)  # identity at start
    with torch.no_grad():
        film.film_proj.weight.normal_()
    a = film(x, tf, torch.tensor([0, 0, 0]))
    b = film(x, tf, torch.tensor([1, 1, 1]))
    assert (a - b).abs().max() > 1e-3  # the cell embedding now changes the conv features
    assert not hasattr(get_model("nettime", film=True, use_embeddings=False, **kw), "film_proj")


def test_conditioned_model_wraps_a_registry_model():
    from bindscape.models.conditioned import ConditionedModel

    for mode in ("concat", "add"):
        m = ConditionedModel(inner="bindscape_cnn", inner_params={"channels": 8, "hidden": 8}, length=40,
                             n_tfs=2, n_cells=2, d_tf=3, d_cell=3, n_tracks=2, mode=mode, hidden=16).eval()
        x = torch.rand(3, 6, 40)
        out = m(x, torch.tensor([0, 1, 1]), torch.tensor([1, 1, 0]))
        assert out.shape == (3, 40)
        assert m.inner.name == "bindscape_cnn"
        assert not torch.allclose(out[1], m(x, torch.tensor([0, 0, 0]), torch.tensor([1, 1, 0]))[1])


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    from bindscape.train.tasks.multitask_bp import train_multitask, validate_multitask_config

    out = tmp_path_factory.mktemp("mtrun")
    data = _build(tiny, out / "data")
    cfg = validate_multitask_config({
        "dataset": str(data), "name": "tiny", "out_dir": str(out),
        "model": {"name": "nettime", "params": {"channels": 8, "d_tf": 4, "d_cell": 4, "n_blocks": 1, "decoder": 8}},
        "exclude": ["TB/c2"], "data": {"batch_size": 32}, "trainer": {"max_epochs": 2, "patience": None},
    })
    return train_multitask(cfg), data


def test_tiny_multitask_training_stores_condition_names(trained):
    from bindscape.train.checkpoint import load_checkpoint
    from bindscape.train.tasks.multitask_bp import load_multitask_checkpoint, predict_bp

    run, data = trained
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] >= 1 and "best_val_auprc" in m
    loaded = load_multitask_checkpoint(run)  # the checkpoint alone
    assert loaded.vocab.tfs == ["TA", "TB"] and loaded.vocab.cells == ["c1", "c2"]
    assert ("TB", "c2") not in loaded.vocab.pairs and ("TA", "c1") in loaded.vocab.pairs
    assert loaded.tracks is not None and loaded.tracks.names == ["atac"]
    x = np.zeros((2, 6, 100), np.float32)
    x[:, 0] = 1
    p = predict_bp(loaded, x, "TB", "c2")  # held-out pair: embedding transfer
    assert p.shape == (2, 100) and ((p >= 0) & (p <= 1)).all()
    assert_golden("multitask", {"best_val_auprc": m["best_val_auprc"], "epochs_run": m["epochs_run"],
                                "pred_sum": p.sum(), "pos_weight": m["pos_weight"]})
    assert load_checkpoint(run).model.name == "nettime"  # the generic loader restores the model too


def test_interrupted_multitask_training_resumes_from_last_checkpoint(tiny, tmp_path):
    import yaml

    from bindscape.train.engine import can_resume
    from bindscape.train.tasks.multitask_bp import (
        load_multitask_checkpoint,
        train_multitask,
        validate_multitask_config,
    )

    data = _build(tiny, tmp_path / "data")
    raw = {"dataset": str(data), "name": "r", "out_dir": str(tmp_path),
           "model": {"name": "nettime", "params": {"channels": 8, "d_tf": 4, "d_cell": 4, "n_blocks": 1, "decoder": 8}},
           "data": {"batch_size": 64}, "trainer": {"max_epochs": 3, "patience": None, "stop_after_epochs": 1}}
    run = train_multitask(validate_multitask_config(raw))
    m = json.loads((run / "metrics.json").read_text())
    assert m["finished"] is False and m["epochs_run"] == 1 and can_resume(run)
    assert load_multitask_checkpoint(run / "checkpoints" / "last.ckpt").extra["epoch"] == 0
    cpu_first = m["cpu_seconds"]
    # a different model cannot continue this run
    bad = yaml.safe_load(yaml.safe_dump(raw))
    bad["model"]["params"]["channels"] = 16
    with pytest.raises(BindscapeError, match="model differs"):
        train_multitask(validate_multitask_config(bad), resume=True)
    raw["trainer"]["stop_after_epochs"] = None
    run = train_multitask(validate_multitask_config(raw), resume=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["finished"] is True and m["resumed"] is True and m["epochs_run"] == 3 and not can_resume(run)
    assert m["cpu_seconds"] > cpu_first  # the interrupted part's time is counted too
    assert load_multitask_checkpoint(run / "checkpoints" / "last.ckpt").extra["epoch"] == 2  # epochs 1 and 2 ran
    log = (run / "log.txt").read_text()
    assert "stopping after epoch 0" in log and "resume: nettime" in log and log.count("epoch 2: ") == 1
    with pytest.raises(BindscapeError, match="nothing to resume"):
        train_multitask(validate_multitask_config({**raw, "name": "fresh"}), resume=True)


def test_unknown_condition_is_a_clear_error(trained):
    from bindscape.train.tasks.multitask_bp import load_multitask_checkpoint, predict_bp

    loaded = load_multitask_checkpoint(trained[0])
    x = np.zeros((1, 6, 100), np.float32)
    with pytest.raises(BindscapeError, match=r"unknown TF 'CTCF'; this model knows: TA, TB"):
        predict_bp(loaded, x, "CTCF", "c1")
    with pytest.raises(BindscapeError, match=r"unknown cell type 'liver'; this model knows: c1, c2"):
        predict_bp(loaded, x, "TA", "liver")


def test_cli_predict_bp_and_errors(trained, tiny, tmp_path, capsys):
    import bindscape.cli as cli
    from bindscape.cli import main
    from bindscape.cli.multitask import register

    if "predict-bp" not in {c.name for c in cli.app.registered_commands}:
        register(cli.app)
    run, _ = trained
    root, _, _ = tiny
    bed = tmp_path / "q.bed"
    bed.write_text("chr1\t1000\t1250\nchr2\t500\t600\n")
    out = tmp_path / "calls.bed"
    rc = main(["predict-bp", "--checkpoint", str(run), "--tf", "TA", "--cell", "c1", "--bed", str(bed),
               "--genome", str(root / "g.fa"), "--out", str(out), "--threshold", "0.0"])
    assert rc == 0
    calls = pd.read_csv(out, sep="\t", header=None)
    assert set(calls[0]) == {"chr1", "chr2"}  # threshold 0: every base pair is called
    rc = main(["predict-bp", "--checkpoint", str(run), "--tf", "NOPE", "--cell", "c1", "--bed", str(bed),
               "--genome", str(root / "g.fa"), "--out", str(out)])
    assert rc == 2
    assert "this model knows: TA, TB" in capsys.readouterr().err
    rc = main(["train-multitask", str(tmp_path / "missing.yaml")])
    assert rc == 2
    cfg = tmp_path / "mt.yaml"
    cfg.write_text(json.dumps({"dataset": str(run.parent / "data"), "name": "never-ran", "out_dir": str(tmp_path)}))
    capsys.readouterr()
    rc = main(["train-multitask", str(cfg), "--resume"])
    assert rc == 2 and "nothing to resume" in capsys.readouterr().err


def test_multitask_recipe_loads_and_validates():
    from bindscape.recipes import load_recipe

    rec = load_recipe("multitask-bp")
    assert rec.kind == "multitask" and len(rec.tfs) * len(rec.cells) == 9 and len(rec.held_out) == 2
    # the accessibility track carries the cell-type-specific signal; each TF's windows are labelled in every cell
    assert rec.cross_label == "tf" and rec.tracks is True
    # the transfer test: sequence only (NetTIME's setting), so the cell type must come from the cell embedding,
    # and the simulator writes cell identity into the sequence (lineage TFs open chromatin in their cell type)
    lin = load_recipe("multitask-bp-lineage")
    assert lin.name == "multitask-bp-lineage" and lin.tracks is False
    assert lin.model["film"] is True and "film" not in rec.model
    ov = lin.simulate.overrides
    assert ov["cells.liver.opened_by"] == ["FOXA1", "HNF4A"] and ov["cells.myeloid.opened_by"] == ["CEBPA"]
    from bindscape.simulate import resolve_config

    cfg = resolve_config(lin.simulate.preset, ov)
    opened_by = {c.name: c.opened_by for c in cfg.cells}
    assert opened_by["erythroid"] == ["GATA1", "TAL1"]
    # every held-out condition is a TF in the cell type it marks; each held-out TF and cell type keeps training
    # conditions (two cell types per TF, five TFs per cell type), so both embeddings are learned elsewhere
    held = [tuple(k.split("/")) for k in lin.held_out]
    assert len(held) == 3 and len(lin.tfs) == 6 and all(t in opened_by[c] for t, c in held)
    for t, c in held:
        assert sum((t, c2) not in held for c2 in lin.cells) == 2
        assert sum((t2, c) not in held for t2 in lin.tfs) == 5
    with pytest.raises(BindscapeError, match="held_out"):
        load_recipe({"held_out": ["NOPE/liver"]}, kind="multitask-bp")
    with pytest.raises(BindscapeError, match="unknown field"):
        load_recipe({"epoch": 3}, kind="multitask-bp")


def test_tiny_multitask_recipe_end_to_end(tmp_path):
    """The multitask recipe's every stage on a tiny lineage simulation: every table, the report, and a re-run
    that skips every stage."""
    from bindscape.recipes import load_recipe
    from bindscape.recipes import run_recipe as run_multitask_recipe

    rec = load_recipe("multitask-bp-lineage").model_copy(update=dict(
        tfs=["FOXA1", "CEBPA"], cells=["liver", "myeloid"], held_out=["CEBPA/myeloid"], epochs=1,
        single_epochs=1, model={"channels": 8, "n_blocks": 1, "pool": 10, "decoder": 8, "d_tf": 4,
                                "d_cell": 4, "film": True}))
    rec.simulate.overrides["species.sim.chrom_sizes"] = [150_000, 120_000, 100_000, 90_000, 80_000]
    rec.simulate.overrides["tfs.*.sites_per_mb"] = 400
    out = tmp_path / "mt"
    state = run_multitask_recipe(rec, out=out, log=lambda m: None)
    assert state.ran[-2:] == ["evaluate", "report"] and "train:single:CEBPA-myeloid" in state.ran
    comp = pd.read_csv(out / "comparison.csv")
    assert set(comp.model) == {"multitask", "single-task", "random-embeddings"}
    assert set(comp.condition) == {"FOXA1/liver", "FOXA1/myeloid", "CEBPA/liver", "CEBPA/myeloid", "mean"}
    assert set(comp.resolution) == {1, 200, 500} and comp.auprc.between(0, 1).all()
    tr = pd.read_csv(out / "transfer.csv")
    assert set(tr.condition) == {"CEBPA/myeloid"} and len(tr) == 4 * 3
    assert set(tr.method) == {"embedding transfer", "average of trained cell types", "no embedding",
                              "multitask (trained on it)"}
    ci = pd.read_csv(out / "transfer_ci.csv")
    assert len(ci) == 3 * 3 and (ci.ci_low <= ci.ci_high).all()
    # the difference is transfer minus baseline, as printed in the transfer table
    wide = tr.pivot_table(index="resolution", columns="method", values="auprc")
    row = ci[(ci.baseline == "no embedding") & (ci.resolution == 1)].iloc[0]
    assert row["diff"] == pytest.approx(wide.loc[1, "embedding transfer"] - wide.loc[1, "no embedding"], abs=1e-9)
    swap = pd.read_csv(out / "cell_embedding_swap.csv")
    assert sorted(swap.cell_embedding) == ["liver", "myeloid"]
    # the swap with the held-out cell's own embedding is the embedding-transfer score
    own = swap[swap.cell_embedding == "myeloid"].auprc_1bp.iloc[0]
    assert own == pytest.approx(wide.loc[1, "embedding transfer"], abs=1e-9)
    cal = pd.read_csv(out / "calling.csv")
    assert "all" in set(cal.condition) and cal.iou_crf.between(0, 1).all()
    html = (out / "report.html").read_text()
    for title in ("Multitask vs single-task", "Transfer to held-out conditions", "minus each baseline",
                  "with each cell type", "Calling: threshold by IOU vs CRF", "Embeddings"):
        assert title in html, title
    again = run_multitask_recipe(rec, out=out, log=lambda m: None)
    assert again.ran == [] and "report" in again.skipped

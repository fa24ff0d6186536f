"""Portable model bundles (`bindscape export`, bindscape.train.bundle): same predictions as the run folder,
bit for bit, for a binary model, a multitask model and an ensemble; the card; one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.models import get_model
from bindscape.train import BundleError, load_checkpoint, load_multitask_checkpoint, read_bundle
from bindscape.train.checkpoint import save_model
from bindscape.train.ensemble_model import MANIFEST, sha256
from conftest import assert_one_error, cli, planted_dataset, random_seqs, write_fasta

torch.set_num_threads(1)
TINY = {"name": "bindscape_cnn", "params": {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}}


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """A 1-epoch toy run on a sequences dataset, a genome FASTA and a BED file: (run, dataset, fasta, bed)."""
    from bindscape.train import train
    from bindscape.train.config import validate_config

    root = tmp_path_factory.mktemp("bundle")
    ds = planted_dataset(root, {"train": 160, "val": 60, "test": 60}, 50, seed=3)
    cfg = validate_config({"dataset": str(ds), "name": "r", "out_dir": str(root / "runs"), "model": TINY,
                           "data": {"batch_size": 32}, "trainer": {"max_epochs": 1, "progress": False,
                                                                   "patience": None, "threads": 1}})
    run = train(cfg)
    fa = write_fasta(root / "g.fa", random_seqs({"chr1": 3000, "chr2": 2000}, seed=2))
    bed = root / "q.bed"
    bed.write_text("chr1\t100\t150\nchr1\t900\t1000\nchr2\t10\t60\nchr2\t1500\t1530\n")
    return run, ds, fa, bed


def _predict(capsys, ckpt, out, *args):
    code, _, err = cli(["predict", "--checkpoint", ckpt, "--out", out, *args], capsys)
    assert code == 0, err
    return pd.read_parquet(out)


def test_binary_bundle_predicts_bit_for_bit_like_the_run_folder(binary, tmp_path, capsys):
    run, ds, fa, bed = binary
    bsm = tmp_path / "model.bsm"
    code, out, err = cli(["export", run, "-o", bsm], capsys)
    assert code == 0, err
    assert "bundle ->" in out and not list(tmp_path.glob(".model.bsm.*"))  # no temp file left
    obj = torch.load(bsm, map_location="cpu", weights_only=True)  # plain tensors, dicts, str and numbers
    assert obj["bindscape_bundle"]["format_version"] == 1 and len(obj["bindscape_bundle"]["sha256"]) == 64
    assert set(obj["payload"]) >= {"bindscape", "state_dict"}
    for args in (["--dataset", ds], ["--bed", bed, "--genome", fa]):
        a = _predict(capsys, run, tmp_path / "a.parquet", *args)
        b = _predict(capsys, bsm, tmp_path / "b.parquet", *args)
        pd.testing.assert_frame_equal(a, b, check_exact=True)  # bit for bit on CPU
    # the card: config, input length, outputs, training data, metrics, source sha256
    card = read_bundle(bsm).card
    metrics = json.loads((run / "metrics.json").read_text())
    assert card["input_length"] == 50 and card["outputs"]["names"] == ["label"]
    assert card["training_data"]["path"] == str(ds) and card["training_data"]["summary"]["n"] == 280
    assert card["metrics"]["test"]["auprc"] == metrics["test"]["auprc"]
    assert card["source"]["sha256"] == sha256(run / "checkpoints" / "best.ckpt")
    assert card["config"]["model"]["params"]["channels"] == 8
    # the run folder is not needed: the bundle alone restores the model
    loaded = load_checkpoint(bsm)
    assert loaded.length == 50 and loaded.config["name"] == "r" and loaded.rc_average


def test_info_prints_the_card(binary, tmp_path, capsys):
    run, ds, _, _ = binary
    bsm = tmp_path / "m.bsm"
    assert cli(["export", run / "checkpoints" / "best.ckpt", "-o", bsm], capsys)[0] == 0
    code, out, err = cli(["info", bsm], capsys)
    assert code == 0, err
    head = read_bundle(bsm).header
    for s in ("bindscape_cnn", "50 bp", "label", str(ds), "test auprc", "bundle format 1", head["sha256"][:20]):
        assert s in out.replace("\n", " ").replace("│", " ") or s in out, (s, out)


def test_multitask_bundle_predicts_bit_for_bit(tmp_path, capsys):
    from bindscape.data.builders import Condition
    from bindscape.data.multitask import build_multitask_bp
    from bindscape.train.tasks.multitask_bp import train_multitask, validate_multitask_config

    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), 12_000)) for c in ("chr1", "chr2", "chr3")}
    fa = write_fasta(tmp_path / "g.fa", seqs)
    conds = []
    for tf in ("TA", "TB"):
        rows = [(c, int(s), int(s) + 60) for c in seqs for s in rng.integers(200, 11_000, 8)]
        p = tmp_path / f"{tf}.bed"
        pd.DataFrame(rows).to_csv(p, sep="\t", header=False, index=False)
        conds.append(Condition(tf, "c1", None, str(p)))
    data = build_multitask_bp(fa, conds, tmp_path / "data", length=100, background=0.5, split="chroms",
                              val=["chr2"], test=["chr3"], seed=0)
    cfg = validate_multitask_config({
        "dataset": str(data), "name": "mt", "out_dir": str(tmp_path),
        "model": {"name": "nettime", "params": {"channels": 8, "d_tf": 4, "d_cell": 4, "n_blocks": 1, "decoder": 8}},
        "data": {"batch_size": 32}, "trainer": {"max_epochs": 1, "patience": None}})
    run = train_multitask(cfg)
    bsm = tmp_path / "mt.bsm"
    assert cli(["export", run, "-o", bsm], capsys)[0] == 0
    card = read_bundle(bsm).card
    assert card["outputs"]["conditions"]["tfs"] == ["TA", "TB"] and card["model"] == "nettime"
    assert load_multitask_checkpoint(bsm).vocab.tfs == ["TA", "TB"]
    bed = tmp_path / "q.bed"
    bed.write_text("chr1\t1000\t1250\nchr3\t500\t600\n")
    outs = {}
    for name, ck in (("run", run), ("bundle", bsm)):
        o, bg = tmp_path / f"{name}.bed", tmp_path / f"{name}.bedGraph"
        code, _, err = cli(["predict-bp", "--checkpoint", ck, "--tf", "TB", "--cell", "c1", "--bed", bed,
                            "--genome", fa, "--out", o, "--bedgraph", bg, "--threshold", "0.3"], capsys)
        assert code == 0, err
        outs[name] = (o.read_bytes(), bg.read_bytes())
    assert outs["run"] == outs["bundle"] and len(outs["run"][1]) > 0


def test_ensemble_bundle_holds_every_member(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    entries = []
    for i in range(2):
        torch.manual_seed(i)
        p = save_model(folder / f"m{i}.pt", get_model("bindscape_cnn", length=50, **TINY["params"]),
                       {"name": f"m{i}", "trainer": {"rc_average": True}})
        entries.append({"path": p.name, "sha256": sha256(p), "seed": i, "fold": None})
    (folder / MANIFEST).write_text(json.dumps({"format": "bindscape-ensemble/1", "average": "probability",
                                               "members": entries}))
    from bindscape.train import export_bundle

    bsm, card = export_bundle(folder, tmp_path / "e.bsm")
    assert [m["path"] for m in card["ensemble"]["members"]] == ["m0.pt", "m1.pt"]
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (6, 50))]).transpose(1, 2)
    a, b = load_checkpoint(folder), load_checkpoint(bsm)
    assert len(b.model.members) == 2 and b.config["ensemble"]["seeds"] == [0, 1]
    with torch.no_grad():
        assert torch.equal(a.model(x), b.model(x))


def _rewrite(src, dst, fn):
    obj = torch.load(src, map_location="cpu", weights_only=True)
    fn(obj)
    torch.save(obj, dst)
    return dst


def test_newer_damaged_truncated_and_non_bundles_are_one_line_errors(binary, tmp_path, capsys):
    run, ds, _, _ = binary
    bsm = tmp_path / "ok.bsm"
    assert cli(["export", run, "-o", bsm], capsys)[0] == 0
    newer = _rewrite(bsm, tmp_path / "newer.bsm", lambda o: o["bindscape_bundle"].update(format_version=2))
    code, _, err = cli(["predict", "--checkpoint", newer, "--dataset", ds, "--out", tmp_path / "x.parquet"], capsys)
    assert_one_error(code, err, "newer.bsm", "bundle format version 2", "upgrade bindscape")

    def damage(o):
        k = next(iter(o["payload"]["state_dict"]))
        o["payload"]["state_dict"][k] = o["payload"]["state_dict"][k] + 1
    damaged = _rewrite(bsm, tmp_path / "damaged.bsm", damage)
    assert_one_error(*cli(["info", damaged], capsys)[::2], "damaged.bsm", "damaged model bundle", "sha256")
    trunc = tmp_path / "trunc.bsm"
    trunc.write_bytes(bsm.read_bytes()[: bsm.stat().st_size // 2])
    assert_one_error(*cli(["info", trunc], capsys)[::2], "trunc.bsm", "not a readable model bundle")
    text = tmp_path / "notes.bsm"
    text.write_text("hello\n")
    code, _, err = cli(["explain", "--checkpoint", text, "--out", tmp_path / "ex"], capsys)
    assert_one_error(code, err, "notes.bsm", "not a readable model bundle")
    plain = tmp_path / "plain.bsm"
    plain.write_bytes((run / "checkpoints" / "best.ckpt").read_bytes())
    assert_one_error(*cli(["info", plain], capsys)[::2], "plain.bsm", "not a bindscape model bundle", "bindscape export")
    # a bundle under another name still loads (recognised by its header), and is still checked
    renamed = tmp_path / "model.pt"
    renamed.write_bytes(bsm.read_bytes())
    assert load_checkpoint(renamed).length == 50
    (tmp_path / "damaged.pt").write_bytes(damaged.read_bytes())
    with pytest.raises(BundleError, match="sha256"):
        load_checkpoint(tmp_path / "damaged.pt")


def test_export_refuses_to_overwrite_and_needs_bsm_suffix(binary, tmp_path, capsys):
    run, _, _, _ = binary
    bsm = tmp_path / "m.bsm"
    assert cli(["export", run, "-o", bsm], capsys)[0] == 0
    before = bsm.read_bytes()
    assert_one_error(*cli(["export", run, "-o", bsm], capsys)[::2], "m.bsm", "already exists", "--overwrite")
    assert bsm.read_bytes() == before
    assert cli(["export", run, "-o", bsm, "--overwrite"], capsys)[0] == 0
    code, _, err = cli(["export", run, "-o", tmp_path / "m.pt"], capsys)
    assert code == 2 and ".bsm" in err
    assert_one_error(*cli(["export", tmp_path / "nope", "-o", tmp_path / "n.bsm"], capsys)[::2], "nope")

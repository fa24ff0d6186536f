"""Multitask base-pair benchmark (issue 10).

    .venv/bin/python benchmarks/bench_multitask.py [--out runs/bench-multitask] [--skip-recipe]
        [--lineage-seeds 0 1 2] [--yeast ../shared/data/yeast]

1. Speed, against references in the same run: the vectorised CRF Viterbi/forward vs a per-sequence
   pure-numpy reference, and `max_pool` vs a Python loop (ratios, not absolute times).
2. The `multitask-bp` recipe (resumable) and its tables: multitask vs single-task auPRC per condition,
   random-embedding ablation, transfer vs baselines, threshold-by-IOU vs CRF (IOU, transition rates), CPU time.
3. With --lineage-seeds: the `multitask-bp-lineage` transfer test once per seed (simulation and training both
   change with the seed), and transfer minus each baseline per seed, mean and sd, how many seeds gave a
   positive difference and how many seeds' 95% intervals lie wholly above 0.
4. With --yeast: Reb1 + Abf1 on real yeast sites, multitask vs single-task.
One torch thread.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def _ref_viterbi(em, T, start, end):
    L = len(em)
    score = start + em[0]
    back = np.zeros((L, 2), int)
    for t in range(1, L):
        cand = score[:, None] + T
        back[t] = cand.argmax(0)
        score = cand.max(0) + em[t]
    score = score + end
    path = [int(score.argmax())]
    for t in range(L - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return np.array(path[::-1])


def speed() -> None:
    from bindscape.evaluate.bp import max_pool
    from bindscape.evaluate.crf import LinearChainCRF

    rng = np.random.default_rng(0)
    crf = LinearChainCRF()
    with torch.no_grad():
        crf.transitions.copy_(torch.tensor([[2.0, -2.0], [-2.0, 2.0]]))
    logits = rng.normal(size=(256, 500)).astype(np.float32)
    t = time.perf_counter()
    fast = crf.decode(logits)
    t_fast = time.perf_counter() - t
    em = crf.emissions(torch.from_numpy(logits)).detach().numpy()
    T, s, e = (p.detach().numpy() for p in (crf.transitions, crf.start, crf.end))
    t = time.perf_counter()
    ref = np.stack([_ref_viterbi(em[i], T, s, e) for i in range(len(em))])
    t_ref = time.perf_counter() - t
    assert (ref == fast).all()
    print(f"Viterbi 256 x 500 bp: vectorised {t_fast:.3f} s, per-sequence numpy {t_ref:.3f} s "
          f"(x{t_ref / t_fast:.1f}); identical paths")
    x = rng.random((2000, 1000)).astype(np.float32)
    t = time.perf_counter()
    a = max_pool(x, 200)
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    b = np.array([[row[i : i + 200].max() for i in range(0, 1000, 200)] for row in x])
    t_ref = time.perf_counter() - t
    assert np.allclose(a, b)
    print(f"max_pool 2000 x 1000 bp at 200 bp: {t_fast:.4f} s vs loop {t_ref:.4f} s (x{t_ref / t_fast:.0f})")


def yeast(out, data, epochs: int = 4) -> None:
    """Reb1 + Abf1 (Rossi et al. 2018 ChIP-exo sites, sacCer3) as one two-condition bp model vs one model per TF."""
    from pathlib import Path

    from bindscape.data.builders import Condition
    from bindscape.data.dataset import load_dataset
    from bindscape.data.multitask import MultitaskBPDataset, build_multitask_bp
    from bindscape.evaluate.bp import calling_summary, multires_metrics, sweep_threshold
    from bindscape.evaluate.crf import fit_crf
    from bindscape.io import bed as iv
    from bindscape.io.genome import Genome
    from bindscape.train import (
        load_multitask_checkpoint,
        predict_dataset_bp,
        train_multitask,
        validate_multitask_config,
    )

    out, data = Path(out), Path(data)
    ds_dir = out / "yeast-data"
    out.mkdir(parents=True, exist_ok=True)
    # the site files include chrM (Reb1: a few sites) but sacCer3.fa.gz is the nuclear genome: keep the sites
    # on its chromosomes (written to the run folder; the shared files are read in place)
    sizes = Genome(data / "sacCer3.fa.gz").sizes
    conds = []
    for tf, fname in (("Reb1", "reb1_sites_rossi2018.sacCer3.bed"), ("Abf1", "abf1_sites_rossi2018.sacCer3.bed")):
        sites = iv.read_peaks(data / fname, sizes=sizes, unknown="drop")
        path = out / f"{tf}.nuclear.bed"
        iv.write_bed(sites[["chrom", "start", "end"]], path)
        conds.append(Condition(tf, None, None, str(path)))
        print(f"{tf}: {len(sites)} sites on the nuclear chromosomes")
    if not (ds_dir / "dataset.json").exists():
        build_multitask_bp(data / "sacCer3.fa.gz", conds, ds_dir, length=500, background=1.0, cross_label="all",
                           split="chroms", val=["chrIV"], test=["chrVII", "chrXV"], seed=0)
    t0 = time.process_time()
    runs = {}
    # multitask: NetTIME (embeddings only start the GRU); multitask-dc: the decoder also gets the [TF, cell]
    # vector at every bp (decoder_condition)
    for name, cond, dc in (("multitask", None, False), ("multitask-dc", None, True),
                           ("single-Reb1", ["Reb1/-"], False), ("single-Abf1", ["Abf1/-"], False)):
        cfg = validate_multitask_config({
            "dataset": str(ds_dir), "name": name, "out_dir": str(out / "yeast-models"), "conditions": cond,
            "model": {"name": "nettime", "params": {"channels": 32, "n_blocks": 1, "pool": 10, "decoder": 32,
                                                     "d_tf": 16, "d_cell": 16, "decoder_condition": dc}},
            "trainer": {"max_epochs": epochs, "patience": 2, "threads": 1}})
        if not (out / "yeast-models" / name / "metrics.json").exists():
            train_multitask(cfg, overwrite=True)
        runs[name] = load_multitask_checkpoint(out / "yeast-models" / name)
    ds = load_dataset(ds_dir)
    test = MultitaskBPDataset(ds, "test", vocab=runs["multitask"].vocab)
    val = MultitaskBPDataset(ds, "val", vocab=runs["multitask"].vocab)
    res = (1, 200, 500)  # 1 bp, 200 bp, the whole 500-bp window
    import pandas as pd

    scores = {k: predict_dataset_bp(runs[k], test) for k in ("multitask", "multitask-dc")}
    mt = pd.concat([multires_metrics(v, test.y, test.keys, res).assign(model=k) for k, v in scores.items()])
    st = []
    for key in ("Reb1/-", "Abf1/-"):
        sub = MultitaskBPDataset(ds, "test", vocab=runs["multitask"].vocab, conditions=[key])
        st.append(multires_metrics(predict_dataset_bp(runs[f"single-{key[:4]}"], sub), sub.y, sub.keys,
                                   res).assign(model="single-task"))
    st = pd.concat(st)
    st_mean = st.groupby("resolution", as_index=False)["auprc"].mean().assign(condition="mean", model="single-task")
    both = pd.concat([mt, st, st_mean], ignore_index=True)
    tab = both.pivot_table(index=["condition", "resolution"], columns="model", values="auprc")
    print(f"yeast Reb1 + Abf1: {len(test)} test rows (windows x conditions, chrVII + chrXV), bound bp share "
          f"{test.y.mean():.4f}; test auPRC:")
    print(tab.round(3).to_string())
    both.to_csv(out / "yeast-comparison.csv", index=False)
    rows = []
    for model, s in scores.items():
        vl = predict_dataset_bp(runs[model], val)
        best, _ = sweep_threshold(1 / (1 + np.exp(-vl)), val.y)
        crf = fit_crf(vl, val.y, epochs=10, max_sequences=1500, seed=0)
        thr_calls, crf_calls = (1 / (1 + np.exp(-s)) >= best).astype(np.uint8), crf.decode(s)
        for key in [*np.unique(test.keys), "all"]:
            m = np.ones(len(test), bool) if key == "all" else test.keys == key
            a, b = calling_summary(thr_calls[m], test.y[m]), calling_summary(crf_calls[m], test.y[m])
            rows.append({"model": model, "condition": key, "threshold": best, "iou_threshold": a["iou"],
                         "iou_crf": b["iou"], "transitions_threshold": a["transition_rate"],
                         "transitions_crf": b["transition_rate"], "transitions_truth": a["truth_transition_rate"]})
    cal = pd.DataFrame(rows)
    cal.to_csv(out / "yeast-calling.csv", index=False)
    print("calling (threshold chosen by IOU on chrIV, CRF trained on chrIV outputs):")
    print(cal.round(4).to_string(index=False))
    cpu = {k: json.loads((out / "yeast-models" / k / "metrics.json").read_text())["cpu_seconds"] for k in runs}
    print(f"yeast CPU: {time.process_time() - t0:.0f} s in this process; training CPU s per model: {cpu}")


def lineage_seeds(out, seeds, force: bool = False, single_task: bool = True) -> None:
    """Transfer minus baselines for the multitask-bp-lineage recipe over several seeds."""
    from pathlib import Path

    import pandas as pd

    from bindscape.recipes import load_recipe as load_multitask_recipe
    from bindscape.recipes import run_recipe as run_multitask_recipe

    rows = []
    for seed in seeds:
        rec = load_multitask_recipe("multitask-bp-lineage")
        rec.seed = int(seed)
        rec.single_task = single_task
        run_dir = Path(out) / f"lineage-seed{seed}"
        t0 = time.process_time()
        run_multitask_recipe(rec, out=run_dir, force=force)
        print(f"seed {seed}: {run_dir} ({time.process_time() - t0:.0f} CPU s in this process)")
        ci = pd.read_csv(run_dir / "transfer_ci.csv")
        rows.append(ci[ci.baseline != "multitask (trained on it)"].assign(seed=seed))
    df = pd.concat(rows, ignore_index=True)
    df.to_csv(Path(out) / "lineage-transfer-seeds.csv", index=False)
    df["above_0"] = df.ci_low > 0
    df["positive"] = df["diff"] > 0
    summ = df.groupby(["condition", "resolution", "baseline"]).agg(
        mean=("diff", "mean"), sd=("diff", "std"), seeds=("seed", "count"), positive=("positive", "sum"),
        ci_above_0=("above_0", "sum"),
        per_seed=("diff", lambda v: " ".join(f"{x:+.3f}" for x in v)))
    print("transfer (embedding) minus baseline, auPRC, over seeds:")
    print(summ.round(3).to_string())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/bench-multitask")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--skip-recipe", action="store_true")
    ap.add_argument("--yeast", default=None, help="folder with the yeast data (../shared/data/yeast): also run Reb1+Abf1")
    ap.add_argument("--lineage-seeds", type=int, nargs="*", default=None,
                    help="also run the multitask-bp-lineage transfer test once per seed (about 25 CPU-min each)")
    ap.add_argument("--no-single", action="store_true",
                    help="with --lineage-seeds: skip the single-task models (transfer only; about 15 CPU-min a seed)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    speed()
    if a.yeast:
        yeast(a.out, a.yeast)
    if a.lineage_seeds:
        lineage_seeds(a.out, a.lineage_seeds, force=a.force, single_task=not a.no_single)
    if a.skip_recipe:
        return 0
    import pandas as pd

    from bindscape.recipes import run_recipe as run_multitask_recipe

    t0 = time.process_time()
    run_multitask_recipe("multitask-bp", out=a.out, force=a.force)
    from pathlib import Path

    out = Path(a.out)
    comp = pd.read_csv(out / "comparison.csv")
    print(comp.pivot_table(index=["condition", "resolution"], columns="model", values="auprc").round(3).to_string())
    tr = pd.read_csv(out / "transfer.csv")
    if len(tr):
        print(tr.pivot_table(index=["condition", "resolution"], columns="method", values="auprc").round(3).to_string())
    print(pd.read_csv(out / "calling.csv").round(4).to_string(index=False))
    print(f"CPU time (this process): {time.process_time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

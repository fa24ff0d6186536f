"""Multitask base-pair benchmark (issue 10).

    .venv/bin/python benchmarks/bench_multitask.py [--out runs/bench-multitask] [--skip-recipe]

1. Speed, against references in the same run: the vectorised CRF Viterbi/forward vs a per-sequence
   pure-numpy reference, and `max_pool` vs a Python loop (ratios, not absolute times).
2. The `multitask-bp` recipe (resumable) and its tables: multitask vs single-task auPRC per condition,
   random-embedding ablation, transfer vs baselines, threshold-by-IOU vs CRF (IOU, transition rates), CPU time.
One torch thread.
"""

from __future__ import annotations

import argparse
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
    from bindscape.train.multitask import load_multitask_checkpoint, predict_dataset_bp, train_multitask
    from bindscape.train.multitask_config import validate_multitask_config

    out, data = Path(out), Path(data)
    conds = [Condition("Reb1", None, None, str(data / "reb1_sites_rossi2018.sacCer3.bed")),
             Condition("Abf1", None, None, str(data / "abf1_sites_rossi2018.sacCer3.bed"))]
    ds_dir = out / "yeast-data"
    if not (ds_dir / "dataset.json").exists():
        build_multitask_bp(data / "sacCer3.fa.gz", conds, ds_dir, length=500, background=1.0, cross_label="all",
                           split="chroms", val=["chrIV"], test=["chrVII", "chrXV"], seed=0)
    t0 = time.process_time()
    runs = {}
    for name, cond in (("multitask", None), ("single-Reb1", ["Reb1/-"]), ("single-Abf1", ["Abf1/-"])):
        cfg = validate_multitask_config({
            "dataset": str(ds_dir), "name": name, "out_dir": str(out / "yeast-models"), "conditions": cond,
            "model": {"name": "nettime", "params": {"channels": 32, "n_blocks": 1, "pool": 10, "decoder": 32,
                                                     "d_tf": 16, "d_cell": 16}},
            "trainer": {"max_epochs": epochs, "patience": 2, "threads": 1}})
        if not (out / "yeast-models" / name / "metrics.json").exists():
            train_multitask(cfg)
        runs[name] = load_multitask_checkpoint(out / "yeast-models" / name)
    ds = load_dataset(ds_dir)
    test = MultitaskBPDataset(ds, "test", vocab=runs["multitask"].vocab)
    val = MultitaskBPDataset(ds, "val", vocab=runs["multitask"].vocab)
    s = predict_dataset_bp(runs["multitask"], test)
    mt = multires_metrics(s, test.y, test.keys, (1, 100, 500)).assign(model="multitask")
    st = []
    for key in ("Reb1/-", "Abf1/-"):
        sub = MultitaskBPDataset(ds, "test", vocab=runs["multitask"].vocab, conditions=[key])
        st.append(multires_metrics(predict_dataset_bp(runs[f"single-{key[:4]}"], sub), sub.y, sub.keys,
                                   (1, 100, 500)).assign(model="single-task"))
    import pandas as pd

    tab = pd.concat([mt, *st]).pivot_table(index=["condition", "resolution"], columns="model", values="auprc")
    print("yeast Reb1 + Abf1 test auPRC (chrVII, chrXV):")
    print(tab.round(3).to_string())
    vl = predict_dataset_bp(runs["multitask"], val)
    best, _ = sweep_threshold(1 / (1 + np.exp(-vl)), val.y)
    crf = fit_crf(vl, val.y, epochs=10, max_sequences=1500)
    a = calling_summary((1 / (1 + np.exp(-s)) >= best).astype(np.uint8), test.y)
    b = calling_summary(crf.decode(s), test.y)
    print(f"calling: threshold {best} IOU {a['iou']:.3f} transitions {a['transition_rate']:.4f} | CRF IOU "
          f"{b['iou']:.3f} transitions {b['transition_rate']:.4f} | truth transitions {a['truth_transition_rate']:.4f}")
    print(f"yeast CPU: {time.process_time() - t0:.0f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/bench-multitask")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--skip-recipe", action="store_true")
    ap.add_argument("--yeast", default=None, help="folder with the yeast data (../shared/data/yeast): also run Reb1+Abf1")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    speed()
    if a.yeast:
        yeast(a.out, a.yeast)
    if a.skip_recipe:
        return 0
    import pandas as pd

    from bindscape.recipes.multitask import run_multitask_recipe

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

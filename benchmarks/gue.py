"""GUE transcription-factor benchmark (DNABERT-2's GUE: human TFBS 1-5, mouse TFBS 1-5 minus mouse/1).

For each task in ``../shared/data/human/gue_tf/{human,mouse}/*``: build a sequence-only dataset with
`bindscape build sequences` semantics (train/dev/test CSVs), train bindscape's default model on `train`
(one run per ``--seeds`` value; several seeds are averaged as one `bindscape ensemble`), select each
checkpoint on `dev` (auROC), and report `test` auROC and MCC with the training CPU minutes (the trainer's
process CPU time, summed over members), beside published auROCs (Nat Commun 2025, frozen embeddings), the
published test MCC of fine-tuned DNABERT-2 (DNABERT-2 paper, Table 4) and a plain two-layer CNN measured on
the project's 2-core machine. Only public API is used.

Two MCCs are reported, labelled: **MCC@0.5** (GUE's convention: calls are probability >= 0.5) and
**MCC@dev** (calls at the threshold that maximises MCC on the *dev* split, `choose_threshold`; the test
split is never used to choose it). GUE's MCC at 0.5 also measures calibration, which long training on the
small tasks spoils (docs/accuracy.md, "GUE human/0"). "Wins" counts tasks whose MCC@dev is >= DNABERT-2's.

Levers are piloted with ``--dev-only`` (train, then score the dev split only; the test split is not read)
and ``--set`` / ``--examples`` (examples seen per member; epochs = examples / training size, clamped 6..30).

``--pretrain`` adds transfer between the tasks (issue 15 item 6, AgentBind's scheme): the training splits of
all nine tasks are pooled once under ``OUT/pool`` (`bindscape.data.pooled`: one label column per task, NaN
where a row belongs to another task; training rows whose sequence equals, on either strand, any task's dev
or test sequence are dropped and counted), one multi-output model is pretrained on it once
(``--pretrain-epochs``, ``--pretrain-set``; best epoch by the mean dev auROC over the nine outputs), and
each task is fine-tuned from it keeping its own output (``finetune.output: label_<task>``). Each task's
``cpu_min`` includes an even share of the pretraining CPU time (``--pretrain-shared-by``: the number of tasks
that use it, nine by default; pass the count when only some tasks are run with ``--pretrain``).

``--extra-negatives N`` adds N dinucleotide shuffles of each training positive as training negatives
(`build sequences --extra-negatives`; dev and test stay as given): GUE's mouse negatives are themselves such
shuffles. ``make bench-gue`` runs the protocol chosen per task on dev (docs/accuracy.md, "GUE"): pretraining
for human/1, 3 and 4; the k-mer branch (``--set 'model.params.kmers=[4,6]'``) for the other six, with one extra
shuffle per positive and ``loss.pos_weight=2.0`` on mouse/2, 3 and 4.

    python benchmarks/gue.py [--tasks human/0 mouse/2] [--seeds 0 1] [--threads 1] [--out runs/gue]
    python benchmarks/gue.py --dev-only --tasks mouse/4 --set model.params.channels=96 --out /tmp/pilot
    python benchmarks/gue.py --dev-only --pretrain --pretrain-epochs 3 --tasks human/0 --out /tmp/pre
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BINDSCAPE_SHARED_DATA", REPO.parent / "shared" / "data")) / "human" / "gue_tf"

PUBLISHED = {  # task: (DNABERT-2, NT-v2, HyenaDNA, Caduceus-Ph, GROVER)
    "human/0": (0.8382, 0.8315, 0.8301, 0.8796, 0.8618),
    "human/1": (0.8210, 0.8090, 0.8205, 0.8687, 0.8495),
    "human/2": (0.7896, 0.7974, 0.7875, 0.8249, 0.8158),
    "human/3": (0.7260, 0.7103, 0.7149, 0.7725, 0.7630),
    "human/4": (0.9204, 0.9149, 0.9159, 0.9294, 0.9310),
    "mouse/0": (0.7110, 0.7040, 0.5899, 0.6841, 0.6947),
    "mouse/2": (0.9308, 0.9269, 0.8944, 0.9351, 0.9327),
    "mouse/3": (0.7622, 0.6942, 0.5880, 0.7047, 0.6815),
    "mouse/4": (0.6783, 0.7077, 0.6270, 0.7150, 0.6822),
}
#: fine-tuned DNABERT-2 test MCC (DNABERT-2 paper, Table 4; repository README)
DNABERT2_MCC = {"human/0": 0.7199, "human/1": 0.7606, "human/2": 0.6652, "human/3": 0.5854, "human/4": 0.7743,
                "mouse/0": 0.5676, "mouse/2": 0.7932, "mouse/3": 0.6647, "mouse/4": 0.5266}
PLAIN_CNN = {"human/0": 0.9042, "human/1": 0.9287, "human/2": 0.9205, "human/3": 0.8203, "human/4": 0.9545,
             "mouse/0": 0.8413, "mouse/2": 0.9605, "mouse/3": 0.9260, "mouse/4": 0.7835}

# the default model's GUE recipe: epochs scale with the training set so small tasks get enough steps
MODEL = {"name": "bindscape_cnn", "params": {"channels": 64, "hidden": 64}}
BUDGET_CPU_MIN = 5.0  # training CPU-minutes allowed per task (one thread; every ensemble member counts)
#: examples seen per member (epochs = this / training size, clamped 6..30); None = the library's 220,000
EXAMPLES: int | None = None


def epochs_for(n_train: int, examples: int | None = None) -> int:
    """Epochs per member: about `examples` training examples seen, clamped like bindscape's default rule.

    Parameters
    ----------
    n_train : int
        Training sequences of the task.
    examples : int, optional
        Examples to see per member; None uses bindscape's default rule (``trainer.max_epochs: auto``,
        `bindscape.train.auto_epochs`: about 220,000 examples, 6 to 30 epochs).

    Returns
    -------
    int
        Epochs, within the library's range (6..30).
    """
    from bindscape.train import auto_epochs

    if examples is None:
        return auto_epochs(n_train)
    lo, hi = auto_epochs(10**12), auto_epochs(1)  # the library's clamp (6, 30)
    return int(min(hi, max(lo, round(examples / max(n_train, 1)))))


def build(task: str, out: Path, seed: int, extra_negatives: int = 0) -> tuple[Path, int]:
    """The task's dataset folder under `out` (built once) and its number of training sequences.

    Parameters
    ----------
    task : str
        ``human/0`` ... ``mouse/4``.
    out : Path
        Datasets go to ``out/datasets``.
    seed : int
        Build seed.
    extra_negatives : int
        Dinucleotide shuffles of each training positive added as training negatives
        (`build_sequence_dataset`'s `extra_negatives`; dev and test stay as given).
    """
    import pandas as pd

    from bindscape.data.sequences import build_sequence_dataset

    src = DATA / task
    ds = out / "datasets" / (task.replace("/", "_") + (f"-extra{extra_negatives}" if extra_negatives else ""))
    if not (ds / "regions.parquet").exists():
        build_sequence_dataset(ds, train=[src / "train.csv"], val=[src / "dev.csv"], test=[src / "test.csv"],
                               length=100, force=True, seed=seed, extra_negatives=extra_negatives)
    return ds, int((pd.read_parquet(ds / "regions.parquet", columns=["split"])["split"] == "train").sum())


def task_config(task: str, ds: Path, out: Path, threads: int, seed: int, n_train: int, overrides: dict,
                examples: int | None = EXAMPLES, dev_only: bool = False, epochs: int | None = None):
    """The validated training config of one task (the benchmark's model and optimiser).

    `dev_only` sets ``data.test_split: null`` so that the trainer does not score the test split either;
    `epochs` replaces `epochs_for` (the pretraining run)."""
    from bindscape.train import apply_overrides, validate_config

    cfg = {
        "dataset": str(ds), "name": task.replace("/", "_"), "out_dir": str(out / "runs"), "model": MODEL,
        "data": {"batch_size": 128, "sampler": "plain", "rc_augment": True,
                 **({"test_split": None} if dev_only else {})},
        "optim": {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-2, "schedule": "onecycle",
                  "warmup_frac": 0.25},
        "trainer": {"max_epochs": epochs or epochs_for(n_train, examples), "patience": None,
                    "monitor": "val_auroc", "rc_average": True, "seed": seed, "threads": threads,
                    "progress": False},
    }
    return validate_config(apply_overrides(cfg, overrides), source=f"gue {task}")


def pretrain(out: Path, threads: int, seed: int, overrides: dict, epochs: int) -> dict:
    """Pool the nine tasks' training splits and pretrain one nine-output model on them (once per settings).

    Parameters
    ----------
    out : Path
        The pool goes to ``out/pool``, the run to ``out/runs/pretrain``; a finished run with the same
        settings (``out/pretrain.json``) is reused.
    threads : int
        torch threads.
    seed : int
        Build and training seed.
    overrides : dict
        Dotted config overrides of the pretraining run (``--pretrain-set``).
    epochs : int
        Passes over the pooled training rows.

    Returns
    -------
    dict
        ``checkpoint`` (best epoch by the mean dev auROC over the nine outputs), ``cpu_seconds``,
        ``wall_seconds``, ``best_epoch``, ``epochs``, ``dev_auroc`` (that mean), ``n_train`` (pooled training
        rows), ``leaks`` (per task: dev/test sequences found among the pooled training rows, training rows
        dropped for it) and the settings.
    """
    import pandas as pd

    from bindscape.data.dataset import load_dataset
    from bindscape.data.pooled import label_column, pool_tf_datasets

    key = {"seed": seed, "overrides": overrides, "epochs": epochs, "model": MODEL}
    record = out / "pretrain.json"
    if record.exists() and (done := json.loads(record.read_text())).get("settings") == key:
        return done
    datasets = {t.replace("/", "_"): build(t, out, seed)[0] for t in PUBLISHED}
    pool = out / "pool"
    if not (pool / "regions.parquet").exists():
        pool_tf_datasets(datasets, pool, seed=seed, keep_splits=("train", "val"))
    meta = load_dataset(pool).meta["params"]
    n_train = int((pd.read_parquet(pool / "regions.parquet", columns=["split"])["split"] == "train").sum())
    cols = [label_column(t) for t in datasets]
    cfg = task_config("pretrain", pool, out, threads, seed, n_train,
                      {"data.label_columns": cols, **overrides}, dev_only=True, epochs=epochs)
    from bindscape.train import train

    run = train(cfg, overwrite=True)
    m = json.loads((run / "metrics.json").read_text())
    done = {"checkpoint": str(run / "checkpoints" / "best.ckpt"), "cpu_seconds": m.get("cpu_seconds") or 0.0,
            "wall_seconds": m.get("wall_seconds") or 0.0, "best_epoch": m.get("best_epoch"), "epochs": epochs,
            "dev_auroc": m["val"]["auroc"], "n_train": n_train, "leaks": meta["leaks"], "settings": key}
    record.write_text(json.dumps(done, indent=2))
    return done


def finetune_overrides(task: str, pretrained: dict | None, overrides: dict,
                       shared_by: int = len(PUBLISHED)) -> tuple[dict, float]:
    """The overrides that fine-tune `task` from `pretrain`'s checkpoint, and its share of the pretraining.

    Parameters
    ----------
    task : str
        ``human/0`` ... ``mouse/4``.
    pretrained : dict or None
        `pretrain`'s record (None: no pretraining; `overrides` come back unchanged with a share of 0).
    overrides : dict
        The task's own overrides (``--set``); they win over the fine-tuning ones.
    shared_by : int
        Number of tasks that fine-tune from the pretrained model (its CPU is split evenly over them).

    Returns
    -------
    tuple of (dict, float)
        Overrides with ``finetune.checkpoint`` and ``finetune.output: label_<task>``, and the CPU-minutes
        of pretraining charged to this task (an even share).
    """
    from bindscape.data.pooled import label_column

    if pretrained is None:
        return overrides, 0.0
    ft = {"finetune.checkpoint": pretrained["checkpoint"], "finetune.output": label_column(task.replace("/", "_"))}
    return {**ft, **overrides}, pretrained["cpu_seconds"] / shared_by / 60


def run_task(task: str, out: Path, threads: int, seeds: list[int], overrides: dict,
             examples: int | None = EXAMPLES, dev_only: bool = False, pretrained: dict | None = None,
             shared_by: int = len(PUBLISHED), extra_negatives: int = 0) -> dict:
    """Train one task (one run, or an ensemble of one member per seed) and score dev and test.

    Parameters
    ----------
    task : str
        ``human/0`` ... ``mouse/4``.
    out : Path
        Datasets, runs and results go here.
    threads : int
        torch threads per run.
    seeds : list of int
        One member per seed (one seed: a plain run).
    overrides : dict
        Dotted config overrides (``--set``).
    examples : int, optional
        Examples seen per member (`epochs_for`); None: the library's rule.
    dev_only : bool
        Pilot mode: score the dev split only (dev auROC and dev MCC at 0.5); the test split is not read.
    pretrained : dict, optional
        `pretrain`'s record: fine-tune from its checkpoint keeping this task's output; a 1/`shared_by`
        share of its CPU time is added to ``cpu_min``.
    shared_by : int
        Number of tasks that fine-tune from the pretrained model.
    extra_negatives : int
        Dinucleotide shuffles of each training positive added as training negatives (`build`); the
        epoch rule counts them, and ``loss.pos_weight`` (``--set``) can weigh the classes back.

    Returns
    -------
    dict
        One results row: test auROC, auPRC, MCC@0.5, MCC@dev and the dev threshold, dev auROC, epochs,
        training CPU-minutes (all members, plus the pretraining share) and wall minutes (pilot mode: the
        dev metrics only).
    """
    from bindscape.evaluate.metrics import auprc, auroc, choose_threshold, threshold_metrics
    from bindscape.train import load_checkpoint, predict_dataset, train, train_ensemble

    ds, n_train = build(task, out, seeds[0], extra_negatives)
    overrides, share = finetune_overrides(task, pretrained, overrides, shared_by)
    cfg = task_config(task, ds, out, threads, seeds[0], n_train, overrides, examples, dev_only)
    if len(seeds) == 1:
        model = train(cfg, overwrite=True)
    else:
        model = train_ensemble(cfg, seeds=seeds, out=out / "runs" / f"{cfg.name}-ens{len(seeds)}", overwrite=True)
    # a plain run's metrics.json, or each member's entry in the ensemble's manifest (CPU time, best epoch)
    members = (json.loads((model / "ensemble.json").read_text())["members"] if len(seeds) > 1
               else [json.loads((model / "metrics.json").read_text())])
    loaded = load_checkpoint(model)
    dev = predict_dataset(loaded, ds, split="val", progress=False)
    yd, pd_ = dev["label"].to_numpy(), dev["prob"].to_numpy()
    row = {"task": task, "n_train": n_train, "extra_negatives": extra_negatives, "seeds": list(seeds),
           "epochs": cfg.trainer.max_epochs,
           "best_epoch": [e.get("best_epoch") for e in members], "dev_auroc": auroc(yd, pd_),
           "dev_mcc": threshold_metrics(yd, pd_, 0.5)["MCC"],
           "cpu_min": sum(e.get("cpu_seconds") or 0.0 for e in members) / 60 + share, "pretrain_cpu_min": share,
           "wall_min": sum(e.get("wall_seconds") or 0.0 for e in members) / 60}
    thr = choose_threshold(yd, pd_, "MCC")
    if dev_only:  # in-sample on dev (the threshold is chosen there): an upper bound of what MCC@dev gives
        return row | {"dev_mcc_opt": threshold_metrics(yd, pd_, thr)["MCC"], "dev_threshold": thr}
    test = predict_dataset(loaded, ds, split="test", progress=False)
    y, p = test["label"].to_numpy(), test["prob"].to_numpy()
    return row | {"test_auroc": auroc(y, p), "test_auprc": auprc(y, p), "test_mcc": threshold_metrics(y, p, 0.5)["MCC"],
                  "test_mcc_dev": threshold_metrics(y, p, thr)["MCC"], "dev_threshold": thr}


def table(rows: list[dict]) -> str:
    """The results as markdown: bindscape's test auROC / MCC@0.5 / MCC@dev, CPU-minutes, the baselines."""
    head = ("| task | bindscape auROC | MCC@0.5 | MCC@dev (threshold from dev) | DNABERT-2 MCC (fine-tuned) | "
            "MCC@dev >= DNABERT-2 | CPU-min (members) | best published auROC (frozen) | plain CNN auROC | "
            "DNABERT-2 | NT-v2 | HyenaDNA | Caduceus-Ph | GROVER |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        pub, ref = PUBLISHED[r["task"]], DNABERT2_MCC[r["task"]]
        lines.append(f"| {r['task']} | {r['test_auroc']:.4f} | {r['test_mcc']:.4f} | {r['test_mcc_dev']:.4f} "
                     f"({r['dev_threshold']:.2f}) | {ref:.4f} | {'yes' if r['test_mcc_dev'] >= ref else 'no'} | "
                     f"{r['cpu_min']:.2f} ({len(r.get('seeds', [0]))}) | {max(pub):.4f} | "
                     f"{PLAIN_CNN[r['task']]:.4f} | " + " | ".join(f"{v:.4f}" for v in pub) + " |")
    if rows:
        n = len(rows)
        mean = lambda xs: sum(xs) / n  # noqa: E731
        wins = sum(r["test_mcc_dev"] >= DNABERT2_MCC[r["task"]] for r in rows)
        wins05 = sum(r["test_mcc"] >= DNABERT2_MCC[r["task"]] for r in rows)
        lines.append(
            f"| mean | {mean([r['test_auroc'] for r in rows]):.4f} | {mean([r['test_mcc'] for r in rows]):.4f} | "
            f"{mean([r['test_mcc_dev'] for r in rows]):.4f} | {mean([DNABERT2_MCC[r['task']] for r in rows]):.4f} | "
            f"{wins}/{n} (MCC@0.5: {wins05}/{n}) | {mean([r['cpu_min'] for r in rows]):.2f} | "
            f"{mean([max(PUBLISHED[r['task']]) for r in rows]):.4f} | {mean([PLAIN_CNN[r['task']] for r in rows]):.4f} | "
            + " | ".join(f"{mean([PUBLISHED[r['task']][j] for r in rows]):.4f}" for j in range(5)) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=list(PUBLISHED))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0],
                    help="one run per seed; several are averaged as one ensemble (every member's CPU counts)")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "gue")
    ap.add_argument("--set", nargs="*", default=[], help="config overrides KEY=VALUE")
    ap.add_argument("--examples", type=int, default=EXAMPLES,
                    help="examples seen per member (epochs = EXAMPLES / training size, clamped 6..30)")
    ap.add_argument("--dev-only", action="store_true",
                    help="pilot mode: train and score the dev split only (the test split is not read)")
    ap.add_argument("--pretrain", action="store_true",
                    help="pretrain one nine-output model on the pooled training splits, then fine-tune each task")
    ap.add_argument("--pretrain-epochs", type=int, default=3, help="passes over the pooled training rows")
    ap.add_argument("--pretrain-set", nargs="*", default=[], help="config overrides of the pretraining run")
    ap.add_argument("--pretrain-shared-by", type=int, default=len(PUBLISHED),
                    help="tasks that fine-tune from the pretrained model (its CPU is split evenly over them; "
                         "default: all nine)")
    ap.add_argument("--extra-negatives", type=int, default=0,
                    help="dinucleotide shuffles of each training positive added as training negatives (dev and "
                         "test stay as given); pair with --set loss.pos_weight=1+N")
    ap.add_argument("--merge", nargs="*", type=Path, default=None,
                    help="only print the table for results.json files in these --out folders")
    args = ap.parse_args(argv)
    if args.merge is not None:
        rows = [r for d in args.merge for r in json.loads((d / "results.json").read_text())]
        order = list(PUBLISHED)
        rows.sort(key=lambda r: order.index(r["task"]))
        print(table(rows))
        _summary(rows)
        return 0
    if not DATA.exists():
        print(f"GUE data not found at {DATA}", file=sys.stderr)
        return 2
    from bindscape.train import parse_set

    overrides = parse_set(args.set)
    os.environ.setdefault("BINDSCAPE_PROGRESS", "0")
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pre = None
    if args.pretrain:
        pre = pretrain(args.out, args.threads, args.seeds[0], parse_set(args.pretrain_set), args.pretrain_epochs)
        dropped = {t: v["train_dropped"] for t, v in pre["leaks"].items() if v["train_dropped"]}
        print(f"pretrain: {pre['n_train']:,} pooled training rows, best epoch {pre['best_epoch']}/{pre['epochs']}, "
              f"mean dev auROC {pre['dev_auroc']:.4f}, {pre['cpu_seconds'] / 60:.2f} CPU-min "
              f"({pre['cpu_seconds'] / 60 / args.pretrain_shared_by:.2f} per task); training rows dropped as dev/test "
              f"duplicates: {dropped or 'none'}", flush=True)
    for task in args.tasks:
        r = run_task(task, args.out, args.threads, args.seeds, overrides, args.examples, args.dev_only, pre,
                     args.pretrain_shared_by, args.extra_negatives)
        rows.append(r)
        head = (f"{task}: dev auROC {r['dev_auroc']:.4f} dev MCC@0.5 {r['dev_mcc']:.4f} (at the dev-optimal "
                f"threshold {r['dev_threshold']:.2f}: {r['dev_mcc_opt']:.4f})" if args.dev_only else
                f"{task}: test auROC {r['test_auroc']:.4f} MCC@0.5 {r['test_mcc']:.4f} MCC@dev {r['test_mcc_dev']:.4f} "
                f"(DNABERT-2 {DNABERT2_MCC[task]:.4f}; dev auROC {r['dev_auroc']:.4f}")
        print(f"{head}{';' if args.dev_only else ''} best epoch {r['best_epoch']}/{r['epochs']}"
              f"{'' if args.dev_only else ')'} {r['cpu_min']:.2f} CPU-min, {r['wall_min']:.2f} min wall", flush=True)
        (args.out / ("pilot.json" if args.dev_only else "results.json")).write_text(json.dumps(rows, indent=2))
    if args.dev_only:
        print(f"total {(time.time() - t0) / 60:.1f} min wall (dev only; test not read)")
        return 0
    md = table(rows)
    (args.out / "results.md").write_text(md + "\n")
    print(md)
    _summary(rows)
    print(f"total {(time.time() - t0) / 60:.1f} min wall")
    return 0


def _summary(rows: list[dict]) -> None:
    n = len(rows)
    mean = sum(r["test_auroc"] for r in rows) / n
    beats = sum(r["test_auroc"] > max(PUBLISHED[r["task"]]) for r in rows)
    wins = sum(r["test_mcc_dev"] >= DNABERT2_MCC[r["task"]] for r in rows)
    wins05 = sum(r["test_mcc"] >= DNABERT2_MCC[r["task"]] for r in rows)
    over = [r["task"] for r in rows if r["cpu_min"] > BUDGET_CPU_MIN]
    print(f"\nmean test auROC {mean:.4f} (plain CNN {sum(PLAIN_CNN[r['task']] for r in rows) / n:.4f}); auROC above "
          f"the best published frozen-embedding result on {beats}/{n}; MCC >= fine-tuned DNABERT-2 on {wins}/{n} "
          f"at the dev threshold ({wins05}/{n} at 0.5); max CPU-min {max(r['cpu_min'] for r in rows):.2f} "
          f"(budget {BUDGET_CPU_MIN:g}; over: {', '.join(over) or 'none'})")


if __name__ == "__main__":
    sys.exit(main())

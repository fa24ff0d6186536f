"""Learning curves (issue 15, diagnosis): does more training data close the gap, or is prior knowledge needed?

Two experiments, each a grid of training fractions x seeds. Every run subsamples the TRAINING split only
(positives and negatives separately, so the negatives-per-positive ratio is kept; validation and test
splits are untouched), trains one model, and scores it on fixed test sets with percentile-bootstrap 95%
intervals (`bindscape.evaluate.evaluate_scores`).

yeast Reb1 (``--yeast``)
    The dataset of the shipped ``yeast-reb1`` recipe (its ``data:`` section: 200 bp, 2 genomic negatives per
    positive, fold 0 of 3 chromosome groups, seed 0; only the recipe's strategies up to ``genomic`` are
    built, which gives the recipe's genomic dataset unchanged). Model: plain ``bindscape train`` defaults
    (every `bindscape.train.TrainConfig` default; only ``trainer.seed`` and ``trainer.threads: 1`` set).
    Test sets: the genomic dataset's own test split and the HQ test set (test-chromosome positives vs DNase
    footprints that overlap no Reb1 peak). The PWM baseline (the recipe's ``evaluate.motif``, MA0363.3)
    has nothing to train: it is scored once on the same test sets and drawn as a flat line.
GUE (``--gue``, task ``--gue-task``, default ``human/0``)
    A sequence dataset built as `benchmarks/gue.py` builds it (train/dev/test CSVs, 100 bp) and the model,
    data, optimiser and trainer settings `benchmarks/gue.py` uses; the number of epochs follows
    ``--gue-epochs``: ``rule`` (gue.py's ``epochs_for`` on the subsampled set: about the same number of
    examples seen at every fraction) or an integer (the same epochs at every fraction). Test auROC and MCC
    (threshold 0.5, as GUE reports it). GUE does not name the TF of a task, so there is no PWM curve.

Runs are cached (``OUT/<experiment>/runs/<name>/result.json``): rerunning the command only trains what is
missing (``--force`` retrains). Writes ``OUT/learning_curves.csv`` (one row per run x test set),
``OUT/learning_curves_summary.csv`` (mean, sd over seeds and seed 0's interval) and ``OUT/learning_curves.md``.

    python benchmarks/learning_curves.py --yeast ../shared/data/yeast --gue ../shared/data/human/gue_tf \\
        --out /tmp/e15/lc [--seeds 0 1 2] [--fractions 0.125 0.25 0.5 1] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # benchmarks/gue.py: the GUE model and epoch rule
    sys.path.insert(0, str(HERE))

METRICS = ("auROC", "auPRC", "MCC")
DEFAULT_MODEL = "default (bindscape_cnn)"


# ------------------------------------------------------------------------------------------- datasets
def build_yeast(data: Path, out: Path) -> dict:
    """The ``yeast-reb1`` recipe's genomic dataset and HQ test set.

    Parameters
    ----------
    data
        The folder holding the recipe's input files (``--var data=``).
    out
        Where the datasets go (``out/genomic``, ``out/hq_test``); reused when already built.

    Returns
    -------
    dict
        ``dataset`` (the genomic dataset folder), ``hq_test`` (the HQ folder), ``motif`` (the recipe's PWM)
        and ``seed`` (the recipe's seed).
    """
    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark
    from bindscape.recipes.engine import load_recipe

    rec = load_recipe("yeast-reb1", {"data": str(data)})
    d = rec.data
    seed = int(rec.vars.get("seed", 0))
    # strategies are seeded by their position in the list: build the recipe's list up to `genomic`
    strategies = d.strategies[: d.strategies.index("genomic") + 1]
    if not (out / "benchmark.json").exists():
        build_tfbs_benchmark(d.genome, d.peaks, out, tf=d.tf, accessible=d.accessible, others=d.others or None,
                             strategies=strategies, length=d.length, ratio=d.ratio, fold=d.fold, k=d.groups,
                             seed=seed, blacklist=d.blacklist, on_short="warn", force=True)
    return {"dataset": str(out / "genomic"), "hq_test": str(out / "hq_test"), "motif": rec.evaluate.motif,
            "motif_species": rec.evaluate.motif_species, "seed": seed}


def build_gue(src: Path, out: Path) -> str:
    """A GUE task's sequence dataset, built with `benchmarks/gue.py`'s settings (100 bp, given splits).

    Parameters
    ----------
    src
        The task folder (``train.csv``, ``dev.csv``, ``test.csv``).
    out
        The dataset folder; reused when already built.

    Returns
    -------
    str
        The dataset folder.
    """
    from bindscape.data.sequences import build_sequence_dataset

    if not (out / "regions.parquet").exists():
        build_sequence_dataset(out, train=[src / "train.csv"], val=[src / "dev.csv"], test=[src / "test.csv"],
                               length=100, force=True, seed=0)
    return str(out)


def subsample_train(path: str | Path, out: str | Path, fraction: float, seed: int) -> dict:
    """Copy a dataset keeping `fraction` of its training rows, drawn per label (the class ratio is kept).

    Parameters
    ----------
    path
        The dataset folder.
    out
        The new dataset folder (validation and test rows are copied unchanged).
    fraction
        Share of each label's training rows to keep, in (0, 1]; 1 copies them all.
    seed
        Seed of the draw.

    Returns
    -------
    dict
        ``n_train_pos`` and ``n_train`` of the new dataset.
    """
    from bindscape.data.dataset import load_dataset, write_dataset

    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    ds = load_dataset(path)
    reg = ds.regions
    rng = np.random.default_rng(seed)
    keep = np.ones(len(reg), dtype=bool)
    for lab in (0, 1):
        idx = np.flatnonzero((reg["split"] == "train").to_numpy() & (reg["label"] == lab).to_numpy())
        n = max(1, int(round(fraction * len(idx))))
        drop = rng.permutation(idx)[n:]
        keep[drop] = False
    sub = reg[keep].reset_index(drop=True)
    genome = ds.open_genome() if (ds.meta.get("genome") or {}).get("path") else None  # None: sequence-only
    params = {"source": str(Path(path).resolve()), "fraction": fraction}
    extra = {k: v for k, v in ds.meta.items() if k in ("split_chroms", "notes")}
    write_dataset(out, sub, builder="subsample-train", params=params, seed=seed, genome=genome, extra=extra)
    tr = sub[sub["split"] == "train"]
    return {"n_train_pos": int((tr["label"] == 1).sum()), "n_train": int(len(tr))}


# ----------------------------------------------------------------------------------------------- runs
def train_config(exp: str, dataset: str, name: str, out_dir: str, seed: int, n_train: int,
                 gue_epochs: str) -> dict:
    """The training config of one learning-curve run.

    Parameters
    ----------
    exp
        ``yeast`` (plain `bindscape train` defaults) or ``gue`` (`benchmarks/gue.py`'s settings).
    dataset, name, out_dir
        The subsampled dataset, the run name and the folder its run goes in.
    seed
        ``trainer.seed``.
    n_train
        Training examples (for gue.py's epoch rule).
    gue_epochs
        ``rule`` or an integer number of epochs (GUE only).

    Returns
    -------
    dict
        A config for `bindscape.train.validate_config`.
    """
    base = {"dataset": dataset, "name": name, "out_dir": out_dir}
    if exp == "yeast":
        # the `bindscape train` defaults these curves were measured with (before issue 15 item 7 made the
        # default model 64 wide and its epochs size-dependent), pinned so that a rerun reproduces them
        return {**base, "model": {"name": "bindscape_cnn", "params": {"channels": 128, "hidden": 128}},
                "trainer": {"seed": seed, "threads": 1, "progress": False, "max_epochs": 10}}
    import gue

    epochs = gue.epochs_for(n_train) if gue_epochs == "rule" else int(gue_epochs)
    return {  # as gue.run_task configures it, except the epochs
        **base, "model": gue.MODEL,
        "data": {"batch_size": 128, "sampler": "plain", "rc_augment": True},
        "optim": {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-2, "schedule": "onecycle",
                  "warmup_frac": 0.25},
        "trainer": {"max_epochs": epochs, "patience": None, "monitor": "val_auroc", "rc_average": True,
                    "seed": seed, "threads": 1, "progress": False},
    }


def score_rows(y: np.ndarray, s: np.ndarray, *, test_set: str, bootstrap: int, seed: int,
               threshold: float | None) -> dict:
    """Ranking metrics (and MCC at `threshold`) of one model on one test set, with bootstrap intervals.

    Parameters
    ----------
    y, s
        Labels and scores.
    test_set
        The test set's name.
    bootstrap
        Bootstrap resamples (0: no intervals).
    seed
        Bootstrap seed.
    threshold
        Threshold for MCC (GUE: 0.5 on probabilities); None leaves MCC out.

    Returns
    -------
    dict
        ``test_set``, ``n``, ``positives``, auROC/auPRC (+ ``_lo``/``_hi``) and MCC (+ interval) when asked.
    """
    from bindscape.evaluate import bootstrap_ci, evaluate_scores, threshold_metrics

    ev = evaluate_scores(y, s, threshold=0.5 if threshold is None else threshold, bootstrap=bootstrap, seed=seed)
    row = {"test_set": test_set, "n": int(len(y)), "positives": int(y.sum())}
    for k in ("auROC", "auPRC"):
        row[k] = ev.metrics[k]
        row[f"{k}_lo"], row[f"{k}_hi"] = ev.intervals.get(k, (np.nan, np.nan))
    if threshold is not None:
        row["MCC"] = ev.metrics["MCC"]
        if bootstrap:
            row["MCC_lo"], row["MCC_hi"] = bootstrap_ci(
                y, s, lambda a, b: threshold_metrics(a, b, threshold)["MCC"], n=bootstrap, seed=seed)
    return row


def run_one(job: dict) -> list[dict]:
    """Subsample, train and score one (experiment, fraction, seed); cached in the run's ``result.json``.

    Parameters
    ----------
    job
        ``exp``, ``fraction``, ``seed``, ``dataset``, ``tests`` ({name: (folder, split)}), ``root`` (the
        experiment's folder), ``bootstrap``, ``threshold``, ``gue_epochs`` and ``force``.

    Returns
    -------
    list of dict
        One row per test set.
    """
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("BINDSCAPE_PROGRESS", "0")
    from bindscape.recipes.kinds.tfbs import model_scores
    from bindscape.train import load_checkpoint, train, validate_config

    root = Path(job["root"])
    name = f"f{job['fraction']:g}_s{job['seed']}" + (f"_e{job['gue_epochs']}" if job["exp"] == "gue" else "")
    cache = root / "runs" / name / "result.json"
    if cache.exists() and not job["force"]:
        return json.loads(cache.read_text())
    sub = root / "data" / name
    counts = subsample_train(job["dataset"], sub, job["fraction"], job["seed"])
    cfg = validate_config(train_config(job["exp"], str(sub), name, str(root / "runs"), job["seed"],
                                       counts["n_train"], job["gue_epochs"]), source=f"learning curve {name}")
    run = train(cfg, overwrite=True)
    m = json.loads((run / "metrics.json").read_text())
    ckpt = load_checkpoint(run / "checkpoints" / "best.ckpt")
    rows = []
    for tname, (folder, split) in job["tests"].items():
        df = model_scores(ckpt, folder, split, progress=False)
        rows.append({"experiment": job["exp_label"], "model": DEFAULT_MODEL, "fraction": job["fraction"],
                     "seed": job["seed"], **counts, "epochs": cfg.trainer.max_epochs,
                     "best_epoch": m.get("best_epoch"), "epochs_run": m.get("epochs_run"),
                     "train_cpu_s": m["cpu_seconds"],
                     **score_rows(df["label"].to_numpy(), df["prob"].to_numpy(), test_set=tname,
                                  bootstrap=job["bootstrap"], seed=job["seed"], threshold=job["threshold"])})
    cache.write_text(json.dumps(rows, indent=1, default=float))
    return rows


def pwm_rows(info: dict, tests: dict, n_train_pos: dict, bootstrap: int) -> list[dict]:
    """The PWM baseline on the yeast test sets, repeated at every fraction (it trains on nothing).

    Parameters
    ----------
    info
        `build_yeast`'s record (``motif``, ``motif_species``, ``seed``).
    tests
        Test set name -> (folder, split).
    n_train_pos
        Fraction -> training positives of the model runs at that fraction (for the table's x axis).
    bootstrap
        Bootstrap resamples.

    Returns
    -------
    list of dict
        One row per fraction x test set (seed -1: not a trained model).
    """
    from bindscape.motifs import PWMBaseline, load_motif
    from bindscape.recipes.kinds.tfbs import pwm_scores

    base = PWMBaseline([load_motif(info["motif"], species=info["motif_species"])])
    scored = []
    for t, (folder, split) in tests.items():
        df = pwm_scores(base, folder, split)
        scored.append(score_rows(df["label"].to_numpy(), df["prob"].to_numpy(), test_set=t, bootstrap=bootstrap,
                                 seed=info["seed"], threshold=None))
    return [{"experiment": "yeast Reb1", "model": f"PWM {info['motif']}", "fraction": fr, "seed": -1,
             "n_train_pos": npos, "train_cpu_s": 0.0, **row}
            for fr, npos in n_train_pos.items() for row in scored]


# -------------------------------------------------------------------------------------------- summary
def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per experiment x model x test set x fraction, plus seed 0's 95% interval.

    Parameters
    ----------
    rows
        One row per run x test set (`run_one`, `pwm_rows`).

    Returns
    -------
    pandas.DataFrame
        ``<metric>_mean``, ``<metric>_sd`` (ddof 1; 0 for the PWM) and ``<metric>_lo``/``_hi`` of the run with
        the lowest seed, for auROC, auPRC and MCC where present.
    """
    keys = ["experiment", "test_set", "model", "fraction"]
    out = []
    for key, g in rows.groupby(keys, sort=True):
        first = g.sort_values("seed").iloc[0]
        rec = dict(zip(keys, key, strict=True))
        rec.update(n_seeds=int((g["seed"] >= 0).sum()), n_train_pos=float(g["n_train_pos"].mean()),
                   train_cpu_s=float(g["train_cpu_s"].mean()))
        for m in METRICS:
            if m not in g or g[m].isna().all():
                continue
            rec[f"{m}_mean"] = float(g[m].mean())
            rec[f"{m}_sd"] = float(g[m].std(ddof=1)) if len(g) > 1 and (g["seed"] >= 0).all() else 0.0
            rec[f"{m}_lo"], rec[f"{m}_hi"] = first.get(f"{m}_lo", np.nan), first.get(f"{m}_hi", np.nan)
        out.append(rec)
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame) -> str:
    """One markdown table per experiment x test set: a row per fraction, a column group per model.

    Parameters
    ----------
    summary
        `summarise`'s table.

    Returns
    -------
    str
    """
    parts = []
    for (exp, tset), g in summary.groupby(["experiment", "test_set"], sort=False):
        metrics = [m for m in METRICS if f"{m}_mean" in g and g[f"{m}_mean"].notna().any()]
        models = list(dict.fromkeys(g["model"]))
        head = ["fraction", "train positives"] + [f"{mo} {m}" for mo in models for m in metrics]
        lines = [f"**{exp} — {tset}** (mean ± sd over seeds [95% bootstrap interval of the lowest seed])", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for fr, gf in g.groupby("fraction", sort=True):
            cells = [f"{fr:g}", f"{gf['n_train_pos'].iloc[0]:.0f}"]
            for mo in models:
                r = gf[gf["model"] == mo]
                for m in metrics:
                    if r.empty or pd.isna(r[f"{m}_mean"].iloc[0]):
                        cells.append("-")
                        continue
                    r0 = r.iloc[0]
                    sd = f" ± {r0[f'{m}_sd']:.3f}" if r0["n_seeds"] > 1 else ""
                    cells.append(f"{r0[f'{m}_mean']:.3f}{sd} [{r0[f'{m}_lo']:.3f}, {r0[f'{m}_hi']:.3f}]")
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def last_doubling(summary: pd.DataFrame) -> pd.DataFrame:
    """The default model's gain over the last doubling of training data, and the PWM's level where there is one.

    Parameters
    ----------
    summary
        `summarise`'s table.

    Returns
    -------
    pandas.DataFrame
        Per experiment x test set x metric: the two largest fractions' means, the gain per doubling, the
        PWM's value and the doublings the gap would need at that gain (inf when the gain is <= 0).
    """
    out = []
    for (exp, tset), g in summary.groupby(["experiment", "test_set"], sort=False):
        mod = g[g["model"] == DEFAULT_MODEL].sort_values("fraction")
        pwm = g[g["model"].str.startswith("PWM")]
        if len(mod) < 2 or not np.isclose(mod["fraction"].iloc[-1], 2 * mod["fraction"].iloc[-2]):
            continue
        for m in METRICS:
            if f"{m}_mean" not in mod or mod[f"{m}_mean"].isna().all():
                continue
            a, b = mod[f"{m}_mean"].iloc[-2], mod[f"{m}_mean"].iloc[-1]
            ref = float(pwm[f"{m}_mean"].iloc[0]) if len(pwm) and f"{m}_mean" in pwm else np.nan
            gap = ref - b
            need = np.nan if np.isnan(ref) else (0.0 if gap <= 0 else (gap / (b - a) if b > a else np.inf))
            out.append({"experiment": exp, "test_set": tset, "metric": m, "at_half": a, "at_full": b,
                        "gain_per_doubling": b - a, "pwm": ref, "doublings_to_pwm": need})
    return pd.DataFrame(out)


def frame_markdown(df: pd.DataFrame) -> str:
    """A small DataFrame as a markdown table (floats with 3 decimals).

    Parameters
    ----------
    df
        The table.

    Returns
    -------
    str
    """
    if df.empty:
        return "(none)"
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- main
def jobs_for(args, out: Path) -> tuple[list[dict], list[dict]]:
    """Build the datasets and list the runs of every experiment asked for.

    Parameters
    ----------
    args
        The parsed command line.
    out
        The output folder.

    Returns
    -------
    tuple
        (jobs for `run_one`, yeast PWM settings as ``[{"info": ..., "tests": ...}]`` or empty).
    """
    jobs, pwm = [], []
    common = {"bootstrap": args.bootstrap, "gue_epochs": args.gue_epochs, "force": args.force}
    if args.yeast:
        info = build_yeast(args.yeast, out / "yeast" / "datasets")
        tests = {"own test (genomic)": (info["dataset"], "test"), "HQ test (DNase footprints)": (info["hq_test"], None)}
        pwm.append({"info": info, "tests": tests})
        jobs += [{"exp": "yeast", "exp_label": "yeast Reb1", "fraction": f, "seed": s, "dataset": info["dataset"],
                  "tests": tests, "root": str(out / "yeast"), "threshold": None, **common}
                 for s in args.seeds for f in sorted(args.fractions, reverse=True)]
    if args.gue:
        task = args.gue_task
        ds = build_gue(args.gue / task, out / "gue" / "datasets" / task.replace("/", "_"))
        jobs += [{"exp": "gue", "exp_label": f"GUE {task}", "fraction": f, "seed": s, "dataset": ds,
                  "tests": {"test": (ds, "test")}, "root": str(out / "gue"), "threshold": 0.5, **common}
                 for s in args.seeds for f in sorted(args.gue_fractions or args.fractions, reverse=True)]
    # seed-major, largest fraction first: a run stopped early still has whole curves for the first seeds
    return jobs, pwm


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--yeast", type=Path, help="folder of the yeast-reb1 recipe's inputs (../shared/data/yeast)")
    ap.add_argument("--gue", type=Path, help="the GUE TF folder (../shared/data/human/gue_tf)")
    ap.add_argument("--gue-task", default="human/0")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.5, 1.0])
    ap.add_argument("--gue-fractions", type=float, nargs="+", help="GUE fractions (default: --fractions)")
    ap.add_argument("--gue-epochs", default="rule", help="'rule' (gue.py's epochs_for) or a fixed integer")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="runs at once (one thread each)")
    ap.add_argument("--force", action="store_true", help="retrain runs that have a cached result")
    args = ap.parse_args(argv)
    if not (args.yeast or args.gue):
        ap.error("give --yeast and/or --gue")
    for flag, p in (("--yeast", args.yeast), ("--gue", args.gue)):
        if p is not None and not p.exists():
            ap.error(f"{flag} {p}: folder does not exist")
    if args.gue_epochs != "rule" and not args.gue_epochs.isdigit():
        ap.error(f"--gue-epochs {args.gue_epochs!r}: expected 'rule' or a positive integer")
    if any(not 0 < f <= 1 for f in [*args.fractions, *(args.gue_fractions or [])]):
        ap.error("fractions must be in (0, 1]")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("BINDSCAPE_PROGRESS", "0")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    jobs, pwm = jobs_for(args, out)
    rows: list[dict] = []
    pool = None
    if args.jobs == 1:
        results = map(run_one, jobs)
    else:
        import multiprocessing as mp

        pool = ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn"))
        results = pool.map(run_one, jobs)
    for job, res in zip(jobs, results, strict=True):
        rows += res
        print(f"{job['exp_label']} fraction {job['fraction']:g} seed {job['seed']}: "
              + "; ".join(f"{r['test_set']} auROC {r['auROC']:.3f} auPRC {r['auPRC']:.3f}"
                          + (f" MCC {r['MCC']:.3f}" if "MCC" in r else "") for r in res)
              + f" ({res[0]['train_cpu_s'] / 60:.2f} train CPU-min)", flush=True)
    if pool is not None:
        pool.shutdown()  # reaps the workers, so their CPU time counts below
    for p in pwm:
        by_frac = {r["fraction"]: r["n_train_pos"] for r in rows if r["experiment"] == "yeast Reb1"}
        rows += pwm_rows(p["info"], p["tests"], by_frac, args.bootstrap)
    table = pd.DataFrame(rows)
    table.to_csv(out / "learning_curves.csv", index=False)
    summary = summarise(table)
    summary.to_csv(out / "learning_curves_summary.csv", index=False)
    slope = last_doubling(summary)
    slope.to_csv(out / "learning_curves_slope.csv", index=False)
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    train_cpu = table.drop_duplicates(["experiment", "model", "fraction", "seed"])["train_cpu_s"].sum()
    md = (markdown(summary) + "\n\nLast doubling (gain of the default model's mean; doublings the PWM gap needs "
          "at that gain):\n\n" + frame_markdown(slope)
          + f"\n\nTotal: {cpu / 60:.1f} CPU-minutes (this process and its workers; cached runs cost nothing), "
          f"{(time.perf_counter() - t0) / 60:.1f} min wall; training alone "
          f"{train_cpu / 60:.1f} CPU-minutes.\n")
    (out / "learning_curves.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GUE diagnosis: does prior knowledge from a motif database carry information the trained model lacks?

Issue 15 asks whether the learned models need more data or prior knowledge. For each GUE task this fits,
on the **train** split, three linear models (scikit-learn logistic regression, features standardised) and
scores them on the **dev** split only (the test split is never opened):

- ``database``: the best log-odds score (both strands, `bindscape.motifs.enrichment.max_scores`, the PWM
  baseline's score) of every motif of a database, by default HOCOMOCO v12 CORE (1,443 matrices);
- ``random``: the same number of random matrices of the same widths (columns drawn from Dirichlet(0.3)):
  what a bank of that many fuzzy features gives without the database's knowledge;
- ``kmers``: 4- and 5-mer counts of both strands (the composition a CNN is known to miss, see the k-mer
  branch in docs/accuracy.md).

With ``--runs DIR`` (a `benchmarks/gue.py --out` folder) it also scores each task's trained checkpoint on
dev and reports a stack of its logit with the database model's logit, fitted by 5-fold cross-fitting on dev
(repeated 5 times, out-of-fold predictions), so the stack's dev auROC and MCC@0.5 are not selected on the
sequences they are measured on.

    python benchmarks/gue_priors.py --tasks human/3 mouse/4 [--runs /tmp/gue-final] [--out runs/gue-priors]

Written by hand (not a bindscape API) because it is a diagnosis of the benchmark, not a model users train:
the linear models are scikit-learn's, the motif scores bindscape's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gue import DATA, DNABERT2_MCC  # noqa: E402  (benchmarks are scripts, not a package)

DEFAULT_MOTIFS = DATA.parents[1] / "motifs" / "H12CORE_meme_format.meme"
C_REG = 0.01  # inverse L2 strength of every logistic regression (chosen on human/0 dev among 0.01 and 0.1)


def database_pwms(path: Path) -> list[np.ndarray]:
    """Every motif of a MEME file as a (4, W) log2-odds matrix (pseudocount 0.1, uniform background).

    Parameters
    ----------
    path : Path
        A MEME-format motif file.

    Returns
    -------
    list of np.ndarray
        One matrix per motif, in file order.
    """
    from bindscape.models.motif_init import motif_log_odds
    from bindscape.motifs import read_meme

    return motif_log_odds(read_meme(path))


def random_pwms(widths: list[int], seed: int) -> list[np.ndarray]:
    """Random log2-odds matrices of the given widths (probability columns from Dirichlet(0.3), as above).

    Parameters
    ----------
    widths : list of int
        One width per matrix.
    seed : int
        Seed of the random generator.

    Returns
    -------
    list of np.ndarray
        (4, W) log2-odds matrices.
    """
    from bindscape.motifs import Motif

    rng = np.random.default_rng(seed)
    return [Motif(name=f"random{i}", matrix=rng.dirichlet(np.full(4, 0.3), size=w).T).to_pwm(0.1, None)
            for i, w in enumerate(widths)]


def _codes(seqs) -> np.ndarray:
    from bindscape.motifs.scan import encode

    return np.stack([encode(s) for s in seqs])


def _kmer_features(train: pd.Series, dev: pd.Series):
    from sklearn.feature_extraction.text import CountVectorizer

    comp = str.maketrans("ACGTacgt", "TGCAtgca")
    both = [s.map(lambda x: x + " " + x.translate(comp)[::-1]) for s in (train, dev)]
    vec = CountVectorizer(analyzer="char", ngram_range=(4, 5), lowercase=False).fit(both[0])
    return vec.transform(both[0]), vec.transform(both[1])


def _fit_lr(x_train, y_train, x_dev) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(with_mean=not hasattr(x_train, "tocsr")),
                          LogisticRegression(C=C_REG, max_iter=3000))
    return model.fit(x_train, y_train).predict_proba(x_dev)[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def cross_fitted_stack(y: np.ndarray, columns: list[np.ndarray], folds: int = 5, repeats: int = 5,
                       seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of a logistic regression on the columns' logits, fitted on dev folds.

    Parameters
    ----------
    y : np.ndarray
        Dev labels (0/1).
    columns : list of np.ndarray
        Probabilities of each model on dev.
    folds, repeats : int
        Stratified folds, and how many shuffles of them are averaged.
    seed : int
        Seed of the first shuffle.

    Returns
    -------
    np.ndarray
        Each sequence's mean out-of-fold probability.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x = np.column_stack([_logit(c) for c in columns])
    out = np.zeros(len(y))
    for r in range(repeats):
        for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed + r).split(x, y):
            out[held] += LogisticRegression().fit(x[fit], y[fit]).predict_proba(x[held])[:, 1] / repeats
    return out


def _model_dev(runs: Path, task: str) -> np.ndarray:
    from bindscape.train import load_checkpoint, predict_dataset

    name = task.replace("/", "_")
    dataset = sorted((runs / "datasets").glob(f"{name}*"))[0]  # checked by main
    dev = predict_dataset(load_checkpoint(runs / "runs" / name), dataset, split="val", progress=False)
    return dev.prob.to_numpy()


def run_task(task: str, pwms: list[np.ndarray], seed: int, runs: Path | None) -> dict:
    """Dev auROC / MCC@0.5 of the database, random and k-mer models (and the stack with `runs`'s model).

    Parameters
    ----------
    task : str
        A GUE task, e.g. ``human/3``.
    pwms : list of np.ndarray
        The database's log2-odds matrices.
    seed : int
        Seed of the random matrices.
    runs : Path or None
        A `benchmarks/gue.py --out` folder holding this task's trained model, or None.

    Returns
    -------
    dict
        One row of the results table.
    """
    from bindscape.evaluate.metrics import auroc, threshold_metrics
    from bindscape.motifs.enrichment import max_scores

    t0 = time.process_time()
    train, dev = (pd.read_csv(DATA / task / f"{s}.csv") for s in ("train", "dev"))
    y_train, y = train.label.to_numpy(), dev.label.to_numpy()
    codes = _codes(train.sequence), _codes(dev.sequence)
    probs = {"database": _fit_lr(max_scores(codes[0], pwms), y_train, max_scores(codes[1], pwms))}
    t_db = time.process_time() - t0
    rand = random_pwms([p.shape[1] for p in pwms], seed)
    probs["random"] = _fit_lr(max_scores(codes[0], rand), y_train, max_scores(codes[1], rand))
    k_train, k_dev = _kmer_features(train.sequence, dev.sequence)
    probs["kmers"] = _fit_lr(k_train, y_train, k_dev)
    if runs is not None:
        probs["model"] = _model_dev(runs, task)
        probs["stack"] = cross_fitted_stack(y, [probs["model"], probs["database"]])
    row = {"task": task, "n_train": len(train), "n_dev": len(dev), "database_cpu_s": round(t_db, 1)}
    for k, p in probs.items():
        row[f"{k}_auroc"] = round(float(auroc(y, p)), 4)
        row[f"{k}_mcc"] = round(float(threshold_metrics(y, p, 0.5)["MCC"]), 4)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(DNABERT2_MCC))
    ap.add_argument("--motifs", type=Path, default=DEFAULT_MOTIFS, help="MEME file of the motif database")
    ap.add_argument("--runs", type=Path, default=None, help="a benchmarks/gue.py --out folder to stack with")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random matrices")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "gue-priors")
    args = ap.parse_args(argv)
    for task in args.tasks:
        if not (DATA / task / "train.csv").is_file():
            print(f"error: --tasks {task}: no {DATA / task / 'train.csv'}", file=sys.stderr)
            return 2
        name = task.replace("/", "_")
        if args.runs is not None and not ((args.runs / "runs" / name).is_dir()
                                          and any((args.runs / "datasets").glob(f"{name}*"))):
            print(f"error: --runs {args.runs}: no runs/{name} with a datasets/{name}* folder; pass a "
                  "benchmarks/gue.py --out folder that trained this task", file=sys.stderr)
            return 2
    if not args.motifs.is_file():
        print(f"error: --motifs {args.motifs}: no such file", file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: --out {args.out}: cannot create it ({e.strerror}); choose a writable folder", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    pwms = database_pwms(args.motifs)
    rows = []
    for task in args.tasks:
        rows.append(run_task(task, pwms, args.seed, args.runs))
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    cols = [c for c in rows[0] if c.endswith("_auroc") or c.endswith("_mcc")]
    print("| task | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for r in rows:
        print(f"| {r['task']} | " + " | ".join(f"{r[c]:.4f}" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

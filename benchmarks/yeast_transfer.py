"""Transfer within a species on yeast (issue 15 item 6): pretrain one two-output model on Reb1 + Abf1, fine-tune per TF.

Reads the finished run folders of ``bindscape run yeast-reb1`` and ``bindscape run yeast-abf1`` (their
datasets, from-scratch models and evaluation; nothing there is changed) and writes under ``--out``:

- ``pool-<strategy>/``: the two TFs' training sets of one negative strategy pooled into one dataset with a
  label column per TF (`bindscape.data.pooled`; a row's label for the other TF is unknown and masked);
- ``models/<name>-pretrain``: one two-output model per architecture (plain CNN; hybrid with both JASPAR motifs)
  trained on the pool (best epoch by mean validation auPRC over the two TFs);
- ``models/<name>-<TF>-<strategy>``: per TF, that model fine-tuned from the TF's own output
  (``finetune.output: label_<TF>``) on the TF's dataset with the recipe's trainer settings;
- ``<tf>/evaluation/``: the recipe's evaluate stage (`bindscape.recipes.kinds.tfbs.evaluate_benchmark`) on the
  fine-tuned models and the PWM: ``hq_validation.csv`` (the decision) and ``metrics.csv`` (HQ test and own
  tests with bootstrap 95% intervals).

It prints one table per TF: each fine-tuned model beside the recipe's from-scratch model on the same
negatives (read from the recipe's own ``evaluation/``), and the training CPU seconds. One thread.

    python benchmarks/yeast_transfer.py --runs /tmp/r15 --data ../shared/data/yeast --out /tmp/transfer
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

TFS = {"Reb1": ("reb1", "yeast-reb1"), "Abf1": ("abf1", "yeast-abf1")}
MOTIFS = ["MA0363.3", "MA0265.3"]
WIDTH = {"channels": 128, "hidden": 128}
#: architecture -> (model section, [(TF, negatives of the fine-tuning set, from-scratch recipe model)])
ARCHS = {
    "cnn": ({"name": "bindscape_cnn", "params": WIDTH},
            [("Reb1", "genomic", "cnn-genomic"), ("Abf1", "genomic", "cnn-genomic")]),
    "hybrid": ({"name": "bindscape_cnn", "params": WIDTH, "motifs": MOTIFS, "motif_score": "late"},
               [("Reb1", "genomic", "hybrid-genomic"), ("Reb1", "accessible", "hybrid-accessible"),
                ("Abf1", "genomic", "hybrid-genomic"), ("Abf1", "accessible", "hybrid-accessible")]),
}
TRAINER = {"max_epochs": 15, "patience": 3, "threads": 1, "progress": False, "seed": 0}


def _train(cfg: dict) -> dict:
    import bindscape.train

    run = bindscape.train.train(bindscape.train.validate_config(cfg), overwrite=True)
    return json.loads((run / "metrics.json").read_text())


def pretrain_and_finetune(runs: Path, out: Path, pre_strategy: str, *, archs: list[str], lr: float | None = None,
                          tag: str = "") -> dict[str, dict]:
    """Pool, pretrain each architecture once (a finished pretraining run is reused), fine-tune per TF (with a
    constant learning rate `lr` when given, else the recipe's schedule); returns run name -> metrics + what it is."""
    from bindscape.data.pooled import label_column, pool_tf_datasets

    pool = pool_tf_datasets({tf: runs / d / "datasets" / pre_strategy for tf, (d, _) in TFS.items()},
                            out / f"pool-{pre_strategy}")
    done: dict[str, dict] = {}
    for arch in archs:
        model, targets = ARCHS[arch]
        done_file = out / "models" / f"{arch}-pretrain" / "metrics.json"
        if done_file.exists() and json.loads(done_file.read_text()).get("finished"):
            pre = json.loads(done_file.read_text())
        else:
            pre = _train({"dataset": str(pool), "name": f"{arch}-pretrain", "out_dir": str(out / "models"),
                          "model": model, "trainer": TRAINER,
                          "data": {"label_columns": [label_column(tf) for tf in TFS]}})
        done[f"{arch}-pretrain"] = {"metrics": pre}
        for tf, strategy, scratch in targets:
            name = f"{arch}-{tf}-{strategy}-ft{tag}"
            optim = {"lr": lr, "schedule": "constant"} if lr else {}
            m = _train({"optim": optim, "dataset": str(runs / TFS[tf][0] / "datasets" / strategy), "name": name,
                        "out_dir": str(out / "models"), "trainer": TRAINER,
                        "finetune": {"checkpoint": pre["best_checkpoint"], "output": label_column(tf)}})
            done[name] = {"metrics": m, "tf": tf, "strategy": strategy, "scratch": scratch}
    return done


def evaluate_tf(tf: str, runs: Path, data: Path, out: Path, done: dict[str, dict], tag: str = "") -> pd.DataFrame:
    """The recipe's evaluate stage on this TF's fine-tuned models; rows beside the from-scratch references."""
    from bindscape.recipes.engine import load_recipe
    from bindscape.recipes.kinds.tfbs import ModelRun, evaluate_benchmark

    folder, recipe = TFS[tf]
    rec = load_recipe(recipe, {"data": str(data)})
    mine = {n: d for n, d in done.items() if d.get("tf") == tf}
    rec = rec.model_copy(update={"train": [ModelRun(name=n, strategy=d["strategy"]) for n, d in mine.items()]})
    info = json.loads((runs / folder / "stages" / "datasets.json").read_text())
    info = info.get("result", info)
    out = out / f"eval{tag}"
    evaluate_benchmark(rec, out / folder, info, {n: {"run": d["metrics"]["run"]} for n, d in mine.items()},
                       progress=False)
    rows = []
    for src, names in ((runs / folder, [d["scratch"] for d in mine.values()]), (out / folder, list(mine))):
        sel = pd.read_csv(src / "evaluation" / "hq_validation.csv")
        met = pd.read_csv(src / "evaluation" / "metrics.csv")
        for n in [*names, "PWM"] if src == out / folder else names:
            key = n if n != "PWM" else next(m for m in met["model"].unique() if m.startswith("PWM"))
            own = next(d["strategy"] for d in mine.values() if n in (d["scratch"],)) if src == runs / folder else (
                mine[n]["strategy"] if n in mine else "genomic")
            hqv = sel[(sel["model"] == key) & (sel["set"] == "HQ validation")]["auPRC"].iloc[0]
            r = {"model": n if src == out / folder else f"{n} (scratch)", "HQ-val auPRC": hqv}
            for label, tset in (("own test", f"{own} test"), ("HQ test", "HQ test")):
                x = met[(met["model"] == key) & (met["test_set"] == tset)].iloc[0]
                r[label] = f"{x['auPRC']:.3f} [{x['auPRC_lo']:.3f}, {x['auPRC_hi']:.3f}]"
                if label == "own test":
                    pwm = met[(met["model"].str.startswith("PWM")) & (met["test_set"] == tset)].iloc[0]
                    r["PWM own test"] = f"{pwm['auPRC']:.3f} [{pwm['auPRC_lo']:.3f}, {pwm['auPRC_hi']:.3f}]"
            r["HQ auROC"] = x["auROC"]
            m = done.get(n, {}).get("metrics")
            r["epochs (best)"] = f"{m['epochs_run']} ({m['best_epoch']})" if m else ""
            r["train CPU s"] = m["cpu_seconds"] if m else ""
            rows.append(r)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--runs`` (folder with the recipes' ``reb1``/``abf1`` runs), ``--data``, ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--pretrain-negatives", default="genomic")
    ap.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    ap.add_argument("--finetune-lr", type=float, default=None, help="constant fine-tuning LR (default: the recipe's)")
    ap.add_argument("--tag", default="", help="suffix of fine-tuned run names and of the evaluation folder")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    done = pretrain_and_finetune(a.runs, a.out, a.pretrain_negatives, archs=a.archs, lr=a.finetune_lr, tag=a.tag)
    (a.out / f"runs{a.tag}.json").write_text(json.dumps(done, indent=2) + "\n")
    for tf in TFS:
        table = evaluate_tf(tf, a.runs, a.data, a.out, done, a.tag)
        table.to_csv(a.out / f"{tf}{a.tag}.csv", index=False)
        print(f"\n## {tf}\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    cpu = sum(d["metrics"]["cpu_seconds"] for d in done.values())
    print(f"\ntraining CPU seconds (pretrain + fine-tune, all models): {cpu:.0f}")


if __name__ == "__main__":
    main()

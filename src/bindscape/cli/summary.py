"""The one-screen summary tables that commands print when they finish (rich tables).

Each function takes what its command computed (a regions table, a metrics dict, a summary dict) and prints
it; none computes anything itself. rich is imported inside, so `bindscape --help` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def _num(x) -> str:
    """A metric with 3 decimals, or ``-`` for None/NaN."""
    return "-" if x is None or x != x else f"{x:.3f}"


def _table(title: str, columns, *, left=(), no_wrap: bool = False, **kw):
    """A rich Table with `columns`, right-aligned except those in `left`."""
    from rich.table import Table

    t = Table(title=title, **kw)
    for c in columns:
        t.add_column(c, justify="left" if c in left else "right", no_wrap=no_wrap)
    return t


def _console(*, stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr)


def dataset_summary(regions, *, title: str) -> None:
    """Print examples per split x label with chromosomes per split, then counts per condition (if several).

    Parameters
    ----------
    regions : pandas.DataFrame
        A dataset's regions (``chrom`` and optional ``split``, ``label``, ``species``, ``tf``, ``cell``).
    title : str
        The table's title.
    """
    from rich.table import Table

    console = _console()
    t = Table(title=title)
    has_label = "label" in regions
    t.add_column("split")
    if has_label:
        t.add_column("positives", justify="right")
        t.add_column("negatives", justify="right")
    t.add_column("total", justify="right")
    t.add_column("chromosomes")
    splits = ["train", "val", "test"] if "split" in regions else [None]
    for s in splits:
        sub = regions if s is None else regions[regions["split"] == s]
        chroms = sorted(sub["chrom"].unique())
        ch = ", ".join(chroms[:8]) + (f" (+{len(chroms) - 8})" if len(chroms) > 8 else "")
        row = [s or "all"]
        if has_label:
            npos = int((sub["label"] == 1).sum())
            row += [f"{npos:,}", f"{len(sub) - npos:,}"]
        row += [f"{len(sub):,}", ch]
        t.add_row(*row)
    console.print(t)
    cond = [c for c in ("species", "tf", "cell") if c in regions]
    if cond and regions[cond].drop_duplicates().shape[0] > 1:
        ct = _table("per condition", [*cond, "positives", "total"], left=cond)
        for key, sub in regions.groupby(cond, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            ct.add_row(*[str(k) for k in key], f"{int((sub['label'] == 1).sum()):,}", f"{len(sub):,}")
        console.print(ct)


def tfbs_benchmark_summary(s: dict, *, tf: str, out: Path, seconds: float) -> None:
    """Print the TFBS-negatives benchmark: one row per negative strategy, the HQ test set, shortfall notes.

    Parameters
    ----------
    s : dict
        The summary `bindscape.data.tfbs_benchmark.build_tfbs_benchmark` returns.
    tf : str
        The TF's name.
    out : Path
        The benchmark folder.
    seconds : float
        Wall time of the build.
    """
    console = _console(stderr=True)
    t = _table(f"{tf} TFBS-negatives benchmark -> {out}  ({seconds:.1f} s)",
               ("strategy", "negatives", "GC KS", "repeat KS", "shortcut auROC", "notes"), left=("strategy", "notes"))
    for name, info in s["strategies"].items():
        t.add_row(name, f"{info['negatives']:,}", _num(info.get("gc_ks")), _num(info.get("repeat_ks")),
                  _num(info.get("shortcut_auc")), f"{len(info['notes'])} shortfall(s)" if info["notes"] else "")
    console.print(t)
    if "hq_test" in s:
        console.print(f"HQ test set: {s['hq_test']['positives']:,} positives, {s['hq_test']['negatives']:,} "
                      f"accessible-unbound negatives (chromosomes {', '.join(s['split_chroms']['test'])})")
    for info in s["strategies"].values():
        for note in info["notes"]:
            console.print(f"[dim]{note}[/dim]")


def qc_summary(df, *, title: str) -> None:
    """Print negative-set QC: per negative source, GC/repeat KS against the positives and the shortcut auROC.

    Parameters
    ----------
    df : pandas.DataFrame
        The table `bindscape.data.qc.dataset_qc` returns.
    title : str
        The table's title.
    """
    t = _table(title, ("source", "positives", "negatives", "GC pos/neg", "GC KS", "repeat KS", "shortcut auROC"),
               left=("source",))
    for r in df.itertuples(index=False):
        t.add_row(str(r.source), f"{r.n_pos:,}", f"{r.n_neg:,}", f"{r.gc_pos_mean:.3f}/{r.gc_neg_mean:.3f}",
                  _num(r.gc_ks), _num(r.repeat_ks), _num(getattr(r, "shortcut_auc", None)))
    _console().print(t)
    _console(stderr=True).print("[dim]shortcut auROC ~0.5: composition alone cannot separate the sets; "
                                "near 1: a model can score well without learning the motif[/dim]")


def _run_times(m: dict) -> str:
    return f"{m['cpu_seconds'] / 60:.2f} CPU-min, {m['wall_seconds'] / 60:.2f} min wall"


def train_summary(m: dict, *, title: str) -> None:
    """Print a single-task run's validation and test metrics, best epoch and time.

    Parameters
    ----------
    m : dict
        The run's ``metrics.json``.
    title : str
        The table's title.
    """
    t = _table(title, ("split", "auROC", "auPRC", "MCC", "n"), left=("split",))
    for split in ("val", "test"):
        if split in m:
            s = m[split]
            t.add_row(split, f"{s['auroc']:.4f}", f"{s['auprc']:.4f}", f"{s['mcc']:.4f}", f"{s['n']:,}")
    console = _console()
    console.print(t)
    console.print(f"best epoch {m.get('best_epoch')}, {_run_times(m)}"
                  + ("" if m.get("finished", True) else "  (stopped early; --resume continues)"))


def tune_summary(trials, *, title: str, monitor: str, best: int | None, cpu_seconds: float, stopped_by: str,
                 files=(), max_rows: int = 40) -> None:
    """Print `bindscape tune`'s trials: number, state, searched values, validation score, CPU seconds.

    Parameters
    ----------
    trials : pandas.DataFrame
        ``bindscape.train.tune.trials_table`` (``number, state, value, <dotted keys>, cpu_s, ...``).
    title : str
        The table's title.
    monitor : str
        The validation metric (column header of the score).
    best : int or None
        The best trial's number (marked with ``*``).
    cpu_seconds : float
        CPU time of the whole study.
    stopped_by : str
        Why the search stopped (``trials`` or ``budget``).
    files : sequence of Path
        Files to name under the table.
    max_rows : int
        With more trials, only the best `max_rows` complete ones are listed.
    """
    fixed = {"number", "state", "value", "cpu_s", "epochs_run", "best_epoch", "val_auroc", "val_auprc",
             "last_value", "run"}
    keys = [c for c in trials.columns if c not in fixed]
    rows = trials
    if len(rows) > max_rows:
        rows = rows[rows["state"] == "complete"].sort_values("value", ascending=monitor == "val_loss").head(max_rows)
    t = _table(title, ("trial", "state", "values", monitor, "CPU s"), left=("state", "values"))
    for d in rows.to_dict("records"):
        vals = " ".join(f"{k.split('.')[-1]}={d[k]:.3g}" if isinstance(d[k], float) else f"{k.split('.')[-1]}={d[k]}"
                        for k in keys if d.get(k) is not None and d[k] == d[k])
        score = d["value"] if d["state"] == "complete" else d.get("last_value")
        last = d["state"] != "complete" and score is not None and score == score
        cpu = d.get("cpu_s")
        t.add_row(f"{d['number']}{' *' if d['number'] == best else ''}", d["state"], vals,
                  _num(score) + (" (last)" if last else ""), "-" if cpu is None or cpu != cpu else f"{cpu:.1f}")
    console = _console()
    console.print(t)
    n_done = int(trials["state"].isin(["complete", "pruned"]).sum()) if len(trials) else 0
    console.print(f"{n_done} finished trials, {cpu_seconds / 60:.2f} CPU-min in all; stopped by "
                  f"{'the budget' if stopped_by == 'budget' else '--trials'}"
                  + ("" if best is not None else "; no trial completed, so no best.yaml"))
    for f in files:
        console.print(f"  {f}")


def cross_species_summary(m: dict, cfg, run: Path) -> None:
    """Print a cross-species run: per species its role, validation auPRC and test metrics; the chosen lambda.

    Parameters
    ----------
    m : dict
        The run's ``metrics.json``.
    cfg : CrossSpeciesConfig
        The run's config (mode, species, target, model).
    run : Path
        The run folder.
    """
    t = _table(f"{cfg.mode} (lambda {m.get('lam', cfg.lam):g}) {cfg.model.name} -> {run}",
               ("species", "role", "val auPRC", "test auROC", "test auPRC", "n test"), left=("species", "role"))
    for sp in cfg.domain_species:
        role = "target" if sp == cfg.target else ("source" if sp in cfg.source_species else "other")
        v, s = m["val"].get(sp, {}), m["test"].get(sp, {})
        t.add_row(sp, role, f"{v.get('auprc', float('nan')):.4f}", f"{s.get('auroc', float('nan')):.4f}",
                  f"{s.get('auprc', float('nan')):.4f}", f"{s.get('n', 0):,}")
    console = _console()
    console.print(t)
    if m.get("selection"):
        console.print(f"lambda chosen on validation auPRC of {', '.join(m['selection']['selection_species'])}: "
                      f"{m['selection']['selected_lam']:g}")
    console.print(_run_times(m))


EVALUATE_COLUMNS = ("model", "n", "positives", "auROC", "auPRC", "pAUROC_std", "F1", "MCC", "threshold_source")


def evaluate_summary(rows: list[dict], *, title: str) -> None:
    """Print `bindscape evaluate`'s metrics: one row per scored model (floats with 3 decimals).

    Parameters
    ----------
    rows : list of dict
        ``EvaluationResult.row(name)`` of each model.
    title : str
        The table's title.
    """
    from rich.table import Table

    t = Table(title=title)
    for c in EVALUATE_COLUMNS:
        t.add_column(c)
    for r in rows:
        t.add_row(*[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in EVALUATE_COLUMNS])
    _console().print(t)


def _recipe_metrics_table(m, title: str):
    """The recipe's test-metrics table (auPRC with its bootstrap interval when there is one)."""
    from rich import box

    t = _table(title, ("model", "test set", "n", "auROC", "auPRC", "MCC"), left=("model", "test set"),
               no_wrap=True, box=box.SIMPLE_HEAD, padding=(0, 1))
    for r in m.itertuples():
        lo, hi = getattr(r, "auPRC_lo", None), getattr(r, "auPRC_hi", None)
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo == lo and lo is not None else ""
        t.add_row(r.model, r.test_set, f"{r.n:,}", f"{r.auROC:.3f}", f"{r.auPRC:.3f}{ci}", f"{r.MCC:.3f}")
    return t


def recipe_summary(state, started: float) -> None:
    """Print what a recipe run did: test metrics, the HQ verdict, stages run and skipped, the report's path.

    Parameters
    ----------
    state : RunState
        The finished run (``run_dir``, ``ran``, ``skipped``).
    started : float
        ``time.perf_counter()`` when the command started.
    """
    import sys

    import pandas as pd
    from rich.console import Console

    # without a terminal rich assumes 80 columns and truncates numbers; logs can be wider
    console = Console() if sys.stdout.isatty() else Console(width=120)
    run_dir = Path(state.run_dir)
    metrics_path = run_dir / "evaluation" / "metrics.csv"
    if metrics_path.exists():
        console.print(_recipe_metrics_table(pd.read_csv(metrics_path),
                                            f"{run_dir.name}: test metrics (auPRC with 95% bootstrap interval)"))
    ev = run_dir / "evaluation" / "summary.json"
    if ev.exists():
        s = json.loads(ev.read_text())
        from rich.markup import escape

        from bindscape.report.tfbs import selection_text

        text = selection_text(s)
        if text:
            style = "green" if s.get("beats_pwm_on_hq", True) else "red"
            console.print(f"[{style}]{escape(text)}[/{style}]", highlight=False)
    console.print(f"stages run: {', '.join(state.ran) or 'none'}; skipped (done earlier): "
                  f"{', '.join(state.skipped) or 'none'}; {time.perf_counter() - started:.0f} s")
    report = run_dir / "report.html"
    if report.exists():
        console.print(f"[bold]report:[/bold] {report.resolve()}")


def simulate_summary(res, *, seed: int, out: Path) -> None:
    """Print a simulation: per species its size, GC, repeats, planted instances, bound sites and peaks.

    Parameters
    ----------
    res : SimulationResult
        What `bindscape.simulate.simulate` returns.
    seed : int
        The seed it ran with.
    out : Path
        The output folder.
    """
    from rich.table import Table

    table = Table(title=f"bindscape simulate: preset {res.config.name}, seed {seed} -> {out}")
    for col in ("species", "size (bp)", "GC", "repeats", "instances", "bound (all cells)", "peaks"):
        table.add_column(col)
    for sp, st in res.manifest["stats"].items():
        table.add_row(sp, f"{st['genome_size']:,}", f"{st['gc']:.3f}", f"{st['repeat_fraction']:.3f}",
                      str(sum(st["instances"].values())), str(sum(st["bound"].values())),
                      str(sum(st["peaks"].values())))
    console = _console()
    console.print(table)
    console.print(f"done in {res.timings['total']:.1f} s; manifest: {out / 'manifest.json'}")


def scan_summary(hits, motifs, *, title: str) -> None:
    """Print motif-scan hits per motif: count, per strand, best p-value (to stderr; hits go to stdout).

    Parameters
    ----------
    hits : pandas.DataFrame
        The hits table (``motif_id``, ``strand``, ``p``).
    motifs : list of Motif
        The motifs scanned, in the order to list them.
    title : str
        The table's title.
    """
    t = _table(title, ("motif", "hits", "+", "-", "best p"), left=("motif",))
    for m in motifs:
        sub = hits[hits["motif_id"].astype(str) == (m.id or m.name)]
        t.add_row(m.label, f"{len(sub):,}", f"{int((sub['strand'] == '+').sum()):,}",
                  f"{int((sub['strand'] == '-').sum()):,}", f"{sub['p'].min():.2g}" if len(sub) else "-")
    _console(stderr=True).print(t)


def variants_summary(table, *, title: str, seconds: float, top: int = 10) -> None:
    """Print VCF alleles by type x status, then the alleles with the largest effects.

    Parameters
    ----------
    table : pandas.DataFrame
        The `bindscape.explain.variants.score_variants` table.
    title : str
        The first table's title.
    seconds : float
        Wall time of the command.
    top : int
        Rows of the top-effects table.
    """
    from bindscape.explain.variants import summarise, top_variants

    ct = summarise(table)
    t = _table(f"{title}  ({seconds:.1f} s)", ["type", *ct.columns], left=("type",))
    for name, row in ct.iterrows():
        t.add_row(str(name), *[f"{int(v):,}" for v in row])
    console = _console()
    console.print(t)
    best = top_variants(table, top)
    if len(best):
        cols = [c for c in ("ref_prob", "alt_prob", "delta_prob") if c in best]
        tt = _table(f"top {len(best)} |effect| (effect = delta logit)", ["line", "variant", "type", *cols, "effect"],
                    left=("variant", "type"))
        for r in best.itertuples(index=False):
            tt.add_row(str(r.line), f"{r.chrom}:{r.pos} {r.ref[:10]}>{r.alt[:10]}", r.type,
                       *[f"{getattr(r, c):.3f}" for c in cols], f"{r.effect:+.3f}")
        console.print(tt)
    notes = table.loc[table["status"] != "ok", "note"].drop_duplicates().head(3)
    for n in notes:
        console.print(f"[dim]{n}[/dim]")

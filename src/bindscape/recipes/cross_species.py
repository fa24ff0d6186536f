"""The `cross-species` recipe kind: simulate (or plant into real genomes) -> per-species tiles datasets ->
lambda tuning -> every mode x seed -> species hold-outs -> analyses -> HTML report.

Resumable like `recipes/runner.py`: each stage writes ``stages/<stage>.json`` when done and is skipped on
the next run unless ``force``; an interrupted training run resumes from its ``last.ckpt``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bindscape.errors import ConfigError
from bindscape.recipes.config import find_recipe, substitute


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class CSSimulate(_Strict):
    preset: str = "multi-species"
    seed: int = 0
    set: dict[str, Any] = Field(default_factory=dict)
    real_backgrounds: dict[str, str] | None = None
    """species -> FASTA: plant the preset's binding into these real genomes instead of synthetic ones."""
    chroms: dict[str, list[str]] | None = None
    max_chrom_bp: int | None = None


class CSData(_Strict):
    tf: str
    cell: str
    length: int = Field(200, ge=20)
    stride: int = Field(200, ge=1)


class CrossSpeciesRecipe(_Strict):
    name: str
    kind: Literal["cross-species"] = "cross-species"
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    simulate: CSSimulate = Field(default_factory=CSSimulate)
    data: CSData
    target: str
    sources: list[str] | None = None
    modes: list[Literal["source", "target", "joint", "morale", "grl"]] = Field(
        default_factory=lambda: ["source", "target", "joint", "morale", "grl"])
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    lam: dict[str, float] = Field(default_factory=lambda: {"morale": 1.0, "grl": 1.0})
    lam_grid: dict[str, list[float]] = Field(default_factory=dict)
    """mode -> grid, tuned once on `tune_seed`; the chosen value is used for every seed."""
    tune_seed: int = 0
    select_on: Literal["auto", "source", "target"] = "auto"
    holdouts: bool = False
    holdout_modes: list[str] = Field(default_factory=lambda: ["source", "morale"])
    train: dict[str, Any] = Field(default_factory=dict)
    """Shared CrossSpeciesConfig fields: model, batch, optim, trainer, species_head."""
    source: str = ""


def load_cross_species_recipe(path_or_name, variables: dict | None = None) -> CrossSpeciesRecipe:
    path = find_recipe(path_or_name)
    raw = yaml.safe_load(path.read_text()) or {}
    values = {**(raw.get("vars") or {}), **(variables or {})}
    values["recipe_dir"] = str(path.resolve().parent)
    shared = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    values.setdefault("shared_data", str(shared))
    body = substitute({k: v for k, v in raw.items() if k != "vars"}, values)
    try:
        rec = CrossSpeciesRecipe(**body, vars=values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{path}: {loc}: {'unknown field' if err['type'] == 'extra_forbidden' else err['msg']}") from None
    rec.source = str(path)
    return rec


# ----------------------------------------------------------------------------------------------- stages
def _simulate(rec: CrossSpeciesRecipe, run_dir: Path) -> dict:
    sim_dir = run_dir / "sim"
    s = rec.simulate
    if s.real_backgrounds:
        from bindscape.simulate.real_background import simulate_real

        for sp, path in s.real_backgrounds.items():
            if not Path(path).exists():
                raise ConfigError(f"{rec.source}: simulate.real_backgrounds.{sp}: {path} does not exist",
                                  hint="point --var shared_data=DIR at the folder holding yeast/ and worm/")

        res = simulate_real(s.real_backgrounds, preset=s.preset, seed=s.seed, out=sim_dir,
                            overrides=s.set or None, chroms=s.chroms, max_chrom_bp=s.max_chrom_bp)
    else:
        from bindscape.simulate import simulate

        res = simulate(preset=s.preset, seed=s.seed, out=sim_dir, overrides=s.set or None)
    return {"sim": str(sim_dir.resolve()), "species": res.species, "stats": res.manifest.get("stats", {})}


def build_species_datasets(sim_dir, species: list[str], tf: str, cell: str, out, *, length: int = 200,
                           stride: int = 200, seed: int = 0) -> dict[str, str]:
    """One tiles dataset per species of a simulation folder (auto split; sex chromosomes excluded)."""
    from bindscape.data.build import build_dataset
    from bindscape.data.builders import Condition

    paths = {}
    for sp in species:
        peaks = Path(sim_dir) / sp / "peaks" / f"{tf}.{cell}.narrowPeak"
        _, _, o = build_dataset("tiles", genome=Path(sim_dir) / sp / "genome.fa.gz",
                                conditions=[Condition(tf, cell, sp, str(peaks))], out=Path(out) / sp,
                                length=length, stride=stride, split="auto", seed=seed, force=True)
        paths[sp] = str(Path(o).resolve())
    return paths


def _config(rec, datasets, run_dir, *, mode, seed, name, lam=None, lam_grid=None, sources=None) -> dict:
    from bindscape.train import validate_cross_species

    t = dict(rec.train)
    trainer = {"progress": False, **(t.pop("trainer", {}) or {}), "seed": int(seed)}
    cfg = {"species": datasets, "target": rec.target, "sources": sources or rec.sources, "mode": mode,
           # lambda means nothing without adaptation: record 0 there rather than the morale/grl default
           "lam": float(lam if lam is not None else rec.lam.get(mode, 1.0)) if mode in ("morale", "grl") else 0.0,
           "lam_grid": lam_grid,
           "select_on": rec.select_on, "name": name, "out_dir": str(run_dir / "models"), "trainer": trainer, **t}
    return validate_cross_species(cfg, source=f"{rec.source}: train").model_dump(mode="json")


def _train(cfg_dict: dict) -> dict:
    from bindscape.train import train_cross_species, validate_cross_species

    cfg = validate_cross_species(cfg_dict)
    last = cfg.run_dir / "checkpoints" / "last.ckpt"
    resume = last.exists() and not cfg.lam_grid and not (cfg.run_dir / "metrics.json").exists()
    run = train_cross_species(cfg, resume=resume, overwrite=not resume)
    m = json.loads((run / "metrics.json").read_text())
    return {"run": str(run.resolve()), "lam": m.get("lam"), "cpu_seconds": m.get("cpu_seconds"),
            "selection": m.get("selection"), "target_test": m["test"].get(cfg.target)}


def run_cross_species_recipe(path_or_name, out: str | Path | None = None, force: bool = False,
                             log: Callable[[str], None] = print, variables: dict | None = None):
    """Run the recipe into ``out`` (default ``runs/<name>``); returns the `RunState` (ran/skipped stages)."""
    from bindscape._util import atomic_write_text
    from bindscape.recipes.runner import RunState, _stage

    rec = path_or_name if isinstance(path_or_name, CrossSpeciesRecipe) else load_cross_species_recipe(path_or_name, variables)
    run_dir = Path(out or Path("runs") / rec.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState(rec, run_dir, force=force, log=log)
    atomic_write_text(run_dir / "recipe.json", rec.model_dump_json(indent=2) + "\n")
    sim = _stage(state, "simulate", lambda: _simulate(rec, run_dir))
    species = sim["species"]
    data = _stage(state, "datasets", lambda: {"datasets": build_species_datasets(
        sim["sim"], species, rec.data.tf, rec.data.cell, run_dir / "datasets", length=rec.data.length,
        stride=rec.data.stride, seed=rec.simulate.seed)})
    datasets = data["datasets"]
    lam = dict(rec.lam)
    for mode, grid in rec.lam_grid.items():
        if mode not in rec.modes:
            continue
        info = _stage(state, f"tune:{mode}", lambda mode=mode, grid=grid: _train(_config(
            rec, datasets, run_dir, mode=mode, seed=rec.tune_seed, name=f"tune-{mode}", lam_grid=grid)))
        lam[mode] = float(info["selection"]["selected_lam"])
    runs = []
    for seed in rec.seeds:  # seed-major: an interrupted run still has every mode for the first seeds
        for mode in rec.modes:
            info = _stage(state, f"train:{mode}:seed{seed}", lambda mode=mode, seed=seed: _train(_config(
                rec, datasets, run_dir, mode=mode, seed=seed, name=f"{mode}-seed{seed}", lam=lam.get(mode))))
            runs.append({"mode": mode, "seed": seed, "run": info["run"], "lam": info["lam"]})
    holdouts = []
    if rec.holdouts:
        from bindscape.evaluate.cross_species import holdout_configs
        from bindscape.train import validate_cross_species

        base = validate_cross_species(_config(rec, datasets, run_dir, mode="source", seed=0, name="x"))
        for hi, (label, srcs) in enumerate(holdout_configs(base)):
            for mode in rec.holdout_modes:
                seed = rec.seeds[0]
                info = _stage(state, f"holdout{hi}:{mode}", lambda mode=mode, srcs=srcs, hi=hi, seed=seed: _train(
                    _config(rec, datasets, run_dir, mode=mode, seed=seed, name=f"holdout{hi}-{mode}",
                            lam=lam.get(mode), sources=srcs)))
                holdouts.append({"mode": mode, "seed": seed, "run": info["run"], "group": label,
                                 "sources": "+".join(srcs)})
    _stage(state, "analyse", lambda: analyse(rec, run_dir, runs, holdouts, datasets, lam))
    _stage(state, "report", lambda: {"report": str(write_report(rec, run_dir).resolve())})
    return state


def analyse(rec, run_dir: Path, runs: list[dict], holdouts: list[dict], datasets: dict, lam: dict) -> dict:
    import pandas as pd

    from bindscape._util import atomic_write_text
    from bindscape.data.dataset import load_dataset
    from bindscape.evaluate import cross_species as cs
    from bindscape.train import validate_cross_species

    out = run_dir / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    table = cs.species_table(runs)
    summ = cs.summarize(table)
    genome = load_dataset(datasets[rec.target]).open_genome()
    conf = cs.confusion_over_seeds(runs, rec.target)
    res = {"per_run": table, "summary": summ, "confusion": conf}
    if "target" in {r["mode"] for r in runs}:
        diff, _ = cs.differential_errors(runs, rec.target, reference="target", genome=genome)
        res["differential"] = diff
    ann_path = run_dir / "sim" / rec.target / "repeats.bed"  # the simulator's family-named repeat copies
    ann = None
    if ann_path.exists():
        ann = pd.read_csv(ann_path, sep="\t", header=None, names=["chrom", "start", "end", "name"],
                          dtype={"chrom": str, "name": str})
    res["repeats"] = cs.repeat_stratified(runs, rec.target, genome, annotation=ann)
    if holdouts:
        ht = cs.species_table(holdouts)
        res["holdouts"] = cs.summarize(ht[ht["species"] == rec.target], by=("group", "sources", "mode"))
    probe = _config(rec, datasets, run_dir, mode="source", seed=0, name="x")
    sel_species = validate_cross_species(probe).selection_species
    tuning = []  # every lambda tried, with its validation score (MORALE: source with 2 species, target with more)
    for mode in rec.lam_grid:
        p = run_dir / "models" / f"tune-{mode}" / "selection.json"
        if p.exists():
            sel = json.loads(p.read_text())
            tuning += [{"mode": mode, "lam": float(k), "val_auprc": v, "chosen": float(k) == sel["selected_lam"]}
                       for k, v in sel["scores"].items()]
    if tuning:
        res["tuning"] = pd.DataFrame(tuning)
    for k, df in res.items():
        atomic_write_text(out / f"{k}.tsv", df.to_csv(sep="\t", index=False))
    cpu = sum(json.loads((Path(r["run"]) / "metrics.json").read_text()).get("cpu_seconds", 0) for r in runs)
    info = {"lam": lam, "target": rec.target, "selection_species": sel_species,
            "cpu_seconds_training": round(cpu, 1),
            "tables": {k: str((out / f"{k}.tsv").resolve()) for k in res}}
    atomic_write_text(out / "summary.json", json.dumps(info, indent=2) + "\n")
    return info


def write_report(rec, run_dir: Path) -> Path:
    import pandas as pd

    from bindscape.report import Report, figures

    a = run_dir / "analysis"
    info = json.loads((a / "summary.json").read_text())
    tgt = rec.target
    r = Report(title=f"bindscape cross-species: {rec.name}", subtitle=rec.description,
               command=f"bindscape run {rec.name}")
    summ = pd.read_csv(a / "summary.tsv", sep="\t")
    s = r.section("Per-species test performance",
                  f"Mean and sd over {len(rec.seeds)} seeds. Target species: **{tgt}**. Lambda: "
                  + ", ".join(f"{k} = {v:g}" for k, v in info["lam"].items() if k in rec.modes)
                  + f" (chosen on the mean validation auPRC of {', '.join(info.get('selection_species', []))}; "
                  f"select_on: {rec.select_on}). Training CPU time {info['cpu_seconds_training'] / 60:.1f} min.")
    s.table(summ, caption="test auPRC / auROC per mode x species")
    if (a / "tuning.tsv").exists():
        s.table(pd.read_csv(a / "tuning.tsv", sep="\t"), caption=f"lambda tuning on seed {rec.tune_seed}: "
                "validation auPRC of the selection species for every value tried", float_format="{:.4g}")
    t = summ[summ["species"] == tgt]
    s.figure(figures.bar_with_intervals(pd.DataFrame({
        "name": t["mode"], "value": t["auprc_mean"], "lo": t["auprc_mean"] - t["auprc_sd"].fillna(0),
        "hi": t["auprc_mean"] + t["auprc_sd"].fillna(0)}), title=f"{tgt} test auPRC", ylabel="auPRC"),
        caption="mean ± sd over seeds")
    s = r.section("Confusion at 0.5", f"TP/FP/TN/FN on {tgt}'s test windows, averaged over seeds.")
    s.table(pd.read_csv(a / "confusion.tsv", sep="\t"), float_format="{:.1f}")
    if (a / "differential.tsv").exists():
        s = r.section("Differential false positives / negatives",
                      "Versus the target-trained model, outputs averaged over seeds; a window counts when the "
                      "difference exceeds 0.5 (MORALE section 2.5). repeat_share_*: share of windows "
                      "overlapping soft-masked repeats.")
        s.table(pd.read_csv(a / "differential.tsv", sep="\t"))
    s = r.section("Repeat-stratified auPRC", "auPRC on target test windows overlapping soft-masked repeats "
                                             "(any base) vs. the rest; family:<name> rows use the simulator's "
                                             "repeats.bed (the family covering most of each window).")
    s.table(pd.read_csv(a / "repeats.tsv", sep="\t"))
    if (a / "holdouts.tsv").exists():
        s = r.section("Species hold-outs", "Leave one source species out; successive source groups.")
        s.table(pd.read_csv(a / "holdouts.tsv", sep="\t"))
    return r.write(run_dir / "report.html")


__all__ = ["CrossSpeciesRecipe", "load_cross_species_recipe", "run_cross_species_recipe",
           "build_species_datasets", "analyse", "write_report"]

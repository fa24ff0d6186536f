"""The ``cross-species`` recipe kind: simulate (or plant into real genomes) -> per-species tiles datasets ->
lambda tuning -> every mode x seed -> species hold-outs -> analyses -> HTML report (`bindscape.report.cross_species`).

Real genomes are named through variables only (``--var shared_data=DIR`` for the shipped
``cross-species-yeast-worm``); an interrupted training run resumes from its ``last.ckpt`` by the engine's
one resume rule.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from bindscape._util import atomic_write_text
from bindscape.errors import ConfigError
from bindscape.recipes.engine import RecipeBase, RunState, resume_training, stage
from bindscape.schema import StrictModel

LATE_VARS: tuple[str, ...] = ()


class CSSimulate(StrictModel):
    """The simulate stage: a multi-species preset, optionally planted into real genomes."""

    preset: str = "multi-species"
    seed: int = 0
    set: dict[str, Any] = Field(default_factory=dict)
    real_backgrounds: dict[str, str] | None = None
    """species -> FASTA: plant the preset's binding into these real genomes instead of synthetic ones."""
    chroms: dict[str, list[str]] | None = None
    max_chrom_bp: int | None = None
    real_repeats: dict[str, dict[str, Any]] | None = None
    """species -> `bindscape.simulate.config.RealRepeatConfig` (real backgrounds only): detect the genome's
    repeats (``repeats.bed``) and, with ``decoy_tf``, plant silenced decoys into them."""


class CSData(StrictModel):
    """The TF x cell condition and the tiles of each species' dataset."""

    tf: str
    cell: str
    length: int = Field(200, ge=20)
    stride: int = Field(200, ge=1)


class CSAttribution(StrictModel):
    """The importance-score stage (MORALE's Figure 3, `bindscape.explain.cross_species_attr`): every mode's and
    the target model's attributions on the source-only model's differential FP/FN windows, correlated per
    window. Cost: about (2 x max_windows) x n_baselines forward/backward passes per training run."""

    enabled: bool = True
    method: str = "deeplift_shap"
    """Any `bindscape.explain` attribution method; ``grad_x_input`` is about 10x cheaper."""
    max_windows: int = Field(200, ge=1, le=100000)
    """Cap per kind (dFP, dFN); a seeded random subset beyond it."""
    n_baselines: int = Field(5, ge=1, le=1000)
    """Dinucleotide-shuffled references per window (DeepLIFT-SHAP)."""
    correlation: Literal["pearson", "spearman"] = "pearson"
    seed: int = 0

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str) -> str:
        from bindscape.explain.attributions import METHODS

        if v not in METHODS:
            raise ValueError(f"unknown method {v!r}; choose one of {', '.join(METHODS)}")
        return v


class CrossSpeciesRecipe(RecipeBase):
    """A ``cross-species`` recipe."""

    kind: Literal["cross-species"] = "cross-species"
    simulate: CSSimulate = Field(default_factory=CSSimulate)
    data: CSData
    target: str
    sources: list[str] | None = None
    modes: list[Literal["source", "target", "joint", "morale", "joint_morale", "grl"]] = Field(
        default_factory=lambda: ["source", "target", "joint", "morale", "grl"])
    """``joint_morale`` is opt-in (not a default): its lambda is ``lam.joint_morale`` (or its tuned grid)
    when given, else morale's (see `mode_lam`)."""
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    lam: dict[str, float] = Field(default_factory=lambda: {"morale": 1.0, "grl": 1.0})
    lam_grid: dict[str, list[float]] = Field(default_factory=dict)
    """mode -> grid, tuned once on `tune_seed`; the chosen value is used for every seed."""
    tune_seed: int = 0
    select_on: Literal["auto", "source", "target", "label-free"] = "auto"
    holdouts: bool = False
    holdout_modes: list[str] = Field(default_factory=lambda: ["source", "morale"])
    train: dict[str, Any] = Field(default_factory=dict)
    """Shared CrossSpeciesConfig fields: model, batch, optim, trainer, species_head."""
    attribution: CSAttribution = Field(default_factory=CSAttribution)


SCHEMA = CrossSpeciesRecipe


def check(rec: CrossSpeciesRecipe) -> None:
    """``simulate.real_repeats`` names real backgrounds and valid settings (the training config is
    validated when each run starts).

    Parameters
    ----------
    rec
        The validated recipe.
    """
    s = rec.simulate
    if s.real_repeats:
        from bindscape.simulate import resolve_config
        from bindscape.simulate.real_background import real_repeat_configs

        if not s.real_backgrounds:
            raise ConfigError(f"{rec.source}: simulate.real_repeats needs simulate.real_backgrounds")
        try:
            real_repeat_configs(s.real_repeats, s.real_backgrounds, resolve_config(s.preset, s.set or None))
        except ConfigError as exc:
            raise ConfigError(f"{rec.source}: simulate.{exc.message}", hint=exc.hint) from None


def run(state: RunState, *, progress: bool = True) -> None:
    """Every stage of a ``cross-species`` recipe (training runs quietly: `progress` is not used).

    Parameters
    ----------
    state
        The run's state.
    progress
        Accepted for the engine's common signature.
    """
    rec, run_dir = state.recipe, state.run_dir
    sim = stage(state, "simulate", lambda: _simulate(rec, run_dir))
    data = stage(state, "datasets", lambda: {"datasets": build_species_datasets(
        sim["sim"], sim["species"], rec.data.tf, rec.data.cell, run_dir / "datasets", length=rec.data.length,
        stride=rec.data.stride, seed=rec.simulate.seed)})
    datasets = data["datasets"]

    def train(stage_name, mode, seed, name, **kw):
        return stage(state, stage_name, lambda: _train(
            _config(rec, datasets, run_dir, mode=mode, seed=seed, name=name, **kw)))

    lam = dict(rec.lam)
    for mode, grid in rec.lam_grid.items():
        if mode in rec.modes:
            info = train(f"tune:{mode}", mode, rec.tune_seed, f"tune-{mode}", lam_grid=grid)
            lam[mode] = float(info["selection"]["selected_lam"])
    runs = []
    for seed in rec.seeds:  # seed-major: an interrupted run still has every mode for the first seeds
        for mode in rec.modes:
            info = train(f"train:{mode}:seed{seed}", mode, seed, f"{mode}-seed{seed}", lam=mode_lam(lam, mode))
            runs.append({"mode": mode, "seed": seed, "run": info["run"], "lam": info["lam"]})
    holdouts = []
    if rec.holdouts:
        from bindscape.evaluate.cross_species import holdout_configs
        from bindscape.train import validate_cross_species

        base = validate_cross_species(_config(rec, datasets, run_dir, mode="source", seed=0, name="x"))
        for hi, (label, srcs) in enumerate(holdout_configs(base)):
            for mode in rec.holdout_modes:
                seed = rec.seeds[0]
                info = train(f"holdout{hi}:{mode}", mode, seed, f"holdout{hi}-{mode}", lam=mode_lam(lam, mode),
                             sources=srcs)
                holdouts.append({"mode": mode, "seed": seed, "run": info["run"], "group": label,
                                 "sources": "+".join(srcs)})
    stage(state, "analyse", lambda: analyse(rec, run_dir, runs, holdouts, datasets, lam))
    if rec.attribution.enabled and {"source", "target"} <= set(rec.modes):
        stage(state, "attribution", lambda: attribution_stage(rec, run_dir, runs, datasets))
    stage(state, "report", lambda: _report(rec, run_dir))


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
                            overrides=s.set or None, chroms=s.chroms, max_chrom_bp=s.max_chrom_bp,
                            real_repeats=s.real_repeats)
    else:
        from bindscape.simulate import simulate

        res = simulate(preset=s.preset, seed=s.seed, out=sim_dir, overrides=s.set or None)
    return {"sim": str(sim_dir.resolve()), "species": res.species, "stats": res.manifest.get("stats", {})}


def build_species_datasets(sim_dir, species: list[str], tf: str, cell: str, out, *, length: int = 200,
                           stride: int = 200, seed: int = 0) -> dict[str, str]:
    """One tiles dataset per species of a simulation folder (auto split; sex chromosomes excluded).

    Parameters
    ----------
    sim_dir
        The simulation folder (``<species>/genome.fa.gz``, ``<species>/peaks/<tf>.<cell>.narrowPeak``).
    species
        The species to build.
    tf, cell
        The condition whose peaks label the tiles.
    out
        The parent folder; one dataset per species below it.
    length, stride
        Tile length and step (bp).
    seed
        The builder's seed.

    Returns
    -------
    Species -> dataset folder (absolute).
    """
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


def mode_lam(lam: dict, mode: str, default: float | None = None) -> float | None:
    """The lambda of `mode`: ``lam[mode]``, else (``joint_morale`` only) morale's, else `default`.

    Parameters
    ----------
    lam
        Mode -> lambda (the recipe's ``lam``, or after tuning the chosen values).
    mode
        A training mode.
    default
        Returned when neither is given.

    Returns
    -------
    float or None
    """
    if mode in lam:
        return float(lam[mode])
    if mode == "joint_morale" and "morale" in lam:
        return float(lam["morale"])
    return default


def _config(rec, datasets, run_dir, *, mode, seed, name, lam=None, lam_grid=None, sources=None) -> dict:
    from bindscape.train import ADAPT_MODES, validate_cross_species

    t = dict(rec.train)
    trainer = {"progress": False, **(t.pop("trainer", {}) or {}), "seed": int(seed)}
    if rec.sources is not None:  # species neither target nor source are not used (a two-species form)
        datasets = {sp: p for sp, p in datasets.items() if sp == rec.target or sp in rec.sources}
    cfg = {"species": datasets, "target": rec.target, "sources": sources or rec.sources, "mode": mode,
           # lambda means nothing without adaptation: record 0 there rather than the morale/grl default
           "lam": float(lam if lam is not None else mode_lam(rec.lam, mode, 1.0)) if mode in ADAPT_MODES else 0.0,
           "lam_grid": lam_grid,
           "select_on": rec.select_on, "name": name, "out_dir": str(run_dir / "models"), "trainer": trainer, **t}
    return validate_cross_species(cfg, source=f"{rec.source}: train").model_dump(mode="json")


def _train(cfg_dict: dict) -> dict:
    import bindscape.train

    cfg = bindscape.train.validate_cross_species(cfg_dict)
    resume = resume_training(cfg.run_dir)
    run = bindscape.train.train_cross_species(cfg, resume=resume, overwrite=not resume)
    m = json.loads((run / "metrics.json").read_text())
    return {"run": str(run.resolve()), "lam": m.get("lam"), "cpu_seconds": m.get("cpu_seconds"),
            "selection": m.get("selection"), "target_test": m["test"].get(cfg.target)}


def _report(rec: CrossSpeciesRecipe, run_dir: Path) -> dict:
    from bindscape.report.cross_species import write_report

    return {"report": str(write_report(rec, run_dir).resolve())}


def analyse(rec, run_dir: Path, runs: list[dict], holdouts: list[dict], datasets: dict, lam: dict) -> dict:
    """The analyse stage: per-species tables over seeds, confusion, differential errors, repeats, hold-outs.

    Parameters
    ----------
    rec
        The recipe.
    run_dir
        The run folder; tables go to ``analysis/<name>.tsv`` and ``analysis/summary.json``.
    runs, holdouts
        One record per training run (``mode``, ``seed``, ``run``; hold-outs add ``group``, ``sources``).
    datasets
        Species -> dataset folder.
    lam
        Mode -> the lambda used (after tuning).

    Returns
    -------
    The summary: lambdas, target, selection species, training CPU seconds and the tables written.
    """
    import pandas as pd

    from bindscape.data.dataset import load_dataset
    from bindscape.evaluate import cross_species as cs
    from bindscape.train import validate_cross_species

    out = run_dir / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    table = cs.species_table(runs)
    genome = load_dataset(datasets[rec.target]).open_genome()
    res = {"per_run": table, "summary": cs.summarize(table), "confusion": cs.confusion_over_seeds(runs, rec.target)}
    if "source" in {r["mode"] for r in runs}:
        res["gaps"] = cs.paired_differences(table, rec.target, reference="source")
    if "target" in {r["mode"] for r in runs}:
        diff, _ = cs.differential_errors(runs, rec.target, reference="target", genome=genome)
        res["differential"] = diff
    ann_path = run_dir / "sim" / rec.target / "repeats.bed"  # the simulator's family-named repeat copies
    ann = None
    if ann_path.exists():
        ann = pd.read_csv(ann_path, sep="\t", header=None, names=["chrom", "start", "end", "name"],
                          dtype={"chrom": str, "name": str})
    res["repeats"] = cs.repeat_stratified(runs, rec.target, genome, annotation=ann)
    truth_path = run_dir / "sim" / rec.target / "truth.tsv"
    if truth_path.exists():  # species shifts: FP rates on decoy windows vs other negatives
        truth = pd.read_csv(truth_path, sep="\t", dtype={"chrom": str})
        if "repeat_decoy" in truth:
            res["decoys"] = cs.decoy_fp_rates(runs, rec.target, truth, tf=rec.data.tf)
    if holdouts:
        ht = cs.species_table(holdouts)
        res["holdouts"] = cs.summarize(ht[ht["species"] == rec.target], by=("group", "sources", "mode"))
    probe = _config(rec, datasets, run_dir, mode="source", seed=0, name="x")
    sel_species = validate_cross_species(probe).selection_species
    tuning = _tuning_table(rec, run_dir)
    if tuning is not None:
        res["tuning"] = tuning
        res["lambda_choice"] = _choice_table(rec, run_dir)
    for k, df in res.items():
        atomic_write_text(out / f"{k}.tsv", df.to_csv(sep="\t", index=False))
    cpu = sum(json.loads((Path(r["run"]) / "metrics.json").read_text()).get("cpu_seconds", 0) for r in runs)
    crit = sorted({json.loads(q.read_text())["criterion"] for q in (run_dir / "models").glob("tune-*/selection.json")})
    info = {"lam": lam, "target": rec.target, "selection_species": sel_species, "lambda_criterion": crit,
            "cpu_seconds_training": round(cpu, 1),
            "tables": {k: str((out / f"{k}.tsv").resolve()) for k in res}}
    atomic_write_text(out / "summary.json", json.dumps(info, indent=2) + "\n")
    return info


def attribution_stage(rec, run_dir: Path, runs: list[dict], datasets: dict) -> dict:
    """The attribution stage (MORALE Figure 3): per source-only differential window, each mode's attribution
    correlated with the target model's; tables ``analysis/attribution_{windows,corr}.tsv``.

    Parameters
    ----------
    rec
        The recipe (its ``attribution`` section).
    run_dir
        The run folder.
    runs
        One record per training run (``mode``, ``seed``, ``run``).
    datasets
        Species -> dataset folder.

    Returns
    -------
    What was computed: windows per kind, method, additivity warnings, CPU seconds and the tables.
    """
    import time

    from bindscape.data.dataset import load_dataset
    from bindscape.explain import cross_species_attr as csa

    a, cpu0 = rec.attribution, time.process_time()
    genome = load_dataset(datasets[rec.target]).open_genome()
    per, info = csa.attribution_correlations(runs, rec.target, genome, max_windows=a.max_windows, method=a.method,
                                             n_baselines=a.n_baselines, correlation=a.correlation, seed=a.seed)
    tables = csa.write_tables(per, csa.summarize_correlations(per, seed=a.seed), run_dir / "analysis")
    return {**info, "n_baselines": a.n_baselines, "max_windows": a.max_windows,
            "cpu_seconds": round(time.process_time() - cpu0, 1),
            "tables": tables}


def _tuning_table(rec, run_dir: Path):
    """Every lambda tried, with its validation score (MORALE: source with 2 species, target with more)."""
    import pandas as pd

    tuning = []
    for mode in rec.lam_grid:
        p = run_dir / "models" / f"tune-{mode}" / "selection.json"
        if p.exists():
            sel = json.loads(p.read_text())
            per = sel.get("per_lam", {})
            tuning += [{"mode": mode, "lam": float(k), "val_auprc": v, "chosen": float(k) == sel["selected_lam"],
                        **{c: per.get(k, {}).get(c) for c in ("source_val_auprc", "target_val_auprc",
                                                               "domain_accuracy", "moment_distance")}}
                       for k, v in sel["scores"].items()]
    return pd.DataFrame(tuning) if tuning else None


def _choice_table(rec, run_dir: Path):
    """Per adapted mode and lambda criterion (source validation, target validation, label-free): the lambda
    it picks on the tuning seed and that run's target test auPRC; ``used`` marks the recipe's criterion."""
    import pandas as pd

    rows = []
    for mode in rec.lam_grid:
        p = run_dir / "models" / f"tune-{mode}" / "selection.json"
        if not p.exists():
            continue
        sel = json.loads(p.read_text())
        for crit, lam in (sel.get("choices") or {}).items():
            ev = sel.get("per_lam", {}).get(f"{lam:g}", {}) if lam is not None else {}
            rows.append({"mode": mode, "criterion": crit, "lam": lam,
                         "target_test_auprc": ev.get("target_test_auprc"),
                         "domain_accuracy": ev.get("domain_accuracy"),
                         "used": lam is not None and float(lam) == float(sel["selected_lam"])
                         and crit == _criterion_name(rec, sel)})
    return pd.DataFrame(rows)


def _criterion_name(rec, sel: dict) -> str:
    """Which of the three criteria the recipe's ``select_on`` is (auto: by the selection species)."""
    if rec.select_on != "auto":
        return rec.select_on
    return "target" if sel.get("selection_species") == [rec.target] else "source"


__all__ = ["CSAttribution", "CrossSpeciesRecipe", "LATE_VARS", "SCHEMA", "analyse", "attribution_stage",
           "build_species_datasets", "check", "run"]

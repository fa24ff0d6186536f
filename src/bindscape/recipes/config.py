"""Recipe files: YAML that describes a whole experiment (data -> datasets -> training -> evaluation -> report).

A recipe names its inputs once (a simulation preset or real files), the TF and its motif, which negative
strategies to build training sets with, the models to train and the evaluation to run. ``${name}``
placeholders are filled from ``vars`` (overridable with ``--var name=value``) and, after the simulate
stage, from ``${sim}`` (the simulation folder). Validation happens before any work and names the field and
the allowed values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bindscape.errors import ConfigError

PACKAGE_RECIPES = Path(__file__).resolve().parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimulateStage(_Strict):
    preset: str = "demo"
    seed: int = 0
    set: dict[str, Any] = Field(default_factory=dict)


class DataStage(_Strict):
    genome: str
    tf: str
    peaks: str
    accessible: str | None = None
    others: dict[str, str] = Field(default_factory=dict)
    blacklist: str | None = None
    strategies: list[str] = Field(default_factory=lambda: ["genomic", "dinucleotide"])
    length: int = Field(200, ge=20)
    ratio: float = Field(1.0, gt=0)
    fold: int = Field(0, ge=0)
    groups: int = Field(3, ge=2)


class ModelRun(_Strict):
    name: str
    strategy: str
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "bindscape_cnn"})
    data: dict[str, Any] = Field(default_factory=dict)
    optim: dict[str, Any] = Field(default_factory=dict)
    trainer: dict[str, Any] = Field(default_factory=dict)


class EvaluateStage(_Strict):
    motif: str | None = None
    motif_species: str | None = None
    bootstrap: int = Field(200, ge=0)
    criterion: Literal["F1", "MCC"] = "F1"


class ExplainStage(_Strict):
    enabled: bool = True
    model: str | None = None  # a train run name; default the first
    method: str = "deeplift_shap"
    n: int = Field(300, ge=10)
    modisco: bool = True
    tomtom: bool = True  # name MoDISco patterns by their best JASPAR match
    kmers: bool = True


class Recipe(_Strict):
    name: str
    kind: Literal["tfbs"] = "tfbs"
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    simulate: SimulateStage | None = None
    data: DataStage
    train: list[ModelRun] = Field(default_factory=list)
    evaluate: EvaluateStage = Field(default_factory=EvaluateStage)
    explain: ExplainStage = Field(default_factory=ExplainStage)
    source: str = ""


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(obj, values: dict[str, Any], *, where: str = "recipe"):
    """Fill ``${name}`` placeholders recursively; unknown names are an error naming them."""
    if isinstance(obj, dict):
        return {k: substitute(v, values, where=f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, values, where=f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, str):
        full = _PLACEHOLDER.fullmatch(obj)
        if full and full.group(1) in values:
            return values[full.group(1)]  # keep the value's type (e.g. an int seed)

        def repl(m):
            if m.group(1) not in values:
                raise ConfigError(
                    f"{where}: unknown variable ${{{m.group(1)}}}",
                    hint=f"define it under vars: or pass --var {m.group(1)}=VALUE; known: {', '.join(sorted(values))}",
                )
            return str(values[m.group(1)])

        return _PLACEHOLDER.sub(repl, obj)
    return obj


def available_recipes() -> list[str]:
    return sorted(p.stem for p in PACKAGE_RECIPES.glob("*.yaml"))


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe file path, or the name of one shipped with bindscape (``demo``, ``yeast-reb1``)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    shipped = PACKAGE_RECIPES / f"{p.name.removesuffix('.yaml')}.yaml"
    if shipped.exists():
        return shipped
    raise ConfigError(f"recipe {str(name_or_path)!r} not found", hint=f"shipped recipes: {', '.join(available_recipes())}")


def load_recipe(name_or_path: str | Path, variables: dict[str, Any] | None = None) -> Recipe:
    """Load and validate a recipe; ``${var}`` placeholders are filled except ``${sim}`` (known after simulating)."""
    path = find_recipe(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ConfigError(f"{path}{f':{line + 1}' if line is not None else ''}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a YAML mapping with name, data, train, evaluate")
    values = {**(raw.get("vars") or {}), **(variables or {})}
    values.setdefault("sim", "${sim}")
    values["recipe_dir"] = str(path.resolve().parent)
    raw = {**raw, "vars": values}
    body = substitute({k: v for k, v in raw.items() if k != "vars"}, values)
    try:
        recipe = Recipe(**body, vars=values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        raise ConfigError(f"{path}: {loc}: {msg}") from None
    recipe.source = str(path)
    names = [r.name for r in recipe.train]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: train: model run names must be unique, got {names}")
    for r in recipe.train:
        if r.strategy not in recipe.data.strategies:
            raise ConfigError(
                f"{path}: train.{r.name}.strategy: {r.strategy!r} is not among data.strategies",
                hint=f"use one of: {', '.join(recipe.data.strategies)}",
            )
    if recipe.explain.model and recipe.explain.model not in names:
        raise ConfigError(f"{path}: explain.model: {recipe.explain.model!r} is not a train run",
                          hint=f"use one of: {', '.join(names)}")
    return recipe


def resolve_sim(recipe: Recipe, sim_dir: str | Path) -> Recipe:
    """Fill ``${sim}`` placeholders once the simulation folder is known."""
    body = recipe.model_dump()
    values = {"sim": str(sim_dir)}
    for key in ("data", "evaluate", "train", "explain"):
        body[key] = _fill_sim(body[key], values)
    return Recipe(**body)


def _fill_sim(obj, values):
    if isinstance(obj, dict):
        return {k: _fill_sim(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill_sim(v, values) for v in obj]
    if isinstance(obj, str):
        return obj.replace("${sim}", values["sim"])
    return obj

"""The recipe engine: one loader, one run-folder setup, one stage runner and one resume rule for every kind.

A recipe is a YAML mapping whose ``kind:`` (``tfbs`` when absent) names a kind module in `KINDS`. A kind
module (see ``bindscape.recipes.kinds``) defines

- ``SCHEMA``: its pydantic model, built on `RecipeBase` (name, kind, description, vars, source);
- ``LATE_VARS``: placeholders filled only while running (e.g. ``sim``, the simulation folder), kept as written
  by the loader;
- ``check(recipe)``: cross-field checks the schema cannot express (raise `ConfigError`);
- ``run(state, progress=...)``: its stages, each through `stage`.

``${name}`` placeholders are filled from the recipe's ``vars:`` and ``--var name=value`` (which wins), plus
``recipe_dir`` (the folder holding the recipe file). Data paths come from variables only: a missing one is
one `ConfigError` naming it and the ``--var`` flag to pass.

Each stage ends by writing ``stages/<stage>.json`` (atomically) with what it produced and the recipe's key
(`recipe_key`: a hash of the resolved recipe minus cosmetic fields, plus a hash per section and the content
sha256 of every input file the recipe names, so a peaks file edited in place counts as a change). Running the
recipe again skips stages whose marker exists with the same key, unless ``force``; a marker with another key
is stale (the recipe changed) and the log names the changed sections. Once a stage runs, every later stage
runs again so nothing downstream is stale. A training stage that was interrupted has no marker but has an unfinished
``checkpoints/last.ckpt``: `resume_training` says to resume it from there instead of starting over.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import Field, ValidationError

from bindscape._util import atomic_write_text
from bindscape.errors import ConfigError
from bindscape.schema import StrictModel, format_validation_error

PACKAGE_RECIPES = Path(__file__).resolve().parent
STAGES_DIR = "stages"
DEFAULT_KIND = "tfbs"

KINDS: dict[str, str] = {"tfbs": "bindscape.recipes.kinds.tfbs",
                         "cross-species": "bindscape.recipes.kinds.cross_species",
                         "multitask-bp": "bindscape.recipes.kinds.multitask_bp",
                         "multitask": "bindscape.recipes.kinds.multitask_bp",
                         "agentbind": "bindscape.recipes.kinds.agentbind"}
"""Recipe kind (the ``kind:`` of a recipe) -> the module that runs it."""


class RecipeBase(StrictModel):
    """Fields every recipe kind has; a kind's schema adds its own (and narrows ``kind``)."""

    name: str
    kind: str = DEFAULT_KIND
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    source: str = ""


# ------------------------------------------------------------------------------------------------ loading
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(obj: Any, values: dict[str, Any], *, where: str = "recipe") -> Any:
    """Fill ``${name}`` placeholders recursively.

    Parameters
    ----------
    obj
        A parsed YAML value (mapping, list, string or scalar).
    values
        Variable name -> value. A string that is exactly one placeholder takes the value's type (an int seed).
    where
        The dotted place of `obj` in the recipe, for error messages.

    Returns
    -------
    `obj` with every placeholder filled; an unknown name is a `ConfigError` naming it and ``--var``.
    """
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
                    hint=f"pass --var {m.group(1)}=VALUE or define it under vars:; known: {', '.join(sorted(values))}",
                )
            return str(values[m.group(1)])

        return _PLACEHOLDER.sub(repl, obj)
    return obj


def _placeholder_names(obj: Any) -> set[str]:
    """Every ``${name}`` used anywhere in `obj` (nested dicts, lists and strings)."""
    if isinstance(obj, dict):
        return set().union(*(_placeholder_names(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_placeholder_names(v) for v in obj)) if obj else set()
    return set(_PLACEHOLDER.findall(obj)) if isinstance(obj, str) else set()


def check_recipe_variables(source: str | Path, variables: dict[str, Any] | None) -> None:
    """A `ConfigError` when a ``--var`` names no variable of the recipe at `source` (the CLI calls this).

    `load_recipe` itself accepts extra variables, so one set of variables can fill several recipes; the
    command line is stricter, since a misspelt ``--var`` would otherwise run the whole recipe without it.

    Parameters
    ----------
    source
        A recipe YAML path or a shipped recipe name.
    variables
        The ``--var`` settings.
    """
    if not variables:
        return
    path = find_recipe(source)
    raw = _read_yaml(path)
    mod = kind_module(str(raw.get("kind", DEFAULT_KIND)), str(path))
    check_variables(raw, variables, str(path), late=getattr(mod, "LATE_VARS", ()))


def check_variables(raw: dict, variables: dict[str, Any] | None, where: str, late=()) -> None:
    """A `ConfigError` for a ``--var`` name the recipe neither defines under ``vars:`` nor uses as ``${name}``.

    Parameters
    ----------
    raw
        The recipe as parsed from YAML.
    variables
        The ``--var`` settings.
    where
        The recipe's path or name, for the message.
    late
        The kind's ``LATE_VARS`` (filled while running, not settable).
    """
    known = set(raw.get("vars") or {}) | _placeholder_names({k: v for k, v in raw.items() if k != "vars"})
    known -= set(late)
    unknown = sorted(set(variables or {}) - known)
    if unknown:
        raise ConfigError(f"{where}: --var {unknown[0]}: the recipe has no variable {unknown[0]!r}",
                          hint=f"its variables: {', '.join(sorted(known)) or 'none'}")


def fill_late_vars(recipe: RecipeBase, values: dict[str, str]) -> RecipeBase:
    """The recipe with the late placeholders in `values` (e.g. ``{"sim": "/runs/x/sim"}``) filled.

    Parameters
    ----------
    recipe
        A loaded recipe whose fields may still hold ``${name}`` for names in `values`.
    values
        Name -> text, known only while running.

    Returns
    -------
    A new recipe of the same schema.
    """

    def fill(obj):
        if isinstance(obj, dict):
            return {k: fill(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [fill(v) for v in obj]
        if isinstance(obj, str):
            for k, v in values.items():
                obj = obj.replace(f"${{{k}}}", str(v))
        return obj

    body = recipe.model_dump()
    body = {k: (v if k in ("vars", "source", "name", "kind") else fill(v)) for k, v in body.items()}
    return type(recipe).model_validate(body)


def available_recipes() -> list[str]:
    """Names of the recipes shipped with bindscape.

    Returns
    -------
    Sorted names (``demo``, ``yeast-reb1``, ...), each usable in place of a recipe path.
    """
    return sorted(p.stem for p in PACKAGE_RECIPES.glob("*.yaml"))


def find_recipe(name_or_path: str | Path) -> Path:
    """The recipe file for a path, or for the name of one shipped with bindscape.

    Parameters
    ----------
    name_or_path
        A YAML path, or a shipped name (``demo``, ``yeast-reb1``, ``cross-species``, ``multitask-bp``, ...).

    Returns
    -------
    The file's path; a name that is neither is a `ConfigError` listing the shipped recipes.
    """
    p = Path(name_or_path)
    if p.exists():
        return p
    shipped = PACKAGE_RECIPES / f"{p.name.removesuffix('.yaml')}.yaml"
    if shipped.exists():
        return shipped
    raise ConfigError(f"recipe {str(name_or_path)!r} not found", hint=f"shipped recipes: {', '.join(available_recipes())}")


def kind_module(kind: str, source: str = "recipe") -> ModuleType:
    """The module that runs recipes of `kind` (see `KINDS`).

    Parameters
    ----------
    kind
        The recipe's ``kind:``.
    source
        Where the recipe came from, for the error message.

    Returns
    -------
    The imported kind module; an unknown kind is a `ConfigError` listing the known ones.
    """
    if kind not in KINDS:
        raise ConfigError(f"{source}: unknown kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    return importlib.import_module(KINDS[kind])


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}); a recipe is a YAML file") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ConfigError(f"{path}{f':{line + 1}' if line is not None else ''}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a YAML mapping with name, kind and the kind's stages")
    return raw


def load_recipe(source: str | Path | dict, variables: dict[str, Any] | None = None, *,
                kind: str | None = None, overrides: dict[str, Any] | None = None) -> RecipeBase:
    """Load and validate a recipe of any kind before any work starts.

    Parameters
    ----------
    source
        A YAML path, a shipped recipe name, or an already parsed mapping.
    variables
        ``--var`` settings; they win over the recipe's ``vars:``.
    kind
        The kind to assume when the recipe has no ``kind:`` (default ``tfbs``).
    overrides
        ``--set`` settings: dotted keys into the recipe's mappings (``masking``, ``evaluate.bootstrap``) and
        their values, applied before placeholders are filled and the recipe is validated.

    Returns
    -------
    The kind's validated schema instance, with ``source`` set. Placeholders are filled except the kind's
    ``LATE_VARS`` (known only while running).
    """
    if isinstance(source, dict):
        raw, where, rdir = dict(source), "recipe", Path.cwd()
    else:
        path = find_recipe(source)
        raw, where, rdir = _read_yaml(path), str(path), path.resolve().parent
    if overrides:
        from bindscape.train import apply_overrides

        raw = apply_overrides(raw, overrides)
    kind = str(raw.get("kind", kind or DEFAULT_KIND))
    mod = kind_module(kind, where)
    if not isinstance(raw.get("vars") or {}, dict):
        raise ConfigError(f"{where}: vars: expected a mapping of NAME: value, got {type(raw['vars']).__name__}")
    values = {**(raw.get("vars") or {}), **(variables or {})}
    for late in getattr(mod, "LATE_VARS", ()):
        values.setdefault(late, f"${{{late}}}")
    values["recipe_dir"] = str(rdir)
    body = {k: substitute(v, values, where=f"{where}: {k}") for k, v in raw.items() if k != "vars"}
    try:
        recipe = mod.SCHEMA.model_validate({**body, "vars": values})
    except ValidationError as exc:
        raise format_validation_error(exc, where) from None
    recipe.source = where
    mod.check(recipe)
    return recipe


# ------------------------------------------------------------------------------------------------ running
COSMETIC_FIELDS = ("name", "description", "source", "vars")
"""Recipe fields that do not change what a stage computes (``vars`` are already substituted into the rest)."""


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def recipe_key(recipe: RecipeBase, files: dict[str, str] | None = None) -> dict[str, Any]:
    """The key a recipe's stage markers carry: a hash of the whole resolved recipe and one per section.

    Parameters
    ----------
    recipe
        A loaded recipe (before any late variables are filled).
    files
        Input file path -> content sha256 (`input_identities`); each becomes a section ``file:PATH``, so a
        file edited in place under the same path changes the key.

    Returns
    -------
    dict
        ``{"key": hash, "sections": {section: hash}}``; `COSMETIC_FIELDS` are left out.
    """
    body = {k: v for k, v in recipe.model_dump(mode="json").items() if k not in COSMETIC_FIELDS}
    sections = {k: _digest(v) for k, v in body.items()}
    sections.update({f"{FILE_SECTION}{p}": sha[:16] for p, sha in (files or {}).items()})
    return {"key": _digest(sections), "sections": sections}


FILE_SECTION = "file:"
INPUTS_MEMO = "inputs.json"
"""Run-folder file remembering each input's size, mtime_ns and sha256 (a file is re-hashed only when its
size or mtime changed; hashing the 3.6 MB yeast genome takes about 20 ms, a stat about 20 us)."""


def input_files(recipe: RecipeBase) -> list[str]:
    """The files a recipe reads: every string in its resolved sections that names an existing file.

    Parameters
    ----------
    recipe
        A loaded recipe (late placeholders such as ``${sim}`` name stage outputs, not inputs).

    Returns
    -------
    list of str
        Resolved paths, sorted, without duplicates.
    """
    found: set[str] = set()

    def walk(obj):
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)
        elif isinstance(obj, str) and 0 < len(obj) < 4096 and "\n" not in obj and "${" not in obj:
            try:
                p = Path(obj)
                if p.is_file():
                    found.add(str(p.resolve()))
            except (OSError, ValueError):
                pass

    walk({k: v for k, v in recipe.model_dump(mode="json").items() if k not in COSMETIC_FIELDS})
    return sorted(found)


def input_identities(paths: list[str], memo_path: Path) -> dict[str, str]:
    """Content sha256 of each input file, re-hashed only when its size or mtime_ns differ from the memo.

    Parameters
    ----------
    paths
        Input files (`input_files`).
    memo_path
        The run's ``inputs.json`` (read if present, rewritten atomically).

    Returns
    -------
    dict
        Path -> sha256 (hex).
    """
    from bindscape._util import file_checksum

    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    memo = memo if isinstance(memo, dict) else {}
    out, new_memo = {}, {}
    for p in paths:
        st = Path(p).stat()
        rec = memo.get(p) if isinstance(memo.get(p), dict) else {}
        if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns and rec.get("sha256"):
            sha = rec["sha256"]
        else:
            sha = file_checksum(p)
        out[p] = sha
        new_memo[p] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    if paths and new_memo != memo:
        atomic_write_text(memo_path, json.dumps(new_memo, indent=2) + "\n")
    return out


def changed_sections(old: dict | None, new: dict) -> list[str]:
    """The recipe sections whose hash differs between two `recipe_key` values.

    Parameters
    ----------
    old
        The key stored in a marker (None or malformed for markers written before keys existed).
    new
        The current recipe's key.

    Returns
    -------
    list of str
        Section names, sorted; ``["(unknown)"]`` when `old` has no sections to compare.
    """
    if not isinstance(old, dict) or not isinstance(old.get("sections"), dict):
        return ["(unknown)"]
    a, b = old["sections"], new.get("sections", {})
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) or ["(unknown)"]


@dataclass
class RunState:
    """What a recipe run did: the (possibly updated) recipe, its folder and the stages run or skipped."""

    recipe: Any
    run_dir: Path
    force: bool = False
    log: Callable[[str], None] = print
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    invalidated: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    key: dict[str, Any] | None = None
    stale: dict[str, list[str]] = field(default_factory=dict)

    def marker(self, stage: str) -> Path:
        """The marker file of stage name `stage` (``stages/<stage>.json``, ``:`` written as ``-``)."""
        return self.run_dir / STAGES_DIR / f"{stage.replace(':', '-')}.json"

    def done(self, stage: str) -> dict | None:
        """What `stage` recorded when it finished, or None when it must run (no marker, force, or stale).

        Parameters
        ----------
        stage
            Stage name.

        Returns
        -------
        dict or None
            The marker's contents. A marker whose ``recipe_key`` differs from `key` is stale: the changed
            sections are recorded in `stale` and None is returned.
        """
        m = self.marker(stage)
        if self.force or self.invalidated or not m.exists():
            return None
        prev = json.loads(m.read_text())
        if self.key is not None and (prev.get("recipe_key") or {}).get("key") != self.key["key"]:
            self.stale[stage] = changed_sections(prev.get("recipe_key"), self.key)
            return None
        return prev

    def finish(self, stage: str, info: dict[str, Any], seconds: float) -> dict:
        """Record `stage` as finished with `info`; every later stage then runs again.

        Parameters
        ----------
        stage
            Stage name.
        info
            What the stage produced (JSON-able; other values are written as strings).
        seconds
            The stage's wall time.

        Returns
        -------
        dict
            `info` with ``stage`` and ``seconds`` added, as written to the marker.
        """
        info = {**info, "stage": stage, "seconds": round(seconds, 2)}
        if self.key is not None:
            info["recipe_key"] = self.key
        atomic_write_text(self.marker(stage), json.dumps(info, indent=2, default=str) + "\n")
        self.ran.append(stage)
        self.timings[stage] = seconds
        self.invalidated = True  # later stages must run again
        return info


def stage(state: RunState, name: str, fn: Callable[[], dict]) -> dict:
    """Run one stage unless it finished earlier.

    Parameters
    ----------
    state
        The run's state.
    name
        The stage name (``datasets``, ``train:m``, ...).
    fn
        Does the work and returns a JSON-able dict of what it produced.

    Returns
    -------
    The stage's record: what `fn` returned (or returned earlier) plus ``stage`` and ``seconds``.
    """
    prev = state.done(name)
    if prev is not None:
        state.skipped.append(name)
        state.log(f"[skip] {name}: done earlier ({prev.get('seconds', '?')} s); --force to redo")
        return prev
    why = state.stale.get(name)
    state.log(f"[run ] {name}" + (f" ({_why(why)})" if why else ""))
    t0 = time.perf_counter()
    info = fn()
    return state.finish(name, info, time.perf_counter() - t0)


def _why(sections: list[str]) -> str:
    """``recipe changed: data; input file changed: /x/peaks.bed`` from changed section names."""
    files = [s.removeprefix(FILE_SECTION) for s in sections if s.startswith(FILE_SECTION)]
    rest = [s for s in sections if not s.startswith(FILE_SECTION)]
    parts = ([f"recipe changed: {', '.join(rest)}"] if rest else []) + (
        [f"input file changed: {', '.join(files)}"] if files else [])
    return "; ".join(parts)


def simulate_stage(state: RunState) -> RecipeBase:
    """The ``simulate`` stage shared by every kind whose recipe has a ``simulate:`` section.

    Simulates ``preset``/``seed``/``set`` into ``<run>/sim`` (skipped when done earlier), fills the
    ``${sim}`` placeholder and stores the filled recipe in ``state.recipe``.

    Parameters
    ----------
    state
        The run; its recipe's ``simulate`` section must not be None.

    Returns
    -------
    The recipe with ``${sim}`` filled.
    """
    rec, sim_dir = state.recipe, state.run_dir / "sim"

    def run_simulation() -> dict:
        from bindscape.simulate import simulate

        s = rec.simulate
        sim = simulate(preset=s.preset, seed=s.seed, out=sim_dir, overrides=s.set or None)
        return {"sim": str(sim_dir.resolve()), "timings": getattr(sim, "timings", {})}

    info = stage(state, "simulate", run_simulation)
    state.recipe = fill_late_vars(rec, {"sim": info["sim"]})
    return state.recipe


def resume_training(run_dir: str | Path) -> bool:
    """The one resume rule for a training stage of any kind.

    Parameters
    ----------
    run_dir
        The training run's folder.

    Returns
    -------
    True when it holds an interrupted run (``checkpoints/last.ckpt`` and no metrics.json marked finished):
    continue it with ``resume=True``. Otherwise start over with ``overwrite=True``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "checkpoints" / "last.ckpt").exists():
        return False
    m = run_dir / "metrics.json"
    return not m.exists() or json.loads(m.read_text()).get("finished") is False


def drop_stale_markers(state: RunState) -> list[str]:
    """Remove the markers of stages finished under another recipe key, remembering why in ``state.stale``.

    Run before ``recipe.json`` is rewritten, so an interrupted run never leaves a marker that claims a stage
    is done for the current recipe while its output came from other inputs; those stages simply run again.

    Parameters
    ----------
    state
        The run (its ``key`` is the current recipe's).

    Returns
    -------
    list of str
        The stages whose markers were removed.
    """
    folder = state.run_dir / STAGES_DIR
    if state.key is None or not folder.is_dir():
        return []
    dropped = []
    for m in sorted(folder.glob("*.json")):
        try:
            prev = json.loads(m.read_text())
        except (OSError, ValueError):
            prev = {}
        if not isinstance(prev, dict):
            prev = {}
        if (prev.get("recipe_key") or {}).get("key") != state.key["key"]:
            name = str(prev.get("stage") or m.stem)
            state.stale[name] = changed_sections(prev.get("recipe_key"), state.key)
            m.unlink()
            dropped.append(name)
    return dropped


def run_recipe(
    recipe: str | Path | dict | RecipeBase,
    *,
    out: str | Path | None = None,
    variables: dict[str, Any] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
) -> RunState:
    """Run (or resume) every stage of a recipe of any kind.

    Parameters
    ----------
    recipe
        A recipe path, shipped name, parsed mapping or loaded recipe.
    out
        The run folder (default ``runs/<recipe name>``).
    variables
        ``--var`` settings (ignored when `recipe` is already loaded).
    force
        Redo every stage, even those finished earlier.
    log
        Receives one line per stage run or skipped.
    progress
        Progress bars (the kinds that show them).
    overrides
        ``--set`` settings (`load_recipe`; ignored when `recipe` is already loaded).

    Returns
    -------
    The `RunState`: which stages ran and which were skipped.
    """
    rec = recipe if isinstance(recipe, RecipeBase) else load_recipe(recipe, variables, overrides=overrides)
    mod = kind_module(rec.kind, rec.source or "recipe")
    run_dir = Path(out or Path("runs") / rec.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    files = input_identities(input_files(rec), run_dir / INPUTS_MEMO)
    state = RunState(rec, run_dir, force=force, log=log, key=recipe_key(rec, files))
    drop_stale_markers(state)  # before recipe.json: no marker may then describe output of another recipe
    atomic_write_text(run_dir / "recipe.json", rec.model_dump_json(indent=2) + "\n")
    mod.run(state, progress=progress)
    return state


__all__ = ["KINDS", "RecipeBase", "RunState", "available_recipes", "check_recipe_variables", "drop_stale_markers", "fill_late_vars",
           "find_recipe", "input_files", "input_identities", "kind_module",
           "load_recipe", "recipe_key", "changed_sections", "resume_training", "run_recipe", "simulate_stage", "stage", "substitute"]

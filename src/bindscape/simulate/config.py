"""Simulator configuration: pydantic models, presets (YAML shipped with the package) and dotted overrides.

A preset is a YAML file in ``bindscape/simulate/presets``. It is validated into `SimConfig`; every field of
the resolved config can be overridden with a dotted key (``species.sim.repeat_fraction=0.2``,
``tfs.CTCF.sites_per_mb=50``, ``species.*.chrom_sizes=[200000,100000]``, ``chip.sensitivity=0.7``). List
items can be addressed by index or by their ``name``; ``*`` applies to every item.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bindscape.errors import ConfigError
from bindscape.schema import StrictModel, validate_model

PRESET_DIR = Path(__file__).resolve().parent / "presets"

# The default TF panel: JASPAR 2024 matrix IDs (unambiguous), with the roles the simulator gives them.
# Versions were chosen long enough that p < 1e-4 sites exist with room for weak-to-strong affinities.
TF_PANEL: dict[str, dict[str, Any]] = {
    "CTCF": {"jaspar_id": "MA0139.1"},
    "FOXA1": {"jaspar_id": "MA0148.4", "pioneer": True},
    "HNF4A": {"jaspar_id": "MA0114.4", "partner": "FOXA1", "partner_spacing": 12},
    "CEBPA": {"jaspar_id": "MA0102.4"},
    "GATA1": {"jaspar_id": "MA0035.4"},
    "TAL1": {"jaspar_id": "MA0091.1", "partner": "GATA1", "partner_spacing": 9},  # TAL1::TCF3 E-box
    "SPI1": {"jaspar_id": "MA0080.5", "pioneer": True},
    "REST": {"jaspar_id": "MA0138.2"},
    "REB1": {"jaspar_id": "MA0363.2"},
}


class RepeatFamily(StrictModel):
    name: str
    kind: Literal["SINE", "LINE", "simple", "DNA"] = "SINE"
    length: int = Field(300, ge=2, le=20000, description="consensus length (unit length for simple repeats)")
    share: float = Field(0.5, gt=0, description="relative share of the species' repeat bases")
    divergence: float = Field(0.12, ge=0, le=0.5, description="substitution rate of copies vs consensus")
    gc: float = Field(0.5, gt=0.05, lt=0.95, description="GC content of the consensus")
    unit: str | None = Field(None, description="repeat unit for kind=simple, e.g. CA")
    decoy_tf: str | None = Field(
        None,
        description="species shift (opt-in): the consensus carries motif copies of this TF; the family's "
        "copies are silenced (closed chromatin) in this species, so no site in them binds",
    )
    decoy_per_kb: float = Field(3.0, gt=0, le=50, description="motif copies per kb of consensus (at least 1)")
    decoy_similarity: float = Field(
        0.8, ge=0, le=1, description="affinity of the consensus' motif copies (0: p-value threshold, 1: best site)"
    )

    @model_validator(mode="after")
    def _decoys(self):
        if self.decoy_tf is not None and self.kind == "simple":
            raise ValueError(f"repeats.{self.name}.decoy_tf: a simple repeat cannot carry motif copies")
        return self


class RealRepeatConfig(StrictModel):
    """Real backgrounds (opt-in, ``simulate_real(real_repeats={species: ...})``): detect the genome's
    high-copy sequence (`real_repeats.detect_repeats`) and write it as ``repeats.bed``; with ``decoy_tf``
    the detected repeats carry motif copies of that TF and are silenced, like a ``RepeatFamily`` with
    ``decoy_tf``."""

    k: int = Field(25, ge=12, le=31, description="k-mer length of the repeat detector")
    min_count: int = Field(3, ge=2, le=100000, description="a k-mer seen this often (both strands) is high-copy")
    min_length: int = Field(100, ge=1, le=100000, description="shortest repeat interval kept (bp)")
    merge_gap: int = Field(10, ge=0, le=10000, description="repetitive stretches this close are merged (bp)")
    name: str = Field("real_repeat", description="family name of the intervals (repeats.bed, truth)")
    decoy_tf: str | None = Field(None, description="plant motif copies of this TF into the repeats, silenced")
    decoy_per_kb: float = Field(3.0, gt=0, le=50, description="motif copies per kb of repeat (at least 1 each)")
    decoy_similarity: float = Field(
        0.8, ge=0, le=1, description="affinity of the motif copies (0: p-value threshold, 1: best site)"
    )


class CofactorRule(StrictModel):
    """Species shift (opt-in): in this species only, `tf` binds well only with a `partner` motif nearby."""

    tf: str
    partner: str
    window: int = Field(40, ge=0, le=500, description="the partner motif must lie within this gap (bp)")
    weight: float = Field(-3.5, le=0, description="logit added when the partner motif is missing")
    fraction: float = Field(
        0.5, ge=0, le=1, description="share of the TF's site groups planted with the partner motif in this species"
    )
    spacing: int = Field(10, ge=0, le=200, description="gap (bp) between the site and the planted partner")


class SpeciesConfig(StrictModel):
    name: str
    chrom_sizes: list[int] = Field(..., min_length=1)
    gc_mean: float = Field(0.41, gt=0.1, lt=0.9)
    gc_isochore_sd: float = Field(0.035, ge=0, le=0.2, description="GC sd between isochores")
    gc_local_sd: float = Field(0.015, ge=0, le=0.2, description="GC sd between 2-kb blocks in an isochore")
    isochore_mean_kb: float = Field(150.0, gt=2)
    markov_order: int = Field(3, ge=2, le=5)
    cpg_oe: float = Field(0.25, gt=0, le=1.5, description="CpG observed/expected factor of the background")
    tpa_oe: float = Field(0.8, gt=0, le=1.5)
    cpg_islands_per_mb: float = Field(5.0, ge=0)
    composition_noise: float = Field(0.15, ge=0, le=1, description="species-specific k-mer log-weight sd")
    repeat_fraction: float = Field(0.3, ge=0, le=0.8)
    repeats: list[RepeatFamily] = Field(default_factory=list)
    cofactors: list[CofactorRule] = Field(
        default_factory=list, description="species-only partner rules (label shift: same sequence, other binding)"
    )

    @field_validator("chrom_sizes")
    @classmethod
    def _sizes(cls, v):
        if any(s < 5000 for s in v):
            raise ValueError("every chromosome must be >= 5000 bp")
        return v


class TFConfig(StrictModel):
    name: str
    jaspar_id: str
    sites_per_mb: float = Field(120.0, ge=0)
    pioneer: bool = False
    partner: str | None = None
    partner_spacing: int = Field(9, ge=0, le=200, description="gap (bp) between site and partner motif")
    partner_jitter: int = Field(2, ge=0, le=50)
    partner_fraction: float = Field(0.5, ge=0, le=1, description="share of planted sites given a partner")
    partner_rule: Literal["window", "spacing"] = Field(
        "window",
        description="which partner motif counts for binding: 'window' = any within binding.partner_window bp; "
        "'spacing' (opt-in) = only one at partner_spacing +- partner_tolerance bp (either side, either strand)",
    )
    partner_tolerance: int = Field(
        2, ge=0, le=50, description="with partner_rule=spacing: accepted deviation (bp) from partner_spacing"
    )


class CellConfig(StrictModel):
    name: str
    accessible_fraction: float = Field(0.08, gt=0, lt=0.9)
    tfs: list[str] | None = Field(None, description="TFs expressed in this cell type (default: all)")
    opened_by: list[str] | None = Field(
        None,
        description="lineage TFs whose planted sites open chromatin in this cell type (default: none; "
        "accessible domains are then placed at random)",
    )
    opened_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="share of the cell-specific (non-shared) accessible bases moved onto domains centred on "
        "planted sites of the opened_by TFs (used only with opened_by)",
    )
    opened_length: int | None = Field(
        None,
        ge=50,
        le=5000,
        description="length (bp) of each domain opened by a lineage site (default: drawn like every other "
        "accessible domain); shorter domains keep the lineage site within a model's window of every site they "
        "open (used only with opened_by)",
    )


class LogitWeights(StrictModel):
    """p(bound) = sigmoid(intercept + affinity*a + closed*[closed] + no_partner*[partner missing] + ...)."""

    intercept: float = -2.0
    affinity: float = 4.5
    closed: float = -6.0
    closed_pioneer: float = -2.5
    no_partner: float = -3.5
    homotypic: float = 0.7


class BindingConfig(StrictModel):
    site_max_pvalue: float = Field(5e-5, gt=0, lt=0.01, description="planted sites score at p below this")
    affinity_beta: tuple[float, float] = (1.0, 1.0)
    cluster_fraction: float = Field(0.15, ge=0, le=1)
    cluster_size: tuple[int, int] = (2, 4)
    cluster_span: int = Field(150, ge=30, le=2000)
    homotypic_window: int = Field(150, ge=0)
    partner_window: int = Field(40, ge=0)
    decoy_fraction: float = Field(0.1, ge=0, le=1)
    open_bias: float = Field(0.5, ge=0, le=1, description="share of sites placed inside accessible domains")
    background_hits: bool = True
    turnover: float = Field(
        0.3, ge=0, le=1, description="share of sites lost/gained per non-reference species"
    )
    logit: LogitWeights = Field(default_factory=LogitWeights)


class AccessibilityConfig(StrictModel):
    shared_fraction: float = Field(0.4, ge=0, le=1, description="share of open bases common to all cells")
    domain_median: int = Field(700, ge=50)
    domain_sigma: float = Field(0.6, ge=0, le=3)
    domain_min: int = Field(200, ge=20)
    domain_max: int = Field(5000, ge=50)


class ChipConfig(StrictModel):
    sensitivity: float = Field(0.8, gt=0, le=1)
    precision: float = Field(0.9, gt=0, le=1)
    width_median: int = Field(300, ge=50)
    width_sigma: float = Field(0.3, ge=0)
    width_min: int = Field(150, ge=40)
    width_max: int = Field(600, ge=50)
    summit_jitter: float = Field(12.0, ge=0)
    merge_distance: int = Field(60, ge=0)
    fp_accessible_share: float = Field(0.5, ge=0, le=1)


class OutputConfig(StrictModel):
    fasta_compresslevel: int = Field(2, ge=0, le=9)
    line_width: int = Field(60, ge=10)


class SimConfig(StrictModel):
    name: str = "custom"
    description: str = ""
    species: list[SpeciesConfig] = Field(..., min_length=1)
    tfs: list[TFConfig] = Field(..., min_length=1)
    cells: list[CellConfig] = Field(..., min_length=1)
    binding: BindingConfig = Field(default_factory=BindingConfig)
    accessibility: AccessibilityConfig = Field(default_factory=AccessibilityConfig)
    chip: ChipConfig = Field(default_factory=ChipConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("tfs", mode="before")
    @classmethod
    def _expand_tfs(cls, v):
        if not isinstance(v, list):  # pydantic reports the type ("Input should be a valid list")
            return v
        out = []
        for item in v or []:
            if isinstance(item, str):
                item = {"name": item}
            if isinstance(item, dict) and "jaspar_id" not in item:
                base = TF_PANEL.get(str(item.get("name", "")))  # str: a list or mapping name is not hashable
                if base is None:
                    raise ValueError(
                        f"TF {item.get('name')!r} is not in the default panel ({', '.join(TF_PANEL)}); "
                        "give its jaspar_id"
                    )
                item = {**base, **item}
            out.append(item)
        return out

    @model_validator(mode="after")
    def _check(self):
        for what, items in (("species", self.species), ("tfs", self.tfs), ("cells", self.cells)):
            names = [x.name for x in items]
            if len(set(names)) != len(names):
                raise ValueError(f"{what} names must be unique, got {names}")
        tf_names = {t.name for t in self.tfs}
        for t in self.tfs:
            if t.partner is not None and t.partner not in tf_names:
                raise ValueError(
                    f"TF {t.name}: partner {t.partner!r} must be one of the simulated TFs {sorted(tf_names)}"
                )
            if t.partner_rule == "spacing" and t.partner is None:
                raise ValueError(f"tfs.{t.name}.partner_rule: 'spacing' needs a partner (set tfs.{t.name}.partner)")
        for c in self.cells:
            if c.tfs is not None and not set(c.tfs) <= tf_names:
                raise ValueError(f"cell {c.name}: unknown TFs {sorted(set(c.tfs) - tf_names)}")
            if c.opened_by is not None:
                bad = sorted(set(c.opened_by) - tf_names)
                if bad:
                    raise ValueError(
                        f"cells.{c.name}.opened_by: unknown TFs {bad}; simulated TFs are {sorted(tf_names)}"
                    )
                if c.tfs is not None and not set(c.opened_by) <= set(c.tfs):
                    raise ValueError(
                        f"cells.{c.name}.opened_by: {sorted(set(c.opened_by) - set(c.tfs))} are not expressed in "
                        f"{c.name} (cells.{c.name}.tfs)"
                    )
        _check_species_shifts(self.species, tf_names)
        if self.chip.width_min > self.chip.width_max:
            raise ValueError("chip.width_min must be <= chip.width_max")
        return self


def _check_species_shifts(species: list[SpeciesConfig], tf_names: set[str]) -> None:
    """The species-shift fields name simulated TFs (raises ValueError naming the field)."""
    for sc in species:
        for fam in sc.repeats:
            if fam.decoy_tf is not None and fam.decoy_tf not in tf_names:
                raise ValueError(
                    f"species.{sc.name}.repeats.{fam.name}.decoy_tf: {fam.decoy_tf!r} is not a simulated TF "
                    f"({', '.join(sorted(tf_names))})"
                )
        for i, rule in enumerate(sc.cofactors):
            for key in ("tf", "partner"):
                if getattr(rule, key) not in tf_names:
                    raise ValueError(
                        f"species.{sc.name}.cofactors.{i}.{key}: {getattr(rule, key)!r} is not a simulated TF "
                        f"({', '.join(sorted(tf_names))})"
                    )
            if rule.tf == rule.partner:
                raise ValueError(f"species.{sc.name}.cofactors.{i}: tf and partner must differ")


def uses_species_shifts(cfg: SimConfig) -> bool:
    """True when any species has a decoy-carrying repeat family or a cofactor rule (the opt-in shifts).

    Parameters
    ----------
    cfg
        The simulator config.

    Returns
    -------
    bool
    """
    return any(sc.cofactors or any(f.decoy_tf for f in sc.repeats) for sc in cfg.species)


def manifest_config(cfg: SimConfig) -> dict:
    """The resolved config as written to manifest.json. Opt-in fields left at their defaults (cells'
    ``opened_by: null``, species' empty ``cofactors``, repeat families' ``decoy_tf: null`` with its
    ``decoy_*`` settings, TFs' ``partner_rule: window`` with ``partner_tolerance``) are omitted, so manifests
    of configs that do not use them are unchanged.

    Parameters
    ----------
    cfg
        The resolved simulator config.

    Returns
    -------
    dict
        JSON-ready mapping.
    """
    data = cfg.model_dump(mode="json")
    for c in data["cells"]:
        if c.get("opened_by") is None:
            c.pop("opened_by", None)
            c.pop("opened_fraction", None)
        if c.get("opened_length") is None:
            c.pop("opened_length", None)
    for t in data["tfs"]:  # the spacing-dependent partner rule (opt-in) is omitted when not used
        if t.get("partner_rule") == "window":
            t.pop("partner_rule", None)
            t.pop("partner_tolerance", None)
    for sp in data["species"]:  # species shifts left at their defaults are omitted too
        if not sp.get("cofactors"):
            sp.pop("cofactors", None)
        for fam in sp["repeats"]:
            if fam.get("decoy_tf") is None:
                for k in ("decoy_tf", "decoy_per_kb", "decoy_similarity"):
                    fam.pop(k, None)
    return data


def preset_names() -> list[str]:
    """Names of the built-in simulator presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset_dict(preset: str | Path) -> dict:
    """The raw (unvalidated) mapping of a preset.

    Parameters
    ----------
    preset
        A built-in preset name or the path of an existing ``.yaml``/``.yml`` file.

    Returns
    -------
    dict
        The YAML mapping (empty for an empty file).
    """
    import yaml

    path = Path(preset)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = PRESET_DIR / f"{preset}.yaml"
        if not path.exists():
            raise ConfigError(
                f"unknown simulator preset {str(preset)!r}",
                hint=f"valid presets: {', '.join(preset_names())} (or a path to a YAML file)",
            )
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}); a preset is a YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).split("\n")[0]  # a ReaderError has no .problem
        raise ConfigError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML ({what})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"preset {path} must be a YAML mapping")
    return data


def _validate(data: dict, where: str) -> SimConfig:
    return validate_model(SimConfig, data, f"invalid simulator config ({where})", what="simulator config")


def _valid_keys(node: Any, prefix: str = "") -> list[str]:
    keys: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{prefix}{k}"
            keys.append(p)
            if isinstance(v, (dict, list)) and not (isinstance(v, list) and v and not isinstance(v[0], dict)):
                keys.extend(_valid_keys(v, p + "."))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            name = v.get("name") if isinstance(v, dict) else None
            sub = _valid_keys(v, f"{prefix}{name if name is not None else i}.")
            keys.extend(sub)
    return keys


def _set_path(node: Any, parts: list[str], value: Any, full: str, root: dict) -> None:
    head, rest = parts[0], parts[1:]

    def fail():
        allk = _valid_keys(root)
        head0 = full.split(".")[0]
        valid = [k for k in allk if k.startswith(head0 + ".")] or [k for k in allk if "." not in k]
        raise ConfigError(
            f"unknown simulator setting {full!r}",
            hint="valid keys include: " + ", ".join(valid[:60]) + (" ..." if len(valid) > 60 else ""),
        )

    if isinstance(node, list):
        if head == "*":
            targets = list(range(len(node)))
        elif head.isdigit() and int(head) < len(node):
            targets = [int(head)]
        else:
            targets = [i for i, v in enumerate(node) if isinstance(v, dict) and v.get("name") == head]
        if not targets:
            fail()
        for i in targets:
            if rest:
                _set_path(node[i], rest, value, full, root)
            else:
                node[i] = value
        return
    if not isinstance(node, dict) or head not in node:
        fail()
    if rest:
        child = node[head]
        if child is None:
            fail()
        _set_path(child, rest, value, full, root)
    else:
        node[head] = value


def parse_override_value(text: str) -> Any:
    """A ``--set KEY=VALUE`` value `text` parsed as YAML (``2`` -> 2, ``[a, b]`` -> list), or `text` itself
    when it is not valid YAML."""
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception:
        return text


def resolve_config(
    preset: str | Path | dict | SimConfig = "demo", overrides: dict[str, Any] | None = None
) -> SimConfig:
    """Load a preset (name, YAML path, dict or SimConfig), apply dotted overrides, validate.

    Parameters
    ----------
    preset
        See above.
    overrides
        Dotted key -> value, e.g. ``{"binding.open_bias": 0.5}``; list items are addressed by name, index or
        ``*``; string values are parsed as YAML (`parse_override_value`). An unknown key is an error listing
        valid ones.

    Returns
    -------
    SimConfig
    """
    if isinstance(preset, SimConfig):
        cfg, where = preset, "config"
    elif isinstance(preset, dict):
        cfg, where = _validate(preset, "dict"), "dict"
    else:
        cfg, where = _validate(load_preset_dict(preset), f"preset {preset}"), f"preset {preset}"
    if not overrides:
        return cfg
    data = copy.deepcopy(cfg.model_dump(mode="json"))
    for key, value in overrides.items():
        if isinstance(value, str):
            value = parse_override_value(value)
        _set_path(data, str(key).split("."), value, str(key), data)
    return _validate(data, f"{where} with overrides")

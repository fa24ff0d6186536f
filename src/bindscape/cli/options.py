"""Command-line options shared by several verbs, and `option_groups`, the one helper that adds a group of them.

An option (a ``typer.Option``) defined here is used as the default of a command's parameter, so every verb
that takes it shows the same flag and help. `option_groups` adds a whole group (the dataset options of
`bindscape build tiles|peaks|bp`, the run-override options of the training verbs) to a command without
repeating them in its signature: the command names the group once and receives its options in ``**kwargs``.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path

import typer

#: an option group: parameter name -> (type, typer.Option), in the order `--help` lists them
OptionGroup = dict[str, tuple[typing.Any, typing.Any]]


# --- bounds declared on numeric options (issue 17, class 3) ------------------------------------------------
# Every numeric option declares its range here, on the option (``callback=bounded(...)``): click calls it while
# parsing the command line, so a value out of range is one ``error: --flag must be ...`` line and exit 2
# before any work (a non-number stays click's own "Invalid value" usage error).
def bounded(low: float | None = None, high: float | None = None, *, low_open: bool = False,
            high_open: bool = False) -> Callable:
    """A typer option callback that rejects values outside ``low..high`` with a `ConfigError` (exit 2).

    Parameters
    ----------
    low, high : float, optional
        The bounds (None: unbounded on that side).
    low_open, high_open : bool
        Exclude the bound itself (``0 < x`` rather than ``0 <= x``).

    Returns
    -------
    Callable
        The callback; its ``bounds`` attribute holds ``(low, high, low_open, high_open)`` for the contract test.
    """
    need = []
    if low is not None:
        need.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        need.append(f"{'<' if high_open else '<='} {high:g}")
    rule = " and ".join(need)

    def check(value, param: typer.CallbackParam):
        if value is None:
            return value
        bad_low = low is not None and (value <= low if low_open else value < low)
        bad_high = high is not None and (value >= high if high_open else value > high)
        if bad_low or bad_high:
            from bindscape.errors import ConfigError

            flag = max(param.opts, key=len)
            raise ConfigError(f"{flag} must be {rule}, got {value:g}", hint=f"pass {flag} with a value {rule}")
        return value

    check.bounds = (low, high, low_open, high_open)
    return check


def at_least(low: int) -> Callable:
    """`bounded` with only a closed lower bound: counts (``at_least(1)``) and seeds (``at_least(0)``).

    Parameters
    ----------
    low : int
        The smallest value allowed.

    Returns
    -------
    Callable
        The option callback.
    """
    return bounded(low)


#: file endings `bindscape predict -o` writes (parquet, tab- or comma-separated text)
TABLE_SUFFIXES = (".parquet", ".tsv", ".txt", ".csv")
#: file endings `bindscape motifs scan -o` writes
HITS_SUFFIXES = (".tsv", ".tsv.gz", ".bed", ".bed.gz", ".parquet")

#: a share of the data: 0 <= x < 1
FRACTION = bounded(0, 1, high_open=True)
#: a positive real number: x > 0
POSITIVE = bounded(0, None, low_open=True)
#: a probability threshold or p-value: 0 < p <= 1
PROBABILITY = bounded(0, 1, low_open=True)


def suffixes(*allowed: str) -> Callable:
    """A typer option callback accepting only paths whose name ends in one of `allowed` (usage error otherwise).

    Parameters
    ----------
    *allowed : str
        Accepted endings, e.g. ``".parquet", ".tsv"`` (compared case-insensitively; ``.gz`` pairs are whole).

    Returns
    -------
    Callable
        The callback (None passes through).
    """

    def check(value):
        if value is None:
            return value
        name = Path(value).name.lower()
        if not any(name.endswith(a) for a in allowed):
            raise typer.BadParameter(f"{value}: unknown file extension; use one of: {', '.join(allowed)}")
        return value

    check.suffixes = allowed
    return check

GENOME = typer.Option(..., "--genome", "-g", help="Genome FASTA (.fa, .fa.gz or bgzip).")
OUT_DATASET = typer.Option(..., "--out", "-o", help="Output dataset folder.")
SEED = typer.Option(0, "--seed", callback=at_least(0), help="Random seed.")
FORCE_DATASET = typer.Option(False, "--force", help="Overwrite an existing dataset in --out.")
GENOME_CACHE = typer.Option(None, "--cache-dir", help="Genome cache folder.")

# --- motifs (JASPAR look-ups) ---------------------------------------------------------------------------
MOTIF_SPECIES = typer.Option(None, "--species", "-s", help="Species for TF names: human, mouse, yeast, fly, worm, "
                             "a scientific name or a taxonomy id.")
TAXON = typer.Option(None, "--taxon", help="JASPAR taxon group (vertebrates, fungi, insects, plants, nematodes, ...).")
RELEASE = typer.Option(2024, "--release", callback=bounded(2014, 2026), help="JASPAR release (2014-2026; offline).")
COLLECTION = typer.Option("CORE", "--collection", help="JASPAR collection (CORE or UNVALIDATED).")
PSEUDO = typer.Option(0.1, "--pseudocount", callback=POSITIVE, help="Pseudocount added to the counts, spread by the background.")

# --- `bindscape build tiles|peaks|bp`: before and after each builder's own options -------------------------
DATASET_INPUTS: OptionGroup = {
    "genome": (Path, GENOME),
    "peaks": (list[str], typer.Option(..., "--peaks", "-p", help="Peak file per condition as TF=PATH or "
                                      "TF:CELL=PATH (BED, narrowPeak, chr:pos). Repeatable.")),
    "out": (Path, OUT_DATASET),
}
DATASET_SETTINGS: OptionGroup = {
    "blacklist": (Path, typer.Option(None, "--blacklist",
                                     help="BED of regions to exclude (e.g. the ENCODE blacklist).")),
    "split": (str, typer.Option("auto", "--split", help="auto (MORALE integer program) | chroms (with --val/--test)"
                                " | kgroup[:FOLD] | none.")),
    "val": (list[str], typer.Option(None, "--val", help="Validation chromosome(s) for --split chroms. Repeatable.")),
    "test": (list[str], typer.Option(None, "--test", help="Test chromosome(s) for --split chroms. Repeatable.")),
    "val_frac": (float, typer.Option(0.1, "--val-frac", callback=FRACTION, help="Target share of positives in validation (--split auto).")),
    "test_frac": (float, typer.Option(0.1, "--test-frac", callback=FRACTION, help="Target share of positives in test (--split auto).")),
    "seed": (int, SEED),
    "chrom_alias": (str, typer.Option(None, "--chrom-alias", help="Rename chromosomes in peak files: 'auto' or "
                                      "FROM=TO,...")),
    "species": (str, typer.Option(None, "--species", help="Species name stored with every row (multi-species work).")),
    "cache_dir": (str, typer.Option(None, "--cache-dir", help="Genome cache folder (default $BINDSCAPE_CACHE or "
                                    "~/.cache/bindscape).")),
    "include_sex_chroms": (bool, typer.Option(False, "--include-sex-chroms",
                                              help="Keep sex chromosomes and the mitochondrion.")),
    "force": (bool, FORCE_DATASET),
}

# --- `bindscape train` / `train-cross-species`: overrides of the run's config -----------------------------
RUN_NAMING: OptionGroup = {
    "name": (str, typer.Option(None, "--name", "-n", help="Override `name` (run folder <out_dir>/<name>).")),
    "out_dir": (str, typer.Option(None, "--out-dir", help="Override `out_dir`.")),
    "model": (str, typer.Option(None, "--model", "-m", help="Override `model.name`.")),
    "epochs": (int, typer.Option(None, "--epochs", callback=at_least(1), help="Override `trainer.max_epochs`.")),
}
RUN_TRAINER: OptionGroup = {
    "seed": (int, typer.Option(None, "--seed", callback=at_least(0), help="Override `trainer.seed`.")),
    "accelerator": (str, typer.Option(None, "--accelerator", help="Override `trainer.accelerator` (cpu|gpu|auto).")),
    "devices": (str, typer.Option(None, "--devices", help="Override `trainer.devices` (N or auto; >1 GPU = DDP).")),
    "set_": (list[str], typer.Option(None, "--set", help="Override any field: KEY=VALUE (dotted keys). Repeatable.")),
    "resume": (bool, typer.Option(False, "--resume", help="Continue the run from checkpoints/last.ckpt.")),
    "overwrite": (bool, typer.Option(False, "--overwrite", help="Replace an existing run folder.")),
}


def option_groups(fn: Callable) -> Callable:
    """Decorator: expand each parameter whose default is an `OptionGroup` into that group's options.

    The command declares ``**kwargs``; the options of its groups arrive there by name. `--help` lists them
    where the group's parameter stands, so a command keeps its option order while sharing the definitions.

    Parameters
    ----------
    fn : Callable
        A typer command; its group parameters (default: an `OptionGroup` dict) are placeholders.

    Returns
    -------
    Callable
        A function with the expanded signature (the one typer reads) that calls `fn` with every option.
    """
    hints = typing.get_type_hints(fn)
    params: list[inspect.Parameter] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.VAR_KEYWORD:
            continue
        if isinstance(p.default, dict):
            params += [inspect.Parameter(k, p.POSITIONAL_OR_KEYWORD, default=opt, annotation=typ)
                       for k, (typ, opt) in p.default.items()]
        else:
            params.append(p.replace(annotation=hints.get(p.name, p.annotation)))

    @functools.wraps(fn)
    def command(**kwargs):
        return fn(**kwargs)

    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command

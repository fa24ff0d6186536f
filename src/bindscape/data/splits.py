"""Train/validation/test splits by chromosome.

Three schemes, all of which keep every chromosome in exactly one split:

- ``chroms``: fixed lists (``val=["chr1"], test=["chr2"]``), the rest is training;
- ``kgroup``: the TFBS-negatives scheme; chromosomes are dealt into ``k`` groups (3 by default) balanced by
  size, and the ``k!`` ordered assignments of groups to roles give the folds (six for k = 3: each group is
  test twice, validation twice, training twice). For k = 3 every group is exactly one role.
- ``auto``: MORALE's 0/1 integer program, solved with ``scipy.optimize.milp``: pick validation and test
  chromosomes so that each holds a target fraction of the positives while its fraction of negatives stays
  close to its fraction of positives.

Sex chromosomes and the mitochondrion are excluded by default (`is_excluded`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError

EXCLUDED_PATTERN = re.compile(r"^(chr)?(X|Y|W|Z|M|MT|Mito|mitochondrion|chrM)$", re.IGNORECASE)


ROMAN_TEN_NEIGHBOURS = re.compile(r"^(chr)?(IX|XI)$", re.IGNORECASE)


def is_excluded(chrom: str, genome_chroms: Sequence[str] | None = None) -> bool:
    """True for sex chromosomes and the mitochondrion (chrX, Y, W, Z, M, MT, chrMito, ...).

    In genomes numbered with roman numerals past nine (yeast: chrI..chrXVI) ``chrX`` is chromosome ten, not a
    sex chromosome; pass all the genome's names as `genome_chroms` so that case is recognised (the worm's
    chrI..chrV + chrX keeps X as the sex chromosome).

    Parameters
    ----------
    chrom
        Chromosome name.
    genome_chroms
        All the genome's chromosome names (None: chrX is always excluded).

    Returns
    -------
    bool
    """
    if not EXCLUDED_PATTERN.match(chrom):
        return False
    if genome_chroms is not None and re.match(r"^(chr)?X$", chrom, re.IGNORECASE):
        if any(ROMAN_TEN_NEIGHBOURS.match(c) for c in genome_chroms):
            return False
    return True


def parse_split_spec(spec: str) -> tuple[str, int | None]:
    """'auto' | 'chroms' | 'kgroup' | 'kgroup:3' -> (scheme, fold).

    Parameters
    ----------
    spec
        The ``--split`` value (``none`` is accepted too).

    Returns
    -------
    tuple[str, int | None]
        The scheme and the kgroup fold (0 when not given; None for other schemes).
    """
    scheme, _, fold = spec.partition(":")
    if scheme not in ("auto", "chroms", "kgroup", "none"):
        raise ConfigError(
            f"unknown split scheme {spec!r}", hint="use one of: auto, chroms (with --val/--test), kgroup[:FOLD], none"
        )
    if fold and scheme != "kgroup":
        raise ConfigError(f"split scheme {scheme!r} takes no ':FOLD' part ({spec!r})")
    if fold:
        try:
            return scheme, int(fold)
        except ValueError:
            raise ConfigError(f"split fold must be an integer, got {fold!r} in {spec!r}") from None
    return scheme, (0 if scheme == "kgroup" else None)


def fixed_split(chroms: Sequence[str], val: Sequence[str], test: Sequence[str]) -> dict[str, str]:
    """Chromosome -> split for fixed validation/test lists; the rest is training.

    Parameters
    ----------
    chroms
        Chromosomes in the data.
    val, test
        Validation and test chromosomes (each must be in `chroms`, none in both).

    Returns
    -------
    dict[str, str]
        Chromosome -> ``train``/``val``/``test``.
    """
    known = set(chroms)
    for role, names in (("val", val), ("test", test)):
        unknown = [c for c in names if c not in known]
        if unknown:
            raise ConfigError(
                f"--{role} names chromosome(s) not in the data: {', '.join(unknown)}",
                hint=f"known: {', '.join(sorted(known)[:12])}{' ...' if len(known) > 12 else ''}",
            )
    both = set(val) & set(test)
    if both:
        raise ConfigError(f"chromosome(s) in both --val and --test: {', '.join(sorted(both))}")
    out = {c: "train" for c in chroms}
    out.update({c: "val" for c in val})
    out.update({c: "test" for c in test})
    return out


def chromosome_groups(sizes: dict[str, int], k: int = 3) -> list[list[str]]:
    """Deal chromosomes into k groups of similar total size (largest first, greedy to the lightest group).

    Parameters
    ----------
    sizes
        Chromosome -> size (at least `k` chromosomes).
    k
        Number of groups (>= 2).

    Returns
    -------
    list[list[str]]
        `k` groups, each sorted by name.
    """
    if k < 2:
        raise ConfigError("kgroup needs at least 2 groups")
    names = sorted(sizes, key=lambda c: (-sizes[c], c))
    if len(names) < k:
        raise ConfigError(f"kgroup with {k} groups needs at least {k} chromosomes, found {len(names)}")
    groups: list[list[str]] = [[] for _ in range(k)]
    totals = [0] * k
    for c in names:
        i = int(np.argmin(totals))
        groups[i].append(c)
        totals[i] += sizes[c]
    return [sorted(g) for g in groups]


def kgroup_folds(sizes: dict[str, int], k: int = 3) -> list[dict[str, list[str]]]:
    """All ordered (test, val) group choices: k*(k-1) folds; for k=3 the six TFBS-negatives permutations.

    Parameters
    ----------
    sizes
        Chromosome -> size.
    k
        Number of `chromosome_groups`.

    Returns
    -------
    list[dict[str, list[str]]]
        Per fold, the ``train``, ``val`` and ``test`` chromosomes.
    """
    groups = chromosome_groups(sizes, k)
    folds = []
    for test_g, val_g in itertools.permutations(range(k), 2):
        train = sorted(c for i, g in enumerate(groups) if i not in (test_g, val_g) for c in g)
        folds.append({"train": train, "val": groups[val_g], "test": groups[test_g]})
    return folds


def auto_split(
    pos_counts: dict[str, int],
    neg_counts: dict[str, int],
    *,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    balance_weight: float = 1.0,
) -> dict[str, str]:
    """MORALE's chromosome selection as a 0/1 integer program (scipy.optimize.milp).

    Variables x[c, s] in {0, 1} put chromosome c in split s (val or test); each chromosome is in at most one.
    With P_s and N_s the shares of positives and negatives in split s, minimise
    ``sum_s |P_s - target_s| + balance_weight * |N_s - P_s|`` subject to each split holding at least one
    chromosome. Absolute values are linearised with two auxiliary variables per term.

    `pos_counts`, `neg_counts`: chromosome -> number of positives / negatives (at least 3 chromosomes, some
    positives); `val_frac`, `test_frac`: target shares of the positives in validation and test.

    Returns chromosome -> ``train``/``val``/``test`` (at least one chromosome stays in training).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    chroms = sorted(set(pos_counts) | set(neg_counts))
    n = len(chroms)
    if n < 3:
        raise ConfigError(
            f"automatic split needs at least 3 chromosomes with data, found {n}",
            hint="use --split chroms with --val/--test, or --split none",
        )
    p = np.array([pos_counts.get(c, 0) for c in chroms], dtype=float)
    q = np.array([neg_counts.get(c, 0) for c in chroms], dtype=float)
    if p.sum() == 0:
        raise ConfigError("automatic split needs positives; none were found")
    p /= p.sum()
    q = q / q.sum() if q.sum() > 0 else q
    targets = [val_frac, test_frac]
    # layout: x_val (n), x_test (n), then per split: a_s (|P_s - t_s|), b_s (|N_s - P_s|)
    nv = 2 * n + 4
    c = np.zeros(nv)
    c[2 * n + 0] = c[2 * n + 2] = 1.0
    c[2 * n + 1] = c[2 * n + 3] = balance_weight
    rows, lb, ub = [], [], []

    def add(coefs: list, low: float, high: float) -> None:
        r = np.zeros(nv)
        for where, value in coefs:
            r[where] = value
        rows.append(r)
        lb.append(low)
        ub.append(high)

    for s in range(2):
        xs = slice(s * n, (s + 1) * n)
        a_i, b_i = 2 * n + 2 * s, 2 * n + 2 * s + 1
        add([(xs, -p), (a_i, 1)], -targets[s], np.inf)  # a >= P_s - t
        add([(xs, p), (a_i, 1)], targets[s], np.inf)  # a >= t - P_s
        add([(xs, p - q), (b_i, 1)], 0, np.inf)  # b >= N_s - P_s
        add([(xs, q - p), (b_i, 1)], 0, np.inf)  # b >= P_s - N_s
        add([(xs, 1)], 1, np.inf)  # at least one chromosome per split
    add([(slice(0, 2 * n), 1)], 0, n - 1)  # leave at least one chromosome for training
    for i in range(n):  # each chromosome in at most one of val/test
        add([(i, 1), (n + i, 1)], 0, 1)
    integrality = np.r_[np.ones(2 * n), np.zeros(4)]
    bounds = Bounds(np.zeros(nv), np.r_[np.ones(2 * n), np.full(4, np.inf)])
    res = milp(c, constraints=LinearConstraint(np.array(rows), lb, ub), integrality=integrality, bounds=bounds)
    if not res.success:  # pragma: no cover - the problem is always feasible with n >= 3
        raise ConfigError(f"automatic split failed: {res.message}")
    x = np.round(res.x[: 2 * n]).astype(int)
    out = {ch: "train" for ch in chroms}
    for i, ch in enumerate(chroms):
        if x[i]:
            out[ch] = "val"
        elif x[n + i]:
            out[ch] = "test"
    return out


def assign_split(
    regions: pd.DataFrame,
    spec: str = "auto",
    *,
    val: Sequence[str] = (),
    test: Sequence[str] = (),
    sizes: dict[str, int] | None = None,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    k: int = 3,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Add a ``split`` column to `regions` by the named scheme; returns (regions, chromosome -> split).

    ``auto`` needs a ``label`` column; ``kgroup`` uses `sizes` (chromosome sizes) to balance groups.

    Parameters
    ----------
    regions
        Rows with a ``chrom`` column (not changed).
    spec
        ``auto``, ``chroms``, ``kgroup[:FOLD]`` or ``none`` (`parse_split_spec`).
    val, test
        Chromosome lists for ``chroms``.
    sizes
        Chromosome sizes for ``kgroup`` (missing ones: the largest region end on that chromosome).
    val_frac, test_frac
        Target shares of the positives for ``auto``.
    k
        Number of groups for ``kgroup``.

    Returns
    -------
    tuple[pandas.DataFrame, dict[str, str]]
        A copy of `regions` with ``split``, and the chromosome -> split mapping.
    """
    scheme, fold = parse_split_spec(spec)
    chroms = sorted(regions["chrom"].unique().tolist())
    if scheme == "none":
        mapping = {c: "train" for c in chroms}
    elif scheme == "chroms":
        if not val and not test:
            raise ConfigError("--split chroms needs --val and/or --test chromosome lists")
        mapping = fixed_split(chroms, val, test)
    elif scheme == "kgroup":
        group_sizes = {c: (sizes or {}).get(c, 0) or int(regions.loc[regions["chrom"] == c, "end"].max()) for c in chroms}
        folds = kgroup_folds(group_sizes, k)
        if not 0 <= fold < len(folds):
            raise ConfigError(f"kgroup fold {fold} out of range: k={k} gives folds 0..{len(folds) - 1}")
        f = folds[fold]
        mapping = {c: role for role in ("train", "val", "test") for c in f[role]}
    else:
        if "label" not in regions:
            raise ConfigError("automatic split needs labelled regions")
        pos = regions.loc[regions["label"] == 1].groupby("chrom").size().to_dict()
        neg = regions.loc[regions["label"] == 0].groupby("chrom").size().to_dict()
        mapping = auto_split(pos, neg, val_frac=val_frac, test_frac=test_frac)
    out = regions.copy()
    out["split"] = out["chrom"].map(mapping).fillna("train")
    return out, mapping

"""The TFBS-negatives benchmark for one TF in one command (Tourne et al.).

`build_tfbs_benchmark` turns a genome, the TF's peaks and (optionally) accessibility peaks and other TFs'
peaks into a folder of datasets::

    OUT/<strategy>/      one training dataset per negative strategy: positives + that strategy's negatives,
                         split train/val/test on held-out chromosome groups (kgroup fold)
    OUT/hq_test/         the shared high-quality test set: the test chromosomes' positives plus every
                         accessible-but-unbound region there (needs accessibility peaks)
    OUT/hq_val/          the same on the validation chromosomes: the HQ validation set that model selection
                         reads (never the HQ test set)
    OUT/benchmark.json   per strategy: counts, GC/repeat KS statistics, shortcut-detector auROC, notes

Chromosomes are dealt into `k` size-balanced groups (`bindscape.data.splits.kgroup_folds`); fold `fold`
picks which group is test and which validation. Negatives are sampled separately inside each split's
chromosomes, so every split keeps the requested ratio and no negative crosses a split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bindscape._util import atomic_write_text
from bindscape.data.dataset import check_out_empty, output_lock, write_dataset
from bindscape.data.negatives import STRATEGIES, parse_strategies, sample_negatives
from bindscape.data.qc import negatives_qc
from bindscape.data.splits import is_excluded, kgroup_folds
from bindscape.errors import ConfigError, InputError

SPLITS = ("train", "val", "test")


def _read(x, genome, what: str) -> pd.DataFrame | None:
    from bindscape.io.bed import read_peaks

    if x is None:
        return None
    if isinstance(x, pd.DataFrame):
        return x
    return read_peaks(x, sizes=None if what == "blacklist" else genome.sizes)


def _read_others(others, genome) -> pd.DataFrame | None:
    """Other TFs' peaks: a DataFrame (with a ``tf`` column) or {tf: path-or-frame}."""
    if others is None:
        return None
    if isinstance(others, pd.DataFrame):
        return others
    parts = []
    for tf, src in dict(others).items():
        df = _read(src, genome, "others").copy()
        df["tf"] = tf
        parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else None


def positive_windows(peaks: pd.DataFrame, genome, *, length: int, anchor: str = "summit",
                     chroms: set[str] | None = None, max_n_frac: float = 0.1) -> pd.DataFrame:
    """Windows of `length` at the peaks' summits (or centres), inside their chromosome, few N, deduplicated."""
    from bindscape.io.ranges import window

    w = window(peaks[[c for c in ("chrom", "start", "end", "summit", "name", "score") if c in peaks]], length,
                  anchor=anchor)
    if chroms is not None:
        w = w[w["chrom"].isin(chroms)]
    size = w["chrom"].map(genome.sizes).to_numpy(dtype=np.float64)
    w = w[(w["start"].to_numpy() >= 0) & (w["end"].to_numpy() <= size)]
    if len(w):
        nf = genome.n_fraction(w["chrom"].to_numpy(), w["start"].to_numpy(), w["end"].to_numpy())
        w = w[nf <= max_n_frac]
    w = w.drop(columns=[c for c in ("summit",) if c in w]).drop_duplicates(["chrom", "start", "end"])
    return w.reset_index(drop=True)


def build_tfbs_benchmark(
    genome, peaks, out: str | Path, *, tf: str = "TF", accessible=None, others=None,
    strategies: str | list[str] | None = None, length: int = 101, ratio: float = 1.0, fold: int = 0, k: int = 3,
    seed: int = 0, blacklist=None, anchor: str = "summit", on_short: str = "warn", include_excluded: bool = False,
    shortcut: bool = True, options: dict[str, dict[str, Any]] | None = None, force: bool = False,
) -> dict[str, Any]:
    """Build one training dataset per negative strategy plus the shared HQ test set; returns the summary.

    `genome`: a `Genome` or a FASTA path. `peaks`, `accessible`, `blacklist`: DataFrames or peak/BED paths.
    `others`: other TFs' peaks in the same cell line ({tf: path} or a frame with a ``tf`` column).
    `strategies`: default all that the inputs allow (``cross_tf`` needs `others`, ``accessible`` needs
    `accessible`). `options`: per-strategy keyword options for `sample_negatives`.

    Parameters
    ----------
    genome, peaks, out, tf, accessible, others, blacklist
        The inputs described above, the output folder and the TF's name.
    strategies, ratio, options, on_short
        Which negative strategies, negatives per positive, per-strategy options and what a shortfall does.
    length, anchor, include_excluded
        Positive windows: length, centred on summits or centres, and whether excluded chromosomes are used.
    fold, k
        The held-out chromosome groups (`kgroup_folds`).
    seed, shortcut, force
        Random seed, whether QC trains the shortcut detector, overwrite a non-empty folder.

    Returns
    -------
    dict
        The summary also written to ``OUT/benchmark.json``.
    """
    from bindscape.io.genome import Genome

    out = check_out_empty(out, force)
    g = genome if hasattr(genome, "fetch_codes") else Genome(genome)
    with output_lock(out):  # a second build into the same --out fails at once instead of racing
        check_out_empty(out, force)  # again under the lock: another build may have finished meanwhile
        return _build_locked(g, peaks, out, tf=tf, accessible=accessible, others=others, strategies=strategies,
                             length=length, ratio=ratio, fold=fold, k=k, seed=seed, blacklist=blacklist,
                             anchor=anchor, on_short=on_short, include_excluded=include_excluded,
                             shortcut=shortcut, options=options)


def _build_locked(g, peaks, out: Path, *, tf, accessible, others, strategies, length, ratio, fold, k, seed,
                  blacklist, anchor, on_short, include_excluded, shortcut, options) -> dict[str, Any]:
    """The body of `build_tfbs_benchmark`, run while `out` is locked."""
    ins = _Inputs(_read(peaks, g, "peaks"), _read(accessible, g, "accessible"), _read_others(others, g),
                  _read(blacklist, g, "blacklist"))
    names = _strategy_names(strategies, ins)
    chroms = [c for c in g.chroms if include_excluded or not is_excluded(c)]
    folds = kgroup_folds({c: g.sizes[c] for c in chroms}, k)
    if not 0 <= fold < len(folds):
        raise ConfigError(f"fold {fold} out of range: k={k} gives folds 0..{len(folds) - 1}")
    roles = folds[fold]
    mapping = {c: role for role in SPLITS for c in roles[role]}
    pos = positive_windows(ins.peaks, g, length=length, anchor=anchor, chroms=set(chroms))
    if ins.blacklist is not None:
        from bindscape.io.ranges import remove_overlapping

        pos = remove_overlapping(pos, ins.blacklist)
    if pos.empty:
        raise InputError("no positive windows left (check the peaks, --length and the chromosome names)")
    pos["split"] = pos["chrom"].map(mapping)
    options = dict(options or {})
    summary: dict[str, Any] = {
        "tf": tf, "length": length, "ratio": ratio, "fold": fold, "k": k, "seed": seed,
        "split_chroms": {s: roles[s] for s in SPLITS}, "positives": {s: int((pos["split"] == s).sum()) for s in SPLITS},
        "strategies": {},
    }
    params_common = {"tf": tf, "length": length, "ratio": ratio, "fold": fold, "k": k, "anchor": anchor,
                     "split_chroms": summary["split_chroms"]}
    built = {}
    for si, name in enumerate(names):
        neg, notes = _split_negatives(name, si, pos, g, ins, roles, ratio=ratio, seed=seed, on_short=on_short,
                                      options=options.get(name, {}))
        built[name] = _assemble(pos, neg, tf)
        write_dataset(out / name, built[name], builder="tfbs-negatives", params={**params_common, "strategy": name},
                      seed=seed, genome=g, extra={"split_chroms": mapping, "notes": notes})
        summary["strategies"][name] = _strategy_info(pos, neg, notes, g, shortcut=shortcut, seed=seed)
    hq = hq_val = None
    if ins.accessible is not None:
        hq_params = {**params_common, "strategy": "accessible", "ratio": None}
        summary["hq_test"], hq = _write_hq_test(out / "hq_test", pos, g, ins, roles["test"], tf=tf, seed=seed,
                                                params=hq_params, mapping=mapping)
        summary["hq_val"], hq_val = _write_hq_test(out / "hq_val", pos, g, ins, roles["val"], tf=tf, seed=seed,
                                                   params=hq_params, mapping=mapping, split="val")
    _assert_isolated(out, built, summary["split_chroms"], hq, hq_val)
    atomic_write_text(out / "benchmark.json", json.dumps(summary, indent=2, default=_json_default) + "\n")
    return summary


@dataclass
class _Inputs:
    """The benchmark's region inputs (None where not given)."""

    peaks: pd.DataFrame
    accessible: pd.DataFrame | None
    others: pd.DataFrame | None
    blacklist: pd.DataFrame | None


def _assert_isolated(out: Path, built: dict[str, pd.DataFrame], split_chroms, hq, hq_val=None) -> None:
    """A guarantee, checked: no dataset's training/validation rows leak test chromosomes or HQ test regions, no
    training negative overlaps the HQ validation set, and the HQ validation set lies on the validation
    chromosomes only."""
    for name, regions in built.items():
        problems = check_negative_isolation(regions, split_chroms, hq, hq_val)
        if problems:
            raise InputError(f"{out / name}: {'; '.join(problems)}")
    if hq_val is not None and len(hq_val):
        off = ~hq_val["chrom"].isin(set(split_chroms["val"]))
        if off.any():
            raise InputError(f"{out / 'hq_val'}: {int(off.sum())} rows lie outside the validation chromosomes")


def _strategy_names(strategies, ins: _Inputs) -> list[str]:
    """The strategies asked for (default: all that the inputs allow), checked against the inputs."""
    oth, acc = ins.others, ins.accessible
    if strategies is None:
        names = [s for s in STRATEGIES if not (s == "cross_tf" and oth is None) and not (s == "accessible" and acc is None)]
    else:
        names = parse_strategies(strategies)
    if "cross_tf" in names and oth is None:
        raise ConfigError("strategy cross_tf needs other TFs' peaks", hint="add --other TF=PATH")
    if "accessible" in names and acc is None:
        raise ConfigError("strategy accessible needs accessibility peaks", hint="add --accessible PATH")
    return names


def _split_negatives(name: str, si: int, pos, g, ins: _Inputs, roles, *, ratio, seed, on_short, options):
    """(negatives, notes) of strategy `name`, sampled inside each split's chromosomes."""
    import warnings

    negs, notes = [], []
    pk, bl = ins.peaks, ins.blacklist
    for sj, split in enumerate(SPLITS):
        ps = pos[pos["split"] == split]
        if ps.empty:
            notes.append(f"{split}: no positives")
            continue
        split_chroms = set(roles[split])
        opt: dict[str, Any] = {"on_short": on_short} if name not in ("shuffle", "dinucleotide") else {}
        if name == "genomic":
            opt.update(chroms=sorted(split_chroms), exclude=pk, blacklist=bl)
        elif name == "neighbor":
            opt.update(exclude=pk, blacklist=bl)
        elif name == "cross_tf":
            opt.update(others=ins.others[ins.others["chrom"].isin(split_chroms)], peaks=pk)
        elif name == "accessible":
            opt.update(accessible=ins.accessible[ins.accessible["chrom"].isin(split_chroms)], peaks=pk)
        opt.update(options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            neg = sample_negatives(name, ps, g, ratio=ratio, seed=seed * 1000 + si * 10 + sj, **opt)
        notes += [f"{split}: {n}" for n in neg.attrs.get("notes", [])]
        neg["pos_index"] = np.where(neg["pos_index"] >= 0, ps.index.to_numpy()[neg["pos_index"].clip(0)], -1)
        neg["split"] = split
        negs.append(neg)
    return (pd.concat(negs, ignore_index=True) if negs else pd.DataFrame()), notes


def _strategy_info(pos, neg, notes, g, *, shortcut: bool, seed: int) -> dict[str, Any]:
    """One strategy's summary: counts, notes and the training split's QC statistics."""
    info: dict[str, Any] = {"negatives": int(len(neg)),
                            "negatives_per_split": {s: int((neg.get("split") == s).sum()) if len(neg) else 0
                                                    for s in SPLITS},
                            "notes": notes}
    tr_pos = pos[pos["split"] == "train"].reset_index(drop=True)
    tr_neg = neg[neg["split"] == "train"].reset_index(drop=True) if len(neg) else neg
    if len(tr_neg) and len(tr_pos):
        q = negatives_qc(tr_pos, tr_neg, g, shortcut=shortcut, seed=seed)
        q.pop("report")
        info.update({k2: q[k2] for k2 in ("gc_ks", "repeat_ks", "gc_pos_mean", "gc_neg_mean")})
        if shortcut:
            info["shortcut_auc"] = q["shortcut_auc"]
    return info


def _write_hq_test(path: Path, pos, g, ins: _Inputs, test_chroms, *, tf, seed, params, mapping,
                   split: str = "test"):
    """Write an HQ set: one split's positives + every accessible-but-unbound region on `test_chroms` (that
    split's chromosomes); return (counts, regions).

    ``split="test"`` is the HQ test set (an error when the test chromosomes hold no positive); ``split="val"``
    the HQ validation set that model selection reads (skipped, ``(None, None)``, without validation
    positives). Its rows carry ``split`` so they can never pass for another split's.
    """
    ps = pos[pos["split"] == split]
    if ps.empty:
        if split != "test":
            return None, None
        raise InputError("no positives on the test chromosomes: cannot build the HQ test set")
    acc = ins.accessible
    hq = sample_negatives("accessible", ps, g, ratio=None, seed=seed, peaks=ins.peaks,
                          accessible=acc[acc["chrom"].isin(set(test_chroms))], on_short="ignore")
    hq["split"] = split
    regions = _assemble(ps, hq, tf)
    write_dataset(path, regions, builder="tfbs-negatives-hq", params={**params, "hq_split": split}, seed=seed,
                  genome=g, extra={"split_chroms": mapping})
    return {"positives": int(len(ps)), "negatives": int(len(hq))}, regions


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return str(x)


def _assemble(pos: pd.DataFrame, neg: pd.DataFrame, tf: str) -> pd.DataFrame:
    p = pos[["chrom", "start", "end", "split"]].copy()
    p["label"] = 1
    p["source"] = "peak"
    p["pos_index"] = pos.index.to_numpy()
    parts = [p]
    if len(neg):
        n = neg.copy()
        n["label"] = 0
        parts.append(n)
    df = pd.concat(parts, ignore_index=True)
    df["tf"] = tf
    if "sequence" in df:
        df["sequence"] = df["sequence"].where(df["sequence"].notna(), None)
    return df


# ------------------------------------------------------------------------------------------ mixtures
def parse_mix(spec, *, where: str = "strategy") -> dict[str, float]:
    """A training-negative mixture: strategy name -> fraction of the negatives (fractions sum to 1).

    Parameters
    ----------
    spec
        One strategy (``"genomic"``), several joined by ``+`` (``"genomic+accessible"``) or listed
        (``["genomic", "accessible"]``) for equal shares, or a mapping ``{"genomic": 0.7, "accessible": 0.3}``
        (positive fractions summing to 1).
    where
        The config field named in errors.

    Returns
    -------
    dict
        Canonical strategy names -> fractions, in `bindscape.data.negatives.STRATEGIES` order (so one mixture
        has one name and label whatever order it was written in).
    """
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split("+")]
    if isinstance(spec, dict):
        names, fracs = list(spec), list(spec.values())
    elif isinstance(spec, (list, tuple)):
        names, fracs = list(spec), [1.0 / max(len(spec), 1)] * len(spec)
    else:
        raise ConfigError(f"{where}: expected a strategy name, a list of names or a mapping name: fraction, "
                          f"got {type(spec).__name__}")
    if not names:
        raise ConfigError(f"{where}: names no negative strategy")
    try:
        canon = [parse_strategies([str(n)])[0] for n in names]
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
    if len(set(canon)) != len(canon):
        raise ConfigError(f"{where}: a strategy is named twice ({', '.join(map(str, names))})")
    try:
        fr = [float(f) for f in fracs]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: fractions must be numbers, got {fracs}") from None
    if any(not f > 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ConfigError(f"{where}: fractions must be > 0 and sum to 1, got "
                          f"{', '.join(f'{n}={f:g}' for n, f in zip(names, fr))}",
                          hint="e.g. {genomic: 0.5, accessible: 0.5}")
    return {s: f for s, f in sorted(zip(canon, fr), key=lambda t: STRATEGIES.index(t[0]))}


def mix_name(mix: dict[str, float]) -> str:
    """The dataset name of a mixture: the strategy itself, ``a+b`` for equal shares, else ``a70+b30`` (strategies
    in `STRATEGIES` order).

    Parameters
    ----------
    mix
        Output of `parse_mix`.

    Returns
    -------
    str
        A folder-safe name.
    """
    if len(mix) == 1:
        return next(iter(mix))
    order = sorted(mix, key=STRATEGIES.index)  # one name for one mixture, whatever order it was written in
    fr = list(mix.values())
    if max(fr) - min(fr) < 1e-9:
        return "+".join(order)
    return "+".join(f"{s}{round(100 * mix[s]):d}" for s in order)


def build_mixed_dataset(components: dict[str, str | Path], mix: dict[str, float], out: str | Path, *,
                        ratio: float, seed: int = 0, genome=None) -> dict[str, Any]:
    """A training set whose negatives are a stated mix of strategies, drawn from already built datasets.

    Each split keeps its positives (identical in every component) and gets ``round(fraction * ratio *
    positives)`` negatives of each strategy, sampled without replacement from that strategy's dataset in the
    same split (so no negative crosses a split, and test/validation chromosomes stay held out). A strategy
    with too few negatives contributes all it has; the shortfall is in the notes.

    Parameters
    ----------
    components
        Strategy -> its dataset folder (`build_tfbs_benchmark` output), for every strategy in `mix`.
    mix
        Strategy -> fraction (`parse_mix`).
    out
        The mixed dataset's folder.
    ratio, seed
        Negatives per positive in total; random seed.
    genome
        The `Genome` recorded in ``dataset.json``.

    Returns
    -------
    dict
        ``negatives_per_split`` ({split: {strategy: n}}), ``fractions`` and ``notes``.
    """
    from bindscape.data.dataset import load_dataset

    missing = [s for s in mix if s not in components]
    if missing:
        raise ConfigError(f"mixture {mix_name(mix)}: no dataset built for {', '.join(missing)}",
                          hint="add the strategy to data.strategies")
    regions = {s: load_dataset(components[s]).regions for s in mix}
    first = regions[next(iter(mix))]
    parts, notes, counts = [first[first["label"] == 1]], [], {}
    rng = np.random.default_rng(seed)
    for split in SPLITS:
        n_pos = int(((first["label"] == 1) & (first["split"] == split)).sum())
        counts[split] = {}
        for s, f in mix.items():
            neg = regions[s][(regions[s]["label"] == 0) & (regions[s]["split"] == split)]
            want = int(round(f * ratio * n_pos))
            take = min(want, len(neg))
            if take < want:
                notes.append(f"{split}: {s}: only {len(neg):,} of {want:,} negatives available")
            pick = np.sort(rng.choice(len(neg), size=take, replace=False)) if take else np.zeros(0, int)
            parts.append(neg.iloc[pick])
            counts[split][s] = take
    df = pd.concat(parts, ignore_index=True)
    if "sequence" in df:
        df["sequence"] = df["sequence"].astype(object).where(df["sequence"].notna(), None)
    meta = load_dataset(components[next(iter(mix))]).meta
    params = {**(meta.get("params") or {}), "strategy": mix_name(mix), "mix": mix, "ratio": ratio}
    write_dataset(out, df, builder="tfbs-negatives-mix", params=params, seed=seed, genome=genome,
                  extra={"split_chroms": meta.get("split_chroms"), "notes": notes})
    return {"fractions": mix, "negatives_per_split": counts, "notes": notes}


def check_negative_isolation(regions: pd.DataFrame, split_chroms: dict[str, list[str]],
                             hq: pd.DataFrame | None = None, hq_val: pd.DataFrame | None = None) -> list[str]:
    """Problems that would leak test data into training: rows outside their split's chromosomes, training or
    validation negatives overlapping the HQ test set, training negatives overlapping the HQ validation set.

    Parameters
    ----------
    regions
        A training dataset's regions (``chrom, start, end, split, label``).
    split_chroms
        Split -> its chromosomes.
    hq
        The HQ test set's regions, or None.
    hq_val
        The HQ validation set's regions, or None.

    Returns
    -------
    list of str
        One line per problem; empty when the dataset is isolated.
    """
    from bindscape.io.ranges import overlaps_any

    problems = []
    for split, chroms in split_chroms.items():
        rows = regions[regions["split"] == split]
        bad = ~rows["chrom"].isin(set(chroms))
        if bad.any():
            problems.append(f"{int(bad.sum())} {split} rows lie outside the {split} chromosomes")
    if hq is not None and len(hq):
        neg = regions[(regions["label"] == 0) & (regions["split"] != "test")]
        hit = overlaps_any(neg[["chrom", "start", "end"]].reset_index(drop=True), hq[["chrom", "start", "end"]])
        if np.asarray(hit).any():
            problems.append(f"{int(np.asarray(hit).sum())} training/validation negatives overlap the HQ test set")
    if hq_val is not None and len(hq_val):
        neg = regions[(regions["label"] == 0) & (regions["split"] == "train")]
        hit = np.asarray(overlaps_any(neg[["chrom", "start", "end"]].reset_index(drop=True),
                                      hq_val[["chrom", "start", "end"]]))
        if hit.any():
            problems.append(f"{int(hit.sum())} training negatives overlap the HQ validation set")
    return problems

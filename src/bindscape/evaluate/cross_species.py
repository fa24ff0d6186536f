"""Cross-species analyses (MORALE section 2.5) over runs of `bindscape.train.train_cross_species`.

A *run* here is a dict ``{"mode": ..., "seed": ..., "run": run folder}`` (extra keys such as ``group`` are
kept). Every run folder has ``metrics.json`` and ``predictions.parquet`` (species, split, chrom, start, end,
label, prob).

- `species_table(runs)`: per run x species test auPRC/auROC; `summarize(table)`: mean, sd over seeds.
- `confusion_over_seeds(runs, species)`: TP/FP/TN/FN at 0.5, averaged over seeds, per mode.
- `differential_errors(runs, species, reference="target")`: windows where a mode's seed-averaged output
  differs from the reference's by more than 0.5 (false positives: unbound windows the mode scores
  higher; false negatives: bound windows it scores lower).
- `repeat_overlap(preds, genome)` + `repeat_stratified(runs, species, genome)`: auPRC on windows that
  overlap soft-masked repeats (and by family when a repeat annotation with names is given).
- `holdout_configs(cfg)`: the species hold-out variants (leave one source out; successive groups).
- `decoy_fp_rates(runs, species, truth)`: FP rate on windows holding a simulated repeat decoy (species
  shifts, docs/simulator.md) versus other unbound windows, mean and 95% t interval over runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["species", "chrom", "start", "end"]


def load_predictions(run: str | Path, split: str = "test") -> pd.DataFrame:
    """A cross-species run's ``predictions.parquet``, restricted to one split.

    Parameters
    ----------
    run
        The run folder.
    split
        ``val`` or ``test``; empty or None: every row.

    Returns
    -------
    pandas.DataFrame
        ``species, split, chrom, start, end, label, prob`` rows.
    """
    df = pd.read_parquet(Path(run) / "predictions.parquet")
    return df[df["split"] == split].reset_index(drop=True) if split else df


def _auc(y, p) -> tuple[float, float]:
    from bindscape.evaluate.metrics import auprc, auroc

    y = np.asarray(y) > 0.5
    if y.all() or not y.any():
        return float("nan"), float("nan")
    return float(auprc(y, p)), float(auroc(y, p))


def species_table(runs: list[dict], split: str = "test") -> pd.DataFrame:
    """One row per run x species: mode, seed, species, auprc, auroc, n, positives (+ the run's extra keys).

    Parameters
    ----------
    runs, split
        The runs (see the module docstring); which predictions to score (``test`` or ``val``).

    Returns
    -------
    pandas.DataFrame
        Also ``lam`` from each run's metrics.json; auprc/auroc are nan for single-class species.
    """
    rows = []
    for r in runs:
        pred = load_predictions(r["run"], split)
        extra = {k: v for k, v in r.items() if k not in ("run",)}
        m = json.loads((Path(r["run"]) / "metrics.json").read_text())
        for sp, g in pred.groupby("species", sort=False):
            a, b = _auc(g["label"], g["prob"])
            rows.append({**extra, "species": sp, "auprc": a, "auroc": b, "n": len(g),
                         "positives": int((g["label"] > 0.5).sum()), "lam": m.get("lam")})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame, by=("mode", "species"), metrics=("auprc", "auroc")) -> pd.DataFrame:
    """Mean and sd (ddof=1) over seeds: columns ``<metric>_mean``, ``<metric>_sd``, ``n_runs``.

    Parameters
    ----------
    table
        A `species_table`.
    by
        Grouping columns.
    metrics
        Columns to average.

    Returns
    -------
    pandas.DataFrame
        One row per group, the `by` columns first.
    """
    g = table.groupby(list(by), sort=False)
    out = g[list(metrics)].agg(["mean", "std"])
    out.columns = [f"{m}_{'sd' if s == 'std' else s}" for m, s in out.columns]
    out["n_runs"] = g.size()
    return out.reset_index()


def _by_mode(runs: list[dict], species: str, split: str = "test") -> dict[str, list[pd.DataFrame]]:
    out: dict[str, list[pd.DataFrame]] = {}
    for r in runs:
        p = load_predictions(r["run"], split)
        out.setdefault(r["mode"], []).append(p[p["species"] == species].reset_index(drop=True))
    return out


def confusion_over_seeds(runs: list[dict], species: str, threshold: float = 0.5) -> pd.DataFrame:
    """Per mode: TP, FP, TN, FN at `threshold` on `species`' test windows, mean (and sd) over runs.

    Parameters
    ----------
    runs, species
        The runs (see the module docstring) and the species whose test windows are counted.
    threshold
        Probability at or above which a window is called bound.

    Returns
    -------
    pandas.DataFrame
        ``mode, runs, TP, TP_sd, FP, FP_sd, TN, TN_sd, FN, FN_sd`` (sd 0 with one run).
    """
    rows = []
    for mode, preds in _by_mode(runs, species).items():
        c = []
        for p in preds:
            y, s = p["label"].to_numpy() > 0.5, p["prob"].to_numpy() >= threshold
            c.append([(y & s).sum(), (~y & s).sum(), (~y & ~s).sum(), (y & ~s).sum()])
        c = np.asarray(c, dtype=float)
        row = {"mode": mode, "runs": len(c)}
        for j, k in enumerate(("TP", "FP", "TN", "FN")):
            row[k] = c[:, j].mean()
            row[f"{k}_sd"] = c[:, j].std(ddof=1) if len(c) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def average_predictions(preds: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean output per window over runs (windows keyed by species, chrom, start, end).

    Parameters
    ----------
    preds
        Prediction tables of several runs (`load_predictions`).

    Returns
    -------
    pandas.DataFrame
        ``species, chrom, start, end, label, prob`` with ``prob`` the mean over runs.
    """
    cat = pd.concat(preds, ignore_index=True)
    return cat.groupby(KEY, sort=False).agg(label=("label", "first"), prob=("prob", "mean")).reset_index()


def differential_errors(runs: list[dict], species: str, reference: str = "target", delta: float = 0.5,
                        genome=None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """MORALE's differential false positives/negatives versus the `reference` mode (outputs averaged over
    runs first). Returns (counts per mode, the differential windows per mode). With a `genome`
    (`bindscape.io.genome.Genome`) the share of those windows overlapping soft-masked repeats is added.

    Parameters
    ----------
    runs, species
        The runs (see the module docstring) and the species whose test windows are compared.
    reference
        The mode compared against (needs runs).
    delta
        How much higher (FP, unbound windows) or lower (FN, bound windows) a mode's averaged output must be.
    genome
        Genome with soft-masked repeats (None: no repeat shares).

    Returns
    -------
    tuple[pandas.DataFrame, dict[str, pandas.DataFrame]]
        Per mode ``diff_FP``, ``diff_FN``, ``windows`` (+ ``repeat_share_*``), and per mode the differential
        windows with a ``kind`` column (``FP``/``FN``).
    """
    by = _by_mode(runs, species)
    if reference not in by:
        raise ValueError(f"no {reference!r} runs to compare with (modes: {', '.join(by)})")
    ref = average_predictions(by[reference]).rename(columns={"prob": "prob_ref"})
    rows, windows = [], {}
    for mode, preds in by.items():
        if mode == reference:
            continue
        avg = average_predictions(preds)
        m = avg.merge(ref[KEY + ["prob_ref"]], on=KEY)
        diff = m["prob"] - m["prob_ref"]
        fp = (m["label"] <= 0.5) & (diff > delta)
        fn = (m["label"] > 0.5) & (-diff > delta)
        w = m[fp | fn].assign(kind=np.where(fp[fp | fn], "FP", "FN"))
        row = {"mode": mode, "reference": reference, "diff_FP": int(fp.sum()), "diff_FN": int(fn.sum()),
               "windows": len(m)}
        if genome is not None:
            rf = repeat_overlap(m, genome)
            base = float((rf > 0).mean()) if len(rf) else float("nan")
            row["repeat_share_all"] = base
            row["repeat_share_diff_FP"] = float((rf[fp.to_numpy()] > 0).mean()) if fp.any() else float("nan")
            row["repeat_share_diff_FN"] = float((rf[fn.to_numpy()] > 0).mean()) if fn.any() else float("nan")
        rows.append(row)
        windows[mode] = w
    return pd.DataFrame(rows), windows


def repeat_overlap(windows: pd.DataFrame, genome) -> np.ndarray:
    """Fraction of each window's bases that are soft-masked (lower case) in `genome` (a bindscape Genome).

    Parameters
    ----------
    windows
        ``chrom, start, end`` rows (0-based, half-open; clipped to the chromosome).
    genome
        The species' genome.

    Returns
    -------
    numpy.ndarray
        ``(len(windows),)`` fractions in [0, 1].
    """
    out = np.zeros(len(windows))
    for chrom, idx in windows.groupby("chrom", sort=False).indices.items():
        mask = genome.repeat_mask(chrom)
        cs = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        s = np.clip(windows["start"].to_numpy()[idx], 0, len(mask))
        e = np.clip(windows["end"].to_numpy()[idx], 0, len(mask))
        out[idx] = (cs[e] - cs[s]) / np.maximum(e - s, 1)
    return out


def repeat_family_overlap(windows: pd.DataFrame, annotation: pd.DataFrame) -> pd.Series:
    """Name of the repeat family covering most of each window ('' for none); `annotation`: chrom, start,
    end, name (e.g. RepeatMasker's table as BED).

    Parameters
    ----------
    windows
        ``chrom, start, end`` rows.
    annotation
        Repeat intervals with ``chrom, start, end, name``.

    Returns
    -------
    pandas.Series
        The name of the annotation with the largest overlap per window, on the index of `windows`.
    """
    fam = np.array([""] * len(windows), dtype=object)
    best = np.zeros(len(windows))
    for chrom, idx in windows.groupby("chrom", sort=False).indices.items():
        ann = annotation[annotation["chrom"] == chrom]
        if ann.empty:
            continue
        a_s, a_e, a_n = ann["start"].to_numpy(), ann["end"].to_numpy(), ann["name"].astype(str).to_numpy()
        order = np.argsort(a_s, kind="stable")
        a_s, a_e, a_n = a_s[order], a_e[order], a_n[order]
        longest = int((a_e - a_s).max())
        for i in idx:
            s, e = windows["start"].iat[i], windows["end"].iat[i]
            # an annotation overlapping [s, e) starts in (s - longest, e): its end > s and length <= longest
            lo, hi = np.searchsorted(a_s, s - longest, side="right"), np.searchsorted(a_s, e)
            for k in range(lo, hi):
                ov = min(e, a_e[k]) - max(s, a_s[k])
                if ov > best[i]:
                    best[i], fam[i] = ov, a_n[k]
    return pd.Series(fam, index=windows.index)


def repeat_stratified(runs: list[dict], species: str, genome, *, min_fraction: float = 1e-9,
                      annotation: pd.DataFrame | None = None) -> pd.DataFrame:
    """auPRC on the windows overlapping repeats (soft-masked fraction >= `min_fraction`), on those that do
    not, and per family with an `annotation`; mean and sd over runs, per mode.

    Parameters
    ----------
    runs, species, genome
        The runs (see the module docstring), the species whose test windows are scored and its genome
        (soft-masked repeats).
    min_fraction
        Soft-masked fraction from which a window counts as a repeat window.
    annotation
        Repeat intervals ``chrom, start, end, name`` for per-family strata (None: none).

    Returns
    -------
    pandas.DataFrame
        ``mode, stratum, auprc_mean, auprc_sd, windows, positives`` (strata ``all``, ``repeat``,
        ``non-repeat``, ``family:<name>``).
    """
    rows = []
    for mode, preds in _by_mode(runs, species).items():
        res: dict[str, list[float]] = {}
        for p in preds:
            rf = repeat_overlap(p, genome)
            strata = {"all": np.ones(len(p), bool), "repeat": rf >= min_fraction, "non-repeat": rf < min_fraction}
            if annotation is not None:
                fam = repeat_family_overlap(p, annotation).to_numpy()
                for f in sorted(set(fam) - {""}):
                    strata[f"family:{f}"] = fam == f
            for name, sel in strata.items():
                res.setdefault(name, []).append(_auc(p["label"][sel], p["prob"][sel])[0])
                res.setdefault(f"n:{name}", []).append(float(sel.sum()))
                res.setdefault(f"pos:{name}", []).append(float((p["label"][sel] > 0.5).sum()))
        for name in [k for k in res if ":" not in k or k.startswith("family:")]:
            v = np.asarray(res[name], dtype=float)
            rows.append({"mode": mode, "stratum": name, "auprc_mean": np.nanmean(v) if np.isfinite(v).any() else np.nan,
                         "auprc_sd": np.nanstd(v, ddof=1) if np.isfinite(v).sum() > 1 else 0.0,
                         "windows": float(np.mean(res[f"n:{name}"])), "positives": float(np.mean(res[f"pos:{name}"]))})
    return pd.DataFrame(rows)


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean with a t interval (nan values dropped; low = high = mean with one value).

    Parameters
    ----------
    values
        Per-run values.
    level
        Interval coverage.

    Returns
    -------
    tuple of float
        ``(mean, low, high)``; nan when no value is finite.
    """
    from scipy import stats

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def paired_differences(table: pd.DataFrame, species: str, reference: str = "source",
                       metric: str = "auprc") -> pd.DataFrame:
    """Per mode, the seed-paired difference of `metric` on `species` against the `reference` mode: mean,
    95% t interval and the number of seeds both modes ran.

    Parameters
    ----------
    table
        A `species_table` (``mode, seed, species`` and `metric`).
    species
        The species whose test scores are compared (the target).
    reference
        The mode subtracted.
    metric
        The column compared.

    Returns
    -------
    pandas.DataFrame
        ``mode, reference, diff_mean, diff_lo, diff_hi, seeds`` (empty without `reference` runs).
    """
    t = table[table["species"] == species].pivot_table(index="seed", columns="mode", values=metric)
    rows = []
    if reference in t:
        for mode in [m for m in t.columns if m != reference]:
            d = (t[mode] - t[reference]).dropna()
            m, lo, hi = mean_interval(d.to_numpy())
            rows.append({"mode": mode, "reference": reference, "diff_mean": m, "diff_lo": lo, "diff_hi": hi,
                         "seeds": len(d)})
    return pd.DataFrame(rows)


def windows_with_sites(windows: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    """True for each window holding the centre of at least one site.

    Parameters
    ----------
    windows, sites
        ``chrom, start, end`` rows (0-based, half-open).

    Returns
    -------
    numpy.ndarray
        ``(len(windows),)`` bool.
    """
    out = np.zeros(len(windows), dtype=bool)
    centres = {c: np.sort(((g["start"] + g["end"]) // 2).to_numpy()) for c, g in sites.groupby("chrom", sort=False)}
    for chrom, idx in windows.groupby("chrom", sort=False).indices.items():
        c = centres.get(chrom)
        if c is None or not len(c):
            continue
        s, e = windows["start"].to_numpy()[idx], windows["end"].to_numpy()[idx]
        out[idx] = np.searchsorted(c, e, side="left") > np.searchsorted(c, s, side="left")
    return out


def decoy_fp_rates(runs: list[dict], species: str, truth: pd.DataFrame, *, tf: str | None = None,
                   threshold: float = 0.5) -> pd.DataFrame:
    """False-positive rate of each mode on the unbound test windows that hold a repeat decoy (a motif copy
    in a silenced repeat family, simulator truth column ``repeat_decoy``) versus the other unbound windows.

    Parameters
    ----------
    runs, species
        The runs (see the module docstring) and the species whose test windows are scored.
    truth
        The species' simulator truth table (``chrom, start, end, tf, repeat_decoy``).
    tf
        Count only this TF's decoys (None: every TF's).
    threshold
        Probability at or above which a window is called bound.

    Returns
    -------
    pandas.DataFrame
        ``mode, stratum (decoy | other negative), windows, fp_rate_mean, fp_rate_lo, fp_rate_hi (95% t
        interval over runs), mean_prob, runs``.
    """
    dec = truth[truth["repeat_decoy"].astype(bool)]
    if tf is not None:
        dec = dec[dec["tf"] == tf]
    rows = []
    for mode, preds in _by_mode(runs, species).items():
        res: dict[str, list] = {"decoy": [], "other negative": []}
        for p in preds:
            neg = (p["label"] <= 0.5).to_numpy()
            has = windows_with_sites(p, dec)
            prob = p["prob"].to_numpy()
            for name, sel in (("decoy", neg & has), ("other negative", neg & ~has)):
                n = int(sel.sum())
                fp = float((prob[sel] >= threshold).mean()) if n else float("nan")
                res[name].append((n, fp, float(prob[sel].mean()) if n else float("nan")))
        for name, vals in res.items():
            m, lo, hi = mean_interval([v[1] for v in vals])
            rows.append({"mode": mode, "stratum": name, "windows": float(np.mean([v[0] for v in vals])),
                         "fp_rate_mean": m, "fp_rate_lo": lo, "fp_rate_hi": hi,
                         "mean_prob": float(np.nanmean([v[2] for v in vals])) if vals else float("nan"),
                         "runs": len(vals)})
    return pd.DataFrame(rows)


def holdout_configs(cfg) -> list[tuple[str, list[str]]]:
    """Species hold-out variants of a `CrossSpeciesConfig`: (label, sources) pairs.

    Leave-one-source-out (every source but one) and successive groups (the first k sources, k = 1..n-1,
    in the config's source order). Duplicates are dropped; needs two or more sources.

    Parameters
    ----------
    cfg
        A validated `CrossSpeciesConfig`.

    Returns
    -------
    list[tuple[str, list[str]]]
        ``(label, sources)`` pairs, e.g. ``("without rodent", ["fish"])``; empty with fewer than two sources.
    """
    src = cfg.source_species
    out: list[tuple[str, list[str]]] = []
    if len(src) < 2:
        return out
    for s in src:
        out.append((f"without {s}", [x for x in src if x != s]))
    for k in range(1, len(src)):
        out.append((f"first {k}: {'+'.join(src[:k])}", src[:k]))
    seen, uniq = set(), []
    for label, s in out:
        if tuple(s) not in seen:
            seen.add(tuple(s))
            uniq.append((label, s))
    return uniq


__all__ = ["load_predictions", "species_table", "summarize", "confusion_over_seeds", "average_predictions",
           "differential_errors", "repeat_overlap", "repeat_family_overlap", "repeat_stratified",
           "holdout_configs", "mean_interval", "windows_with_sites", "decoy_fp_rates", "paired_differences"]

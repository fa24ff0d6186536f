"""Importance-score correlation with the target-trained model on differential windows (MORALE's Figure 3).

MORALE (Ebeid et al. 2025, Figure 3) asks *why* adaptation changes a prediction: on the windows where the
source-only model and the target-trained model disagree, does an adapted model's attribution map look more
like the target model's? Here:

1. the **differential windows** are those of the source-only model versus the target model
   (`bindscape.evaluate.cross_species.differential_errors`: outputs averaged over seeds, difference > 0.5):
   dFP (unbound windows the source model scores higher) and dFN (bound windows it scores lower), at most
   `max_windows` of each, drawn with a seed;
2. every mode's models (one per seed) and the target's explain those same windows with the project's
   attribution engine (`bindscape.explain.attribute`; DeepLIFT-SHAP over dinucleotide shuffles by default,
   tangermeme underneath); the observed-base scores (`position_scores`) are averaged over a mode's seeds,
   matching the seed-averaged outputs that define the windows;
3. per window, the Pearson (or Spearman) correlation between a mode's map and the target's
   (`bindscape.explain.agreement.score_agreement`, the one correlation helper);
4. per window kind and mode: the median with a percentile-bootstrap 95% interval, and the paired
   difference against source-only on the same windows (median and interval, and the share of windows
   whose map became more target-like: the windows adaptation "fixes").

The bootstrap is a few lines of numpy (resampling windows with a seed) rather than `scipy.stats.bootstrap`,
whose BCa default is unreliable for medians of small samples and which needs one call per statistic.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("dFP", "dFN")


def median_interval(values, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Median with a percentile-bootstrap interval (non-finite values dropped).

    Parameters
    ----------
    values
        Per-window values.
    level
        Interval coverage.
    n_boot
        Bootstrap resamples.
    seed
        Seed of the resampling.

    Returns
    -------
    tuple of float
        ``(median, low, high)``; nan when no value is finite; low = high = median with one value.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    med = float(np.median(v))
    if len(v) < 2:
        return med, med, med
    rng = np.random.default_rng(seed)
    boots = np.median(v[rng.integers(0, len(v), size=(int(n_boot), len(v)))], axis=1)
    a = (1 - level) / 2
    return med, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def differential_windows(runs: list[dict], species: str, *, by: str = "source", reference: str = "target",
                         delta: float = 0.5, max_windows: int = 200, seed: int = 0) -> pd.DataFrame:
    """The windows where mode `by` and the `reference` mode disagree, at most `max_windows` per kind.

    Parameters
    ----------
    runs
        ``{"mode", "seed", "run"}`` records (`bindscape.evaluate.cross_species`).
    species
        The species whose test windows are compared (the target).
    by, reference
        The mode whose differential errors are taken, and the mode compared against.
    delta
        Output difference (seed-averaged probabilities) that makes a window differential.
    max_windows
        Cap per kind (dFP, dFN); a seeded random subset when there are more.
    seed
        Seed of the subset.

    Returns
    -------
    pandas.DataFrame
        ``kind (dFP | dFN), chrom, start, end, label, prob, prob_ref`` (empty when there are none).
    """
    from bindscape.evaluate.cross_species import differential_errors

    _, wins = differential_errors(runs, species, reference=reference, delta=delta)
    w = wins.get(by)
    cols = ["kind", "chrom", "start", "end", "label", "prob", "prob_ref"]
    if w is None or w.empty:
        return pd.DataFrame(columns=cols)
    w = w.assign(kind="d" + w["kind"].astype(str)).sort_values(["kind", "chrom", "start"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    parts = []
    for kind in KINDS:
        g = w[w["kind"] == kind]
        if len(g) > max_windows:
            g = g.iloc[np.sort(rng.choice(len(g), size=int(max_windows), replace=False))]
        parts.append(g)
    return pd.concat(parts, ignore_index=True)[cols]


def mode_scores(run_dirs: list[str], x: np.ndarray, *, method: str = "deeplift_shap", n_baselines: int = 10,
                batch_size: int = 128, seed: int = 0) -> tuple[np.ndarray, int]:
    """Observed-base attribution scores of `x`, averaged over the models of several runs (seeds).

    Parameters
    ----------
    run_dirs
        Run folders (each with ``checkpoints/best.ckpt``).
    x
        One-hot windows ``(N, 4, L)``.
    method
        An attribution method of `bindscape.explain.attribute`.
    n_baselines
        Dinucleotide-shuffled references per window (DeepLIFT-SHAP, EIG).
    batch_size
        Windows per batch.
    seed
        Seed of the references (the same for every model, so maps differ only by the model).

    Returns
    -------
    tuple
        ``(scores (N, L) float32, additivity warnings raised)``.
    """
    from bindscape.explain.attributions import AttributionWarning, attribute, position_scores
    from bindscape.train import load_checkpoint

    total = np.zeros(x.shape[::2], dtype=np.float64)
    n_warn = 0
    for run in run_dirs:
        model = load_checkpoint(run).model
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AttributionWarning)
            a = attribute(model, x, method, n_baselines=n_baselines, batch_size=batch_size, random_state=seed)
        n_warn += sum(issubclass(c.category, AttributionWarning) for c in caught)
        total += position_scores(a, x, method)
    return (total / max(len(run_dirs), 1)).astype(np.float32), n_warn


def attribution_correlations(runs: list[dict], species: str, genome, *, by: str = "source",
                             reference: str = "target", modes: list[str] | None = None, max_windows: int = 200,
                             method: str = "deeplift_shap", n_baselines: int = 10, correlation: str = "pearson",
                             delta: float = 0.5, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Per differential window and mode, the correlation of the mode's attribution map with the reference's.

    Parameters
    ----------
    runs
        ``{"mode", "seed", "run"}`` records of a cross-species recipe.
    species
        The target species (whose test windows are explained).
    genome
        The species' `bindscape.io.genome.Genome`.
    by, reference
        Windows come from `by`'s differential errors against `reference` (MORALE: source vs target).
    modes
        The modes to correlate with the reference (default: every mode that ran but the reference).
    max_windows, delta
        See `differential_windows`.
    method, n_baselines
        See `mode_scores`.
    correlation
        ``pearson`` or ``spearman`` (per window, over positions).
    seed
        Seed of the window subset and of the attribution references.

    Returns
    -------
    tuple
        ``(per-window table: kind, chrom, start, end, label, mode, r; info dict: windows per kind, method,
        additivity warnings)``.
    """
    from bindscape.explain.agreement import score_agreement

    by_mode: dict[str, list[str]] = {}
    for r in runs:
        by_mode.setdefault(r["mode"], []).append(str(r["run"]))
    modes = [m for m in (modes or list(by_mode)) if m in by_mode and m != reference]
    win = differential_windows(runs, species, by=by, reference=reference, delta=delta, max_windows=max_windows,
                               seed=seed)
    info = {"method": method, "correlation": correlation, "by": by, "reference": reference,
            "windows": {k: int((win["kind"] == k).sum()) for k in KINDS}, "additivity_warnings": 0}
    if win.empty or reference not in by_mode:
        return pd.DataFrame(columns=["kind", "chrom", "start", "end", "label", "mode", "r"]), info
    length = int((win["end"] - win["start"]).iloc[0])
    x = genome.fetch_onehot(win["chrom"].tolist(), win["start"].to_numpy(), length)
    kw = dict(method=method, n_baselines=n_baselines, seed=seed)
    ref, nw = mode_scores(by_mode[reference], x, **kw)
    rows = []
    for mode in modes:
        s, w = mode_scores(by_mode[mode], x, **kw)
        nw += w
        r = score_agreement(s, ref, method=correlation)["per_sequence"]
        rows.append(win[["kind", "chrom", "start", "end", "label"]].assign(mode=mode, r=r))
    info["additivity_warnings"] = nw
    return pd.concat(rows, ignore_index=True), info


def summarize_correlations(per_window: pd.DataFrame, *, baseline: str = "source", level: float = 0.95,
                           n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Median correlation per window kind and mode with bootstrap intervals, and the paired change against
    `baseline` on the same windows.

    Parameters
    ----------
    per_window
        `attribution_correlations`' table.
    baseline
        The mode the others are compared with, window by window (source-only).
    level, n_boot, seed
        Bootstrap interval coverage, resamples and seed.

    Returns
    -------
    pandas.DataFrame
        ``kind, mode, windows, median_r, r_lo, r_hi, diff_median, diff_lo, diff_hi, more_target_like``
        (the last four against `baseline`: median of r_mode - r_baseline, its interval and the share of
        windows with r_mode > r_baseline; nan for the baseline itself).
    """
    rows = []
    for kind in KINDS:
        g = per_window[per_window["kind"] == kind]
        if g.empty:
            continue
        wide = g.pivot_table(index=["chrom", "start"], columns="mode", values="r", aggfunc="first")
        for mode in wide.columns:
            med, lo, hi = median_interval(wide[mode], level=level, n_boot=n_boot, seed=seed)
            row = {"kind": kind, "mode": mode, "windows": int(wide[mode].notna().sum()), "median_r": med,
                   "r_lo": lo, "r_hi": hi, "diff_median": np.nan, "diff_lo": np.nan, "diff_hi": np.nan,
                   "more_target_like": np.nan}
            if baseline in wide.columns and mode != baseline:
                d = (wide[mode] - wide[baseline]).to_numpy(dtype=float)
                row["diff_median"], row["diff_lo"], row["diff_hi"] = median_interval(
                    d, level=level, n_boot=n_boot, seed=seed)
                fin = d[np.isfinite(d)]
                row["more_target_like"] = float((fin > 0).mean()) if len(fin) else np.nan
            rows.append(row)
    return pd.DataFrame(rows, columns=["kind", "mode", "windows", "median_r", "r_lo", "r_hi", "diff_median",
                                       "diff_lo", "diff_hi", "more_target_like"])


def write_tables(per_window: pd.DataFrame, summary: pd.DataFrame, out: str | Path) -> dict[str, str]:
    """Write ``attribution_windows.tsv`` and ``attribution_corr.tsv`` atomically into folder `out`.

    Parameters
    ----------
    per_window, summary
        `attribution_correlations`' and `summarize_correlations`' tables.
    out
        The analysis folder.

    Returns
    -------
    dict
        Table name -> path.
    """
    from bindscape._util import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in (("attribution_windows", per_window), ("attribution_corr", summary)):
        atomic_write_text(out / f"{name}.tsv", df.to_csv(sep="\t", index=False))
        paths[name] = str((out / f"{name}.tsv").resolve())
    return paths


__all__ = ["KINDS", "attribution_correlations", "differential_windows", "median_interval", "mode_scores",
           "summarize_correlations", "write_tables"]

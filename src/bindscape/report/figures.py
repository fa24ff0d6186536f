"""Report figures: small matplotlib functions that each return one `Figure`.

Every function uses the same style (colour-blind-safe Okabe-Ito palette, readable fonts, light grid, tight
layout, about 5 x 4 inches at 110 dpi so an inline PNG stays small). matplotlib and logomaker are imported
inside the functions (Agg backend), so ``import bindscape`` stays fast.

All functions are pure: data in, a new `matplotlib.figure.Figure` out (their docstrings do not repeat it, nor
that `title` is the axes title). Pass the Figure to ``Section.figure`` (which closes it after rendering) or
save it yourself.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Okabe & Ito (2008) colour-blind-safe palette; yellow last (weak on white).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
BASELINE_COLOR = "#8c8c8c"
FIGSIZE = (5.0, 4.0)
DPI = 110
# nucleotide colours for logos and attribution tracks (classic, distinguishable in grey scale too)
BASE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}

_STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.7,
    "axes.axisbelow": True,
    "axes.edgecolor": "#444444",
    "lines.linewidth": 1.8,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


def pyplot():
    """matplotlib's pyplot on the Agg backend, for figures outside this module.

    Returns
    -------
    The ``matplotlib.pyplot`` module; the backend is set lazily (to Agg only when pyplot was not imported
    yet, so an interactive backend someone chose is never switched).
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _styled(func):
    """Run a figure function with the report style active (rc params apply at artist creation)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        pyplot()
        with matplotlib.rc_context(_STYLE):
            fig = func(*args, **kwargs)
            fig.tight_layout()
        return fig

    return wrapper


def color(i: int) -> str:
    """The i-th palette colour (cycles).

    Parameters
    ----------
    i
        Series index.

    Returns
    -------
    str
        A hex colour.
    """
    return PALETTE[i % len(PALETTE)]


def _label(name: str, value: float | None, what: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return str(name)
    return f"{name} ({what} {value:.3f})"


@_styled
def roc_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], float | None]],
    baseline: bool = True,
    title: str = "ROC",
):
    """ROC curves: ``{name: (fpr, tpr, auc)}``; one line per model plus the chance diagonal when `baseline`.

    An ``auc`` of None or NaN leaves it out of the legend.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for i, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        ax.plot(np.asarray(fpr), np.asarray(tpr), color=color(i), label=_label(name, auc, "auROC"))
    if baseline:
        ax.plot([0, 1], [0, 1], ls="--", lw=1, color=BASELINE_COLOR, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="lower right")
    return fig


@_styled
def pr_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], float | None]],
    prevalence: float | None = None,
    title: str = "Precision-recall",
):
    """Precision-recall curves: ``{name: (recall, precision, ap)}``; `prevalence` (share of positives) draws
    the no-skill line. An ``ap`` of None or NaN leaves it out of the legend.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for i, (name, (rec, prec, ap)) in enumerate(curves.items()):
        ax.plot(np.asarray(rec), np.asarray(prec), color=color(i), label=_label(name, ap, "AP"),
                drawstyle="steps-post")
    if prevalence is not None:
        ax.axhline(float(prevalence), ls="--", lw=1, color=BASELINE_COLOR,
                   label=f"no skill (prevalence {float(prevalence):.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="Recall", ylabel="Precision", title=title)
    # curves run along the top right; the lower left is empty unless prevalence is high
    ax.legend(loc="lower left" if prevalence is None or prevalence < 0.5 else "lower right")
    return fig


@_styled
def training_curves(history, metrics: Sequence[str] | None = None, title: str = "Training", x: str = "epoch"):
    """One line per metric column of `history` (a DataFrame with an `epoch` column) against epoch.

    Metrics on very different scales (e.g. loss vs auROC) go to two panels: losses left, the rest right.

    Parameters
    ----------
    history
        Per-epoch metrics (anything `pandas.DataFrame` accepts); without an `x` column the index is used.
    metrics
        Columns to draw (None: every numeric column but `x`); columns starting with ``train`` are dashed.
    title
        Figure title (over both panels).
    x
        The x-axis column.
    """
    plt = pyplot()
    import pandas as pd

    history = pd.DataFrame(history)
    if x not in history.columns:
        history = history.reset_index(names=x)
    if metrics is None:
        metrics = [c for c in history.columns if c != x and pd.api.types.is_numeric_dtype(history[c])]
    metrics = list(metrics)
    missing = [m for m in metrics if m not in history.columns]
    if missing:
        raise ValueError(f"history has no column(s) {missing}; it has {list(history.columns)}")
    losses = [m for m in metrics if "loss" in m.lower()]
    others = [m for m in metrics if m not in losses]
    groups = [g for g in (losses, others) if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(FIGSIZE[0] * (1 if len(groups) == 1 else 1.7), FIGSIZE[1] * 0.85),
                             squeeze=False)
    k = 0
    for ax, group in zip(axes[0], groups, strict=True):
        for m in group:
            d = history[[x, m]].dropna()
            ls = "--" if m.lower().startswith(("train", "trn")) else "-"
            ax.plot(d[x], d[m], color=color(k), ls=ls, marker="o" if len(d) <= 30 else None, ms=3, label=m)
            k += 1
        ax.set_xlabel(x)
        ax.set_ylabel("loss" if group is losses else "metric")
        ax.legend(loc="best")
    if len(groups) > 1:
        fig.suptitle(title, fontweight="bold", fontsize=10.5)
    else:
        axes[0][0].set_title(title)
    return fig


@_styled
def heatmap(matrix, title: str = "", fmt: str = "{:.2f}", cmap: str = "viridis", vmin=None, vmax=None,
            xlabel: str | None = None, ylabel: str | None = None, cbar_label: str | None = None):
    """An annotated heatmap of a DataFrame (rows x columns), e.g. a train-condition x test-condition matrix.

    Cell text switches between black and white with the cell's brightness so it stays readable. NaN cells are
    left blank (grey).

    Parameters
    ----------
    matrix
        Values (anything `pandas.DataFrame` accepts); its index and columns label the axes.
    fmt
        Format of the cell text (cells are written only up to 400 cells).
    cmap
        Matplotlib colour map.
    vmin, vmax
        Colour scale limits (None: the data's range).
    xlabel, ylabel
        Axis labels (None: the columns' / index's name).
    cbar_label
        Colour bar label.
    """
    plt = pyplot()
    import pandas as pd

    df = pd.DataFrame(matrix)
    vals = df.to_numpy(dtype=float)
    nr, nc = vals.shape
    w = min(10.0, max(FIGSIZE[0], 1.6 + 0.7 * nc))
    h = min(9.0, max(FIGSIZE[1] * 0.75, 1.2 + 0.5 * nr))
    fig, ax = plt.subplots(figsize=(w, h))
    cm = plt.get_cmap(cmap).with_extremes(bad="#eeeeee")
    im = ax.imshow(np.ma.masked_invalid(vals), cmap=cm, vmin=vmin, vmax=vmax, aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(nc))
    long = nc > 4 or max(len(str(c)) for c in df.columns) * nc > 40
    ax.set_xticklabels([str(c) for c in df.columns], rotation=35 if long else 0, ha="right" if long else "center")
    ax.set_yticks(range(nr))
    ax.set_yticklabels([str(r) for r in df.index])
    for s in ax.spines.values():
        s.set_visible(False)
    if nr * nc <= 400:
        norm = im.norm
        for r in range(nr):
            for c in range(nc):
                v = vals[r, c]
                if np.isnan(v):
                    continue
                rgba = cm(norm(v))
                lum = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
                ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                        color="black" if lum > 0.5 else "white")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.outline.set_visible(False)
    if cbar_label:
        cb.set_label(cbar_label)
    ax.set_xlabel(xlabel if xlabel is not None else (df.columns.name or ""))
    ax.set_ylabel(ylabel if ylabel is not None else (df.index.name or ""))
    if title:
        ax.set_title(title)
    return fig


@_styled
def calibration_curve(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = "Calibration"):
    """Reliability diagram: ``{name: (mean_predicted, fraction_positive)}`` per bin (e.g. from
    `bindscape.evaluate.metrics.calibration`), plus the diagonal."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color=BASELINE_COLOR, label="perfectly calibrated")
    for i, (name, (mp, fp)) in enumerate(curves.items()):
        ax.plot(np.asarray(mp), np.asarray(fp), color=color(i), marker="o", ms=4, label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="Mean predicted probability", ylabel="Fraction of positives",
           title=title)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="upper left")
    return fig


@_styled
def bar_with_intervals(df, title: str = "", ylabel: str = "", name: str = "name", value: str = "value",
                       lo: str = "lo", hi: str = "hi", horizontal: bool | None = None, sort: bool = False):
    """Bars with error bars from a DataFrame with `name`, `value`, `lo`, `hi` (e.g. bootstrap 95% intervals).

    Parameters
    ----------
    df
        The table.
    ylabel
        Value axis label (default: the `value` column's name).
    name, value, lo, hi
        Column names of the labels, bar heights and interval ends (no error bars without `lo`/`hi`).
    horizontal
        Horizontal bars (None: when there are more than 6 bars or a label is longer than 12 characters).
    sort
        Sort the bars by value, largest first.
    """
    plt = pyplot()
    import pandas as pd

    d = pd.DataFrame(df).reset_index(drop=True)
    if sort:
        d = d.sort_values(value, ascending=False).reset_index(drop=True)
    n = len(d)
    if horizontal is None:
        horizontal = n > 6 or d[name].astype(str).str.len().max() > 12
    v = d[value].to_numpy(float)
    err = None
    if lo in d.columns and hi in d.columns:
        err = np.vstack([np.clip(v - d[lo].to_numpy(float), 0, None), np.clip(d[hi].to_numpy(float) - v, 0, None)])
    cols = [color(i) for i in range(n)]
    if horizontal:
        fig, ax = plt.subplots(figsize=(FIGSIZE[0], max(2.2, 0.9 + 0.32 * n)))
        y = np.arange(n)[::-1]
        ax.barh(y, v, xerr=err, color=cols, height=0.65, capsize=3, error_kw={"lw": 1, "ecolor": "#333333"})
        ax.set_yticks(y)
        ax.set_yticklabels(d[name].astype(str))
        ax.set_xlabel(ylabel or value)
        ax.grid(axis="y", visible=False)
    else:
        fig, ax = plt.subplots(figsize=FIGSIZE)
        x = np.arange(n)
        ax.bar(x, v, yerr=err, color=cols, width=0.65, capsize=3, error_kw={"lw": 1, "ecolor": "#333333"})
        ax.set_xticks(x)
        ax.set_xticklabels(d[name].astype(str))
        ax.set_ylabel(ylabel or value)
        ax.grid(axis="x", visible=False)
    if title:
        ax.set_title(title)
    return fig


@_styled
def learning_curve(df, x: str = "n_positives", metric: str = "metric", model: str = "model", title: str = "",
                   logx: bool = True, ylabel: str | None = None):
    """Metric against training-set size (`n_positives`), one line per `model` (long-format DataFrame).

    When several rows share (model, x) — e.g. several seeds — the mean is drawn with a min-max band.

    Parameters
    ----------
    df
        Long-format table.
    x, metric, model
        Column names of the training-set size, the metric and the model (no `model` column: one line).
    logx
        Logarithmic x axis (when all sizes are positive).
    ylabel
        y-axis label (None: the `metric` column's name).
    """
    plt = pyplot()
    import pandas as pd

    d = pd.DataFrame(df)
    fig, ax = plt.subplots(figsize=FIGSIZE)
    groups = d.groupby(model, sort=False) if model in d.columns else [("", d)]
    for i, (name, g) in enumerate(groups):
        s = g.groupby(x)[metric].agg(["mean", "min", "max"]).sort_index()
        ax.plot(s.index, s["mean"], color=color(i), marker="o", ms=4, label=str(name))
        if (s["max"] > s["min"]).any():
            ax.fill_between(s.index, s["min"], s["max"], color=color(i), alpha=0.18, lw=0)
    if logx and (d[x] > 0).all():
        ax.set_xscale("log")
        xs = np.unique(d[x].to_numpy())
        if len(xs) <= 10:  # label the sizes actually used rather than powers of ten
            from matplotlib.ticker import NullFormatter, NullLocator

            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(xs)
            ax.set_xticklabels([f"{v:,.0f}" if float(v).is_integer() else f"{v:g}" for v in xs])
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(ylabel or metric)
    if title:
        ax.set_title(title)
    if model in d.columns:
        ax.legend(loc="best")
    return fig


@_styled
def histograms(values: Mapping[str, Sequence[float]], bins: int | Sequence[float] = 30, title: str = "",
               xlabel: str = "", density: bool = True):
    """Overlaid step histograms on shared bins, e.g. GC content of positives vs negatives.

    Parameters
    ----------
    values
        Series name -> values (non-finite values are dropped).
    bins
        Number of equal bins over the range of all values, or the bin edges.
    xlabel
        x-axis label.
    density
        Normalise each histogram to a density (False: counts).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], FIGSIZE[1] * 0.8))
    arrays = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    allv = np.concatenate([a[np.isfinite(a)] for a in arrays.values()]) if arrays else np.array([0.0])
    if np.isscalar(bins):
        lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, int(bins) + 1)
    else:
        edges = np.asarray(bins, float)
    for i, (name, a) in enumerate(arrays.items()):
        a = a[np.isfinite(a)]
        ax.hist(a, bins=edges, density=density, histtype="stepfilled", alpha=0.25, color=color(i))
        ax.hist(a, bins=edges, density=density, histtype="step", lw=1.6, color=color(i),
                label=f"{name} (n={a.size:,}, mean {a.mean():.3f})" if a.size else f"{name} (n=0)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density" if density else "count")
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return fig


@_styled
def violins(groups: Mapping[str, Sequence[float]], title: str = "", ylabel: str = "",
            reference: float | None = None, colors: Sequence[str] | None = None):
    """Distributions side by side: a violin per group with its box (quartiles) and median, ``n`` under each
    label; e.g. per-window correlations of several models.

    Parameters
    ----------
    groups
        Group name -> values (non-finite values are dropped; a group with fewer than two values is drawn as
        points only).
    ylabel
        Value axis label.
    reference
        Draw a dashed horizontal line at this value (None: none).
    colors
        One colour per group (default: the palette in order), e.g. to keep a model's colour across figures.
    """
    plt = pyplot()
    names = list(groups)
    arrays = [np.asarray(groups[k], dtype=float) for k in names]
    arrays = [a[np.isfinite(a)] for a in arrays]
    fig, ax = plt.subplots(figsize=(max(FIGSIZE[0], 1.3 * len(names) + 1.5), FIGSIZE[1]))
    x = np.arange(1, len(names) + 1)
    cols = list(colors) if colors is not None else [color(i) for i in range(len(names))]
    for i, a in enumerate(arrays):
        if len(a) >= 2 and np.ptp(a) > 0:
            v = ax.violinplot(a, positions=[x[i]], widths=0.8, showextrema=False)
            for body in v["bodies"]:
                body.set_facecolor(cols[i])
                body.set_edgecolor(cols[i])
                body.set_alpha(0.35)
        if len(a):
            ax.boxplot(a, positions=[x[i]], widths=0.18, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": "white", "edgecolor": "#333333"},
                       medianprops={"color": cols[i], "lw": 2.2}, whiskerprops={"color": "#333333"},
                       capprops={"color": "#333333"})
    if reference is not None:
        ax.axhline(reference, color="#888888", lw=1, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{k}\n(n={len(a):,})" for k, a in zip(names, arrays)])
    ax.set_xlim(0.4, len(names) + 0.6)
    ax.grid(axis="x", visible=False)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig


def _as_lx4(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or 4 not in m.shape:
        raise ValueError(f"expected an (L, 4) or (4, L) matrix, got shape {m.shape}")
    if m.shape[1] != 4:
        m = m.T
    return m


@_styled
def logo(matrix, title: str = "", ylabel: str = "bits", start: int = 1):
    """A sequence logo (information content, probabilities, or a signed contribution-weight matrix).

    `matrix`: (L, 4) array or DataFrame with columns A, C, G, T ((4, L) is transposed). Negative values are
    drawn below the axis, so a CWM from attribution scores works as is. `start` numbers the first position on
    the x axis; `ylabel` labels the y axis.
    """
    plt = pyplot()
    import logomaker
    import pandas as pd

    if isinstance(matrix, pd.DataFrame) and list(matrix.columns) == list("ACGT"):
        df = matrix.reset_index(drop=True).astype(float)
    else:
        df = pd.DataFrame(_as_lx4(matrix), columns=list("ACGT"))
    L = len(df)
    fig, ax = plt.subplots(figsize=(min(12.0, max(3.0, 0.32 * L + 1.0)), 2.2))
    logomaker.Logo(df, ax=ax, color_scheme=BASE_COLORS, vpad=0.03, width=0.9)
    ax.grid(False)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="#444444", lw=0.6)
    step = 1 if L <= 25 else max(1, int(np.ceil(L / 20 / 5) * 5))
    ticks = list(range(0, L, step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t + start) for t in ticks])
    ax.spines["bottom"].set_visible(False)
    if title:
        ax.set_title(title)
    return fig


@_styled
def attribution_track(values, sequence: str | None = None, title: str = "", ylabel: str = "attribution",
                      start: int = 0):
    """Per-base attributions along a sequence.

    `values`: (4, L) or (L, 4) hypothetical/actual scores, or (L,) one score per position. With a (4, L)
    matrix and a `sequence`, the observed base's score is shown; with (L,) scores and a sequence, letters are
    drawn with height = score (a logo of the sequence), which is how attribution tracks are usually read.
    Without a sequence, a filled line is drawn.

    Parameters
    ----------
    values
        See above.
    sequence
        The sequence's letters (length L; None: no letters).
    ylabel
        y-axis label.
    start
        Added to the x tick labels (e.g. the window's genomic start; 0: positions from 0).
    """
    plt = pyplot()
    import logomaker
    import pandas as pd

    v = np.asarray(values, dtype=float)
    L = v.shape[-1] if v.ndim == 1 else (v.shape[1] if v.shape[0] == 4 and v.shape[1] != 4 else v.shape[0])
    if sequence is not None and len(sequence) != L:
        raise ValueError(f"sequence has length {len(sequence)} but values cover {L} positions")
    fig, ax = plt.subplots(figsize=(min(12.0, max(5.0, 0.09 * L + 1.5)), 2.3))
    if v.ndim == 2:
        m = _as_lx4(v)
        if sequence is not None:
            onehot = np.zeros_like(m)
            idx = {"A": 0, "C": 1, "G": 2, "T": 3}
            for i, b in enumerate(sequence.upper()):
                if b in idx:
                    onehot[i, idx[b]] = 1.0
            m = m * onehot
    else:
        if v.ndim != 1:
            raise ValueError(f"expected values of shape (L,), (4, L) or (L, 4), got {v.shape}")
        m = None
        if sequence is not None:
            m = np.zeros((L, 4))
            idx = {"A": 0, "C": 1, "G": 2, "T": 3}
            for i, b in enumerate(sequence.upper()):
                if b in idx:
                    m[i, idx[b]] = v[i]
    if m is not None:
        df = pd.DataFrame(m, columns=list("ACGT"))
        logomaker.Logo(df, ax=ax, color_scheme=BASE_COLORS, vpad=0.02, width=0.95)
        ax.axhline(0, color="#444444", lw=0.6)
    else:
        x = np.arange(L)
        ax.fill_between(x, 0, v, where=v >= 0, color=PALETTE[0], alpha=0.8, lw=0, step="mid")
        ax.fill_between(x, 0, v, where=v < 0, color=PALETTE[3], alpha=0.8, lw=0, step="mid")
        ax.axhline(0, color="#444444", lw=0.6)
        ax.set_xlim(-0.5, L - 0.5)
    ax.grid(False)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("position")
    if start:
        ticks = ax.get_xticks()
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{int(t + start):,}" for t in ticks])
        ax.set_xlim(-0.5, L - 0.5)
    if title:
        ax.set_title(title)
    return fig


__all__: list[Any] = [
    "PALETTE",
    "roc_curves",
    "pr_curves",
    "training_curves",
    "heatmap",
    "calibration_curve",
    "bar_with_intervals",
    "learning_curve",
    "histograms",
    "violins",
    "logo",
    "attribution_track",
    "pyplot",
]

"""The report section for `bindscape marginalize`: the single-motif insertion effect and, with a partner,
the spacing curve (figure and peak table).

`result` is the dict `bindscape.explain.marginalize.run_marginalize` returns (keys ``meta``, ``single`` and,
with a partner, ``curve``, ``peak``, ``anchor``).
"""

from __future__ import annotations

from bindscape.report.figures import color

_CONFIG_LABELS = {"AP+": "anchor - partner (+)", "AP-": "anchor - partner (-)", "PA+": "partner (+) - anchor",
                  "PA-": "partner (-) - anchor", "mean": "mean of the four"}


def spacing_figure(curve, *, value: str = "gain_logit", title: str = "", truth: int | None = None):
    """The spacing curve: mean `value` per spacing for each configuration, the mean with its 95% band.

    Parameters
    ----------
    curve
        The ``curve`` table of `spacing_curve`.
    value
        Column to plot (``gain_logit``, ``gain_prob``, ``joint_logit``, ``joint_prob``).
    title
        Figure title.
    truth
        A known preferred spacing to mark (the simulator's), or None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from bindscape.report.figures import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, (name, sub) in enumerate(curve.groupby("config", sort=False)):
        sub = sub.sort_values("spacing")
        if name == "mean":
            ax.fill_between(sub.spacing, sub[f"{value}_lo"], sub[f"{value}_hi"], color="#333333", alpha=0.18,
                            linewidth=0)
            ax.plot(sub.spacing, sub[value], color="#222222", lw=2.2, label=_CONFIG_LABELS[name])
        else:
            ax.plot(sub.spacing, sub[value], color=color(i), lw=1.1, alpha=0.8, label=_CONFIG_LABELS.get(name, name))
    if truth is not None:
        ax.axvline(truth, color="#b2182b", ls="--", lw=1.2, label=f"planted spacing {truth} bp")
    ax.axhline(0, color="#888888", lw=0.8)
    what = "logit" if value.endswith("logit") else "probability"
    kind = "partner gain" if value.startswith("gain") else "joint effect"
    ax.set_xlabel("gap between the motifs (bp)")
    ax.set_ylabel(f"{kind} ({what})")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _fmt(row: dict, key: str, digits: int = 3) -> str:
    return f"{row[key]:.{digits}f} [{row[f'{key}_lo']:.{digits}f}, {row[f'{key}_hi']:.{digits}f}]"


def add_marginalize_section(report, result: dict, *, title: str = "Marginalisation", truth: int | None = None):
    """Add the marginalisation section (effect table, spacing figure, peak table) to a report.

    Parameters
    ----------
    report
        The `bindscape.report.html.Report` to add to.
    result
        The `run_marginalize` dict.
    title
        Section title.
    truth
        A known preferred spacing to mark on the figure, or None.

    Returns
    -------
    Section
        The new section.
    """
    import pandas as pd

    meta, single = result["meta"], result["single"]["summary"]
    intro = (f"**{meta['motif']}** ({'consensus ' + meta['motif_consensus'] if meta['insert'] == 'consensus' else 'sampled from its PPM'}) "
             f"inserted at position {meta['anchor_start']} of {meta['n']} background sequences "
             f"({meta['background_description']}); predictions {'averaged over both strands' if meta['rc_average'] else 'forward strand'}. "
             "Intervals are 95% t intervals over the sequences.")
    sec = report.section(title, intro=intro)
    sec.table(pd.DataFrame([{"motif": meta["motif"], "n": single["n"], "before (prob)": single["before_prob"],
                             "after (prob)": single["after_prob"], "change (logit)": _fmt(single, "delta_logit"),
                             "change (prob)": _fmt(single, "delta_prob")}]),
              caption="Single-motif insertion effect (mean change, 95% interval)", float_format="{:.3f}")
    if "curve" in result:
        pk = result["peak"]
        sec.text(f"Partner **{meta['partner']}** (consensus {meta['partner_consensus']}) at gaps {meta['spacing']} "
                 "bp from the end of the first motif to the start of the second, downstream (anchor - partner) and "
                 "upstream (partner - anchor), on both strands. *Partner gain* = prediction with both motifs minus "
                 "prediction with the anchor alone.")
        sec.figure(spacing_figure(result["curve"], title=f"{meta['motif']} + {meta['partner']}", truth=truth),
                   caption="Spacing curve (logit partner gain; band: 95% interval of the mean of the four)")
        sec.table(pd.DataFrame([{"peak spacing (bp)": pk["spacing"],
                                 "bootstrap 95% interval": f"{pk['spacing_lo']}-{pk['spacing_hi']}",
                                 "gain at peak (logit)": _fmt(pk, "gain_logit"),
                                 "gain at peak (prob)": _fmt(pk, "gain_prob"),
                                 "joint effect (logit)": _fmt(pk, "joint_logit")}]),
                  caption="Peak of the mean spacing curve (bootstrap over sequences for the spacing interval)")
    return sec

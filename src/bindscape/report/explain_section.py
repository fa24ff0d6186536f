"""The report section for `bindscape explain`: CWM logos of TF-MoDISco patterns with their Tomtom matches,
example attribution tracks, k-mer enrichment tables and the interpretation benchmark table.

`results` is the plain dict `bindscape.explain.pipeline.explain_run` returns (keys used when present:
``method``, ``meta``, ``tracks``, ``patterns``, ``annotation``, ``kmers``, ``benchmark``).
"""

from __future__ import annotations

import numpy as np


def add_explain_section(report, results: dict, *, title: str = "Interpretation", max_patterns: int = 8,
                        max_kmers: int = 30):
    """Add the interpretation section (logos, Tomtom table, tracks, k-mers, benchmark) to a report.

    Parameters
    ----------
    report
        The `bindscape.report.html.Report` to add to.
    results
        The `explain_run` dict (see the module docstring).
    title
        Section title.
    max_patterns
        Most MoDISco pattern logos shown.
    max_kmers
        Most k-mer table rows shown.

    Returns
    -------
    Section
        The new section.
    """
    from bindscape.report import figures

    meta = results.get("meta", {})
    intro = (f"Attributions by **{results.get('method', meta.get('method', '?'))}** on the {meta.get('n', '?')} "
             f"strongest true positives of split *{meta.get('split', '?')}*.") if meta else None
    sec = report.section(title, intro=intro)
    ann = results.get("annotation")
    for p in list(results.get("patterns", []))[:max_patterns]:
        cap = f"{p.name}: {p.n_seqlets} seqlets, consensus {p.consensus}"
        if ann is not None and len(ann):
            best = ann[ann["pattern"] == p.name]
            if len(best):
                b = best.iloc[0]
                cap += f"; Tomtom best match {b['target']} ({b['target_id']}), q = {b['q']:.2g}"
        sec.figure(figures.logo(p.trimmed_cwm, title=p.name, ylabel="contribution"), caption=cap)
    if ann is not None and len(ann):
        sec.table(ann, caption="TF-MoDISco patterns and their Tomtom matches (q: Benjamini-Hochberg over targets)",
                  float_format={"p": "{:.2e}", "q": "{:.2e}"})
    for t in results.get("tracks", []):
        sec.figure(figures.attribution_track(np.asarray(t["scores"]), t.get("sequence"), title=t["name"]),
                   caption=f"attribution track: {t['name']}")
    km = results.get("kmers")
    if km is not None and len(km):
        sec.table(km.head(max_kmers), caption=f"{km.attrs.get('k', 5)}-mer enrichment in the top "
                  f"{100 * km.attrs.get('top_frac', 0.01):g}% attribution windows (one-sided Fisher, Bonferroni)",
                  float_format={"p": "{:.2e}", "p_bonferroni": "{:.2e}"})
    bench = results.get("benchmark")
    if bench is not None and len(bench):
        sec.table(bench, caption="Interpretation benchmark (planted TAL1 context motifs)",
                  highlight_max=[c for c in ("accuracy", "recall", "auroc", "snr") if c in bench],
                  highlight_min=[c for c in ("runtime_s",) if c in bench], float_format="{:.3g}")
    return sec

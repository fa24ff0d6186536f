"""The report section of `bindscape variants`: allele counts by type and status, the effect distribution, the
top alleles, and reference/alternative DeepLIFT-SHAP logos around each top variant.

`add_variants_section` adds the section to any `bindscape.report.html.Report`; `write_variants_report`
writes a self-contained HTML file with it. Inputs are what `bindscape.explain.variants.score_variants` and
`attribute_variants` return.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: bases either side of the variant shown in the attribution logos
LOGO_FLANK = 15


def _zoom(scores: np.ndarray, x: np.ndarray, centre: int, flank: int) -> tuple[np.ndarray, str, int]:
    """Per-position scores and letters of ``[centre - flank, centre + flank]`` (clipped to the window)."""
    from bindscape.io.genome import decode

    L = len(scores)
    a, b = max(0, centre - flank), min(L, centre + flank + 1)
    codes = np.where(x.sum(0) > 0, x.argmax(0), 4)
    return scores[a:b], decode(codes[a:b]), a


def _add_logos(sec, attrs: dict, flank: int) -> None:
    from bindscape.report import figures

    c = int(attrs["centre"])
    rows = attrs["rows"]
    for i, r in enumerate(rows.itertuples(index=False)):
        label = f"{r.chrom}:{r.pos} {r.ref[:12]}>{r.alt[:12]}"
        for which in ("ref", "alt"):
            s, seq, a = _zoom(attrs[f"{which}_attr"][i], attrs[f"{which}_x"][i], c, flank)
            fig = figures.attribution_track(s, seq, title=f"{label} ({which})", start=int(r.window_start) + a + 1)
            sec.figure(fig, caption=f"{which} allele of **{label}** (effect {r.effect:+.3f}): DeepLIFT-SHAP "
                       f"contribution per base, {flank} bp either side of the variant (1-based genome positions; "
                       "the alt window's positions right of an indel are shifted)")


def add_variants_section(report, res, attrs: dict | None = None, *, title: str = "Variant effects", top: int = 20,
                         flank: int = LOGO_FLANK):
    """Add the variant-effect section to a report.

    Parameters
    ----------
    report
        A `bindscape.report.html.Report`.
    res
        The `bindscape.explain.variants.VariantScores` of the run.
    attrs
        `bindscape.explain.variants.attribute_variants` output (None: no logos).
    title
        Section title.
    top
        Rows of the top-alleles table.
    flank
        Bases either side of the variant in the logos.

    Returns
    -------
    Section
    """
    from bindscape.explain.variants import summarise, top_variants
    from bindscape.report import figures

    t = res.table
    ok = t[t["status"] == "ok"]
    sec = report.section(title, intro=(
        f"{len(t):,} ALT alleles scored with `{res.checkpoint}` on {res.length}-bp windows centred on each "
        "variant, both strands averaged. **effect** is alt - ref in logit (log odds ratio); negative values "
        "mean the alternative allele lowers predicted binding."))
    counts = summarise(t).reset_index().rename(columns={"index": "type"})
    sec.table(counts, caption="alleles by type (rows) and status (columns); only `ok` alleles are scored",
              float_format="{:.0f}")
    if len(ok):
        series = {"all": ok["effect"].to_numpy()}
        for ty in ("snv", "deletion", "insertion"):
            sub = ok.loc[ok["type"] == ty, "effect"].to_numpy()
            if len(sub) and len(sub) < len(ok):
                series[ty] = sub
        sec.figure(figures.histograms(series, bins=40, xlabel="effect (alt - ref, logit)", density=False,
                                      title="effect distribution"), caption="distribution of effects by type")
        best = top_variants(t, top)
        keep = [c for c in ("line", "chrom", "pos", "id", "ref", "alt", "type", "ref_prob", "alt_prob",
                            "delta_prob", "effect") if c in best]
        sec.table(best[keep], caption=f"the {len(best)} alleles with the largest |effect|",
                  float_format={"pos": "{:.0f}", "line": "{:.0f}"})
    skipped = t[t["status"] != "ok"]
    if len(skipped):
        sec.table(skipped[["line", "chrom", "pos", "ref", "alt", "status", "note"]].head(50),
                  caption=f"alleles not scored ({len(skipped):,}; first 50)", float_format="{:.0f}")
    if attrs is not None and len(attrs["rows"]):
        sec.heading("Attributions of the top alleles")
        _add_logos(sec, attrs, flank)
    return sec


def write_variants_report(path: str | Path, res, attrs: dict | None = None, *, vcf: str | Path | None = None,
                          command: str | None = None) -> Path:
    """Write a self-contained HTML report of a `bindscape variants` run.

    Parameters
    ----------
    path
        Output ``.html`` file (written atomically).
    res
        The `VariantScores`.
    attrs
        `attribute_variants` output, or None.
    vcf
        The VCF's path (for the subtitle).
    command
        The command line shown in the header.

    Returns
    -------
    Path
    """
    from bindscape.report import Report

    r = Report(title="bindscape variants", subtitle=f"{vcf}" if vcf else None, command=command)
    add_variants_section(r, res, attrs)
    return r.write(path)

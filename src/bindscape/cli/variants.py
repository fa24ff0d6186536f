"""`bindscape variants`: variant effects (alt - ref) from a VCF with any checkpoint.

Scoring, the window rule and the statuses are in `bindscape.explain.variants`; the HTML section in
`bindscape.report.variants`; the closing table in `bindscape.cli.summary.variants_summary`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import TABLE_SUFFIXES, at_least, suffixes


def _attribution_path(out: Path) -> Path:
    name = out.name
    for s in TABLE_SUFFIXES:
        if name.lower().endswith(s):
            name = name[: -len(s)]
            break
    return out.with_name(f"{name}.attributions.npz")


def variants_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="best.ckpt / model.pt, a run folder or an "
                                    "ensemble folder (anything `bindscape predict` takes)."),
    genome: Path = typer.Option(..., "--genome", "-g", help="Genome FASTA the VCF's coordinates refer to."),
    vcf: Path = typer.Option(..., "--vcf", help="VCF (.vcf, .vcf.gz bgzip/gzip with or without index, .bcf)."),
    out: Path = typer.Option(..., "--out", "-o", callback=suffixes(*TABLE_SUFFIXES),
                             help="Output table (.tsv, .parquet or .csv): one row per ALT allele."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first REF mismatch, unknown chromosome, "
                                "symbolic allele or window past a chromosome end (default: report them)."),
    chrom_alias: str = typer.Option(None, "--chrom-alias", help="Rename VCF chromosomes: 'auto' (1 <-> chr1, "
                                    "MT <-> chrM) or 'FROM=TO,...'."),
    attribute_top: int = typer.Option(0, "--attribute-top", callback=at_least(0),
                                      help="DeepLIFT-SHAP of ref and alt for the K largest |effect| alleles."),
    n_baselines: int = typer.Option(10, "--n-baselines", callback=at_least(1),
                                    help="Shuffled references per window (--attribute-top)."),
    report: Path = typer.Option(None, "--report", callback=suffixes(".html"),
                                help="Write an HTML report (effect histogram, top alleles, attribution logos)."),
    bp_span: int = typer.Option(1, "--bp-span", callback=at_least(1), help="Multitask (per-bp) checkpoints: "
                                "positions centred on the variant whose logits are averaged."),
    batch_size: int = typer.Option(256, "--batch-size", callback=at_least(1), help="Windows per forward pass."),
    threads: int = typer.Option(None, "--threads", callback=at_least(1), help="CPU threads for torch "
                                "(default: torch's choice)."),
    seed: int = typer.Option(0, "--seed", callback=at_least(0), help="Seed of the attribution references."),
):
    """Score VCF variants (SNVs, deletions, insertions) as alt - ref on windows centred on each variant."""
    import time

    from bindscape._util import check_writable

    check_writable(out, "--out", is_dir=False)
    if report is not None:
        check_writable(report, "--report", is_dir=False)
    t0 = time.perf_counter()
    import torch

    if threads:
        torch.set_num_threads(threads)
    from bindscape.explain.variants import attribute_variants, score_variants
    from bindscape.io.genome import Genome
    from bindscape.train import load_checkpoint, write_table

    loaded = load_checkpoint(checkpoint)
    g = Genome(genome)
    res = score_variants(loaded, g, vcf, batch_size=batch_size, strict=strict, bp_span=bp_span,
                         chrom_alias=chrom_alias)
    write_table(res.table, out)
    written = [str(out)]
    attrs = None
    if attribute_top and (res.table["status"] == "ok").any():
        import numpy as np

        from bindscape._util import atomic_path

        attrs = attribute_variants(loaded, g, res.table, attribute_top, n_baselines=n_baselines, random_state=seed)
        npz = _attribution_path(out)
        with atomic_path(npz) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, line=attrs["rows"]["line"].to_numpy(), allele=attrs["rows"]["allele"].to_numpy(),
                                ref_x=attrs["ref_x"], alt_x=attrs["alt_x"], ref_attr=attrs["ref_attr"],
                                alt_attr=attrs["alt_attr"])
        written.append(str(npz))
    if report is not None:
        from bindscape.report.variants import write_variants_report

        write_variants_report(report, res, attrs, vcf=vcf, command="bindscape variants")
        written.append(str(report))
    from bindscape.cli.summary import variants_summary

    variants_summary(res.table, title=f"{vcf.name}: {len(res.table):,} alleles -> {', '.join(written)}",
                     seconds=time.perf_counter() - t0)
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape variants` to `app`, the root `bindscape` typer app."""
    app.command("variants")(variants_cmd)

"""`bindscape explain`: attributions, TF-MoDISco + Tomtom and k-mer enrichment for a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import PROBABILITY, at_least


def explain_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="best.ckpt / model.pt, or a run folder."),
    method: str = typer.Option("deeplift_shap", "--method", "-m", help="saliency | grad_x_input | ism | gradcam | "
                               "gradcam_x_saliency | integrated_gradients | expected_integrated_gradients | "
                               "deeplift_shap"),
    dataset: Path = typer.Option(None, "--dataset", "-d", help="Dataset folder (default: the checkpoint's)."),
    split: str = typer.Option("test", "--split", help="Split to explain (train|val|test|all)."),
    n: int = typer.Option(500, "--n", callback=at_least(1), help="Number of strongest true positives to explain."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: <run>/explain-<method>)."),
    target: int = typer.Option(0, "--target", callback=at_least(0), help="Output (logit) index to explain."),
    modisco: bool = typer.Option(False, "--modisco", help="Run TF-MoDISco and annotate patterns with Tomtom."),
    motifs: str = typer.Option(None, "--motifs", help="Motif database for Tomtom (MEME/JASPAR file; default "
                               "JASPAR CORE)."),
    kmers: bool = typer.Option(False, "--kmers", help="5-mer enrichment in top attribution windows (Fisher)."),
    k: int = typer.Option(5, "--k", callback=at_least(1), help="k-mer length."),
    top_frac: float = typer.Option(0.01, "--top-frac", callback=PROBABILITY, help="Share of windows in the top set."),
    core_motif: str = typer.Option(None, "--core-motif", help="Exclude each sequence's best match of this motif "
                                   "(JASPAR ID or file) from the k-mer test."),
    tss: Path = typer.Option(None, "--tss", help="BED of TSSs: split k-mer tests into promoter-proximal/distal."),
    rc_average: bool = typer.Option(False, "--rc-average", help="Average attributions over both strands."),
    batch_size: int = typer.Option(64, "--batch-size", callback=at_least(1)),
    n_steps: int = typer.Option(50, "--n-steps", callback=at_least(1), help="IG integration steps / EIG samples."),
    n_baselines: int = typer.Option(10, "--n-baselines", callback=at_least(1), help="Shuffled references (DeepLIFT-SHAP, EIG)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html into the output folder."),
    seed: int = typer.Option(0, "--seed", callback=at_least(0)),
    allow_genome_change: bool = typer.Option(False, "--allow-genome-change", help="Explain the dataset even "
                                             "when its genome file changed since it was built (sha256 differs)."),
):
    """Explain a checkpoint: attributions of its strongest true positives, optional motifs and k-mers."""
    from bindscape.cli.train import allow_genome_changes

    allow_genome_changes(allow_genome_change)
    from bindscape.explain.attributions import check_method

    method = check_method(method)  # a bad name fails here, before any work (exit 2, valid names listed)
    from rich.console import Console

    from bindscape.explain.pipeline import explain_run, write_outputs

    res = explain_run(checkpoint, method=method, dataset=dataset, split=split, n=n, target=target,
                      batch_size=batch_size, rc_average=rc_average, modisco=modisco, motifs=motifs, kmers=kmers,
                      k=k, top_frac=top_frac, core_motif=core_motif, tss=tss, n_steps=n_steps,
                      n_baselines=n_baselines, random_state=seed)
    if out is None:
        ck = Path(res["meta"]["checkpoint"])
        run = ck.parent.parent if ck.parent.name == "checkpoints" else ck.parent
        out = run / f"explain-{method}"
    paths = write_outputs(res, out)
    con = Console()
    if report:
        from bindscape.report import Report
        from bindscape.report.explain_section import add_explain_section

        r = Report(title=f"bindscape explain: {method}", command="bindscape explain")
        add_explain_section(r, res)
        paths.append(r.write(out / "report.html"))
    con.print(f"explained {res['meta']['n']} sequences with {method} in {res['timings']['attribute_s']:.1f}s -> {out}")
    if "annotation" in res and len(res["annotation"]):
        a = res["annotation"].drop_duplicates("pattern").head(5)
        for row in a.itertuples(index=False):
            con.print(f"  {row.pattern}: {row.n_seqlets} seqlets {row.consensus} ~ {row.target} ({row.target_id}) "
                      f"q={row.q:.2g}")
    if "kmers" in res:
        km = res["kmers"]
        con.print(f"  {int(km['significant'].sum())} significant {k}-mers; top: "
                  + ", ".join(km["kmer"].head(5).tolist()))
    return 0


def register(app: typer.Typer) -> None:
    """Add `bindscape explain` to `app`, the root `bindscape` typer app."""
    app.command("explain")(explain_cmd)

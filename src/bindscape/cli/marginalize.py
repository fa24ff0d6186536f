"""`bindscape marginalize`: insert a motif (and a partner at a range of spacings) into background sequences
and report the predicted change with 95% intervals (`bindscape.explain.marginalize`)."""

from __future__ import annotations

from pathlib import Path

import typer

from bindscape.cli.options import at_least


def marginalize_cmd(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="best.ckpt / model.pt, or a run folder."),
    motif: str = typer.Option(..., "--motif", "-m", help="Motif to insert: JASPAR ID or TF name, a MEME/JASPAR "
                              "file (FILE:NAME for one of many), or a consensus such as TGACTCA."),
    partner: str = typer.Option(None, "--partner", help="Second motif (same forms) placed at every --spacing."),
    spacing: str = typer.Option(None, "--spacing", help="Gaps START:STOP[:STEP] in bp (both ends included) between "
                                "the end of the first motif and the start of the second."),
    n: int = typer.Option(500, "--n", callback=at_least(1), help="Number of background sequences."),
    background: str = typer.Option("shuffle", "--background", help="shuffle (dinucleotide-shuffled training "
                                   "windows) | genomic (genome windows GC-matched to the training windows)."),
    insert: str = typer.Option("consensus", "--insert", help="consensus (the motif's consensus in every sequence) "
                               "| sampled (one instance per sequence drawn from the PPM)."),
    dataset: Path = typer.Option(None, "--dataset", "-d", help="Dataset folder (default: the checkpoint's)."),
    genome: Path = typer.Option(None, "--genome", "-g", help="Genome FASTA (default: the dataset's); alone, "
                                "--background genomic draws random windows without GC matching."),
    target: int = typer.Option(0, "--target", callback=at_least(0), help="Output (logit) index."),
    batch_size: int = typer.Option(256, "--batch-size", callback=at_least(1)),
    truth: int = typer.Option(None, "--truth", callback=at_least(0), help="A known preferred spacing to mark on "
                              "the figure (e.g. the simulator's partner_spacing)."),
    seed: int = typer.Option(0, "--seed", callback=at_least(0), help="Random seed."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (curve.tsv, effect.tsv, summary.json, "
                             "marginalize.png, report.html)."),
):
    """Insert a motif into background sequences and measure the predicted change (and the spacing curve)."""
    from bindscape.errors import InputError
    from bindscape.explain.marginalize import BACKGROUNDS, INSERTS, run_marginalize, write_outputs

    if background not in BACKGROUNDS:  # checked before the checkpoint is loaded
        raise InputError(f"--background {background!r}: expected one of {', '.join(BACKGROUNDS)}")
    if insert not in INSERTS:
        raise InputError(f"--insert {insert!r}: expected one of {', '.join(INSERTS)}")
    res = run_marginalize(checkpoint, motif, partner=partner, spacing=spacing, n=n, background=background,
                          dataset=dataset, genome=genome, insert=insert, seed=seed, batch_size=batch_size,
                          target=target, progress=True)
    paths = write_outputs(res, out)
    from bindscape.report import Report
    from bindscape.report.marginalize import add_marginalize_section, spacing_figure

    if "curve" in res:
        fig = spacing_figure(res["curve"], title=f"{res['meta']['motif']} + {res['meta']['partner']}", truth=truth)
        fig.savefig(Path(out) / "marginalize.png", dpi=110)
        paths.append(Path(out) / "marginalize.png")
    r = Report(title=f"bindscape marginalize: {res['meta']['motif']}", command="bindscape marginalize")
    add_marginalize_section(r, res, truth=truth)
    paths.append(r.write(Path(out) / "report.html"))
    _summary(res, out)
    return 0


def _summary(res: dict, out: Path) -> None:
    """The end-of-command table: single-motif effect and, with a partner, the peak spacing."""
    from rich.console import Console
    from rich.table import Table

    s, meta = res["single"]["summary"], res["meta"]
    t = Table(title=f"bindscape marginalize: {meta['motif']} in {meta['n']} {meta['background']} backgrounds")
    for c in ("what", "spacing (bp)", "change (logit) [95% CI]", "change (prob) [95% CI]"):
        t.add_column(c, justify="left" if c == "what" else "right")

    def ci(d, k):
        return f"{d[k]:.3f} [{d[k + '_lo']:.3f}, {d[k + '_hi']:.3f}]"

    t.add_row(f"{meta['motif']} alone", "-", ci(s, "delta_logit"), ci(s, "delta_prob"))
    if "peak" in res:
        p = res["peak"]
        t.add_row(f"+ {meta['partner']} (gain at peak)", f"{p['spacing']} [{p['spacing_lo']}-{p['spacing_hi']}]",
                  ci(p, "gain_logit"), ci(p, "gain_prob"))
        t.add_row("both vs background at peak", str(p["spacing"]), ci(p, "joint_logit"), ci(p, "joint_prob"))
    con = Console()
    con.print(t)
    con.print(f"done in {meta['seconds']:.1f} s -> {out}")


def register(app: typer.Typer) -> None:
    """Add `bindscape marginalize` to `app`, the root `bindscape` typer app."""
    app.command("marginalize")(marginalize_cmd)

"""`explain_run`: the whole `bindscape explain` workflow on a checkpoint, returning plain data.

Select strong true positives of a dataset split (highest predicted probability among label-1 windows),
compute attributions, and optionally run TF-MoDISco + Tomtom and k-mer enrichment. Everything returned is
numpy / pandas (the report layer draws it; this layer never imports `bindscape.report`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError
from bindscape.explain.attributions import attribute, check_method, hypothetical, position_scores


def select_true_positives(model, dataset, *, split: str | None = "test", n: int = 500, label_column: str = "label",
                          batch_size: int = 256, rc_average: bool = True):
    """One-hot windows of the `n` label-1 regions with the highest predicted probability, plus their rows
    (with a ``prob`` column). `split` None or ``"all"`` uses every split.

    Parameters
    ----------
    model
        The model (put in eval mode).
    dataset
        The loaded dataset.
    split
        See above.
    n
        Number of windows kept.
    label_column
        Label column; a row is positive when its label is above 0.5.
    batch_size
        Windows per prediction batch.
    rc_average
        Average the predictions of both strands.

    Returns
    -------
    tuple[numpy.ndarray, pandas.DataFrame]
        ``(n, 4, L)`` float32 one-hot, highest probability first, and their region rows.
    """
    from bindscape.train import predict_proba, torch_dataset

    split = None if split in (None, "all") else split
    rd = torch_dataset(dataset, split, label_columns=[label_column])
    pos = np.flatnonzero(np.asarray(rd.labels).reshape(len(rd), -1).max(axis=1) > 0.5)
    if len(pos) == 0:
        raise ConfigError(f"no positives in split {split or 'all'!r}")
    probs = np.empty(len(pos), dtype=np.float32)
    xs = []
    model.eval()
    for s in range(0, len(pos), batch_size):
        x, _ = rd.__getitems__(pos[s:s + batch_size].tolist())
        probs[s:s + len(x)] = predict_proba(model, x, rc_average)[:, 0].numpy()  # the one RC helper
        xs.append(x.numpy())
    x = np.concatenate(xs)
    order = np.argsort(-probs, kind="stable")[:n]
    regions = getattr(rd, "regions", None)
    if regions is None:
        regions = dataset.regions if split is None else dataset.split(split)
    rows = regions.iloc[pos[order]].copy().reset_index(drop=True)
    rows["prob"] = probs[order]
    return x[order], rows


def core_mask_from_motif(x: np.ndarray, motif, *, flank: int = 0) -> np.ndarray:
    """Bool (N, L) marking each sequence's best match (either strand) of `motif` (a `bindscape.motifs.Motif`
    or a (4, W) log-odds matrix), widened by `flank` bases: AgentBind's core motif to exclude.

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot sequences.
    motif
        See above (a Motif is converted with its default pseudocount).
    flank
        Bases added on each side of the match.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` bool.
    """
    pwm = motif.to_pwm() if hasattr(motif, "to_pwm") else np.asarray(motif, dtype=float)
    x = np.asarray(x, dtype=np.float32)
    N, _, L = x.shape
    W = pwm.shape[1]
    if W > L:
        raise ConfigError(f"core motif ({W} bp) is longer than the sequences ({L} bp)")
    win = np.lib.stride_tricks.sliding_window_view(x, W, axis=2)  # (N, 4, L-W+1, W)
    fwd = np.einsum("nbpw,bw->np", win, pwm)
    rev = np.einsum("nbpw,bw->np", win, pwm[::-1, ::-1])
    best = np.maximum(fwd, rev).argmax(axis=1)
    mask = np.zeros((N, L), dtype=bool)
    for i, b in enumerate(best):
        mask[i, max(0, b - flank):min(L, b + W + flank)] = True
    return mask


def explain_run(checkpoint, *, method: str = "deeplift_shap", dataset=None, split: str | None = "test",
                n: int = 500, target: int = 0, batch_size: int = 64, rc_average: bool = False,
                modisco: bool = False, modisco_method: str | None = None, motifs=None, annotate: bool = True,
                kmers: bool = False, k: int = 5, top_frac: float = 0.01, core_motif=None, tss=None, tss_distance: int = 1000,
                n_steps: int = 50, n_baselines: int = 10, max_seqlets: int = 2000, n_tracks: int = 3,
                device=None, random_state: int = 0) -> dict:
    """Run attributions (+ MoDISco/Tomtom, + k-mer enrichment) for a checkpoint. Returns a dict with
    ``x``, ``attributions``, ``scores``, ``regions``, ``tracks`` and, when asked, ``patterns``,
    ``annotation`` (Tomtom table) and ``kmers`` (enrichment table), plus ``timings`` and ``meta``.

    Parameters
    ----------
    checkpoint, dataset
        The model checkpoint; the dataset folder (None: the one recorded in the checkpoint).
    method, target
        Attribution method (`bindscape.explain.attributions.METHODS` or an alias); output (logit) index.
    split, n
        Split the true positives come from (None or ``all``: every split); how many top-scoring ones.
    batch_size, rc_average, device
        Sequences per attribution batch; average over both strands; where to compute (None: model's device).
    n_steps, n_baselines
        IG/EIG steps and shuffled references per sequence (`attribute`).
    modisco, modisco_method, max_seqlets
        Also run TF-MoDISco on hypothetical contributions; its attribution method (None: `method`); most
        seqlets per metacluster.
    annotate, motifs
        Annotate the MoDISco patterns with Tomtom against the motif database `motifs` (`load_database`).
    kmers, k, top_frac
        Also compute k-mer enrichment in the top-scoring windows; k-mer length and top share of windows.
    core_motif
        Motif (anything `load_motif` takes) whose best match is excluded from the k-mer windows.
    tss, tss_distance
        TSS intervals (table or BED path): k-mer enrichment per proximal/distal group; largest distance (bp)
        of a proximal region's centre from a TSS.
    n_tracks, random_state
        Number of top sequences given as score tracks; seed of shuffled references and MoDISco.
    """
    from bindscape.data.dataset import load_dataset
    from bindscape.train import load_checkpoint

    method = check_method(method)
    t0 = time.perf_counter()
    loaded = load_checkpoint(checkpoint)
    model = loaded.model
    ds_path = dataset or loaded.config.get("dataset")
    if not ds_path:
        raise ConfigError("no dataset given and the checkpoint names none", hint="pass --dataset")
    ds = load_dataset(ds_path)
    x, rows = select_true_positives(model, ds, split=split, n=n, batch_size=max(batch_size, 128),
                                    rc_average=loaded.rc_average)
    timings = {"select_s": time.perf_counter() - t0}
    t1 = time.perf_counter()
    attr = attribute(model, x, method, target=target, batch_size=batch_size, rc_average=rc_average,
                     n_steps=n_steps, n_baselines=n_baselines, device=device, random_state=random_state)
    timings["attribute_s"] = time.perf_counter() - t1
    scores = position_scores(attr, x, method)
    out = {"x": x, "attributions": attr, "scores": scores, "regions": rows, "method": method, "timings": timings}
    out["tracks"] = _score_tracks(x, scores, rows, n_tracks)
    if modisco:
        t2 = time.perf_counter()
        hyp = _hypothetical_for_modisco(model, x, attr, method, modisco_method, target=target, batch_size=batch_size,
                                        n_steps=n_steps, n_baselines=n_baselines, rc_average=rc_average,
                                        device=device, random_state=random_state)
        out.update(_modisco_patterns(x, hyp, max_seqlets=max_seqlets, random_state=random_state,
                                     annotate=annotate, motifs=motifs))
        timings["modisco_s"] = time.perf_counter() - t2
    if kmers:
        t3 = time.perf_counter()
        out["kmers"] = _kmer_table(x, scores, rows, k=k, top_frac=top_frac, core_motif=core_motif, tss=tss,
                                   tss_distance=tss_distance)
        timings["kmers_s"] = time.perf_counter() - t3
    out["meta"] = {"checkpoint": str(loaded.path), "dataset": str(ds_path), "split": split or "all",
                   "n": int(len(x)), "method": method, "target": target, "rc_average": rc_average}
    return out


def _hypothetical_for_modisco(model, x, attr, method: str, modisco_method: str | None, *, target, batch_size,
                              n_steps, n_baselines, rc_average, device, random_state) -> np.ndarray:
    """Hypothetical contributions for MoDISco by `modisco_method` (None: `method`, whose attributions `attr`
    are reused when they can be); arguments as in `explain_run`."""
    mm = check_method(modisco_method or method)
    if mm == "deeplift_shap":
        return attribute(model, x, "deeplift_shap", target=target, batch_size=batch_size,
                         n_baselines=n_baselines, device=device, random_state=random_state, hypothetical=True,
                         rc_average=rc_average)
    a2 = attr if mm == method else attribute(model, x, mm, target=target, batch_size=batch_size,
                                             n_steps=n_steps, device=device, random_state=random_state)
    return hypothetical(a2, x, mm)


def _modisco_patterns(x, hyp, *, max_seqlets, random_state, annotate, motifs) -> dict:
    """``patterns`` (TF-MoDISco on hypothetical contributions `hyp`) and, with `annotate`, their Tomtom
    ``annotation`` against `motifs`."""
    from bindscape.explain.modisco import annotate_patterns, run_modisco

    patterns = run_modisco(x, hyp, max_seqlets=max_seqlets, random_state=random_state)
    out = {"patterns": patterns}
    if annotate:  # Tomtom; its numba kernel takes ~1.5 min to compile on first use
        out["annotation"] = annotate_patterns(patterns, motifs)
    return out


def _score_tracks(x: np.ndarray, scores: np.ndarray, rows: pd.DataFrame, n_tracks: int) -> list[dict]:
    """The first `n_tracks` sequences as score tracks: ``name`` (location and probability), ``scores`` and
    ``sequence`` (letters of the one-hot `x`, N where a column is all zero)."""
    seqs = ["".join("ACGTN"[c] for c in np.where(x[i].sum(0) > 0, x[i].argmax(0), 4)) for i in range(len(x))]

    def _name(i, r):
        loc = f"{r['chrom']}:{r['start']}-{r['end']}" if {"chrom", "start", "end"} <= set(r.index) else f"#{i}"
        return f"{loc} (p={r['prob']:.3f})"

    return [{"name": _name(i, r), "scores": scores[i], "sequence": seqs[i]}
            for i, (_, r) in enumerate(rows.head(n_tracks).iterrows())]


def _kmer_table(x, scores, rows, *, k, top_frac, core_motif, tss, tss_distance) -> pd.DataFrame:
    """k-mer enrichment in the top-scoring windows (per TSS-proximal/distal group when `tss` is given),
    without the best match of `core_motif`; arguments as in `explain_run`."""
    from bindscape.explain.kmers import kmer_enrichment, kmer_enrichment_by_group, tss_groups

    core = None
    if core_motif is not None:
        from bindscape.motifs import load_motif

        core = core_mask_from_motif(x, load_motif(core_motif))
    if tss is None:
        return kmer_enrichment(scores, x, k=k, top_frac=top_frac, core_mask=core)
    from bindscape.io.bed import read_bed

    tss_df = tss if isinstance(tss, pd.DataFrame) else read_bed(tss)
    groups = tss_groups(rows, tss_df, distance=tss_distance)
    return kmer_enrichment_by_group(scores, x, groups, k=k, top_frac=top_frac, core_mask=core)


def write_outputs(result: dict, out_dir) -> list[Path]:
    """Write a result of `explain_run` into `out_dir` (atomically): attributions.npz, regions.tsv and, when
    present, modisco_patterns.tsv, modisco_cwms.npz, kmers.tsv; summary.json. Returns the paths.

    Parameters
    ----------
    result
        What `explain_run` returned.
    out_dir
        Output folder (created if missing).

    Returns
    -------
    list[Path]
        The files written, summary.json last.
    """
    from bindscape._util import atomic_path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    p = out / "attributions.npz"
    with atomic_path(p) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, x=result["x"].astype(np.uint8), attributions=result["attributions"],
                                scores=result["scores"])
    paths.append(p)

    def table(df, name):
        q = out / name
        with atomic_path(q) as tmp:
            df.to_csv(tmp, sep="\t", index=False)
        paths.append(q)

    table(result["regions"].drop(columns=[c for c in ("sequence",) if c in result["regions"]]), "regions.tsv")
    if "annotation" in result:
        table(result["annotation"], "modisco_patterns.tsv")
        q = out / "modisco_cwms.npz"
        with atomic_path(q) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **{pt.name + "_cwm": pt.cwm for pt in result["patterns"]},
                                    **{pt.name + "_ppm": pt.ppm for pt in result["patterns"]})
        paths.append(q)
    if "kmers" in result:
        table(result["kmers"], "kmers.tsv")
    s = out / "summary.json"
    with atomic_path(s) as tmp:
        Path(tmp).write_text(json.dumps({**result["meta"], "timings": result["timings"]}, indent=2))
    paths.append(s)
    return paths

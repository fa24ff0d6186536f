"""The report of a ``multitask-bp`` recipe run, from the CSV/JSON files its evaluate stage wrote.

Sections: multitask vs single-task auPRC per condition and resolution, transfer to held-out conditions (with
differences to each baseline and the cell-embedding swap), calling by IOU threshold vs CRF, and a PCA plot of
the learned TF and cell-type embeddings.

`recipe` is the ``multitask-bp`` recipe model (duck-typed: only ``name`` is read).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.report.sections import read_table, table_section


def embedding_pca_figure(emb: dict):
    """PCA scatter plots of the TF and cell-type embeddings, one panel each.

    Parameters
    ----------
    emb
        ``{"tfs": names, "tf": vectors, "cells": names, "cell": vectors}`` (``embeddings.json``).

    Returns
    -------
    A matplotlib Figure.
    """
    from bindscape.report.figures import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, names, key, title in ((axes[0], emb["tfs"], "tf", "TF embeddings"),
                                  (axes[1], emb["cells"], "cell", "cell-type embeddings")):
        X = np.asarray(emb[key])
        X = X - X.mean(0)
        u, s, vt = np.linalg.svd(X, full_matrices=False)
        P = X @ vt[:2].T if X.shape[0] > 1 else np.zeros((1, 2))
        ax.scatter(P[:, 0], P[:, 1] if P.shape[1] > 1 else 0 * P[:, 0])
        for n, (a, b) in zip(names, P[:, :2] if P.shape[1] > 1 else np.c_[P[:, 0], 0 * P[:, 0]]):
            ax.annotate(n, (a, b))
        ax.set_title(f"{title} (PCA)")
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    fig.tight_layout()
    return fig


def write_report(recipe, run_dir: str | Path) -> Path:
    """Write ``report.html`` of a finished ``multitask-bp`` run.

    Parameters
    ----------
    recipe
        The ``multitask-bp`` recipe (its name titles the report).
    run_dir
        Where the evaluate stage wrote ``comparison.csv``, ``transfer*.csv``, ``calling.csv`` and
        ``embeddings.json``; the report is written there too.

    Returns
    -------
    Path of ``report.html``.
    """
    from bindscape.report import Report

    run_dir = Path(run_dir)
    rep = Report(f"bindscape: {recipe.name}", subtitle="NetTIME-style multitask base-pair prediction")
    comp = pd.read_csv(run_dir / "comparison.csv")
    wide = comp.pivot_table(index=["condition", "resolution"], columns="model", values="auprc").reset_index()
    table_section(rep, "Multitask vs single-task", wide,
                  "Test-chromosome auPRC of max-pooled per-bp scores, per condition.", float_format="{:.3f}")
    tr = read_table(run_dir / "transfer.csv")
    if tr is not None:
        t = tr.pivot_table(index=["condition", "resolution"], columns="method", values="auprc").reset_index()
        table_section(rep, "Transfer to held-out conditions", t, float_format="{:.3f}")
        table_section(rep, "Transfer: embedding transfer minus each baseline", read_table(run_dir / "transfer_ci.csv"),
                      "auPRC difference with a 95% interval from resampling test windows; an interval that "
                      "contains 0 means the test set cannot tell the two apart.", float_format="{:.3f}")
        sw = read_table(run_dir / "cell_embedding_swap.csv")
        if sw is not None:
            t = sw.pivot_table(index="condition", columns="cell_embedding", values="auprc_1bp").reset_index()
            table_section(rep, "Transfer: the held-out TF with each cell type's embedding", t,
                          "1-bp auPRC on the held-out condition's test windows. Columns that barely differ mean "
                          "the model ignores the cell embedding, so transfer can only tie the average of cell "
                          "types.", float_format="{:.3f}")
    table_section(rep, "Calling: threshold by IOU vs CRF", pd.read_csv(run_dir / "calling.csv"),
                  "Transition rate = label changes per bp step.", float_format="{:.4f}")
    emb = json.loads((run_dir / "embeddings.json").read_text())
    rep.section("Embeddings").figure(embedding_pca_figure(emb),
                                     caption="PCA of the learned TF and cell-type embeddings")
    return rep.write(run_dir / "report.html")


__all__ = ["embedding_pca_figure", "write_report"]

"""`model.motifs: auto`: the motifs of a motif-initialised model chosen from JASPAR on the training split.

`config_motifs(model_config, ...)` turns a config's ``model.motifs`` into the motif list that
`bindscape.models.motif_init.motif_model` initialises the first layer from: named motifs are loaded as
before; ``auto`` / ``auto:K`` reads the training split (and only that: the caller passes it), checks K
against the first DNA convolution (two filters per motif) and calls
`bindscape.motifs.enrichment.select_enriched` with that layer's kernel as the widest motif allowed (wider
candidates are skipped and counted in the log line rather than failing, as a named motif would).
`write_selection` puts the chosen motifs with their training auROC in the run folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bindscape.errors import ConfigError


def auto_k(motifs: list[str]) -> int | None:
    """K when ``motifs`` is ``[auto]`` / ``[auto:K]``, else None.

    Parameters
    ----------
    motifs : list of str
        A config's ``model.motifs``.

    Returns
    -------
    int or None
    """
    from bindscape.motifs.enrichment import parse_auto

    return parse_auto(motifs[0]) if len(motifs) == 1 else None


def first_layer_shape(name: str, params: dict, length: int, n_outputs: int) -> tuple[int, int]:
    """Kernel size and filter count of a registry model's first DNA convolution.

    The model is built under `torch.random.fork_rng`, so the caller's random state (and so the real model's
    initialisation) is the same as without this probe.

    Parameters
    ----------
    name : str
        Registry model name.
    params : dict
        Its constructor arguments.
    length, n_outputs : int
        Window length and outputs.

    Returns
    -------
    tuple of (int, int)
        ``(kernel, out_channels)``.
    """
    import torch

    from bindscape.models import get_model
    from bindscape.models.motif_init import first_dna_conv

    with torch.random.fork_rng(devices=[]):
        _, conv = first_dna_conv(get_model(name, **{**params, "length": length, "n_outputs": n_outputs}))
    return int(conv.kernel_size[0]), int(conv.out_channels)


def training_codes(train_data, max_sequences: int, seed: int, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Base codes and labels of (a seeded random subset of) a torch-style training dataset.

    Parameters
    ----------
    train_data
        A dataset with ``len``, ``labels`` and ``__getitems__(indices) -> (one-hot, labels)``, without
        augmentation (`bindscape.train.data.torch_dataset` of the training split).
    max_sequences : int
        Read at most this many rows.
    seed : int
        Seed of the subset.
    batch : int
        Rows read at a time.

    Returns
    -------
    tuple of np.ndarray
        ``(codes (n, L) uint8, labels (n,) or (n, K))``.
    """
    from bindscape.motifs.scan import onehot_to_codes

    n = len(train_data)
    idx = np.arange(n) if n <= max_sequences else np.sort(
        np.random.default_rng(seed).choice(n, size=max_sequences, replace=False))
    parts = [onehot_to_codes(np.asarray(train_data.__getitems__(idx[a:a + batch].tolist())[0]))
             for a in range(0, len(idx), batch)]
    codes = np.concatenate(parts) if parts else np.zeros((0, 0), np.uint8)
    return codes, np.asarray(train_data.labels)[idx]


def config_motifs(mc, *, length: int, n_outputs: int, train_data=None, background=None, seed: int = 0):
    """The motifs of ``model.motifs``: named ones loaded, or ``auto`` chosen on the training split.

    Parameters
    ----------
    mc
        The config's model section (``name``, ``params``, ``motifs``, ``motif_taxon``, ``motif_collection``).
    length, n_outputs : int
        Window length and outputs of the model.
    train_data : callable, optional
        Returns the training split as a torch-style dataset without augmentation (`training_codes`); only
        called for ``auto``.
    background : optional
        A, C, G, T frequencies of the log-odds (None: uniform).
    seed : int
        Seed of the training subset scored.

    Returns
    -------
    tuple
        ``(motifs, selection)``: a list of `bindscape.motifs.Motif` and the
        `bindscape.motifs.enrichment.Selection` (None for named motifs).
    """
    from bindscape.models.motif_init import load_model_motifs

    k = auto_k(list(mc.motifs))
    if k is None:
        return load_model_motifs(mc.motifs), None
    from bindscape.motifs.enrichment import DEFAULT_MAX_SEQUENCES, select_enriched

    if train_data is None:
        raise ConfigError(f"model.motifs: {mc.motifs[0]} needs the training split to choose motifs, which this "
                          "kind of training does not pass", hint="name the motifs (JASPAR IDs or a motif file)")
    kernel, channels = first_layer_shape(mc.name, dict(mc.params), length, n_outputs)
    if 2 * k > channels:
        raise ConfigError(f"model.motifs: {mc.motifs[0]}: {k} motifs need {2 * k} first-layer filters (both "
                          f"strands); model {mc.name!r} has {channels}",
                          hint=f"use auto:{channels // 2} or fewer, or more first-layer channels")
    codes, labels = training_codes(train_data(), DEFAULT_MAX_SEQUENCES, seed)
    sel = select_enriched(codes, labels, k=k, max_width=kernel, taxon=getattr(mc, "motif_taxon", "vertebrates"),
                          collection=getattr(mc, "motif_collection", "CORE"), background=background, seed=seed)
    return sel.motifs, sel


def write_selection(path: str | Path, selection) -> Path:
    """The chosen motifs as a tab-separated table (rank, id, name, width, train_auroc).

    Parameters
    ----------
    path : str or Path
        Output file (``<run>/motifs_auto.tsv``).
    selection : bindscape.motifs.enrichment.Selection
        What `config_motifs` chose.

    Returns
    -------
    Path
    """
    from bindscape._util import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        selection.table.to_csv(tmp, sep="\t", index=False)
    return path


__all__ = ["auto_k", "config_motifs", "first_layer_shape", "training_codes", "write_selection"]

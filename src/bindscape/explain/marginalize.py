"""Marginalisation and spacing experiments: insert a motif (or two) into background sequences and measure
the predicted change (tangermeme's ``marginalize``/``space``, gReLU's ``marginalize_patterns``,
``bpnet marginalize``).

- **Backgrounds** (`background_sequences`): ``shuffle`` takes N training-split windows of the dataset and
  dinucleotide-shuffles each (tangermeme's `dinucleotide_shuffle`); ``genomic`` draws N genome windows
  matched one-to-one on GC (and repeat) bin to N training-split windows (`bindscape.data.negatives.genomic`,
  the dataset's GC/repeat-matched negative sampler), or, given only a genome, uniformly random N-free
  windows (not GC-matched, and said so in the result).
- **Insertion**: the anchor motif's first base sits at ``L // 2 - W // 2`` (its middle at the window's
  middle, tangermeme's default). It is inserted as its consensus (``insert="consensus"``) or as one instance
  per background sequence sampled from its position probability matrix (``insert="sampled"``). The single-
  motif effect uses tangermeme's `marginalize` with the RC-averaged scorer below as ``func``.
- **Spacing convention**: ``spacing`` is the gap in bp between the end of the first motif (in sequence order)
  and the start of the second, exactly as the simulator's ``partner_spacing`` (`bindscape.simulate.binding`:
  a downstream partner starts at ``site_offset + W + gap``; an upstream one ends ``gap`` bp before the site).
  The anchor stays at the centre; the partner goes downstream (order ``AP``) or upstream (order ``PA``),
  on the + strand (its consensus) or the - strand (its reverse complement): four configurations. With
  strand-averaged predictions these four cover all eight (anchor strand x partner strand x order) up to
  reverse complement. The placement calls tangermeme's `multisubstitute` per spacing; tangermeme's `space`
  is not used because it centres the whole arrangement, so the anchor would move with the spacing (mixing a
  position effect into the spacing curve), and it cannot put the partner upstream of a fixed anchor.
- **Scores**: per sequence, the model's logits on both strands (one forward pass per strand); the
  RC-averaged logit is their mean and the RC-averaged probability the mean of their sigmoids, which is what
  `bindscape.train.rc.rc_averaged` computes in ``space="logit"`` and ``space="prob"`` (one pass each way
  instead of two).
- **Curve**: for every configuration and spacing, ``gain`` = f(background + anchor + partner) -
  f(background + anchor) (what the partner adds at that spacing) and ``joint`` = f(background + anchor +
  partner) - f(background), each as mean over the N sequences with a 95% t interval; ``config = "mean"``
  averages the four configurations per sequence first. The peak is the spacing of the largest mean logit
  gain of the ``mean`` curve, with a 95% bootstrap interval over sequences (argmax of resampled means).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError

ALPHABET = "ACGT"
BACKGROUNDS = ("shuffle", "genomic")
INSERTS = ("consensus", "sampled")
CONFIGS = (("AP", "+"), ("AP", "-"), ("PA", "+"), ("PA", "-"))
_SEQ = re.compile(r"^[ACGT]+$")


@dataclass
class InsertMotif:
    """A motif to insert: its name, its probability matrix ``(4, W)`` and its consensus."""

    name: str
    probs: np.ndarray
    consensus: str
    source: str = ""

    @property
    def width(self) -> int:
        """Motif length W."""
        return int(self.probs.shape[1])


@dataclass
class Background:
    """N background sequences ``(N, 4, L)`` float32 one-hot and how they were made."""

    x: np.ndarray
    kind: str
    description: str
    meta: dict = field(default_factory=dict)


def resolve_motif(key: str, *, flag: str = "--motif") -> InsertMotif:
    """A motif from a JASPAR ID or TF name, a motif file (MEME/JASPAR/TRANSFAC, ``FILE:NAME``) or a
    consensus sequence such as ``TGACTCA`` (upper-case A/C/G/T only; a TF whose name is made of those
    letters must be given by its JASPAR ID).

    Parameters
    ----------
    key
        What the user typed.
    flag
        The option named in errors.

    Returns
    -------
    InsertMotif
    """
    key = str(key).strip()
    if not key:
        raise InputError(f"{flag}: empty motif")
    if _SEQ.match(key) and not Path(key).exists():
        probs = np.eye(4)[:, [ALPHABET.index(c) for c in key]]
        return InsertMotif(key, probs, key, "consensus string")
    from bindscape.errors import BindscapeError
    from bindscape.motifs import load_motif

    try:
        m = load_motif(key)
    except BindscapeError as exc:
        raise InputError(f"{flag} {key}: {exc.message if hasattr(exc, 'message') else exc}",
                         hint="give a JASPAR ID (MA0114.4), a TF name, a MEME/JASPAR file or a consensus "
                              "sequence of A/C/G/T") from exc
    return InsertMotif(m.label, m.probs, m.consensus(), m.source or "file")


def parse_spacing(spec: str) -> np.ndarray:
    """``START:STOP[:STEP]`` (both ends included) -> spacings in bp.

    Parameters
    ----------
    spec
        E.g. ``0:100`` or ``0:100:5``.

    Returns
    -------
    numpy.ndarray
        int64 spacings, ascending.
    """
    parts = str(spec).split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (2, 3) or nums[0] < 0 or nums[1] < nums[0] or (len(nums) == 3 and nums[2] <= 0):
        raise InputError(f"--spacing {spec!r}: expected START:STOP[:STEP] with 0 <= START <= STOP and STEP >= 1",
                         hint="e.g. --spacing 0:100 or --spacing 0:100:5")
    step = nums[2] if len(nums) == 3 else 1
    return np.arange(nums[0], nums[1] + 1, step, dtype=np.int64)


def anchor_start(length: int, width: int) -> int:
    """First base of a centred motif of `width` in a window of `length` (tangermeme's centring)."""
    return length // 2 - width // 2


def check_spacing(length: int, anchor_w: int, partner_w: int, spacings: np.ndarray) -> None:
    """Raise `InputError` (naming ``--spacing``) when a partner at the largest spacing leaves the window.

    Parameters
    ----------
    length
        Window length L.
    anchor_w, partner_w
        Motif widths.
    spacings
        The spacings asked for.
    """
    s = anchor_start(length, anchor_w)
    room = min(length - (s + anchor_w) - partner_w, s - partner_w)
    if room < 0 or int(spacings.max()) > room:
        raise InputError(f"--spacing up to {int(spacings.max())} bp does not fit a {length}-bp input with a "
                         f"{anchor_w}-bp motif at the centre and a {partner_w}-bp partner on either side",
                         hint=f"use spacings of at most {max(room, 0)} bp")


def motif_onehot(motif: InsertMotif, n: int, *, insert: str = "consensus", seed: int = 0,
                 reverse: bool = False) -> np.ndarray:
    """One-hot instances ``(n, 4, W)`` (``(1, 4, W)`` for the consensus) to insert.

    Parameters
    ----------
    motif
        The motif.
    n
        Number of background sequences (one sampled instance each).
    insert
        ``consensus`` or ``sampled`` (each column drawn from the probability matrix).
    seed
        Random seed of the sampled instances.
    reverse
        Reverse-complement the instances (minus strand).

    Returns
    -------
    numpy.ndarray
        float32 one-hot.
    """
    if insert not in INSERTS:
        raise InputError(f"--insert {insert!r}: expected one of {', '.join(INSERTS)}")
    if insert == "consensus":
        idx = np.array([[ALPHABET.index(c) for c in motif.consensus]])
    else:
        rng = np.random.default_rng(seed)
        cdf = np.cumsum(motif.probs / motif.probs.sum(axis=0, keepdims=True), axis=0)  # (4, W)
        u = rng.random((n, motif.width))
        idx = np.minimum((u[:, None, :] > cdf[None]).sum(axis=1), 3)
    oh = np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1)  # (n, 4, W)
    return oh[:, ::-1, ::-1].copy() if reverse else oh


def insert_pair(x, anchor, partner, gap: int, order: str):
    """Insert `anchor` at the centre and `partner` `gap` bp downstream (``AP``) or upstream (``PA``) of it.

    Parameters
    ----------
    x
        ``(N, 4, L)`` one-hot tensor.
    anchor, partner
        ``(1 or N, 4, W)`` one-hot tensors.
    gap
        bp between the end of the first motif and the start of the second.
    order
        ``AP`` or ``PA``.

    Returns
    -------
    torch.Tensor
        A new ``(N, 4, L)`` tensor (tangermeme's `multisubstitute`).
    """
    from tangermeme.ersatz import multisubstitute

    s = anchor_start(x.shape[-1], anchor.shape[-1])
    if order == "AP":
        return multisubstitute(x, [anchor, partner], [int(gap)], start=s, return_packed=False)
    return multisubstitute(x, [partner, anchor], [int(gap)], start=s - int(gap) - partner.shape[-1],
                           return_packed=False)


def rc_scores(model, x, *, batch_size: int = 256, target: int = 0, rc_average: bool = True):
    """RC-averaged logit and probability of output `target` for every row of `x`.

    Parameters
    ----------
    model
        ``(N, 4, L)`` -> logits ``(N, K)``.
    x
        One-hot tensor or array.
    batch_size
        Rows per forward pass.
    target
        Output index.
    rc_average
        Average both strands (False: forward strand only).

    Returns
    -------
    tuple of numpy.ndarray
        ``(logit, prob)``, each ``(N,)`` float64.
    """
    import torch

    from bindscape.train import rc_input

    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    lo, pr = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            b = x[i:i + batch_size].float()
            f = model(b).float()[:, target]
            if rc_average:
                r = model(rc_input(b)).float()[:, target]
                lo.append((0.5 * (f + r)).numpy())
                pr.append((0.5 * (torch.sigmoid(f) + torch.sigmoid(r))).numpy())
            else:
                lo.append(f.numpy())
                pr.append(torch.sigmoid(f).numpy())
    return np.concatenate(lo).astype(np.float64), np.concatenate(pr).astype(np.float64)


def mean_interval(d: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of `d` with a t interval over its rows (axis 0).

    Parameters
    ----------
    d
        ``(N,)`` per-sequence differences.
    level
        Interval coverage.

    Returns
    -------
    tuple of float
        ``(mean, low, high)`` (low = high = mean when N = 1).
    """
    from scipy import stats

    d = np.asarray(d, dtype=np.float64)
    m = float(d.mean())
    if len(d) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return m, m - half, m + half


def _stat_row(**cols) -> dict:
    row = {}
    for name, d in cols.items():
        m, lo, hi = mean_interval(d)
        row.update({name: m, f"{name}_lo": lo, f"{name}_hi": hi})
    return row


def single_effect(model, x: np.ndarray, motif: InsertMotif, *, insert: str = "consensus", seed: int = 0,
                  batch_size: int = 256, target: int = 0, rc_average: bool = True) -> dict:
    """Effect of inserting `motif` at the centre of each background sequence (tangermeme's `marginalize`).

    Parameters
    ----------
    model
        A per-sequence model (eval mode).
    x
        ``(N, 4, L)`` background one-hot.
    motif, insert, seed
        The motif and how it is inserted (see `motif_onehot`).
    batch_size, target, rc_average
        Scoring (see `rc_scores`).

    Returns
    -------
    dict
        ``per_seq`` (DataFrame: ``before_logit, before_prob, after_logit, after_prob``) and ``summary`` (mean
        change in logit and probability with 95% t intervals, mean before/after probability, n).
    """
    import torch
    from tangermeme.marginalize import marginalize

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    m = torch.from_numpy(motif_onehot(motif, len(x), insert=insert, seed=seed))

    def func(mdl, X, **_):
        return torch.from_numpy(np.stack(rc_scores(mdl, X, batch_size=batch_size, target=target,
                                                   rc_average=rc_average), axis=1))

    res = marginalize(model, xt, m, start=anchor_start(x.shape[-1], motif.width), func=func)
    before, after = np.asarray(res.y_before), np.asarray(res.y_after)
    per = pd.DataFrame({"before_logit": before[:, 0], "before_prob": before[:, 1],
                        "after_logit": after[:, 0], "after_prob": after[:, 1]})
    summary = _stat_row(delta_logit=per.after_logit - per.before_logit, delta_prob=per.after_prob - per.before_prob)
    summary.update(n=len(per), before_prob=float(per.before_prob.mean()), after_prob=float(per.after_prob.mean()),
                   motif=motif.name, inserted=motif.consensus if insert == "consensus" else "sampled from the PPM")
    return {"per_seq": per, "summary": summary}


def spacing_curve(model, x: np.ndarray, motif: InsertMotif, partner: InsertMotif, spacings: np.ndarray, *,
                  insert: str = "consensus", seed: int = 0, batch_size: int = 256, target: int = 0,
                  rc_average: bool = True, n_boot: int = 1000, on_step=None) -> dict:
    """The spacing curve: `partner` at every spacing from `motif` (centred), both orders and strands.

    Parameters
    ----------
    model
        A per-sequence model (eval mode).
    x
        ``(N, 4, L)`` background one-hot.
    motif, partner
        Anchor and partner motifs.
    spacings
        Gaps in bp (see the module doc for the convention).
    insert, seed
        How motifs are inserted (`motif_onehot`; the partner uses ``seed + 1``).
    batch_size, target, rc_average
        Scoring (see `rc_scores`).
    n_boot
        Bootstrap resamples of the sequences for the peak spacing's interval.
    on_step
        Called with the number of spacings done after each (a progress bar).

    Returns
    -------
    dict
        ``curve`` (DataFrame: ``config, order, partner_strand, spacing, n`` and ``gain_logit, gain_prob,
        joint_logit, joint_prob`` each with ``_lo``/``_hi``), ``peak`` (spacing, gains and intervals, bootstrap
        interval of the spacing) and ``anchor`` (mean anchor-alone logit/probability change).
    """
    import torch

    check_spacing(x.shape[-1], motif.width, partner.width, spacings)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    a = torch.from_numpy(motif_onehot(motif, len(x), insert=insert, seed=seed))
    p_fwd = motif_onehot(partner, len(x), insert=insert, seed=seed + 1)
    parts = {"+": torch.from_numpy(p_fwd), "-": torch.from_numpy(p_fwd[:, ::-1, ::-1].copy())}
    kw = {"batch_size": batch_size, "target": target, "rc_average": rc_average}
    from tangermeme.ersatz import substitute

    bg_l, bg_p = rc_scores(model, xt, **kw)
    a_l, a_p = rc_scores(model, substitute(xt, a, start=anchor_start(x.shape[-1], motif.width)), **kw)
    joint = {}  # (config index) -> (logit (N, S), prob (N, S))
    for k, (order, strand) in enumerate(CONFIGS):
        lo = np.empty((len(x), len(spacings)))
        pr = np.empty_like(lo)
        for j, gap in enumerate(spacings):
            lo[:, j], pr[:, j] = rc_scores(model, insert_pair(xt, a, parts[strand], int(gap), order), **kw)
            if on_step is not None:
                on_step(k * len(spacings) + j + 1)
        joint[k] = (lo, pr)
    rows = []
    names = [f"{o}{s}" for o, s in CONFIGS] + ["mean"]
    mean_l = np.mean([joint[k][0] for k in joint], axis=0)
    mean_p = np.mean([joint[k][1] for k in joint], axis=0)
    for k, name in enumerate(names):
        lo, pr = (mean_l, mean_p) if name == "mean" else joint[k]
        order, strand = ("both", "both") if name == "mean" else CONFIGS[k]
        for j, gap in enumerate(spacings):
            rows.append({"config": name, "order": order, "partner_strand": strand, "spacing": int(gap),
                         "n": len(x), **_stat_row(gain_logit=lo[:, j] - a_l, gain_prob=pr[:, j] - a_p,
                                                  joint_logit=lo[:, j] - bg_l, joint_prob=pr[:, j] - bg_p)})
    curve = pd.DataFrame(rows)
    peak = _peak(mean_l - a_l[:, None], spacings, curve, n_boot=n_boot, seed=seed)
    anchor = _stat_row(delta_logit=a_l - bg_l, delta_prob=a_p - bg_p)
    return {"curve": curve, "peak": peak, "anchor": anchor}


def _peak(gain: np.ndarray, spacings: np.ndarray, curve: pd.DataFrame, *, n_boot: int, seed: int) -> dict:
    """Spacing of the largest mean gain, with a bootstrap interval over sequences (rows of `gain`)."""
    j = int(np.argmax(gain.mean(axis=0)))
    rng = np.random.default_rng(seed)
    n = gain.shape[0]
    boots = np.empty(n_boot, dtype=np.int64)
    for b in range(n_boot):
        boots[b] = spacings[int(np.argmax(gain[rng.integers(0, n, n)].mean(axis=0)))]
    row = curve[(curve.config == "mean") & (curve.spacing == spacings[j])].iloc[0]
    return {"spacing": int(spacings[j]), "spacing_lo": int(np.percentile(boots, 2.5)),
            "spacing_hi": int(np.percentile(boots, 97.5)),
            "share_at_peak": float(np.mean(boots == spacings[j])),
            **{c: float(row[c]) for c in curve.columns if c.startswith(("gain_", "joint_"))}}


def _train_codes(ds, genome, length: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Training-split rows of a dataset (all rows when it has no split) and their codes, N-free rows only."""
    from bindscape.data.negatives import region_codes

    regions = ds.regions
    if "split" in regions and (regions["split"] == "train").any():
        regions = regions[regions["split"] == "train"]
    regions = regions.reset_index(drop=True)
    codes = region_codes(genome, regions, length=length)
    keep = ~(codes > 3).any(axis=1)
    return regions[keep].reset_index(drop=True), codes[keep]


def _pick(n_avail: int, n: int, rng: np.random.Generator, what: str) -> np.ndarray:
    if n_avail == 0:
        raise InputError(f"no N-free {what} windows to build backgrounds from")
    return np.sort(rng.choice(n_avail, size=n, replace=n > n_avail))


def background_sequences(kind: str, n: int, length: int, *, dataset=None, genome=None, seed: int = 0) -> Background:
    """N background sequences of `length` bp (see the module doc).

    Parameters
    ----------
    kind
        ``shuffle`` (dinucleotide-shuffled training windows) or ``genomic`` (GC/repeat-matched genome windows;
        uniformly random ones when only `genome` is given).
    n
        Number of sequences (>= 1).
    length
        Window length (the model's input length).
    dataset
        A loaded `bindscape.data.dataset.Dataset` (its training split), or None.
    genome
        A `bindscape.io.genome.Genome`; None: the dataset's.
    seed
        Random seed (choice of windows, shuffles, genomic draws).

    Returns
    -------
    Background
    """
    from bindscape.io.genome import onehot

    if kind not in BACKGROUNDS:
        raise InputError(f"--background {kind!r}: expected one of {', '.join(BACKGROUNDS)}")
    if n <= 0:
        raise InputError(f"--n {n}: need at least one background sequence")
    rng = np.random.default_rng(seed)
    if dataset is None:
        if kind == "shuffle" or genome is None:
            raise ConfigError(f"--background {kind} needs the training sequences" if kind == "shuffle"
                              else "--background genomic needs a dataset or a genome",
                              hint="pass --dataset (or train the checkpoint on one)" if kind == "shuffle"
                              else "pass --dataset or --genome")
        return _random_windows(genome, n, length, rng)
    genome = genome if genome is not None else dataset.open_genome()
    rows, codes = _train_codes(dataset, genome, length)
    pick = _pick(len(rows), n, rng, "training")
    if kind == "shuffle":
        import torch
        from tangermeme.ersatz import dinucleotide_shuffle

        x = torch.from_numpy(onehot(codes[pick]).astype(np.float32))
        xs = dinucleotide_shuffle(x, n=1, random_state=seed)[:, 0].numpy().astype(np.float32)
        return Background(xs, kind, f"{n} dinucleotide-shuffled training windows", {"n_source": len(rows)})
    return _matched_windows(dataset, genome, rows.iloc[pick], length, seed)


def _matched_windows(dataset, genome, rows: pd.DataFrame, length: int, seed: int) -> Background:
    """Genome windows matched one-to-one on GC/repeat bin to `rows` (the dataset's genomic negative sampler)."""
    import warnings

    from bindscape.data.negatives import genomic, region_codes
    from bindscape.io.genome import onehot

    regions = dataset.regions
    exclude = regions[regions["label"] > 0] if "label" in regions else None
    src = rows[["chrom", "start", "end"]].reset_index(drop=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        neg = genomic(src, genome, ratio=1.0, seed=seed, exclude=exclude, on_short="warn", allow_overlap=True)
    codes = region_codes(genome, neg, length=length)
    note = f"; {len(caught)} warning(s): {caught[0].message}" if caught else ""
    return Background(onehot(codes).astype(np.float32), "genomic",
                      f"{len(neg)} genome windows GC/repeat-matched to training windows{note}",
                      {"n_matched": len(neg), "gc_mean": float(neg["gc"].mean()) if "gc" in neg else None})


def _random_windows(genome, n: int, length: int, rng: np.random.Generator) -> Background:
    """Uniformly random N-free genome windows (no dataset to match GC to)."""
    from bindscape.io.genome import onehot

    sizes = {c: s for c, s in genome.sizes.items() if s >= length}
    if not sizes:
        raise InputError(f"no chromosome of the genome is {length} bp long")
    names = list(sizes)
    w = np.array([sizes[c] - length + 1 for c in names], dtype=np.float64)
    got: list[np.ndarray] = []
    for _ in range(50):
        ci = rng.choice(len(names), size=2 * n, p=w / w.sum())
        starts = np.array([rng.integers(0, sizes[names[i]] - length + 1) for i in ci])
        c = genome.fetch_codes([names[i] for i in ci], starts, length=length)
        got.append(c[~(c > 3).any(axis=1)])
        if sum(len(g) for g in got) >= n:
            break
    codes = np.concatenate(got)[:n]
    if len(codes) < n:
        raise InputError(f"found only {len(codes)} N-free {length}-bp windows in the genome")
    return Background(onehot(codes).astype(np.float32), "genomic",
                      f"{n} uniformly random genome windows (not GC-matched: no dataset given)")


def run_marginalize(checkpoint, motif: str, *, partner: str | None = None, spacing: str | None = None,
                    n: int = 500, background: str = "shuffle", dataset=None, genome=None, insert: str = "consensus",
                    seed: int = 0, batch_size: int = 256, target: int = 0, progress: bool = False) -> dict:
    """Load a checkpoint, build backgrounds, and measure the motif's effect (and the spacing curve).

    Parameters
    ----------
    checkpoint
        A checkpoint file or run folder.
    motif, partner
        Motif keys (`resolve_motif`); `partner` with `spacing` gives the spacing curve.
    spacing
        ``START:STOP[:STEP]`` (`parse_spacing`); required with `partner`.
    n, background, insert, seed
        Backgrounds and insertion (`background_sequences`, `motif_onehot`).
    dataset, genome
        Dataset folder (None: the checkpoint's) and genome FASTA (None: the dataset's).
    batch_size, target
        Scoring (`rc_scores`).
    progress
        Show a progress bar over the spacings.

    Returns
    -------
    dict
        ``meta``, ``single`` (`single_effect`), and with a partner ``curve``, ``peak``, ``anchor``
        (`spacing_curve`).
    """
    import time

    from bindscape.train import load_checkpoint

    if n <= 0:
        raise InputError(f"--n {n}: need at least one background sequence")
    if (partner is None) != (spacing is None):
        raise ConfigError("--partner and --spacing go together", hint="pass both, e.g. --partner FOXA1 --spacing 0:40")
    m = resolve_motif(motif)
    pm = resolve_motif(partner, flag="--partner") if partner is not None else None
    spacings = parse_spacing(spacing) if spacing is not None else None
    loaded = load_checkpoint(checkpoint)
    L = int(loaded.length)
    if pm is not None:
        check_spacing(L, m.width, pm.width, spacings)
    elif m.width > L:
        raise InputError(f"--motif {motif}: {m.width} bp does not fit the model's {L}-bp input")
    n_out = int(getattr(loaded.model, "n_outputs", 1))
    if not 0 <= target < n_out:
        raise InputError(f"--target {target}: the model has {n_out} output(s)")
    ds, gen = _open_inputs(loaded, dataset, genome)
    t0 = time.perf_counter()
    bg = background_sequences(background, n, L, dataset=ds, genome=gen, seed=seed)
    model = loaded.model.eval()
    kw = {"insert": insert, "seed": seed, "batch_size": batch_size, "target": target, "rc_average": loaded.rc_average}
    out = {"single": single_effect(model, bg.x, m, **kw)}
    if pm is not None:
        from bindscape._util import progress as bar

        total = len(CONFIGS) * len(spacings)
        with bar(disable=not progress or None, transient=True) as pb:
            task = pb.add_task(f"{m.name} + {pm.name} spacings", total=total)
            out.update(spacing_curve(model, bg.x, m, pm, spacings, **kw,
                                     on_step=lambda k: pb.update(task, completed=k)))
    out["meta"] = {"checkpoint": str(loaded.path), "dataset": str(getattr(ds, "path", "") or ""),
                   "motif": m.name, "motif_consensus": m.consensus, "motif_source": m.source,
                   "partner": pm.name if pm else None, "partner_consensus": pm.consensus if pm else None,
                   "spacing": spacing, "n": int(len(bg.x)), "length": L, "background": background,
                   "background_description": bg.description, "insert": insert, "seed": seed, "target": target,
                   "rc_average": loaded.rc_average, "anchor_start": anchor_start(L, m.width),
                   "seconds": round(time.perf_counter() - t0, 2)}
    return out


def _open_inputs(loaded, dataset, genome):
    """The dataset (given, else the checkpoint's, else None) and the genome (given, else None)."""
    from bindscape.data.dataset import load_dataset
    from bindscape.io.genome import Genome

    ds_path = dataset or loaded.config.get("dataset")
    ds = None
    if ds_path and Path(ds_path).exists():
        ds = load_dataset(ds_path)
    elif dataset is not None:
        raise InputError(f"--dataset {dataset}: no such dataset folder")
    gen = Genome(genome) if genome is not None else None
    return ds, gen


def write_outputs(result: dict, out: str | Path) -> list[Path]:
    """Write ``effect.tsv`` (single insertion, per sequence), ``curve.tsv`` (with a partner) and
    ``summary.json`` into `out`, atomically.

    Parameters
    ----------
    result
        What `run_marginalize` returns.
    out
        Output folder (created).

    Returns
    -------
    list of Path
        The files written.
    """
    import json

    from bindscape._util import atomic_path, atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    tables = [("effect.tsv", result["single"]["per_seq"])]
    if "curve" in result:
        tables.append(("curve.tsv", result["curve"]))
    for name, df in tables:
        with atomic_path(out / name) as tmp:
            df.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        paths.append(out / name)
    summary = {"meta": result["meta"], "single": result["single"]["summary"]}
    for key in ("peak", "anchor"):
        if key in result:
            summary[key] = result[key]
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    paths.append(out / "summary.json")
    return paths

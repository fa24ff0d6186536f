"""The interpretation benchmark (AgentBind's design) on simulated sequences with known motif positions.

Every sequence carries a GATA1 core motif (JASPAR MA0035.4) at its centre; positives also carry 1-3 TAL1
context motifs (MA0091.1, TAL1::TCF3 E-box), their number drawn from a Poisson(`lam`) truncated to [1, 3],
at random non-overlapping positions; negatives carry the core only. A small default model is trained on
them, then every attribution method scores held-out positives. Per method:

- ``runtime_s``: wall seconds per sequence;
- ``accuracy``: share of the top-5% bases (ranked over all evaluated sequences; core bases excluded from the
  ranking, as AgentBind masks the core) that lie inside planted context motifs;
- ``recall``: share of planted context motifs with at least half their bases in the top 5%;
- ``auroc``: per-base auROC of the scores for "inside a context motif" (all thresholds);
- ``snr``: signal-to-noise, mean |score| inside context motifs / mean |score| of the other non-core bases
  (per sequence, then averaged).

`run_benchmark(BenchmarkConfig(...))` returns the table; `BenchmarkConfig.tiny()` runs in seconds (tests),
the defaults are the full benchmark (`benchmarks/bench_interpret.py`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from bindscape.explain.attributions import METHODS, attribute, position_scores

CORE = ("GATA1", "MA0035.4")
CONTEXT = ("TAL1", "MA0091.1")
METRICS = ("runtime_s", "accuracy", "recall", "auroc", "snr")


@dataclass
class BenchmarkConfig:
    n_train: int = 6000
    n_val: int = 1000
    n_eval: int = 200
    length: int = 200
    lam: float = 1.5
    max_context: int = 3
    gc: float = 0.41
    top_frac: float = 0.05
    epochs: int = 6
    batch_size: int = 128
    lr: float = 3e-3
    model_params: dict = field(default_factory=lambda: {"channels": 64, "hidden": 64, "dilations": [1, 2, 4],
                                                        "stem_kernel": 15})
    methods: tuple = METHODS
    n_steps: int = 32
    n_baselines: int = 8
    seed: int = 0

    @classmethod
    def tiny(cls, **kw) -> BenchmarkConfig:
        """A small, fast configuration (tests and smoke runs).

        Parameters
        ----------
        **kw
            Fields that override the tiny defaults.

        Returns
        -------
        BenchmarkConfig
        """
        base = dict(n_train=600, n_val=100, n_eval=12, length=100, epochs=3, batch_size=64, lr=1e-2,
                    model_params={"channels": 16, "hidden": 16, "dilations": [1], "stem_kernel": 9},
                    n_steps=8, n_baselines=4)
        base.update(kw)
        return cls(**base)


def simulate_sequences(n: int, *, length: int = 200, lam: float = 1.5, max_context: int = 3, gc: float = 0.41,
                       seed: int = 0) -> dict:
    """Half positives, half negatives. Returns ``x`` (n, 4, L) one-hot float32, ``y`` (n,), ``core`` and
    ``context`` bool masks (n, L), and ``sites``: a table of planted motifs (seq, kind, start, end, strand).

    Parameters
    ----------
    n
        Number of sequences.
    length
        Sequence length L.
    lam
        Poisson mean of the number of context (TAL1) motifs in a positive.
    max_context
        Context motifs per positive are redrawn until in 1..max_context.
    gc
        GC fraction of the random background.
    seed
        Seed of every draw.

    Returns
    -------
    dict
        As above; every sequence has the core (GATA1) motif at its centre, positives also context motifs.
        The ``sites`` table's columns are ``seq, kind, start, end``.
    """
    from bindscape.simulate.binding import load_site_motif as load_motif
    from bindscape.simulate.binding import plant_motif

    rng = np.random.default_rng(seed)
    core = load_motif(*CORE)
    ctx = load_motif(*CONTEXT)
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    codes = rng.choice(4, size=(n, length), p=p).astype(np.uint8)
    y = np.zeros(n, dtype=np.float32)
    y[: n // 2] = 1
    rng.shuffle(y)
    core_mask = np.zeros((n, length), bool)
    ctx_mask = np.zeros((n, length), bool)
    rows = []
    c0 = (length - core.width) // 2
    for i in range(n):
        plant_motif(codes[i], core, c0, "+" if rng.random() < 0.5 else "-", rng)
        core_mask[i, c0:c0 + core.width] = True
        rows.append((i, "core", c0, c0 + core.width))
        if y[i] == 0:
            continue
        k = 0
        while not 1 <= k <= max_context:
            k = rng.poisson(lam)
        placed = 0
        for _ in range(200):
            if placed == k:
                break
            s = int(rng.integers(0, length - ctx.width + 1))
            if (core_mask[i, max(0, s - 2):s + ctx.width + 2].any() or ctx_mask[i, max(0, s - 2):s + ctx.width + 2].any()):
                continue
            plant_motif(codes[i], ctx, s, "+" if rng.random() < 0.5 else "-", rng)
            ctx_mask[i, s:s + ctx.width] = True
            rows.append((i, "context", s, s + ctx.width))
            placed += 1
    x = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()
    sites = pd.DataFrame(rows, columns=["seq", "kind", "start", "end"])
    return {"x": x, "y": y, "core": core_mask, "context": ctx_mask, "sites": sites}


def train_model(x: np.ndarray, y: np.ndarray, *, x_val=None, y_val=None, model_params=None, epochs: int = 6,
                batch_size: int = 128, lr: float = 3e-3, seed: int = 0, rc_augment: bool = True):
    """A quick plain-torch fit of the default model (BCE, AdamW, one-cycle LR, RC augmentation).

    Why not the training engine (`bindscape.train.engine.fit`): the benchmark measures attribution methods
    on in-memory simulated arrays, and its published figures come from this exact loop (one torch generator
    drawing the batch order and the strand flips). The engine needs a dataset folder, reseeds per batch,
    validates, checkpoints and writes a run folder: different random draws, hence a different model and
    different benchmark numbers, plus disk work that is not what is being timed. The loop shares the
    engine's pieces where they exist: the reverse complement is `bindscape.train.rc_input`.

    Parameters
    ----------
    x, y
        Training inputs ``(N, 4, L)`` float32 and labels ``(N,)``.
    x_val, y_val
        Optional validation set for the returned auROC.
    model_params
        Extra arguments of the default model.
    epochs, batch_size, lr, seed
        Training settings.
    rc_augment
        Flip each example to the other strand with probability 0.5.

    Returns
    -------
    tuple
        ``(model in eval mode, validation auROC or NaN)``.
    """
    import torch

    from bindscape.models import get_model
    from bindscape.train import rc_input

    torch.manual_seed(seed)
    model = get_model(None, length=x.shape[-1], n_outputs=1, **(model_params or {}))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(seed)
    steps = epochs * int(np.ceil(len(x) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), batch_size):
            idx = perm[s:s + batch_size]
            xb = xt[idx]
            if rc_augment:
                flip = torch.rand(len(idx), generator=g) < 0.5
                xb = torch.where(flip[:, None, None], rc_input(xb), xb)
            loss = loss_fn(model(xb)[:, 0], yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    auc = float("nan")
    if x_val is not None:
        from sklearn.metrics import roc_auc_score

        with torch.no_grad():
            pv = model(torch.from_numpy(x_val))[:, 0].numpy()
        auc = float(roc_auc_score(y_val, pv))
    return model, auc


def score_attributions(scores: np.ndarray, core: np.ndarray, context: np.ndarray, sites: pd.DataFrame | None = None,
                       *, top_frac: float = 0.05) -> dict:
    """The four quality metrics of per-position `scores` (n, L) against the planted masks (see module doc).

    Parameters
    ----------
    scores
        ``(n, L)`` per-position attribution scores.
    core, context
        ``(n, L)`` bool masks of the core and context motifs (core bases are left out of the ranking).
    sites
        Planted motif table (``seq, kind, start, end``) for the recall (None: recall is NaN).
    top_frac
        Share of the non-core bases counted as top-ranked.

    Returns
    -------
    dict
        ``accuracy``, ``recall``, ``auroc``, ``snr``.
    """
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, dtype=np.float64)
    n, L = s.shape
    keep = ~core
    vals = s[keep]
    n_top = max(1, int(round(top_frac * vals.size)))
    thr = np.sort(vals)[::-1][n_top - 1]
    top = keep & (s >= thr)
    accuracy = float((top & context).sum() / top.sum())
    # recall over planted context motifs (contiguous runs of the context mask if no site table)
    hits, total = 0, 0
    if sites is not None:
        for r in sites[sites["kind"] == "context"].itertuples(index=False):
            total += 1
            hits += top[r.seq, r.start:r.end].mean() >= 0.5
    recall = float(hits / total) if total else float("nan")
    lab = context[keep]
    auroc = float(roc_auc_score(lab, s[keep])) if 0 < lab.sum() < lab.size else float("nan")
    snrs = []
    a = np.abs(s)
    for i in range(n):
        m_in = context[i]
        m_out = keep[i] & ~context[i]
        if m_in.any() and m_out.any():
            den = a[i, m_out].mean()
            snrs.append(a[i, m_in].mean() / den if den > 0 else np.nan)
    snr = float(np.nanmean(snrs)) if snrs else float("nan")
    return {"accuracy": accuracy, "recall": recall, "auroc": auroc, "snr": snr}


def run_benchmark(cfg: BenchmarkConfig | None = None, *, progress: bool = False) -> pd.DataFrame:
    """Simulate, train, attribute with every method in `cfg.methods`, score. Returns one row per method with
    the columns of `METRICS`; ``df.attrs`` holds the config, the model's validation auROC and timings.

    Parameters
    ----------
    cfg
        The benchmark settings (None: the full default benchmark).
    progress
        Print each method's metrics as it finishes.

    Returns
    -------
    pandas.DataFrame
        ``method, runtime_s, accuracy, recall, auroc, snr``.
    """
    import torch

    cfg = cfg or BenchmarkConfig()
    t0 = time.perf_counter()
    tr = simulate_sequences(cfg.n_train, length=cfg.length, lam=cfg.lam, max_context=cfg.max_context, gc=cfg.gc,
                            seed=cfg.seed)
    va = simulate_sequences(cfg.n_val + 2 * cfg.n_eval, length=cfg.length, lam=cfg.lam,
                            max_context=cfg.max_context, gc=cfg.gc, seed=cfg.seed + 1)
    model, val_auc = train_model(tr["x"], tr["y"], x_val=va["x"][: cfg.n_val], y_val=va["y"][: cfg.n_val],
                                 model_params=cfg.model_params, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                 lr=cfg.lr, seed=cfg.seed)
    t_train = time.perf_counter() - t0
    pos = np.flatnonzero(va["y"][cfg.n_val:] == 1)[: cfg.n_eval] + cfg.n_val
    x = va["x"][pos]
    core, context = va["core"][pos], va["context"][pos]
    sites = va["sites"][va["sites"]["seq"].isin(pos)].copy()
    sites["seq"] = sites["seq"].map({int(p): i for i, p in enumerate(pos)})
    rows = []
    for m in cfg.methods:
        t1 = time.perf_counter()
        a = attribute(model, x, m, n_steps=cfg.n_steps, n_baselines=cfg.n_baselines, random_state=cfg.seed)
        dt = time.perf_counter() - t1
        met = score_attributions(position_scores(a, x, m), core, context, sites, top_frac=cfg.top_frac)
        rows.append({"method": m, "runtime_s": dt / len(x), **met})
        if progress:
            print(f"{m:32s} {dt:7.2f}s  " + "  ".join(f"{k}={v:.3f}" for k, v in met.items()), flush=True)
    df = pd.DataFrame(rows)
    df.attrs.update(config=asdict(cfg), val_auroc=val_auc, train_seconds=t_train, n_eval=int(len(x)),
                    total_seconds=time.perf_counter() - t0, threads=torch.get_num_threads())
    return df

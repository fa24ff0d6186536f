"""bindscape's `attribute(method='ism' | 'deeplift_shap')` against tangermeme's functions called directly.

    .venv/bin/python benchmarks/bench_attributions.py [--ism-sizes 4,16,40] [--dls-sizes 10,100,250]
        [--length 200] [--repeats 3] [--channels 64]

Same model (the default `bindscape_cnn`, untrained weights, seeded), same one-hot inputs, one torch thread.
Per size, after one untimed call of each, the two calls alternate (which goes first alternates too) and the
script prints median CPU seconds (one thread, so CPU time is the work done; steadier than wall time on a
shared machine), the speed ratio ``median(tangermeme) / median(bindscape)`` (>= 1: bindscape is as fast),
the largest absolute difference between the two outputs and every call's time, plus the peak RSS.

The references: ISM is `tangermeme.saturation_mutagenesis(..., raw_outputs=True)` with the batch size
bindscape uses, turned into ``f(mutant) - f(x)`` (bindscape's output); DeepLIFT-SHAP is
`tangermeme.deep_lift_shap` on bindscape's DeepLIFT view of the model (`deeplift_view`, the same function)
with its own dinucleotide shuffles (``n_shuffles``, ``random_state``) and its default convergence check on.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np


def _onehot(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()


def _head(model, target: int = 0):
    """The model's `target` logit as an ``(N, 1)`` output (what tangermeme expects)."""
    from torch import nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x):
            return self.m(x)[:, target : target + 1]

    return Head().eval()


def _ism_reference(model, x, batch_size):
    import torch
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    y0, y_hat = saturation_mutagenesis(_head(model), torch.from_numpy(x), batch_size=batch_size,
                                       raw_outputs=True, device="cpu")
    return (y_hat[..., 0] - y0[:, None, None, 0]).numpy()


def _dls_reference(model, x, n_shuffles, batch_size):
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap

    from bindscape.explain.attributions import deeplift_view

    view = _head(deeplift_view(model, x.shape[-1]))
    return deep_lift_shap(view, torch.from_numpy(x), n_shuffles=n_shuffles, batch_size=batch_size, random_state=0,
                          device="cpu").numpy()


def _time(fn):
    """CPU seconds of `fn()` (one torch thread: CPU time is the work done, steadier than wall time on a
    shared machine) and its result."""
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def _compare(name, size, ours, ref, repeats):
    """Alternate the two calls `repeats` times; return one result row."""
    t_ours, t_ref = [], []
    a = b = None
    ours(), ref()  # untimed warm-up at this size: first-call imports, tangermeme's first torch.export capture
    for r in range(repeats):
        order = [("ours", ours), ("ref", ref)] if r % 2 == 0 else [("ref", ref), ("ours", ours)]
        for who, fn in order:
            t, out = _time(fn)
            if who == "ours":
                t_ours.append(t)
                a = out
            else:
                t_ref.append(t)
                b = out
    mo, mr = statistics.median(t_ours), statistics.median(t_ref)  # CPU seconds
    return {"method": name, "n": size, "bindscape_s": mo, "tangermeme_s": mr, "ratio": mr / mo,
            "max_abs_diff": float(np.abs(np.asarray(a) - np.asarray(b)).max()),
            "bindscape_runs": [round(t, 3) for t in t_ours], "tangermeme_runs": [round(t, 3) for t in t_ref]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ism-sizes", default="4,16,40", help="sequence counts for ISM (3L forward passes each)")
    ap.add_argument("--dls-sizes", default="10,100,250", help="sequence counts for DeepLIFT-SHAP")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--channels", type=int, default=64, help="width of the default model (its default: 64)")
    ap.add_argument("--n-shuffles", type=int, default=10, help="DeepLIFT-SHAP references per sequence")
    ap.add_argument("--batch-size", type=int, default=64, help="bindscape's attribute(batch_size=...)")
    a = ap.parse_args(argv)

    import warnings

    import torch

    from bindscape.explain.attributions import attribute
    from bindscape.models import get_model

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # tangermeme's convergence notes for the reference call
    torch.manual_seed(0)
    model = get_model("bindscape_cnn", length=a.length, channels=a.channels).eval()
    ism_bs = max(4 * a.batch_size, 256)  # the mutant batch bindscape's ISM uses
    rows = []
    t0, c0 = time.perf_counter(), time.process_time()
    for n in [int(s) for s in a.ism_sizes.split(",") if s]:
        x = _onehot(n, a.length, seed=n)
        rows.append(_compare("ism", n, lambda x=x: attribute(model, x, "ism", batch_size=a.batch_size),
                             lambda x=x: _ism_reference(model, x, ism_bs), a.repeats))
        print(rows[-1], flush=True)
    for n in [int(s) for s in a.dls_sizes.split(",") if s]:
        x = _onehot(n, a.length, seed=n)
        rows.append(_compare("deeplift_shap", n,
                             lambda x=x: attribute(model, x, "deeplift_shap", batch_size=a.batch_size,
                                                   n_baselines=a.n_shuffles, random_state=0),
                             lambda x=x: _dls_reference(model, x, a.n_shuffles, a.batch_size), a.repeats))
        print(rows[-1], flush=True)
    print(f"\nbindscape_cnn (channels {a.channels}), {a.length} bp, one thread, median of {a.repeats}; "
          f"ratio = tangermeme CPU-s / bindscape CPU-s (>= 1: bindscape as fast)")
    print(f"{'method':<14}{'n':>6}{'bindscape CPU-s':>17}{'tangermeme CPU-s':>18}{'ratio':>8}{'max |diff|':>12}")
    for r in rows:
        print(f"{r['method']:<14}{r['n']:>6}{r['bindscape_s']:>17.3f}{r['tangermeme_s']:>18.3f}{r['ratio']:>8.3f}"
              f"{r['max_abs_diff']:>12.2e}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} CPU-s; peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Attributions for any bindscape model: one function, `attribute(model, x, method, ...)`.

Every method explains the logit of one output (`target`) and returns a float32 array shaped like the input,
``(N, 4, L)``:

- ``saliency``: the gradient d logit / d x (all four channels, "hypothetical" contributions).
- ``grad_x_input``: gradient x input (non-zero only at the observed base).
- ``ism``: in-silico mutagenesis, ``out[n, b, i] = f(x with base b at i) - f(x)``; the observed base is 0
  (identity substitutions are skipped, never evaluated). tangermeme's `saturation_mutagenesis` runs the
  mutants (one call over all sequences, so its fastISM path engages exactly as in a direct call).
- ``gradcam``: Grad-CAM at a conv layer (``layer=``; default the model's last conv stage), a non-negative
  per-position map up-sampled to L and placed at the observed base.
- ``gradcam_x_saliency``: AgentBind's product, Grad-CAM x (gradient x input).
- ``integrated_gradients``: captum's IG from ``baselines`` (default all-zero); completeness holds:
  ``sum(out[n]) ~= f(x_n) - f(baseline_n)``.
- ``expected_integrated_gradients``: IG averaged over random baselines (dinucleotide shuffles of x) and
  random path points (Erion et al. 2021), one gradient per (baseline, alpha) sample.
- ``deeplift_shap``: tangermeme's `deep_lift_shap` over dinucleotide-shuffled references that tangermeme
  draws itself (pair (i, k) seeded ``random_state + k``: equal to a direct call); when additivity
  (``sum(out[n]) == f(x_n) - mean f(refs)``) fails beyond a tolerance an `AttributionWarning` names the
  worst sequence and the gap, computed from the outputs of DeepLIFT's own forward passes (the model is
  not run again).

`position_scores(attr, x, method)` turns any of these into one score per position (observed-base
contribution; for ISM, the mean loss of logit over the three substitutions). `rc_average=True` averages the
attributions of x and of its reverse complement (mapped back), which makes them strand-symmetric.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from bindscape.errors import ConfigError

METHODS = (
    "saliency",
    "grad_x_input",
    "ism",
    "gradcam",
    "gradcam_x_saliency",
    "integrated_gradients",
    "expected_integrated_gradients",
    "deeplift_shap",
)


class AttributionWarning(UserWarning):
    """An attribution that breaks its own guarantee (DeepLIFT-SHAP additivity, IG convergence)."""


def check_method(method: str) -> str:
    """The canonical name of an attribution method (aliases such as ``ig`` or ``deeplift`` accepted).

    Parameters
    ----------
    method : str
        A name from `METHODS` or an alias; case and ``-``/``_`` do not matter.

    Returns
    -------
    str
        The name in `METHODS`; a `ConfigError` listing the valid names otherwise.
    """
    m = str(method).lower().replace("-", "_")
    aliases = {"gradient": "saliency", "grad": "saliency", "gxi": "grad_x_input", "ig": "integrated_gradients",
               "eig": "expected_integrated_gradients", "deepliftshap": "deeplift_shap", "deeplift": "deeplift_shap",
               "shap": "deeplift_shap", "gradcam_saliency": "gradcam_x_saliency"}
    m = aliases.get(m, m)
    if m not in METHODS:
        raise ConfigError(f"unknown attribution method {method!r}; choose one of: {', '.join(METHODS)}")
    return m


class _Target(nn.Module):
    """Wraps a model so that forward returns the logit of one output, shape (N,)."""

    def __init__(self, model: nn.Module, target: int):
        super().__init__()
        self.model = model
        self.target = int(target)

    def forward(self, x):
        out = self.model(x)
        if out.dim() == 1:
            return out
        return out[:, self.target]


def reverse_complement(x):
    """The reverse complement of one-hot sequences (or of attributions: both axes flip).

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        ``(N, 4, L)`` in A, C, G, T order.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(N, 4, L)``, the same type as `x`.
    """
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x[:, ::-1, ::-1])
    return x.flip(1, 2)


def _as_tensor(x, device) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    x = x.float()
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[1] != 4:
        raise ConfigError(f"attributions need one-hot input (N, 4, L), got shape {tuple(x.shape)}")
    return x.to(device)


def _batches(n: int, batch_size: int):
    for s in range(0, n, batch_size):
        yield slice(s, min(n, s + batch_size))


def _device_of(model: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


# ----------------------------------------------------------------------------------------------------------
# the methods (each: (f, x batch) -> (n, 4, L) tensor)
# ----------------------------------------------------------------------------------------------------------


def _gradient(f: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = f(x)
        (g,) = torch.autograd.grad(out.sum(), x)
    return g.detach()


def _ism(f: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """All 3L single substitutions of each sequence, ``f(mutant) - f(x)``; identity substitutions are 0.

    tangermeme's `saturation_mutagenesis` does the work (one call over all of `x`, so its fastISM path is
    chosen exactly as when it is called directly); its raw outputs fill identity slots with ``f(x)``, so
    the difference is exactly 0 there.
    """
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    y0, y_hat = saturation_mutagenesis(_Unsqueeze(f).eval(), x, batch_size=batch_size, raw_outputs=True,
                                       device=x.device)
    return (y_hat[..., 0] - y0[:, None, None, 0]).to(x.device)


def _find_layer(model: nn.Module, layer) -> nn.Module:
    if isinstance(layer, nn.Module):
        return layer
    if layer is None:
        if isinstance(getattr(model, "blocks", None), nn.Module):
            return model.blocks
        convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
        if not convs:
            raise ConfigError("Grad-CAM needs a conv layer; this model has none", hint="pass layer=<module name>")
        return convs[-1]
    mods = dict(model.named_modules())
    if layer not in mods:
        names = [k for k, m in mods.items() if k and isinstance(m, (nn.Conv1d, nn.Sequential))]
        raise ConfigError(f"model has no layer {layer!r}", hint=f"e.g. one of: {', '.join(names[:12])}")
    return mods[layer]


def _gradcam(f: nn.Module, model: nn.Module, x: torch.Tensor, layer) -> torch.Tensor:
    """(n, L) Grad-CAM map: ReLU(sum_c mean_l(dy/dA_c) A_c), linearly up-sampled to the input length."""
    mod = _find_layer(model, layer)
    store = {}

    def hook(_m, _inp, out):
        if isinstance(out, tuple):
            out = out[0]
        out.retain_grad()
        store["a"] = out

    h = mod.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            xx = x.detach().clone().requires_grad_(True)
            y = f(xx)
            a = store["a"]
            (g,) = torch.autograd.grad(y.sum(), a)
    finally:
        h.remove()
    if a.dim() != 3:
        raise ConfigError(f"Grad-CAM layer output must be (N, C, L'), got {tuple(a.shape)}",
                          hint="choose a convolutional layer")
    w = g.mean(dim=-1, keepdim=True)
    cam = torch.relu((w * a).sum(dim=1))  # (n, L')
    L = x.shape[-1]
    if cam.shape[-1] != L:
        cam = torch.nn.functional.interpolate(cam[:, None, :], size=L, mode="linear", align_corners=False)[:, 0]
    return cam.detach()


def _make_baselines(x: torch.Tensor, baselines, n: int, random_state) -> torch.Tensor:
    """(N, n, 4, L) references: 'zeros', 'uniform', 'shuffle', 'dinuc_shuffle' or a tensor/array."""
    N, _, L = x.shape
    if baselines is None or isinstance(baselines, str):
        kind = baselines or "zeros"
        if kind == "zeros":
            return torch.zeros(N, n, 4, L, device=x.device)
        if kind == "uniform":
            return torch.full((N, n, 4, L), 0.25, device=x.device)
        if kind in ("dinuc_shuffle", "dinucleotide", "shuffle"):
            rng = np.random.default_rng(random_state)
            if kind == "shuffle":
                idx = np.stack([np.stack([rng.permutation(L) for _ in range(n)]) for _ in range(N)])
                return torch.stack([x[i][:, torch.from_numpy(idx[i]).long()].permute(1, 0, 2)
                                    for i in range(N)]).to(x.device)
            from tangermeme.ersatz import dinucleotide_shuffle

            seed = int(rng.integers(2**31 - 1))
            return dinucleotide_shuffle(x.cpu(), n=n, random_state=seed).float().to(x.device)
        raise ConfigError(f"unknown baselines {kind!r}; use zeros, uniform, shuffle, dinuc_shuffle or an array")
    b = baselines if torch.is_tensor(baselines) else torch.from_numpy(np.asarray(baselines, dtype=np.float32))
    b = b.float().to(x.device)
    if b.dim() == 3:
        b = b[:, None]
    if b.dim() != 4 or b.shape[2] != 4 or b.shape[3] != L:
        raise ConfigError(f"baselines must be (N|1, 4, L) or (N, n, 4, L) with L={L}, got {tuple(b.shape)}")
    if b.shape[0] == 1 and N > 1:
        b = b.expand(N, -1, -1, -1)
    return b


def _integrated_gradients(f, x, baselines, n_steps, internal_batch_size):
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(f)
    b = baselines[:, 0]
    with torch.enable_grad():
        attr, delta = ig.attribute(x, baselines=b, n_steps=n_steps, method="gausslegendre",
                                   internal_batch_size=internal_batch_size, return_convergence_delta=True)
    return attr.detach(), delta.detach()


def _expected_ig(f, x, refs, n_steps, random_state):
    """EIG: mean over samples k of (x - b_k) * grad f(b_k + a_k (x - b_k)), a_k ~ U(0, 1)."""
    N, n_ref = refs.shape[:2]
    g = torch.Generator().manual_seed(int(random_state or 0))
    total = torch.zeros_like(x)
    for k in range(n_steps):
        b = refs[:, k % n_ref]
        a = torch.rand(N, 1, 1, generator=g).to(x.device)
        total += (x - b) * _gradient(f, b + a * (x - b))
    return total / n_steps


class _Recorder(nn.Module):
    """``f`` with outputs ``(N, 1)`` (tangermeme's shape) that keeps every forward's outputs, so the
    additivity check reuses the values DeepLIFT computed instead of running the model again."""

    def __init__(self, f):
        super().__init__()
        self.f = f
        self.outputs: list[torch.Tensor] = []

    def forward(self, x):
        y = self.f(x)
        self.outputs.append(y.detach().float().cpu())
        return y[:, None]


def _deeplift_shap(f, x, refs, batch_size, random_state, hypothetical=False):
    """tangermeme's `deep_lift_shap` on all of `x`: ``(attributions, additivity gaps)``.

    `refs` is ``(references, n)``: tangermeme's `dinucleotide_shuffle` (tangermeme draws ``n`` shuffles,
    pair ``(i, k)`` seeded ``random_state + k``, so the result equals a direct call) or an ``(N, n, 4, L)``
    tensor. The gap
    of sequence i is ``sum(attr[i]) - (f(x_i) - mean_k f(ref_ik))`` from the forward passes DeepLIFT ran
    (None when `hypothetical`).
    """
    from tangermeme.deep_lift_shap import deep_lift_shap

    refs_arg, n = refs
    rec = _Recorder(f).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr = deep_lift_shap(rec, x, references=refs_arg, n_shuffles=n, batch_size=batch_size,
                              warning_threshold=float("inf"), only_warn=True, device=x.device,
                              hypothetical=hypothetical, random_state=random_state)
    attr = attr.detach().float()
    if hypothetical:
        return attr, None
    halves = [o.chunk(2) for o in rec.outputs]  # each forward: (pairs' x, pairs' references)
    diff = (torch.cat([h[0] for h in halves]) - torch.cat([h[1] for h in halves])).reshape(x.shape[0], n)
    return attr, attr.double().sum((1, 2)) - diff.double().mean(1)


class _CNNDeepLiftView(nn.Module):
    """`bindscape_cnn` with its functional global max replaced by an `nn.MaxPool1d` module, so DeepLIFT's
    max-pool rule applies and additivity holds (same outputs as the model; with a k-mer spectrum branch,
    ``params.kmers``, the branch's share of the output is not attributed and the additivity check warns)."""

    def __init__(self, model: nn.Module, length: int):
        super().__init__()
        self.m = model
        with torch.no_grad():
            n = model.pool(model.stem(torch.zeros(1, 4, length, device=_device_of(model, None)))).shape[-1]
        self.gmp = nn.MaxPool1d(n)

    def forward(self, x):
        m = self.m
        h = m.blocks(m.pool(m.stem(x)))
        e = m.mlp(torch.cat([self.gmp(h)[..., 0], h.mean(dim=-1)], dim=1))
        if m.kmers is not None:  # no gradient path: DeepLIFT's additivity check reports its share
            e = torch.cat([e, m.kmers(x)], dim=1)
        return m.head(e)


def deeplift_view(model: nn.Module, length: int) -> nn.Module:
    """A DeepLIFT-friendly equivalent of `model` where one is known (the default CNN); else the model.

    Parameters
    ----------
    model : nn.Module
        A bindscape model.
    length : int
        Input length (bp) the view is built for.

    Returns
    -------
    nn.Module
        The view (in eval mode) or `model` itself.
    """
    from bindscape.models.fast import BindscapeCNN

    if isinstance(model, BindscapeCNN):
        return _CNNDeepLiftView(model, length).eval()
    return model


class _Unsqueeze(nn.Module):
    """tangermeme wants (N, n_outputs) outputs."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)[:, None]


def _deeplift_all(model, f, x, *, baselines, n_baselines, batch_size, random_state, additivity_tol, hypothetical):
    """DeepLIFT-SHAP of all of `x` through the model's DeepLIFT view; warns when additivity fails."""
    if baselines is None or (isinstance(baselines, str) and baselines in ("dinuc_shuffle", "dinucleotide")):
        from tangermeme.ersatz import dinucleotide_shuffle

        refs = (dinucleotide_shuffle, int(n_baselines))  # tangermeme draws the shuffles (seeded per pair)
    else:
        b = _make_baselines(x, baselines, n_baselines, random_state)
        refs = (b, int(b.shape[1]))
    fd = _Target(deeplift_view(model, x.shape[-1]), f.target).eval()
    attr, gap = _deeplift_shap(fd, x, refs, batch_size, random_state, hypothetical)
    model.eval()
    if gap is not None:
        d = gap.abs()
        if float(d.max()) > additivity_tol:
            i = int(d.argmax())
            warnings.warn(
                f"DeepLIFT-SHAP additivity fails: attributions of sequence {i} sum to a value {float(d[i]):.3g} "
                f"away from f(x) - mean f(references) (tolerance {additivity_tol:g}; {int((d > additivity_tol).sum())}"
                f" of {len(d)} sequences); the model has operations DeepLIFT treats as linear (e.g. functional "
                "max/activation calls) -- read these scores with care", AttributionWarning, stacklevel=4)
    return attr.cpu()


def _attribute_once(model, f, x, method, *, layer, baselines, n_steps, n_baselines, batch_size, random_state,
                    additivity_tol, hypothetical=False):
    if method == "ism":  # one tangermeme call over all sequences (it loops over them itself)
        return _ism(f, x, max(4 * batch_size, 256)).detach().float().cpu()
    if method == "deeplift_shap":
        return _deeplift_all(model, f, x, baselines=baselines, n_baselines=n_baselines, batch_size=batch_size,
                             random_state=random_state, additivity_tol=additivity_tol, hypothetical=hypothetical)
    outs = []
    deltas = []
    arr_b = baselines is not None and not isinstance(baselines, str)
    if arr_b:
        baselines = baselines if torch.is_tensor(baselines) else torch.from_numpy(np.asarray(baselines, np.float32))
    for s in _batches(x.shape[0], batch_size):
        xb = x[s]
        if arr_b and baselines.shape[0] == x.shape[0] and x.shape[0] > 1:
            bl = baselines[s]
        else:
            bl = baselines
        if method == "saliency":
            a = _gradient(f, xb)
        elif method == "grad_x_input":
            a = _gradient(f, xb) * xb
        elif method == "gradcam":
            a = _gradcam(f, model, xb, layer)[:, None, :] * xb
        elif method == "gradcam_x_saliency":
            a = _gradcam(f, model, xb, layer)[:, None, :] * _gradient(f, xb) * xb
        elif method == "integrated_gradients":
            b = _make_baselines(xb, bl, 1, random_state)
            a, d = _integrated_gradients(f, xb, b, n_steps, max(batch_size, 64))
            deltas.append(d)
        elif method == "expected_integrated_gradients":
            b = _make_baselines(xb, "dinuc_shuffle" if bl is None else bl, n_baselines, random_state)
            a = _expected_ig(f, xb, b, n_steps, random_state)
        else:  # pragma: no cover - check_method guards
            raise ConfigError(method)
        outs.append(a.detach().float().cpu())
    attr = torch.cat(outs)
    if deltas and method == "integrated_gradients":
        d = torch.cat(deltas).abs().cpu()
        if float(d.max()) > max(additivity_tol, 1e-2):
            warnings.warn(f"integrated gradients did not converge: completeness gap up to {float(d.max()):.3g}; "
                          "raise n_steps", AttributionWarning, stacklevel=3)
    return attr


def attribute(model: nn.Module, x, method: str = "saliency", *, target: int = 0, layer=None, baselines=None,
              n_steps: int = 50, n_baselines: int = 10, batch_size: int = 64, device=None, rc_average: bool = False,
              random_state: int | None = 0, additivity_tol: float = 1e-3, hypothetical: bool = False) -> np.ndarray:
    """Attributions of the logit of output `target` with respect to one-hot `x`.

    Parameters
    ----------
    model : nn.Module
        The model; its mode and device are restored afterwards.
    x : array-like
        One-hot sequences ``(N, 4, L)``.
    method : str
        One of `METHODS` (or an alias, see `check_method`).
    target : int
        Output (logit) index to explain.
    layer : str or nn.Module, optional
        Grad-CAM layer (module name like ``"stem"`` or ``"blocks.1"``, or the module; default: the model's
        ``blocks`` stage or its last Conv1d).
    baselines : str or array-like, optional
        For IG ``"zeros"`` (default), ``"uniform"``, ``"shuffle"``, ``"dinuc_shuffle"`` or an array
        ``(N|1, 4, L)``; for EIG / DeepLIFT-SHAP the default is `n_baselines` dinucleotide shuffles per sequence.
    n_steps : int
        IG integration points / EIG samples.
    n_baselines : int
        Shuffled references per sequence (DeepLIFT-SHAP, EIG).
    batch_size : int
        Sequences per batch.
    device : str or torch.device, optional
        Where to compute (default: the model's device).
    rc_average : bool
        Average with the attributions of the reverse complement mapped back to the forward strand.
    random_state : int, optional
        Seed of the shuffled references.
    additivity_tol : float
        Warn (`AttributionWarning`) when DeepLIFT-SHAP's additivity check is off by more than this.
    hypothetical : bool
        DeepLIFT-SHAP only: return hypothetical contributions (every base at every position), TF-MoDISco's
        input; for the other methods use `hypothetical(attr, x, method)`.

    Returns
    -------
    numpy.ndarray
        ``(N, 4, L)`` float32.
    """
    method = check_method(method)
    dev = _device_of(model, device)
    was_training = model.training
    orig = _device_of(model, None)
    model.eval()
    model.to(dev)
    f = _Target(model, target).eval()
    xt = _as_tensor(x, dev)
    kw = dict(layer=layer, baselines=baselines, n_steps=int(n_steps), n_baselines=int(n_baselines),
              batch_size=int(batch_size), random_state=random_state, additivity_tol=float(additivity_tol),
              hypothetical=bool(hypothetical) and method == "deeplift_shap")
    try:
        attr = _attribute_once(model, f, xt, method, **kw)
        if rc_average:
            b = kw["baselines"]
            if b is not None and not isinstance(b, str):  # references follow the strand
                kw["baselines"] = b.flip(-2, -1) if torch.is_tensor(b) else np.ascontiguousarray(
                    np.asarray(b)[..., ::-1, ::-1])
            arc = _attribute_once(model, f, reverse_complement(xt), method, **kw)
            attr = 0.5 * (attr + reverse_complement(arc))
    finally:
        model.to(orig)
        model.train(was_training)
    return attr.numpy().astype(np.float32)


def position_scores(attr: np.ndarray, x: np.ndarray, method: str | None = None) -> np.ndarray:
    """One score per position: the observed base's attribution, or for ISM the mean drop of the logit over
    the three substitutions (positive = the observed base supports binding).

    Parameters
    ----------
    attr : numpy.ndarray
        Attributions ``(N, 4, L)`` from `attribute`.
    x : numpy.ndarray
        The one-hot sequences ``(N, 4, L)``.
    method : str, optional
        The method that made `attr` (only ISM is scored differently).

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float32.
    """
    attr = np.asarray(attr, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if method is not None and check_method(method) == "ism":
        return -attr.sum(axis=1) / 3.0
    return (attr * x).sum(axis=1)


def hypothetical(attr: np.ndarray, x: np.ndarray, method: str) -> np.ndarray:
    """Hypothetical contributions for TF-MoDISco.

    Gradients are mean-centred over the four bases (so they sum to 0 per position); ISM deltas are centred the
    same way; methods that score only the observed base (Grad-CAM, gradient x input) spread that score to
    the observed base only.

    Parameters
    ----------
    attr, x : numpy.ndarray
        Attributions ``(N, 4, L)`` from `attribute`, and the one-hot sequences they explain.
    method : str
        The method that made `attr`.

    Returns
    -------
    numpy.ndarray
        ``(N, 4, L)`` float32.
    """
    method = check_method(method)
    a = np.asarray(attr, dtype=np.float32)
    if method in ("saliency", "ism", "deeplift_shap_hypothetical"):
        return a - a.mean(axis=1, keepdims=True)
    return a * np.asarray(x, dtype=np.float32)

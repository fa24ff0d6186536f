"""`attribute(method='ism' | 'deeplift_shap')` equals tangermeme's functions called directly (issue 18 item 5):
same model, same inputs, outputs equal to the bit; the additivity check reuses DeepLIFT's own forward passes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from bindscape.explain.attributions import AttributionWarning, attribute, deeplift_view
from bindscape.models import get_model

torch.set_num_threads(1)
TINY = {"channels": 8, "hidden": 8, "dilations": [1], "stem_kernel": 9}


class Head(nn.Module):
    """Output `target` of a model as (N, 1), what tangermeme expects."""

    def __init__(self, m, target=0):
        super().__init__()
        self.m, self.t = m, target
        self.eval()  # tangermeme puts a wrapper back in the mode it found it in, the model included

    def forward(self, x):
        return self.m(x)[:, self.t : self.t + 1]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return get_model("bindscape_cnn", length=60, n_outputs=2, **TINY).eval()


def _x(n, L=60, seed=0):
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, L))].transpose(0, 2, 1).copy()


def test_ism_equals_tangermeme_saturation_mutagenesis(model):
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    x = _x(3)
    x[1, :, 7] = 0  # an N: all four substitutions are evaluated there
    for target in (0, 1):
        ours = attribute(model, x, "ism", target=target, batch_size=8)
        y0, y_hat = saturation_mutagenesis(Head(model, target), torch.from_numpy(x), batch_size=256,
                                           raw_outputs=True, device="cpu")
        ref = (y_hat[..., 0] - y0[:, None, None, 0]).numpy()
        np.testing.assert_array_equal(ours, ref)
        assert (ours[x == 1] == 0).all() and (ours[1, :, 7] != 0).all()


def test_deeplift_shap_equals_tangermeme_deep_lift_shap(model):
    from tangermeme.deep_lift_shap import deep_lift_shap

    x = _x(5, seed=1)
    for hyp in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AttributionWarning)  # the exact view: additivity holds
            ours = attribute(model, x, "deeplift_shap", target=1, n_baselines=4, batch_size=6, random_state=3,
                             hypothetical=hyp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = deep_lift_shap(Head(deeplift_view(model, 60), 1), torch.from_numpy(x), n_shuffles=4, batch_size=6,
                                 random_state=3, device="cpu", hypothetical=hyp).numpy()
        np.testing.assert_array_equal(ours, ref)
    # the batch size only groups (sequence, reference) pairs: the references and results do not change
    other = attribute(model, x, "deeplift_shap", target=1, n_baselines=4, batch_size=7, random_state=3)
    np.testing.assert_allclose(other, ours if not hyp else attribute(
        model, x, "deeplift_shap", target=1, n_baselines=4, batch_size=6, random_state=3), atol=1e-6)


def test_deeplift_view_of_a_cnn_with_kmers_gives_the_models_outputs():
    torch.manual_seed(0)
    m = get_model("bindscape_cnn", length=60, n_outputs=2, kmers=[3], kmer_dim=4, **TINY).eval()
    x = torch.from_numpy(_x(4, seed=3))
    with torch.no_grad():
        torch.testing.assert_close(deeplift_view(m, 60)(x), m(x))

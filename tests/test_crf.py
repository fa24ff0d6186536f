"""The 2-class linear-chain CRF: forward algorithm and Viterbi against brute force; training cuts transitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from bindscape.evaluate.bp import transition_rate
from bindscape.evaluate.crf import LinearChainCRF, fit_crf

torch.set_num_threads(1)


def _random_crf(seed):
    g = torch.Generator().manual_seed(seed)
    crf = LinearChainCRF()
    with torch.no_grad():
        for p in (crf.transitions, crf.start, crf.end):
            p.copy_(torch.randn(p.shape, generator=g))
    return crf, g


@pytest.mark.parametrize("L", [1, 2, 3, 5, 8])
def test_forward_and_viterbi_match_brute_force(L):
    crf, g = _random_crf(L)
    em = torch.randn(3, L, 2, generator=g) * 2
    paths = torch.tensor(list(itertools.product([0, 1], repeat=L)))  # all 2^L paths
    for n in range(3):
        scores = crf.path_score(em[n : n + 1].expand(len(paths), -1, -1), paths)
        logz = crf.log_partition(em[n : n + 1])[0]
        assert torch.allclose(logz, torch.logsumexp(scores, 0), atol=1e-5)
        path, best = crf.viterbi(em[n : n + 1])
        assert torch.allclose(best[0], scores.max(), atol=1e-5)
        assert torch.equal(path[0], paths[scores.argmax()])


def test_emissions_use_scale_and_bias_and_nll_is_positive():
    crf = LinearChainCRF()
    with torch.no_grad():
        crf.scale.fill_(2.0)
        crf.bias.fill_(-1.0)
    em = crf.emissions(torch.tensor([[0.5, -1.0]]))
    assert torch.allclose(em, torch.tensor([[[0.0, 0.0], [0.0, -3.0]]]))
    assert crf.nll(torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.long)).item() > 0


def test_crf_training_cuts_transitions_on_a_noisy_toy():
    rng = np.random.default_rng(0)
    N, L = 200, 120
    y = np.zeros((N, L), np.uint8)
    for i in range(N):  # one bound stretch of 20-40 bp in most sequences
        if rng.random() < 0.8:
            s = rng.integers(0, L - 40)
            y[i, s : s + rng.integers(20, 41)] = 1
    logits = (2.0 * y - 1.0) * 1.0 + rng.normal(0, 1.5, y.shape)  # noisy per-bp outputs
    thr = (logits > 0).astype(np.uint8)
    crf = fit_crf(logits[:150], y[:150], epochs=15, seed=0)
    calls = crf.decode(logits[150:])
    truth_rate = transition_rate(y[150:]).mean()
    thr_rate, crf_rate = transition_rate(thr[150:]).mean(), transition_rate(calls).mean()
    assert thr_rate > 5 * truth_rate
    assert crf_rate < thr_rate / 3  # far fewer spurious flips
    assert abs(crf_rate - truth_rate) < abs(thr_rate - truth_rate)
    # staying in a class is learned to be favoured
    T = crf.transitions.detach()
    assert T[0, 0] > T[0, 1] and T[1, 1] > T[1, 0]
    # and the calls are still accurate
    assert (calls == y[150:]).mean() > (thr[150:] == y[150:]).mean()

"""bindscape.explain: attributions (exact checks on toy models), k-mer Fisher tests, score agreement, the
tiny interpretation benchmark and the `bindscape explain` and `bindscape evaluate` CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bindscape.explain import (
    METHODS,
    AttributionWarning,
    attribute,
    kmer_enrichment,
    position_scores,
    reverse_complement,
    score_agreement,
    tss_groups,
)
from bindscape.models import get_model

torch.set_num_threads(1)
TINY = {"channels": 16, "hidden": 16, "dilations": [1], "stem_kernel": 9}


def _onehot(n, L, seed=0):
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, L))].transpose(0, 2, 1).copy()


class Linear(nn.Module):
    """f(x) = sum(W * x) + b, two outputs (the second is -f) to check `target`."""

    def __init__(self, L, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(4, L, generator=g))
        self.b = nn.Parameter(torch.tensor(0.3))

    def forward(self, x):
        y = (x * self.W).sum((1, 2)) + self.b
        return torch.stack([y, -y], dim=1)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return get_model("bindscape_cnn", length=80, **TINY).eval()


def test_ism_equals_its_definition_on_a_linear_model():
    L = 30
    m = Linear(L).eval()
    x = _onehot(3, L)
    ism = attribute(m, x, "ism", batch_size=7)
    xt = torch.from_numpy(x)
    brute = np.zeros_like(x)
    with torch.no_grad():
        ref = m(xt)[:, 0]
        for n in range(3):
            for i in range(L):
                for b in range(4):
                    if x[n, b, i] == 1:
                        continue  # identity substitutions are skipped
                    mut = xt[n:n + 1].clone()
                    mut[0, :, i] = 0
                    mut[0, b, i] = 1
                    brute[n, b, i] = float(m(mut)[0, 0] - ref[n])
    np.testing.assert_array_equal(ism, brute)
    W = m.W.detach().numpy()
    analytic = W[None] - (W[None] * x).sum(1, keepdims=True)
    np.testing.assert_allclose(ism, analytic * (1 - x), atol=1e-5)
    assert (ism[x == 1] == 0).all()
    # per-position summary: mean loss over the three substitutions
    np.testing.assert_allclose(position_scores(ism, x, "ism"), -ism.sum(1) / 3)
    # target=1 explains the second output (= -f)
    np.testing.assert_allclose(attribute(m, x, "ism", target=1), -ism, atol=1e-6)


def test_saliency_and_grad_x_input_are_the_analytic_gradients():
    L = 25
    m = Linear(L, seed=1).eval()
    x = _onehot(4, L, seed=1)
    W = m.W.detach().numpy()
    np.testing.assert_allclose(attribute(m, x, "saliency"), np.broadcast_to(W, x.shape), atol=1e-6)
    np.testing.assert_allclose(attribute(m, x, "grad_x_input"), W[None] * x, atol=1e-6)
    np.testing.assert_allclose(attribute(m, x, "saliency", target=1), -np.broadcast_to(W, x.shape), atol=1e-6)


def test_integrated_gradients_completeness(cnn):
    x = _onehot(6, 80, seed=2)
    xt = torch.from_numpy(x)
    for baselines, b in (("zeros", torch.zeros_like(xt)), ("uniform", torch.full_like(xt, 0.25))):
        a = attribute(cnn, x, "integrated_gradients", n_steps=64, baselines=baselines)
        with torch.no_grad():
            want = (cnn(xt) - cnn(b))[:, 0].numpy()
        got = a.sum((1, 2))
        assert np.abs(got - want).max() <= 1e-2 * max(1e-3, np.abs(want).max()) + 1e-4, (got, want)


def test_gradcam_shapes_and_non_negativity(cnn):
    x = _onehot(5, 80, seed=3)
    for layer in (None, "stem", "blocks.0"):
        g = attribute(cnn, x, "gradcam", layer=layer)
        assert g.shape == x.shape and (g >= 0).all()
        assert (g[x == 0] == 0).all()  # placed at the observed base only
    gs = attribute(cnn, x, "gradcam_x_saliency")
    assert gs.shape == x.shape and np.isfinite(gs).all()
    with pytest.raises(Exception, match="no layer"):
        attribute(cnn, x, "gradcam", layer="nope")


class SinNet(nn.Module):
    """A functional nonlinearity (torch.sin) that DeepLIFT treats as linear -> additivity fails."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 8, 5)
        self.lin = nn.Linear(8, 1)

    def forward(self, x):
        return self.lin(torch.sin(3 * self.conv(x)).mean(-1))


def test_deeplift_shap_warns_when_additivity_fails(cnn):
    x = _onehot(4, 40, seed=4)
    with pytest.warns(AttributionWarning, match="additivity"):
        attribute(SinNet().eval(), x, "deeplift_shap", n_baselines=4)
    # the default CNN is explained through a DeepLIFT-exact view: additivity holds, no warning
    x = _onehot(4, 80, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AttributionWarning)
        a = attribute(cnn, x, "deeplift_shap", n_baselines=4)
    assert a.shape == x.shape and np.abs(a[x == 0]).max() == 0


def test_all_methods_shapes_and_rc_average(cnn):
    x = _onehot(3, 80, seed=5)
    for m in METHODS:
        a = attribute(cnn, x, m, n_steps=8, n_baselines=3)
        assert a.shape == x.shape and a.dtype == np.float32 and np.isfinite(a).all(), m
    a = attribute(cnn, x, "saliency", rc_average=True)
    b = attribute(cnn, reverse_complement(x), "saliency", rc_average=True)
    np.testing.assert_allclose(a, reverse_complement(b), atol=1e-6)
    with pytest.raises(Exception, match="choose one of"):
        attribute(cnn, x, "lime")


def test_kmer_enrichment_matches_scipy_fisher_and_excludes_core():
    from scipy.stats import fisher_exact

    rng = np.random.default_rng(0)
    N, L, k = 40, 60, 5
    codes = rng.integers(0, 4, (N, L))
    motif = np.array([0, 2, 3, 3, 1])  # AGTTC, planted where scores are high
    scores = rng.normal(0, 0.1, (N, L))
    core = np.zeros((N, L), bool)
    for i in range(N):
        codes[i, 10:15] = motif
        scores[i, 10:15] += 1.0
        codes[i, 30:35] = [1, 1, 1, 1, 1]  # CCCCC "core": high scores but masked
        scores[i, 30:35] += 5.0
        core[i, 30:35] = True
    df = kmer_enrichment(scores, codes, k=k, top_frac=0.02, core_mask=core, strand_aware=True)
    assert df.iloc[0]["kmer"] == "AGTTC" and df.iloc[0]["significant"]
    cc = df[df["kmer"] == "CCCCC"]  # canonical of CCCCC/GGGGG; windows touching the core are gone
    assert cc.empty or (cc["n_top"].iloc[0] == 0 and not cc["significant"].iloc[0])
    nocore = kmer_enrichment(scores, codes, k=k, top_frac=0.02)
    assert nocore.iloc[0]["kmer"] == "CCCCC"  # without the mask the core dominates
    n_top, n_all = df.attrs["n_top_windows"], df.attrs["n_windows"]
    for row in df.head(5).itertuples():
        a, c = row.n_top, row.n_rest
        _, p = fisher_exact([[a, n_top - a], [c, n_all - n_top - c]], alternative="greater")
        assert row.p == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert row.p_bonferroni == pytest.approx(min(1.0, p * 512))  # 512 canonical 5-mers
    assert df.attrs["n_tests"] == 512
    # strand-unaware: every 5-mer is its own test
    assert kmer_enrichment(scores, codes, k=k, strand_aware=False).attrs["n_tests"] == 1024
    # one-hot input gives the same table
    oh = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1)
    pd.testing.assert_frame_equal(df, kmer_enrichment(scores, oh, k=k, top_frac=0.02, core_mask=core))


def test_tss_groups():
    regions = pd.DataFrame({"chrom": ["a", "a", "b", "c"], "start": [0, 5000, 100, 0], "end": [200, 5200, 300, 10]})
    tss = pd.DataFrame({"chrom": ["a", "b"], "start": [600, 5000], "end": [601, 5001], "strand": ["+", "-"]})
    assert tss_groups(regions, tss, distance=1000).tolist() == ["proximal", "distal", "distal", "distal"]


def test_score_agreement_is_the_direct_correlation():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 4, 30))
    b = a + rng.normal(scale=0.5, size=a.shape)
    r = score_agreement(a, b)
    want = [np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(5)]
    np.testing.assert_allclose(r["per_sequence"], want)
    assert r["mean"] == pytest.approx(np.mean(want))
    assert r["pooled"] == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    from scipy.stats import spearmanr

    rs = score_agreement(a[:, 0], b[:, 0], method="spearman")
    assert rs["per_sequence"][0] == pytest.approx(spearmanr(a[0, 0], b[0, 0])[0])


def test_tiny_interpretation_benchmark():
    from bindscape.explain.benchmark import METRICS, BenchmarkConfig, run_benchmark

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AttributionWarning)
        df = run_benchmark(BenchmarkConfig.tiny())
    assert df["method"].tolist() == list(METHODS)
    assert list(df.columns) == ["method", *METRICS]
    assert (df["runtime_s"] > 0).all()
    for c in ("accuracy", "recall", "auroc"):
        assert df[c].between(0, 1).all(), df
    assert (df["snr"] > 0).all()
    assert df.attrs["val_auroc"] > 0.8  # the tiny model learns the context motif
    assert df["auroc"].median() > 0.6  # and attributions point at it


# ---------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from bindscape.data.sequences import build_sequence_dataset
    from bindscape.train import train
    from bindscape.train.config import validate_config

    root = tmp_path_factory.mktemp("explain")
    rng = np.random.default_rng(0)
    motif = "TTACCCGG"
    for split, n in (("train", 400), ("val", 100), ("test", 100)):
        s = np.array(list("ACGT"))[rng.integers(0, 4, (n, 60))]
        y = rng.integers(0, 2, n)
        for i in np.flatnonzero(y):
            p = rng.integers(0, 52)
            s[i, p:p + 8] = list(motif)
        pd.DataFrame({"sequence": ["".join(r) for r in s], "label": y}).to_csv(root / f"{split}.csv", index=False)
    ds = build_sequence_dataset(root / "ds", train=[root / "train.csv"], val=[root / "val.csv"],
                                test=[root / "test.csv"])
    cfg = validate_config({"dataset": str(ds), "name": "tiny", "out_dir": str(root / "runs"),
                           "model": {"name": "bindscape_cnn", "params": TINY}, "data": {"batch_size": 32},
                           "optim": {"lr": 0.01}, "trainer": {"max_epochs": 2, "progress": False, "patience": None}})
    return train(cfg)


def _cli():
    from bindscape.cli import main

    return main


def test_cli_explain_writes_outputs(tiny_run, tmp_path):
    main = _cli()
    out = tmp_path / "ex"
    rc = main(["explain", "--checkpoint", str(tiny_run), "--method", "grad_x_input", "--n", "20", "--kmers",
               "--top-frac", "0.05", "--out", str(out)])
    assert rc == 0
    for f in ("attributions.npz", "regions.tsv", "kmers.tsv", "summary.json", "report.html"):
        assert (out / f).exists(), f
    z = np.load(out / "attributions.npz")
    assert z["attributions"].shape == (20, 4, 60) and z["scores"].shape == (20, 60)
    reg = pd.read_csv(out / "regions.tsv", sep="\t")
    assert (reg["label"] == 1).all() and reg["prob"].is_monotonic_decreasing
    km = pd.read_csv(out / "kmers.tsv", sep="\t")
    assert {"kmer", "p", "p_bonferroni", "significant"} <= set(km.columns)


def test_cli_evaluate_prints_and_writes_metrics_csv(tiny_run, tmp_path, capsys):
    """`bindscape evaluate --out` writes metrics.csv (what its help says) and no report."""
    main = _cli()
    out = tmp_path / "ev"
    rc = main(["evaluate", "--checkpoint", str(tiny_run), "--dataset", str(tiny_run.parent.parent / "ds"),
               "--bootstrap", "0", "--out", str(out)])
    assert rc == 0
    assert "auROC" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv"]
    m = pd.read_csv(out / "metrics.csv")
    assert list(m["model"]) == ["tiny"] and m["n"].iloc[0] == 100 and 0 <= m["auROC"].iloc[0] <= 1


def test_cli_explain_bad_method_exits_2(tiny_run, capsys):
    main = _cli()
    assert main(["explain", "--checkpoint", str(tiny_run), "--method", "lime"]) == 2
    err = capsys.readouterr().err
    assert "unknown attribution method" in err and "deeplift_shap" in err and "integrated_gradients" in err


@pytest.mark.slow
def test_modisco_tomtom_recovers_the_planted_context_motif():
    """TF-MoDISco on DeepLIFT-SHAP of the benchmark's positives finds TAL1 (MA0091.1); Tomtom against
    JASPAR CORE names it with q < 0.05. Minutes (numba compiles Tomtom on first use)."""
    from bindscape.explain.benchmark import simulate_sequences, train_model
    from bindscape.explain.modisco import annotate_patterns, find_match, run_modisco

    tr = simulate_sequences(3000, length=150, seed=0)
    ev = simulate_sequences(1200, length=150, seed=1)
    model, auc = train_model(tr["x"], tr["y"], x_val=ev["x"], y_val=ev["y"], epochs=5,
                             model_params={"channels": 32, "hidden": 32, "dilations": [1, 2]})
    assert auc > 0.9
    x = ev["x"][ev["y"] == 1][:500]
    hyp = attribute(model, x, "deeplift_shap", n_baselines=8, hypothetical=True)
    patterns = run_modisco(x, hyp, max_seqlets=2000)
    ann = annotate_patterns(patterns, None)
    hit = find_match(ann, "MA0091", top_patterns=3)
    assert hit is not None and hit["q"] < 0.05, ann


def test_report_section_draws_patterns_tracks_and_tables():
    from bindscape.explain.modisco import Pattern
    from bindscape.report import Report
    from bindscape.report.explain_section import add_explain_section

    rng = np.random.default_rng(0)
    cwm = rng.normal(size=(4, 12))
    pat = Pattern("pos_pattern_0", cwm=cwm, hcwm=cwm, ppm=np.full((4, 12), 0.25), n_seqlets=40, trim=(2, 10))
    ann = pd.DataFrame([{"pattern": "pos_pattern_0", "n_seqlets": 40, "consensus": pat.consensus, "rank": 1,
                         "target": "REB1", "target_id": "MA0363.3", "p": 1e-6, "q": 1e-4}])
    km = pd.DataFrame({"kmer": ["TTACC"], "n_top": [9], "n_rest": [3], "p": [1e-9], "p_bonferroni": [5e-7],
                       "significant": [True]})
    res = {"method": "saliency", "meta": {"n": 3, "split": "test"}, "patterns": [pat], "annotation": ann,
           "kmers": km, "tracks": [{"name": "t1", "scores": rng.normal(size=20), "sequence": "ACGT" * 5}]}
    r = Report(title="x")
    add_explain_section(r, res)
    html = r.to_html()
    assert html.count("<img") == 2 and "MA0363.3" in html and "TTACC" in html

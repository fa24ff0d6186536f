"""`bindscape marginalize`: exact insertion positions and spacing convention, dinucleotide-preserving
backgrounds, seeded determinism, known effects of toy k-mer and spacing models, and one-line CLI errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.explain.marginalize import (
    InsertMotif,
    anchor_start,
    background_sequences,
    insert_pair,
    motif_onehot,
    parse_spacing,
    rc_scores,
    resolve_motif,
    single_effect,
    spacing_curve,
)
from bindscape.io.genome import Genome
from bindscape.models import get_model
from bindscape.train.checkpoint import save_model
from conftest import assert_one_error, cli, random_seqs, write_fasta

torch.set_num_threads(1)
L = 60
A, P = "TGACTCAG", "GGCCAAT"  # anchor (8 bp) and partner (7 bp) consensus strings


def _rc(s: str) -> str:
    return s[::-1].translate(str.maketrans("ACGT", "TGCA"))


def _decode(x: torch.Tensor) -> list[str]:
    return ["".join("ACGT"[i] for i in row.argmax(0).tolist()) for row in x]


def _random_onehot(n: int, seed: int = 0) -> torch.Tensor:
    idx = np.random.default_rng(seed).integers(0, 4, (n, L))
    return torch.from_numpy(np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1).copy())


class KmerModel(torch.nn.Module):
    """Logit = `weight` where the forward strand holds `kmer` exactly, else 0."""

    def __init__(self, kmer: str, weight: float = 2.0):
        super().__init__()
        w = np.eye(4, dtype=np.float32)[[("ACGT").index(c) for c in kmer]].T[None]  # (1, 4, k)
        self.register_buffer("w", torch.from_numpy(w))
        self.k, self.weight = len(kmer), weight

    def hits(self, x):
        return (torch.nn.functional.conv1d(x, self.w) >= self.k - 0.5).float()  # (N, 1, L - k + 1)

    def forward(self, x):
        return self.weight * self.hits(x).amax(dim=2)


class SpacingModel(torch.nn.Module):
    """Logit = 3 where anchor A is followed, `gap` bp after its end, by partner P (forward strand only)."""

    def __init__(self, gap: int):
        super().__init__()
        self.a, self.p, self.gap = KmerModel(A), KmerModel(P), gap

    def forward(self, x):
        ha, hp = self.a.hits(x)[:, 0], self.p.hits(x)[:, 0]
        off = len(A) + self.gap
        n = min(ha.shape[1], hp.shape[1] - off)
        return 3.0 * (ha[:, :n] * hp[:, off:off + n]).amax(dim=1, keepdim=True)


def test_insertion_positions_orders_strands_and_spacing_convention():
    x = _random_onehot(3)
    a = torch.from_numpy(motif_onehot(resolve_motif(A), 1))
    p = torch.from_numpy(motif_onehot(resolve_motif(P), 1))
    p_minus = torch.from_numpy(motif_onehot(resolve_motif(P), 1, reverse=True))
    s = anchor_start(L, len(A))
    assert s == L // 2 - len(A) // 2 == 26
    for gap in (0, 5, 12):
        for order, part, want_p in (("AP", p, P), ("AP", p_minus, _rc(P)), ("PA", p, P), ("PA", p_minus, _rc(P))):
            seqs = _decode(insert_pair(x, a, part, gap, order))
            ps = s + len(A) + gap if order == "AP" else s - gap - len(P)
            for i, sq in enumerate(seqs):
                assert sq[s:s + len(A)] == A  # the anchor never moves
                assert sq[ps:ps + len(P)] == want_p
                # the simulator's partner_spacing: bases between the end of the first motif and the second's start
                first_end = s + len(A) if order == "AP" else ps + len(P)
                second_start = ps if order == "AP" else s
                assert second_start - first_end == gap
                keep = np.ones(L, bool)
                keep[s:s + len(A)] = keep[ps:ps + len(P)] = False
                assert np.array(list(sq))[keep].tolist() == np.array(list(_decode(x[i:i + 1])[0]))[keep].tolist()


def test_sampled_instances_follow_the_ppm_and_seed():
    m = InsertMotif("m", np.array([[1.0, 0.5], [0, 0.5], [0, 0], [0, 0]]), "AA")
    oh = motif_onehot(m, 4000, insert="sampled", seed=3)
    assert oh.shape == (4000, 4, 2)
    assert (oh[:, 0, 0] == 1).all()  # column 1 is always A
    assert abs(oh[:, 1, 1].mean() - 0.5) < 0.03  # column 2: A or C, half each
    assert np.array_equal(oh, motif_onehot(m, 4000, insert="sampled", seed=3))


def _toy_dataset(tmp_path):
    seqs = random_seqs({"chr1": 20_000, "chr2": 10_000}, seed=2, softmask=False)
    g = Genome(write_fasta(tmp_path / "g.fa", seqs))
    starts = np.arange(100, 9000, 150)
    regions = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + L, "label": (starts // 150) % 2,
                            "split": "train"})
    return SimpleNamespace(regions=regions, open_genome=lambda: g, path=tmp_path), g


def _dinucs(codes: np.ndarray) -> np.ndarray:
    return np.bincount(codes[:-1] * 4 + codes[1:], minlength=16)


def test_shuffle_background_keeps_dinucleotide_counts_and_genomic_is_gc_matched(tmp_path):
    ds, g = _toy_dataset(tmp_path)
    bg = background_sequences("shuffle", 20, L, dataset=ds, seed=0)
    again = background_sequences("shuffle", 20, L, dataset=ds, seed=0)
    assert bg.x.shape == (20, 4, L) and np.array_equal(bg.x, again.x)
    rng = np.random.default_rng(0)  # the same windows the function picked
    pick = np.sort(rng.choice(len(ds.regions), size=20, replace=False))
    src = g.fetch_codes("chr1", ds.regions.start.to_numpy()[pick], length=L)
    out = bg.x.argmax(1)
    changed = 0
    for a, b in zip(src, out, strict=True):
        assert np.array_equal(_dinucs(a), _dinucs(b))
        changed += int(not np.array_equal(a, b))
    assert changed >= 18
    gen = background_sequences("genomic", 20, L, dataset=ds, seed=1)
    assert gen.x.shape == (20, 4, L) and (gen.x.sum(1) == 1).all()
    assert "GC/repeat-matched" in gen.description


def test_kmer_model_gives_the_known_effect():
    x = _random_onehot(50, seed=4)
    model = KmerModel(A, weight=2.0)
    assert float(rc_scores(model, x)[0].max()) == 0.0  # the backgrounds hold A on neither strand
    res = single_effect(model, x.numpy(), resolve_motif(A))
    s = res["summary"]
    # forward strand 2, reverse strand 0: the strand-averaged logit rises by exactly 1
    assert s["delta_logit"] == pytest.approx(1.0) and s["delta_logit_lo"] == pytest.approx(1.0)
    assert s["delta_prob"] == pytest.approx(0.5 * (1 / (1 + np.exp(-2.0)) - 0.5))
    res_rc = single_effect(model, x.numpy(), resolve_motif(_rc(A)))
    assert res_rc["summary"]["delta_logit"] == pytest.approx(1.0)  # the other strand scores the same


@pytest.mark.parametrize("gap", [3, 9])
def test_spacing_model_peaks_at_its_spacing(gap):
    x = _random_onehot(20, seed=5)
    res = spacing_curve(SpacingModel(gap), x.numpy(), resolve_motif(A), resolve_motif(P), parse_spacing("0:15"),
                        n_boot=50)
    c = res["curve"]
    assert res["peak"]["spacing"] == gap
    assert res["peak"]["spacing_lo"] == res["peak"]["spacing_hi"] == gap
    ap = c[(c.config == "AP+")].set_index("spacing")
    assert ap.loc[gap, "gain_logit"] == pytest.approx(1.5)  # one strand of two
    assert ap.drop(gap)["gain_logit"].abs().max() == 0.0
    for name in ("AP-", "PA+", "PA-"):  # the other orders/strands form A-gap-P only by chance with the
        assert c[c.config == name].gain_logit.abs().max() <= 0.075  # background (at most 1 of 20 sequences)


def test_curve_is_deterministic_with_a_seed():
    x = _random_onehot(10, seed=6).numpy()
    torch.manual_seed(0)
    model = get_model("bindscape_cnn", length=L, channels=8, hidden=8, dilations=[1], stem_kernel=5).eval()
    kw = {"insert": "sampled", "n_boot": 20}

    def soft(s):  # a PPM: the consensus base with probability 0.7, each other base 0.1
        return InsertMotif(s, 0.1 + 0.6 * resolve_motif(s).probs, s)

    args = (model, x, soft(A), soft(P), parse_spacing("0:6:2"))
    r1, r2 = spacing_curve(*args, seed=7, **kw), spacing_curve(*args, seed=7, **kw)
    pd.testing.assert_frame_equal(r1["curve"], r2["curve"])
    assert r1["peak"] == r2["peak"]
    r3 = spacing_curve(*args, seed=8, **kw)
    assert not np.allclose(r1["curve"].gain_logit, r3["curve"].gain_logit)


@pytest.fixture
def setup(tmp_path):
    ds, g = _toy_dataset(tmp_path)
    dsdir = tmp_path / "ds"
    from bindscape.data.dataset import write_dataset

    write_dataset(dsdir, ds.regions, genome=g, builder="test", params={}, seed=0)
    torch.manual_seed(0)
    ck = save_model(tmp_path / "model.pt", get_model("bindscape_cnn", length=L, channels=8, hidden=8,
                                                     dilations=[1], stem_kernel=5),
                    {"dataset": str(dsdir), "trainer": {"rc_average": True}})
    return tmp_path, ck, dsdir


def test_cli_writes_curve_figure_report(setup, capsys):
    tmp, ck, _ = setup
    code, out, err = cli(["marginalize", "-c", ck, "--motif", A, "--partner", P, "--spacing", "0:4", "--n", "8",
                          "--out", tmp / "m", "--truth", "2"], capsys)
    assert code == 0, err
    curve = pd.read_csv(tmp / "m" / "curve.tsv", sep="\t")
    assert sorted(curve.config.unique()) == ["AP+", "AP-", "PA+", "PA-", "mean"]
    assert curve.spacing.tolist()[:5] == [0, 1, 2, 3, 4] and (curve.n == 8).all()
    for f in ("effect.tsv", "summary.json", "marginalize.png", "report.html"):
        assert (tmp / "m" / f).stat().st_size > 0
    assert "Spacing curve" in (tmp / "m" / "report.html").read_text()
    assert "peak" in out or "gain at peak" in out


@pytest.mark.parametrize("args,needles", [
    (["--motif", "NOSUCHTF_XYZ"], ["--motif NOSUCHTF_XYZ"]),
    (["--motif", A, "--partner", P, "--spacing", "0:40"], ["--spacing", "at most"]),
    (["--motif", A, "--partner", P, "--spacing", "5:1"], ["--spacing"]),
    (["--motif", A, "--partner", P], ["--partner and --spacing"]),
    (["--motif", A, "--n", "0"], ["--n"]),
    (["--motif", A, "--background", "random"], ["--background"]),
])
def test_cli_bad_inputs_one_line(setup, capsys, args, needles):
    tmp, ck, _ = setup
    code, _, err = cli(["marginalize", "-c", ck, *args, "--out", tmp / "bad"], capsys)
    assert_one_error(code, err, *needles)


def test_rc_scores_equal_the_one_rc_helper():
    from bindscape.train import rc_averaged

    x = _random_onehot(12, seed=9)
    torch.manual_seed(1)
    model = get_model("bindscape_cnn", length=L, channels=8, hidden=8, dilations=[1], stem_kernel=5).eval()
    lo, pr = rc_scores(model, x, batch_size=5)
    np.testing.assert_allclose(lo, rc_averaged(model, x, space="logit")[:, 0].numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pr, rc_averaged(model, x, space="prob")[:, 0].numpy(), rtol=1e-6, atol=1e-6)


def test_insertion_gap_is_the_simulators_partner_gap():
    """The curve's spacing is the gap the simulator's spacing rule measures (`simulate.binding.partner_gaps`),
    so a peak at `partner_spacing` is the planted truth, in both orders and on both strands."""
    from bindscape.simulate.binding import partner_gaps

    x = _random_onehot(1, seed=3)
    a = torch.from_numpy(motif_onehot(resolve_motif(A), 1))
    s = anchor_start(L, len(A))
    for reverse, want_p in ((False, P), (True, _rc(P))):
        p = torch.from_numpy(motif_onehot(resolve_motif(P), 1, reverse=reverse))
        for gap in (0, 3, 12, 17):
            for order in ("AP", "PA"):
                sq = _decode(insert_pair(x, a, p, gap, order))[0]
                ps = (s + len(A) if order == "AP" else 0) + sq[s + len(A) if order == "AP" else 0:].find(want_p)
                got = partner_gaps(np.array([s]), np.array([s + len(A)]), np.array([ps]), np.array([ps + len(P)]),
                                   spacing=gap, max_gap=40)
                assert got.tolist() == [gap], (order, reverse, gap)

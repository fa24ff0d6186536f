import numpy as np
import pandas as pd
import pytest

from bindscape.data.splits import (
    assign_split,
    auto_split,
    chromosome_groups,
    fixed_split,
    is_excluded,
    kgroup_folds,
    parse_split_spec,
)
from bindscape.errors import ConfigError


def test_excluded_chromosomes():
    for c in ["chrX", "chrY", "chrM", "MT", "X", "chrW", "chrMT"]:
        assert is_excluded(c), c
    for c in ["chr1", "chrI", "chrXI", "chrX_random_1", "2L", "chrIV"]:
        assert not is_excluded(c), c
    yeast = [f"chr{r}" for r in "I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI".split()]
    worm = ["chrI", "chrII", "chrIII", "chrIV", "chrV", "chrX", "chrM"]
    assert not is_excluded("chrX", yeast)  # yeast chrX is chromosome ten
    assert is_excluded("chrX", worm) and is_excluded("chrM", worm)


def test_fixed_split_and_errors():
    m = fixed_split(["a", "b", "c", "d"], ["b"], ["c", "d"])
    assert m == {"a": "train", "b": "val", "c": "test", "d": "test"}
    with pytest.raises(ConfigError, match="not in the data: z"):
        fixed_split(["a", "b"], ["z"], [])
    with pytest.raises(ConfigError, match="both --val and --test"):
        fixed_split(["a", "b"], ["a"], ["a"])


def test_kgroup_six_permutations_cover_each_role_twice():
    sizes = {f"chr{i}": 1000 * (20 - i) for i in range(1, 13)}
    groups = chromosome_groups(sizes, 3)
    assert sorted(c for g in groups for c in g) == sorted(sizes)
    totals = [sum(sizes[c] for c in g) for g in groups]
    assert max(totals) / min(totals) < 1.2
    folds = kgroup_folds(sizes, 3)
    assert len(folds) == 6
    for f in folds:
        assert set(f["train"]).isdisjoint(f["val"]) and set(f["val"]).isdisjoint(f["test"])
        assert sorted(f["train"] + f["val"] + f["test"]) == sorted(sizes)
    for g in groups:
        assert sum(f["test"] == g for f in folds) == 2
        assert sum(f["val"] == g for f in folds) == 2


def test_auto_split_hits_targets_and_balances():
    rng = np.random.default_rng(3)
    pos = {f"chr{i}": int(rng.integers(50, 400)) for i in range(1, 21)}
    neg = {c: int(v * rng.uniform(8, 12)) for c, v in pos.items()}
    m = auto_split(pos, neg, val_frac=0.1, test_frac=0.1)
    P, N = sum(pos.values()), sum(neg.values())
    for s in ("val", "test"):
        chroms = [c for c, v in m.items() if v == s]
        assert chroms
        p = sum(pos[c] for c in chroms) / P
        n = sum(neg[c] for c in chroms) / N
        assert abs(p - 0.1) < 0.02, (s, p)
        assert abs(n - p) < 0.03, (s, p, n)
    assert "train" in m.values()


def test_auto_split_brute_force_optimum_small():
    # the MILP objective equals the best value found by enumerating all assignments
    import itertools

    pos = {"a": 10, "b": 30, "c": 25, "d": 5, "e": 30}
    neg = {"a": 100, "b": 250, "c": 300, "d": 60, "e": 290}
    P, N = sum(pos.values()), sum(neg.values())

    def cost(assign):
        tot = 0
        for s, t in (("val", 0.2), ("test", 0.2)):
            cs = [c for c, v in assign.items() if v == s]
            if not cs:
                return np.inf
            p = sum(pos[c] for c in cs) / P
            n = sum(neg[c] for c in cs) / N
            tot += abs(p - t) + abs(n - p)
        if "train" not in assign.values():
            return np.inf
        return tot

    best = min(cost(dict(zip(pos, roles))) for roles in itertools.product(["train", "val", "test"], repeat=5))
    got = auto_split(pos, neg, val_frac=0.2, test_frac=0.2)
    assert cost(got) == pytest.approx(best, abs=1e-9)


def test_assign_split_no_chrom_in_two_splits():
    df = pd.DataFrame({"chrom": np.repeat([f"c{i}" for i in range(8)], 50), "start": 0, "end": 10,
                       "label": np.tile([1] + [0] * 9, 40)})
    out, mapping = assign_split(df, "auto")
    assert out.groupby("chrom")["split"].nunique().max() == 1
    assert set(out["split"]) == {"train", "val", "test"}
    out, _ = assign_split(df, "kgroup:5", sizes={f"c{i}": 100 for i in range(8)})
    assert out.groupby("chrom")["split"].nunique().max() == 1
    with pytest.raises(ConfigError, match="out of range"):
        assign_split(df, "kgroup:6", sizes={f"c{i}": 100 for i in range(8)})


def test_parse_split_spec_errors():
    assert parse_split_spec("kgroup:2") == ("kgroup", 2)
    assert parse_split_spec("auto") == ("auto", None)
    with pytest.raises(ConfigError, match="unknown split scheme"):
        parse_split_spec("random")
    with pytest.raises(ConfigError, match="integer"):
        parse_split_spec("kgroup:x")

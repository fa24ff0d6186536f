import numpy as np
import pandas as pd
import pytest
import torch

from bindscape.data.torchdata import RegionDataset
from bindscape.errors import ConfigError
from bindscape.io.genome import Genome
from bindscape.train.samplers import BalancedBatchSampler


@pytest.fixture
def regions():
    rng = np.random.default_rng(0)
    start = rng.integers(0, 50_000, 64)
    return pd.DataFrame({"chrom": "chr1", "start": start, "end": start + 200,
                         "label": (np.arange(64) % 4 == 0).astype(np.int8), "split": "train"})


def test_batches_equal_genome_fetch(tiny_fasta, regions):
    g = Genome(tiny_fasta)
    ds = RegionDataset(regions, g)
    x, y = ds.__getitems__(list(range(10)))
    ref = g.fetch_onehot(regions["chrom"][:10].to_numpy(), regions["start"][:10].to_numpy(), length=200)
    assert x.dtype == torch.float32 and x.shape == (10, 4, 200)
    assert np.array_equal(x.numpy(), ref)
    assert np.array_equal(y.numpy(), regions["label"][:10].to_numpy(np.float32))
    x1, _ = ds[3]
    assert np.array_equal(x1.numpy(), ref[3])


def test_rc_and_shift_augmentation(tiny_fasta, regions):
    g = Genome(tiny_fasta)
    plain = RegionDataset(regions, g)
    aug = RegionDataset(regions, g, rc_augment=True, seed=1)
    xa, _ = aug.__getitems__(list(range(64)))
    xp, _ = plain.__getitems__(list(range(64)))
    flipped = xp.flip(1).flip(2)
    same = [(xa[i] == xp[i]).all().item() for i in range(64)]
    rcd = [(xa[i] == flipped[i]).all().item() for i in range(64)]
    assert all(s or r for s, r in zip(same, rcd))
    assert 10 < sum(rcd) < 54
    xa2, _ = aug.__getitems__(list(range(64)))
    assert torch.equal(xa, xa2)  # same epoch, same draw
    aug.set_epoch(1)
    assert not torch.equal(aug.__getitems__(list(range(64)))[0], xa)
    sh = RegionDataset(regions, g, max_shift=5, seed=2)
    xs, _ = sh.__getitems__(list(range(64)))
    assert xs.shape == (64, 4, 200)
    assert not torch.equal(xs, xp)


def test_balanced_sampler(regions):
    labels = regions["label"].to_numpy()
    s = BalancedBatchSampler(labels, 8, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == int(np.ceil(48 / 4))
    seen_neg = []
    for b in batches[:-1]:
        assert len(b) == 8 and labels[b].sum() == 4
        seen_neg += [i for i in b if labels[i] == 0]
    seen_neg += [i for i in batches[-1] if labels[i] == 0]
    assert sorted(seen_neg) == sorted(np.flatnonzero(labels == 0).tolist())
    assert list(BalancedBatchSampler(labels, 8, seed=0)) == batches
    s.set_epoch(1)
    assert list(s) != batches
    with pytest.raises(ConfigError, match="positives and negatives"):
        BalancedBatchSampler(np.zeros(10), 4)


def test_dataloader_with_getitems(tiny_fasta, regions):
    from torch.utils.data import DataLoader

    from bindscape.data.torchdata import collate_batch

    g = Genome(tiny_fasta)
    ds = RegionDataset(regions, g)
    dl = DataLoader(ds, batch_sampler=BalancedBatchSampler(ds.labels, 16), collate_fn=collate_batch)
    x, y = next(iter(dl))
    assert x.shape == (16, 4, 200) and y.sum().item() == 8


def test_rows_with_own_sequence(tiny_fasta, regions):
    from bindscape.io.genome import encode, onehot

    g = Genome(tiny_fasta)
    df = regions.copy()
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(3)]
    df["sequence"] = None
    df.loc[[1, 5, 9], "sequence"] = seqs
    ds = RegionDataset(df, g)
    x, _ = ds.__getitems__([0, 1, 5, 9])
    assert np.array_equal(x[1].numpy(), onehot(encode(seqs[0])))
    assert np.array_equal(x[3].numpy(), onehot(encode(seqs[2])))
    ref = g.fetch_onehot(["chr1"], [int(df.start[0])], length=200)[0]
    assert np.array_equal(x[0].numpy(), ref)
    df.loc[2, "sequence"] = "ACGT"
    with pytest.raises(ConfigError, match="sequence has"):
        RegionDataset(df, g)

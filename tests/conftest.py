"""Shared fixtures.

`shared_data` points at ../shared/data (real public data). Tests that need it skip with a clear reason
when the folder is absent (a fresh clone) and FAIL when CI=true, where it must be present.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BINDSCAPE_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_shared(*relpaths: str) -> Path:
    """Return ../shared/data, skipping (or failing under CI=true) when it or a file is missing."""
    missing = [p for p in relpaths if not (SHARED_DATA / p).exists()]
    if not SHARED_DATA.exists() or missing:
        what = f"{SHARED_DATA}" + (f" (missing {', '.join(missing)})" if missing else "")
        msg = f"real data not available: {what}; tests reading ../shared/data need it beside the repo"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture
def shared_data():
    return require_shared()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own genome cache unless it sets one itself."""
    monkeypatch.setenv("BINDSCAPE_CACHE", str(tmp_path_factory.getbasetemp() / "genome-cache"))
    monkeypatch.setenv("BINDSCAPE_PROGRESS", "0")


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` as a module (the benchmark scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_fasta(path: Path, seqs: dict[str, str], *, gz: bool = False, width: int = 60) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    return path


def random_seqs(sizes: dict[str, int], seed: int = 0, softmask: bool = True) -> dict[str, str]:
    """Seeded random sequences; every 10th kb is lower case (a 'repeat') when softmask."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in sizes.items():
        s = np.array(list("ACGT"))[rng.integers(0, 4, n)]
        if softmask:
            idx = np.arange(n)
            low = (idx // 1000) % 10 == 9
            s = np.where(low, np.char.lower(s), s)
        out[name] = "".join(s.tolist())
    return out


def planted_sequences(n: int, length: int, rng, *, motif: str = "TTACCCGG", both_strands: bool = True):
    """A labelled toy table (``sequence``, ``label``): random sequences, `motif` planted once in each positive.

    With `both_strands`, each site is the motif or its reverse complement with equal chance (one extra draw
    per site, after its position); the draws are in a fixed order, so a seeded `rng` gives the same table.
    """
    import pandas as pd

    s = np.array(list("ACGT"))[rng.integers(0, 4, (n, length))]
    y = rng.integers(0, 2, n)
    rc = motif[::-1].translate(str.maketrans("ACGT", "TGCA"))
    for i in np.flatnonzero(y):
        p = rng.integers(0, length - len(motif))
        site = motif if not both_strands or rng.random() < 0.5 else rc
        s[i, p : p + len(motif)] = list(site)
    return pd.DataFrame({"sequence": ["".join(r) for r in s], "label": y})


def planted_dataset(root: Path, counts: dict, length: int, seed: int = 0, **motif) -> Path:
    """A sequence dataset at ``root/ds`` from ``root/<split>.csv`` files of planted sequences (`planted_sequences`).

    `counts` maps split name (train, val, test) to sequences, drawn in that order from one generator seeded
    with `seed`; `motif` goes to `planted_sequences` (``motif=``, ``both_strands=``).
    """
    from bindscape.data.sequences import build_sequence_dataset

    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        planted_sequences(n, length, rng, **motif).to_csv(root / f"{split}.csv", index=False)
    return build_sequence_dataset(root / "ds", **{split: [root / f"{split}.csv"] for split in counts})


@pytest.fixture
def tiny_fasta(tmp_path) -> Path:
    """A seeded random genome: chr1 60 kb, chr2 40 kb, chr3 30 kb, chrX 20 kb (soft-masked stretches)."""
    seqs = random_seqs({"chr1": 60_000, "chr2": 40_000, "chr3": 30_000, "chrX": 20_000}, seed=1)
    return write_fasta(tmp_path / "tiny.fa", seqs)


@pytest.fixture
def peaks(tmp_path) -> Path:
    """60 seeded 40-bp peaks on chr1-chr3 of `tiny_fasta` (BED5), for build/publish reliability tests."""
    rng = np.random.default_rng(5)
    rows = []
    for chrom, size in (("chr1", 60_000), ("chr2", 40_000), ("chr3", 30_000)):
        for s in np.sort(rng.integers(600, size - 600, 20)):
            rows.append(f"{chrom}\t{s}\t{s + 40}\tp{len(rows)}\t10\n")
    p = tmp_path / "peaks.bed"
    p.write_text("".join(rows))
    return p


@pytest.fixture(scope="module")
def tiny_species(tmp_path_factory):
    """Two simulated species (primate, rodent) with FOXA1/liver tiles datasets of 100 bp: species -> folder."""
    from bindscape.recipes.kinds.cross_species import build_species_datasets
    from bindscape.simulate import simulate
    from bindscape.simulate.config import load_preset_dict

    root = tmp_path_factory.mktemp("cs")
    d = load_preset_dict("multi-species")
    d["species"] = d["species"][:2]
    d["species"][0]["chrom_sizes"] = [60000, 50000, 40000]
    d["species"][1]["chrom_sizes"] = [55000, 45000, 40000]
    d["tfs"] = [dict(name="FOXA1", sites_per_mb=900, pioneer=True)]
    d["cells"] = [dict(name="liver", accessible_fraction=0.25)]
    simulate(d, seed=0, out=root / "sim")
    return build_species_datasets(root / "sim", ["primate", "rodent"], "FOXA1", "liver", root / "ds",
                                  length=100, stride=100)


GOLDEN = Path(__file__).resolve().parent / "golden" / "metrics.json"


def assert_golden(key: str, values: dict, *, rel: float = 1e-5, abs_: float = 1e-6) -> None:
    """Assert that `values` (a flat dict of numbers) equal the recorded ones under `key`.

    The records in ``tests/golden/metrics.json`` were written before the training/recipe engines were merged
    (issue 16), so these checks prove "same seed, same results". With ``BINDSCAPE_WRITE_GOLDEN=1`` the
    values are recorded instead (only when a change is meant to alter them; say which and why in the commit).
    """
    import json

    values = {k: float(v) for k, v in values.items()}
    if os.environ.get("BINDSCAPE_WRITE_GOLDEN") == "1":
        from filelock import FileLock

        with FileLock(str(GOLDEN) + ".lock"):
            data = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
            data[key] = values
            GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return
    data = json.loads(GOLDEN.read_text())
    assert key in data, f"no golden record {key!r} in {GOLDEN}"
    want = data[key]
    assert set(want) == set(values), (sorted(want), sorted(values))
    for k, v in want.items():
        assert values[k] == pytest.approx(v, rel=rel, abs=abs_), f"{key}.{k}: {values[k]} != golden {v}"


def cli(args, capsys):
    """Run the `bindscape` CLI in-process on `args` (any path-likes are stringified): ``(exit code, out, err)``."""
    from bindscape.cli import main

    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_one_error(code, err, *needles):
    """A user error as the CLI promises: exit 2, an ``error:`` line (plus at most a hint), no traceback,
    and every string in `needles` in the message."""
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: "), err
    assert len(lines) <= 2 and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)

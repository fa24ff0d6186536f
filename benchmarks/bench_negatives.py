"""Negative sampling benchmarks (issue 5), each against its reference in the same run.

    python benchmarks/bench_negatives.py worm      # genomic sampling vs tangermeme.extract_matching_loci
    python benchmarks/bench_negatives.py shuffle   # dinucleotide shuffle vs tangermeme.dinucleotide_shuffle
    python benchmarks/bench_negatives.py yeast     # Reb1 TFBS-negatives benchmark table (+ PWM baseline)
    python benchmarks/bench_negatives.py all

worm: 100,000 random 101-bp positives on the 100 Mb C. elegans genome; each sampler runs in its own
process under ``/usr/bin/time -v`` (wall time, peak RSS), `--repeats` times (medians reported). The FASTA is
decompressed (tangermeme reads it through pyfaidx) and the bindscape genome cache is built before timing;
the cache build is timed once separately. GC KS statistics of both negative sets vs the positives are
computed afterwards with the same code.
Data: ../shared/data (never copied into the repo). Scratch: $BENCH_TMP (default /tmp/bindscape-bench-neg).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BINDSCAPE_SHARED_DATA", REPO.parent / "shared" / "data"))
TMP = Path(os.environ.get("BENCH_TMP", "/tmp/bindscape-bench-neg"))
CACHE = TMP / "cache"
N_POS, L = 100_000, 101


# ------------------------------------------------------------------------------------------- worm
def _worm_inputs() -> tuple[Path, Path]:
    TMP.mkdir(parents=True, exist_ok=True)
    fa = TMP / "ce10.fa"
    if not fa.exists():
        with gzip.open(DATA / "worm" / "ce10.fa.gz", "rb") as src, open(fa, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 24)
    pos = TMP / "worm_pos.bed"
    if not pos.exists():
        from bindscape.io.genome import Genome

        g = Genome(DATA / "worm" / "ce10.fa.gz", cache_dir=CACHE)
        rng = np.random.default_rng(0)
        chroms = [c for c in g.chroms if c != "chrM"]
        size = np.array([g.sizes[c] - L for c in chroms])
        ci = rng.choice(len(chroms), 3 * N_POS, p=size / size.sum())
        st = (rng.random(3 * N_POS) * size[ci]).astype(np.int64)
        df = pd.DataFrame({"chrom": np.array(chroms)[ci], "start": st, "end": st + L})
        nf = g.n_fraction(df["chrom"].to_numpy(), df["start"].to_numpy(), df["end"].to_numpy())
        df = df[nf == 0].drop_duplicates(["chrom", "start"]).iloc[:N_POS]
        df.to_csv(pos, sep="\t", header=False, index=False)
    return fa, pos


def _worm_child(which: str, fa: Path, pos: Path, out: Path) -> None:
    df = pd.read_csv(pos, sep="\t", header=None, names=["chrom", "start", "end"])
    if which == "tangermeme":
        from tangermeme.match import extract_matching_loci

        neg = extract_matching_loci(df, str(fa), in_window=L, out_window=L, gc_bin_width=0.02, random_state=0)
    else:
        from bindscape.data.negatives import genomic
        from bindscape.io.genome import Genome

        g = Genome(DATA / "worm" / "ce10.fa.gz", cache_dir=CACHE)
        neg = genomic(df, g, seed=0, on_short="warn")
    neg[["chrom", "start", "end"]].to_csv(out, sep="\t", header=False, index=False)


def _timed(args: list[str]) -> tuple[float, float]:
    r = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    h, m, s = wall.groups()
    secs = (int(h or 0) * 3600) + int(m) * 60 + float(s)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return secs, rss_kb / 1024**2


def bench_worm(repeats: int = 3) -> dict:
    from bindscape.data.qc import ks
    from bindscape.io.genome import Genome

    t0 = time.perf_counter()
    shutil.rmtree(TMP / "cache_cold", ignore_errors=True)
    Genome(DATA / "worm" / "ce10.fa.gz", cache_dir=TMP / "cache_cold")
    cache_build = time.perf_counter() - t0
    shutil.rmtree(TMP / "cache_cold", ignore_errors=True)
    fa, pos = _worm_inputs()
    if not Path(str(fa) + ".fai").exists():
        import pyfaidx

        pyfaidx.Fasta(str(fa)).close()
    res: dict = {"positives": N_POS, "length": L, "cache_build_s": round(cache_build, 2)}
    for which in ("tangermeme", "bindscape"):
        runs = []
        out = TMP / f"worm_neg_{which}.bed"
        for _ in range(repeats):
            runs.append(_timed([sys.executable, __file__, "_worm_child", which, str(fa), str(pos), str(out)]))
        g = Genome(DATA / "worm" / "ce10.fa.gz", cache_dir=CACHE)
        p = pd.read_csv(pos, sep="\t", header=None, names=["chrom", "start", "end"])
        n = pd.read_csv(out, sep="\t", header=None, names=["chrom", "start", "end"])
        gp = g.gc_fraction(p["chrom"].to_numpy(), p["start"].to_numpy(), p["end"].to_numpy())
        gn = g.gc_fraction(n["chrom"].to_numpy(), n["start"].to_numpy(), n["end"].to_numpy())
        rp = g.repeat_fraction(p["chrom"].to_numpy(), p["start"].to_numpy(), p["end"].to_numpy())
        rn = g.repeat_fraction(n["chrom"].to_numpy(), n["start"].to_numpy(), n["end"].to_numpy())
        res[which] = {
            "negatives": int(len(n)),
            "wall_s_median": round(statistics.median(r[0] for r in runs), 2),
            "peak_rss_gb_median": round(statistics.median(r[1] for r in runs), 3),
            "runs": [[round(a, 2), round(b, 3)] for a, b in runs],
            "gc_ks": round(ks(gp, gn)[0], 4),
            "repeat_ks": round(ks(rp, rn)[0], 4),
        }
    res["ratio_wall_tangermeme_over_bindscape"] = round(res["tangermeme"]["wall_s_median"] / res["bindscape"]["wall_s_median"], 2)
    res["ratio_rss_tangermeme_over_bindscape"] = round(res["tangermeme"]["peak_rss_gb_median"] / res["bindscape"]["peak_rss_gb_median"], 2)
    return res


# ----------------------------------------------------------------------------------------- shuffle
def bench_shuffle(n: int = 20_000, length: int = 101, repeats: int = 5) -> dict:
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    from bindscape.data.negatives import dinucleotide_shuffle_codes

    torch.set_num_threads(1)
    X = np.random.default_rng(0).integers(0, 4, (n, length)).astype(np.uint8)
    oh = torch.from_numpy((X[:, None, :] == np.arange(4)[None, :, None]).astype(np.float32))
    dinucleotide_shuffle_codes(X[:10], seed=0)  # warm (numba cache load)
    dinucleotide_shuffle(oh[:10], n=1, random_state=0)
    ours, ref = [], []
    for r in range(repeats):
        t = time.perf_counter()
        dinucleotide_shuffle_codes(X, seed=r)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        dinucleotide_shuffle(oh, n=1, random_state=r)
        ref.append(time.perf_counter() - t)
    a, b = statistics.median(ours), statistics.median(ref)
    return {"sequences": n, "length": length, "bindscape_s": round(a, 4), "tangermeme_s": round(b, 4),
            "speedup": round(b / a, 2), "note": "bindscape on uint8 codes, tangermeme on its one-hot input (n=1)"}


# ------------------------------------------------------------------------------------------- yeast
def bench_yeast(fold: int = 0) -> dict:
    import warnings

    from sklearn.metrics import roc_auc_score

    from bindscape.data.dataset import load_dataset
    from bindscape.data.negatives import region_codes
    from bindscape.data.tfbs_benchmark import build_tfbs_benchmark
    from bindscape.io.genome import Genome
    from bindscape.motifs.baseline import pwm_max_scores
    from bindscape.motifs.load import load_motif

    d = DATA / "yeast"
    g = Genome(d / "sacCer3.fa.gz", cache_dir=CACHE)
    out = TMP / "reb1"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = build_tfbs_benchmark(g, d / "reb1_chipexo_rhee2011.sacCer3.bed", out, tf="Reb1", fold=fold,
                                 accessible=d / "dnase_footprints_hesselberth2009.sacCer3.bed",
                                 others={"Abf1": d / "abf1_sites_rossi2018.sacCer3.bed"}, force=True)
    build_s = time.perf_counter() - t0
    motif = load_motif("REB1", species="Saccharomyces cerevisiae")

    def pwm_auc(regions):
        sc = pwm_max_scores(region_codes(g, regions), [motif])
        return float(roc_auc_score(regions["label"].to_numpy(), sc))

    hq = load_dataset(out / "hq_test").regions
    rows = {}
    for name, info in s["strategies"].items():
        r = load_dataset(out / name).regions
        test = r[r["split"] == "test"]
        rows[name] = {"negatives": info["negatives"], "gc_ks": info.get("gc_ks"),
                      "shortcut_auc": info.get("shortcut_auc"),
                      "pwm_auc_own_test": pwm_auc(test) if test["label"].nunique() == 2 else None,
                      "short": bool(info["notes"])}
    return {"motif": str(motif), "build_s": round(build_s, 1), "split_chroms": s["split_chroms"],
            "positives": s["positives"], "hq_test": s["hq_test"], "pwm_auc_hq_test": pwm_auc(hq), "strategies": rows}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["worm", "shuffle", "yeast", "all", "_worm_child"])
    ap.add_argument("rest", nargs="*")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    if a.what == "_worm_child":
        _worm_child(a.rest[0], Path(a.rest[1]), Path(a.rest[2]), Path(a.rest[3]))
        return
    res = {}
    if a.what in ("shuffle", "all"):
        res["shuffle"] = bench_shuffle()
    if a.what in ("yeast", "all"):
        res["yeast"] = bench_yeast()
    if a.what in ("worm", "all"):
        res["worm"] = bench_worm(a.repeats)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

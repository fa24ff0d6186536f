"""Variant effects from a VCF: alt - ref predictions on windows of the model's length centred on each variant.

`read_vcf` reads a VCF (plain, gzip/bgzip, with or without a tabix index, or BCF) with cyvcf2 and splits
multi-allelic records into one row per ALT allele. `classify_variants` gives each row a ``type`` (snv, mnv,
deletion, insertion, symbolic) and a ``status``; `score_variants` scores the rows whose status is ``ok`` with
any checkpoint `bindscape.train.load_checkpoint` opens (single model, ensemble folder, multitask), both
strands averaged by the one prediction loop (`bindscape.train.predict.predict_batches`, which calls
`bindscape.train.rc.predict_proba`; multitask checkpoints go through `bindscape.train.predict_bp`).

**Window rule** (L = the model's input length, h = L // 2, p = the 0-based position of the first REF base):

- the reference window is the genome's ``[p - h, p - h + L)``: the REF allele starts at index h;
- the alternative window is the same left flank ``[p - h, p)`` (h bases), then ALT, then the genome right
  after REF (from ``p + len(REF)``), cut so that the window is L bases long. A deletion therefore extends the
  right flank further into the genome and an insertion trims it; both windows share the left flank and put
  the variant's first base at index h. For an SNV this is the reference window with one base changed.

**Statuses** (a row that is not ``ok`` is reported, not scored; ``--strict`` makes the first one an error
naming ``file:line``):

- ``unknown_chrom``: the chromosome is not in the genome (``note`` says how the naming styles differ,
  from `bindscape.io.chroms.check_chroms`: ``1`` vs ``chr1``);
- ``symbolic``: ALT is symbolic (``<DEL>``, ``<INS>``...), the ``*`` overlapping-deletion allele, a breakend
  (``[`` or ``]``), missing (``.``), or holds characters other than A, C, G, T, N;
- ``too_long``: REF or ALT is longer than ``L - h`` bases (the allele would not fit in the window);
- ``near_end``: a window would run past either end of the chromosome;
- ``ref_mismatch``: REF differs from the genome at that position (case-insensitive);
- ``ok``: scored.

Scores: ``ref_prob``, ``alt_prob`` (strand-averaged probabilities, the numbers `bindscape predict` gives for
the same windows), ``delta_prob = alt_prob - ref_prob`` and ``delta_logit = logit(alt_prob) -
logit(ref_prob)`` (the log odds ratio; probabilities clipped to ``[1e-7, 1 - 1e-7]``). Models with several
outputs get one set per output, suffixed with the output's name; multitask checkpoints one set per trained
TF x cell condition (``_TF:cell``), where a window's logit is the strand-averaged per-bp logit averaged over
the ``bp_span`` positions centred on the variant.

The VCF text of each data line is checked before cyvcf2 parses it (column count, POS a positive integer,
REF made of bases): htslib accepts a non-numeric POS silently as position 1 and can crash on such records,
and a check of our own is what lets errors name ``file:line``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bindscape.errors import ConfigError, InputError

STATUSES = ("ok", "ref_mismatch", "unknown_chrom", "symbolic", "near_end", "too_long")
TYPES = ("snv", "mnv", "deletion", "insertion", "symbolic")
_BASES = re.compile(r"[ACGTNacgtn]+")
_EPS = 1e-7


class VCFError(InputError):
    """A VCF that is missing, not a VCF, or has a malformed record (the message names ``file:line``)."""


# ------------------------------------------------------------------------------------------------ reading
def _text_lines(path: Path) -> Iterator[tuple[int, str]] | None:
    """(line number, line) of a text VCF (plain or gzip/bgzip); None for BCF."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    opener = gzip.open if magic[:2] == b"\x1f\x8b" else open
    if opener is gzip.open:
        with gzip.open(path, "rb") as fh:
            if fh.read(3) == b"BCF":
                return None

    def gen():
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh, 1):
                yield i, line.rstrip("\r\n")

    return gen()


def _check_line(path: Path, lineno: int, line: str) -> None:
    """A `VCFError` unless a data line has 8+ tab-separated columns, a positive integer POS and base REF."""
    cols = line.split("\t")
    if len(cols) < 8:
        raise VCFError(f"{path}:{lineno}: a VCF record needs 8 tab-separated columns "
                       f"(CHROM POS ID REF ALT QUAL FILTER INFO), found {len(cols)}",
                       hint="check that the file is tab-separated and not truncated")
    if not cols[1].isdigit() or int(cols[1]) < 1:
        raise VCFError(f"{path}:{lineno}: POS {cols[1]!r} is not a positive integer (1-based position)")
    if not _BASES.fullmatch(cols[3]):
        raise VCFError(f"{path}:{lineno}: REF {cols[3][:20]!r} must be bases (A, C, G, T, N)")
    if not cols[4]:
        raise VCFError(f"{path}:{lineno}: ALT is empty (use '.' for no alternative allele)")


def _quiet_htslib() -> None:
    """Silence htslib's own stderr warnings (each problem is reported once, by us, with file:line)."""
    try:
        import ctypes

        import cyvcf2

        ctypes.CDLL(cyvcf2.cyvcf2.__file__).hts_set_log_level(0)
    except (OSError, AttributeError):  # a cyvcf2 build without the symbol: warnings stay visible
        pass


def _open_vcf(path: Path):
    import cyvcf2

    if not path.exists():
        raise VCFError(f"{path}: VCF file does not exist", hint="check the --vcf path")
    if path.is_dir():
        raise VCFError(f"{path}: is a folder, not a VCF file", hint="pass the .vcf or .vcf.gz file to --vcf")
    _quiet_htslib()
    try:
        return cyvcf2.VCF(str(path))
    except (OSError, Exception) as exc:  # htslib: "is not valid bcf or vcf"
        raise VCFError(f"{path}: not a readable VCF ({str(exc).splitlines()[0][:120]})",
                       hint="a VCF starts with '##fileformat=VCF...' and a '#CHROM' header line") from None


def _data_lines(path: Path) -> Iterator[tuple[int, str]] | None:
    lines = _text_lines(path)
    if lines is None:
        return None
    return ((i, ln) for i, ln in lines if ln and not ln.startswith("#"))


def read_vcf(path: str | Path) -> pd.DataFrame:
    """Read a VCF into one row per ALT allele (multi-allelic records are split).

    Parameters
    ----------
    path
        ``.vcf``, ``.vcf.gz`` (gzip or bgzip, with or without a ``.tbi``/``.csi`` index) or ``.bcf``.

    Returns
    -------
    pandas.DataFrame
        ``chrom, pos`` (1-based, as in the file), ``id, ref, alt`` (upper case), ``allele`` (1 for the first
        ALT of a record), ``line`` (the record's line in the file; its record number for BCF). Attribute
        ``attrs['source']`` is the path. A malformed record raises `VCFError` naming ``file:line``.
    """
    path = Path(path)
    vcf = _open_vcf(path)
    lines = _data_lines(path)
    rows: list[tuple] = []
    n = 0
    while True:
        n += 1
        lineno, text = next(lines, (None, None)) if lines is not None else (n, None)
        if text is not None:
            _check_line(path, lineno, text)
        try:
            rec = next(vcf)
        except StopIteration:
            break
        except Exception as exc:  # htslib parse error (cyvcf2 raises a bare Exception)
            raise VCFError(f"{path}:{lineno}: malformed VCF record ({str(exc)[:100]})") from None
        alts = rec.ALT or ["."]
        ref = rec.REF.upper()
        for k, alt in enumerate(alts, 1):
            rows.append((rec.CHROM, int(rec.POS), rec.ID or ".", ref, str(alt).upper(), k, lineno))
    vcf.close()
    df = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt", "allele", "line"])
    df["pos"] = df["pos"].astype(np.int64)
    df["line"] = df["line"].astype(np.int64)
    df.attrs["source"] = str(path)
    return df


# --------------------------------------------------------------------------------------- classification
def variant_type(ref: str, alt: str) -> str:
    """``snv``, ``mnv``, ``deletion``, ``insertion`` or ``symbolic`` for one REF/ALT pair.

    Parameters
    ----------
    ref, alt
        The alleles as written in the VCF (ALT ``<...>``, ``*``, ``.`` and breakends are symbolic).

    Returns
    -------
    str
    """
    if not _BASES.fullmatch(alt or ""):
        return "symbolic"
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnv"
    return "deletion" if len(alt) < len(ref) else "insertion"


def _chrom_notes(df: pd.DataFrame, sizes: dict, source: str) -> dict[str, str]:
    """Unknown chromosome -> the `check_chroms` message (with its naming-style hint)."""
    from bindscape.errors import ChromosomeError
    from bindscape.io.chroms import check_chroms

    notes = {}
    for name, line in df.loc[~df["chrom"].isin(list(sizes)), ["chrom", "line"]].drop_duplicates("chrom").itertuples(
            index=False):
        try:
            check_chroms(pd.DataFrame({"chrom": [name], "_line": [line]}), sizes, source=source)
        except ChromosomeError as exc:
            notes[name] = exc.message + (f"; {exc.hint}" if exc.hint else "")
    return notes


def _ref_matches(genome, df: pd.DataFrame, idx: np.ndarray) -> np.ndarray:
    """Whether REF equals the genome for rows `idx` (SNV-length REFs vectorised, longer ones one by one)."""
    from bindscape.io.genome import encode

    out = np.zeros(len(idx), dtype=bool)
    if not len(idx):
        return out
    sub = df.iloc[idx]
    r = sub["ref"].str.len().to_numpy()
    one = np.flatnonzero(r == 1)
    if len(one):
        got = genome.fetch_codes(sub["chrom"].to_numpy()[one], sub["pos"].to_numpy()[one] - 1, length=1)[:, 0]
        out[one] = got == encode("".join(sub["ref"].to_numpy()[one]))
    for i in np.flatnonzero(r != 1):
        p = int(sub["pos"].iat[i]) - 1
        got = genome.fetch_strings([sub["chrom"].iat[i]], [p], [p + int(r[i])])[0]
        out[i] = got == sub["ref"].iat[i]
    return out


def classify_variants(df: pd.DataFrame, genome, length: int) -> pd.DataFrame:
    """Add ``type``, ``status``, ``note`` and ``window_start`` (0-based start of the reference window).

    Parameters
    ----------
    df
        From `read_vcf` (``chrom, pos, ref, alt, line``).
    genome
        A `bindscape.io.genome.Genome`.
    length
        The model's input length L.

    Returns
    -------
    pandas.DataFrame
        A copy of `df` with the new columns (statuses as in the module docstring).
    """
    out = df.copy()
    sizes = genome.sizes
    L, h = int(length), int(length) // 2
    r = out["ref"].str.len().to_numpy()
    a = out["alt"].str.len().to_numpy()
    p = out["pos"].to_numpy() - 1
    out["type"] = [variant_type(x, y) for x, y in zip(out["ref"], out["alt"], strict=True)]
    out["window_start"] = (p - h).astype(np.int64)
    status = np.full(len(out), "ok", dtype=object)
    note = np.full(len(out), "", dtype=object)
    known = out["chrom"].isin(list(sizes)).to_numpy()
    notes = _chrom_notes(out, sizes, out.attrs.get("source", "--vcf"))
    status[~known] = "unknown_chrom"
    note[~known] = [notes.get(c, "") for c in out["chrom"].to_numpy()[~known]]
    sym = (out["type"] == "symbolic").to_numpy() & known
    status[sym] = "symbolic"
    note[sym] = "symbolic or missing ALT allele: not scored"
    todo = status == "ok"
    long_ = todo & ((r > L - h) | (a > L - h))
    status[long_], note[long_] = "too_long", f"allele longer than {L - h} bp (half the {L}-bp window)"
    todo &= ~long_
    size = np.array([sizes.get(c, 0) for c in out["chrom"]], dtype=np.int64)
    need_end = np.maximum(p - h + L, p + r + (L - h - a))
    near = todo & ((p - h < 0) | (need_end > size))
    status[near], note[near] = "near_end", f"the {L}-bp window runs past the chromosome's end"
    todo &= ~near
    idx = np.flatnonzero(todo)
    bad = idx[~_ref_matches(genome, out, idx)]
    status[bad] = "ref_mismatch"
    if len(bad):
        seen = genome.fetch_strings(out["chrom"].to_numpy()[bad], p[bad], p[bad] + r[bad])
        note[bad] = [f"REF {x} but the genome has {g}" for x, g in zip(out["ref"].to_numpy()[bad], seen, strict=True)]
    out["status"], out["note"] = status, note
    return out


def strict_check(df: pd.DataFrame) -> None:
    """An `InputError` naming ``file:line`` and the record for the first row whose status is not ``ok``.

    Parameters
    ----------
    df
        From `classify_variants`.
    """
    bad = df[df["status"] != "ok"]
    if not len(bad):
        return
    b = bad.sort_values("line", kind="stable").iloc[0]
    src = df.attrs.get("source", "VCF")
    counts = bad["status"].value_counts()
    more = f" ({len(bad)} unscorable alleles in all: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
    raise InputError(f"{src}:{b['line']}: {b['chrom']}:{b['pos']} {b['ref']}>{b['alt']}: {b['status']}"
                     f" - {b['note']}{more if len(bad) > 1 else ''}",
                     hint="fix or drop these records, or rerun without --strict to report them in the "
                          "status column")


# ------------------------------------------------------------------------------------------------ windows
def variant_windows(genome, df: pd.DataFrame, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference and alternative windows (uint8 codes ``(N, L)`` each) by the module's window rule.

    Parameters
    ----------
    genome
        A `bindscape.io.genome.Genome`.
    df
        Rows to build (all ``status == 'ok'``): ``chrom, pos, ref, alt``.
    length
        The model's input length L.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ref_codes, alt_codes)``, each ``(N, L)`` uint8.
    """
    from bindscape.io.genome import encode

    L, h = int(length), int(length) // 2
    n = len(df)
    r = df["ref"].str.len().to_numpy()
    a = df["alt"].str.len().to_numpy()
    extra = int(max(0, (r - a).max())) if n else 0
    ws = df["pos"].to_numpy() - 1 - h
    ext = genome.fetch_codes(df["chrom"].to_numpy(), ws, length=L + extra, pad=True)
    ref = np.ascontiguousarray(ext[:, :L])
    alt = ref.copy()
    snv = np.flatnonzero((r == 1) & (a == 1))
    if len(snv):
        alt[snv, h] = encode("".join(df["alt"].to_numpy()[snv]))
    alts = df["alt"].to_numpy()
    for i in np.flatnonzero(~((r == 1) & (a == 1))):
        ai = encode(alts[i])
        right = ext[i, h + r[i]: h + r[i] + (L - h - a[i])]
        alt[i] = np.concatenate([ext[i, :h], ai, right])
    return ref, alt


# ------------------------------------------------------------------------------------------------ scoring
@dataclass
class VariantScores:
    """The scored table and what produced it (`score_variants`)."""

    table: pd.DataFrame
    outputs: list[str]
    length: int
    checkpoint: str
    timings: dict = field(default_factory=dict)


def output_names(loaded) -> list[str]:
    """Column suffixes of a checkpoint's outputs: ``[""]`` for one output, label names (or indices) for
    several, ``TF:cell`` per trained condition for a multitask checkpoint.

    Parameters
    ----------
    loaded
        A `bindscape.train.checkpoint.LoadedCheckpoint`.

    Returns
    -------
    list of str
    """
    if loaded.vocab is not None:
        return [f"{t}:{c}" for t, c in loaded.vocab.pairs]
    k = int(getattr(loaded.model, "n_outputs", 1))
    if k == 1:
        return [""]
    names = (loaded.config.get("data") or {}).get("label_columns") or []
    return [str(x) for x in names] if len(names) == k else [str(j) for j in range(k)]


def _col(base: str, name: str) -> str:
    return f"{base}_{name}" if name else base


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _batch_inputs(genome, sub: pd.DataFrame, L: int):
    from bindscape.io.genome import onehot

    ref, alt = variant_windows(genome, sub, L)
    return onehot(np.concatenate([ref, alt]))


def _score_single(loaded, genome, ok: pd.DataFrame, batch_size: int, progress_bar: bool) -> np.ndarray:
    """(2, N, K) strand-averaged probabilities of the reference and alternative windows."""
    from bindscape.train.predict import predict_batches

    L = loaded.length
    n = len(ok)
    half = max(1, batch_size // 2)  # each batch holds ref + alt windows of `half` variants
    gen = (_batch_inputs(genome, ok.iloc[i: i + half], L) for i in range(0, n, half))
    parts = list(predict_batches(loaded.model, gen, rc_average=loaded.rc_average, total=2 * n,
                                 desc="scoring variants", progress_bar=progress_bar))
    refs = [q[: len(q) // 2] for q in parts]
    alts = [q[len(q) // 2:] for q in parts]
    k = int(getattr(loaded.model, "n_outputs", 1))
    if not parts:
        return np.zeros((2, 0, k), np.float32)
    return np.stack([np.concatenate(refs), np.concatenate(alts)])


def _score_multitask(loaded, genome, ok: pd.DataFrame, batch_size: int, progress_bar: bool,
                     bp_span: int) -> np.ndarray:
    """(2, N, C) per condition: sigmoid of the per-bp logit averaged over `bp_span` bp at the variant."""
    from bindscape._util import progress
    from bindscape.train import predict_bp

    L, h = loaded.length, loaded.length // 2
    s0 = max(0, h - bp_span // 2)
    s1 = min(L, s0 + bp_span)
    pairs = loaded.vocab.pairs
    n = len(ok)
    half = max(1, batch_size // 2)
    out = np.zeros((2, n, len(pairs)), np.float32)
    with progress(disable=not progress_bar or None, transient=True) as bar:
        task = bar.add_task("scoring variants", total=2 * n * len(pairs))
        for i in range(0, n, half):
            sub = ok.iloc[i: i + half]
            x = _batch_inputs(genome, sub, L)
            m = len(sub)
            for j, (tf, cell) in enumerate(pairs):
                xi = x
                if loaded.tracks is not None:  # track values at the reference coordinates, for both alleles
                    t = loaded.tracks.fetch(cell, sub["chrom"].to_numpy(), sub["window_start"].to_numpy(), L)
                    xi = np.concatenate([x, np.concatenate([t, t])], axis=1)
                z = predict_bp(loaded, xi, tf, cell, rc_average=loaded.rc_average, logits=True,
                               batch_size=batch_size)
                prob = 1.0 / (1.0 + np.exp(-z[:, s0:s1].mean(1)))
                out[0, i: i + m, j], out[1, i: i + m, j] = prob[:m], prob[m:]
                bar.advance(task, 2 * m)
    return out


def score_variants(ckpt, genome, variants, *, batch_size: int = 256, progress: bool = True, strict: bool = False,
                   bp_span: int = 1, chrom_alias: str | None = None) -> VariantScores:
    """Score every ALT allele of a VCF (or a `read_vcf` frame) as alt - ref.

    Parameters
    ----------
    ckpt
        A checkpoint path (file, run folder, ensemble folder, anything `load_checkpoint` reads) or a loaded one.
    genome
        The genome FASTA path or a `Genome`.
    variants
        A VCF path or a frame from `read_vcf`.
    batch_size
        Windows per forward pass (reference and alternative windows count separately).
    progress
        Show a progress bar.
    strict
        Raise an `InputError` for the first allele whose status is not ``ok``.
    bp_span
        Multitask (per-bp) checkpoints: positions centred on the variant whose logits are averaged.
    chrom_alias
        ``'auto'`` or ``'1=chr1,...'``: rename VCF chromosomes to the genome's names first.

    Returns
    -------
    VariantScores
        ``table``: the `classify_variants` columns plus ``ref_prob, alt_prob, delta_prob, delta_logit`` per
        output (NaN where the status is not ``ok``) and ``effect`` (the signed ``delta_logit`` of largest
        magnitude over the outputs).
    """
    import time

    from bindscape.io.genome import Genome
    from bindscape.train import load_checkpoint
    from bindscape.train.checkpoint import LoadedCheckpoint

    if int(bp_span) < 1:
        raise ConfigError(f"bp_span must be >= 1, got {bp_span}")
    t0 = time.perf_counter()
    loaded = ckpt if isinstance(ckpt, LoadedCheckpoint) else load_checkpoint(ckpt)
    g = genome if hasattr(genome, "fetch_codes") else Genome(genome)
    df = variants if isinstance(variants, pd.DataFrame) else read_vcf(variants)
    df = _rename(df, g.sizes, chrom_alias)
    t_read = time.perf_counter()
    table = classify_variants(df, g, loaded.length)
    if len(table) and (table["status"] == "unknown_chrom").all():  # the wrong genome, or another naming style
        from bindscape.io.chroms import check_chroms

        check_chroms(table.rename(columns={"line": "_line"}), g.sizes, source=df.attrs.get("source", "--vcf"))
    if strict:
        strict_check(table)
    ok_idx = np.flatnonzero((table["status"] == "ok").to_numpy())
    ok = table.iloc[ok_idx]
    if loaded.vocab is not None:
        probs = _score_multitask(loaded, g, ok, batch_size, progress, int(bp_span))
    else:
        probs = _score_single(loaded, g, ok, batch_size, progress)
    t_score = time.perf_counter()
    names = output_names(loaded)
    _add_scores(table, ok_idx, probs, names)
    table.attrs = dict(df.attrs)
    return VariantScores(table=table, outputs=names, length=loaded.length, checkpoint=str(loaded.path),
                         timings={"read_s": t_read - t0, "score_s": t_score - t_read,
                                  "variants_per_s": len(ok) / max(t_score - t_read, 1e-9)})


def _rename(df: pd.DataFrame, sizes: dict, alias) -> pd.DataFrame:
    """VCF chromosomes renamed by `alias` (``'auto'`` by naming style); unknown names stay as they are."""
    if not alias:
        return df
    from bindscape.io.chroms import check_chroms, parse_aliases, rename_chroms

    rule = parse_aliases(alias)
    if rule == "auto":
        uniq = pd.DataFrame({"chrom": pd.unique(df["chrom"])})
        uniq["orig"] = uniq["chrom"]
        got = check_chroms(uniq, sizes, aliases="auto", unknown="drop")
        rule = dict(zip(got["orig"], got["chrom"], strict=True))
    out = rename_chroms(df, rule)
    out.attrs = dict(df.attrs)
    return out


def _add_scores(table: pd.DataFrame, ok_idx: np.ndarray, probs: np.ndarray, names: list[str]) -> None:
    n = len(table)
    deltas = []
    for j, name in enumerate(names):
        cols = {}
        for which, k in (("ref_prob", 0), ("alt_prob", 1)):
            v = np.full(n, np.nan)
            v[ok_idx] = probs[k, :, j]
            cols[which] = v
        cols["delta_prob"] = cols["alt_prob"] - cols["ref_prob"]
        dl = np.full(n, np.nan)
        dl[ok_idx] = _logit(probs[1, :, j]) - _logit(probs[0, :, j])
        cols["delta_logit"] = dl
        for base, v in cols.items():
            table[_col(base, name)] = v
        deltas.append(dl)
    d = np.stack(deltas, axis=1)
    pick = np.nanargmax(np.where(np.isnan(d), -1, np.abs(d)), axis=1) if n else np.zeros(0, int)
    table["effect"] = d[np.arange(n), pick] if n else np.zeros(0)


def top_variants(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """The `k` scored alleles with the largest ``|effect|`` (ties by file order).

    Parameters
    ----------
    table
        From `score_variants`.
    k
        How many.

    Returns
    -------
    pandas.DataFrame
    """
    ok = table[table["status"] == "ok"]
    order = np.argsort(-np.abs(ok["effect"].to_numpy()), kind="stable")[: int(k)]
    return ok.iloc[order]


# ------------------------------------------------------------------------------------------- attribution
def attribute_variants(ckpt, genome, table: pd.DataFrame, k: int, *, output: int = 0, n_baselines: int = 10,
                       random_state: int = 0) -> dict:
    """DeepLIFT-SHAP (`bindscape.explain.attributions.attribute`) of the reference and alternative windows
    of the `k` alleles with the largest ``|effect|``.

    Parameters
    ----------
    ckpt
        A checkpoint path or loaded checkpoint (per-sequence models only).
    genome
        The genome FASTA path or a `Genome`.
    table
        From `score_variants`.
    k
        Number of alleles.
    output
        Output (logit) index to explain.
    n_baselines
        Dinucleotide-shuffled references per window.
    random_state
        Seed of the references.

    Returns
    -------
    dict
        ``rows`` (the table rows, in rank order), ``ref_x``/``alt_x`` one-hot ``(k, 4, L)``,
        ``ref_attr``/``alt_attr`` per-position scores ``(k, L)`` (observed-base contribution), ``centre`` (h).
    """
    from bindscape.explain.attributions import attribute, position_scores
    from bindscape.io.genome import Genome, onehot
    from bindscape.train import load_checkpoint
    from bindscape.train.checkpoint import LoadedCheckpoint

    loaded = ckpt if isinstance(ckpt, LoadedCheckpoint) else load_checkpoint(ckpt)
    if loaded.vocab is not None:
        raise ConfigError("--attribute-top explains per-sequence checkpoints; this one is multitask (per bp)",
                          hint="drop --attribute-top, or use `bindscape explain` with a condition")
    g = genome if hasattr(genome, "fetch_codes") else Genome(genome)
    rows = top_variants(table, k)
    L = loaded.length
    ref, alt = variant_windows(g, rows, L)
    xr, xa = onehot(ref), onehot(alt)
    both = np.concatenate([xr, xa])
    attr = attribute(loaded.model, both, "deeplift_shap", target=int(output), n_baselines=int(n_baselines),
                     random_state=random_state, rc_average=loaded.rc_average)
    sc = position_scores(attr, both)
    m = len(rows)
    return {"rows": rows.reset_index(drop=True), "ref_x": xr, "alt_x": xa, "ref_attr": sc[:m], "alt_attr": sc[m:],
            "centre": L // 2}


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of alleles by type (rows) and status (columns), with totals.

    Parameters
    ----------
    table
        From `classify_variants` or `score_variants`.

    Returns
    -------
    pandas.DataFrame
    """
    ct = pd.crosstab(table["type"], table["status"])
    ct = ct.reindex(index=[t for t in TYPES if t in ct.index],
                    columns=[s for s in STATUSES if s in ct.columns]).fillna(0).astype(int)
    ct["total"] = ct.sum(axis=1)
    ct.loc["total"] = ct.sum(axis=0)
    return ct

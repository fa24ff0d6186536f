"""Motifs: the `Motif` type, PFM -> PWM, JASPAR look-ups (offline, through pyjaspar's databases) and
MEME / JASPAR / TRANSFAC file parsers.

A motif is stored as a (4, W) float64 matrix over A, C, G, T: counts when the source gives counts
(JASPAR, TRANSFAC), otherwise probabilities (MEME) with `nsites` sites behind them. `to_ppm` adds a
pseudocount the way MEME's FIMO does, ``(p * nsites + pseudocount * bg) / (nsites + pseudocount)``, and
`to_pwm` returns log2 odds against the background.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bindscape.errors import ConfigError, InputError

ALPHABET = "ACGT"
UNIFORM = np.full(4, 0.25)
DEFAULT_RELEASE = 2024
DEFAULT_NSITES = 20.0  # MEME's default when a probability matrix does not say how many sites it has

_JASPAR_ID = re.compile(r"^(MA|PB|PF|PH|PL|CN|UN|POL|PBM)\d{4}(\.\d+)?$", re.IGNORECASE)

# common names for species, resolved to NCBI taxonomy ids
SPECIES_ALIASES = {
    "human": 9606, "hs": 9606, "hg19": 9606, "hg38": 9606,
    "mouse": 10090, "mm": 10090, "mm10": 10090, "mm39": 10090,
    "rat": 10116,
    "yeast": 4932, "sc": 4932, "saccer3": 4932, "s. cerevisiae": 4932, "budding yeast": 4932,
    "fly": 7227, "drosophila": 7227, "dm6": 7227, "d. melanogaster": 7227,
    "worm": 6239, "ce10": 6239, "ce11": 6239, "c. elegans": 6239,
    "zebrafish": 7955, "danrer11": 7955,
    "chicken": 9031,
    "arabidopsis": 3702, "a. thaliana": 3702,
}


@dataclass
class Motif:
    """A position frequency matrix over A, C, G, T.

    `matrix` is (4, W): counts when `is_counts`, else probabilities (columns summing to 1).
    """

    name: str
    matrix: np.ndarray
    id: str | None = None
    source: str = ""
    is_counts: bool = False
    nsites: float | None = None
    species: tuple[str, ...] = ()
    taxon: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        m = np.asarray(self.matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != 4:
            raise InputError(f"motif {self.name!r}: matrix must have shape (4, W), got {m.shape}")
        if m.shape[1] == 0:
            raise InputError(f"motif {self.name!r}: matrix has no columns")
        if not np.all(np.isfinite(m)) or (m < 0).any():
            raise InputError(f"motif {self.name!r}: matrix has negative or non-finite entries")
        if (m.sum(axis=0) <= 0).any():
            raise InputError(f"motif {self.name!r}: a column sums to zero")
        self.matrix = m
        if self.is_counts and self.nsites is None:
            self.nsites = float(np.median(m.sum(axis=0)))

    # -- views -------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of columns W."""
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return self.width

    @property
    def counts(self) -> np.ndarray | None:
        """The (4, W) count matrix, or None when the motif holds probabilities."""
        return self.matrix if self.is_counts else None

    @property
    def probs(self) -> np.ndarray:
        """Column-normalised frequencies (no pseudocount)."""
        return self.matrix / self.matrix.sum(axis=0, keepdims=True)

    @property
    def label(self) -> str:
        """`ID name` when both are known, else whichever is."""
        if self.id and self.id != self.name:
            return f"{self.id} {self.name}"
        return self.name

    def consensus(self) -> str:
        """The most frequent base of each column (ties: the first of A, C, G, T)."""
        return "".join(ALPHABET[i] for i in self.probs.argmax(axis=0))

    def information_content(self, background=None) -> np.ndarray:
        """Per-column information content in bits (relative entropy to the background).

        Parameters
        ----------
        background
            Background frequencies (see `as_background`); None is uniform.

        Returns
        -------
        np.ndarray
            (W,) bits.
        """
        bg = as_background(background)
        p = self.probs
        with np.errstate(divide="ignore", invalid="ignore"):
            ic = np.where(p > 0, p * np.log2(p / bg[:, None]), 0.0)
        return ic.sum(axis=0)

    # -- conversions -------------------------------------------------------------------------
    def to_ppm(self, pseudocount: float = 0.1, background=None, *, relative: bool = False) -> np.ndarray:
        """Probabilities with a pseudocount spread by the background.

        Parameters
        ----------
        pseudocount
            Pseudo-sites added to each column, spread over the bases by the background (MEME/FIMO's rule:
            ``(counts + pc * bg) / (sites + pc)``).
        background
            Background frequencies (see `as_background`); None is uniform.
        relative
            Count `pseudocount` in frequency units instead of sites: ``(probs + pc * bg) / (1 + pc)``, the
            same for every motif whatever its number of sites (the simulator's site model uses 0.04).

        Returns
        -------
        np.ndarray
            (4, W) probabilities, columns summing to 1.
        """
        if pseudocount < 0:
            raise ConfigError(f"pseudocount must be >= 0, got {pseudocount}")
        bg = as_background(background)
        if relative:
            return (self.probs + pseudocount * bg[:, None]) / (1 + pseudocount)
        n = self.nsites if self.nsites else DEFAULT_NSITES
        if self.is_counts:
            tot = self.matrix.sum(axis=0, keepdims=True)
            return (self.matrix + pseudocount * bg[:, None]) / (tot + pseudocount)
        return (self.probs * n + pseudocount * bg[:, None]) / (n + pseudocount)

    def to_pwm(self, pseudocount: float = 0.1, background=None) -> np.ndarray:
        """Log2-odds matrix (4, W) against the background.

        A zero frequency with `pseudocount=0` gives -inf, which the scanner cannot use: use a pseudocount.

        Parameters
        ----------
        pseudocount
            Pseudo-sites, as in `to_ppm`.
        background
            Background frequencies (see `as_background`); None is uniform.

        Returns
        -------
        np.ndarray
            (4, W) log2(p / background).
        """
        bg = as_background(background)
        ppm = self.to_ppm(pseudocount, bg)
        with np.errstate(divide="ignore"):
            return np.log2(ppm) - np.log2(bg)[:, None]

    def reverse_complement(self) -> Motif:
        """The motif read on the other strand (A<->T, C<->G, columns reversed)."""
        return replace(self, matrix=self.matrix[::-1, ::-1].copy(), name=self.name,
                       meta={**self.meta, "reverse_complement": not self.meta.get("reverse_complement", False)})

    def __repr__(self) -> str:
        return f"Motif({self.label!r}, width={self.width}, source={self.source!r})"


def as_background(background) -> np.ndarray:
    """Background frequencies of A, C, G, T as a normalised (4,) array.

    Parameters
    ----------
    background
        None (uniform), a dict ``{"A": .., "C": .., "G": .., "T": ..}`` or 4 positive numbers.

    Returns
    -------
    np.ndarray
        (4,) float64 frequencies summing to 1.
    """
    if background is None:
        return UNIFORM.copy()
    if isinstance(background, dict):
        background = [background[b] for b in ALPHABET]
    bg = np.asarray(background, dtype=np.float64).reshape(-1)
    if bg.shape != (4,) or (bg <= 0).any():
        raise ConfigError(f"background must be 4 positive frequencies for A,C,G,T, got {background!r}")
    return bg / bg.sum()


def gc_background(gc: float) -> np.ndarray:
    """A background with the given GC fraction.

    Parameters
    ----------
    gc
        G+C fraction in (0, 1), split evenly between C and G (the rest between A and T).

    Returns
    -------
    np.ndarray
        (4,) frequencies of A, C, G, T.
    """
    if not 0 < gc < 1:
        raise ConfigError(f"GC fraction must be in (0, 1), got {gc}")
    return np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])


# ---------------------------------------------------------------------------------------------
# JASPAR (offline: pyjaspar ships one SQLite file per release)
# ---------------------------------------------------------------------------------------------

_DB_CACHE: dict[str, sqlite3.Connection] = {}


def jaspar_releases() -> list[int]:
    """JASPAR releases available offline (years)."""
    import pyjaspar

    return sorted(int(k.removeprefix("JASPAR")) for k in pyjaspar.jaspar_releases)


def _release_name(release) -> str:
    r = str(release).upper().removeprefix("JASPAR")
    try:
        year = int(r)
    except ValueError:
        raise ConfigError(f"unknown JASPAR release {release!r}",
                          hint=f"choose one of {', '.join(map(str, jaspar_releases()))}") from None
    if year not in jaspar_releases():
        raise ConfigError(f"JASPAR release {year} is not available offline",
                          hint=f"choose one of {', '.join(map(str, jaspar_releases()))}")
    return f"JASPAR{year}"


def _connect(release) -> sqlite3.Connection:
    name = _release_name(release)
    if name not in _DB_CACHE:
        import pyjaspar
        from pyjaspar.utils import get_jaspardb_path

        path = get_jaspardb_path(pyjaspar.jaspar_releases[name])
        _DB_CACHE[name] = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    return _DB_CACHE[name]


def _resolve_species(conn, species) -> tuple[set[int], str]:
    """Tax ids and a display name for a species given as alias, tax id or (partial) scientific name."""
    s = str(species).strip()
    if s.isdigit():
        row = conn.execute("select SPECIES from TAX where TAX_ID=?", (int(s),)).fetchone()
        return {int(s)}, (row[0] if row else f"taxon {s}")
    key = s.lower()
    if key in SPECIES_ALIASES:
        tid = SPECIES_ALIASES[key]
        row = conn.execute("select SPECIES from TAX where TAX_ID=?", (tid,)).fetchone()
        name = row[0] if row else s
        # strains of the species (e.g. 'Saccharomyces cerevisiae S288C') count as the species
        ids = {tid} | {r[0] for r in conn.execute("select TAX_ID from TAX where SPECIES like ?", (name + " %",))}
        return ids, name
    rows = conn.execute("select TAX_ID, SPECIES from TAX where SPECIES=? or SPECIES like ?", (s, s + " %")).fetchall()
    if rows:
        return {r[0] for r in rows}, s
    names = [r[0] for r in conn.execute("select SPECIES from TAX where SPECIES is not null")]
    close = difflib.get_close_matches(s, names + list(SPECIES_ALIASES), n=4, cutoff=0.6)
    raise ConfigError(f"unknown species {species!r} in JASPAR",
                      hint=f"did you mean {', '.join(close)}?" if close else
                      "give a scientific name ('Homo sapiens'), a taxonomy id (9606) or human/mouse/yeast/fly/worm")


_CATALOGUE_CACHE: dict = {}


def catalogue(release, collection: str | None = "CORE"):
    """All latest-version matrices of a JASPAR release as a DataFrame (cached per release).

    Parameters
    ----------
    release
        A JASPAR release (``2024`` or ``"JASPAR2024"``).
    collection
        Keep only this collection (``"CORE"``); None keeps all.

    Returns
    -------
    pandas.DataFrame
        One row per matrix: internal_id, base_id, version, name, collection, tax_ids, species, tax_group, id.
    """
    import pandas as pd

    rel = _release_name(release)
    if rel not in _CATALOGUE_CACHE:
        conn = _connect(release)
        m = pd.DataFrame(conn.execute("select ID, BASE_ID, VERSION, NAME, COLLECTION from MATRIX").fetchall(),
                         columns=["internal_id", "base_id", "version", "name", "collection"])
        m["collection"] = m["collection"].str.upper()
        latest = m.groupby(["base_id", "collection"])["version"].transform("max")
        m = m[m["version"] == latest].copy()
        tax = {}
        for iid, tid in conn.execute("select ID, TAX_ID from MATRIX_SPECIES"):
            if tid is not None and str(tid).strip().isdigit():
                tax.setdefault(iid, []).append(int(tid))
        groups = dict(conn.execute("select ID, VAL from MATRIX_ANNOTATION where TAG = 'tax_group'").fetchall())
        species = dict(conn.execute("select TAX_ID, SPECIES from TAX").fetchall())
        m["tax_ids"] = [tuple(tax.get(i, ())) for i in m["internal_id"]]
        m["species"] = ["; ".join(species.get(t, str(t)) for t in ids) for ids in m["tax_ids"]]
        m["tax_group"] = [groups.get(i) or "" for i in m["internal_id"]]
        m["id"] = m["base_id"] + "." + m["version"].astype(str)
        _CATALOGUE_CACHE[rel] = m.sort_values(["base_id", "collection"]).reset_index(drop=True)
    df = _CATALOGUE_CACHE[rel]
    if collection:
        df = df[df["collection"] == collection.upper()].reset_index(drop=True)
    return df


def _fetch_matrix(conn, internal_id: int) -> np.ndarray:
    rows = conn.execute("select row, col, val from MATRIX_DATA where ID=?", (internal_id,)).fetchall()
    width = max(r[1] for r in rows)
    m = np.zeros((4, width))
    for row, col, val in rows:
        m[ALPHABET.index(row.upper()), col - 1] = val
    return m


def _motif_from_row(conn, row, release) -> Motif:
    return Motif(
        name=row["name"],
        id=row["id"],
        matrix=_fetch_matrix(conn, int(row["internal_id"])),
        is_counts=True,
        source=f"JASPAR{_release_name(release).removeprefix('JASPAR')}",
        species=tuple(s for s in row["species"].split("; ") if s),
        taxon=row["tax_group"] or None,
    )


def search_jaspar(query: str | None = None, *, species=None, taxon: str | None = None,
                  release=DEFAULT_RELEASE, collection: str | None = "CORE"):
    """Matrices whose name or ID contains `query` (case-insensitive), optionally for a species / taxon.

    Returns a DataFrame: id, name, species, tax_group, collection.

    Parameters
    ----------
    query
        Substring of the name, or prefix of the ID (None or empty: every matrix).
    species
        Alias (``human``), tax id or (partial) scientific name (None: any species).
    taxon
        JASPAR tax group, e.g. ``vertebrates`` (case-insensitive; None: any).
    release
        JASPAR release (``2024`` or ``"JASPAR2024"``).
    collection
        Keep only this collection (None: all).

    Returns
    -------
    pandas.DataFrame
    """
    df = catalogue(release, collection)
    if query:
        q = query.lower()
        df = df[df["name"].str.lower().str.contains(q, regex=False) | df["id"].str.lower().str.startswith(q)]
    if species is not None:
        ids, _ = _resolve_species(_connect(release), species)
        df = df[[bool(set(t) & ids) for t in df["tax_ids"]]]
    if taxon is not None:
        df = df[df["tax_group"].str.lower() == taxon.lower()]
    return df[["id", "name", "species", "tax_group", "collection"]].reset_index(drop=True)


def load_jaspar(key: str, *, species=None, taxon: str | None = None, release=DEFAULT_RELEASE,
                collection: str | None = "CORE") -> Motif:
    """One JASPAR matrix by ID (`MA0139.2`, or `MA0139` for the release's latest version) or by TF name.

    A name lookup returns a motif of the requested species (or taxon group) only; with neither given
    it succeeds only when every matrix of that name belongs to one species. Among several matrices of the
    same name and species the lowest matrix ID wins (JASPAR's canonical profile, e.g. MA0139 for CTCF).

    Parameters
    ----------
    key
        Matrix ID (with or without version) or TF name (case-insensitive).
    species
        For name lookups: alias (``human``), tax id or (partial) scientific name.
    taxon
        For name lookups: JASPAR tax group (e.g. ``vertebrates``).
    release
        JASPAR release (``2024`` or ``"JASPAR2024"``).
    collection
        Collection searched by name lookups (None: all); ID lookups search every collection.

    Returns
    -------
    Motif
        Counts matrix with the JASPAR ID, name, species and tax group.
    """
    conn = _connect(release)
    rel = _release_name(release)
    if _JASPAR_ID.match(key):
        base, _, ver = key.upper().partition(".")
        sql = ("select m.ID, m.BASE_ID, m.VERSION, m.NAME, m.COLLECTION from MATRIX m where m.BASE_ID = ?"
               + (" and m.VERSION = ?" if ver else "") + " order by m.VERSION desc limit 1")
        r = conn.execute(sql, (base, int(ver)) if ver else (base,)).fetchone()
        if r is None:
            latest = conn.execute("select max(VERSION) from MATRIX where BASE_ID=?", (base,)).fetchone()[0]
            if latest is not None:
                raise InputError(f"{key}: no version {ver} of {base} in {rel}", hint=f"the latest is {base}.{latest}")
            raise InputError(f"{key}: no such matrix in {rel}",
                             hint="search with `bindscape motifs search NAME`")
        df = catalogue(release, None)
        row = df[(df["base_id"] == r[1])].iloc[0].to_dict()
        row.update(internal_id=r[0], version=r[2], id=f"{r[1]}.{r[2]}", name=r[3])
        return _motif_from_row(conn, row, release)

    df = catalogue(release, collection)
    hits = df[df["name"].str.lower() == key.lower()]
    if hits.empty:
        close = difflib.get_close_matches(key.upper(), sorted(set(df["name"].str.upper())), n=5, cutoff=0.6)
        names = {n.upper(): n for n in df["name"]}
        close = [names[c] for c in close]
        raise InputError(f"no JASPAR motif named {key!r} in {rel}" + (f" ({collection})" if collection else ""),
                         hint=f"close matches: {', '.join(close)}" if close else
                         "search with `bindscape motifs search PART_OF_NAME`")
    if species is not None:
        ids, sp_name = _resolve_species(conn, species)
        sel = hits[[bool(set(t) & ids) for t in hits["tax_ids"]]]
        if sel.empty:
            raise InputError(
                f"JASPAR motif {key!r} exists only for {_species_list(hits)}, not for {sp_name}",
                hint="pass that species explicitly, or choose a motif of your species "
                     f"(`bindscape motifs search {key} --species '{sp_name}'`)")
        hits = sel
    if taxon is not None:
        sel = hits[hits["tax_group"].str.lower() == taxon.lower()]
        if sel.empty:
            groups = ", ".join(sorted(set(hits["tax_group"]) - {""})) or "no taxon group"
            raise InputError(f"JASPAR motif {key!r} exists only for {groups}, not for {taxon}")
        hits = sel
    if species is None and taxon is None:
        kinds = {(t, g) for t, g in zip(hits["tax_ids"], hits["tax_group"])}
        species_sets = {t for t, _ in kinds}
        if len(species_sets) > 1:
            raise InputError(
                f"JASPAR motif name {key!r} is used for several species: {_species_list(hits)}",
                hint="choose one with --species (e.g. --species human) or give a matrix ID")
    row = hits.sort_values(["base_id"]).iloc[0].to_dict()
    return _motif_from_row(conn, row, release)


def _species_list(df) -> str:
    parts = []
    for sp, tg in zip(df["species"], df["tax_group"]):
        parts.append(sp or (f"({tg})" if tg else "(species not given)"))
    return ", ".join(dict.fromkeys(parts))


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------

def _err(path, lineno, msg, hint=None):
    return InputError(f"{path}:{lineno}: {msg}", hint=hint)


def _motif_at(path, lineno: int, **kwargs) -> Motif:
    """``Motif(**kwargs)``; its checks (non-finite or negative entries, ...) name `path`:`lineno`."""
    try:
        return Motif(**kwargs)
    except InputError as exc:
        raise _err(path, lineno, exc.message, exc.hint) from None


def _floats(path, lineno, parts) -> list[float]:
    try:
        return [float(x) for x in parts]
    except ValueError:
        raise _err(path, lineno, f"expected numbers, got {' '.join(parts)!r}") from None


def read_meme(path) -> list[Motif]:
    """Motifs of a MEME (minimal) motif file; errors name the file and line.

    Parameters
    ----------
    path
        The file (``.gz`` is read compressed).

    Returns
    -------
    list of Motif
        Probability matrices with their ``nsites`` and the file's background in ``meta["background"]``.
    """
    path = Path(path)
    lines = _read_lines(path)
    motifs: list[Motif] = []
    background = None
    saw_header = False
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        if raw.startswith("MEME version"):
            saw_header = True
        elif raw.startswith("ALPHABET"):
            alpha = raw.split("=", 1)[1].strip() if "=" in raw else ""
            if alpha and alpha.split()[0].upper() not in ("ACGT", "DNA"):
                raise _err(path, i + 1, f"alphabet {alpha!r} is not DNA (ACGT)")
        elif raw.startswith("Background letter frequencies"):
            background, i = _meme_background(path, lines, i)
        elif raw.startswith("MOTIF"):
            motif, i = _meme_motif(path, lines, i, background)
            motifs.append(motif)
            continue
        elif raw and not saw_header and not motifs and i == 0 and not raw.startswith("#"):
            raise _err(path, i + 1, "not a MEME motif file (expected 'MEME version ...')")
        i += 1
    if not motifs:
        raise InputError(f"{path}: no motifs found", hint="a MEME file needs 'MOTIF' blocks")
    return motifs


def _meme_background(path: Path, lines: list[str], i: int) -> tuple[np.ndarray, int]:
    """The background frequencies after the header at line index `i`: (A, C, G, T array, their line index)."""
    n = len(lines)
    j = i + 1
    while j < n and not lines[j].strip():
        j += 1
    parts = lines[j].split() if j < n else []
    try:
        bg = dict(zip(parts[0::2], (float(x) for x in parts[1::2])))
        return np.array([bg[b] for b in ALPHABET]), j
    except (KeyError, ValueError):
        raise _err(path, j + 1, "cannot read the background letter frequencies "
                   "(expected 'A 0.25 C 0.25 G 0.25 T 0.25')") from None


def _meme_motif(path: Path, lines: list[str], i: int, background) -> tuple[Motif, int]:
    """The motif whose MOTIF line is at index `i`: (Motif, index of the first line after its matrix)."""
    n = len(lines)
    parts = lines[i].strip().split()
    if len(parts) < 2:
        raise _err(path, i + 1, "MOTIF line without a name")
    mid = parts[1]
    alt = parts[2] if len(parts) > 2 else None
    j = i + 1
    while j < n and not lines[j].strip().startswith("letter-probability"):
        if lines[j].strip().startswith("MOTIF"):
            break
        j += 1
    if j >= n or not lines[j].strip().startswith("letter-probability"):
        raise _err(path, i + 1, f"motif {mid}: no 'letter-probability matrix:' line follows")
    header = lines[j]
    w = re.search(r"\bw=\s*(\d+)", header)
    alen = re.search(r"alength=\s*(\d+)", header)
    ns = re.search(r"nsites=\s*([0-9.eE+-]+)", header)
    if alen and int(alen.group(1)) != 4:
        raise _err(path, j + 1, f"motif {mid}: alength={alen.group(1)}, expected 4 (DNA)")
    rows, k = _meme_rows(path, lines, j + 1, mid, int(w.group(1)) if w else None)
    width = int(w.group(1)) if w else len(rows)
    if len(rows) != width or width == 0:
        raise _err(path, k + 1 if k < n else n,
                   f"motif {mid}: expected {width} matrix rows (w={width}), found {len(rows)}")
    m = np.array(rows).T
    if (m < 0).any():
        raise _err(path, j + 2, f"motif {mid}: negative probability")
    sums = m.sum(axis=0)
    bad = np.flatnonzero(np.abs(sums - 1) > 0.05)
    if bad.size:
        raise _err(path, j + 2 + int(bad[0]),
                   f"motif {mid}: row sums to {sums[bad[0]]:.3f}, not 1 (is this a count matrix?)")
    try:
        nsites = float(ns.group(1)) if ns else None
    except ValueError:  # the pattern also matches 'E' or '+-'
        raise _err(path, j + 1, f"motif {mid}: nsites={ns.group(1)} is not a number") from None
    motif = _motif_at(path, i + 1, name=alt or mid, id=mid, matrix=m / sums, nsites=nsites if nsites else None,
                      source=str(path), meta={"background": background})
    return motif, k


def _meme_rows(path: Path, lines: list[str], k: int, mid: str, w: int | None) -> tuple[list[list[float]], int]:
    """Matrix rows from line index `k` on (`w` of them, or until a blank line when `w` is None)."""
    rows: list[list[float]] = []
    n = len(lines)
    while k < n:
        s = lines[k].strip()
        if not s:
            if rows and w is None:
                break
            k += 1
            continue
        if s.startswith(("MOTIF", "URL")) or (w is None and not re.match(r"^[-+0-9.]", s)):
            break
        if w is not None and len(rows) == w:
            break
        vals = _floats(path, k + 1, s.split())
        if len(vals) != 4:
            raise _err(path, k + 1, f"motif {mid}: expected 4 probabilities per row, got {len(vals)}")
        rows.append(vals)
        k += 1
    return rows, k


def read_jaspar(path) -> list[Motif]:
    """Count motifs, in file order, of a JASPAR-format file (`>ID name` then 4 rows `A [ ... ]`, or 4 bare
    rows of counts); ``.gz`` allowed."""
    path = Path(path)
    lines = _read_lines(path)
    motifs: list[Motif] = []
    i, n = 0, len(lines)
    while i < n:
        s = lines[i].strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        if not s.startswith(">"):
            raise _err(path, i + 1, f"expected a '>ID name' header, got {s[:40]!r}")
        parts = s[1:].split(None, 1)
        mid = parts[0] if parts else f"motif{len(motifs) + 1}"
        name = parts[1].strip() if len(parts) > 1 else mid
        rows: dict[str, list[float]] = {}
        j = i + 1
        order = iter(ALPHABET)
        while j < n and len(rows) < 4:
            r = lines[j].strip()
            if not r:
                j += 1
                continue
            if r.startswith(">"):
                break
            m = re.match(r"^([ACGTacgt])\s*\[?(.*?)\]?\s*$", r)
            if m:
                letter, body = m.group(1).upper(), m.group(2)
            else:
                letter, body = next(order, "?"), r
            if letter in rows or letter not in ALPHABET:
                raise _err(path, j + 1, f"motif {mid}: unexpected row {r[:40]!r}")
            rows[letter] = _floats(path, j + 1, body.replace("[", " ").replace("]", " ").split())
            j += 1
        if len(rows) != 4:
            raise _err(path, j if j <= n else n, f"motif {mid}: expected 4 rows (A, C, G, T), found {len(rows)}")
        widths = {len(v) for v in rows.values()}
        if len(widths) != 1:
            raise _err(path, i + 1, f"motif {mid}: rows have different lengths {sorted(widths)}")
        motifs.append(_motif_at(path, i + 1, name=name, id=mid, matrix=np.array([rows[b] for b in ALPHABET]),
                                is_counts=True, source=str(path)))
        i = j
    if not motifs:
        raise InputError(f"{path}: no motifs found")
    return motifs


def read_transfac(path) -> list[Motif]:
    """Count motifs, in file order, of a TRANSFAC-format file (AC/ID/NA fields, a `P0`/`PO` matrix, `//`
    between motifs); ``.gz`` allowed."""
    path = Path(path)
    lines = _read_lines(path)
    motifs: list[Motif] = []
    cur: dict = {}
    rows: list[list[float]] = []
    in_matrix = False
    start = 1

    def flush():
        nonlocal cur, rows, in_matrix
        if rows:
            mid = cur.get("AC") or cur.get("ID") or f"motif{len(motifs) + 1}"
            name = cur.get("ID") or cur.get("NA") or mid
            if name == mid and cur.get("NA"):
                name = cur["NA"]
            motifs.append(_motif_at(path, start, name=name, id=mid, matrix=np.array(rows).T, is_counts=True,
                                    source=str(path)))
        elif any(k in cur for k in ("AC", "ID", "NA")):
            raise _err(path, start, f"motif {cur.get('AC') or cur.get('ID') or cur.get('NA')}: no P0 matrix")
        cur, rows, in_matrix = {}, [], False

    for idx, line in enumerate(lines, 1):
        s = line.rstrip()
        if not s.strip():
            continue
        if s.startswith("//"):
            flush()
            continue
        tag = s[:2]
        if tag in ("P0", "PO"):
            cols = [c.upper() for c in s.split()[1:]]
            if cols[:4] != list(ALPHABET):
                raise _err(path, idx, f"matrix header must list A C G T, got {' '.join(cols)!r}")
            if rows:
                raise _err(path, idx, "second matrix in one motif (missing '//'?)")
            in_matrix = True
            continue
        if in_matrix and re.match(r"^\d+\s", s):
            vals = _floats(path, idx, s.split()[1:5])
            if len(vals) != 4:
                raise _err(path, idx, f"expected 4 counts after the position, got {len(vals)}")
            rows.append(vals)
            continue
        in_matrix = False
        if re.match(r"^[A-Z0-9]{2}(\s|$)", s):
            if tag in ("AC", "ID", "NA"):
                if not cur and not rows:
                    start = idx
                cur.setdefault(tag, s[2:].strip())
            continue
        raise _err(path, idx, f"not a TRANSFAC line: {s[:40]!r}")
    flush()
    if not motifs:
        raise InputError(f"{path}: no motifs found")
    return motifs


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        raise InputError(f"{path}: motif file does not exist")
    from bindscape.io.textfile import read_text  # gzip by magic bytes; bad gzip or UTF-8 -> one InputError

    return read_text(path)[1].splitlines()


_FORMATS = {"meme": read_meme, "jaspar": read_jaspar, "pfm": read_jaspar, "transfac": read_transfac}


def _sniff(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    ext = name.rsplit(".", 1)[-1]
    if ext == "meme":
        return "meme"
    if ext in ("jaspar", "pfm"):
        return "jaspar"
    if ext in ("transfac", "dat", "tf"):
        return "transfac"
    for line in _read_lines(path)[:50]:
        s = line.strip()
        if not s:
            continue
        if s.startswith("MEME version") or s.startswith("MOTIF"):
            return "meme"
        if s.startswith(">"):
            return "jaspar"
        if s[:2] in ("AC", "ID", "P0", "PO", "XX", "VV", "DE", "NA"):
            return "transfac"
        break
    raise InputError(f"{path}: cannot tell the motif file format", hint="name the file *.meme, *.jaspar or *.transfac (Python: read_motifs(path, format=...))")


def read_motifs(path, format: str | None = None) -> list[Motif]:
    """Read a motif file; the format comes from the extension or the content (meme|jaspar|transfac).

    Parameters
    ----------
    path
        The motif file.
    format
        ``meme``, ``jaspar``, ``pfm`` or ``transfac`` (None: guessed).

    Returns
    -------
    list[Motif]
    """
    path = Path(path)
    fmt = (format or _sniff(path)).lower()
    if fmt not in _FORMATS:
        raise ConfigError(f"unknown motif file format {format!r}", hint="choose meme, jaspar or transfac")
    return _FORMATS[fmt](path)


def write_meme(path, motifs: list[Motif], pseudocount: float = 0.0) -> Path:
    """Write motifs as a MEME minimal file (probabilities).

    Parameters
    ----------
    path
        Output file (written atomically).
    motifs
        The motifs.
    pseudocount
        Pseudo-sites added as in `Motif.to_ppm` (0: plain frequencies).

    Returns
    -------
    Path
        `path`.
    """
    from bindscape._util import atomic_write_text

    out = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
           "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for m in motifs:
        p = m.to_ppm(pseudocount) if pseudocount else m.probs
        out.append(f"MOTIF {m.id or m.name}" + (f" {m.name}" if m.id and m.id != m.name else ""))
        out.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= {int(m.nsites or 20)} E= 0")
        out.extend(" " + "  ".join(f"{v:.6f}" for v in col) for col in p.T)
        out.append("")
    atomic_write_text(path, "\n".join(out) + "\n")
    return Path(path)


def select_motif(motifs: list[Motif], key: str, source: str = "file") -> Motif:
    """The motif of a collection whose ID or name is `key` (case-insensitive), with close-match hints.

    Parameters
    ----------
    motifs
        The collection.
    key
        ID or name; failing an exact match, one dot-separated part of a single motif's ID or name.
    source
        Where the collection came from, for the error message.

    Returns
    -------
    Motif
    """
    k = key.lower()
    for attr in ("id", "name"):
        found = [m for m in motifs if (getattr(m, attr) or "").lower() == k]
        if found:
            return found[0]
    found = [m for m in motifs if k in (m.id or "").lower().split(".") or k in m.name.lower().split(".")]
    if len(found) == 1:
        return found[0]
    labels = [m.id or m.name for m in motifs] + [m.name for m in motifs]
    close = difflib.get_close_matches(key, labels, n=5, cutoff=0.6)
    raise InputError(f"no motif {key!r} in {source}",
                     hint=f"close matches: {', '.join(dict.fromkeys(close))}" if close else None)


def load_motif(key, *, species=None, taxon: str | None = None, release=DEFAULT_RELEASE,
               collection: str | None = "CORE") -> Motif:
    """One motif from a JASPAR ID, a TF name (+ species/taxon), a file with one motif, or `FILE:NAME`.

    Parameters
    ----------
    key
        One of the above, or a `Motif` (returned as is).
    species, taxon, release, collection
        For JASPAR lookups, as in `load_jaspar`.

    Returns
    -------
    Motif
    """
    if isinstance(key, Motif):
        return key
    key = str(key)
    p = Path(key)
    if p.exists() and p.is_file():
        motifs = read_motifs(p)
        if len(motifs) > 1:
            raise InputError(f"{p}: holds {len(motifs)} motifs; say which one",
                             hint=f"use {p}:{motifs[0].id or motifs[0].name}")
        return motifs[0]
    for i, ch in enumerate(key):  # FILE:NAME (the name may hold colons itself)
        if ch == ":" and Path(key[:i]).is_file():
            return select_motif(read_motifs(key[:i]), key[i + 1:], source=key[:i])
    return load_jaspar(key, species=species, taxon=taxon, release=release, collection=collection)


def load_motifs(keys, **kwargs) -> list[Motif]:
    """Several motifs: each key as in `load_motif`; a file key holding many motifs gives all of them.

    Parameters
    ----------
    keys
        One key or a list of keys (IDs, names, files, ``FILE:NAME``, Motifs).
    **kwargs
        JASPAR lookup options passed to `load_motif` (species, taxon, release, collection).

    Returns
    -------
    list[Motif]
        In key order.
    """
    if isinstance(keys, (str, Path, Motif)):
        keys = [keys]
    out: list[Motif] = []
    for k in keys:
        if isinstance(k, Motif):
            out.append(k)
        elif Path(str(k)).is_file():
            out.extend(read_motifs(k))
        else:
            out.append(load_motif(k, **kwargs))
    return out

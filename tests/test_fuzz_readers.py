"""Property-based fuzzing of every reader a user's file reaches (issue 17).

The property, for each reader: **any bytes give a result or a `BindscapeError`, never another exception and
never a hang**; and the error is one line (message and hint) that names the file. Inputs come from three
hypothesis strategies:

* arbitrary bytes (``st.binary``), sometimes gzip-compressed or a truncated gzip stream;
* *near-valid* text: a valid file whose tokens are mutated (one to three of: a token replaced by a hostile
  one -- huge integers, NaN, ``1e3``, NUL, a BOM, ``>``, ``MOTIF``, ... --, a token deleted or doubled, a
  separator changed, a line dropped or doubled);
* for YAML, a valid config whose parsed mapping has one leaf replaced by any YAML value.

Readers covered: BED / narrowPeak / summits / `read_peaks` and chrom.sizes (`bindscape.io`), FASTA as a genome
(`Genome`, `read_fasta`) and as records (`read_fasta_records`: ``predict --fasta``, ``build sequences``,
``motifs scan --fasta``), MEME / JASPAR / TRANSFAC and the sniffing `read_motifs`, CSV/TSV sequence tables
(`read_sequences`), and the YAML loaders of training configs, recipes and simulator presets.

Runs are deterministic (``derandomize=True``, no example database) and sized so the file takes well under
15 s on one core. A hang is caught by a SIGALRM guard around each call (hypothesis' ``deadline`` only measures
an example after it returns, and a busy 2-core machine makes it flaky, so it is off). Crashes the fuzzers
found are kept as explicit ``@example`` cases.

Longer searches: ``BINDSCAPE_FUZZ_EXAMPLES=2000`` (the same deterministic sequence, further), and
``BINDSCAPE_FUZZ_RANDOM=1 ... --hypothesis-seed=N`` (another sequence).
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import re
import signal
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bindscape.errors import BindscapeError

EXAMPLES = int(os.environ.get("BINDSCAPE_FUZZ_EXAMPLES", "30"))  # a longer campaign: set it to 1000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("BINDSCAPE_FUZZ_RANDOM") != "1",  # =1 with --hypothesis-seed=N: a new search
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)
HANG_SECONDS = 30.0  # generous: the shared CI machine is slow; heavy imports happen before the guard


class Hang(BaseException):
    """A reader ran past HANG_SECONDS (a BaseException, so readers' ``except Exception`` cannot hide it)."""


@contextlib.contextmanager
def no_hang(seconds: float = HANG_SECONDS):
    """Raise `Hang` in the main thread when the block runs longer than `seconds` (also when the alarm lands
    somewhere that swallows exceptions, such as a garbage-collector callback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def boom(signum, frame):
        fired.append(True)
        raise Hang(f"reader still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if fired:
        raise Hang(f"reader ran longer than {seconds} s")


# ------------------------------------------------------------------------------------------- harness
_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def put(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to a fresh sub-folder of `folder` as `name` (a new folder each time: no stale files)."""
    d = folder / f"{next(_COUNTER):06d}"
    d.mkdir()
    p = d / name
    p.write_bytes(data)
    return p


def outcome(fn, path: Path, *args, **kwargs):
    """Call ``fn(path, ...)``; return its result or the `BindscapeError` it raised (checked: one line, names
    the file). Any other exception, or a hang, fails the test."""
    with no_hang():
        try:
            return fn(path, *args, **kwargs)
        except BindscapeError as exc:
            assert "\n" not in exc.message, f"multi-line message: {exc.message!r}"
            assert exc.hint is None or "\n" not in exc.hint, f"multi-line hint: {exc.hint!r}"
            assert path.name in exc.message, f"message does not name the file {path.name}: {exc.message!r}"
            return exc


# ------------------------------------------------------------------------------------------ strategies
HOSTILE = [
    "", "0", "-1", "1", "-0", "+5", "100", "1e3", "1.5", "99999999999999999999999", "9223372036854775808",
    "nan", "NaN", "inf", "-inf", ".", "+", "-", "chr1", "chrX", "chr1:5", "chr1:0", "é", "\x00", "\ufeff",
    "0x10", "1,000", "A", "N", "acgt", "[", "]", "[]", ">", ">>", "#", "track", "browser", "//", "P0", "MOTIF",
    "w=0", "letter-probability", "A [", "\r", "\t", "'", '"', ":", "{", "}", "- -", "!!python/object:os.system",
    "&a", "*a", "%YAML", "---", "...", "~", "null", "true", "yes", "${nosuch}", "${", "label", "sequence",
]
_TOKEN = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6))
_SPLIT = re.compile(r"(\s+)")


@st.composite
def near_valid(draw, template: str) -> bytes:
    """`template` with one to three mutations of its tokens, separators or lines (UTF-8 bytes)."""
    text = template
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        parts = _SPLIT.split(lines[i])  # tokens at even positions, separators at odd positions
        op = draw(st.sampled_from(["replace", "replace", "delete", "double", "separator", "drop", "dup"]))
        j = draw(st.integers(0, len(parts) - 1))
        if op == "replace":
            parts[j] = draw(_TOKEN)
        elif op == "delete":
            parts[j] = ""
        elif op == "double":
            parts[j] = parts[j] * 2
        elif op == "separator":
            parts[j] = draw(st.sampled_from(["\t", " ", "  ", ",", ";", "\t\t", "", "\n", "\r\n"]))
        lines[i] = "".join(parts)
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        text = "\n".join(lines)
    return text.encode("utf-8", "surrogatepass")


def wrapped(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """`inner` as is, gzip-compressed, or a truncated gzip stream."""

    def wrap(pair):
        data, how = pair
        if how == "plain":
            return data
        gz = gzip.compress(data, mtime=0)
        return gz if how == "gzip" else gz[: max(2, len(gz) // 2)]

    return st.tuples(inner, st.sampled_from(["plain", "plain", "gzip", "cut"])).map(wrap)


def any_input(template: str) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes or near-valid `template` text, either possibly gzip-wrapped."""
    return wrapped(st.one_of(st.binary(max_size=300), near_valid(template)))


# ------------------------------------------------------------------------------------------- BED family
BED = "track name=x\nchr1\t10\t100\tpeak1\t5\t+\nchr2\t0\t50\tp2\t.\t-\n"
NARROWPEAK = "chr1\t10\t100\tp1\t0\t.\t5.5\t3.2\t1.1\t45\nchr2\t5\t60\tp2\t9\t+\t2\t1\t0.5\t-1\n"
SUMMITS = "chr1:1,000\nchr2:5\n"
SIZES = {"chr1": 1000, "chr2": 500}


@FUZZ
@given(data=any_input(BED), name=st.sampled_from(["p.bed", "p.bed.gz", "p.txt"]), check=st.booleans())
@example(data=b"\t9223372036854775808\t", name="p.bed", check=False)  # found: ValueError (read-only mask)
def test_bed_reader_never_crashes(folder, data, name, check):
    from bindscape.io.bed import read_bed

    outcome(read_bed, put(folder, name, data), sizes=SIZES if check else None)


@FUZZ
@given(data=any_input(NARROWPEAK), name=st.sampled_from(["p.narrowPeak", "p.narrowPeak.gz", "p.bed"]),
       check=st.booleans())
def test_narrowpeak_and_read_peaks_never_crash(folder, data, name, check):
    from bindscape.io.bed import read_narrowpeak, read_peaks

    path = put(folder, name, data)
    sizes = SIZES if check else None
    outcome(read_narrowpeak, path, sizes=sizes)
    outcome(read_peaks, path, sizes=sizes, aliases="auto" if check else None, unknown="drop")


@FUZZ
@given(data=any_input(SUMMITS))
@example(data=b"chr1:9223372036854775808")  # found: ValueError (read-only mask) after an OverflowError
def test_summits_reader_never_crashes(folder, data):
    from bindscape.io.bed import read_summits

    outcome(read_summits, put(folder, "s.txt", data), sizes=SIZES)


@FUZZ
@given(data=any_input("chr1\t1000\nchr2\t500\n"))
def test_chrom_sizes_reader_never_crashes(folder, data):
    from bindscape.io.chroms import sizes_from_file

    outcome(sizes_from_file, put(folder, "g.chrom.sizes", data))


# ---------------------------------------------------------------------------------------------- FASTA
FASTA = ">chr1 first\nACGTNacgt\nACGG\n>chr2\nGGCCTTAA\n"
CUT_GZ = gzip.compress(FASTA.encode(), mtime=0)[:20]  # a truncated gzip stream


@FUZZ
@given(data=any_input(FASTA), gz_name=st.booleans())
@example(data=b">", gz_name=False)  # found: IndexError in read_fasta
@example(data=CUT_GZ, gz_name=False)  # found: EOFError in read_fasta
@example(data=b"ACGT\n>chr1\nACGT\n", gz_name=False)  # read_fasta dropped text before the first header
@example(data=b">a\nAC\n>a\nGG\n", gz_name=False)  # read_fasta silently kept only the second 'a'
def test_genome_fasta_never_crashes(folder, data, gz_name):
    from bindscape.io.genome import Genome, read_fasta

    path = put(folder, "g.fa.gz" if gz_name else "g.fa", data)
    g = outcome(Genome, path, cache_dir=folder / "cache")
    if not isinstance(g, BindscapeError):  # a genome that opens can be fetched from
        assert g.fetch_strings([g.chroms[0]], [0], [min(4, g.sizes[g.chroms[0]])])[0] is not None
    outcome(read_fasta, path, with_mask=True)


@FUZZ
@given(data=any_input(FASTA), name=st.sampled_from(["r.fa", "r.fasta.gz", "r.fna"]))
@example(data=b"\x00", name="r.fasta.gz")  # found: gzip.BadGzipFile
@example(data=CUT_GZ, name="r.fasta.gz")  # found: EOFError
@example(data=gzip.compress(FASTA.encode(), mtime=0), name="r.fa")  # found: UnicodeDecodeError (gzip, no .gz)
@example(data=b">r\nAC\xffGT\n", name="r.fa")  # found: UnicodeDecodeError
def test_fasta_records_never_crash(folder, data, name):
    from bindscape.data.sequences import read_fasta_records, read_sequences

    path = put(folder, name, data)
    outcome(read_fasta_records, path)
    outcome(read_sequences, path, label=1)


# --------------------------------------------------------------------------------------------- motifs
MEME = """MEME version 4

ALPHABET= ACGT

Background letter frequencies
A 0.3 C 0.2 G 0.2 T 0.3

MOTIF M1 alt1
letter-probability matrix: alength= 4 w= 2 nsites= 10 E= 0
0.1 0.2 0.3 0.4
0.25 0.25 0.25 0.25

URL http://example.org
"""
JASPAR = ">MA0001.1 AGL3\nA [ 0 3 ]\nC [ 1 0 ]\nG [ 2 0 ]\nT [ 0 1 ]\n>M2\n1 2\n3 4\n5 6\n7 8\n"
TRANSFAC = "AC M1\nXX\nID test\nNA T1\nP0 A C G T\n01 1 2 3 4\n02 4 3 2 1\nXX\n//\n"


@FUZZ
@given(data=any_input(MEME), gz=st.booleans())
@example(data=MEME.replace("0.1 0.2 0.3 0.4", "nan 0.2 0.3 0.4").encode(), gz=False)  # error named no file
@example(data=MEME.replace("nsites= 10", "nsites=E").encode(), gz=False)  # found: ValueError from float('E')
@example(data=b"\x00", gz=True)  # found: gzip.BadGzipFile
@example(data=gzip.compress(MEME.encode(), mtime=0)[:30], gz=True)  # found: EOFError
def test_meme_reader_never_crashes(folder, data, gz):
    from bindscape.motifs.load import read_meme, read_motifs

    path = put(folder, "m.meme.gz" if gz else "m.meme", data)
    outcome(read_meme, path)
    outcome(read_motifs, path)


@FUZZ
@given(data=any_input(JASPAR), gz=st.booleans())
@example(data=b">\nnan\n0\n0\n0", gz=False)  # found: the non-finite-matrix error did not name the file
@example(data=b"\x00", gz=True)  # found: gzip.BadGzipFile
@example(data=gzip.compress(JASPAR.encode(), mtime=0)[:30], gz=True)  # found: EOFError
def test_jaspar_reader_never_crashes(folder, data, gz):
    from bindscape.motifs.load import read_jaspar

    outcome(read_jaspar, put(folder, "m.jaspar.gz" if gz else "m.jaspar", data))


@FUZZ
@given(data=any_input(TRANSFAC), gz=st.booleans())
@example(data=TRANSFAC.replace("01 1 2 3 4", "01 inf 2 3 4").encode(), gz=False)  # error named no file
@example(data=b"\x00", gz=True)  # found: gzip.BadGzipFile
def test_transfac_reader_never_crashes(folder, data, gz):
    from bindscape.motifs.load import read_transfac

    outcome(read_transfac, put(folder, "m.transfac.gz" if gz else "m.transfac", data))


@FUZZ
@given(data=st.one_of(any_input(MEME), any_input(JASPAR), any_input(TRANSFAC)))
def test_motif_format_sniffing_never_crashes(folder, data):
    from bindscape.motifs.load import read_motifs

    outcome(read_motifs, put(folder, "motifs.txt", data))


# ------------------------------------------------------------------------------------ sequence tables
CSV = "sequence,label,name\nACGT,1,a\nAAAA,0,b\n"


@FUZZ
@given(data=any_input(CSV), name=st.sampled_from(["t.csv", "t.tsv", "t.csv.gz"]), label=st.booleans())
@example(data=b"\x00\n\x00\n,", name="t.csv", label=False)  # found: pandas' message ended in a newline
def test_sequence_table_never_crashes(folder, data, name, label):
    from bindscape.data.sequences import read_sequences

    path = put(folder, name, data.replace(b",", b"\t") if name.endswith(".tsv") else data)
    outcome(read_sequences, path, require_label=label)


# ------------------------------------------------------------------------------------------------ YAML
TRAIN_CONFIG = {
    "dataset": "ds",
    "name": "run",
    "model": {"name": "bindscape_cnn", "params": {"channels": 16}},
    "data": {"batch_size": 32, "sampler": "plain", "val_split": "val"},
    "optim": {"optimizer": "adamw", "lr": 0.001},
    "trainer": {"max_epochs": 2, "seed": 0, "threads": 1},
}
YAML_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
              st.sampled_from(HOSTILE), st.text(max_size=8)),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=5), kids, max_size=3)),
    max_leaves=6,
)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    yield path


@st.composite
def yaml_variant(draw, template_text: str) -> bytes:
    """Near-valid YAML: the template's text mutated, or its mapping with one node replaced by any value."""
    if draw(st.booleans()):
        return draw(near_valid(template_text))
    data = yaml.safe_load(template_text)
    paths = list(_leaves(data))
    path = draw(st.sampled_from(paths))
    value = draw(YAML_VALUE)
    if not path:
        data = value
    else:
        node = data
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return yaml.safe_dump(data, allow_unicode=True).encode()


def yaml_input(template_text: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=200), yaml_variant(template_text))


@FUZZ
@given(data=yaml_input(yaml.safe_dump(TRAIN_CONFIG)))
@example(data=b"\x80")  # found: UnicodeDecodeError
@example(data=b"\x00")  # found: a two-line 'not valid YAML' message (a ReaderError has no .problem)
@example(data=b"data:\n ? '\n\n'\ndataset: $\n(:")  # found: a field name holding a newline split the message
def test_training_config_loader_never_crashes(folder, data):
    import bindscape.models  # noqa: F401 - imported (torch) outside the hang guard
    from bindscape.train.config import load_config

    outcome(load_config, put(folder, "train.yaml", data))


def _shipped(rel: str) -> str:
    return (Path(__file__).resolve().parents[1] / "src" / "bindscape" / rel).read_text()


DEMO = _shipped("recipes/demo.yaml")
SMALL = _shipped("simulate/presets/small.yaml")
DEMO_VARS_TRUE = DEMO.replace("vars:\n  seed: 0", "vars: true").encode()
DEMO_STRATEGY_0 = DEMO.replace("strategies: [genomic,", "strategies: ['0',").encode()
SMALL_TFS_TRUE = SMALL.replace("tfs:\n", "tfs: true\nx:\n").encode()
SMALL_TF_LIST = b"name: x\nspecies: [{name: s, chrom_sizes: [100000]}]\ntfs: [{name: []}]\ncells: [{name: c}]\n"


@FUZZ
@given(data=yaml_input(DEMO))
@example(data=b"\x80")  # found: UnicodeDecodeError
@example(data=DEMO_VARS_TRUE)  # found: TypeError
@example(data=DEMO_STRATEGY_0)  # found: the unknown-strategy error named no file
def test_recipe_loader_never_crashes(folder, data):
    from bindscape.recipes.engine import load_recipe

    outcome(load_recipe, put(folder, "recipe.yaml", data))


@FUZZ
@given(data=yaml_input(SMALL))
@example(data=b"\x80")  # found: UnicodeDecodeError
@example(data=b"@")  # found: yaml.ScannerError (no YAML error was caught)
@example(data=b"\x00")  # found: yaml.ReaderError
@example(data=SMALL_TFS_TRUE)  # found: TypeError ('bool' object is not iterable)
@example(data=SMALL_TF_LIST)  # found: TypeError (unhashable list) for a TF named by a list
def test_simulator_config_loader_never_crashes(folder, data):
    from bindscape.simulate.config import resolve_config

    outcome(resolve_config, put(folder, "sim.yaml", data))


# ------------------------------------------------------------------------- the found crashes, by message
def _read_fasta(path):
    from bindscape.io.genome import read_fasta

    return read_fasta(path)


def _fasta_records(path):
    from bindscape.data.sequences import read_fasta_records

    return read_fasta_records(path)


def _motifs(path):
    from bindscape.motifs.load import read_motifs

    return read_motifs(path)


def _bed(path):
    from bindscape.io.bed import read_bed

    return read_bed(path)


def _sequences(path):
    from bindscape.data.sequences import read_sequences

    return read_sequences(path)


def _train_config(path):
    from bindscape.train.config import load_config

    return load_config(path)


def _recipe(path):
    from bindscape.recipes.engine import load_recipe

    return load_recipe(path)


def _preset(path):
    from bindscape.simulate.config import resolve_config

    return resolve_config(path)


@pytest.mark.parametrize(
    ("reader", "name", "data", "message"),
    [
        (_read_fasta, "g.fa", b">\nACGT\n", r"g\.fa:1: empty sequence name in the FASTA header"),
        (_read_fasta, "g.fa", CUT_GZ, r"g\.fa: corrupt or truncated gzip data"),
        (_read_fasta, "g.fa", b"ACGT\n>a\nAC\n", r"g\.fa:1: sequence text before the first '>name' header"),
        (_read_fasta, "g.fa", b">a\nAC\n>a x\nGG\n", r"g\.fa:3: duplicate sequence name 'a'"),
        (_read_fasta, "g.fa", b"\n\n", r"g\.fa: has no FASTA header"),
        (_fasta_records, "r.fa.gz", b">r\nACGT\n", r"r\.fa\.gz: is named \.gz but is not gzip-compressed"),
        (_fasta_records, "r.fa", CUT_GZ, r"r\.fa: gzip data is corrupt or truncated"),
        (_fasta_records, "r.fa", b">r\nAC\n\xff\n", r"r\.fa:3: is not UTF-8 text"),
        (_motifs, "m.meme.gz", b"MEME version 4\n", r"m\.meme\.gz: is named \.gz but is not gzip"),
        (_motifs, "m.jaspar", b">M1\n\xff\n", r"m\.jaspar:2: is not UTF-8 text"),
        (_motifs, "m.jaspar", b">M1\nnan\n0\n0\n0\n", r"m\.jaspar:1: motif 'M1': matrix has negative or"),
        (_motifs, "m.meme", MEME.replace("0.1 0.2", "nan 0.2").encode(), r"m\.meme:8: motif 'alt1': matrix"),
        (_motifs, "m.transfac", TRANSFAC.replace("01 1", "01 inf").encode(), r"m\.transfac:1: motif 'test'"),
        (_motifs, "m.meme", MEME.replace("nsites= 10", "nsites=E").encode(), r"m\.meme:9: .*nsites=E is not"),
        (_bed, "p.bed", b"chr1\t9223372036854775808\t10\n", r"p\.bed:1: start '9223372036854775808' is"),
        (_sequences, "t.csv", b"sequence\nA\nA,C\n", r"t\.csv: cannot be read as CSV \(Error tokenizing"),
        (_train_config, "t.yaml", b"\x80", r"t\.yaml: is not UTF-8 text \(byte 0\)"),
        (_train_config, "t.yaml", b"\x00", r"t\.yaml: not valid YAML \(unacceptable character #x0000"),
        (_recipe, "r.yaml", b"name: \x80", r"r\.yaml: is not UTF-8 text \(byte 6\)"),
        (_preset, "s.yaml", b"a: 1\n@", r"s\.yaml:2: not valid YAML \(found character '@'"),
        (_train_config, "t.yaml", b'dataset: d\ndata: {"a\\nb": 1}\n', r"t\.yaml: data\.'a\\nb': unknown"),
        (_recipe, "r.yaml", DEMO_STRATEGY_0, r"r\.yaml: data\.strategies: unknown negative strategy '0'"),
        (_recipe, "r.yaml", b"vars: true\n", r"r\.yaml: vars: expected a mapping of NAME: value, got bool"),
        (_preset, "s.yaml", SMALL_TFS_TRUE, r"s\.yaml\): tfs: "),
        (_preset, "s.yaml", b"\x00", r"s\.yaml: not valid YAML \(unacceptable character"),
        (_preset, "s.yaml", SMALL_TF_LIST, r"s\.yaml.*tfs: TF \[\] is not in the default panel"),
    ],
)
def test_found_crashes_now_give_one_clear_line(tmp_path, reader, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(BindscapeError, match=message) as info:
        reader(path)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------ checkpoints
class _Touch:
    """A pickle payload that would create a file when unpickled (stands in for arbitrary code)."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on random bytes
@FUZZ
@given(data=st.binary(max_size=300))
@example(data=b"PK\x03\x04" + b"\x00" * 40)  # a zip header with nothing behind it
def test_checkpoint_loader_never_crashes_on_bytes(folder, data):
    import torch  # noqa: F401 - imported outside the hang guard

    from bindscape.train import load_checkpoint

    outcome(load_checkpoint, put(folder, "model.ckpt", data))


_JSONISH = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8),
                    st.lists(st.integers(-2, 2), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@FUZZ
@given(key=st.sampled_from(["model", "model_name", "config", "multitask", "format", "state_dict", "bindscape"]),
       value=_JSONISH, as_json=st.booleans())
def test_checkpoint_loader_never_crashes_on_wrong_contents(folder, key, value, as_json):
    """A readable checkpoint of the right format whose metadata or weights were replaced by something else."""
    import json

    import torch

    from bindscape.models import get_model
    from bindscape.train import load_checkpoint, save_model

    path = put(folder, "model.pt", b"")
    save_model(path, get_model("bindscape_cnn", channels=4, hidden=4), {})
    obj = torch.load(path, weights_only=True)
    new = json.dumps(value) if as_json else value
    if key in ("state_dict", "bindscape"):
        obj[key] = new
    else:
        obj["bindscape"][key] = new
    torch.save(obj, path)
    outcome(load_checkpoint, path)


def test_checkpoint_with_code_in_its_pickle_is_refused(tmp_path):
    import torch

    from bindscape.train import load_checkpoint

    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"bindscape": _Touch(marker), "state_dict": {}}, path)
    with pytest.raises(BindscapeError, match=r"evil\.ckpt: not a readable checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


# ------------------------------------------------------------------------------------ the CLI end of it
def test_cli_reader_error_is_one_line_exit_2_and_a_bug_is_not_hidden(tmp_path, monkeypatch, capsys):
    """A reader's error reaches the user as one line and status 2; any other exception (a bug) is re-raised,
    so Python prints its traceback and exits with status 1."""
    import bindscape.simulate as sim
    from bindscape.cli import main

    bad = tmp_path / "sim.yaml"
    bad.write_bytes(b"name: \x80\n")
    assert main(["simulate", "--preset", str(bad), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "sim.yaml" in err, err
    assert "Traceback" not in err and not (tmp_path / "a").exists()

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sim, "simulate", bug)
    with pytest.raises(ZeroDivisionError):
        main(["simulate", "--out", str(tmp_path / "b")])

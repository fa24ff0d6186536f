"""`bindscape.io.download` and `bindscape download`, against a local HTTP server on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest

from bindscape.errors import ConfigError, InputError
from bindscape.io import download as dl


class _Server:
    """Serves `files` (URL path -> bytes). Modes: 'range' (honours Range), 'norange' (always 200),
    'drop' (sends the headers of the full file, half the body, then closes the connection)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.mode = "range"
        self.log: list[dict] = []  # one entry per request: path, range header, bytes sent, status
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                path = self.path
                rng = self.headers.get("Range")
                entry = {"path": path, "range": rng, "sent": 0, "status": None}
                server.log.append(entry)
                body = server.files.get(path)
                if body is None:
                    entry["status"] = 404
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if rng and server.mode != "norange":
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        entry["status"] = 416
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    entry["status"] = 206
                else:
                    self.send_response(200)
                    entry["status"] = 200
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if server.mode == "drop":
                    half = payload[: len(payload) // 2]
                    entry["sent"] = len(half)  # recorded before writing: the client may finish first
                    self.wfile.write(half)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                entry["sent"] = len(payload)
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def requests(self, path: str) -> list[dict]:
        return [e for e in self.log if e["path"] == path]


@pytest.fixture
def server(monkeypatch, tmp_path):
    s = _Server()
    s.thread.start()
    monkeypatch.setenv("BINDSCAPE_UCSC_URL", s.url)
    monkeypatch.setenv("BINDSCAPE_ENCODE_URL", s.url)
    monkeypatch.setenv("BINDSCAPE_BLACKLIST_URL", s.url + "/lists")
    monkeypatch.setenv("BINDSCAPE_DOWNLOADS", str(tmp_path / "cache"))
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _payload(n: int = 200_000, seed: int = 0) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


# ------------------------------------------------------------------------------------------ download()


def test_plain_download_with_sha256(server, tmp_path):
    data = _payload()
    server.files["/data/x.bin"] = data
    out = dl.download(server.url + "/data/x.bin", tmp_path / "x.bin", sha256=_sha(data), progress=False)
    assert out == tmp_path / "x.bin" and out.read_bytes() == data
    assert not (tmp_path / "x.bin.part").exists()
    assert server.requests("/data/x.bin")[0]["range"] is None


def test_checksum_mismatch_deletes_part_and_names_digests(server, tmp_path):
    data = _payload()
    server.files["/x.bin"] = data
    wrong = "0" * 64
    with pytest.raises(InputError) as ei:
        dl.download(server.url + "/x.bin", tmp_path / "x.bin", sha256=wrong, progress=False)
    msg = str(ei.value)
    assert wrong in msg and _sha(data) in msg
    assert not (tmp_path / "x.bin").exists() and not (tmp_path / "x.bin.part").exists()
    with pytest.raises(InputError):  # md5 as well
        dl.download(server.url + "/x.bin", tmp_path / "x.bin", md5="f" * 32, progress=False)
    assert not (tmp_path / "x.bin").exists()


def test_resume_requests_only_the_remaining_bytes(server, tmp_path):
    data = _payload(300_001)
    server.files["/big.bin"] = data
    dest = tmp_path / "big.bin"
    (tmp_path / "big.bin.part").write_bytes(data[:123_457])
    dl.download(server.url + "/big.bin", dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    (req,) = server.requests("/big.bin")
    assert req["range"] == "bytes=123457-" and req["status"] == 206
    assert req["sent"] == len(data) - 123_457


def test_server_ignoring_range_starts_over(server, tmp_path):
    data = _payload()
    server.files["/x.bin"] = data
    server.mode = "norange"
    (tmp_path / "x.bin.part").write_bytes(b"garbage that is not the start of the file")
    dl.download(server.url + "/x.bin", tmp_path / "x.bin", sha256=_sha(data), progress=False)
    assert (tmp_path / "x.bin").read_bytes() == data
    (req,) = server.requests("/x.bin")
    assert req["range"] is not None and req["status"] == 200 and req["sent"] == len(data)


def test_dropped_connection_then_resume(server, tmp_path):
    data = _payload(250_000)
    server.files["/x.bin"] = data
    server.mode = "drop"
    dest = tmp_path / "x.bin"
    with pytest.raises(dl.DownloadError) as ei:
        dl.download(server.url + "/x.bin", dest, md5=_md5(data), progress=False, timeout=10)
    assert "again" in (ei.value.hint or "")
    assert not dest.exists()
    part = tmp_path / "x.bin.part"
    got = part.stat().st_size
    assert got == len(data) // 2
    server.mode = "range"
    dl.download(server.url + "/x.bin", dest, md5=_md5(data), progress=False)
    assert dest.read_bytes() == data and not part.exists()
    last = server.requests("/x.bin")[-1]
    assert last["range"] == f"bytes={got}-" and last["sent"] == len(data) - got


def test_no_resume_discards_the_part_file(server, tmp_path):
    data = _payload()
    server.files["/x.bin"] = data
    (tmp_path / "x.bin.part").write_bytes(data[:1000])
    dl.download(server.url + "/x.bin", tmp_path / "x.bin", resume=False, progress=False)
    assert server.requests("/x.bin")[0]["range"] is None
    assert (tmp_path / "x.bin").read_bytes() == data


def test_complete_part_file_is_finished_without_new_bytes(server, tmp_path):
    data = _payload(5000)
    server.files["/x.bin"] = data
    (tmp_path / "x.bin.part").write_bytes(data)
    dl.download(server.url + "/x.bin", tmp_path / "x.bin", sha256=_sha(data), progress=False)
    assert (tmp_path / "x.bin").read_bytes() == data
    assert server.requests("/x.bin")[0]["status"] == 416


def test_cached_file_is_not_downloaded_again(server, tmp_path):
    data = _payload()
    server.files["/x.bin"] = data
    url = server.url + "/x.bin"
    p1 = dl.fetch_url(url, sha256=_sha(data), progress=False)
    assert p1 == tmp_path / "cache" / "url" / "x.bin"
    p2 = dl.fetch_url(url, sha256=_sha(data), progress=False)
    assert p2 == p1 and len(server.requests("/x.bin")) == 1
    p1.write_bytes(b"corrupted")  # a wrong checksum triggers a new download
    dl.fetch_url(url, sha256=_sha(data), progress=False)
    assert len(server.requests("/x.bin")) == 2 and p1.read_bytes() == data


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("BINDSCAPE_DOWNLOADS", str(tmp_path / "env"))
    assert dl.cache_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert dl.cache_dir() == tmp_path / "env"
    monkeypatch.delenv("BINDSCAPE_DOWNLOADS")
    assert dl.cache_dir() == Path.home() / ".cache" / "bindscape" / "downloads"


def test_http_404_and_unreachable_host(server, tmp_path):
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(server.url + "/missing.bin", tmp_path / "m.bin", progress=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(dl.DownloadError) as ei:
        dl.download(f"http://127.0.0.1:{port}/x.bin", tmp_path / "y.bin", progress=False, timeout=5)
    assert str(ei.value.message).startswith(f"cannot reach 127.0.0.1:{port}: ")
    assert ei.value.hint and "\n" not in ei.value.message
    assert not (tmp_path / "y.bin").exists()


# ------------------------------------------------------------------------------------------ resources


def test_genome_via_ucsc_layout_with_md5sum(server, tmp_path):
    fa, sizes = _payload(50_000, 1), b"chr1\t1000\nchr2\t500\n"
    base = "/goldenPath/sacCer3/bigZips"
    server.files[f"{base}/sacCer3.fa.gz"] = fa
    server.files[f"{base}/sacCer3.chrom.sizes"] = sizes
    server.files[f"{base}/md5sum.txt"] = f"{_md5(fa)}  sacCer3.fa.gz\n{'0' * 32}  sacCer3.2bit\n".encode()
    res = dl.fetch_genome("sacCer3", progress=False)
    assert res.verified and res.fasta.read_bytes() == fa and res.chrom_sizes.read_bytes() == sizes
    assert res.fasta == tmp_path / "cache" / "genomes" / "sacCer3" / "sacCer3.fa.gz"
    dl.fetch_genome("sacCer3", progress=False)  # cached and verified: only md5sum.txt is asked again
    assert len(server.requests(f"{base}/sacCer3.fa.gz")) == 1 and len(server.requests(f"{base}/md5sum.txt")) == 2
    # a wrong md5 in the listing is caught
    server.files[f"{base}/md5sum.txt"] = f"{'1' * 32}  sacCer3.fa.gz\n".encode()
    with pytest.raises(InputError, match="md5 mismatch"):
        dl.fetch_genome("sacCer3", out=tmp_path / "elsewhere", progress=False)
    assert not (tmp_path / "elsewhere" / "sacCer3.fa.gz").exists()
    # no md5sum.txt: downloaded, not verified
    del server.files[f"{base}/md5sum.txt"]
    res = dl.fetch_genome("sacCer3", out=tmp_path / "nomd5", progress=False)
    assert not res.verified and res.fasta.read_bytes() == fa


def test_unknown_genome_lists_known_ones(server):
    with pytest.raises(ConfigError) as ei:
        dl.fetch_genome("hg99")
    for g in ("hg38", "mm39", "sacCer3", "danRer11"):
        assert g in str(ei.value)
    assert server.log == []
    assert dl.check_genome_name("HG38") == "hg38"


def test_encode_accession_flow(server, tmp_path):
    data = _payload(40_000, 2)
    acc = "ENCFF123ABC"
    href = f"/files/{acc}/@@download/{acc}.bed.gz"
    meta = {"accession": acc, "href": href, "md5sum": _md5(data), "file_size": len(data),
            "file_format": "bed", "output_type": "conservative IDR thresholded peaks", "assembly": "GRCh38",
            "status": "released"}
    server.files[f"/files/{acc}/?format=json"] = json.dumps(meta).encode()
    server.files[href] = data
    res = dl.fetch_encode(acc.lower(), progress=False)
    assert res.accession == acc and res.path.name == f"{acc}.bed.gz" and res.path.read_bytes() == data
    assert json.loads((res.path.parent / f"{acc}.json").read_text())["md5sum"] == _md5(data)
    # corrupted on the server: md5 from the metadata catches it
    server.files[href] = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(InputError, match=_md5(data)):
        dl.fetch_encode(acc, out=tmp_path / "o" / "", progress=False)
    # unknown accession
    with pytest.raises(InputError, match="ENCODE has no file ENCFF000000"):
        dl.fetch_encode("ENCFF000000", progress=False)


@pytest.mark.parametrize("bad", ["ENCSR000ABC", "ENCFF12345", "ENCFF1234567", "ENCFF12-45A", "", "../etc"])
def test_bad_accession_is_refused_before_any_request(server, bad):
    with pytest.raises(ConfigError, match="ENCFF"):
        dl.fetch_encode(bad)
    assert server.log == []


def test_blacklist(server, tmp_path, monkeypatch):
    data = _payload(3000, 3)
    monkeypatch.setitem(dl.BLACKLIST_SHA256, "hg38", _sha(data))  # stands in for the real list's checksum
    server.files["/lists/hg38-blacklist.v2.bed.gz"] = data
    p = dl.fetch_blacklist("hg38", progress=False)
    assert p.read_bytes() == data and p.name == "hg38-blacklist.v2.bed.gz"
    with pytest.raises(ConfigError, match="hg38, hg19, mm10"):
        dl.fetch_blacklist("mm39")


def test_default_urls_are_the_real_ones(monkeypatch):
    for k in ("UCSC", "ENCODE", "BLACKLIST"):
        monkeypatch.delenv(f"BINDSCAPE_{k}_URL", raising=False)
    assert dl.base_url("ucsc") == "https://hgdownload.soe.ucsc.edu"
    assert dl.base_url("encode") == "https://www.encodeproject.org"
    assert dl.base_url("blacklist") == "https://github.com/Boyle-Lab/Blacklist/raw/master/lists"


def test_io_download_imports_only_stdlib_and_shared_helpers():
    import ast

    src = Path(dl.__file__).read_text()
    mods = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module.split(".")[0] if not node.module.startswith("bindscape") else node.module)
        elif isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
    third_party = {m for m in mods if m in {"requests", "httpx", "urllib3", "aiohttp", "tqdm"}}
    assert not third_party
    assert {m for m in mods if m.startswith("bindscape")} <= {"bindscape._util", "bindscape.errors"}


# ------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli_main():
    import bindscape.cli as cli

    if not any(g.name == "download" for g in cli.app.registered_groups):
        from bindscape.cli import download as cli_download

        cli_download.register(cli.app)
    return cli.main


def test_cli_download_commands(server, tmp_path, cli_main, capsys):
    data = _payload(10_000, 4)
    server.files["/f/a.txt"] = data
    assert cli_main(["download", "url", server.url + "/f/a.txt", "--out", str(tmp_path / "a.txt"),
                     "--sha256", _sha(data), "-q"]) == 0
    assert (tmp_path / "a.txt").read_bytes() == data
    assert str(tmp_path / "a.txt") in capsys.readouterr().out
    assert cli_main(["download", "url", server.url + "/f/a.txt", "--out", str(tmp_path / "b.txt"),
                     "--sha256", "ab" * 32, "-q"]) == 2
    err = capsys.readouterr().err
    assert "error: sha256 mismatch" in err and "ab" * 32 in err
    assert cli_main(["download", "genome", "hg99"]) == 2
    assert "known UCSC genomes: hg38, hg19" in capsys.readouterr().err
    assert cli_main(["download", "encode", "ENCSR000AKB"]) == 2
    assert "not an ENCODE file accession" in capsys.readouterr().err
    server.files["/lists/dm6-blacklist.v2.bed.gz"] = b"x" * 100
    assert cli_main(["download", "blacklist", "dm6", "--cache-dir", str(tmp_path / "c"), "-q"]) == 0
    assert (tmp_path / "c" / "blacklist" / "dm6-blacklist.v2.bed.gz").exists()
    assert cli_main(["download", "list"]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert cli_main(["download", "url", f"http://127.0.0.1:{port}/z", "--timeout", "5", "-q",
                     "--out", str(tmp_path / "z")]) == 2
    assert f"error: cannot reach 127.0.0.1:{port}" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ issue 17, class 7


def _encode_meta(server, acc: str, data: bytes, *, href: str, **extra) -> None:
    meta = {"accession": acc, "href": href, "file_size": len(data), "file_format": "bed", "status": "released",
            **extra}
    server.files[f"/files/{acc}/?format=json"] = json.dumps(meta).encode()
    server.files[href] = data


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_encode_file_format_cannot_escape_the_cache(server, tmp_path, cli_main, capsys):
    """A `file_format` of /../../../../outside/pwned.bed (href with no name) is refused: nothing written."""
    acc, data = "ENCFF123ABC", b"chr1\t1\t2\n"
    _encode_meta(server, acc, data, href="/", file_format="/../../../../outside/pwned.bed")
    cache = tmp_path / "a" / "b" / "cache"  # the traversal would land in tmp_path/a/outside/pwned.bed
    with pytest.raises(InputError, match="file_format"):
        dl.fetch_encode(acc, cache=cache, progress=False)
    assert cli_main(["download", "encode", acc, "--cache-dir", str(cache), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err and "--out FILE" in err
    assert "file_format" in " ".join(err.split())
    assert _files_under(tmp_path) == set()
    # the user can still name the file: --out FILE is used as given, the metadata name is not
    target = tmp_path / "mine.bed"
    assert cli_main(["download", "encode", acc, "--out", str(target), "-q"]) == 0
    assert target.read_bytes() == data and not (tmp_path / "a" / "outside").exists()


@pytest.mark.parametrize("name", ["..", ".hidden", "a\\b"])
def test_encode_unsafe_href_name_is_refused_without_part_file(server, tmp_path, cli_main, capsys, name):
    acc, data = "ENCFF123ABC", b"x" * 50
    _encode_meta(server, acc, data, href=f"/files/{acc}/@@download/{name}")
    with pytest.raises(InputError, match="unsafe file name"):
        dl.fetch_encode(acc, cache=tmp_path / "cache", progress=False)
    assert cli_main(["download", "encode", acc, "--cache-dir", str(tmp_path / "cache"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err and "hint:" in err
    assert _files_under(tmp_path) == set()  # no `...part`, nothing at all


@pytest.mark.parametrize("tail", ["..", "%2e%2e", "a/%2e%2e", "%2E%2E"])
def test_url_name_dotdot_is_refused(server, tmp_path, tail):
    server.files["/d/" + tail] = b"x"
    with pytest.raises(ConfigError, match="unsafe file name"):
        dl.fetch_url(f"{server.url}/d/{tail}", cache=tmp_path / "cache", progress=False)
    assert _files_under(tmp_path) == set() and server.log == []


def test_symlinked_destination_outside_the_cache_is_refused(server, tmp_path):
    data = b"y" * 20
    server.files["/f/a.bed"] = data
    folder = tmp_path / "cache" / "url"
    folder.mkdir(parents=True)
    (folder / "a.bed.part").symlink_to(tmp_path / "elsewhere.part")
    with pytest.raises(InputError, match="resolves outside"):
        dl.fetch_url(server.url + "/f/a.bed", cache=tmp_path / "cache", progress=False)
    assert not (tmp_path / "elsewhere.part").exists() and server.log == []


def test_check_file_name():
    for ok in ("ENCFF123ABC.bed.gz", "a b.txt", "x-1_2"):
        assert dl.check_file_name(ok, source="t") == ok
    for bad in ("", ".", "..", "a/b", "/x", "a\\b", "a\x00b", "a\nb", "x" * 256):
        with pytest.raises(InputError):
            dl.check_file_name(bad, source="t")


def test_encode_without_md5_does_not_claim_a_check(server, tmp_path, cli_main, capsys):
    acc, data = "ENCFF000AAA", b"chr1\t5\t9\n"
    _encode_meta(server, acc, data, href=f"/files/{acc}/@@download/{acc}.bed")
    res = dl.fetch_encode(acc, cache=tmp_path / "c1", progress=False)
    assert res.verified is False and res.path.read_bytes() == data
    assert cli_main(["download", "encode", acc, "--cache-dir", str(tmp_path / "c2"), "-q"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "(no checksum published)" in err and "verified" not in err
    # with an md5 the claim is made, and true
    _encode_meta(server, acc, data, href=f"/files/{acc}/@@download/{acc}.bed", md5sum=_md5(data))
    assert cli_main(["download", "encode", acc, "--cache-dir", str(tmp_path / "c3"), "-q"]) == 0
    assert "(md5 verified)" in " ".join(capsys.readouterr().err.split())
    assert dl.fetch_encode(acc, cache=tmp_path / "c4", progress=False).verified is True
    # a malformed md5 in the metadata: one line naming the field, nothing downloaded
    _encode_meta(server, acc, data, href=f"/files/{acc}/@@download/{acc}.bed", md5sum="nothex")
    with pytest.raises(InputError, match="md5sum"):
        dl.fetch_encode(acc, cache=tmp_path / "c5", progress=False)
    assert _files_under(tmp_path / "c5") == set()


def test_shipped_blacklist_checksums_match_the_real_files():
    from conftest import require_shared

    shared = require_shared(*(f"blacklists/{dl.BLACKLISTS[a]}" for a in ("hg38", "hg19", "mm10")))
    assert set(dl.BLACKLIST_SHA256) == {"hg38", "hg19", "mm10"}
    for assembly, sha in dl.BLACKLIST_SHA256.items():
        assert _sha((shared / "blacklists" / dl.BLACKLISTS[assembly]).read_bytes()) == sha, assembly


def test_real_blacklist_is_verified(server, tmp_path, cli_main, capsys):
    from conftest import require_shared

    real = (require_shared("blacklists/mm10-blacklist.v2.bed.gz") / "blacklists" / "mm10-blacklist.v2.bed.gz")
    server.files["/lists/mm10-blacklist.v2.bed.gz"] = real.read_bytes()
    assert cli_main(["download", "blacklist", "mm10", "--cache-dir", str(tmp_path / "c"), "-q"]) == 0
    assert "sha256 verified" in " ".join(capsys.readouterr().err.split())
    assert (tmp_path / "c" / "blacklist" / "mm10-blacklist.v2.bed.gz").read_bytes() == real.read_bytes()


def test_blacklist_checksum_mismatch_removes_the_file(server, tmp_path, cli_main, capsys):
    server.files["/lists/hg38-blacklist.v2.bed.gz"] = b"not the blacklist"
    cache = tmp_path / "c"
    assert cli_main(["download", "blacklist", "hg38", "--cache-dir", str(cache), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert "sha256 mismatch" in err and dl.BLACKLIST_SHA256["hg38"] in err and "BINDSCAPE_BLACKLIST_URL" in err
    assert _files_under(tmp_path) == set()
    # a bad file already under the final name (an older run, a bad mirror) is removed too
    bad = cache / "blacklist" / "hg38-blacklist.v2.bed.gz"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"stale")
    with pytest.raises(InputError, match="sha256 mismatch"):
        dl.fetch_blacklist("hg38", cache=cache, progress=False)
    assert _files_under(tmp_path) == set()


def test_blacklist_without_shipped_checksum_says_so(server, tmp_path, cli_main, capsys):
    server.files["/lists/ce11-blacklist.v2.bed.gz"] = b"z" * 10
    assert cli_main(["download", "blacklist", "ce11", "--cache-dir", str(tmp_path / "c"), "-q"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "no checksum shipped for ce11: not verified" in err and "sha256 verified" not in err

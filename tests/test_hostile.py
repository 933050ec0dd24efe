"""Hostile documents and hostile input: clear errors, no crash, nothing written outside.

A registry can send anything. A small stub registry (a threaded ``http.server`` on
loopback) serves each file of the fixture corpus (``../shared/fixtures/manifests``
``invalid/`` and ``legacy/``) as a manifest, with the media type ``SOURCES.md`` gives, and
generated documents (hypothesis): wrong types, missing fields, huge arrays, deep nesting,
hostile digests and sizes, an index that points at itself, a ``Link`` to another host, a
10 MiB manifest, non-JSON and HTML answers, empty bodies, a config that is not JSON.
``regtui inspect`` must print one clear line and exit 1 (or show legacy and flagged
documents with a warning), ``regtui pull`` must refuse without writing anything outside its
output directory, and no traceback may ever reach the user.

Hostile input from the user, too: malformed references are usage errors (exit 2), and an
unreachable or unresolvable host is one line (exit 1), quickly.

A real registry cannot be made to serve most of this (it validates what is pushed), hence
the stub; where a real registry can produce a case, ``test_faults.py`` uses one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regtui.cli import main
from regtui.core.client import MAX_MANIFEST_BYTES, RegistryClient, RetryPolicy, TransportOptions
from regtui.core.errors import ManifestError, ProtocolError, RegtuiError
from regtui.core.manifest import (
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageManifest,
    parse_platform,
)
from regtui.core.pull import Puller
from regtui.core.reference import parse_reference

CORPUS = Path(__file__).resolve().parent.parent / ".." / "shared" / "fixtures" / "manifests"
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0, max_retry_after=1.0)
OPTIONS = TransportOptions(retry=FAST)
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# The stub registry ---------------------------------------------------------------------------
@dataclass
class Answer:
    """What the stub sends for one path."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: False: no Content-Length; the body ends when the connection closes.
    length: bool = True


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    sent: int = 0
    #: True when the client hung up before the whole body was written.
    aborted: bool = False


class StubRegistry:
    """A loopback HTTP server answering from ``routes`` (exact path, query ignored).

    ``blobs`` are served by digest under any repository; other manifests and blobs are
    404 with a distribution-style error body. Every request is recorded in ``seen``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Answer | Callable[[str], Answer]] = {}
        self.blobs: dict[str, bytes] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                stub._answer(self)

            def do_HEAD(self) -> None:
                stub._answer(self)

        self._server = _QuietServer((host, 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.reset()

    @property
    def host(self) -> str:
        address, port = self._server.server_address[:2]
        return f"{address}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def reset(self) -> None:
        self.routes.clear()
        self.blobs.clear()
        self.routes["/v2/"] = Answer(b"{}", headers={"Docker-Distribution-API-Version": "2.0"})
        with self._lock:
            self.seen.clear()

    def manifest(self, repo: str, ref: str, body: bytes, content_type: str | None) -> None:
        self.routes[f"/v2/{repo}/manifests/{ref}"] = Answer(body, content_type=content_type)

    def __enter__(self) -> StubRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _lookup(self, path: str) -> Answer:
        route = self.routes.get(path)
        if route is not None:
            return route(path) if callable(route) else route
        if "/blobs/" in path:
            data = self.blobs.get(path.rsplit("/", 1)[-1])
            if data is not None:
                return Answer(data, content_type="application/octet-stream")
            return Answer(_error("BLOB_UNKNOWN", "blob unknown to registry"), status=404)
        return Answer(_error("MANIFEST_UNKNOWN", "manifest unknown"), status=404)

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        seen = Seen(h.command, h.path, {k.lower(): v for k, v in h.headers.items()})
        with self._lock:
            self.seen.append(seen)
        answer = self._lookup(path)
        h.send_response(answer.status)
        if answer.content_type:
            h.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            h.send_header(name, value)
        if answer.length:
            h.send_header("Content-Length", str(len(answer.body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if h.command == "HEAD":
            return
        view = memoryview(answer.body)
        try:
            for start in range(0, len(view), 64 * 1024):
                h.wfile.write(view[start : start + 64 * 1024])
                seen.sent += len(view[start : start + 64 * 1024])
            h.wfile.flush()
        except OSError:  # the client hung up (BrokenPipe, ConnectionReset)
            seen.aborted = True
            h.close_connection = True

    def requests(self, pattern: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if re.search(pattern, s.path)]


class _QuietServer(ThreadingHTTPServer):
    """Client hang-ups are part of the tests: never print a server-side traceback (it
    would land in the captured stderr of the CLI under test)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _error(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


@pytest.fixture(scope="module")
def _stub_server() -> Iterator[StubRegistry]:
    with StubRegistry() as stub:
        yield stub


@pytest.fixture
def stub(_stub_server: StubRegistry) -> StubRegistry:
    _stub_server.reset()
    return _stub_server


# Running the CLI ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxies, and no credentials or config from the user running the tests."""
    for name in list(os.environ):
        if "proxy" in name.lower() or name.startswith(("REGTUI_", "DOCKER_", "XDG_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float

    def error_line(self) -> str:
        """The one ``regtui: error:`` line that must be all of stderr."""
        assert "Traceback" not in self.err
        assert "internal error" not in self.err, self.err
        lines = self.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("regtui: error: "), self.err
        message = lines[0].removeprefix("regtui: error: ")
        assert message.isprintable() and len(message) < 400, message
        return message


def run_cli(*args: str, cwd: Path | None = None) -> Run:
    """The real CLI in a subprocess: what a user's shell sees."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "regtui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),  # as isolated by the fixture above
        cwd=cwd,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """The CLI's ``main`` in this process (fast, for the many corpus cases)."""
    started = time.monotonic()
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Run(code, out, err, time.monotonic() - started)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


def assert_only_inside(before: dict[str, tuple[int, int]], after: dict[str, Any], out: str) -> None:
    """Nothing changed under the parent directory except inside ``out``."""
    outside = {
        path
        for path in set(before) ^ set(after) | {p for p in before if before[p] != after.get(p)}
        if path != out and not path.startswith(out + os.sep)
    }
    assert not outside, f"written outside the output directory: {sorted(outside)}"


def assert_layout_sound(layout: Path) -> None:
    for dirpath, _dirs, files in os.walk(layout / "blobs"):
        for name in files:
            path = Path(dirpath) / name
            digest = hashlib.new(path.parent.name, path.read_bytes()).hexdigest()
            assert digest == name, f"{path} does not match its name"


# The fixture corpus, served as manifests ---------------------------------------------------------
def _sources() -> dict[str, str]:
    """``folder/name`` -> the Content-Type a registry would serve it with."""
    path = CORPUS / "SOURCES.md"
    if not path.is_file():
        return {}
    served: dict[str, str] = {}
    for block in re.split(r"^### ", path.read_text("utf-8"), flags=re.M)[1:]:
        header, _, text = block.partition("\n")
        line = re.search(r"^- Media type: (.*)$", text, flags=re.M)
        declared = line.group(1) if line else ""
        types = [t for t in re.findall(r"application/[\w.+-]+", declared) if t in MANIFEST_TYPES]
        if types:
            served[header.strip().strip("`")] = types[0]
        elif "OCI manifest" in declared:
            served[header.strip().strip("`")] = OCI_MANIFEST
        else:  # "(none)", "(not JSON)": a registry would say JSON at best
            served[header.strip().strip("`")] = "application/json"
    return served


SERVED_AS = _sources()


def corpus(folder: str) -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, id=f"{folder}-corpus-missing")]
    return [
        pytest.param(f"{folder}/{p.name}", id=f"{folder}/{p.name}")
        for p in sorted((CORPUS / folder).glob("*"))
        if p.is_file()
    ]


def corpus_file(name: str | None) -> tuple[bytes, str]:
    if name is None or not CORPUS.is_dir():
        pytest.skip(f"fixture corpus not found at {CORPUS}")
    return (CORPUS / name).read_bytes(), SERVED_AS[name]


#: Flagged, not refused (see tests/test_manifest.py): shown with a warning.
FLAGGED_SHOWN = {"invalid/docker-v2s2-octet-stream-config-zstd-docker-layer.json"}
#: Flagged too, but an image manifest: inspect needs its config, which no registry has
#: for these borrowed documents, so the stub's 404 for it must be reported clearly.
FLAGGED_NEEDS_CONFIG = {"invalid/oci-manifest-layer-unknown-compression-suffix.json"}
#: Its signature header says the payload is longer than the document: no digest exists.
LEGACY_UNDIGESTIBLE = {"legacy/schema1-signed-hello-world-distribution-spec-doc.json"}


@pytest.mark.parametrize("name", corpus("invalid"))
def test_inspect_of_each_invalid_document_is_one_clear_line(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], name: str | None
) -> None:
    body, content_type = corpus_file(name)
    stub.manifest("corpus/doc", "t", body, content_type)
    run = run_main(capsys, "inspect", f"http://{stub.host}/corpus/doc:t")
    if name in FLAGGED_SHOWN:
        assert run.code == 0, run.err
        assert re.search(r"^Warning: +\S", run.out, re.M), run.out
        assert run.err == ""
        return
    assert run.code == 1, (run.out, run.err)
    message = run.error_line()
    assert run.out == ""
    if name in FLAGGED_NEEDS_CONFIG:
        config = json.loads(body)["config"]["digest"]
        assert message.startswith("not found (HTTP 404, BLOB_UNKNOWN") and config in message
    else:
        assert re.search(r"manifest|schema|JSON|signature", message, re.I), message


@pytest.mark.parametrize("name", corpus("legacy"))
def test_inspect_shows_legacy_documents_and_pull_refuses_them(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str | None
) -> None:
    body, content_type = corpus_file(name)
    assert content_type.startswith("application/vnd.docker.distribution.manifest.v1")
    stub.manifest("corpus/legacy", "t", body, content_type)
    run = run_main(capsys, "inspect", f"http://{stub.host}/corpus/legacy:t")
    if name in LEGACY_UNDIGESTIBLE:
        assert run.code == 1
        assert "formatLength" in run.error_line()
    else:
        assert run.code == 0, run.err
        assert re.search(r"^Legacy: +Docker schema 1 manifest: .*not pulled$", run.out, re.M)
        assert re.search(r"^Digest: +sha256:[0-9a-f]{64}$", run.out, re.M)
        assert run.err == ""

    dest = tmp_path / "out"
    run = run_main(capsys, "pull", "-q", "-o", str(dest), f"http://{stub.host}/corpus/legacy:t")
    assert run.code == 1
    message = run.error_line()
    assert "schema 1" in message or "formatLength" in message, message
    assert not dest.exists()
    assert not stub.requests("/blobs/")  # refused before any download


@pytest.mark.parametrize(
    "name",
    [
        "invalid/non-json-binary-garbage.manifest.json",
        "invalid/ambiguous-no-mediatype-both-layers-and-manifests.json",
        "legacy/schema1-signed-busybox-containers-image.json",
    ],
)
def test_corpus_through_a_real_subprocess(stub: StubRegistry, name: str) -> None:
    body, content_type = corpus_file(name if CORPUS.is_dir() else None)
    stub.manifest("corpus/doc", "t", body, content_type)
    run = run_cli("inspect", f"http://{stub.host}/corpus/doc:t")
    assert "Traceback" not in run.err
    if name.startswith("legacy/"):
        assert run.code == 0 and "Legacy:" in run.out
    else:
        assert run.code == 1
        message = run.error_line()
        assert "invalid manifest" in message
        assert run.out == ""  # never binary garbage on the terminal


# Generated hostile documents: the client, in process (MockTransport) ----------------------------
def _valid_manifest(config: bytes = b"{}", layer: bytes = b"layer") -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_GZIP, "digest": sha256(layer), "size": len(layer)}],
    }


_HOSTILE_DIGESTS = st.sampled_from(
    [
        "sha256:../../../../etc/passwd",
        "../../../../tmp/x",
        "sha256:" + "z" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 64 + "/../x",
        "sha512:" + "a" * 64,
        "md5:" + "a" * 32,
        "sha256:",
        ":" + "a" * 64,
        "",
    ]
)
_HOSTILE_SIZES = st.sampled_from([-1, 2**63, 2**63 - 1, 2**64, 1.5, 1e308, True, False, "12", None])
_HOSTILE_VALUES = st.one_of(
    _HOSTILE_SIZES,
    _HOSTILE_DIGESTS,
    st.sampled_from([[], {}, [[[]]], {"a": {"b": {}}}, "", "x" * 10_000, OCI_INDEX]),
)


@st.composite
def hostile_manifest(draw: st.DrawFn) -> tuple[bytes, str | None]:
    doc: Any = _valid_manifest()
    descriptors = [doc["config"], *doc["layers"]]
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["digest", "size", "field", "drop", "top", "huge", "deep"]))
        target = draw(st.sampled_from(descriptors))
        if how == "digest":
            target["digest"] = draw(_HOSTILE_DIGESTS)
        elif how == "size":
            target["size"] = draw(_HOSTILE_SIZES)
        elif how == "field":
            target[draw(st.sampled_from(["mediaType", "digest", "size", "platform"]))] = draw(
                _HOSTILE_VALUES
            )
        elif how == "drop":
            target.pop(draw(st.sampled_from(["mediaType", "digest", "size"])), None)
        elif how == "top":
            key = draw(st.sampled_from(["schemaVersion", "mediaType", "config", "layers"]))
            if draw(st.booleans()):
                doc.pop(key, None)
            else:
                doc[key] = draw(_HOSTILE_VALUES)
        elif how == "huge":
            count = draw(st.sampled_from([1_000, 10_000]))
            doc["layers"] = [dict(doc["layers"][0] if doc.get("layers") else {})] * count
        else:
            target[draw(st.sampled_from(["annotations", "platform", "size"]))] = "@DEEP@"
    # Deep nesting is spliced in as text: json.dumps itself would recurse too deeply.
    body = json.dumps(doc).encode().replace(b'"@DEEP@"', b"[" * 5000 + b"]" * 5000)
    if draw(st.booleans()):
        depth = draw(st.sampled_from([1000, 100_000]))
        body = b"[" * depth + b"]" * depth
    content_type = draw(st.sampled_from([OCI_MANIFEST, OCI_INDEX, "application/json", None]))
    return body, content_type


# The autouse isolation fixture is function-scoped but the same for every example.
HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def _mock_client(routes: dict[str, tuple[int, bytes, str | None]]) -> RegistryClient:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body, content_type = routes.get(request.url.path, (404, b"", None))
        headers = {"Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        # An unread stream, as from a real server.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    return RegistryClient(
        "http://127.0.0.1:5000", options=OPTIONS, transport=httpx.MockTransport(handler)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(hostile_manifest(), st.booleans())
def test_client_refuses_hostile_manifests_with_one_line(
    case: tuple[bytes, str | None], by_digest: bool
) -> None:
    body, content_type = case
    reference = sha256(body) if by_digest else "t"

    async def fetch() -> None:
        routes = {f"/v2/h/m/manifests/{reference}": (200, body, content_type)}
        async with _mock_client(routes) as client:
            try:
                fetched = await client.get_manifest("h/m", reference)
            except RegtuiError as exc:
                message = str(exc)
                assert message and "\n" not in message and len(message) < 400, message
                return
        manifest = fetched.manifest
        assert fetched.digest == sha256(body)
        if isinstance(manifest, ImageManifest):
            for desc in (manifest.config, *manifest.layers):
                assert type(desc.size) is int and 0 <= desc.size < 2**63
                assert "/" not in desc.digest and ".." not in desc.digest

    asyncio.run(fetch())


# Generated hostile documents: a real pull against the stub --------------------------------------
SELF_DIGEST = "sha256:" + "0" * 64


@st.composite
def hostile_image(draw: st.DrawFn) -> dict[str, Any]:
    """A manifest (maybe under an index) whose descriptors may lie; blobs served by digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    layer = draw(st.binary(min_size=1, max_size=64))
    doc = _valid_manifest(config, layer)
    target = draw(st.sampled_from([doc["config"], doc["layers"][0]]))
    what = draw(st.sampled_from(["digest", "size", "both", "none"]))
    if what in ("digest", "both"):
        target["digest"] = draw(_HOSTILE_DIGESTS)
    if what in ("size", "both"):
        target["size"] = draw(
            st.sampled_from([-1, 0, 1, 2**63 - 1, 2**63, 1.5, True, len(layer) + 1])
        )
    manifest = json.dumps(doc).encode()
    index = None
    if draw(st.booleans()):
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": sha256(manifest),
            "size": len(manifest),
            "platform": {"os": "linux", "architecture": "amd64"},
        }
        how = draw(st.sampled_from(["plain", "digest", "size", "self"]))
        if how == "digest":
            entry["digest"] = draw(_HOSTILE_DIGESTS)
        elif how == "size":
            entry["size"] = draw(_HOSTILE_SIZES)
        elif how == "self":  # the stub answers the index itself for this digest
            entry.update(mediaType=OCI_INDEX, digest=SELF_DIGEST)
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    return {
        "manifest": manifest,
        "index": index.encode() if index else None,
        "blobs": {sha256(config): config, sha256(layer): layer},
    }


@settings(max_examples=30, deadline=None, suppress_health_check=HEALTH)
@given(hostile_image())
def test_pull_of_hostile_images_writes_nothing_outside_the_output(
    _stub_server: StubRegistry, image: dict[str, Any]
) -> None:
    stub = _stub_server
    stub.reset()
    stub.blobs.update(image["blobs"])
    top = image["index"] or image["manifest"]
    stub.manifest("h/img", "t", top, OCI_INDEX if image["index"] else OCI_MANIFEST)
    stub.manifest("h/img", sha256(image["manifest"]), image["manifest"], OCI_MANIFEST)
    if image["index"]:
        stub.manifest("h/img", SELF_DIGEST, image["index"], OCI_INDEX)  # a lying registry

    with tempfile.TemporaryDirectory() as parent_name:
        parent = Path(parent_name)
        (parent / "sibling.txt").write_text("must survive")
        before = tree(parent)

        async def run() -> None:
            ref = parse_reference(f"{stub.host}/h/img:t")
            async with RegistryClient(ref.registry, options=OPTIONS) as client:
                await Puller(client, jobs=2, retry=FAST).pull(
                    ref, parent / "out", platform=parse_platform("linux/amd64")
                )

        try:
            asyncio.run(asyncio.wait_for(run(), 30))
            succeeded = True
        except RegtuiError as exc:
            succeeded = False
            message = str(exc)
            assert message and "\n" not in message and len(message) < 600, message
        assert_only_inside(before, tree(parent), "out")
        out = parent / "out"
        if out.exists():
            assert_layout_sound(out)
            entries = json.loads((out / "index.json").read_text())["manifests"]
            assert len(entries) == (1 if succeeded else 0)


# Particular hostile answers, through the CLI --------------------------------------------------
def test_deeply_nested_answers_are_one_line(stub: StubRegistry) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    stub.manifest("deep/m", "t", nested, OCI_MANIFEST)
    stub.routes["/v2/_catalog"] = Answer(nested)
    stub.routes["/v2/deep/m/manifests/missing"] = Answer(nested, status=404)
    run = run_cli("inspect", f"http://{stub.host}/deep/m:t")
    assert run.code == 1 and "nested too deeply" in run.error_line()
    run = run_cli("ls", f"http://{stub.host}")
    assert run.code == 1 and "not JSON" in run.error_line()
    run = run_cli("inspect", f"http://{stub.host}/deep/m:missing")
    assert run.code == 1 and "HTTP 404" in run.error_line()


def _ten_mib_manifest() -> bytes:
    doc = _valid_manifest()
    doc["annotations"] = {"padding": "x" * (10 * MiB)}
    return json.dumps(doc).encode()


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-close"])
def test_a_10_MiB_manifest_is_one_line(stub: StubRegistry, length: bool) -> None:
    stub.routes["/v2/big/m/manifests/t"] = Answer(
        _ten_mib_manifest(), content_type=OCI_MANIFEST, length=length
    )
    run = run_cli("inspect", f"http://{stub.host}/big/m:t")
    assert run.code == 1
    assert "too large" in run.error_line()


class CountingStream(httpx.AsyncByteStream):
    """A response body that counts how much of it the client actually pulled."""

    def __init__(self, data: bytes, chunk: int = 64 * 1024) -> None:
        self.data, self.chunk, self.pulled = data, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            piece = self.data[start : start + self.chunk]
            self.pulled += len(piece)
            yield piece


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-close"])
async def test_a_10_MiB_manifest_is_refused_without_reading_it_all(length: bool) -> None:
    body = _ten_mib_manifest()
    stream = CountingStream(body)

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": OCI_MANIFEST}
        if length:
            headers["Content-Length"] = str(len(body))
        return httpx.Response(200, headers=headers, stream=stream)

    transport = httpx.MockTransport(handler)
    async with RegistryClient("http://127.0.0.1:5000", options=OPTIONS, transport=transport) as c:
        with pytest.raises(ManifestError, match="too large"):
            await c.get_manifest("big/m", "t")
    # Refused on the header alone, or as soon as the 4 MiB limit was passed.
    assert stream.pulled == 0 if length else stream.pulled <= MAX_MANIFEST_BYTES + stream.chunk


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci', OCI_MANIFEST),
        (b"\x1f\x8b\x08\x00binary", OCI_MANIFEST),
        (b"not json at all", "application/json"),
        (b"", OCI_MANIFEST),
        (b"null", OCI_MANIFEST),
        (b'"a string"', OCI_INDEX),
    ],
    ids=["truncated", "binary", "text", "empty", "null", "string"],
)
def test_non_json_manifests_are_one_line(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], body: bytes, content_type: str
) -> None:
    stub.manifest("bad/m", "t", body, content_type)
    run = run_main(capsys, "inspect", f"http://{stub.host}/bad/m:t")
    assert run.code == 1
    assert run.error_line().startswith("invalid manifest")
    assert run.out == ""


def test_empty_and_non_json_listings_are_one_line(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.routes["/v2/_catalog"] = Answer(b"")
    stub.routes["/v2/a/b/tags/list"] = Answer(b'{"tags": "latest"}')
    run = run_main(capsys, "ls", f"http://{stub.host}")
    assert run.code == 1 and "not JSON" in run.error_line()
    run = run_main(capsys, "ls", f"http://{stub.host}/a/b")
    assert run.code == 1 and "invalid tag list" in run.error_line()


HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Login</body></html>"


def test_a_registry_that_answers_html_is_named_as_such(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    page = Answer(HTML, content_type="text/html; charset=utf-8")
    stub.routes["/v2/"] = page
    stub.routes["/v2/_catalog"] = page
    stub.routes["/v2/a/b/tags/list"] = page
    stub.routes["/v2/a/b/manifests/t"] = Answer(HTML, status=404, content_type="text/html")
    for args in (["ls", f"http://{stub.host}"], ["ls", f"http://{stub.host}/a/b"]):
        run = run_main(capsys, *args)
        assert run.code == 1
        assert "HTML page" in run.error_line()
    run = run_main(capsys, "inspect", f"http://{stub.host}/a/b:t")
    assert run.code == 1
    message = run.error_line()
    assert "HTTP 404" in message and "HTML page" in message

    async def ping() -> None:
        async with RegistryClient(stub.url, options=OPTIONS) as client:
            with pytest.raises(ProtocolError, match="does not look like a registry"):
                await client.ping()

    asyncio.run(ping())


def test_an_html_page_served_as_a_manifest_is_named_as_such(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.routes["/v2/a/b/manifests/t"] = Answer(HTML, content_type="text/html")
    run = run_main(capsys, "inspect", f"http://{stub.host}/a/b:t")
    assert run.code == 1
    assert "HTML" in run.error_line()


def test_a_link_to_another_host_is_refused(stub: StubRegistry) -> None:
    with StubRegistry(host="127.0.0.2") as elsewhere:
        elsewhere.routes["/v2/_catalog"] = Answer(b'{"repositories": ["stolen/repo"]}')
        stub.routes["/v2/_catalog"] = Answer(
            b'{"repositories": ["first/page"]}',
            headers={"Link": f'<{elsewhere.url}/v2/_catalog?last=first%2Fpage>; rel="next"'},
        )
        run = run_cli("ls", stub.host)
        assert run.code == 1
        message = run.error_line()
        assert "refusing a pagination Link" in message and "127.0.0.2" in message
        assert run.out in ("", "first/page\n")
        assert elsewhere.requests() == []  # not even one request went there


def test_a_config_that_is_not_json_is_shown_as_such(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = b"\x00\x01 this is not JSON"
    manifest = json.dumps(_valid_manifest(config)).encode()
    stub.manifest("cfg/m", "t", manifest, OCI_MANIFEST)
    stub.blobs[sha256(config)] = config
    run = run_main(capsys, "inspect", f"http://{stub.host}/cfg/m:t")
    # Never a crash; whether shown or refused, the user hears one clear thing.
    if run.code == 0:
        assert re.search(r"^Config: +sha256:", run.out, re.M)
        assert run.err == ""
    else:
        assert run.code == 1 and "config" in run.error_line()
    run = run_main(capsys, "inspect", "--config", f"http://{stub.host}/cfg/m:t")
    assert run.code == 0 and run.out.encode("utf-8", "surrogateescape").startswith(b"\x00\x01")


def test_inspect_warns_about_a_config_that_is_not_json(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    config = b"this is not JSON"
    manifest = json.dumps(_valid_manifest(config)).encode()
    stub.manifest("cfg/m", "t", manifest, OCI_MANIFEST)
    stub.blobs[sha256(config)] = config
    run = run_main(capsys, "inspect", f"http://{stub.host}/cfg/m:t")
    assert run.code == 0
    assert re.search(r"^Warning: .*config", run.out, re.M | re.I), run.out


def test_an_index_that_points_at_itself_stops_the_pull(stub: StubRegistry, tmp_path: Path) -> None:
    loop = "sha256:" + "0" * 64
    entry = {"mediaType": OCI_INDEX, "digest": loop, "size": 200}
    entry["platform"] = {"os": "linux", "architecture": "amd64"}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    stub.manifest("loop/m", "t", index, OCI_INDEX)
    stub.manifest("loop/m", loop, index, OCI_INDEX)  # a lying registry
    run = run_cli(
        "pull",
        "-q",
        "--platform",
        "linux/amd64",
        "-o",
        "out",
        f"{stub.host}/loop/m:t",
        cwd=tmp_path,
    )
    assert run.code == 1
    message = run.error_line()
    assert "does not match its digest" in message and loop[:19] in message
    assert len(stub.requests("/manifests/")) <= 3  # no loop
    assert list(tmp_path.iterdir()) == []


def test_nested_indexes_stop_at_a_depth(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Honest indexes, each pointing at the next: legal, but not without end.
    child = json.dumps(_valid_manifest()).encode()
    stub.manifest("deep/i", sha256(child), child, OCI_MANIFEST)
    current, media_type = child, OCI_MANIFEST
    for _ in range(6):
        entry = {"mediaType": media_type, "digest": sha256(current), "size": len(current)}
        entry["platform"] = {"os": "linux", "architecture": "amd64"}
        current = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
        ).encode()
        media_type = OCI_INDEX
        stub.manifest("deep/i", sha256(current), current, OCI_INDEX)
    stub.manifest("deep/i", "t", current, OCI_INDEX)
    dest = tmp_path / "out"
    run = run_main(
        capsys,
        "pull",
        "-q",
        "-o",
        str(dest),
        "--platform",
        "linux/amd64",
        f"http://{stub.host}/deep/i:t",
    )
    assert run.code == 1
    assert "nested too deeply" in run.error_line()
    assert not dest.exists()


@pytest.mark.parametrize(
    "digest",
    ["sha256:" + "z" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63],
    ids=["non-hex", "upper-case", "short"],
)
def test_an_index_entry_with_an_unverifiable_digest_is_a_registry_error(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path, digest: str
) -> None:
    entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": 100}
    entry["platform"] = {"os": "linux", "architecture": "amd64"}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    stub.manifest("odd/i", "t", index, OCI_INDEX)
    # A registry that answers for that name anyway (the check must not depend on a 404).
    stub.manifest("odd/i", digest, json.dumps(_valid_manifest()).encode(), OCI_MANIFEST)
    dest = tmp_path / "out"
    for args in (
        ["inspect", "--platform", "linux/amd64"],
        ["pull", "-q", "-o", str(dest), "--platform", "linux/amd64"],
    ):
        run = run_main(capsys, *args, f"http://{stub.host}/odd/i:t")
        # The registry's document is at fault, not the user's typing: exit 1, not 2.
        assert run.code == 1, run.err
        assert digest[:19] in run.error_line()
    assert not dest.exists()


@pytest.mark.parametrize(
    "digest",
    ["sha256:../../../../../../tmp/regtui-escape", "sha256:" + "z" * 64, "sha256:" + "a" * 63],
    ids=["dot-dot", "non-hex", "short"],
)
def test_a_layer_with_a_hostile_digest_writes_nothing_outside(
    stub: StubRegistry, tmp_path: Path, digest: str
) -> None:
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    doc = _valid_manifest(config)
    doc["layers"][0]["digest"] = digest
    stub.manifest("esc/m", "t", json.dumps(doc).encode(), OCI_MANIFEST)
    stub.blobs[sha256(config)] = config
    (tmp_path / "keep").write_text("x")
    before = tree(tmp_path)
    run = run_cli("pull", "-q", "-o", "out", f"{stub.host}/esc/m:t", cwd=tmp_path)
    assert run.code == 1
    assert "digest" in run.error_line()
    assert_only_inside(before, tree(tmp_path), "out")
    assert not Path("/tmp/regtui-escape").exists()
    if (tmp_path / "out").exists():
        assert_layout_sound(tmp_path / "out")
        assert json.loads((tmp_path / "out" / "index.json").read_text())["manifests"] == []


@pytest.mark.parametrize(
    "size", [-1, 2**63, 1.5, True, "3"], ids=["minus-one", "2^63", "float", "bool", "string"]
)
def test_descriptor_sizes_out_of_range_are_refused(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path, size: Any
) -> None:
    doc = _valid_manifest()
    doc["layers"][0]["size"] = size
    stub.manifest("size/m", "t", json.dumps(doc).encode(), OCI_MANIFEST)
    run = run_main(capsys, "inspect", f"http://{stub.host}/size/m:t")
    assert run.code == 1
    assert "layers[0].size" in run.error_line()
    run = run_main(capsys, "pull", "-q", "-o", str(tmp_path / "o"), f"http://{stub.host}/size/m:t")
    assert run.code == 1 and "layers[0].size" in run.error_line()
    assert not (tmp_path / "o").exists()


def test_a_huge_layer_list_is_shown(stub: StubRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _valid_manifest(b"{}")
    doc["config"]["mediaType"] = "application/vnd.example.artifact+json"  # no config fetch
    doc["layers"] = [
        {"mediaType": OCI_GZIP, "digest": f"sha256:{n:064x}", "size": n} for n in range(20_000)
    ]
    stub.manifest("huge/m", "t", json.dumps(doc).encode(), OCI_MANIFEST)
    run = run_main(capsys, "inspect", f"http://{stub.host}/huge/m:t")
    assert run.code == 0, run.err
    assert re.search(r"^Layers: +20000$", run.out, re.M)
    assert run.seconds < 10


# Hostile input from the user ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("localhost:5000/UPPER/case", "must be lowercase"),
        ("example.com/Upper", "must be lowercase"),
        ("a:b:c", "invalid repository component"),
        ("@sha256:zz", "invalid digest"),
        ("repo@sha256:../../../etc/passwd", "invalid digest"),
        ("alp ine", "whitespace"),
        ("alpine\n:latest", "whitespace"),
        ("a" * 300, "longer than 255"),
        ("example.com/" + "/".join(["abc"] * 80), "longer than 255"),
        ("example.com/repo:" + "t" * 129, "invalid tag"),
        ("example.com/../etc", "invalid repository component"),
        ("ftp://example.com/repo", "invalid registry host"),
        ("", "empty image reference"),
    ],
    ids=[
        "upper-repo",
        "upper-after-host",
        "a:b:c",
        "bad-digest",
        "dotdot-digest",
        "space",
        "newline",
        "300-chars",
        "long-path",
        "long-tag",
        "dotdot-path",
        "ftp-scheme",
        "empty",
    ],
)
def test_malformed_references_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    reference: str,
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # where pull would create ./<repo>_<tag>
    for args in (["inspect", reference], ["pull", "-q", reference]):
        run = run_main(capsys, *args)
        assert run.code == 2, (args, run.err)
        assert says in run.error_line()
        assert run.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize("reference", ["a:b:c", "a" * 300, "alp ine"])
def test_malformed_references_in_a_real_subprocess(tmp_path: Path, reference: str) -> None:
    run = run_cli("pull", reference, cwd=tmp_path)
    assert run.code == 2
    assert run.error_line()
    assert run.out == "" and list(tmp_path.iterdir()) == []


def test_upper_case_first_component_is_a_host_as_in_docker() -> None:
    # Docker's grammar reads an upper-case first component as a registry host, so
    # 'UPPER/case' names the repository 'case' on host 'UPPER': a network error, one line.
    ref = parse_reference("UPPER/case")
    # (the host keeps its case, so that printing and re-reading the reference agree).
    assert (ref.registry.host, ref.repository) == ("UPPER", "case")
    run = run_cli("inspect", "--connect-timeout", "2", "UPPER/case")
    assert run.code in (1, 2)
    assert run.error_line()
    assert run.seconds < 20


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (f"127.0.0.1:{_closed_port()}/some/repo:1", "connection refused"),
        ("nonexistent.invalid/some/repo:1", "cannot resolve host nonexistent.invalid"),
    ],
    ids=["closed-port", "unresolvable"],
)
@pytest.mark.parametrize("command", ["inspect", "pull", "ls"])
def test_unreachable_hosts_are_one_line_quickly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, target: str, says: str
) -> None:
    if command == "ls":
        target = target.removesuffix(":1")
    args = [command, target] + (["-q", "-o", str(tmp_path / "o")] if command == "pull" else [])
    # inspect in a real subprocess, the others in process (the same code, faster)
    run = run_cli(*args) if command == "inspect" else run_main(capsys, *args)
    assert run.code == 1
    assert says in run.error_line()
    assert run.seconds < 10
    assert not (tmp_path / "o").exists()


ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e"  # clear screen, set title, C1 CSI, RTL


def test_an_error_body_cannot_forge_a_second_line(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "denied\nregtui: error: everything is fine\r\n"
    stub.routes["/v2/x/y/manifests/t"] = Answer(_error("DENIED", message), status=403)
    run = run_main(capsys, "inspect", f"http://{stub.host}/x/y:t")
    assert run.code == 1
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regtui: error: access denied"), run.err


def test_an_error_body_cannot_send_terminal_escapes(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.routes["/v2/x/y/manifests/t"] = Answer(
        _error("DENIED" + ESCAPES, "denied" + ESCAPES), status=403
    )
    run = run_main(capsys, "inspect", f"http://{stub.host}/x/y:t")
    assert run.code == 1
    run.error_line()  # asserts the line is printable


def test_inspect_report_cannot_send_terminal_escapes(
    stub: StubRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    config = json.dumps(
        {
            "architecture": "amd64" + ESCAPES,
            "os": "linux",
            "created": "2024-01-01" + ESCAPES,
            "history": [{"created_by": "RUN make" + ESCAPES}],
        }
    ).encode()
    manifest = json.dumps(_valid_manifest(config)).encode()
    stub.manifest("esc/m", sha256(manifest), manifest, OCI_MANIFEST)
    stub.blobs[sha256(config)] = config
    entry = {"mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest)}
    entry["platform"] = {"os": "linux" + ESCAPES, "architecture": "amd64"}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    stub.manifest("esc/m", "i", json.dumps(index).encode(), OCI_INDEX)
    stub.manifest("esc/m", "m", manifest, OCI_MANIFEST)
    for tag in ("i", "m"):
        run = run_main(capsys, "inspect", f"http://{stub.host}/esc/m:{tag}")
        assert run.code == 0, run.err
        bad = {c for line in run.out.splitlines() for c in line if not c.isprintable()}
        assert not bad, f"control characters in the report: {sorted(map(hex, map(ord, bad)))}"


# The TUI -------------------------------------------------------------------------------------
#: Names a registry may list (distribution validates them; a hostile one need not) that
#: Rich would read as markup: a closing tag that raised while drawing, a style, an emoji.
MARKUP_NAMES = ["[/done]", "[b]bold[/b]", "a:smile:b"]


def markup_names_registry(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v2/":
        return httpx.Response(200, json={})
    if path == "/v2/_catalog":
        return httpx.Response(200, json={"repositories": ["a/ok", *MARKUP_NAMES]})
    if path == "/v2/a/ok/tags/list":
        return httpx.Response(200, json={"name": "a/ok", "tags": MARKUP_NAMES})
    return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN", "message": "no"}]})


async def test_the_tui_shows_listed_names_as_written(tmp_path: Path) -> None:
    from ui_support import screen_text, settle, stub_app, wait_for

    from regtui.ui.widgets.repository_list import RepositoryList
    from regtui.ui.widgets.tag_table import TagTable

    app = stub_app("127.0.0.1:5000", markup_names_registry, tmp_path)
    async with app.run_test(size=(160, 30)) as pilot:
        repos = app.screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: len(repos.items) == 4, what="catalog")
        await pilot.press("home", "enter")  # a/ok, whose tags look like markup too
        tags = app.screen.query_one(TagTable)
        await wait_for(pilot, lambda: len(tags.items) == 3, what="tags")
        await settle(pilot)
        shown = screen_text(app)
        for name in MARKUP_NAMES:
            assert shown.count(name) == 2  # as a repository and as a tag
        assert app.is_running

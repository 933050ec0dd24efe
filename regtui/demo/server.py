"""An embedded, read-only registry that serves the demo store over HTTP.

It answers like CNCF distribution 2.8 for everything it serves (routes, headers, error
bodies, `Link` pagination, content negotiation, ranges), measured against the real thing;
see ``shared/design/registry-behaviour.md``. Deliberate differences:

* ``tags/list`` honours ``n``/``last`` and sorts, like distribution v3 and the OCI spec;
* no schema 1: where distribution would convert a Docker manifest to signed schema 1 (a
  tag fetched without the Docker type in ``Accept``) this answers 404 ``MANIFEST_UNKNOWN``;
* a malformed manifest digest gets 400 ``DIGEST_INVALID`` (distribution: 500 ``UNKNOWN``);
* several byte ranges get the whole blob (200) rather than ``multipart/byteranges``, and a
  416 has a correct ``Content-Length``;
* it is read-only: every write answers 405 ``UNSUPPORTED``.

Requests are logged at DEBUG level to the ``regtui.demo.server`` logger and never to
stderr by default, because the TUI owns the terminal.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
import types
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from regtui.demo.images import (
    DOCKER_LIST_REPO,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MULTI_ARCH_REPO,
    OCI_INDEX,
    OCI_MANIFEST,
    SINGLE_PLATFORM_REPO,
    DemoStore,
    default_cache_dir,
    ensure_demo_store,
    is_digest,
)

__all__ = ["DemoRegistry", "serve_forever_cli"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())  # no "last resort" printing to the TUI's terminal

# Route grammar from distribution's router (reference and go-digest regexps). Go's regexps
# run in linear time but Python's backtrack: distribution's `[-]*` separator is written `-+`
# (same language) and components are possessive, else a long tag makes matching exponential.
_COMPONENT = r"[a-z0-9]++(?:(?:[._]|__|-+)[a-z0-9]++)*+"
_NAME = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_LOOSE_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("base", re.compile(r"/v2/")),
    ("catalog", re.compile(r"/v2/_catalog")),
    ("tags", re.compile(rf"/v2/(?P<name>{_NAME})/tags/list")),
    ("manifest", re.compile(rf"/v2/(?P<name>{_NAME})/manifests/(?P<ref>{_TAG}|{_LOOSE_DIGEST})")),
    ("upload", re.compile(rf"/v2/(?P<name>{_NAME})/blobs/uploads/(?P<uuid>[^/]*)")),
    ("blob", re.compile(rf"/v2/(?P<name>{_NAME})/blobs/(?P<digest>{_LOOSE_DIGEST})")),
)
# Digests that go-digest accepts but the store (sha256 only) can never hold.
_OTHER_DIGEST = re.compile(r"sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_CATALOG_DEFAULT = 100
_MAX_ENTRIES = 1000  # distribution's catalog.maxentries default
_CHUNK = 256 * 1024
_MAX_DRAIN = 1024 * 1024  # request bodies we read and discard to keep a connection usable


def _match(path: str) -> tuple[str, dict[str, str]] | None:
    for route, pattern in _ROUTES:
        m = pattern.fullmatch(path)
        if m:
            return route, m.groupdict()
    return None


class _TokenBucket:
    """A byte budget shared by all connections: ``rate`` bytes/s, bursts of ``burst``.

    Takers may overdraw; each then sleeps off the debt, so concurrent downloads share the
    rate instead of each getting it.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()

    def __init__(
        self, address: tuple[str, int], store: DemoStore, bucket: _TokenBucket | None
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.store = store
        self.bucket = bucket
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut open connections so their handler threads end (they are daemons anyway)."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            logger.debug("connection from %s ended: %r", client_address, exc)
        else:
            logger.exception("error while serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "regtui-demo"
    timeout = 120  # idle keep-alive connections are closed after this
    # Headers and body go out in separate writes; with Nagle's algorithm the body then waits
    # for the client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _Server

    # ---- plumbing -------------------------------------------------------------------

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, fmt: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), fmt % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _send(
        self,
        status: int,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        length: int | None = None,
    ) -> None:
        """Send status and headers, and ``body`` unless this is a HEAD request."""
        self.send_response(status)
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for name, value in headers:
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body) if length is None else length))
        if self.close_connection:  # e.g. an undrained request body: tell the client
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: Sequence[tuple[str, str]] = ()) -> None:
        # Go's json.Encoder: compact, with a trailing newline.
        body = json.dumps(payload, separators=(",", ":")).encode() + b"\n"
        self._send(status, [("Content-Type", _JSON), *headers], body)

    def _error(self, status: int, code: str, message: str, detail: object = None) -> None:
        error: dict[str, object] = {"code": code, "message": message}
        if detail is not None:
            error["detail"] = detail
        self._json(status, {"errors": [error]})

    def _text(self, status: int, text: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        hdrs = [("Content-Type", _TEXT), ("X-Content-Type-Options", "nosniff"), *headers]
        self._send(status, hdrs, text.encode())

    def _redirect(self, location: str) -> None:
        body = f'<a href="{html.escape(location)}">Moved Permanently</a>.\n\n'.encode()
        self._send(
            301, [("Content-Type", "text/html; charset=utf-8"), ("Location", location)], body
        )

    def _drain_body(self) -> None:
        """Discard a small request body so the connection stays usable; else close it."""
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or (length and not length.isdigit()):
            self.close_connection = True
        elif length and int(length) > 0:
            if int(length) > _MAX_DRAIN:
                self.close_connection = True
            else:
                self.rfile.read(int(length))

    # ---- routing --------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if self.command in ("PUT", "POST", "PATCH", "DELETE"):
            self._drain_body()
        matched = _match(path)
        if matched is None:
            # gorilla/mux StrictSlash: /v2 -> /v2/ and /v2/_catalog/ -> /v2/_catalog
            target = path + "/" if path == "/v2" else path[:-1]
            if path == "/v2" or (path.endswith("/") and _match(target) is not None):
                self._redirect(target + (f"?{url.query}" if url.query else ""))
            else:
                self._text(404, "404 page not found\n")
            return
        route, params = matched
        if route == "base":  # distribution answers any method here
            self._send(200, [("Content-Type", _JSON)], b"{}")
        elif route in ("catalog", "tags") and self.command != "GET":
            # Listing routes are GET-only in distribution (gorilla's MethodHandler answers).
            if self.command == "OPTIONS":
                self._send(200, [("Allow", "GET")])
            else:
                self._text(405, "Method not allowed\n", [("Allow", "GET")])
        elif self.command in ("PUT", "POST", "PATCH", "DELETE"):
            self._error(405, "UNSUPPORTED", "The operation is unsupported.")
        elif self.command == "OPTIONS":
            self._send(200, [("Allow", "GET, HEAD")])
        elif route == "catalog":
            self._catalog(url.path, query)
        elif route == "tags":
            self._tags(url.path, params["name"], query)
        elif route == "manifest":
            self._manifest(params["name"], params["ref"])
        elif route == "blob":
            self._blob(params["name"], params["digest"])
        else:  # an upload session: there are none on a read-only registry
            self._error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")

    # ---- listings -------------------------------------------------------------------

    def _page(
        self, path: str, entries: list[str], n: int | None, last: str
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Entries after ``last``, at most ``n`` of them, and a Link header if more remain."""
        if last:
            entries = [e for e in entries if e > last]
        if n is None or len(entries) <= n:
            return entries, []
        page = entries[:n]
        if not page:
            return page, []
        # Relative, built from the request path, with an encoded `last`: like distribution.
        query = urlencode([("last", page[-1]), ("n", str(n))])
        return page, [("Link", f'<{path}?{query}>; rel="next"')]

    @staticmethod
    def _parse_n(query: dict[str, str]) -> int | None:
        """``n`` as distribution reads it: not a number, or negative, means not given."""
        raw = query.get("n", "")
        if not re.fullmatch(r"[+-]?[0-9]+", raw):  # Go's strconv.Atoi syntax, no "1_000"
            return None
        n = int(raw)
        return n if n >= 0 else None

    def _catalog(self, path: str, query: dict[str, str]) -> None:
        n = self._parse_n(query)
        if n is not None and n > _MAX_ENTRIES:
            self._error(
                400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", {"n": n}
            )
            return
        repos = self.server.store.repositories()
        page, headers = self._page(
            path, repos, _CATALOG_DEFAULT if n is None else n, query.get("last", "")
        )
        self._json(200, {"repositories": page}, headers)

    def _tags(self, path: str, name: str, query: dict[str, str]) -> None:
        store = self.server.store
        if not store.has_repository(name):
            self._error(
                404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name}
            )
            return
        n = self._parse_n(query)
        # Without n every tag comes back, as from distribution 2.8; n is clamped like v3 does.
        limit = None if n is None else min(n, _MAX_ENTRIES)
        page, headers = self._page(path, store.tags(name), limit, query.get("last", ""))
        self._json(200, {"name": name, "tags": page}, headers)

    # ---- manifests ------------------------------------------------------------------

    def _accepted(self) -> set[str]:
        """Media types listed in every Accept header, parameters dropped (as distribution)."""
        accepted: set[str] = set()
        for header in self.headers.get_all("Accept") or []:
            for item in header.split(","):
                media_type = item.split(";", 1)[0].strip().lower()
                if media_type:
                    accepted.add(media_type)
        return accepted

    def _manifest(self, name: str, ref: str) -> None:
        store = self.server.store
        by_tag = ":" not in ref
        if by_tag:
            digest = store.resolve(name, ref)
            if digest is None:
                self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": ref})
                return
        elif is_digest(ref) or _OTHER_DIGEST.fullmatch(ref):
            digest = store.resolve(name, ref)
            if digest is None:
                detail = {"Name": name, "Revision": ref}
                self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", detail)
                return
        else:
            self._error(400, "DIGEST_INVALID", "provided digest did not match uploaded content", {})
            return

        media_type, body = store.manifest(digest)
        accepted = self._accepted()
        if media_type == OCI_MANIFEST and OCI_MANIFEST not in accepted:
            message = "OCI manifest found, but accept header does not support OCI manifests"
            self._error(404, "MANIFEST_UNKNOWN", message)
            return
        if media_type == OCI_INDEX and OCI_INDEX not in accepted:
            message = "OCI index found, but accept header does not support OCI indexes"
            self._error(404, "MANIFEST_UNKNOWN", message)
            return
        if by_tag and media_type == DOCKER_MANIFEST_LIST and media_type not in accepted:
            # distribution answers with the linux/amd64 child when v2 manifests are accepted.
            child = _amd64_child(body) if DOCKER_MANIFEST in accepted else None
            if child is None:
                self._no_schema1()
                return
            digest = child
            media_type, body = store.manifest(digest)
        if by_tag and media_type == DOCKER_MANIFEST and media_type not in accepted:
            self._no_schema1()
            return

        etag = f'"{digest}"'
        if self._not_modified(etag):
            self._send(304)  # distribution sends no Etag or digest here
            return
        headers = [
            ("Content-Type", media_type),
            ("Docker-Content-Digest", digest),
            ("Etag", etag),
        ]
        self._send(200, headers, body)

    def _not_modified(self, etag: str) -> bool:
        """Whether If-None-Match names ``etag`` (or is ``*``)."""
        header = self.headers.get("If-None-Match")
        if header is None:
            return False
        return header.strip() == "*" or etag in [t.strip() for t in header.split(",")]

    def _no_schema1(self) -> None:
        message = (
            "manifest unknown: distribution would convert this Docker manifest to schema 1, "
            "which the demo registry does not do; accept "
            f"{DOCKER_MANIFEST_LIST} and {DOCKER_MANIFEST}"
        )
        self._error(404, "MANIFEST_UNKNOWN", message)

    # ---- blobs ----------------------------------------------------------------------

    def _blob(self, name: str, digest: str) -> None:
        store = self.server.store
        if not (is_digest(digest) or _OTHER_DIGEST.fullmatch(digest)):
            self._error(400, "DIGEST_INVALID", "provided digest did not match uploaded content", {})
            return
        # Only blobs linked into this repository, like distribution (checked before any path
        # is built, so nothing outside the store can be named).
        if not store.has_repository(name) or digest not in store.blob_digests(name):
            self._error(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
            return
        path = store.blob_path(digest)
        size = store.blob_size(digest)
        etag = f'"{digest}"'
        # distribution sets these before handing over to Go's http.ServeContent, so even
        # 304 and 416 answers carry them.
        common = [
            ("Cache-Control", "max-age=31536000"),
            ("Docker-Content-Digest", digest),
            ("Etag", etag),
        ]
        if self._not_modified(etag):
            self._send(304, common)
            return
        headers = [
            ("Accept-Ranges", "bytes"),
            *common,
            ("Content-Type", "application/octet-stream"),
        ]
        start, length, status = 0, size, 200
        range_header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        # Go's http.ServeContent rules: If-Range must name this blob or the range is ignored.
        if range_header and (if_range is None or if_range.strip() == etag):
            ranges = _parse_range(range_header, size)
            if isinstance(ranges, str):
                extra = [] if ranges == "invalid range" else [("Content-Range", f"bytes */{size}")]
                self._text(416, ranges + "\n", [*common, *extra])
                return
            if len(ranges) == 1:  # several ranges: the whole blob (distribution: multipart)
                (start, length), status = ranges[0], 206
                headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{size}"))
        self._send(status, headers, length=length)
        if self.command != "HEAD":
            self._stream(path, start, length)

    def _stream(self, path: Path, start: int, length: int) -> None:
        bucket = self.server.bucket
        chunk = _CHUNK if bucket is None else bucket.burst
        with path.open("rb") as f:
            f.seek(start)
            remaining = length
            while remaining > 0:
                data = f.read(min(chunk, remaining))
                if not data:  # the file shrank under us: give up on this connection
                    self.close_connection = True
                    return
                if bucket is not None:
                    bucket.take(len(data))
                self.wfile.write(data)
                remaining -= len(data)


def _amd64_child(index_bytes: bytes) -> str | None:
    """The linux/amd64 entry of a Docker manifest list (what distribution falls back to)."""
    for entry in json.loads(index_bytes).get("manifests", []):
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(entry["digest"])
    return None


def _parse_range(header: str, size: int) -> list[tuple[int, int]] | str:
    """``(start, length)`` ranges of a Range header as Go's ``http.ServeContent`` reads it.

    Returns an error text for a 416 instead: ``"invalid range"`` for bad syntax or
    ``"invalid range: failed to overlap"`` when no range starts inside the blob. An empty
    list (no usable range, or more bytes asked than the blob has) means "send it all".
    """
    prefix = "bytes="
    if not header.startswith(prefix):
        return "invalid range"
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for spec in header[len(prefix) :].split(","):
        spec = spec.strip()
        if not spec:
            continue
        first, sep, last = (part.strip() for part in spec.partition("-"))
        if not sep or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
            return "invalid range"
        if not first:  # suffix range: the last N bytes
            if not last or int(last) == 0:
                return "invalid range" if not last else "invalid range: failed to overlap"
            suffix = min(int(last), size)
            ranges.append((size - suffix, suffix))
            continue
        start = int(first)
        if start >= size:
            no_overlap = True
            continue
        if not last:
            ranges.append((start, size - start))
            continue
        end = int(last)
        if end < start:
            return "invalid range"
        ranges.append((start, min(end, size - 1) - start + 1))
    if no_overlap and not ranges:
        return "invalid range: failed to overlap"
    if sum(length for _, length in ranges) > size:
        return []
    return ranges


class DemoRegistry:
    """The demo registry: serves a :class:`DemoStore` on a loopback port in the background.

    ``port=0`` picks a free port. ``rate`` (bytes per second, shared by all connections)
    throttles blob bodies so that download progress is visible; ``None`` means unthrottled.
    Use :meth:`start`/:meth:`stop` or a ``with`` block.
    """

    def __init__(
        self,
        store: DemoStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float | None = None,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (bytes per second) or None")
        self.store = store
        self.host = host
        self.port = port
        self.rate = rate
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port`` to give a registry client (``[::1]:port`` for IPv6)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43127``."""
        return f"http://{self.address}"

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    def start(self) -> str:
        """Bind and serve in a daemon thread; return the address (``"127.0.0.1:PORT"``)."""
        if self._server is None:
            bucket = None
            if self.rate is not None:
                # Chunks of ~1/20 s keep progress smooth at any rate.
                burst = max(1024, min(_CHUNK, int(self.rate / 20)))
                bucket = _TokenBucket(self.rate, burst)
            server = _Server((self.host, self.port), self.store, bucket)
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"regtui-demo-registry:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self.address

    def stop(self) -> None:
        """Stop serving and cut open connections. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> DemoRegistry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()


_DEFAULT_EXAMPLES = (
    "curl -s http://{address}/v2/_catalog",
    f"curl -s http://{{address}}/v2/{MULTI_ARCH_REPO}/tags/list",
    f"skopeo inspect --tls-verify=false docker://{{address}}/{SINGLE_PLATFORM_REPO}:latest",
    f"skopeo inspect --raw --tls-verify=false docker://{{address}}/{DOCKER_LIST_REPO}:latest",
)


def serve_forever_cli(
    *,
    port: int = 0,
    rate: float | None = None,
    host: str = "127.0.0.1",
    cache_dir: Path | None = None,
    examples: Sequence[str] | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run only the demo registry, in the foreground, until Ctrl-C or SIGTERM (``--serve``).

    Generates the store on first use, prints the address and example commands (each
    ``examples`` entry may use ``{address}``), and returns a process exit code. With
    ``verbose`` each request is logged to stderr.
    """
    out = sys.stdout if out is None else out
    target = default_cache_dir() if cache_dir is None else Path(cache_dir)
    if not (target / "demo.json").is_file():
        print(f"Generating the demo images in {target} (first run only)…", file=out, flush=True)
    store = ensure_demo_store(target)
    registry = DemoRegistry(store, host=host, port=port, rate=rate)
    try:
        address = registry.start()
    except OSError as exc:
        print(f"regtui demo: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    handler: logging.Handler | None = None
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    throttle = f", blobs throttled to {rate:,.0f} B/s" if rate else ""
    lines = [
        f"Demo registry (read-only, plain HTTP{throttle}) at {registry.url}",
        f"{len(store.repositories())} repositories: {', '.join(store.repositories())}",
        "Try:",
        *(f"  {example.format(address=address)}" for example in (examples or _DEFAULT_EXAMPLES)),
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), file=out, flush=True)

    stopping = threading.Event()
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.wait(0.5):  # a timed wait lets Ctrl-C through on every platform
            pass
    except KeyboardInterrupt:
        pass
    finally:
        registry.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        if handler is not None:
            logger.removeHandler(handler)
    print("Demo registry stopped.", file=out, flush=True)
    return 0

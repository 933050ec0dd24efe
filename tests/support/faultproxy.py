"""A fault-injecting HTTP proxy for tests, started on loopback in front of a real registry.

Every request is forwarded to the upstream registry; :class:`Fault` rules matched by
method and path regex change what the client sees: cut a transfer part-way, flip a byte,
answer an error status (with ``Retry-After``), stall, ignore ``Range``, send more bytes
than asked, redirect to another origin, close the connection after each response, or
throttle, or delay the answer. Each rule fires for the first ``times`` matching requests
(``None``: always). Everything sent is recorded in :attr:`FaultProxy.log` so tests can
assert what was fetched (e.g. that a resumed transfer asked only for the missing bytes),
and :attr:`FaultProxy.max_in_flight` is the most requests matching
:attr:`FaultProxy.count_path` (blob GETs by default) that were waiting at once.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


@dataclass
class Fault:
    """One rule. ``kind`` is one of:

    ``cut`` (send ``after`` body bytes, then drop the connection), ``flip`` (invert the
    byte at body offset ``at``), ``status`` (answer ``status`` with ``headers``, e.g.
    ``{"Retry-After": "1"}``, without asking upstream), ``stall`` (send ``after`` bytes,
    then go silent for ``seconds``), ``ignore_range`` (drop the client's ``Range`` and
    send the whole blob with 200), ``extra`` (append ``count`` bytes beyond the real body;
    with ``lie_length`` the Content-Length includes them), ``redirect`` (307 to
    ``location(path)``), ``close`` (``Connection: close`` after the response),
    ``throttle`` (``rate`` bytes per second), ``delay`` (wait ``seconds`` before
    forwarding, then answer normally).
    """

    kind: str
    path: str = r"/v2/.+/blobs/"
    method: str = "GET"
    times: int | None = 1
    after: int = 0
    at: int = 0
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    count: int = 0
    lie_length: bool = False
    rate: float = 0.0
    location: Callable[[str], str] | None = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        return method == self.method and re.search(self.path, path) is not None


@dataclass
class LoggedRequest:
    """What the proxy received and what it did."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    body_bytes: int = 0
    fault: str | None = None


class _Server(ThreadingHTTPServer):
    """Connections dropped by either side are what the faults are about: no traceback for
    them on stderr (anything else is still printed)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError | httpx.TransportError):
            return
        super().handle_error(request, client_address)


class FaultProxy:
    """A threaded reverse proxy: ``FaultProxy(upstream_url).start()`` → ``"127.0.0.1:PORT"``."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1") -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30, follow_redirects=False)
        #: Requests whose path matches this regex are counted in ``in_flight``.
        self.count_path = r"/v2/.+/blobs/"
        #: How many counted requests have arrived and are not yet being answered, and the
        #: most at once. A client is surely still waiting for each of them, so this never
        #: overstates its concurrency (a ``delay`` fault makes the waits overlap).
        self.in_flight = 0
        self.max_in_flight = 0
        self._waiting: set[int] = set()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # keep test output clean

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_HEAD(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

            def do_PUT(self) -> None:
                proxy._handle(self)

        self._server = _Server((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``host:port`` of the proxy."""
        address, port = self._server.server_address[:2]
        return f"{address}:{port}"

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}"

    def start(self) -> str:
        """Serve in a background thread; returns :attr:`host`."""
        # A short poll interval makes stop() return at once instead of after up to 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.host

    def stop(self) -> None:
        """Stop serving and close the upstream client."""
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # rules ------------------------------------------------------------------------------------
    def add(self, fault: Fault) -> Fault:
        """Add a rule (first match wins)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self.faults.clear()

    def requests(self, path: str = r"/v2/.+/blobs/") -> list[LoggedRequest]:
        """Logged requests whose path matches ``path``."""
        with self._lock:
            return [r for r in self.log if re.search(path, r.path)]

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    # handling ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        if re.search(self.count_path, h.path) is not None:
            with self._lock:
                self._waiting.add(id(h))
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._handle_counted(h)
        finally:
            self._answering(h)

    def _answering(self, h: BaseHTTPRequestHandler) -> None:
        """The answer to ``h`` starts: it no longer counts as waiting."""
        with self._lock:
            if id(h) in self._waiting:
                self._waiting.discard(id(h))
                self.in_flight -= 1

    def _handle_counted(self, h: BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        headers = {k: v for k, v in h.headers.items()}
        entry = LoggedRequest(method, path, headers)
        with self._lock:
            self.log.append(entry)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        fault = self._pick(method, path)
        entry.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        try:
            if fault is not None and fault.kind == "status":
                self._send_simple(h, entry, fault.status, fault.headers, b'{"errors":[]}')
                return
            if fault is not None and fault.kind == "redirect":
                assert fault.location is not None
                self._send_simple(h, entry, 307, {"Location": fault.location(path)}, b"")
                return
            upstream_headers = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            if fault is not None and fault.kind == "ignore_range":
                upstream_headers.pop("Range", None)
                upstream_headers.pop("range", None)
            request = self._client.build_request(
                method, self.upstream + path, headers=upstream_headers, content=body or None
            )
            response = self._client.send(request, stream=True)
            try:
                self._relay(h, entry, response, fault)
            finally:
                response.close()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _send_simple(
        self,
        h: BaseHTTPRequestHandler,
        entry: LoggedRequest,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        entry.status = status
        self._answering(h)
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _relay(
        self,
        h: BaseHTTPRequestHandler,
        entry: LoggedRequest,
        response: httpx.Response,
        fault: Fault | None,
    ) -> None:
        kind = fault.kind if fault else None
        entry.status = response.status_code
        self._answering(h)
        h.send_response(response.status_code)
        for k, v in response.headers.multi_items():
            if k.lower() not in HOP_BY_HOP:
                h.send_header(k, v)
        declared = response.headers.get("content-length")
        extra = b"\0" * fault.count if fault is not None and kind == "extra" else b""
        if declared is not None:
            total = int(declared) + (len(extra) if fault is not None and fault.lie_length else 0)
            h.send_header("Content-Length", str(total))
        if kind == "close" or declared is None:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if h.command == "HEAD":
            return
        sent = 0
        started = time.monotonic()
        for chunk in self._chunks(response):
            if fault is not None and kind == "flip" and sent <= fault.at < sent + len(chunk):
                i = fault.at - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
            if fault is not None and kind in ("cut", "stall") and sent + len(chunk) >= fault.after:
                chunk = chunk[: fault.after - sent]
                h.wfile.write(chunk)
                h.wfile.flush()
                sent += len(chunk)
                entry.body_bytes = sent
                if kind == "stall":
                    time.sleep(fault.seconds)
                self._drop(h)
                return
            h.wfile.write(chunk)
            sent += len(chunk)
            entry.body_bytes = sent
            if fault is not None and kind == "throttle" and fault.rate > 0:
                ahead = sent / fault.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        if extra:
            try:
                h.wfile.write(extra)
                entry.body_bytes = sent + len(extra)
            except (BrokenPipeError, ConnectionResetError):
                pass
            if not fault or not fault.lie_length:
                self._drop(h)  # the stream is now out of sync with its length: end it
        h.wfile.flush()

    @staticmethod
    def _chunks(response: httpx.Response) -> Iterator[bytes]:
        yield from response.iter_raw(64 * 1024)

    @staticmethod
    def _drop(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

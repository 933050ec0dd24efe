"""A lean synchronous HTTP/1.1 transport for httpx, used for blob downloads.

Why this exists: profiling the pull engine showed that moving blob bytes through httpx's
default stack (httpcore + h11) costs several copies and Python-level parsing per chunk,
which pinned one core and made a 1 GiB pull 2-3x slower than a requests/urllib3 client.
Blobs are the only place regtui moves real volume, so for them we plug this transport
into an ordinary ``httpx.Client``: httpx still runs the auth flow (tokens, challenges),
follows redirects (dropping ``Authorization`` across hosts), applies timeouts and TLS
verification, while the bytes come from the stdlib ``http.client``, which can
``readinto`` a caller's buffer straight from the socket with the GIL released.

The transport exposes that fast path as ``response.extensions["regtui.readinto"]``; any
other caller simply iterates the response as usual.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

READINTO_EXTENSION = "regtui.readinto"
_ITER_CHUNK = 64 * 1024


class _Pool:
    """Idle keep-alive connections per (scheme, host, port); thread-safe."""

    def __init__(self, max_idle_per_host: int) -> None:
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._max = max_idle_per_host
        self._closed = False

    def take(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def give(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            conns = self._idle.setdefault(key, [])
            if not self._closed and len(conns) < self._max:
                conns.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for lst in self._idle.values() for c in lst]
            self._idle.clear()
        for conn in conns:
            conn.close()


class RawResponseStream(httpx.SyncByteStream):
    """The body of one ``http.client`` response; returns its connection to the pool."""

    def __init__(
        self,
        response: http.client.HTTPResponse,
        release: Callable[[bool], None],
        url: httpx.URL,
    ) -> None:
        self._response = response
        self._release = release
        self._url = url
        self._closed = False
        self._lock = threading.Lock()

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Read what has arrived, up to ``len(buffer)`` body bytes; 0 at the end.

        At most one socket read (``readinto1``), so a slow link still reports progress
        often and a stall loses nothing already received. http.client's own
        ``readinto`` would wait to fill the whole buffer.
        """
        response = self._response
        try:
            if response.chunked or response.length is None or response.fp is None:
                return response.readinto(buffer)
            want = min(len(buffer), response.length)
            if want == 0:
                response.close()  # body complete: the connection may be reused
                return 0
            got = response.fp.readinto1(memoryview(buffer)[:want])
            if not got:
                raise http.client.IncompleteRead(b"", response.length)
            response.length -= got
            if response.length == 0:
                response.close()
            return got
        except Exception as exc:
            raise _map_error(exc, self._url, reading=True) from exc

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = self._response.read(_ITER_CHUNK)
            except Exception as exc:
                raise _map_error(exc, self._url, reading=True) from exc
            if not chunk:
                break
            yield chunk

    def abort(self) -> None:
        """Break the connection from another thread (cancellation): a blocked read returns."""
        sock = getattr(self._response.fp, "raw", None)
        sock = getattr(sock, "_sock", None)
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Reusable only when the body was read to its end and the server keeps it alive.
        reusable = self._response.isclosed() and not self._response.will_close
        if not reusable:
            self._response.close()
        self._release(reusable)


class BlobTransport(httpx.BaseTransport):
    """An ``httpx.BaseTransport`` on ``http.client`` with a small keep-alive pool."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext],
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_idle_per_host: int = 8,
    ) -> None:
        self._ssl_context = ssl_context
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool = _Pool(max_idle_per_host)

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if scheme == "https":
            context = self._ssl_context
            if not isinstance(context, ssl.SSLContext):  # made on first use (loads CAs)
                context = self._ssl_context = context()
            conn = http.client.HTTPSConnection(
                host, port, timeout=self._connect_timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(self._read_timeout)
        # Large receive windows matter for throughput; small requests must not wait on Nagle.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled or new connection and return a streaming response."""
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        host = url.host
        port = url.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        target = url.raw_path.decode("ascii")
        body = request.read() if request.method not in ("GET", "HEAD") else b""
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]

        for attempt in (0, 1):
            conn = self._pool.take(key) if attempt == 0 else None
            reused = conn is not None
            try:
                if conn is None:
                    conn = self._connect(scheme, host, port)
                conn.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body or None)
                response = conn.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                if conn is not None:
                    conn.close()
                if reused:
                    continue  # the server closed an idle keep-alive connection: retry fresh
                raise _map_error(exc, url, reading=False, request=request) from exc
            except Exception as exc:
                if conn is not None:
                    conn.close()
                raise _map_error(exc, url, reading=False, request=request) from exc
        else:  # pragma: no cover - the loop always breaks or raises
            raise httpx.ConnectError("could not send request", request=request)

        live_conn = conn

        def release(reusable: bool) -> None:
            if reusable:
                self._pool.give(key, live_conn)
            else:
                live_conn.close()

        if request.method == "HEAD":
            response.close()  # no body; http.client marks it done
        stream = RawResponseStream(response, release, url)
        return httpx.Response(
            status_code=response.status,
            headers=response.getheaders(),
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", READINTO_EXTENSION: stream},
            request=request,
        )

    def close(self) -> None:
        """Close idle pooled connections."""
        self._pool.close()


def _map_error(
    exc: BaseException, url: httpx.URL, *, reading: bool, request: httpx.Request | None = None
) -> httpx.TransportError:
    """Translate stdlib socket/http.client errors into httpx's exception types."""
    where = f"{url.scheme}://{url.netloc.decode('ascii')}"
    kwargs: dict[str, Any] = {"request": request} if request is not None else {}
    if isinstance(exc, httpx.TransportError):
        return exc
    if isinstance(exc, TimeoutError | socket.timeout):
        if reading:
            return httpx.ReadTimeout(f"read timed out from {where}", **kwargs)
        return httpx.ConnectTimeout(f"timed out connecting to {where}", **kwargs)
    if isinstance(exc, ssl.SSLError):
        return httpx.ConnectError(str(exc), **kwargs)
    if isinstance(exc, http.client.IncompleteRead | http.client.RemoteDisconnected):
        return httpx.RemoteProtocolError(f"connection to {where} closed early: {exc!r}", **kwargs)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(f"bad HTTP from {where}: {exc!r}", **kwargs)
    if isinstance(exc, ConnectionRefusedError):
        return httpx.ConnectError(f"connection refused by {where}", **kwargs)
    if isinstance(exc, OSError):
        if reading:
            return httpx.ReadError(f"connection to {where} failed: {exc}", **kwargs)
        return httpx.ConnectError(f"cannot connect to {where}: {exc}", **kwargs)
    return httpx.TransportError(f"{type(exc).__name__}: {exc}", **kwargs)

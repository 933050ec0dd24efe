"""An async client for one registry, speaking the OCI distribution API on httpx.

One :class:`RegistryClient` per registry: it owns an ``httpx.AsyncClient`` (connection
pooling, HTTP/1.1, redirects followed with ``Authorization`` stripped across hosts by
httpx), decides between HTTPS and plain HTTP, follows ``Link`` pagination, negotiates
manifest types and maps every failure to a typed :mod:`regtui.core.errors` exception.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import threading
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from regtui import __version__
from regtui.core.auth import AuthInfo, RegistryAuth
from regtui.core.credentials import Credential, CredentialStore
from regtui.core.errors import (
    DigestError,
    InsecureTransportError,
    InvalidReferenceError,
    ManifestError,
    NetworkError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    RegistryErrorDetail,
    RegtuiError,
    TLSError,
    printable,
    registry_error_class,
)
from regtui.core.manifest import (
    LEGACY_TYPES,
    MANIFEST_ACCEPT,
    Descriptor,
    Manifest,
    compute_digest,
    normalize_content_type,
    parse_manifest,
    schema1_payload_digest,
)
from regtui.core.reference import Registry, parse_registry, validate_digest, validate_repository
from regtui.core.transport import BlobTransport

#: Manifests larger than this are refused unread (the spec asks registries to accept 4 MB).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: Configs and other small JSON blobs read into memory are capped too.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
#: Error bodies are read only this far.
MAX_ERROR_BODY = 64 * 1024
#: distribution refuses catalog pages above 1000 entries.
DEFAULT_PAGE_SIZE = 1000
USER_AGENT = f"regtui/{__version__}"

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Network timeouts in seconds. ``read`` is the longest silence tolerated mid-transfer."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 60.0

    def to_httpx(self) -> httpx.Timeout:
        """The equivalent ``httpx.Timeout``."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


#: Longest silent wait before retrying a metadata request (blob retries are shown).
METADATA_MAX_WAIT = 10.0
#: Statuses worth retrying: rate limits and transient server trouble.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed request or transfer."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    #: Longest ``Retry-After`` honoured; a longer one is reported to the user instead.
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failure number ``attempt`` (1-based)."""
        if retry_after is not None:
            return retry_after
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return backoff * (0.75 + random.random() / 2)  # jitter: don't retry in lockstep


@dataclass(frozen=True)
class TransportOptions:
    """How to reach a registry: TLS verification, plain-HTTP permission, timeouts."""

    #: Allow plain HTTP and unverified TLS for a non-loopback registry (``--insecure``).
    insecure: bool = False
    #: A PEM bundle of extra CA certificates (``--ca-file``).
    ca_file: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context shared by the metadata client and the blob transport."""
        if self.insecure:
            return httpx.create_ssl_context(verify=False)
        context = httpx.create_ssl_context(verify=True)
        if self.ca_file:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise TLSError(f"cannot load CA file {self.ca_file}: {exc}") from None
        return context


@dataclass(frozen=True)
class PingResult:
    """What ``GET /v2/`` said."""

    status: int
    api_version: str | None
    challenge: str | None
    scheme: str


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest as received: exact bytes, their digest, and the parsed document."""

    repository: str
    reference: str
    raw: bytes
    media_type: str | None
    digest: str
    manifest: Manifest
    header_digest: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes of the document."""
        return len(self.raw)

    def descriptor(self) -> Descriptor:
        """A descriptor for this manifest (as an OCI layout's index.json wants)."""
        return Descriptor(
            media_type=self.media_type or self.manifest.media_type,
            digest=self.digest,
            size=len(self.raw),
        )


@dataclass(frozen=True)
class ManifestHead:
    """What ``HEAD`` on a manifest said."""

    digest: str | None
    media_type: str | None
    size: int | None


def is_loopback_url(url: httpx.URL) -> bool:
    """True when ``url`` points at a loopback host."""
    return parse_registry(url.netloc.decode("ascii")).is_loopback


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), capped at 1 h."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC with unknown origin zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, 3600.0))


def parse_error_body(
    body: bytes, content_type: str | None
) -> tuple[list[RegistryErrorDetail], str]:
    """The registry's ``errors`` array, and a short description when the body is not JSON."""
    if not body:
        return [], ""
    ctype = normalize_content_type(content_type) or ""
    try:
        doc = json.loads(body[:MAX_ERROR_BODY])
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("errors"), list):
        details = []
        for item in doc["errors"]:
            if isinstance(item, dict):
                details.append(
                    RegistryErrorDetail(
                        code=_one_line(str(item.get("code") or ""))[:60],
                        message=_one_line(str(item.get("message") or ""))[:200],
                        detail=item.get("detail"),
                    )
                )
        return details, ""
    if "html" in ctype or body.lstrip()[:1] == b"<":
        return [], "the server answered with an HTML page, not a registry response"
    if ctype.startswith("text/"):
        text = _one_line(body[:200].decode("utf-8", "replace"))
        return [], text
    return [], ""


def error_from_response(
    response: httpx.Response, body: bytes, host: str, has_credentials: bool = False
) -> RegistryError:
    """The typed error for a non-2xx response whose (capped) body is ``body``.

    ``has_credentials`` says whether the user's own credentials were in play, so a 401
    reads "credentials refused" only when there were some.
    """
    errors, summary = parse_error_body(body, response.headers.get("content-type"))
    url = _safe_url(response.request.url)
    status = response.status_code
    if status == 401 and not summary:
        challenge = " ".join(response.headers.get_list("www-authenticate")).lower()
        if not has_credentials:
            summary = (
                f"authentication required by {host}: no credentials found "
                "(use --username, docker login or podman login)"
            )
        elif "insufficient_scope" in challenge:
            summary = f"access denied by {host}: your credentials do not allow this"
        else:
            summary = f"authentication failed for {host}: credentials refused"
    if status == 429:
        return RateLimitedError(
            status,
            url,
            errors,
            summary,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    return registry_error_class(status)(status, url, errors, summary)


def read_error_body(response: httpx.Response) -> bytes:
    """Read at most 64 KiB of a synchronous error response, then close it."""
    body = b""
    try:
        for chunk in response.iter_raw():
            body += chunk
            if len(body) >= MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    finally:
        response.close()
    return body


def _one_line(text: str) -> str:
    return " ".join(printable(text).split())


def describe_transport_error(exc: httpx.TransportError, host: str) -> RegtuiError:
    """Turn an httpx transport failure into a one-line, typed regtui error."""
    text = _one_line(str(exc)) or type(exc).__name__
    if _cause_is(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return TLSError(
            f"TLS certificate of {host} could not be verified ({_ssl_reason(text)}); "
            "pass --ca-file FILE to trust its CA, or --insecure to skip verification"
        )
    if _cause_is(exc, ssl.SSLError) or "SSL" in text or "TLS" in text:
        if "WRONG_VERSION_NUMBER" in text or "record layer" in text or "HTTP_REQUEST" in text:
            return TLSError(
                f"{host} does not speak HTTPS (it answered plain HTTP); "
                "use --insecure if you trust this network"
            )
        return TLSError(f"TLS handshake with {host} failed: {text}")
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkError(f"timed out connecting to {host}")
    if isinstance(exc, httpx.ReadTimeout):
        return NetworkError(f"{host} stopped sending data (read timeout)")
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"timed out talking to {host}")
    if isinstance(exc, httpx.ConnectError):
        lowered = text.lower()
        if (
            _cause_is(exc, ConnectionRefusedError)
            or "refused" in lowered
            or ("all connection attempts failed" in lowered)
        ):
            return NetworkError(f"cannot connect to {host}: connection refused")
        if (
            "name or service not known" in lowered
            or "nodename nor servname" in lowered
            or ("name resolution" in lowered)
        ):
            return NetworkError(f"cannot resolve host {host}")
        return NetworkError(f"cannot connect to {host}: {text}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(f"connection to {host} broke: {text}")
    return NetworkError(f"network error talking to {host}: {text}")


def _cause_is(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when ``exc`` or anything in its cause/context chain is a ``kind``."""
    cur: BaseException | None = exc
    for _ in range(10):
        if cur is None:
            return False
        if isinstance(cur, kind):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _ssl_reason(text: str) -> str:
    for reason in (
        "self-signed certificate",
        "certificate has expired",
        "unable to get local issuer",
        "Hostname mismatch",
        "IP address mismatch",
    ):
        if reason.lower() in text.lower():
            return reason
    return "certificate verify failed"


class RegistryClient:
    """Async access to one registry.

    Use as ``async with RegistryClient("127.0.0.1:5000") as client: ...``. ``auth`` is an
    ``httpx.Auth`` (see :mod:`regtui.core.auth`); ``transport`` lets unit tests substitute
    an ``httpx.MockTransport``.
    """

    def __init__(
        self,
        registry: Registry | str,
        *,
        options: TransportOptions | None = None,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 32,
    ) -> None:
        self.registry = parse_registry(registry) if isinstance(registry, str) else registry
        self.options = options or TransportOptions()
        if self.registry.scheme == "http" and not (
            self.registry.is_loopback or self.options.insecure
        ):
            raise InsecureTransportError(
                f"plain HTTP to {self.registry.host} refused: only loopback registries may use "
                "http:// without --insecure"
            )
        self.auth = auth
        self.retry = self.options.retry
        self._ssl: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()
        self._blob_http: httpx.Client | None = None
        self._blob_http_lock = threading.Lock()
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        proxied = bool(urllib.request.getproxies())
        if transport is None and not proxied:
            # Loading the CA bundle costs ~50 ms: a plain-HTTP (loopback) registry never
            # pays it, unless a redirect leads to HTTPS storage.
            transport = _SchemeTransport(
                http=httpx.AsyncHTTPTransport(verify=_NO_TLS, limits=limits),
                https=lambda: httpx.AsyncHTTPTransport(verify=self.ssl_context, limits=limits),
            )
        self._client = httpx.AsyncClient(
            http1=True,
            http2=False,
            follow_redirects=True,
            timeout=self.options.timeouts.to_httpx(),
            # Only used when proxies from the environment need httpx's own transports.
            verify=self.ssl_context if transport is None else _NO_TLS,
            limits=limits,
            headers={"User-Agent": USER_AGENT},
            auth=auth,
            transport=transport,
            trust_env=True,
        )
        self._base: str | None = None
        self._base_lock = asyncio.Lock()

    # Lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
        if self._blob_http is not None:
            self._blob_http.close()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context (CA bundle, ``--ca-file``, ``--insecure``), made on first use."""
        with self._ssl_lock:
            if self._ssl is None:
                self._ssl = self.options.ssl_context()
            return self._ssl

    def blob_http(self) -> httpx.Client:
        """A synchronous httpx client for blob transfers in worker threads.

        It shares this client's auth (tokens), TLS context and timeouts, follows redirects
        the same way (no ``Authorization`` to another host), and moves bytes through
        :class:`~regtui.core.transport.BlobTransport`. When a proxy is configured in the
        environment, httpx's own transport is used so the proxy is honoured.
        """
        with self._blob_http_lock:
            if self._blob_http is None:
                timeouts = self.options.timeouts
                transport = None
                if not urllib.request.getproxies():
                    transport = BlobTransport(
                        ssl_context=lambda: self.ssl_context,
                        connect_timeout=timeouts.connect,
                        read_timeout=timeouts.read,
                    )
                self._blob_http = httpx.Client(
                    follow_redirects=True,
                    timeout=timeouts.to_httpx(),
                    # Only used with environment proxies (then httpx's transport is used).
                    verify=self.ssl_context if transport is None else _NO_TLS,
                    # Blob bytes are verified as stored: never let a server re-encode them.
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                    auth=self.auth,
                    transport=transport,
                    trust_env=True,
                )
            return self._blob_http

    @property
    def has_credentials(self) -> bool:
        """True when the user's own credentials (not anonymous tokens) are in use."""
        return isinstance(self.auth, RegistryAuth) and self.auth.credential is not None

    @property
    def auth_info(self) -> AuthInfo | None:
        """Credential source, scheme and granted scopes (no secrets), for display."""
        return self.auth.info if isinstance(self.auth, RegistryAuth) else None

    @property
    def http(self) -> httpx.AsyncClient:
        """The underlying httpx client (shared auth, pool and options)."""
        return self._client

    # Base URL ---------------------------------------------------------------------------------
    async def base_url(self) -> str:
        """``https://host`` or ``http://host``, decided once.

        HTTPS always, except for loopback registries and ``--insecure``, where an HTTPS
        attempt that fails at the TLS level falls back to plain HTTP (what users of a local
        ``registry:2`` expect).
        """
        if self._base is not None:
            return self._base
        async with self._base_lock:
            if self._base is None:
                self._base = await self._choose_base()
        return self._base

    async def _choose_base(self) -> str:
        host = self.registry.api_host
        if self.registry.scheme is not None:
            return f"{self.registry.scheme}://{host}"
        if not (self.registry.is_loopback or self.options.insecure):
            return f"https://{host}"
        if self.registry.is_loopback:
            # Local registries are almost always plain HTTP: ask that way first. A TLS
            # server answers a plain request with a 400 that says so (Go, nginx) or drops
            # the connection; either way it gets HTTPS.
            try:
                response = await self._client.get(
                    f"http://{host}/v2/", timeout=httpx.Timeout(5.0), auth=None
                )
                body = await _read_capped(response, MAX_ERROR_BODY, what="/v2/ answer")
            except (httpx.TransportError, RegtuiError):
                return f"https://{host}"
            if response.status_code == 400 and b"https" in body.lower():
                return f"https://{host}"
            return f"http://{host}"
        try:
            response = await self._client.get(
                f"https://{host}/v2/", timeout=httpx.Timeout(5.0), auth=None
            )
            await response.aclose()
            return f"https://{host}"
        except httpx.TransportError as exc:
            if _cause_is(exc, ssl.SSLCertVerificationError):
                # It speaks HTTPS with a certificate we don't trust: say so on first use.
                return f"https://{host}"
            # Not HTTPS (or nothing there): plain HTTP, whose errors the caller will see.
            return f"http://{host}"

    async def url(self, path: str) -> str:
        """Absolute URL of an API path such as ``/v2/_catalog``."""
        return (await self.base_url()) + path

    # Core request helpers ----------------------------------------------------------------
    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request and return the streaming response.

        Idempotent requests are retried on 429/5xx (honouring ``Retry-After``) and on
        broken or stalled connections, per :attr:`retry`; the last answer is returned
        for the caller to judge.
        """
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            request = self._client.build_request(method, url, headers=headers, params=params)
            last = attempt == policy.attempts or method not in ("GET", "HEAD")
            try:
                response = await self._client.send(request, stream=True)
            except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                if last:
                    raise describe_transport_error(exc, self.registry.host) from None
                await asyncio.sleep(policy.delay(attempt, None))
                continue
            except httpx.TransportError as exc:
                raise describe_transport_error(exc, self.registry.host) from None
            except httpx.TooManyRedirects:
                raise ProtocolError(f"too many redirects from {self.registry.host}") from None
            if response.status_code not in RETRY_STATUSES or last:
                return response
            wait = parse_retry_after(response.headers.get("retry-after"))
            # Metadata requests wait silently, so only briefly; longer advice is reported.
            if wait is not None and wait > min(policy.max_retry_after, METADATA_MAX_WAIT):
                return response
            await response.aclose()
            await asyncio.sleep(policy.delay(attempt, wait))
        raise AssertionError("unreachable")  # pragma: no cover

    async def raise_for_status(self, response: httpx.Response) -> None:
        """Raise the typed error for a non-2xx answer (reads at most 64 KiB of body)."""
        if response.is_success:
            return
        body = b""
        try:
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass
        finally:
            await response.aclose()
        raise error_from_response(response, body, self.registry.host, self.has_credentials)

    async def _get_document(
        self,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[bytes, httpx.Response]:
        """GET a small document (at most 4 MiB), retrying a body cut off mid-way."""
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            response = await self._send("GET", url, headers=headers, params=params)
            await self.raise_for_status(response)
            try:
                return await _read_capped(response, MAX_MANIFEST_BYTES, what=what), response
            except NetworkError:
                if attempt == policy.attempts:
                    raise
                await asyncio.sleep(policy.delay(attempt, None))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_json(
        self, url: str, params: Mapping[str, str] | None = None
    ) -> tuple[Any, httpx.Response]:
        body, response = await self._get_document(url, params=params, what="registry response")
        try:
            return json.loads(body), response
        except (ValueError, RecursionError):
            _, summary = parse_error_body(body, response.headers.get("content-type"))
            raise ProtocolError(
                f"{self.registry.host} sent a response that is not JSON"
                + (f" ({summary})" if summary else "")
                + f" at {_safe_url(response.request.url)}"
            ) from None

    # API: ping ---------------------------------------------------------------------------------
    async def ping(self) -> PingResult:
        """``GET /v2/``: check that this is a registry; a 401 is not an error here."""
        url = await self.url("/v2/")
        response = await self._send("GET", url)
        try:
            if response.status_code in (200, 401):
                ctype = normalize_content_type(response.headers.get("content-type")) or ""
                if response.status_code == 200 and "html" in ctype:
                    raise ProtocolError(
                        f"{self.registry.host} does not look like a registry "
                        "(it answered an HTML page at /v2/)"
                    )
                return PingResult(
                    status=response.status_code,
                    api_version=response.headers.get("docker-distribution-api-version"),
                    challenge=response.headers.get("www-authenticate"),
                    scheme=response.url.scheme,
                )
            await self.raise_for_status(response)
            raise ProtocolError(  # pragma: no cover - 2xx other than 200
                f"{self.registry.host} answered /v2/ with HTTP {response.status_code}"
            )
        finally:
            await response.aclose()

    # API: listing ------------------------------------------------------------------------------
    async def _pages(
        self,
        path: str,
        key: str,
        page_size: int | None,
        extract: Callable[[Any], list[str]],
        first_page_size: int | None = None,
    ) -> AsyncIterator[list[str]]:
        base = await self.base_url()
        url: str | None = base + path
        first = first_page_size or page_size
        params: dict[str, str] | None = {"n": str(first)} if first else None
        seen: set[str] = set()
        while url is not None:
            doc, response = await self._get_json(url, params)
            seen.add(str(response.request.url))
            if not isinstance(doc, dict):
                raise ProtocolError(f"{self.registry.host} sent an invalid {key} list")
            url = self._next_link(response)
            params = None  # the Link carries its own query
            if url is not None and page_size and first != page_size:
                # A small first page shows rows at once; then full pages, since each
                # request costs the registry about the same whatever its size.
                next_url = httpx.URL(url)
                if "n" in next_url.params:
                    url = str(next_url.copy_set_param("n", str(page_size)))
            yield extract(doc)
            if url is not None and str(httpx.URL(url)) in seen:
                raise ProtocolError(f"{self.registry.host} sent a pagination loop ({key})")

    def _next_link(self, response: httpx.Response) -> str | None:
        """The ``rel="next"`` target, resolved and refused if it leaves this registry."""
        header = response.headers.get("link")
        if not header:
            return None
        target = None
        for part in _split_link_header(header):
            url_part, _, attrs = part.partition(";")
            url_part = url_part.strip()
            if not (url_part.startswith("<") and url_part.endswith(">")):
                continue
            rels = [
                a.split("=", 1)[1].strip().strip('"').lower()
                for a in attrs.split(";")
                if a.strip().lower().startswith("rel=")
            ]
            if any("next" in r.split() for r in rels):
                target = url_part[1:-1]
                break
        if target is None:
            return None
        resolved = urljoin(str(response.request.url), target)
        here, there = urlsplit(str(response.request.url)), urlsplit(resolved)
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            raise ProtocolError(
                f"refusing a pagination Link from {self.registry.host} to another host "
                f"({there.scheme}://{there.netloc})"
            )
        return resolved

    async def catalog_pages(
        self, page_size: int | None = DEFAULT_PAGE_SIZE, *, first_page_size: int | None = None
    ) -> AsyncIterator[list[str]]:
        """Repositories, page by page (``/v2/_catalog``), following ``Link``.

        ``first_page_size`` asks for a smaller first page (a UI shows rows sooner).
        """

        def extract(doc: Any) -> list[str]:
            repos = doc.get("repositories")
            if repos is None:
                return []
            if not isinstance(repos, list) or not all(isinstance(r, str) for r in repos):
                raise ProtocolError(f"{self.registry.host} sent an invalid repository list")
            return list(repos)

        async for page in self._pages(
            "/v2/_catalog", "repository", page_size, extract, first_page_size
        ):
            yield page

    async def tag_pages(
        self, repository: str, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[list[str]]:
        """Tags of ``repository``, page by page, following ``Link``.

        ``"tags": null`` (distribution after deleting every tag) is an empty page.
        """
        validate_repository(repository)

        def extract(doc: Any) -> list[str]:
            tags = doc.get("tags")
            if tags is None:
                return []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ProtocolError(f"{self.registry.host} sent an invalid tag list")
            return list(tags)

        async for page in self._pages(f"/v2/{repository}/tags/list", "tag", page_size, extract):
            yield page

    async def list_repositories(self, page_size: int | None = DEFAULT_PAGE_SIZE) -> list[str]:
        """Every repository in the catalog (all pages)."""
        return [r async for page in self.catalog_pages(page_size) for r in page]

    async def list_tags(
        self, repository: str, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[str]:
        """Every tag of ``repository`` (all pages), in the registry's order."""
        return [t async for page in self.tag_pages(repository, page_size) for t in page]

    # API: manifests ----------------------------------------------------------------------------
    async def get_manifest(
        self, repository: str, reference: str, *, accept: str = MANIFEST_ACCEPT
    ) -> FetchedManifest:
        """GET a manifest by tag or digest; by digest, the received bytes are verified."""
        validate_repository(repository)
        if ":" in reference:
            validate_digest(reference)  # before it goes anywhere near a URL
        url = await self.url(f"/v2/{repository}/manifests/{reference}")
        raw, response = await self._get_document(url, headers={"Accept": accept}, what="manifest")
        ctype = normalize_content_type(response.headers.get("content-type")) or ""
        if "html" in ctype or raw.lstrip()[:1] == b"<":
            raise ProtocolError(
                f"{self.registry.host} answered an HTML page, not a manifest, "
                f"at {_safe_url(response.request.url)}"
            )
        content_type = response.headers.get("content-type")
        manifest = parse_manifest(raw, content_type)
        media_type = getattr(manifest, "media_type", None)
        digest = compute_digest(raw)
        if media_type in LEGACY_TYPES:
            # Signed schema 1 is identified by its JWS payload, not the (re-signed) body.
            digest = schema1_payload_digest(raw)
        if ":" in reference:
            expected = validate_digest(reference)
            algorithm = expected.split(":", 1)[0]
            actual = digest if algorithm == "sha256" else compute_digest(raw, algorithm)
            if actual != expected:
                raise DigestError(
                    f"manifest {repository}@{_short(expected)} does not match its digest "
                    f"(got {_short(actual)}): refusing it"
                )
            digest = expected
        return FetchedManifest(
            repository=repository,
            reference=reference,
            raw=raw,
            media_type=media_type,
            digest=digest,
            manifest=manifest,
            header_digest=response.headers.get("docker-content-digest"),
        )

    async def head_manifest(
        self, repository: str, reference: str, *, accept: str = MANIFEST_ACCEPT
    ) -> ManifestHead:
        """HEAD a manifest: digest and type without the body (not counted as a pull on Hub)."""
        validate_repository(repository)
        url = await self.url(f"/v2/{repository}/manifests/{reference}")
        response = await self._send("HEAD", url, headers={"Accept": accept})
        await self.raise_for_status(response)
        await response.aclose()
        length = response.headers.get("content-length")
        digest = response.headers.get("docker-content-digest")
        return ManifestHead(
            digest=digest if digest and _is_valid_digest(digest) else None,
            media_type=normalize_content_type(response.headers.get("content-type")),
            size=int(length) if length and length.isdigit() else None,
        )

    # API: blobs ---------------------------------------------------------------------------------
    async def get_blob(
        self, repository: str, descriptor: Descriptor, *, max_size: int = MAX_CONFIG_BYTES
    ) -> bytes:
        """Read a small blob (a config) into memory, verifying size and digest."""
        validate_repository(repository)
        try:
            digest = validate_digest(descriptor.digest)
        except InvalidReferenceError as exc:
            # The registry's document named it, not the user: a manifest problem.
            raise ManifestError(f"cannot verify blob: {exc}") from None
        if descriptor.size > max_size:
            raise ManifestError(
                f"blob {_short(digest)} is {descriptor.size} bytes, over the {max_size} byte limit"
            )
        policy = self.retry
        mismatches = 0
        for attempt in range(1, policy.attempts + 1):
            try:
                async with self.stream_blob(repository, digest) as response:
                    data = await _read_capped(
                        response, descriptor.size, what=f"blob {_short(digest)}", exact=True
                    )
            except NetworkError as exc:
                # A body cut off mid-way: try again, as for manifests and layers.
                if attempt == policy.attempts:
                    raise NetworkError(f"blob {_short(digest)}: {exc}") from None
                await asyncio.sleep(policy.delay(attempt, None))
                continue
            actual = compute_digest(data, digest.split(":", 1)[0])
            if len(data) == descriptor.size and actual == digest:
                return data
            mismatches += 1
            if mismatches > 1:  # corrupt twice: the registry, not the network
                raise DigestError(
                    f"blob {_short(digest)} failed verification twice "
                    f"(got {len(data)} bytes, {_short(actual)})"
                )
        raise NetworkError(f"blob {_short(digest)}: gave up after {policy.attempts} attempts")

    @asynccontextmanager
    async def stream_blob(
        self, repository: str, digest: str, *, offset: int = 0
    ) -> AsyncIterator[httpx.Response]:
        """An open streaming response for a blob, from ``offset`` via ``Range`` when > 0.

        The caller checks ``status_code`` (206 honours the range, 200 starts over) and
        reads ``aiter_raw()``; redirects to storage were followed without credentials.
        """
        validate_repository(repository)
        validate_digest(digest)
        url = await self.url(f"/v2/{repository}/blobs/{digest}")
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = await self._send("GET", url, headers=headers)
        try:
            await self.raise_for_status(response)
            yield response
        finally:
            await response.aclose()


def _split_link_header(header: str) -> list[str]:
    """Split a Link header on commas that are outside ``<...>``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in header:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _buffered(response: httpx.Response) -> AsyncIterator[bytes] | None:
    """The body of a response whose content was read before it reached us, else None."""
    if not response.is_stream_consumed:
        return None
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None

    async def chunks() -> AsyncIterator[bytes]:
        yield content

    return chunks()


async def _read_capped(
    response: httpx.Response, limit: int, *, what: str, exact: bool = False
) -> bytes:
    """Read a body of at most ``limit`` bytes; larger bodies are refused without reading on."""
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        await response.aclose()
        if exact:
            raise ManifestError(
                f"{what} is larger than its descriptor says ({length} > {limit} bytes)"
            )
        raise ManifestError(f"{what} is too large ({length} bytes, limit {limit})")
    chunks = []
    total = 0
    # Decoded bytes for documents (a proxy may gzip JSON); blobs ask for identity encoding.
    # A transport that hands over a body already read (httpx.MockTransport in tests) has
    # nothing left to stream: its content goes through the same checks.
    reader = _buffered(response) or (response.aiter_raw() if exact else response.aiter_bytes())
    try:
        async for chunk in reader:
            total += len(chunk)
            if total > limit:
                await response.aclose()
                if exact:
                    raise DigestError(f"{what} is larger than its descriptor says")
                raise ManifestError(f"{what} is too large (over {limit} bytes)")
            chunks.append(chunk)
    except httpx.TransportError as exc:
        raise describe_transport_error(exc, response.request.url.host) from None
    return b"".join(chunks)


def _is_valid_digest(value: str) -> bool:
    try:
        validate_digest(value)
    except RegtuiError:
        return False
    return True


def _short(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if hexpart else digest[:20]


def _safe_url(url: httpx.URL) -> str:
    """The URL without userinfo or query (which may hold signed-URL secrets)."""
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


class _SchemeTransport(httpx.AsyncBaseTransport):
    """Plain HTTP through one transport; HTTPS through another, built on first use."""

    def __init__(
        self, *, http: httpx.AsyncBaseTransport, https: Callable[[], httpx.AsyncBaseTransport]
    ) -> None:
        self._http = http
        self._make_https = https
        self._https: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            return await self._http.handle_async_request(request)
        if self._https is None:
            self._https = self._make_https()
        return await self._https.handle_async_request(request)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._https is not None:
            await self._https.aclose()


#: A context for transports that never speak TLS (cheap: no CA bundle is loaded).
_NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
_NO_TLS.check_hostname = False
_NO_TLS.verify_mode = ssl.CERT_NONE


def connect(
    registry: Registry | str,
    options: TransportOptions | None = None,
    *,
    credential: Credential | None = None,
    store: CredentialStore | None = None,
    repository: str = "",
) -> RegistryClient:
    """A client for ``registry`` with the credentials the user has for it.

    The one place the CLI and the TUI create clients, so both authenticate alike:
    ``credential`` when given (``--username``, the TUI login prompt), else the first match
    in the user's credential files (see :mod:`regtui.core.credentials`), else anonymous.
    Bearer tokens are fetched anonymously when no credential is known.
    """
    reg = parse_registry(registry) if isinstance(registry, str) else registry
    warnings: list[str] = []
    if credential is None:
        store = store or CredentialStore()
        credential = store.find(reg, repository)
        warnings = list(store.warnings)
    auth = RegistryAuth(reg.api_host, credential)
    auth.info.warnings = warnings
    return RegistryClient(reg, options=options, auth=auth)

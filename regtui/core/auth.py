"""Registry authentication as one ``httpx.Auth``: basic auth and the token flow.

The token flow (distribution's token spec): a request answered 401 with
``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` is retried with a token from the
realm, fetched anonymously or with the user's credentials. Tokens are cached per scope
until they expire (``expires_in``, default 60 s), refreshed when they do, and re-requested
with the challenge's scope on ``insufficient_scope``.

Why both flows are overridden: httpx's default wrappers read *every* response body when
an auth class needs one, which would buffer multi-GB blobs. Here only the token
response is read. The token cache is shared by the async client (manifests, lists) and
the blob threads, so it is guarded by a lock, and concurrent requests for one scope
fetch a single token.

Security: credentials and tokens are attached only to requests for the registry's own
origin (httpx already drops ``Authorization`` on cross-origin redirects, e.g. blobs
served from object storage); a realm that downgrades an HTTPS registry to plain HTTP is
refused, as is a realm at a loopback/private address for a public registry; basic
credentials go to a realm only over HTTPS (or loopback); no secret ever appears in an
exception message, a log line or ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from regtui.core.credentials import Credential
from regtui.core.errors import AuthenticationError, ProtocolError

#: Token responses are small; a larger one is refused unread.
MAX_TOKEN_BODY = 64 * 1024
DEFAULT_EXPIRES_IN = 60
CATALOG_SCOPE = "registry:catalog:*"
_PATH_SCOPE = re.compile(
    r"^/v2/(?P<name>.+)/(?:manifests/[^/]+|blobs/(?:uploads/[^/]*|[^/]+)|tags/list|referrers/[^/]+)$"
)


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str | None:
        """The token endpoint (Bearer) or the realm name (Basic)."""
        return self.params.get("realm")

    @property
    def scopes(self) -> list[str]:
        """Scopes named by the challenge (space separated per the spec)."""
        return [s for s in self.params.get("scope", "").split(" ") if s]


_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header values into challenges (Basic and Bearer)."""
    challenges: list[Challenge] = []
    for value in values:
        # Split on scheme tokens: "Bearer realm=…,scope=…, Basic realm=…".
        for match in re.finditer(
            r"(?P<scheme>[A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)"
            r"(?P<params>(?:[^,\"]|\"(?:[^\"\\]|\\.)*\"|,(?=\s*[A-Za-z0-9_.-]+\s*=))*)",
            value,
        ):
            params = {
                m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3) or "")
                for m in _PARAM.finditer(match.group("params"))
            }
            params = {k: v.replace('\\"', '"') for k, v in params.items()}
            challenges.append(Challenge(match.group("scheme").lower(), params))
    return challenges


def scope_for(request: httpx.Request) -> str | None:
    """The token scope a request needs: ``repository:NAME:pull`` or the catalog scope."""
    path = request.url.path
    if path.startswith("/v2/_catalog"):
        return CATALOG_SCOPE
    match = _PATH_SCOPE.match(path)
    if match:
        return f"repository:{match.group('name')}:pull"
    return None


@dataclass
class _Token:
    value: str
    expires_at: float
    scopes: tuple[str, ...]
    granted: tuple[str, ...] = ()


@dataclass
class AuthInfo:
    """What the TUI's registry info shows: never a secret."""

    source: str = "anonymous"
    scheme: str = "none"
    realm: str | None = None
    service: str | None = None
    granted: list[str] = field(default_factory=list)
    #: Problems met while looking for credentials (a missing helper...), safe to show.
    warnings: list[str] = field(default_factory=list)


def _granted_from_jwt(token: str) -> tuple[str, ...] | None:
    """The ``access`` claim of a JWT as scopes (informational only, never trusted).

    None when the token is opaque (not a JWT): then nobody can tell what it grants.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return tuple(
            f"{a.get('type')}:{a.get('name')}:{','.join(a.get('actions') or [])}"
            for a in payload.get("access") or []
            if isinstance(a, dict) and a.get("actions")
        )
    except (ValueError, TypeError, AttributeError):
        return None


def _is_private_host(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            # inet_aton takes the shorthand forms a resolver does: 127.1, 2130706433, 0x7f000001.
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return False
    return address.is_private or address.is_loopback or address.is_link_local


class RegistryAuth(httpx.Auth):
    """Basic and bearer-token auth for one registry, shared by async and threaded clients."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, host: str, credential: Credential | None = None) -> None:
        #: The registry origin's ``host[:port]`` as it appears in request URLs.
        self.host = host
        self.credential = credential
        self.info = AuthInfo(source=credential.source if credential else "anonymous")
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._lock = threading.Lock()  # guards _tokens and _basic; never held during I/O
        self._basic = False  # the registry asked for Basic: send it up front from now on
        self._async_locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self._thread_locks: dict[tuple[str, ...], threading.Lock] = {}

    # What applies to a request ---------------------------------------------------------
    def _applies(self, request: httpx.Request) -> bool:
        return request.url.netloc.decode("ascii").lower() == self.host.lower()

    def _basic_header(self) -> str | None:
        cred = self.credential
        if cred is None or not cred.has_basic:
            return None
        raw = f"{cred.username}:{cred.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _cached(self, scopes: tuple[str, ...]) -> _Token | None:
        with self._lock:
            token = self._tokens.get(scopes)
            if token is None:
                # A token for more scopes serves a request for fewer.
                for key, candidate in self._tokens.items():
                    if set(scopes) <= set(key):
                        token = candidate
                        break
            if token is not None and token.expires_at <= time.monotonic():
                return None
            return token

    def _prepare(self, request: httpx.Request) -> tuple[str, ...]:
        """Attach what we already have; return the scopes this request needs."""
        scope = scope_for(request)
        scopes = (scope,) if scope else ()
        if self.credential is not None and self.credential.registry_token:
            request.headers["Authorization"] = f"Bearer {self.credential.registry_token}"
            return scopes
        token = self._cached(scopes)
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token.value}"
        elif self._basic:
            header = self._basic_header()
            if header:
                request.headers["Authorization"] = header
        return scopes

    def _bearer_challenge(self, response: httpx.Response) -> Challenge | None:
        for challenge in parse_challenges(response.headers.get_list("www-authenticate")):
            if challenge.scheme == "bearer" and challenge.realm:
                return challenge
        return None

    def _basic_challenge(self, response: httpx.Response) -> bool:
        return any(
            c.scheme == "basic"
            for c in parse_challenges(response.headers.get_list("www-authenticate"))
        )

    def _wanted_scopes(self, challenge: Challenge, scopes: tuple[str, ...]) -> tuple[str, ...]:
        # The challenge's scope first ("some registries only look at the first scope").
        merged = list(challenge.scopes)
        merged += [s for s in scopes if s not in merged]
        return tuple(merged)

    def _token_request(
        self, original: httpx.Request, challenge: Challenge, scopes: tuple[str, ...]
    ) -> httpx.Request:
        realm = challenge.realm or ""
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AuthenticationError(
                401, _registry_url(original), summary=f"{self.host} sent an invalid token realm"
            )
        if original.url.scheme == "https" and parts.scheme != "https":
            raise AuthenticationError(
                401,
                _registry_url(original),
                summary=f"refusing token realm {parts.scheme}://{parts.netloc}: it downgrades "
                f"{self.host} from HTTPS to plain HTTP",
            )
        registry_private = _is_private_host(original.url.host)
        if not registry_private and _is_private_host(parts.hostname or ""):
            raise AuthenticationError(
                401,
                _registry_url(original),
                summary=f"refusing token realm at private address {parts.netloc} for {self.host}",
            )
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params += [("scope", s) for s in scopes]
        cred = self.credential
        headers = {"Accept": "application/json"}
        realm_secure = parts.scheme == "https" or _is_private_host(parts.hostname or "")
        if cred is not None and cred.identity_token and realm_secure:
            # OAuth2 refresh-token grant (docker identitytoken / ACR).
            form = {
                "grant_type": "refresh_token",
                "refresh_token": cred.identity_token,
                "client_id": "regtui",
                "service": challenge.params.get("service", ""),
                "scope": " ".join(scopes),
            }
            return httpx.Request("POST", realm, data=form, headers=headers)
        if cred is not None and cred.has_basic and realm_secure:
            params.append(("account", cred.username or ""))
            header = self._basic_header()
            if header:
                headers["Authorization"] = header
        # Merge: the realm may carry its own query (httpx would replace it with params=).
        return httpx.Request("GET", httpx.URL(realm).copy_merge_params(params), headers=headers)

    def _accept_token(
        self,
        original: httpx.Request,
        response: httpx.Response,
        body: bytes,
        scopes: tuple[str, ...],
    ) -> _Token:
        if response.status_code in (401, 403):
            who = "your credentials" if self.credential else "anonymous access"
            raise AuthenticationError(
                response.status_code,
                _registry_url(original),
                summary=f"authentication failed for {self.host}: the token server refused {who}",
            )
        if not response.is_success:
            raise AuthenticationError(
                response.status_code,
                _registry_url(original),
                summary=f"token server for {self.host} answered HTTP {response.status_code}",
            )
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        value = None
        if isinstance(doc, dict):
            value = doc.get("token") or doc.get("access_token")
        if not isinstance(value, str) or not value:
            raise ProtocolError(f"token server for {self.host} sent no token")
        expires_in = doc.get("expires_in") if isinstance(doc, dict) else None
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in <= 0
        ):
            expires_in = DEFAULT_EXPIRES_IN
        # Refresh a little early so a request never leaves with a token about to lapse.
        margin = min(10.0, expires_in / 4)
        granted = _granted_from_jwt(value)
        token = _Token(value, time.monotonic() + expires_in - margin, scopes, granted or ())
        with self._lock:
            self._tokens[scopes] = token
            self.info.scheme = "bearer"
            if granted is None:  # an opaque token: show what was asked for, marked as such
                granted = tuple(f"{scope} (requested)" for scope in scopes)
            self.info.granted = sorted(set(self.info.granted) | set(granted))
        return token

    def _note_challenge(self, challenge: Challenge) -> None:
        self.info.realm = challenge.realm
        self.info.service = challenge.params.get("service")

    def _drop(self, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(scopes, None)

    # Flows ----------------------------------------------------------------------------------
    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The flow used by ``httpx.AsyncClient``."""
        if not self._applies(request):
            yield request
            return
        scopes = self._prepare(request)
        response = yield request
        for _ in range(2):  # at most: fetch a token, then once more for a wider scope
            # Only the registry's own 401 counts: a redirect target (object storage) that
            # challenges must never receive the user's credentials or pick our realm.
            if response.status_code != 401 or not self._applies(response.request):
                return
            challenge = self._bearer_challenge(response)
            if challenge is None:
                if not self._use_basic(request, response):
                    return
                response = yield request
                continue
            self._note_challenge(challenge)
            wanted = self._wanted_scopes(challenge, scopes)
            sent = request.headers.get("authorization")
            lock = self._async_locks.setdefault(wanted, asyncio.Lock())
            async with lock:
                token = self._cached(wanted)
                if token is None or f"Bearer {token.value}" == sent:
                    self._drop(wanted)
                    token_request = self._token_request(request, challenge, wanted)
                    token_response = yield token_request
                    body = await _read_small(token_response)
                    token = self._accept_token(request, token_response, body, wanted)
            request.headers["Authorization"] = f"Bearer {token.value}"
            scopes = wanted
            response = yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow used by the blob threads' ``httpx.Client``."""
        if not self._applies(request):
            yield request
            return
        scopes = self._prepare(request)
        response = yield request
        for _ in range(2):
            if response.status_code != 401 or not self._applies(response.request):
                return
            challenge = self._bearer_challenge(response)
            if challenge is None:
                if not self._use_basic(request, response):
                    return
                response = yield request
                continue
            self._note_challenge(challenge)
            wanted = self._wanted_scopes(challenge, scopes)
            sent = request.headers.get("authorization")
            with self._lock:
                lock = self._thread_locks.setdefault(wanted, threading.Lock())
            with lock:
                token = self._cached(wanted)
                if token is None or f"Bearer {token.value}" == sent:
                    self._drop(wanted)
                    token_request = self._token_request(request, challenge, wanted)
                    token_response = yield token_request
                    body = _read_small_sync(token_response)
                    token = self._accept_token(request, token_response, body, wanted)
            request.headers["Authorization"] = f"Bearer {token.value}"
            scopes = wanted
            response = yield request

    def _use_basic(self, request: httpx.Request, response: httpx.Response) -> bool:
        """On a Basic challenge: attach credentials once; False when there is nothing to try."""
        header = self._basic_header()
        if header is None or not self._basic_challenge(response):
            return False
        if request.headers.get("authorization") == header:
            return False  # these credentials were just refused
        with self._lock:
            self._basic = True
            self.info.scheme = "basic"
        request.headers["Authorization"] = header
        return True


async def _read_small(response: httpx.Response) -> bytes:
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_TOKEN_BODY:
        await response.aclose()
        raise ProtocolError("token response too large")
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_TOKEN_BODY:
            await response.aclose()
            raise ProtocolError("token response too large")
    await response.aclose()
    # httpx reads every response handed to an auth flow once more when the flow ends;
    # give it the body we already read (capped) instead of a consumed stream.
    response._content = body
    return body


def _read_small_sync(response: httpx.Response) -> bytes:
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_TOKEN_BODY:
        response.close()
        raise ProtocolError("token response too large")
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_TOKEN_BODY:
            response.close()
            raise ProtocolError("token response too large")
    response.close()
    response._content = body  # see _read_small
    return body


def _registry_url(request: httpx.Request) -> str:
    return str(request.url.copy_with(query=None, fragment=None))

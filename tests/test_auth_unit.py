"""``RegistryAuth`` and ``CredentialStore`` in isolation: odd servers via ``httpx.MockTransport``.

The real token server and registry are exercised by ``test_auth_real.py``; here are the
behaviours that need a server doing something unusual (several challenges, a realm on a
private address, a token server that answers 401, a race of 20 requests), a fake clock, or
credential files in every shape. No test reads the developer's own credential files: every
``CredentialStore`` gets an explicit ``env`` and a temporary ``home``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import stat
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

import regtui.core.auth as auth_module
from regtui.core.auth import (
    CATALOG_SCOPE,
    AuthInfo,
    RegistryAuth,
    parse_challenges,
    scope_for,
)
from regtui.core.client import RegistryClient, connect
from regtui.core.credentials import (
    DOCKER_HUB_AUTH_KEY,
    Credential,
    CredentialHelperError,
    CredentialStore,
    explicit_credential,
    run_credential_helper,
)
from regtui.core.errors import AuthenticationError, ProtocolError
from regtui.core.reference import parse_reference, parse_registry

REG = "registry.example.com"
REG_URL = f"https://{REG}"
REALM = "https://auth.example.com/token"
SERVICE = "registry.example.com"
USER, PASSWORD = "carol", "pa55-Unique-s3cret"
MANIFEST = f"{REG_URL}/v2/org/app/manifests/latest"
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

#: auth.py ``_read_small`` (and ``_read_small_sync``) read the token response with
#: ``aiter_bytes``; httpx's ``_send_handling_auth`` then ``aread()``s every response it handed
#: to the flow and raises ``StreamConsumed``: every bearer-token flow fails. One marker for
#: all the tests this hides; remove it (and its uses) once fixed.


def _resp(
    status: int = 200, *, doc: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A response whose body is still unread, as a real transport returns it."""
    headers = dict(headers or {})
    content = b"" if doc is None else json.dumps(doc).encode()
    if doc is not None:
        headers.setdefault("Content-Type", "application/json")
    headers["Content-Length"] = str(len(content))
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))


def _snapshot(request: httpx.Request) -> httpx.Request:
    """A copy of ``request`` as sent: the auth flow mutates and re-sends the same object."""
    return httpx.Request(
        request.method, request.url, headers=request.headers.copy(), content=request.read()
    )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _needed_scope(path: str) -> str | None:
    """The scope the fake registry demands (its own reading of the route, greedy name)."""
    if path.startswith("/v2/_catalog"):
        return CATALOG_SCOPE
    match = re.match(r"^/v2/(?P<name>.+)/(?:manifests/[^/]+|blobs/[^/]+|tags/list)$", path)
    return f"repository:{match.group('name')}:pull" if match else None


class FakeRegistry:
    """A bearer-token registry plus its token server, as one MockTransport handler.

    Tokens are ``tok-N``; each grants exactly the scopes asked for. Registry requests
    without a token granting the route's scope get a 401 challenge for that scope.
    """

    def __init__(
        self,
        *,
        host: str = REG,
        realm: str = REALM,
        expires_in: int | None = 300,
        token_field: str = "token",
        token_status: int = 200,
        extra_challenge_params: str = "",
    ) -> None:
        self.host = host
        self.realm = realm
        self.expires_in = expires_in
        self.token_field = token_field
        self.token_status = token_status
        self.extra = extra_challenge_params
        self.requests: list[httpx.Request] = []
        self.tokens: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    @property
    def token_requests(self) -> list[httpx.Request]:
        realm_host = httpx.URL(self.realm).host
        return [r for r in self.requests if r.url.host == realm_host]

    @property
    def registry_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == self.host]

    def challenge(self, scope: str | None, error: str | None = None) -> str:
        value = f'Bearer realm="{self.realm}",service="{SERVICE}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return value + self.extra

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(_snapshot(request))
        if str(request.url).startswith(self.realm.split("?")[0]):
            return self._token(request)
        if request.url.host != self.host:
            return _resp(200, doc={"other": True})
        needed = _needed_scope(request.url.path)
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
        with self._lock:
            granted = self.tokens.get(token or "")
        if needed is None or (granted is not None and needed in granted):
            return _resp(200, doc={"ok": request.url.path})
        error = "insufficient_scope" if granted is not None else None
        return _resp(
            401,
            doc={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            headers={"WWW-Authenticate": self.challenge(needed, error)},
        )

    def _token(self, request: httpx.Request) -> httpx.Response:
        if self.token_status != 200:
            return _resp(self.token_status, doc={"details": "incorrect username or password"})
        if request.method == "POST":
            form = parse_qs(request.content.decode())
            scopes = [s for v in form.get("scope", []) for s in v.split(" ") if s]
        else:
            scopes = request.url.params.get_list("scope")
        with self._lock:
            value = f"tok-{len(self.tokens) + 1}"
            self.tokens[value] = set(scopes)
        doc: dict[str, Any] = {}
        if self.token_field in ("token", "both"):
            doc["token"] = value
        if self.token_field in ("access_token", "both"):
            doc["access_token"] = value
        if self.expires_in is not None:
            doc["expires_in"] = self.expires_in
        return _resp(200, doc=doc)


def _async_client(auth: RegistryAuth, handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(handler))


def _sync_client(auth: RegistryAuth, handler: Handler) -> httpx.Client:
    return httpx.Client(auth=auth, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


class FakeClock:
    """Stands in for ``time`` inside ``regtui.core.auth`` only (asyncio keeps the real one)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(auth_module, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


# Challenge parsing ---------------------------------------------------------------------------
def test_bearer_challenge_with_several_params() -> None:
    (challenge,) = parse_challenges(
        [
            'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
            'scope="repository:org/app:pull,push",error="insufficient_scope"'
        ]
    )
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example.com/token"
    assert challenge.params["service"] == "registry.example.com"
    assert challenge.params["error"] == "insufficient_scope"
    # The comma inside the quoted scope belongs to the scope, not the parameter list.
    assert challenge.scopes == ["repository:org/app:pull,push"]


def test_bearer_challenge_with_two_scopes() -> None:
    (challenge,) = parse_challenges(
        ['Bearer realm="https://a.example/token",scope="repository:a:pull repository:b:pull"']
    )
    assert challenge.scopes == ["repository:a:pull", "repository:b:pull"]


def test_basic_challenge() -> None:
    (challenge,) = parse_challenges(['Basic realm="regtui-lab"'])
    assert (challenge.scheme, challenge.realm) == ("basic", "regtui-lab")


def test_several_challenges_in_one_header_and_across_headers() -> None:
    challenges = parse_challenges(
        [
            'Bearer realm="https://auth.example.com/token",service="svc", Basic realm="lab"',
            'Basic realm="second header"',
        ]
    )
    assert [(c.scheme, c.realm) for c in challenges] == [
        ("bearer", "https://auth.example.com/token"),
        ("basic", "lab"),
        ("basic", "second header"),
    ]
    assert challenges[0].params["service"] == "svc"


def test_unquoted_values_and_case_insensitive_names() -> None:
    (challenge,) = parse_challenges(
        [
            "BEARER Realm=https://auth.example.com/token,Service=registry.example.com,"
            "scope=repository:org/app:pull"
        ]
    )
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example.com/token"
    assert challenge.params["service"] == "registry.example.com"
    assert challenge.scopes == ["repository:org/app:pull"]


def test_escaped_quotes_and_spaces_after_commas() -> None:
    (challenge,) = parse_challenges(['Basic realm="the \\"lab\\" realm", charset="UTF-8"'])
    assert challenge.realm == 'the "lab" realm'
    assert challenge.params["charset"] == "UTF-8"


async def test_bearer_is_chosen_when_offered_after_basic() -> None:
    fake = FakeRegistry()

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = (
                'Basic realm="lab", ' + response.headers["WWW-Authenticate"]
            )
        return response

    async with _async_client(RegistryAuth(REG), handler) as client:
        response = await client.get(MANIFEST)
    assert response.status_code == 200
    assert len(fake.token_requests) == 1


# scope_for ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/v2/_catalog", CATALOG_SCOPE),
        ("/v2/_catalog?n=100&last=a", CATALOG_SCOPE),
        ("/v2/org/app/manifests/latest", "repository:org/app:pull"),
        ("/v2/app/manifests/sha256:" + "a" * 64, "repository:app:pull"),
        ("/v2/a/b/c/blobs/sha256:" + "b" * 64, "repository:a/b/c:pull"),
        ("/v2/org/app/tags/list", "repository:org/app:pull"),
        ("/v2/org/app/referrers/sha256:" + "c" * 64, "repository:org/app:pull"),
        ("/v2/", None),
    ],
)
def test_scope_for(path: str, scope: str | None) -> None:
    assert scope_for(httpx.Request("GET", f"{REG_URL}{path}")) == scope


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v2/team/tags/app/manifests/latest", "team/tags/app"),
        ("/v2/team/blobs/app/tags/list", "team/blobs/app"),
    ],
)
def test_scope_for_names_with_route_words(path: str, name: str) -> None:
    assert scope_for(httpx.Request("GET", f"{REG_URL}{path}")) == f"repository:{name}:pull"


# Token cache -------------------------------------------------------------------------------
async def test_token_is_cached_per_scope_and_reused() -> None:
    fake = FakeRegistry()
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        for path in ("manifests/latest", "manifests/1.0", "blobs/sha256:" + "a" * 64):
            assert (await client.get(f"{REG_URL}/v2/org/app/{path}")).status_code == 200
        assert (await client.get(f"{REG_URL}/v2/org/other/manifests/1")).status_code == 200
    scopes = [r.url.params.get_list("scope") for r in fake.token_requests]
    assert scopes == [["repository:org/app:pull"], ["repository:org/other:pull"]]
    # After the first challenge, org/app requests carry the token up front: one 401 only.
    statuses = [
        "401" if "authorization" not in r.headers else "auth" for r in fake.registry_requests
    ]
    assert statuses == ["401", "auth", "auth", "auth", "401", "auth"]


async def test_catalog_uses_the_catalog_scope() -> None:
    fake = FakeRegistry()
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        assert (await client.get(f"{REG_URL}/v2/_catalog?n=10")).status_code == 200
    (token_request,) = fake.token_requests
    assert token_request.url.params.get_list("scope") == [CATALOG_SCOPE]
    assert token_request.url.params["service"] == SERVICE


async def test_token_request_keeps_the_realm_query() -> None:
    fake = FakeRegistry(realm="https://auth.example.com/token?tenant=acme")
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        assert (await client.get(MANIFEST)).status_code == 200
    (token_request,) = fake.token_requests
    assert token_request.url.params["tenant"] == "acme"
    assert token_request.url.params["scope"] == "repository:org/app:pull"


async def test_expires_in_defaults_to_60_seconds(clock: FakeClock) -> None:
    fake = FakeRegistry(expires_in=None)
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        await client.get(MANIFEST)
        clock.now += 30
        await client.get(MANIFEST)
        assert len(fake.token_requests) == 1  # still fresh at 30 s
        clock.now += 31
        response = await client.get(MANIFEST)
    assert response.status_code == 200
    assert len(fake.token_requests) == 2  # 61 s: past the 60 s default
    assert fake.registry_requests[-1].headers["authorization"] == "Bearer tok-2"


async def test_expires_in_is_honoured_both_ways(clock: FakeClock) -> None:
    fake = FakeRegistry(expires_in=600)
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        await client.get(MANIFEST)
        clock.now += 300  # past the default, within expires_in
        await client.get(MANIFEST)
        assert len(fake.token_requests) == 1
        fake.expires_in = 5
        clock.now += 301
        await client.get(MANIFEST)
        assert len(fake.token_requests) == 2
        clock.now += 6
        await client.get(MANIFEST)
    assert len(fake.token_requests) == 3


def test_sync_flow_refreshes_after_expiry(clock: FakeClock) -> None:
    fake = FakeRegistry(expires_in=10)
    with _sync_client(RegistryAuth(REG), fake.handle) as client:
        assert client.get(MANIFEST).status_code == 200
        clock.now += 11
        assert client.get(MANIFEST).status_code == 200
    assert len(fake.token_requests) == 2
    # The refreshed token is sent up front, not after another 401 round trip.
    assert fake.registry_requests[-1].headers["authorization"] == "Bearer tok-2"
    assert [r.headers.get("authorization") for r in fake.registry_requests] == [
        None,
        "Bearer tok-1",
        None,
        "Bearer tok-2",
    ]


async def test_token_rejected_by_registry_is_replaced() -> None:
    fake = FakeRegistry()
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        await client.get(MANIFEST)
        fake.tokens.clear()  # the registry forgets every token (e.g. its key rotated)
        response = await client.get(MANIFEST)
    assert response.status_code == 200
    assert len(fake.token_requests) == 2


@pytest.mark.parametrize("token_field", ["access_token", "both"])
async def test_access_token_field_is_accepted(token_field: str) -> None:
    fake = FakeRegistry(token_field=token_field)
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        assert (await client.get(MANIFEST)).status_code == 200


async def test_token_response_without_a_token_is_a_protocol_error() -> None:
    fake = FakeRegistry(token_field="neither")
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        with pytest.raises(ProtocolError, match="sent no token"):
            await client.get(MANIFEST)


async def test_insufficient_scope_gets_a_token_with_the_challenge_scope() -> None:
    fake = FakeRegistry()
    wide = "repository:org/app:pull repository:org/base:pull"

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        header = request.headers.get("authorization", "")
        # This route needs two scopes (a cross-repository read): the first token is short.
        if request.url.host == REG and response.status_code == 200 and header:
            granted = fake.tokens[header.split(" ", 1)[1]]
            if not set(wide.split(" ")) <= granted:
                return _resp(
                    401,
                    headers={"WWW-Authenticate": fake.challenge(wide, "insufficient_scope")},
                )
        return response

    async with _async_client(RegistryAuth(REG), handler) as client:
        response = await client.get(MANIFEST)
    assert response.status_code == 200
    first, second = (r.url.params.get_list("scope") for r in fake.token_requests)
    assert first == ["repository:org/app:pull"]
    assert second[:2] == wide.split(" ")  # the challenge's scopes first
    assert fake.registry_requests[-1].headers["authorization"] == "Bearer tok-2"


# Realm safety --------------------------------------------------------------------------------
async def test_https_registry_refuses_a_plain_http_realm() -> None:
    fake = FakeRegistry(realm="http://auth.example.com/token")
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, fake.handle) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get(MANIFEST)
    assert "downgrades" in str(caught.value)
    assert REG in str(caught.value)
    assert fake.token_requests == []


@pytest.mark.parametrize(
    "realm",
    [
        "https://127.0.0.1/token",
        "https://10.1.2.3:8443/token",
        "https://192.168.1.10/token",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/token",
        "https://localhost/token",
    ],
)
async def test_private_realm_of_a_public_registry_is_refused(realm: str) -> None:
    fake = FakeRegistry(realm=realm)
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        with pytest.raises(AuthenticationError, match="private address"):
            await client.get(MANIFEST)
    assert fake.token_requests == []


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001"])
async def test_private_realm_in_shorthand_ipv4_is_refused(host: str) -> None:
    fake = FakeRegistry(realm=f"https://{host}/token")
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        with pytest.raises(AuthenticationError, match="private address"):
            await client.get(MANIFEST)


async def test_loopback_registry_may_use_a_loopback_realm() -> None:
    # A registry on loopback with its token server beside it (the test lab, a dev box).
    host = "127.0.0.1:5000"
    realm = "http://127.0.0.1:5001/token"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_snapshot(request))
        if request.url.port == 5001:
            return _resp(200, doc={"token": "tok-local"})
        if request.headers.get("authorization") == "Bearer tok-local":
            return _resp(200, doc={})
        return _resp(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})

    auth = RegistryAuth(host, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, handler) as client:
        response = await client.get(f"http://{host}/v2/org/app/manifests/1")
    assert response.status_code == 200
    # Loopback counts as a safe channel: the user's credentials go to the local realm.
    assert seen[1].headers["authorization"] == _basic(USER, PASSWORD)


@pytest.mark.parametrize(
    "credential",
    [
        explicit_credential(USER, PASSWORD),
        Credential("config.json", identity_token="idtok-Unique-s3cret"),
    ],
    ids=["basic", "identitytoken"],
)
async def test_secrets_never_go_to_a_plain_http_realm(credential: Credential) -> None:
    # A plain-HTTP registry on a remote host (the user passed --insecure): its realm is
    # plain HTTP too, so no downgrade, but the secret would cross the network in clear.
    host = "registry.internal:5000"
    fake = FakeRegistry(host="registry.internal", realm="http://auth.internal/token")
    auth = RegistryAuth(host, credential)
    async with _async_client(auth, fake.handle) as client:
        response = await client.get(f"http://{host}/v2/org/app/manifests/1")
    assert response.status_code == 200  # an anonymous token still works
    (token_request,) = fake.token_requests
    assert token_request.method == "GET"
    assert "authorization" not in token_request.headers
    assert "account" not in token_request.url.params
    wire = str(token_request.url) + token_request.content.decode()
    assert PASSWORD not in wire and "idtok-Unique-s3cret" not in wire


async def test_basic_credentials_go_to_an_https_realm() -> None:
    fake = FakeRegistry()
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, fake.handle) as client:
        assert (await client.get(MANIFEST)).status_code == 200
    (token_request,) = fake.token_requests
    assert token_request.headers["authorization"] == _basic(USER, PASSWORD)
    assert token_request.url.params["account"] == USER
    assert auth.info.source == "--username"
    assert auth.info.scheme == "bearer"
    assert auth.info.realm == REALM
    assert auth.info.service == SERVICE
    # An opaque (non-JWT) token: what it grants is unknown, so the scope shows as asked for.
    assert "repository:org/app:pull (requested)" in auth.info.granted


@pytest.mark.parametrize("status", [401, 403])
async def test_token_server_refusal_is_an_authentication_error_without_secrets(
    status: int,
) -> None:
    fake = FakeRegistry(token_status=status)
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, fake.handle) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get(MANIFEST)
    error = caught.value
    assert f"authentication failed for {REG}" in str(error)
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for text in (str(error), repr(error), *map(str, error.args)):
        assert PASSWORD not in text
        assert encoded not in text
    assert "\n" not in str(error)


async def test_token_server_failure_names_the_status() -> None:
    fake = FakeRegistry(token_status=503)
    async with _async_client(RegistryAuth(REG), fake.handle) as client:
        with pytest.raises(AuthenticationError, match="HTTP 503"):
            await client.get(MANIFEST)


async def test_oversized_token_response_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            return _resp(200, doc={"token": "x" * (128 * 1024)})
        return _resp(401, headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})

    async with _async_client(RegistryAuth(REG), handler) as client:
        with pytest.raises(ProtocolError, match="too large"):
            await client.get(MANIFEST)


# Basic auth -------------------------------------------------------------------------------------
def _basic_registry(seen: list[httpx.Request], password: str = PASSWORD) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_snapshot(request))
        if request.url.host != REG:
            return _resp(200, doc={"elsewhere": True})
        if request.headers.get("authorization") == _basic(USER, password):
            return _resp(200, doc={})
        return _resp(401, headers={"WWW-Authenticate": 'Basic realm="lab"'})

    return handler


async def test_basic_auth_answers_the_challenge_then_goes_up_front() -> None:
    seen: list[httpx.Request] = []
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, _basic_registry(seen)) as client:
        assert (await client.get(MANIFEST)).status_code == 200
        assert (await client.get(f"{REG_URL}/v2/_catalog")).status_code == 200
    assert [r.headers.get("authorization") for r in seen] == [
        None,
        _basic(USER, PASSWORD),
        _basic(USER, PASSWORD),
    ]
    assert auth.info.scheme == "basic"


async def test_refused_basic_credentials_are_not_retried_forever() -> None:
    seen: list[httpx.Request] = []
    auth = RegistryAuth(REG, explicit_credential(USER, "wrong"))
    async with _async_client(auth, _basic_registry(seen)) as client:
        response = await client.get(MANIFEST)
    assert response.status_code == 401
    assert len(seen) == 2


async def test_basic_challenge_without_credentials_is_left_to_the_caller() -> None:
    seen: list[httpx.Request] = []
    async with _async_client(RegistryAuth(REG), _basic_registry(seen)) as client:
        response = await client.get(MANIFEST)
    assert response.status_code == 401
    assert len(seen) == 1


# Concurrency -----------------------------------------------------------------------------------
async def test_concurrent_async_requests_for_one_scope_fetch_one_token() -> None:
    fake = FakeRegistry()
    count = 20
    arrived = 0
    all_challenged = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        if request.url.host == "auth.example.com":
            await asyncio.sleep(0.02)  # a token server that takes a moment
        elif "authorization" not in request.headers:
            # Hold every first attempt until all 20 are in: they all get their 401 together.
            arrived += 1
            if arrived == count:
                all_challenged.set()
            await asyncio.wait_for(all_challenged.wait(), timeout=5)
        return fake.handle(request)

    async with _async_client(RegistryAuth(REG), handler) as client:
        responses = await asyncio.gather(
            *(client.get(f"{REG_URL}/v2/org/app/blobs/sha256:{i:064x}") for i in range(count))
        )
    assert [r.status_code for r in responses] == [200] * count
    assert len(fake.token_requests) == 1


def test_concurrent_threads_for_one_scope_fetch_one_token() -> None:
    fake = FakeRegistry()
    count = 8
    barrier = threading.Barrier(count, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            time.sleep(0.05)
        elif "authorization" not in request.headers:
            barrier.wait()  # every thread has its 401 before any token exists
        return fake.handle(request)

    results: list[int] = []
    errors: list[BaseException] = []
    with _sync_client(RegistryAuth(REG), handler) as client:

        def fetch(i: int) -> None:
            try:
                results.append(
                    client.get(f"{REG_URL}/v2/org/app/blobs/sha256:{i:064x}").status_code
                )
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    if errors:
        raise errors[0]
    assert results == [200] * count
    assert len(fake.token_requests) == 1


async def test_async_and_thread_clients_share_the_token_cache() -> None:
    fake = FakeRegistry()
    auth = RegistryAuth(REG)
    async with _async_client(auth, fake.handle) as client:
        await client.get(MANIFEST)
    with _sync_client(auth, fake.handle) as sync_client:
        assert sync_client.get(f"{REG_URL}/v2/org/app/blobs/sha256:{1:064x}").status_code == 200
    assert len(fake.token_requests) == 1


# Credentials stay with their registry ---------------------------------------------------------
@pytest.mark.parametrize(
    "other",
    [
        "https://storage.example.net/blob",
        f"https://{REG}:8443/v2/org/app/manifests/latest",
        "https://registry.example.com.evil.test/v2/",
    ],
)
async def test_credentials_only_go_to_the_registry_origin(other: str) -> None:
    seen: list[httpx.Request] = []
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, _basic_registry(seen)) as client:
        await client.get(MANIFEST)  # the registry asked for Basic: it now goes up front
        await client.get(other)
    assert seen[-1].url == httpx.URL(other)
    assert "authorization" not in seen[-1].headers


def _storage_redirect(fake: FakeRegistry, storage: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.example.net":
            storage.append(_snapshot(request))
            return _resp(200, doc={"blob": True})
        response = fake.handle(request)
        if response.status_code == 200 and "/blobs/" in request.url.path:
            return _resp(307, headers={"Location": "https://storage.example.net/b?sig=x"})
        return response

    return handler


BLOB_URL = f"{REG_URL}/v2/org/app/blobs/sha256:{7:064x}"


async def test_blob_redirect_to_storage_carries_no_credentials_async() -> None:
    fake, storage = FakeRegistry(), []
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    transport = httpx.MockTransport(_storage_redirect(fake, storage))
    async with httpx.AsyncClient(auth=auth, transport=transport, follow_redirects=True) as client:
        response = await client.get(BLOB_URL)
    assert response.status_code == 200
    assert len(storage) == 1
    assert "authorization" not in storage[0].headers
    assert fake.registry_requests[-1].headers["authorization"].startswith("Bearer tok-")


def test_blob_redirect_to_storage_carries_no_credentials_sync() -> None:
    fake, storage = FakeRegistry(), []
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    transport = httpx.MockTransport(_storage_redirect(fake, storage))
    with httpx.Client(auth=auth, transport=transport, follow_redirects=True) as client:
        response = client.get(BLOB_URL)
    assert response.status_code == 200
    assert len(storage) == 1
    assert "authorization" not in storage[0].headers
    assert fake.registry_requests[-1].headers["authorization"].startswith("Bearer tok-")


async def test_challenge_from_a_redirect_target_gets_no_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_snapshot(request))
        if request.url.host == REG:
            return _resp(307, headers={"Location": "https://storage.example.net/b?sig=x"})
        if request.url.host == "storage.example.net":
            challenge = 'Bearer realm="https://collector.example.net/token",service="x"'
            return _resp(401, headers={"WWW-Authenticate": challenge})
        return _resp(200, doc={"token": "stolen"})

    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with httpx.AsyncClient(
        auth=auth, transport=httpx.MockTransport(handler), follow_redirects=True
    ) as client:
        await client.get(f"{REG_URL}/v2/org/app/blobs/sha256:{7:064x}")
    leaked = [r for r in seen if r.url.host == "collector.example.net"]
    assert leaked == []


async def test_registry_client_redirects_without_credentials() -> None:
    """The same through ``RegistryClient.stream_blob`` (what inspect and the TUI use)."""
    fake = FakeRegistry()
    storage: list[httpx.Request] = []
    data = b"config bytes"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.example.net":
            storage.append(_snapshot(request))
            return httpx.Response(200, stream=httpx.ByteStream(data))
        response = fake.handle(request)
        if response.status_code == 200 and "/blobs/" in request.url.path:
            return _resp(307, headers={"Location": "https://storage.example.net/b"})
        return response

    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    client = RegistryClient(REG_URL, auth=auth, transport=httpx.MockTransport(handler))
    async with client, client.stream_blob("org/app", f"sha256:{3:064x}") as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    assert body == data
    assert "authorization" not in storage[0].headers
    assert client.auth_info is not None and client.auth_info.scheme == "bearer"


# Secrets in reprs ------------------------------------------------------------------------------
def test_credential_repr_and_str_hide_secrets() -> None:
    secrets = ("pw-Unique-1", "idtok-Unique-2", "regtok-Unique-3")
    credentials = [
        Credential("config.json", "dave", secrets[0]),
        Credential("config.json", "dave", identity_token=secrets[1]),
        Credential("config.json", registry_token=secrets[2]),
        explicit_credential("dave", secrets[0]),
    ]
    for credential in credentials:
        for text in (repr(credential), str(credential), f"{credential!s}", f"{credential!r}"):
            for secret in secrets:
                assert secret not in text
    assert str(credentials[0]) == "user dave from config.json"
    assert "dave" in repr(credentials[0])


async def test_auth_info_holds_no_token() -> None:
    fake = FakeRegistry()
    auth = RegistryAuth(REG, explicit_credential(USER, PASSWORD))
    async with _async_client(auth, fake.handle) as client:
        await client.get(MANIFEST)
    assert isinstance(auth.info, AuthInfo)
    text = repr(auth.info) + str(vars(auth.info))
    assert "tok-1" not in text and PASSWORD not in text


# Credential files ------------------------------------------------------------------------------
def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _store(home: Path, env: dict[str, str] | None = None, **kwargs: Any) -> CredentialStore:
    return CredentialStore(env=env or {}, home=home, **kwargs)


def _no_helper(name: str, server: str) -> None:
    raise AssertionError(f"no helper should run (asked {name} for {server})")


def test_nothing_found_in_an_empty_home(home: Path) -> None:
    store = _store(home, helper=_no_helper)
    assert store.find(parse_registry("ghcr.io"), "org/app") is None
    assert store.warnings == []


def test_docker_config_in_home_and_in_docker_config_dir(home: Path, tmp_path: Path) -> None:
    _write(home / ".docker/config.json", {"auths": {"ghcr.io": {"auth": _b64("h", "hp")}}})
    found = _store(home).find(parse_registry("ghcr.io"))
    assert found is not None and (found.username, found.password) == ("h", "hp")
    assert found.source == "~/.docker/config.json (auths)"
    other = _write(tmp_path / "dc/config.json", {"auths": {"ghcr.io": {"auth": _b64("d", "dp")}}})
    found = _store(home, {"DOCKER_CONFIG": str(other.parent)}).find(parse_registry("ghcr.io"))
    assert found is not None and (found.username, found.password) == ("d", "dp")


def test_docker_hub_key_in_docker_config(home: Path) -> None:
    _write(
        home / ".docker/config.json",
        {"auths": {DOCKER_HUB_AUTH_KEY: {"auth": _b64("hubuser", "hub:pw:with:colons")}}},
    )
    store = _store(home)
    hub = parse_reference("alpine").registry
    found = store.find(hub, "library/alpine")
    assert found is not None
    assert (found.username, found.password) == ("hubuser", "hub:pw:with:colons")
    # Hub's key is not a wildcard for other registries.
    assert store.find(parse_registry("ghcr.io")) is None
    assert store.find(parse_registry("index.docker.io.example.com")) is None


def test_docker_hub_key_in_podman_auth_json(home: Path) -> None:
    _write(
        home / ".config/containers/auth.json",
        {"auths": {"docker.io": {"auth": _b64("pod", "podpw")}}},
    )
    found = _store(home).find(parse_registry("docker.io"), "library/alpine")
    assert found is not None and found.username == "pod"


def test_docker_config_key_forms(home: Path) -> None:
    _write(
        home / ".docker/config.json",
        {"auths": {"https://quay.io/v2/": {"auth": _b64("q", "qp")}}},
    )
    found = _store(home).find(parse_registry("quay.io"))
    assert found is not None and found.username == "q"


def test_identitytoken_and_registrytoken_entries(home: Path) -> None:
    _write(
        home / ".docker/config.json",
        {
            "auths": {
                "acr.example.io": {
                    "auth": _b64("00000000-0000-0000-0000-000000000000", ""),
                    "identitytoken": "refresh-xyz",
                },
                "tok.example.io": {"registrytoken": "bearer-abc"},
            }
        },
    )
    store = _store(home)
    identity = store.find(parse_registry("acr.example.io"))
    assert identity is not None and identity.identity_token == "refresh-xyz"
    assert identity.password is None
    registry_token = store.find(parse_registry("tok.example.io"))
    assert registry_token is not None and registry_token.registry_token == "bearer-abc"


async def test_identitytoken_uses_the_oauth2_refresh_grant() -> None:
    fake = FakeRegistry(token_field="access_token")
    credential = Credential("config.json", username="<token>", identity_token="refresh-xyz")
    async with _async_client(RegistryAuth(REG, credential), fake.handle) as client:
        assert (await client.get(MANIFEST)).status_code == 200
    (token_request,) = fake.token_requests
    assert token_request.method == "POST"
    form = parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["refresh-xyz"]
    assert form["service"] == [SERVICE]
    assert form["scope"] == ["repository:org/app:pull"]
    assert form["client_id"] == ["regtui"]
    assert "refresh-xyz" not in str(token_request.url)
    assert "authorization" not in token_request.headers


async def test_registrytoken_is_sent_as_the_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_snapshot(request))
        if request.headers.get("authorization") == "Bearer bearer-abc":
            return _resp(200, doc={})
        return _resp(401, headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})

    credential = Credential("config.json", registry_token="bearer-abc")
    async with _async_client(RegistryAuth(REG, credential), handler) as client:
        assert (await client.get(MANIFEST)).status_code == 200
        assert (await client.get(f"{REG_URL}/v2/_catalog")).status_code == 200
    assert [r.url.host for r in seen] == [REG, REG]  # no token server round trip


def test_source_order(home: Path, tmp_path: Path) -> None:
    registry = parse_registry("ghcr.io")
    auth_file = _write(tmp_path / "auth.json", {"auths": {"ghcr.io": {"auth": _b64("f", "fp")}}})
    _write(home / ".docker/config.json", {"auths": {"ghcr.io": {"auth": _b64("d", "dp")}}})
    _write(home / ".config/containers/auth.json", {"auths": {"ghcr.io": {"auth": _b64("p", "pp")}}})
    env = {"REGTUI_USERNAME": "e", "REGTUI_PASSWORD": "ep", "REGISTRY_AUTH_FILE": str(auth_file)}
    users = []
    for drop in ("REGTUI_USERNAME", "REGISTRY_AUTH_FILE", "docker", None):
        found = _store(home, env).find(registry)
        assert found is not None
        users.append(found.username)
        if drop == "docker":
            (home / ".docker/config.json").unlink()
        elif drop:
            env.pop(drop)
    assert users == ["e", "f", "d", "p"]


def test_regtui_username_without_password_is_ignored(home: Path) -> None:
    assert _store(home, {"REGTUI_USERNAME": "e"}).find(parse_registry("ghcr.io")) is None


def test_podman_paths_runtime_dir_first_and_namespaces(home: Path, tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    _write(
        runtime / "containers/auth.json",
        {
            "auths": {
                "quay.io": {"auth": _b64("host", "hp")},
                "quay.io/org": {"auth": _b64("org", "op")},
                "quay.io/org/app": {"auth": _b64("repo", "rp")},
            }
        },
    )
    _write(
        tmp_path / "cfg/containers/auth.json",
        {"auths": {"quay.io": {"auth": _b64("config-home", "cp")}}},
    )
    env = {"XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    store = _store(home, env)
    quay = parse_registry("quay.io")

    def who(repository: str) -> str | None:
        found = store.find(quay, repository)
        return found.username if found else None

    assert who("org/app") == "repo"
    assert who("org/app2") == "org"
    assert who("org/app/sub") == "repo"
    assert who("other/x") == "host"
    assert who("") == "host"
    (runtime / "containers/auth.json").unlink()
    assert who("org/app") == "config-home"


def test_cred_helpers_before_auths_and_creds_store_last(home: Path) -> None:
    asked: list[tuple[str, str]] = []

    def helper(name: str, server: str) -> dict[str, str] | None:
        asked.append((name, server))
        if name == "ecr":
            return {"Username": "AWS", "Secret": "ecr-pw"}
        if name == "desktop" and server == "other.example.io":
            return {"Username": "<token>", "Secret": "desktop-refresh"}
        return None

    _write(
        home / ".docker/config.json",
        {
            "credHelpers": {"ecr.example.io": "ecr"},
            "credsStore": "desktop",
            "auths": {"ecr.example.io": {"auth": _b64("stale", "x")}},
        },
    )
    store = _store(home, helper=helper)
    ecr = store.find(parse_registry("ecr.example.io"))
    assert ecr is not None and (ecr.username, ecr.password) == ("AWS", "ecr-pw")
    assert ecr.source.startswith("docker-credential-ecr")
    other = store.find(parse_registry("other.example.io"))
    assert other is not None and other.identity_token == "desktop-refresh"
    assert store.find(parse_registry("unknown.example.io")) is None
    assert asked == [
        ("ecr", "ecr.example.io"),
        ("desktop", "other.example.io"),
        ("desktop", "unknown.example.io"),
    ]


def test_docker_hub_helper_is_asked_for_the_hub_key(home: Path) -> None:
    asked: list[str] = []

    def helper(name: str, server: str) -> dict[str, str]:
        asked.append(server)
        return {"Username": "hub", "Secret": "hubpw"}

    _write(home / ".docker/config.json", {"credsStore": "desktop"})
    assert _store(home, helper=helper).find(parse_registry("docker.io")) is not None
    assert asked == [DOCKER_HUB_AUTH_KEY]


def _helper_script(directory: Path, name: str, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_missing_helper_warns_and_falls_through(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    _write(
        home / ".docker/config.json",
        {
            "credHelpers": {"ghcr.io": "nothere"},
            "auths": {"ghcr.io": {"auth": _b64("fallback", "fp")}},
        },
    )
    store = _store(home)
    found = store.find(parse_registry("ghcr.io"))
    assert found is not None and found.username == "fallback"
    assert len(store.warnings) == 1
    assert "docker-credential-nothere" in store.warnings[0]
    assert "not installed" in store.warnings[0]


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("echo 'boom: keychain locked secret-in-stderr' >&2; exit 3", "exited with status 3"),
        ("echo 'this is not json'", "other than JSON"),
    ],
    ids=["fails", "garbage"],
)
def test_failing_helper_warns_without_its_output_and_falls_through(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, expect: str
) -> None:
    _helper_script(tmp_path / "bin", "bad", "cat >/dev/null\n" + body + "\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    _write(
        home / ".docker/config.json",
        {"credsStore": "bad"},
    )
    _write(
        home / ".config/containers/auth.json",
        {"auths": {"ghcr.io": {"auth": _b64("podman", "pp")}}},
    )
    store = _store(home)
    found = store.find(parse_registry("ghcr.io"))
    assert found is not None and found.username == "podman"
    assert len(store.warnings) == 1
    assert expect in store.warnings[0]
    assert "secret-in-stderr" not in store.warnings[0]


def test_helper_not_found_answer_is_silent(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _helper_script(
        tmp_path / "bin",
        "store",
        'read -r server\necho "credentials not found in native keychain"\nexit 1\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert run_credential_helper("store", "ghcr.io") is None


def test_helper_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "asked"
    _helper_script(
        tmp_path / "bin",
        "fake",
        f'echo "$1 $(cat)" > "{log}"\n'
        'printf \'{"ServerURL":"ghcr.io","Username":"hu","Secret":"hs"}\'\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert run_credential_helper("fake", "ghcr.io") == {
        "ServerURL": "ghcr.io",
        "Username": "hu",
        "Secret": "hs",
    }
    assert log.read_text().strip() == "get ghcr.io"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(CredentialHelperError, match="not installed"):
        run_credential_helper("fake", "ghcr.io")


def test_malformed_docker_config_is_ignored_with_a_warning(home: Path) -> None:
    _write(home / ".docker/config.json", '{"auths": {"ghcr.io": ')
    _write(
        home / ".config/containers/auth.json",
        {"auths": {"ghcr.io": {"auth": _b64("podman", "pp")}}},
    )
    store = _store(home, helper=_no_helper)
    found = store.find(parse_registry("ghcr.io"))
    assert found is not None and found.username == "podman"
    assert len(store.warnings) == 1
    assert "config.json" in store.warnings[0] and "not valid JSON" in store.warnings[0]


def test_malformed_registry_auth_file_is_ignored_with_a_warning(home: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path / "auth.json", "not json at all")
    _write(home / ".docker/config.json", {"auths": {"ghcr.io": {"auth": _b64("d", "dp")}}})
    store = _store(home, {"REGISTRY_AUTH_FILE": str(bad)})
    found = store.find(parse_registry("ghcr.io"))
    assert found is not None and found.username == "d"
    assert any(str(bad) in w for w in store.warnings)


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"auths": []},
        {"auths": {"ghcr.io": "x"}},
        {"auths": {"ghcr.io": {"auth": "%%% not base64"}}},
        {"auths": {"ghcr.io": {"auth": base64.b64encode(b"no-colon").decode()}}},
        {"auths": {"ghcr.io": {"auth": base64.b64encode(b"\xff\xfe:x").decode()}}},
        {"credHelpers": ["ghcr.io"], "credsStore": 7},
    ],
)
def test_malformed_entries_are_skipped(home: Path, doc: Any) -> None:
    _write(home / ".docker/config.json", doc)
    _write(
        home / ".config/containers/auth.json",
        {"auths": {"ghcr.io": {"auth": _b64("podman", "pp")}}},
    )
    found = _store(home, helper=_no_helper).find(parse_registry("ghcr.io"))
    assert found is not None and found.username == "podman"


def test_unreadable_config_is_a_warning(home: Path) -> None:
    # A directory where the file should be: unreadable even for root (CI runs as root).
    (home / ".docker" / "config.json").mkdir(parents=True)
    store = _store(home)
    assert store.find(parse_registry("ghcr.io")) is None
    assert any("cannot read" in w for w in store.warnings)


async def test_connect_uses_the_store_for_the_repository(home: Path, tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    _write(
        runtime / "containers/auth.json",
        {"auths": {"quay.io/org/app": {"auth": _b64("repo", "rp")}}},
    )
    store = _store(home, {"XDG_RUNTIME_DIR": str(runtime)})
    client = connect("quay.io", store=store, repository="org/app")
    assert client.auth_info is not None
    assert client.auth_info.source.endswith("(quay.io/org/app)")
    anonymous = connect("quay.io", store=store, repository="other/app")
    assert anonymous.auth_info is not None and anonymous.auth_info.source == "anonymous"
    explicit = connect("quay.io", store=store, credential=explicit_credential("u", "p"))
    assert explicit.auth_info is not None and explicit.auth_info.source == "--username"
    for each in (client, anonymous, explicit):
        await each.aclose()

"""A test token server for CNCF distribution's ``auth: token`` mode.

It implements the two token endpoints of distribution's token spec
(``docs/spec/auth/token.md`` and ``oauth.md``) on ``127.0.0.1`` (stdlib ``http.server`` in a
background thread, free port):

* ``GET /token?service=S&scope=T:N:A[&scope=…][&account=U][&offline_token=true]``,
  anonymous or with ``Authorization: Basic``; answers ``{"token": JWT, "expires_in": N,
  "issued_at": …}`` (``token``, ``access_token`` or both, see ``token_field``), plus a
  ``refresh_token`` when ``offline_token=true`` and the caller authenticated.
* ``POST /token`` with a form: ``grant_type=refresh_token`` (``refresh_token``, ``service``,
  ``scope`` space separated, ``client_id``) or ``grant_type=password`` (``username``,
  ``password``); answers ``{"access_token": JWT, "expires_in": N, "scope": …}``.

Tokens are JWTs signed ES256 with a fresh P-256 key; the ``x5c`` header holds a self-signed
certificate for that key, which :meth:`TokenServer.registry_config` names as the registry's
``rootcertbundle``. distribution 2.8 (``registry/auth/token/token.go``) checks ``iss``
against ``issuer``, ``aud`` against ``service``, ``exp``/``nbf`` with a 60 s leeway, the
``x5c`` chain against the root bundle and the signature (raw ``r||s`` for ES256); the
access check compares the requested ``type:name:action`` with the ``access`` claim
(``*`` grants every action).

Scopes are enforced by a :class:`Rule` list: a request gets, per requested scope, the
requested actions that some matching rule allows (possibly none: the token is still
issued, with a smaller ``access`` claim, as the reference token servers do; the registry
then answers 401 ``insufficient_scope``). A wrong password or unknown user is a 401 from
the token server itself. Every request is recorded as a :class:`TokenRequest` (path,
scopes, whether ``Authorization`` was present, who authenticated, what was granted),
never with a secret.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

DEFAULT_SERVICE = "regtui-test-registry"
DEFAULT_ISSUER = "regtui-test-token-issuer"
ALICE, ALICE_PASSWORD = "alice", "alice-s3cret-pw"
BOB, BOB_PASSWORD = "bob", "bob-s3cret-pw"

#: ``Rule.who`` values besides a user name.
ANONYMOUS = "anonymous"  # everyone, with or without credentials
AUTHENTICATED = "authenticated"  # any user whose password (or refresh token) checked out

TokenField = Literal["token", "access_token", "both"]


@dataclass(frozen=True)
class Rule:
    """``who`` may do ``actions`` on resources of ``type`` whose name matches ``name`` (glob)."""

    who: str
    type: str
    name: str
    actions: tuple[str, ...]

    def allows(self, account: str | None, rtype: str, name: str) -> bool:
        """Whether this rule applies to ``account`` (None: anonymous) and the resource."""
        if self.who == AUTHENTICATED and account is None:
            return False
        if self.who not in (ANONYMOUS, AUTHENTICATED) and self.who != account:
            return False
        return self.type == rtype and fnmatch.fnmatchcase(name, self.name)


def pull(who: str, name: str) -> Rule:
    """``who`` may pull repositories matching ``name``."""
    return Rule(who, "repository", name, ("pull",))


def catalog(who: str) -> Rule:
    """``who`` may list the catalog (``registry:catalog:*``)."""
    return Rule(who, "registry", "catalog", ("*",))


#: Anonymous may pull ``public/*``; alice may pull everything and list the catalog;
#: bob may pull ``a/*`` only.
DEFAULT_RULES: tuple[Rule, ...] = (
    pull(ANONYMOUS, "public/*"),
    pull(ALICE, "*"),
    catalog(ALICE),
    pull(BOB, "a/*"),
)
DEFAULT_USERS = {ALICE: ALICE_PASSWORD, BOB: BOB_PASSWORD}


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered (no secrets: no password, token or header)."""

    method: str
    path: str
    grant_type: str | None  # None for the GET endpoint
    service: str | None
    scopes: tuple[str, ...]
    account: str | None  # the ``account`` parameter, as sent
    had_authorization: bool  # an ``Authorization`` header was present
    user: str | None  # who authenticated (None: anonymous or refused)
    status: int
    granted: tuple[str, ...]  # "type:name:action,action" per granted resource
    at: float  # time.monotonic() when answered


def parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``repository:a/b:pull,push`` → ``("repository", "a/b", ("pull", "push"))``."""
    rtype, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and rtype and name):
        return None
    return rtype, name, tuple(a for a in actions.split(",") if a)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT, for assertions in tests."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class TokenServer:
    """A distribution token server on ``127.0.0.1`` (see the module docstring).

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``expires_in`` and
    ``token_field`` may be changed between requests.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        rules: Iterable[Rule] = DEFAULT_RULES,
        users: dict[str, str] | None = None,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
        expires_in: int = 300,
        token_field: TokenField = "token",
        send_expires_in: bool = True,
    ) -> None:
        self.workdir = workdir
        self.rules = tuple(rules)
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.token_field: TokenField = token_field
        self.send_expires_in = send_expires_in
        self._records: list[TokenRequest] = []
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert = _self_signed(self._key, issuer)
        self._x5c = base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()
        workdir.mkdir(parents=True, exist_ok=True)
        self.rootcertbundle = workdir / "token-root.crt"
        self.rootcertbundle.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ------------------------------------------------------------------------------
    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent, bounded)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Addresses and registry configuration -----------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self._server is not None, "start() the token server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def realm(self) -> str:
        """The token endpoint (``…/token``)."""
        return self.url + "/token"

    def registry_config(self) -> dict[str, Any]:
        """``extra_config`` for ``registry_factory``: ``auth.token`` pointing here."""
        return {
            "auth": {
                "token": {
                    "realm": self.realm,
                    "service": self.service,
                    "issuer": self.issuer,
                    "rootcertbundle": str(self.rootcertbundle),
                }
            }
        }

    # Records ------------------------------------------------------------------------------
    @property
    def requests(self) -> list[TokenRequest]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._records)

    def token_requests(self, scope: str | None = None) -> list[TokenRequest]:
        """Successful token issues, optionally only those that asked for ``scope``."""
        return [
            r for r in self.requests if r.status == 200 and (scope is None or scope in r.scopes)
        ]

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._records.clear()

    def _record(self, record: TokenRequest) -> None:
        with self._lock:
            self._records.append(record)

    # Tokens ------------------------------------------------------------------------------------
    def issue_refresh_token(self, user: str) -> str:
        """A refresh token for ``user`` (what ``docker login`` stores as ``identitytoken``)."""
        token = "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh_tokens[token] = user
        return token

    def grant(self, user: str | None, scopes: Sequence[str]) -> list[dict[str, Any]]:
        """The ``access`` claim for ``user`` asking for ``scopes`` under the rules."""
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, wanted = parsed
            allowed: set[str] = set()
            for rule in self.rules:
                if rule.allows(user, rtype, name):
                    allowed.update(wanted if "*" in rule.actions else rule.actions)
            actions = [a for a in wanted if a in allowed]
            if actions:
                access.append({"type": rtype, "name": name, "actions": actions})
        return access

    def mint(
        self,
        user: str | None,
        access: list[dict[str, Any]],
        *,
        audience: str | None = None,
        expires_in: int | None = None,
    ) -> str:
        """A signed JWT with these claims (also usable directly, e.g. as a registrytoken)."""
        now = time.time()
        lifetime = self.expires_in if expires_in is None else expires_in
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service if audience is None else audience,
            # distribution 2.8 parses these as int64: whole seconds only. exp is rounded up
            # so a client that refreshes by expires_in never holds an expired token.
            "exp": math.ceil(now + lifetime),
            "nbf": int(now) - 1,
            "iat": int(now),
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + _b64url(signature)

    def seeder_auth(self) -> httpx.Auth:
        """An ``httpx.Auth`` with every right, for ``seed_image(..., auth=...)``.

        It answers the registry's challenge with a token minted here directly (no HTTP
        request, nothing recorded), so seeding never shows up in a test's token counts.
        """
        return _SeederAuth(self)

    def _token_body(
        self, jwt: str, *, oauth: bool, refresh_token: str | None, scopes: Sequence[str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        field_name = "access_token" if oauth else self.token_field
        if field_name in ("token", "both"):
            body["token"] = jwt
        if field_name in ("access_token", "both"):
            body["access_token"] = jwt
        if self.send_expires_in:
            body["expires_in"] = self.expires_in
        body["issued_at"] = datetime.datetime.now(datetime.UTC).isoformat()
        if oauth:
            body["scope"] = " ".join(scopes)
        if refresh_token:
            body["refresh_token"] = refresh_token
        return body


class _SeederAuth(httpx.Auth):
    def __init__(self, server: TokenServer) -> None:
        self.server = server

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        response = yield request
        if response.status_code != 401:
            return
        match = re.search(r'scope="([^"]*)"', response.headers.get("www-authenticate", ""))
        access = []
        for scope in (match.group(1) if match else "").split(" "):
            parsed = parse_scope(scope)
            if parsed:
                access.append({"type": parsed[0], "name": parsed[1], "actions": list(parsed[2])})
        token = self.server.mint("seeder", access)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _self_signed(key: ec.EllipticCurvePrivateKey, issuer: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the records are the log

        # GET /token ------------------------------------------------------------------------
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path != "/token":
                self._send(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            scopes = tuple(s for value in query.get("scope", []) for s in value.split(" ") if s)
            service = (query.get("service") or [None])[0]
            account = (query.get("account") or [None])[0]
            header = self.headers.get("Authorization")
            user: str | None = None
            status = 200
            if header is not None:
                user = self._basic_user(header)
                if user is None:
                    status = 401
            granted: list[dict[str, Any]] = []
            reply: tuple[int, Any, dict[str, str] | None]
            if status == 200:
                granted = server.grant(user, scopes)
                refresh = None
                if user and (query.get("offline_token") or [""])[0] == "true":
                    refresh = server.issue_refresh_token(user)
                jwt = server.mint(user, granted, audience=service or "")
                body = server._token_body(jwt, oauth=False, refresh_token=refresh, scopes=scopes)
                reply = (200, body, None)
            else:
                reply = (
                    401,
                    {"details": "incorrect username or password"},
                    {"WWW-Authenticate": 'Basic realm="regtui-test-token-server"'},
                )
            # Recorded before the answer leaves, so a client never outruns the record.
            self._log(
                "GET", parts.path, None, service, scopes, account, header, user, status, granted
            )
            self._send(*reply)

        # POST /token (OAuth2) ------------------------------------------------------------------
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            if parts.path != "/token":
                self._send(404, {"errors": [{"code": "NOT_FOUND"}]})
                return

            def one(name: str) -> str | None:
                values = form.get(name)
                return values[0] if values else None

            grant_type = one("grant_type")
            service = one("service")
            scopes = tuple(s for s in (one("scope") or "").split(" ") if s)
            user: str | None = None
            refresh: str | None = None
            if grant_type == "refresh_token":
                with server._lock:
                    user = server._refresh_tokens.get(one("refresh_token") or "")
            elif grant_type == "password":
                name, password = one("username"), one("password")
                if name is not None and server.users.get(name) == password:
                    user = name
                    if one("access_type") == "offline":
                        refresh = server.issue_refresh_token(name)
            granted: list[dict[str, Any]] = []
            reply: tuple[int, Any]
            if user is None:
                status = 401 if grant_type in ("refresh_token", "password") else 400
                reply = (status, {"error": "invalid_grant"})
            else:
                status = 200
                granted = server.grant(user, scopes)
                jwt = server.mint(user, granted, audience=service or "")
                reply = (
                    200,
                    server._token_body(jwt, oauth=True, refresh_token=refresh, scopes=scopes),
                )
            self._log(
                "POST",
                parts.path,
                grant_type,
                service,
                scopes,
                one("username"),
                self.headers.get("Authorization"),
                user,
                status,
                granted,
            )
            self._send(*reply)

        # helpers ---------------------------------------------------------------------------
        def _basic_user(self, header: str) -> str | None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return None
            name, sep, password = decoded.partition(":")
            if sep and name in server.users and server.users[name] == password:
                return name
            return None

        def _send(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _log(
            self,
            method: str,
            path: str,
            grant_type: str | None,
            service: str | None,
            scopes: tuple[str, ...],
            account: str | None,
            header: str | None,
            user: str | None,
            status: int,
            granted: list[dict[str, Any]],
        ) -> None:
            server._record(
                TokenRequest(
                    method=method,
                    path=path,
                    grant_type=grant_type,
                    service=service,
                    scopes=scopes,
                    account=account,
                    had_authorization=header is not None,
                    user=user,
                    status=status,
                    granted=tuple(
                        f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in granted
                    ),
                    at=time.monotonic(),
                )
            )

    return Handler

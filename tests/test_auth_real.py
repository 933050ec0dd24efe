"""Authentication against the real CNCF distribution registry, through the ``regtui`` CLI.

* htpasswd Basic auth, with credentials from every place users keep them: docker
  ``config.json`` (``$DOCKER_CONFIG``), containers ``auth.json`` (``$REGISTRY_AUTH_FILE`` and
  ``$XDG_RUNTIME_DIR/containers/auth.json`` with namespaced keys), a credential helper
  executable on ``PATH`` (``credHelpers`` and ``credsStore``), ``REGTUI_USERNAME`` /
  ``REGTUI_PASSWORD`` and ``-u … --password-stdin``; wrong and missing credentials.
* ``auth: token`` with the test token server (``support.token_server``) enforcing scopes:
  anonymous pull of a public repository, per-repository scope, the catalog scope, a token
  that expires during a long (throttled) download, ``access_token``-only answers, the
  OAuth2 refresh-token grant (``identitytoken``) and a ready ``registrytoken``.
* A blob redirect to another origin (``127.0.0.2``) carries no credentials.

The CLI runs as a subprocess with a controlled environment: ``HOME``, ``XDG_*`` and
``DOCKER_CONFIG`` point into ``tmp_path``, so the developer's own credential files are
never read, and nothing of the parent's environment but ``PATH`` is passed on.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.images import SeededImage, blob_path, build_image
from support.registry import (
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    RunningRegistry,
    htpasswd_config,
    start_registry,
)
from support.seed import seed_image
from support.token_server import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TokenServer,
    decode_jwt_claims,
)

from regtui.core.client import connect
from regtui.core.credentials import explicit_credential
from regtui.core.pull import Puller
from regtui.core.reference import parse_reference

ROOT = Path(__file__).parent.parent
CLI_TIMEOUT = 60

#: auth.py's ``_read_small``/``_read_small_sync`` read the token response with
#: ``aiter_bytes``/``iter_bytes``; httpx then calls ``aread()``/``read()`` on every response
#: handed to an auth flow and raises ``httpx.StreamConsumed``: every bearer-token flow fails.


# ---------------------------------------------------------------------------------------------
# The CLI in a controlled environment


def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@dataclass
class Cli:
    """Runs ``python -m regtui`` with ``HOME``/``XDG_*`` in a temp dir and ``bin`` on PATH."""

    home: Path
    bin: Path

    def env(self, extra: dict[str, str | None] | None = None) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_RUNTIME_DIR": str(self.home / "run"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name, value in (extra or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def run(
        self, *args: str, env: dict[str, str | None] | None = None, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "regtui", *args],
            cwd=ROOT,
            env=self.env(env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    def docker_config(self, doc: Any, directory: Path | None = None) -> Path:
        """Write ``config.json`` (in ``~/.docker`` unless ``directory``); returns its dir."""
        directory = directory or self.home / ".docker"
        _write_json(directory / "config.json", doc)
        return directory

    def helper(self, name: str, answers: dict[str, tuple[str, str]]) -> Path:
        """A ``docker-credential-NAME`` script on PATH; returns the log of what it was asked."""
        log = self.bin / f"{name}.log"
        cases = ""
        for server, (user, secret) in answers.items():
            answer = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
            cases += f"  \"{server}\") printf '%s' '{answer}' ;;\n"
        script = (
            "#!/bin/sh\n"
            'server="$(cat)"\n'
            f'echo "$1 $server" >> "{log}"\n'
            '[ "$1" = get ] || exit 1\n'
            'case "$server" in\n'
            f"{cases}"
            '  *) echo "credentials not found in native keychain"; exit 1 ;;\n'
            "esac\n"
        )
        path = self.bin / f"docker-credential-{name}"
        path.write_text(script)
        path.chmod(0o755)
        return log


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home, bindir = tmp_path / "home", tmp_path / "bin"
    for directory in (home / "run", home / ".config", bindir):
        directory.mkdir(parents=True)
    return Cli(home=home, bin=bindir)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return proc.stdout


def _error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``regtui: error: …`` line of a failed command (exit 1)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr}"
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("regtui: error: "), lines[0]
    assert "internal error" not in lines[0]
    return lines[0]


def _assert_no_secret(proc: subprocess.CompletedProcess[str], user: str, password: str) -> None:
    output = proc.stdout + proc.stderr
    assert password not in output
    assert _b64(user, password) not in output


def _assert_pulled(layout: Path, image: SeededImage) -> None:
    """The layout names the image's manifest, and every blob is there with its digest."""
    index = json.loads((layout / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [image.digest]
    (manifest,) = image.manifests.values()
    for digest in (manifest.digest, manifest.config_digest, *(x.digest for x in manifest.layers)):
        data = blob_path(layout, digest).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest


# ---------------------------------------------------------------------------------------------
# The basic-auth lab: one htpasswd registry per module, seeded once (read-only for tests)


@dataclass
class BasicLab:
    registry: RunningRegistry
    image: SeededImage  # ns/repo:v1
    other: SeededImage  # other/app:v1

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture(scope="module")
def basic_lab(
    real_registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BasicLab]:
    workdir = tmp_path_factory.mktemp("basic-lab")
    with start_registry(
        workdir / "registry", extra_config=htpasswd_config(workdir / "auth")
    ) as running:
        image = build_image(workdir / "img-ns", repo="ns/repo", tag="v1", layer_sizes=(1024, 4096))
        other = build_image(workdir / "img-other", repo="other/app", tag="v1", layer_sizes=(512,))
        for each in (image, other):
            seed_image(running, each, auth=(HTPASSWD_USER, HTPASSWD_PASSWORD))
        yield BasicLab(running, image, other)


WRONG_PASSWORD = "wr0ng-Pa55-xyzzy"


def test_docker_config_json_serves_ls_inspect_and_pull(
    basic_lab: BasicLab, cli: Cli, tmp_path: Path
) -> None:
    host = basic_lab.host
    # ~/.docker holds wrong credentials: $DOCKER_CONFIG must take precedence over it.
    cli.docker_config({"auths": {host: {"auth": _b64(HTPASSWD_USER, WRONG_PASSWORD)}}})
    config_dir = cli.docker_config(
        {"auths": {host: {"auth": _b64(HTPASSWD_USER, HTPASSWD_PASSWORD)}}}, tmp_path / "dc"
    )
    env: dict[str, str | None] = {"DOCKER_CONFIG": str(config_dir)}

    assert _ok(cli.run("ls", host, env=env)).split() == ["ns/repo", "other/app"]
    assert basic_lab.image.digest in _ok(cli.run("inspect", f"{host}/ns/repo:v1", env=env))
    dest = tmp_path / "pulled"
    out = _ok(cli.run("pull", "-q", "-o", str(dest), f"{host}/ns/repo:v1", env=env))
    assert out.strip() == f"oci:{dest}:v1"
    _assert_pulled(dest, basic_lab.image)


def test_registry_auth_file(basic_lab: BasicLab, cli: Cli, tmp_path: Path) -> None:
    auth_file = _write_json(
        tmp_path / "elsewhere/auth.json",
        {"auths": {basic_lab.host: {"auth": _b64(HTPASSWD_USER, HTPASSWD_PASSWORD)}}},
    )
    proc = cli.run("ls", f"{basic_lab.host}/ns/repo", env={"REGISTRY_AUTH_FILE": str(auth_file)})
    assert _ok(proc).split() == ["v1"]


def test_runtime_auth_json_namespaced_key_beats_the_host_key(basic_lab: BasicLab, cli: Cli) -> None:
    host = basic_lab.host
    _write_json(
        cli.home / "run/containers/auth.json",
        {
            "auths": {
                host: {"auth": _b64(HTPASSWD_USER, WRONG_PASSWORD)},
                f"{host}/ns/repo": {"auth": _b64(HTPASSWD_USER, HTPASSWD_PASSWORD)},
            }
        },
    )
    assert basic_lab.image.digest in _ok(cli.run("inspect", f"{host}/ns/repo:v1"))
    # Another repository falls back to the host key, whose password is wrong.
    refused = cli.run("inspect", f"{host}/other/app:v1")
    assert f"authentication failed for {host}" in _error_line(refused)
    _assert_no_secret(refused, HTPASSWD_USER, WRONG_PASSWORD)


@pytest.mark.parametrize("via", ["credHelpers", "credsStore"])
def test_credential_helper_on_path(basic_lab: BasicLab, cli: Cli, via: str) -> None:
    host = basic_lab.host
    log = cli.helper("fake", {host: (HTPASSWD_USER, HTPASSWD_PASSWORD)})
    if via == "credHelpers":
        cli.docker_config({"credHelpers": {host: "fake"}})
    else:
        cli.docker_config({"credsStore": "fake", "auths": {}})
    assert basic_lab.image.digest in _ok(cli.run("inspect", f"{host}/ns/repo:v1"))
    assert log.read_text().splitlines() == [f"get {host}"]


def test_missing_helper_falls_through_to_auths(basic_lab: BasicLab, cli: Cli) -> None:
    host = basic_lab.host
    cli.docker_config(
        {
            "credHelpers": {host: "nothere"},
            "auths": {host: {"auth": _b64(HTPASSWD_USER, HTPASSWD_PASSWORD)}},
        }
    )
    assert _ok(cli.run("ls", f"{host}/ns/repo")).split() == ["v1"]


def test_missing_helper_is_reported(basic_lab: BasicLab, cli: Cli) -> None:
    host = basic_lab.host
    cli.docker_config({"credsStore": "nothere"})
    proc = cli.run("ls", host)
    assert proc.returncode == 1
    assert "docker-credential-nothere" in proc.stderr


def test_regtui_username_and_password_env(basic_lab: BasicLab, cli: Cli) -> None:
    env: dict[str, str | None] = {
        "REGTUI_USERNAME": HTPASSWD_USER,
        "REGTUI_PASSWORD": HTPASSWD_PASSWORD,
    }
    assert _ok(cli.run("ls", f"{basic_lab.host}/ns/repo", env=env)).split() == ["v1"]


def test_username_with_password_stdin_beats_credential_files(basic_lab: BasicLab, cli: Cli) -> None:
    host = basic_lab.host
    cli.docker_config({"auths": {host: {"auth": _b64(HTPASSWD_USER, WRONG_PASSWORD)}}})
    proc = cli.run(
        "ls", host, "-u", HTPASSWD_USER, "--password-stdin", stdin=HTPASSWD_PASSWORD + "\n"
    )
    assert _ok(proc).split() == ["ns/repo", "other/app"]


@pytest.mark.parametrize("source", ["password-stdin", "env", "docker-config"])
def test_wrong_credentials_fail_without_showing_the_password(
    basic_lab: BasicLab, cli: Cli, source: str
) -> None:
    host = basic_lab.host
    args = ["inspect", f"{host}/ns/repo:v1"]
    env: dict[str, str | None] = {}
    stdin = ""
    if source == "password-stdin":
        args += ["-u", HTPASSWD_USER, "--password-stdin"]
        stdin = WRONG_PASSWORD + "\n"
    elif source == "env":
        env = {"REGTUI_USERNAME": HTPASSWD_USER, "REGTUI_PASSWORD": WRONG_PASSWORD}
    else:
        cli.docker_config({"auths": {host: {"auth": _b64(HTPASSWD_USER, WRONG_PASSWORD)}}})
    proc = cli.run(*args, env=env, stdin=stdin)
    line = _error_line(proc)
    assert f"authentication failed for {host}" in line
    _assert_no_secret(proc, HTPASSWD_USER, WRONG_PASSWORD)
    assert proc.stdout == ""


def test_no_credentials_says_authentication_is_required(basic_lab: BasicLab, cli: Cli) -> None:
    host = basic_lab.host
    line = _error_line(cli.run("ls", host))
    assert f"authentication required by {host}" in line
    assert "failed" not in line


# ---------------------------------------------------------------------------------------------
# The token-auth lab: the token server and a registry trusting it, seeded once per module


@dataclass
class TokenLab:
    server: TokenServer
    registry: RunningRegistry
    images: dict[str, SeededImage]  # repo -> image ("public/app", "a/app", "b/app")

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture(scope="module")
def token_lab_module(
    real_registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TokenLab]:
    workdir = tmp_path_factory.mktemp("token-lab")
    with (
        TokenServer(workdir / "token-server") as server,
        start_registry(workdir / "registry", extra_config=server.registry_config()) as running,
    ):
        images = {}
        for n, repo in enumerate(("public/app", "a/app", "b/app")):
            image = build_image(
                workdir / f"img-{n}", repo=repo, tag="v1", layer_sizes=(1024, 2048), seed=n
            )
            seed_image(running, image, auth=server.seeder_auth())
            images[repo] = image
        yield TokenLab(server, running, images)


@pytest.fixture
def token_lab(token_lab_module: TokenLab) -> Iterator[TokenLab]:
    """The module's token lab with default server settings and no recorded requests."""
    server = token_lab_module.server
    server.expires_in, server.token_field = 300, "token"
    server.clear()
    yield token_lab_module
    server.expires_in, server.token_field = 300, "token"


def test_anonymous_pull_of_a_public_repository(
    token_lab: TokenLab, cli: Cli, tmp_path: Path
) -> None:
    dest = tmp_path / "public"
    _ok(cli.run("pull", "-q", "-o", str(dest), f"{token_lab.host}/public/app:v1"))
    _assert_pulled(dest, token_lab.images["public/app"])
    requests = token_lab.server.requests
    assert requests, "the registry's challenge never reached the token server"
    assert not any(r.had_authorization or r.user for r in requests)
    assert all(r.scopes == ("repository:public/app:pull",) for r in requests)
    assert all(r.granted == ("repository:public/app:pull",) for r in requests)


def test_anonymous_pull_of_a_private_repository_fails_clearly(
    token_lab: TokenLab, cli: Cli, tmp_path: Path
) -> None:
    host = token_lab.host
    proc = cli.run("pull", "-q", "-o", str(tmp_path / "private"), f"{host}/a/app:v1")
    line = _error_line(proc)
    assert f"authentication required by {host}" in line
    assert "credentials refused" not in line
    assert not (tmp_path / "private/index.json").exists()


def test_scope_is_per_repository(token_lab: TokenLab, cli: Cli) -> None:
    host = token_lab.host
    login = ["-u", BOB, "--password-stdin"]
    allowed = cli.run("inspect", f"{host}/a/app:v1", *login, stdin=BOB_PASSWORD)
    assert token_lab.images["a/app"].digest in _ok(allowed)
    denied = cli.run("inspect", f"{host}/b/app:v1", *login, stdin=BOB_PASSWORD)
    line = _error_line(denied)
    assert host in line and "b/app" in line
    _assert_no_secret(denied, BOB, BOB_PASSWORD)
    for_b = token_lab.server.token_requests("repository:b/app:pull")
    assert for_b and all(r.user == BOB and r.granted == () for r in for_b)


def test_denied_repository_is_not_reported_as_wrong_credentials(
    token_lab: TokenLab, cli: Cli
) -> None:
    host = token_lab.host
    denied = cli.run(
        "inspect", f"{host}/b/app:v1", "-u", BOB, "--password-stdin", stdin=BOB_PASSWORD
    )
    line = _error_line(denied)
    assert "credentials refused" not in line
    assert "authentication failed" not in line


def test_catalog_needs_the_catalog_scope(token_lab: TokenLab, cli: Cli) -> None:
    host = token_lab.host
    listed = cli.run("ls", host, "-u", ALICE, "--password-stdin", stdin=ALICE_PASSWORD)
    assert _ok(listed).split() == ["a/app", "b/app", "public/app"]
    (catalog,) = token_lab.server.token_requests("registry:catalog:*")
    assert (catalog.user, catalog.granted) == (ALICE, ("registry:catalog:*",))
    refused = cli.run("ls", host, "-u", BOB, "--password-stdin", stdin=BOB_PASSWORD)
    assert host in _error_line(refused)
    assert refused.stdout == ""


def test_token_server_refuses_a_wrong_password(token_lab: TokenLab, cli: Cli) -> None:
    host = token_lab.host
    proc = cli.run(
        "inspect", f"{host}/a/app:v1", "-u", ALICE, "--password-stdin", stdin=WRONG_PASSWORD
    )
    assert f"authentication failed for {host}" in _error_line(proc)
    _assert_no_secret(proc, ALICE, WRONG_PASSWORD)
    assert [r.status for r in token_lab.server.requests] == [401]


def test_access_token_only_answers_work(token_lab: TokenLab, cli: Cli, tmp_path: Path) -> None:
    token_lab.server.token_field = "access_token"
    dest = tmp_path / "a"
    login = ["-u", ALICE, "--password-stdin"]
    _ok(
        cli.run(
            "pull",
            "-q",
            "-o",
            str(dest),
            f"{token_lab.host}/a/app:v1",
            *login,
            stdin=ALICE_PASSWORD,
        )
    )
    _assert_pulled(dest, token_lab.images["a/app"])
    assert token_lab.server.token_requests()


def test_identitytoken_uses_the_refresh_token_grant(token_lab: TokenLab, cli: Cli) -> None:
    host = token_lab.host
    refresh = token_lab.server.issue_refresh_token(ALICE)
    cli.docker_config({"auths": {host: {"auth": "", "identitytoken": refresh}}})
    proc = cli.run("inspect", f"{host}/b/app:v1")
    assert token_lab.images["b/app"].digest in _ok(proc)
    assert refresh not in proc.stdout + proc.stderr
    grants = token_lab.server.token_requests("repository:b/app:pull")
    assert grants and all(
        (r.method, r.grant_type, r.user) == ("POST", "refresh_token", ALICE) for r in grants
    )


def test_registrytoken_is_used_as_is(token_lab: TokenLab, cli: Cli) -> None:
    host = token_lab.host
    token = token_lab.server.mint(
        ALICE, [{"type": "repository", "name": "a/app", "actions": ["pull"]}]
    )
    cli.docker_config({"auths": {host: {"registrytoken": token}}})
    assert token_lab.images["a/app"].digest in _ok(cli.run("inspect", f"{host}/a/app:v1"))
    assert token_lab.server.requests == []


# ---------------------------------------------------------------------------------------------
# A proxy in front of the registry: throttles blobs, or redirects them to another origin


@dataclass(frozen=True)
class Seen:
    """One request as a server saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    at: float = field(default_factory=time.time)

    @property
    def bearer_claims(self) -> dict[str, Any] | None:
        value = self.headers.get("authorization", "")
        if not value.startswith("Bearer "):
            return None
        try:
            return decode_jwt_claims(value[len("Bearer ") :])
        except (ValueError, IndexError):
            return None


_BLOB_PATH = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Server:
    """A ThreadingHTTPServer in a daemon thread, stopped by ``stop()``."""

    def __init__(self, address: str, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer((address, 0), handler)
        self.httpd.daemon_threads = True
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def host(self) -> str:
        address, port = self.httpd.server_address[:2]
        return f"{address}:{port}"

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Storage(_Server):
    """Object storage on 127.0.0.2: serves blobs the proxy put here, records every request."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        storage = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                digest = self.path.split("?")[0].rsplit("/", 1)[-1]
                data = storage.blobs.get(digest)
                status = 200 if data is not None else 404
                headers = {k.lower(): v for k, v in self.headers.items()}
                storage.record(Seen("GET", self.path, headers, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

        super().__init__("127.0.0.2", Handler)


class RegistryProxy(_Server):
    """Forwards to ``upstream`` (``host:port``), recording each request.

    With ``storage``, a blob GET the registry answers 200 becomes a 307 to ``storage``
    (which then holds the bytes), like a registry on S3. With ``blob_rate`` (bytes/s),
    blob bodies trickle. Every answer sets a cookie, so that a cookie leaking to another
    origin would be visible too.
    """

    def __init__(
        self, upstream: str, *, storage: Storage | None = None, blob_rate: float | None = None
    ) -> None:
        upstream_host, _, upstream_port = upstream.rpartition(":")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def do_GET(self) -> None:
                self._forward("GET")

            def _forward(self, method: str) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                conn = http.client.HTTPConnection(upstream_host, int(upstream_port), timeout=30)
                try:
                    conn.request(method, self.path, headers=headers)
                    upstream = conn.getresponse()
                    match = _BLOB_PATH.match(self.path.split("?")[0])
                    blob = method == "GET" and match is not None and upstream.status == 200
                    status = 307 if blob and storage is not None else upstream.status
                    seen_headers = {k.lower(): v for k, v in self.headers.items()}
                    proxy.record(Seen(method, self.path, seen_headers, status))
                    if blob and storage is not None:
                        assert match is not None
                        storage.blobs[match.group(1)] = upstream.read()
                        location = f"http://{storage.host}/bucket/{match.group(1)}?X-Sig=abc"
                        self._reply(307, [("Location", location)], b"")
                    elif blob and blob_rate:
                        self._trickle(upstream, blob_rate)
                    else:
                        body = upstream.read()
                        passed = [
                            (k, v) for k, v in upstream.getheaders() if k.lower() not in _HOP_BY_HOP
                        ]
                        if method == "HEAD":
                            length = upstream.getheader("Content-Length")
                            passed.append(("Content-Length", length or "0"))
                            self._reply(upstream.status, passed, b"", length_set=True)
                        else:
                            self._reply(upstream.status, passed, body)
                finally:
                    conn.close()

            def _reply(
                self,
                status: int,
                headers: list[tuple[str, str]],
                body: bytes,
                *,
                length_set: bool = False,
            ) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Set-Cookie", "proxy-session=c00kie-value; Path=/")
                if not length_set:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self, upstream: http.client.HTTPResponse, rate: float) -> None:
                self.send_response(200)
                for name, value in upstream.getheaders():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", upstream.getheader("Content-Length") or "0")
                self.end_headers()
                started, sent = time.monotonic(), 0
                while chunk := upstream.read(16 * 1024):
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    delay = started + sent / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)

        super().__init__("127.0.0.1", Handler)


@pytest.fixture
def servers() -> Iterator[Callable[[_Server], _Server]]:
    """Register servers to stop at teardown."""
    started: list[_Server] = []

    def keep(server: _Server) -> _Server:
        started.append(server)
        return server

    yield keep
    for server in reversed(started):
        server.stop()


def _loopback_two_available() -> bool:
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _loopback_two_available(), reason="cannot bind 127.0.0.2 here")
@pytest.mark.parametrize("mode", ["basic", "token"])
def test_blob_redirect_to_another_origin_carries_no_credentials(
    real_registry_tools: None,
    request: pytest.FixtureRequest,
    cli: Cli,
    tmp_path: Path,
    servers: Callable[[_Server], _Server],
    mode: str,
) -> None:
    if mode == "basic":
        lab: Any = request.getfixturevalue("basic_lab")
        image, repo = lab.image, "ns/repo"
        user, password = HTPASSWD_USER, HTPASSWD_PASSWORD
    else:
        lab = request.getfixturevalue("token_lab")
        image, repo = lab.images["a/app"], "a/app"
        user, password = ALICE, ALICE_PASSWORD
    storage = servers(Storage())
    proxy = servers(RegistryProxy(lab.host, storage=storage))
    assert isinstance(storage, Storage)
    dest = tmp_path / "redirected"
    proc = cli.run(
        "pull",
        "-q",
        "-o",
        str(dest),
        f"{proxy.host}/{repo}:v1",
        "-u",
        user,
        "--password-stdin",
        stdin=password,
    )
    _ok(proc)
    _assert_pulled(dest, image)

    (manifest,) = image.manifests.values()
    fetched = {s.path.split("?")[0].rsplit("/", 1)[-1] for s in storage.seen}
    assert fetched == {manifest.config_digest, *(x.digest for x in manifest.layers)}
    for seen in storage.seen:
        assert "authorization" not in seen.headers, seen
        assert "cookie" not in seen.headers, seen
        assert password not in json.dumps(seen.headers)
    redirected = [s for s in proxy.seen if s.status == 307]
    assert len(redirected) == len(storage.seen)
    assert all("authorization" in s.headers for s in redirected)


# ---------------------------------------------------------------------------------------------
# A token that expires during a long download


async def test_token_expiry_and_refresh_during_a_long_download(
    real_registry_tools: None,
    registry_factory: Callable[[dict[str, Any] | None], RunningRegistry],
    tmp_path: Path,
    servers: Callable[[_Server], _Server],
) -> None:
    server = TokenServer(tmp_path / "token-server", expires_in=2).start()
    try:
        running = registry_factory(server.registry_config())
        image = build_image(tmp_path / "img", repo="a/big", tag="v1", layer_sizes=(192 * 1024,) * 5)
        seed_image(running, image, auth=server.seeder_auth())
        proxy = servers(RegistryProxy(running.host, blob_rate=320 * 1024))
        server.clear()

        started = time.monotonic()
        client = connect(
            proxy.host, credential=explicit_credential(ALICE, ALICE_PASSWORD), repository="a/big"
        )
        async with client:
            result = await Puller(client, jobs=1).pull(
                parse_reference(f"{proxy.host}/a/big:v1"), tmp_path / "big"
            )
        elapsed = time.monotonic() - started
        _assert_pulled(tmp_path / "big", image)
        assert result.blobs_downloaded == len(image.manifests["linux/amd64"].layers) + 1

        grants = server.token_requests("repository:a/big:pull")
        assert elapsed > 1.5 * server.expires_in, "the download did not outlast the token"
        assert len(grants) >= 2, "the token was never refreshed"
        assert all(r.user == ALICE for r in grants)
        # Refreshed before use, never after the registry would (without leeway) refuse it.
        for seen in proxy.seen:
            claims = seen.bearer_claims
            if claims is not None:
                assert claims["exp"] >= seen.at, f"expired token sent for {seen.path}"
    finally:
        server.stop()

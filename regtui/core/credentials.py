"""Find registry credentials where users already keep them.

Sources, in order (the first that knows the registry wins):

1. explicit ``--username`` / ``--password-stdin`` (given by the caller);
2. ``REGTUI_USERNAME`` / ``REGTUI_PASSWORD`` in the environment;
3. ``$REGISTRY_AUTH_FILE`` (containers auth.json format);
4. docker ``config.json`` (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``):
   ``credHelpers`` for the host, then ``auths`` (base64 ``auth``, ``identitytoken``,
   ``registrytoken``), then ``credsStore``; helpers run as ``docker-credential-<name> get``;
5. podman/containers ``auth.json``: ``$XDG_RUNTIME_DIR/containers/auth.json``, then
   ``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config/containers/auth.json``), where
   namespace keys (``quay.io/org/repo``, ``quay.io/org``) are matched most specific first.

regtui only reads these files; it never writes credentials anywhere. A :class:`Credential`
never shows its secret in ``repr`` or ``str``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regtui.core.reference import Registry

#: Docker Hub's key in docker config.json files (and what its credential helpers expect).
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HUB_KEYS = (
    DOCKER_HUB_AUTH_KEY,
    "index.docker.io",
    "docker.io",
    "registry-1.docker.io",
    "https://registry-1.docker.io",
    "https://docker.io",
)


@dataclass(frozen=True)
class Credential:
    """Something that proves who the user is to one registry."""

    source: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: An OAuth2 refresh token (docker ``identitytoken``; helpers' ``<token>`` user).
    identity_token: str | None = field(default=None, repr=False)
    #: A bearer token to send as is (docker ``registrytoken``).
    registry_token: str | None = field(default=None, repr=False)

    @property
    def has_basic(self) -> bool:
        """True when a username and password are known."""
        return bool(self.username) and self.password is not None

    def __str__(self) -> str:
        who = f"user {self.username}" if self.username else "token"
        return f"{who} from {self.source}"


class CredentialHelperError(Exception):
    """A credential helper failed (message is safe to show: no secrets)."""


HelperRunner = Callable[[str, str], Mapping[str, Any] | None]


def run_credential_helper(name: str, server: str) -> Mapping[str, Any] | None:
    """``docker-credential-<name> get`` for ``server``; None when it knows nothing."""
    program = f"docker-credential-{name}"
    path = shutil.which(program)
    if path is None:
        raise CredentialHelperError(f"credential helper {program} is not installed")
    try:
        proc = subprocess.run(
            [path, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialHelperError(
            f"credential helper {program} failed: {type(exc).__name__}"
        ) from None
    if proc.returncode != 0:
        text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        # The helper protocol's answer for "nothing stored for this server".
        if "credentials not found" in text.lower():
            return None
        raise CredentialHelperError(
            f"credential helper {program} exited with status {proc.returncode}"
        )
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise CredentialHelperError(
            f"credential helper {program} printed something other than JSON"
        ) from None
    return doc if isinstance(doc, dict) else None


class CredentialStore:
    """Looks credentials up for a registry (and repository, for namespaced auth.json keys)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        helper: HelperRunner = run_credential_helper,
    ) -> None:
        self.env = os.environ if env is None else env
        self.home = home if home is not None else Path.home()
        self.helper = helper
        #: Problems met while looking (unreadable files, failing helpers), safe to show.
        self.warnings: list[str] = []

    def find(self, registry: Registry, repository: str = "") -> Credential | None:
        """The first credential for ``registry`` in the documented order, or None."""
        user, password = self.env.get("REGTUI_USERNAME"), self.env.get("REGTUI_PASSWORD")
        if user and password is not None:
            return Credential("REGTUI_USERNAME/REGTUI_PASSWORD", user, password)
        explicit = self.env.get("REGISTRY_AUTH_FILE")
        if explicit:
            found = self._from_auth_file(
                Path(explicit), registry, repository, "$REGISTRY_AUTH_FILE"
            )
            if found:
                return found
        found = self._from_docker_config(registry)
        if found:
            return found
        for path in self._podman_paths():
            found = self._from_auth_file(path, registry, repository, str(self._shorten(path)))
            if found:
                return found
        return None

    # docker config.json ------------------------------------------------------------------------
    def docker_config_path(self) -> Path:
        """``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
        base = self.env.get("DOCKER_CONFIG")
        return (Path(base) if base else self.home / ".docker") / "config.json"

    def _from_docker_config(self, registry: Registry) -> Credential | None:
        path = self.docker_config_path()
        doc = self._load(path)
        if doc is None:
            return None
        where = str(self._shorten(path))
        keys = _candidate_keys(registry)
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict):
            for key in keys:
                name = helpers.get(key)
                if isinstance(name, str) and name:
                    found = self._ask_helper(
                        name, registry, f"docker-credential-{name} ({where} credHelpers)"
                    )
                    if found:
                        return found
        auths = doc.get("auths")
        if isinstance(auths, dict):
            for key in keys:
                entry = _lookup(auths, key)
                if isinstance(entry, dict):
                    found = _entry_credential(entry, f"{where} (auths)")
                    if found:
                        return found
        store = doc.get("credsStore")
        if isinstance(store, str) and store:
            return self._ask_helper(
                store, registry, f"docker-credential-{store} ({where} credsStore)"
            )
        return None

    def _ask_helper(self, name: str, registry: Registry, source: str) -> Credential | None:
        server = DOCKER_HUB_AUTH_KEY if registry.is_docker_hub else registry.host
        try:
            doc = self.helper(name, server)
        except CredentialHelperError as exc:
            self.warnings.append(str(exc))
            return None
        if not doc:
            return None
        user, secret = doc.get("Username"), doc.get("Secret")
        if not isinstance(secret, str) or not secret:
            return None
        if user == "<token>":
            return Credential(source, identity_token=secret)
        return Credential(source, str(user or ""), secret)

    # containers auth.json ----------------------------------------------------------------------
    def _podman_paths(self) -> list[Path]:
        paths = []
        runtime = self.env.get("XDG_RUNTIME_DIR")
        if runtime:
            paths.append(Path(runtime) / "containers" / "auth.json")
        config_home = self.env.get("XDG_CONFIG_HOME")
        paths.append(
            (Path(config_home) if config_home else self.home / ".config")
            / "containers"
            / "auth.json"
        )
        return paths

    def _from_auth_file(
        self, path: Path, registry: Registry, repository: str, where: str
    ) -> Credential | None:
        doc = self._load(path)
        auths = doc.get("auths") if doc else None
        if not isinstance(auths, dict):
            return None
        for key in _namespaced_keys(registry, repository):
            entry = _lookup(auths, key)
            if isinstance(entry, dict):
                found = _entry_credential(entry, f"{where} ({key})")
                if found:
                    return found
        return None

    # helpers -----------------------------------------------------------------------------------
    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.warnings.append(f"cannot read {path}: {exc.strerror}")
            return None
        try:
            doc = json.loads(text)
        except ValueError:
            self.warnings.append(f"{path} is not valid JSON; ignoring it")
            return None
        return doc if isinstance(doc, dict) else None

    def _shorten(self, path: Path) -> Path:
        try:
            return Path("~") / path.relative_to(self.home)
        except ValueError:
            return path


def _candidate_keys(registry: Registry) -> list[str]:
    """Keys under which docker stores a registry: bare host, with scheme, Hub's special key."""
    if registry.is_docker_hub:
        return list(_HUB_KEYS)
    host = registry.host
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]


def _namespaced_keys(registry: Registry, repository: str) -> list[str]:
    """auth.json keys, most specific first: ``host/a/b``, ``host/a``, ``host``."""
    host = "docker.io" if registry.is_docker_hub else registry.host
    keys = []
    parts = [p for p in repository.split("/") if p]
    for i in range(len(parts), 0, -1):
        keys.append(f"{host}/{'/'.join(parts[:i])}")
    keys.extend(_candidate_keys(registry) if registry.is_docker_hub else [host, f"https://{host}"])
    return keys


def _lookup(auths: Mapping[str, Any], key: str) -> Any:
    if key in auths:
        return auths[key]
    # docker sometimes stores "https://host/..." forms with different trailing parts.
    for existing, value in auths.items():
        if _normalise_key(existing) == _normalise_key(key):
            return value
    return None


def _normalise_key(key: str) -> str:
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.split("/v1/")[0].split("/v2/")[0].rstrip("/")


def _entry_credential(entry: Mapping[str, Any], source: str) -> Credential | None:
    token = entry.get("registrytoken")
    if isinstance(token, str) and token:
        return Credential(source, registry_token=token)
    identity = entry.get("identitytoken")
    user, password = None, None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, sep, password = decoded.partition(":")
        if not sep:
            user, password = None, None
    if user is None and isinstance(entry.get("username"), str):
        user, password = entry["username"], entry.get("password")
    if isinstance(identity, str) and identity:
        return Credential(source, username=user or None, identity_token=identity)
    if user and isinstance(password, str):
        return Credential(source, user, password)
    return None


def explicit_credential(username: str, password: str, source: str = "--username") -> Credential:
    """A credential the user typed (CLI flags or the TUI login prompt)."""
    return Credential(source, username, password)


def describe_sources(store: CredentialStore) -> Iterable[str]:
    """Human descriptions of where credentials are searched (for help and the TUI)."""
    yield "REGTUI_USERNAME/REGTUI_PASSWORD"
    if store.env.get("REGISTRY_AUTH_FILE"):
        yield f"$REGISTRY_AUTH_FILE ({store.env['REGISTRY_AUTH_FILE']})"
    yield str(store._shorten(store.docker_config_path()))
    yield from (str(store._shorten(p)) for p in store._podman_paths())

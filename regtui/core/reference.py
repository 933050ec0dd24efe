"""Parse what users type: registries, repositories, tags and digests.

Follows the Docker reference grammar (``distribution/reference``)::

    [host[:port]/]path-component[/path-component...][:tag][@digest]

A first path component is a registry host only if it contains ``.`` or ``:``, is
``localhost``, or has upper-case letters; otherwise the image lives on Docker Hub, whose
single-component repositories get the implicit ``library/`` namespace and whose API host
is ``registry-1.docker.io``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from regtui.core.errors import InvalidReferenceError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*\Z")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"(?:(?P<name>{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*)|\[(?P<ipv6>[a-fA-F0-9:.]+)\])"
    r"(?::(?P<port>[0-9]{1,5}))?\Z"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
# Digest algorithms regtui can verify, with the length of their hex encoding.
DIGEST_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is ``sha256:`` + 64 lowercase hex (or sha512 + 128).

    This is the check that makes a digest safe to use as a file name.
    """
    algorithm, sep, encoded = digest.partition(":")
    if not sep:
        raise InvalidReferenceError(
            f"invalid digest {digest!r}: expected 'sha256:' and 64 hex digits"
        )
    length = DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        if _DIGEST_GRAMMAR.match(digest):
            raise InvalidReferenceError(
                f"unsupported digest algorithm {algorithm!r} in {digest!r}: regtui verifies sha256"
            )
        raise InvalidReferenceError(
            f"invalid digest {digest!r}: expected 'sha256:' and 64 hex digits"
        )
    if len(encoded) != length or not all(c in "0123456789abcdef" for c in encoded):
        raise InvalidReferenceError(
            f"invalid digest {_clip(digest)!r}: "
            f"expected '{algorithm}:' and {length} lowercase hex digits"
        )
    return digest


def is_digest(value: str) -> bool:
    """True when ``value`` is a digest regtui can verify."""
    try:
        validate_digest(value)
    except InvalidReferenceError:
        return False
    return True


@dataclass(frozen=True)
class Registry:
    """A registry host as the user named it, normalised (``docker.io`` for Docker Hub)."""

    host: str
    #: "http" or "https" when the user typed a scheme, else None (decided by the client).
    scheme: str | None = None

    @property
    def api_host(self) -> str:
        """The host[:port] to send API requests to."""
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def hostname(self) -> str:
        """The host without port or IPv6 brackets."""
        match = _HOST.match(self.host)
        if match is None:  # pragma: no cover - hosts are validated on construction
            return self.host
        return match.group("ipv6") or match.group("name")

    @property
    def is_docker_hub(self) -> bool:
        """True for Docker Hub (which has no usable catalog)."""
        return self.host == DOCKER_HUB

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost``, ``*.localhost``, ``127.0.0.0/8`` and ``::1``.

        Only these may be spoken to over plain HTTP without ``--insecure``.
        """
        name = self.hostname.lower()
        if name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return self.host


@dataclass(frozen=True)
class Reference:
    """A repository in a registry, optionally with a tag and/or a digest."""

    registry: Registry
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str:
        """What goes in ``/v2/<name>/manifests/<ref>``: the digest if known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def name(self) -> str:
        """``host/repository`` without tag or digest."""
        return f"{self.registry.host}/{self.repository}"

    def with_tag(self, tag: str | None) -> Reference:
        """A copy pointing at ``tag`` (keeps no digest)."""
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        """A copy pinned to ``digest`` (keeps the tag for display)."""
        return replace(self, digest=validate_digest(digest))

    def scope(self, actions: str = "pull") -> str:
        """The token scope for this repository, e.g. ``repository:library/alpine:pull``."""
        return f"repository:{self.repository}:{actions}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_registry(text: str) -> Registry:
    """Parse a registry host such as ``ghcr.io``, ``127.0.0.1:5000`` or ``https://quay.io``."""
    raw = text.strip()
    scheme = None
    lowered = raw.lower()
    for prefix in ("https://", "http://"):
        if lowered.startswith(prefix):
            scheme = prefix[:-3]
            raw = raw[len(prefix) :]
            break
    raw = raw.rstrip("/")
    if not raw:
        raise InvalidReferenceError("empty registry name")
    if "/" in raw or any(c.isspace() for c in raw):
        raise InvalidReferenceError(f"invalid registry {_clip(text)!r}: expected host[:port]")
    match = _HOST.match(raw)
    if match is None:
        raise InvalidReferenceError(f"invalid registry host {_clip(text)!r}")
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise InvalidReferenceError(f"invalid port in registry {_clip(text)!r}")
    if match.group("ipv6") is not None:
        try:
            ipaddress.IPv6Address(match.group("ipv6"))
        except ValueError:
            raise InvalidReferenceError(f"invalid IPv6 address in {_clip(text)!r}") from None
    host = raw.lower()
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
    elif not any(c in host for c in ".:[") and host != "localhost":
        # A single-label host is recognised only by its capitals: keep them, or printing
        # and re-reading the reference would turn it into a Docker Hub repository.
        host = raw
    return Registry(host=host, scheme=scheme)


def _looks_like_host(component: str) -> bool:
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or component.lower() != component
        or component.startswith("[")
    )


def validate_repository(repository: str, *, original: str | None = None) -> str:
    """Check a repository path (``library/alpine``) against the grammar."""
    shown = _clip(original if original is not None else repository)
    if not repository:
        raise InvalidReferenceError(f"missing repository name in {shown!r}")
    if repository.lower() != repository:
        raise InvalidReferenceError(f"repository name must be lowercase: {shown!r}")
    for component in repository.split("/"):
        if not component:
            raise InvalidReferenceError(f"empty path component in repository {shown!r}")
        if not _PATH_COMPONENT.match(component):
            raise InvalidReferenceError(
                f"invalid repository component {component!r} in {shown!r}: "
                "use lowercase letters, digits and single separators (. _ __ -)"
            )
    return repository


def validate_tag(tag: str) -> str:
    """Check a tag: up to 128 characters of ``[A-Za-z0-9_.-]``, not starting with ``.`` or ``-``."""
    if not _TAG.match(tag):
        raise InvalidReferenceError(
            f"invalid tag {_clip(tag)!r}: up to 128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'"
        )
    return tag


def parse_reference(
    text: str,
    *,
    default_tag: str | None = DEFAULT_TAG,
    require_repository: bool = True,
) -> Reference:
    """Parse an image reference as typed by a user.

    ``default_tag`` is filled in when neither tag nor digest is given (pass ``None`` to leave
    it empty). With ``require_repository=False`` a bare registry (``ghcr.io``) is accepted
    and gives a reference with an empty repository (used by ``regtui ls`` and the TUI).
    """
    raw = text.strip()
    if not raw:
        raise InvalidReferenceError("empty image reference")
    if any(c.isspace() for c in raw):
        raise InvalidReferenceError(f"image reference contains whitespace: {_clip(text)!r}")
    scheme = None
    for prefix in ("https://", "http://"):
        if raw.lower().startswith(prefix):
            scheme = prefix[:-3]
            raw = raw[len(prefix) :]
            break

    digest = None
    if "@" in raw:
        raw, _, digest = raw.rpartition("@")
        validate_digest(digest)
    first, slash, rest = raw.partition("/")
    if not slash:
        # A lone word: a registry when it looks like one (ls/TUI), else a Docker Hub repo.
        if not require_repository and _looks_like_host(first) and digest is None:
            registry = parse_registry(first)
            if scheme is not None:
                registry = replace(registry, scheme=scheme)
            return Reference(registry=registry, repository="")
        first, rest = "", raw
    elif not _looks_like_host(first):
        first, rest = "", raw
    registry = parse_registry(first) if first else Registry(DOCKER_HUB)
    if scheme is not None:
        registry = replace(registry, scheme=scheme)
    if not rest.strip("/") and not require_repository and digest is None:
        return Reference(registry=registry, repository="")

    tag = None
    path, colon, maybe_tag = rest.rpartition(":")
    if colon and "/" not in maybe_tag:
        tag = validate_tag(maybe_tag)
        rest = path
    repository = validate_repository(
        rest.rstrip("/") if not require_repository else rest, original=text
    )
    if registry.is_docker_hub and "/" not in repository:
        repository = f"library/{repository}"
    if len(registry.host) + 1 + len(repository) > MAX_NAME_LENGTH:
        raise InvalidReferenceError(f"repository name longer than {MAX_NAME_LENGTH} characters")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(registry=registry, repository=repository, tag=tag, digest=digest)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

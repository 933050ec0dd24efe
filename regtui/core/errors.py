"""Typed errors raised by the core.

Every error's ``str()`` is a single line meant for a person: the CLI prints it after
``regtui: error:`` and the TUI shows it in the pane where it happened. No message ever
contains a credential or a token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# C0/C1 controls (ESC starts terminal escape sequences) and bidi overrides that can make
# text read differently from what it is.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without control characters, so a registry cannot drive the terminal."""
    return _UNPRINTABLE.sub("", text)


class RegtuiError(Exception):
    """Base class of every error regtui reports to a user."""


class UsageError(RegtuiError):
    """Something the user typed is malformed (exit code 2 in the CLI)."""


class InvalidReferenceError(UsageError, ValueError):
    """An image reference, repository name, tag or digest that does not follow the grammar."""


class InvalidPlatformError(UsageError, ValueError):
    """A platform string such as ``linux/arm64/v8`` that cannot be parsed."""


class ManifestError(RegtuiError):
    """A manifest, index or config document that is malformed or unsupported."""


class DigestError(RegtuiError):
    """Content whose digest or size does not match what was expected."""


class NetworkError(RegtuiError):
    """The registry could not be reached or the connection broke."""


class ProtocolError(RegtuiError):
    """The server answered something a registry would not (HTML, bad JSON, a bad Link)."""


class TLSError(NetworkError):
    """The TLS handshake failed (for example a self-signed certificate)."""


class InsecureTransportError(UsageError):
    """Plain HTTP was needed but not allowed for a non-loopback registry."""


@dataclass(frozen=True)
class RegistryErrorDetail:
    """One entry of a registry's ``errors`` array (distribution spec error format)."""

    code: str
    message: str = ""
    detail: Any = None


@dataclass(eq=False)
class RegistryError(RegtuiError):
    """A registry answered with an HTTP error status.

    ``errors`` carries the registry's own ``errors[].code/message`` when it sent them.
    """

    status: int
    url: str
    errors: list[RegistryErrorDetail] = field(default_factory=list)
    summary: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        what = self.summary or _status_words(self.status)
        codes = "; ".join(
            f"{e.code}: {e.message}" if e.message else e.code for e in self.errors if e.code
        )
        text = f"{what} (HTTP {self.status}"
        if codes:
            text += f", {codes}"
        text += f") at {self.url}"
        return " ".join(text.split())

    def has_code(self, code: str) -> bool:
        """True when the registry reported the distribution error ``code``."""
        return any(e.code == code for e in self.errors)


class AuthenticationError(RegistryError):
    """HTTP 401: credentials missing or rejected."""


class PermissionDeniedError(RegistryError):
    """HTTP 403: authenticated but not allowed."""


class NotFoundError(RegistryError):
    """HTTP 404: repository, tag, manifest or blob unknown."""


@dataclass(eq=False)
class RateLimitedError(RegistryError):
    """HTTP 429: too many requests; ``retry_after`` is in seconds when the server said."""

    retry_after: float | None = None


class ServerError(RegistryError):
    """HTTP 5xx from the registry."""


def _status_words(status: int) -> str:
    return {
        400: "bad request",
        401: "authentication required",
        403: "access denied",
        404: "not found",
        405: "operation not supported by this registry",
        416: "requested range not satisfiable",
        429: "rate limited by the registry",
    }.get(status, "server error" if status >= 500 else "unexpected answer")


def registry_error_class(status: int) -> type[RegistryError]:
    """The most specific :class:`RegistryError` subclass for an HTTP status."""
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return RegistryError

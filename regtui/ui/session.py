"""What the panes share for one registry: the client and caches keyed by digest.

No Textual here: the panes call these coroutines from their workers. Manifests fetched by
digest, configs and per-manifest summaries never change, so they are cached by digest for
the whole session; tag → digest is remembered too (a session is short-lived).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from regtui.core.auth import AuthInfo, RegistryAuth
from regtui.core.client import FetchedManifest, PingResult, RegistryClient, TransportOptions
from regtui.core.credentials import Credential
from regtui.core.errors import AuthenticationError, ManifestError, RegtuiError
from regtui.core.manifest import (
    ArtifactManifest,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    IndexEntry,
    LegacyManifest,
    Platform,
    host_platform,
    parse_config,
)
from regtui.core.pull import PullError, ResolvedImage, default_ref_name
from regtui.core.reference import Reference, Registry, is_digest


class ClientFactory(Protocol):
    """Builds a client for a registry (``regtui.core.client.connect`` or a test double).

    ``credential`` is what the user typed in the login prompt; without it the factory
    looks for the user's own credentials (or goes anonymous).
    """

    def __call__(
        self,
        registry: Registry,
        options: TransportOptions | None,
        /,
        *,
        credential: Credential | None = None,
    ) -> RegistryClient: ...


#: How many lazy tag look-ups run at once.
DETAIL_CONCURRENCY = 6

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_created(text: str | None) -> datetime | None:
    """The ``created`` timestamp of a config (RFC 3339, any fraction) as UTC, or None."""
    if not text:
        return None
    value = _FRACTION.sub(r"\1", text.strip())  # Go writes nanoseconds; Python takes micro
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return None if moment.year < 1980 else moment  # 0001/1970: "unknown" in disguise


def format_created(moment: datetime | None) -> str:
    """``2024-03-14 09:26`` (UTC) or an empty string."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def platform_text(platform: Platform | None) -> str:
    """``linux/arm/v7``, with ``os.version`` for Windows images."""
    if platform is None:
        return ""
    text = str(platform)
    if platform.os_version:
        text += f" {platform.os_version}"
    return text


@dataclass(frozen=True)
class ImageSummary:
    """What one manifest amounts to: kind, compressed size, creation date, platform."""

    kind: str
    size: int | None
    created: datetime | None
    platform: Platform | None = None


@dataclass(frozen=True)
class TagDetails:
    """The lazily filled columns of a tag row."""

    digest: str
    summary: ImageSummary


def manifest_kind(manifest: object) -> str:
    """A short word for a manifest's type, as shown in the panes."""
    if isinstance(manifest, ImageIndex):
        count = sum(1 for e in manifest.entries() if not e.descriptor.is_attestation)
        word = "list" if manifest.is_docker else "index"
        return f"{word} ({count})"
    if isinstance(manifest, ImageManifest):
        if manifest.is_image:
            return "image"
        return "artifact"
    if isinstance(manifest, LegacyManifest):
        return "schema 1"
    if isinstance(manifest, ArtifactManifest):
        return "artifact"
    return "unknown"


def short_type(media_type: str) -> str:
    """``application/vnd.dev.cosign.artifact.sig.v1+json`` → ``cosign.artifact.sig``."""
    text = media_type.split("/", 1)[-1]
    for prefix in ("vnd.oci.", "vnd.docker.", "vnd.dev.", "vnd."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    text = re.sub(r"\.v\d+(\+\w+)?$", "", text)
    return re.sub(r"\+\w+$", "", text)


def entry_label(entry: IndexEntry) -> str:
    """How an index entry is named in the platforms pane (never ``unknown/unknown``)."""
    desc = entry.descriptor
    if desc.is_attestation:
        return f"attestation ({desc.reference_type})"
    if desc.platform is not None and not desc.platform.is_unknown:
        return platform_text(desc.platform)
    if desc.artifact_type:
        return f"artifact {short_type(desc.artifact_type)}"
    if desc.platform is not None:
        return "unspecified platform"
    return f"({short_type(desc.media_type)})"


def legacy_created(manifest: LegacyManifest) -> datetime | None:
    """The creation date recorded in a schema 1 manifest's newest history entry."""
    for item in manifest.v1_history[:1]:
        with contextlib.suppress(ValueError, AttributeError):
            doc = json.loads(item)
            if isinstance(doc, dict):
                return parse_created(str(doc.get("created") or ""))
    return None


def legacy_created_by(entry: str) -> str:
    """The command of a schema 1 ``v1Compatibility`` entry."""
    try:
        doc = json.loads(entry)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    config = doc.get("container_config")
    cmd = config.get("Cmd") if isinstance(config, dict) else None
    if isinstance(cmd, list):
        return " ".join(str(c) for c in cmd)
    return ""


def download_dir_for(base: Path, ref: Reference) -> Path:
    """``base/<repo>_<tag>`` (slashes of the repository become ``_``)."""
    name = ref.repository.replace("/", "_") or "image"
    suffix = ref.tag if ref.tag else (ref.digest or "").split(":")[-1][:12]
    return base / f"{name}_{suffix or 'latest'}"


class BrowserSession:
    """One registry: its client, what the user called it, and the digest caches."""

    def __init__(self, registry: Registry, client: RegistryClient) -> None:
        self.registry = registry
        self.client = client
        self.host = host_platform()
        #: Clients replaced by a login: downloads may still use them, so they are closed
        #: with the session.
        self._retired: list[RegistryClient] = []
        self._manifests: dict[str, FetchedManifest] = {}
        self._configs: dict[str, tuple[bytes, ImageConfig | None]] = {}
        self._summaries: dict[str, ImageSummary] = {}
        self._tag_digests: dict[tuple[str, str], str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._detail_slots: asyncio.Semaphore | None = None
        self._catalog: AsyncIterator[list[str]] | None = None
        self._first_catalog_page: asyncio.Future[list[str]] | None = None

    def start_catalog(self, page_size: int, first_page_size: int) -> None:
        """Start listing repositories now, while the screen is still being built.

        Textual's first layout and paint take a few hundred milliseconds; fetching the
        first page meanwhile puts rows on screen that much sooner.
        """
        self._catalog = self.client.catalog_pages(page_size, first_page_size=first_page_size)
        first = asyncio.ensure_future(anext(self._catalog))
        # Never "exception was never retrieved": a failure is reported when awaited.
        first.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._first_catalog_page = first

    async def catalog_pages(self, page_size: int, first_page_size: int) -> AsyncIterator[list[str]]:
        """The catalog, page by page, starting with the page :meth:`start_catalog` fetched."""
        pages, first = self._catalog, self._first_catalog_page
        self._catalog = self._first_catalog_page = None
        if pages is None or first is None:
            pages = self.client.catalog_pages(page_size, first_page_size=first_page_size)
        else:
            try:
                yield await first
            except StopAsyncIteration:
                return
        async for page in pages:
            yield page

    async def aclose(self) -> None:
        """Close the client's connections (and those of clients it replaced)."""
        clients, self._retired = [self.client, *self._retired], []
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()

    def replace_client(self, client: RegistryClient) -> None:
        """Use ``client`` from now on (after a login); the caches stay valid."""
        if client is not self.client:
            self._retired.append(self.client)
            self.client = client

    def reference(self, repository: str, tag: str | None = None) -> Reference:
        """A reference in this registry."""
        return Reference(self.registry, repository, tag=tag)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # Manifests and configs -------------------------------------------------------------------
    async def manifest(self, repository: str, reference: str) -> FetchedManifest:
        """GET a manifest; by digest it comes from the cache after the first time."""
        if is_digest(reference):
            cached = self._manifests.get(reference)
            if cached is not None:
                return cached
            async with self._lock(reference):
                cached = self._manifests.get(reference)
                if cached is not None:
                    return cached
                fetched = await self.client.get_manifest(repository, reference)
                self._manifests[fetched.digest] = fetched
                return fetched
        fetched = await self.client.get_manifest(repository, reference)
        self._manifests.setdefault(fetched.digest, fetched)
        self._tag_digests[(repository, reference)] = fetched.digest
        return fetched

    def cached_manifest(self, digest: str) -> FetchedManifest | None:
        """A manifest already fetched, if any."""
        return self._manifests.get(digest)

    async def config(
        self, repository: str, descriptor: Descriptor
    ) -> tuple[bytes, ImageConfig | None]:
        """The verified config blob and its parsed form (None when it is not parseable)."""
        cached = self._configs.get(descriptor.digest)
        if cached is not None:
            return cached
        async with self._lock("config:" + descriptor.digest):
            cached = self._configs.get(descriptor.digest)
            if cached is not None:
                return cached
            raw = await self.client.get_blob(repository, descriptor)
            parsed: ImageConfig | None = None
            with contextlib.suppress(ManifestError):
                parsed = parse_config(raw)
            self._configs[descriptor.digest] = (raw, parsed)
            return raw, parsed

    # Summaries -------------------------------------------------------------------------------
    async def summary(self, repository: str, fetched: FetchedManifest) -> ImageSummary:
        """Kind, size and creation date of a manifest (for an index: of the host's image)."""
        cached = self._summaries.get(fetched.digest)
        if cached is not None:
            return cached
        manifest = fetched.manifest
        kind = manifest_kind(manifest)
        if isinstance(manifest, ImageIndex):
            entries = manifest.entries()
            entry = manifest.select(self.host) or next(
                (e for e in entries if not e.descriptor.is_attestation), None
            )
            size: int | None = None
            created = None
            platform = None
            if entry is not None:
                child = await self.manifest(repository, entry.descriptor.digest)
                inner = await self.summary(repository, child)
                size, created, platform = inner.size, inner.created, entry.platform
            result = ImageSummary(kind, size, created, platform)
        elif isinstance(manifest, ImageManifest):
            created = None
            platform = None
            if manifest.is_image:
                _, config = await self.config(repository, manifest.config)
                if config is not None:
                    created = parse_created(config.created)
                    platform = config.platform if config.os else None
            result = ImageSummary(kind, manifest.total_size, created, platform)
        elif isinstance(manifest, LegacyManifest):
            result = ImageSummary(kind, None, legacy_created(manifest), None)
        elif isinstance(manifest, ArtifactManifest):
            result = ImageSummary(kind, sum(b.size for b in manifest.blobs), None, None)
        else:  # pragma: no cover - the union is exhaustive
            result = ImageSummary(kind, None, None, None)
        self._summaries[fetched.digest] = result
        return result

    async def tag_details(self, repository: str, tag: str) -> TagDetails:
        """Digest, kind, size and date of a tag: HEAD first, GET only for unknown digests.

        At most :data:`DETAIL_CONCURRENCY` run at once; a HEAD does not count as a pull on
        Docker Hub, so scrolling a long tag list does not eat the user's rate limit.
        """
        if self._detail_slots is None:
            self._detail_slots = asyncio.Semaphore(DETAIL_CONCURRENCY)
        async with self._detail_slots:
            digest = self._tag_digests.get((repository, tag))
            if digest is None:
                head = await self.client.head_manifest(repository, tag)
                digest = head.digest
                if digest is None:
                    fetched = await self.manifest(repository, tag)
                    digest = fetched.digest
                self._tag_digests[(repository, tag)] = digest
            summary = self._summaries.get(digest)
            if summary is None:
                fetched = await self.manifest(repository, digest)
                summary = await self.summary(repository, fetched)
            return TagDetails(digest, summary)

    def known_tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest a tag pointed at when last looked up."""
        return self._tag_digests.get((repository, tag))

    # Downloads -------------------------------------------------------------------------------
    async def resolve_for_download(
        self,
        ref: Reference,
        digest: str,
        platform: Platform | None,
        index: FetchedManifest | None,
    ) -> ResolvedImage:
        """The image manifest ``digest`` exactly as browsed, ready for ``Puller.pull``.

        Pulling what was shown (not re-resolving the tag) means a tag that moved meanwhile
        cannot swap the image under the user.
        """
        fetched = await self.manifest(ref.repository, digest)
        manifest = fetched.manifest
        if isinstance(manifest, LegacyManifest):
            raise PullError(f"{ref} is a Docker schema 1 manifest (legacy): shown, but not pulled")
        if isinstance(manifest, ArtifactManifest):
            raise PullError(f"{ref} uses the withdrawn OCI artifact manifest type: not pullable")
        if isinstance(manifest, ImageIndex):
            raise PullError(f"{ref}: pick a platform of this index to download")
        config_raw: bytes | None = None
        config: ImageConfig | None = None
        if manifest.is_image:
            config_raw, config = await self.config(ref.repository, manifest.config)
        if platform is None and config is not None and config.os:
            platform = config.platform
        return ResolvedImage(
            reference=ref,
            fetched=fetched,
            manifest=manifest,
            platform=platform,
            index=index,
            config_raw=config_raw,
            config=config,
        )


def ref_name_for(ref: Reference) -> str:
    """The name recorded in the layout's ``index.json``."""
    return default_ref_name(ref)


# Logging in --------------------------------------------------------------------------------------
class LoginRefusedError(RegtuiError):
    """The registry (or its token server) refused what was typed in the login prompt."""


def login_may_help(error: BaseException) -> bool:
    """True for a 401 that credentials could cure.

    A 403 (authenticated, not allowed) does not qualify, nor does a token realm refused
    for safety (typing a password would not change that).
    """
    return (
        isinstance(error, AuthenticationError)
        and error.status == 401
        and "token realm" not in error.summary
    )


async def log_in(
    factory: ClientFactory,
    registry: Registry,
    options: TransportOptions | None,
    credential: Credential,
) -> RegistryClient:
    """A client for ``registry`` using ``credential``, once the registry has accepted it.

    ``GET /v2/`` is the check: with Basic auth a refused password leaves it at 401; with
    bearer tokens the token server refuses the password itself. Raises
    :class:`LoginRefusedError` for wrong credentials; the client is closed on any failure.
    """
    client = factory(registry, options, credential=credential)
    try:
        try:
            result = await client.ping()
        except AuthenticationError as exc:
            if exc.status in (401, 403) and "token realm" not in exc.summary:
                raise LoginRefusedError(_refused(registry)) from None
            raise
        if result.status == 401:
            raise LoginRefusedError(_refused(registry))
    except BaseException:
        with contextlib.suppress(Exception):
            await client.aclose()
        raise
    return client


def _refused(registry: Registry) -> str:
    return f"authentication failed for {registry.host}: username or password refused"


# Registry info ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryInfo:
    """What the registry info shows: how the registry is reached and who we are to it.

    Never a secret: the credential appears as its source (and user name) only.
    """

    host: str
    insecure: bool
    ca_file: str | None
    ping: PingResult | None
    ping_error: str | None
    auth: AuthInfo
    username: str | None

    @property
    def scheme(self) -> str | None:
        """``https`` or ``http``, as actually used (None when the ping failed)."""
        return self.ping.scheme if self.ping else None

    @property
    def challenge_scheme(self) -> str | None:
        """The scheme the registry asked for when ``/v2/`` answered 401 (``basic``...)."""
        if self.ping is None or self.ping.status != 401 or not self.ping.challenge:
            return None
        return self.ping.challenge.split(None, 1)[0].lower()


async def registry_info(
    registry: Registry, client: RegistryClient, options: TransportOptions | None
) -> RegistryInfo:
    """Ping ``client``'s registry and gather what is known about its authentication."""
    ping: PingResult | None = None
    ping_error: str | None = None
    try:
        ping = await client.ping()
    except RegtuiError as exc:
        ping_error = describe_error(exc)
    info = client.auth_info or AuthInfo()
    auth = AuthInfo(
        source=info.source,
        scheme=info.scheme,
        realm=info.realm,
        service=info.service,
        granted=list(info.granted),
        warnings=list(info.warnings),
    )
    username = None
    if isinstance(client.auth, RegistryAuth) and client.auth.credential is not None:
        username = client.auth.credential.username or None
    opts = options or TransportOptions()
    return RegistryInfo(
        host=registry.host,
        insecure=opts.insecure,
        ca_file=opts.ca_file,
        ping=ping,
        ping_error=ping_error,
        auth=auth,
        username=username,
    )


def describe_error(exc: BaseException) -> str:
    """One line for a person, whatever went wrong."""
    if isinstance(exc, RegtuiError):
        return " ".join(str(exc).split())
    text = " ".join(str(exc).split())
    return f"unexpected error: {type(exc).__name__}{': ' + text if text else ''}"

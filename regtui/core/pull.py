"""The pull engine: resolve a platform, download its blobs in parallel, verify, store.

Design (see the README's performance section for the figures behind it):

* Metadata (manifests, the config) goes through the async :class:`RegistryClient`.
* Blob bytes move in worker threads (``jobs`` of them) through a synchronous httpx client
  whose transport reads straight into a reused buffer; ``hashlib`` and file writes release
  the GIL, so transfers really run in parallel and the event loop (the TUI) stays free.
* Each blob streams to a partial file outside ``blobs/`` while its sha256 is computed;
  it is renamed into ``blobs/`` only when size and digest match. A blob that grows past
  its descriptor is cut off at once. ``index.json`` is written last.
* A dropped connection resumes with ``Range``; 429/5xx back off (honouring
  ``Retry-After``); a digest mismatch retries once from zero. Partial files survive a
  killed process and are resumed by the next pull.
* Progress is plain events delivered on the event loop. Byte counts are sampled
  (``progress_interval``), so a slow renderer never slows a transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from regtui.core.client import (
    FetchedManifest,
    RegistryClient,
    RetryPolicy,
    TransportOptions,
    describe_transport_error,
    error_from_response,
    parse_retry_after,
    read_error_body,
)
from regtui.core.credentials import Credential
from regtui.core.errors import (
    DigestError,
    ManifestError,
    NetworkError,
    RateLimitedError,
    RegistryError,
    RegtuiError,
    ServerError,
)
from regtui.core.layout import OCILayout
from regtui.core.manifest import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    ArtifactManifest,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    LegacyManifest,
    Platform,
    compute_digest,
    docker_to_oci,
    host_platform,
    parse_config,
)
from regtui.core.reference import DIGEST_ALGORITHMS, Reference
from regtui.core.transport import READINTO_EXTENSION

DEFAULT_JOBS = 4
#: On a converted (Docker → OCI) manifest's index.json entry: the registry's digest.
SOURCE_DIGEST_ANNOTATION = "io.regtui.source.digest"
#: Largest single socket read: reads return what has arrived (at most one recv), so
#: this bounds per-read work without delaying progress on slow links.
READ_SIZE = 1024 * 1024


# Events ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PullEvent:
    """Base of every progress event."""


@dataclass(frozen=True)
class PullPlanned(PullEvent):
    """The image is resolved; these blobs (config first, then layers) will be fetched."""

    reference: str
    platform: str
    manifest_digest: str
    blobs: tuple[Descriptor, ...]
    kinds: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        """Sum of the blob sizes."""
        return sum(b.size for b in self.blobs)


@dataclass(frozen=True)
class BlobEvent(PullEvent):
    """An event about one blob."""

    digest: str


@dataclass(frozen=True)
class BlobStarted(BlobEvent):
    """Transfer began (``offset`` > 0 when resuming a partial file)."""

    size: int
    offset: int = 0


@dataclass(frozen=True)
class BlobProgress(BlobEvent):
    """``done`` of ``size`` bytes are on disk and hashed."""

    done: int
    size: int


@dataclass(frozen=True)
class BlobVerifying(BlobEvent):
    """All bytes received; checking size and digest."""


@dataclass(frozen=True)
class BlobDone(BlobEvent):
    """Verified and stored; ``fetched`` is how many bytes this run transferred."""

    size: int
    fetched: int


@dataclass(frozen=True)
class BlobSkipped(BlobEvent):
    """Already present in the layout and verified: not downloaded."""

    size: int


@dataclass(frozen=True)
class BlobRetrying(BlobEvent):
    """A transfer failed and will be retried after ``delay`` seconds."""

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class BlobFailed(BlobEvent):
    """The blob could not be fetched; ``reason`` says why."""

    reason: str


@dataclass(frozen=True)
class PullResult:
    """What a finished pull did."""

    reference: str
    layout: Path
    ref_name: str
    platform: str
    #: Digest of the manifest as stored in the layout (differs from the registry's for
    #: Docker images, which are stored with OCI media types).
    manifest_digest: str
    #: Digest of the manifest in the registry.
    source_digest: str
    blobs_total: int
    blobs_downloaded: int
    blobs_skipped: int
    bytes_total: int
    bytes_fetched: int
    seconds: float

    @property
    def rate(self) -> float:
        """Bytes per second transferred."""
        return self.bytes_fetched / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class PullFinished(PullEvent):
    """Everything verified and recorded in ``index.json``."""

    result: PullResult


class PullError(RegtuiError):
    """A pull stopped; the message names the blob(s) and the cause."""


EventSink = Callable[[PullEvent], None]


# Resolution -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedImage:
    """The image manifest chosen for a pull."""

    reference: Reference
    fetched: FetchedManifest
    manifest: ImageManifest
    platform: Platform | None
    #: The registry's index the manifest was chosen from, if any.
    index: FetchedManifest | None = None
    #: The verified config bytes (image manifests only) and their parsed form.
    config_raw: bytes | None = None
    config: ImageConfig | None = None


async def resolve_image(
    client: RegistryClient,
    ref: Reference,
    platform: Platform | None = None,
    *,
    fetched: FetchedManifest | None = None,
) -> ResolvedImage:
    """Follow index → manifest for ``platform`` (default: the host's).

    An explicit platform must match; without one, a single-platform image is taken as it
    is. Schema 1 and withdrawn artifact manifests are refused with a clear error.
    """
    wanted = platform or host_platform()
    top = fetched or await client.get_manifest(ref.repository, ref.ref)
    current, index, chosen_platform = top, None, None
    seen = {top.digest}
    for _ in range(4):  # an index of indexes is legal; loops are not
        manifest = current.manifest
        if isinstance(manifest, ImageIndex):
            entry = manifest.select(wanted)
            if entry is None:
                available = ", ".join(str(e.platform) for e in manifest.entries() if e.platform)
                raise PullError(f"{ref} has no {wanted} image (available: {available or 'none'})")
            digest = entry.descriptor.checked_digest()
            if digest in seen:
                raise ManifestError(f"{ref}: the index refers to itself ({digest[:19]}…)")
            seen.add(digest)
            index, chosen_platform = current, entry.platform
            current = await client.get_manifest(ref.repository, digest)
            continue
        if isinstance(manifest, LegacyManifest):
            raise PullError(f"{ref} is a Docker schema 1 manifest (legacy): shown, but not pulled")
        if isinstance(manifest, ArtifactManifest):
            raise PullError(f"{ref} uses the withdrawn OCI artifact manifest type: not pullable")
        for problem in manifest.problems:
            if problem.startswith("cannot verify"):
                raise PullError(f"{ref}: {problem}")
        config_raw, config = None, None
        if manifest.is_image:
            config_raw = await client.get_blob(ref.repository, manifest.config)
            with contextlib.suppress(ManifestError):
                config = parse_config(config_raw)
        if chosen_platform is None and config is not None and config.os:
            chosen_platform = config.platform
            if platform is not None and not chosen_platform.matches(platform):
                raise PullError(f"{ref} is a {chosen_platform} image, not {platform}")
        return ResolvedImage(
            reference=ref,
            fetched=current,
            manifest=manifest,
            platform=chosen_platform,
            index=index,
            config_raw=config_raw,
            config=config,
        )
    raise ManifestError(f"{ref}: indexes nested too deeply")


def plan_for(
    manifest: ImageManifest,
    *,
    reference: str,
    manifest_digest: str,
    platform: Platform | None,
) -> PullPlanned:
    """What pulling ``manifest`` downloads: one entry per distinct blob, config first.

    A layer may repeat and the config may equal a layer; each is fetched once. A progress
    view can show this before the pull starts (it is the ``PullPlanned`` the pull emits).
    """
    blobs: dict[str, tuple[Descriptor, str]] = {}
    for kind, desc in [("config", manifest.config)] + [("layer", x) for x in manifest.layers]:
        blobs.setdefault(desc.digest, (desc, kind))
    return PullPlanned(
        reference=reference,
        platform=str(platform) if platform else "-",
        manifest_digest=manifest_digest,
        blobs=tuple(d for d, _ in blobs.values()),
        kinds=tuple(k for _, k in blobs.values()),
    )


def default_output_dir(ref: Reference) -> Path:
    """``./<repo-name>_<tag>`` (or ``_<digest prefix>`` for a digest reference)."""
    name = ref.repository.rsplit("/", 1)[-1] or "image"
    suffix = ref.tag if ref.tag and not ref.digest else (ref.digest or "").split(":")[-1][:12]
    return Path(f"{name}_{suffix or 'latest'}")


def default_ref_name(ref: Reference) -> str:
    """The ``org.opencontainers.image.ref.name`` to record: the tag, or a digest prefix."""
    if ref.tag and not ref.digest:
        return ref.tag
    return (ref.digest or "latest").split(":")[-1][:12]


# Retries ------------------------------------------------------------------------------------
class _Retry(Exception):
    """Internal: a transient failure worth another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Cancelled(Exception):
    """Internal: the pull was cancelled."""


# Per-blob state shared between a worker thread and the sampler on the event loop ----------
@dataclass
class _Job:
    descriptor: Descriptor
    kind: str
    done: int = 0
    reported: int = -1
    active: bool = False
    fetched: int = 0
    stream: object | None = None
    error: str | None = None
    skipped: bool = False


@dataclass
class _Context:
    loop: asyncio.AbstractEventLoop
    emit: EventSink
    cancel: threading.Event = field(default_factory=threading.Event)

    def post(self, event: PullEvent) -> None:
        # Events cross from worker threads to the loop; never block a transfer on them.
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self.loop.call_soon_threadsafe(self.emit, event)


class Puller:
    """Downloads images into OCI layouts with a registry client.

    ``on_event`` receives :class:`PullEvent` objects on the event loop thread.
    """

    def __init__(
        self,
        client: RegistryClient,
        *,
        jobs: int = DEFAULT_JOBS,
        on_event: EventSink | None = None,
        retry: RetryPolicy | None = None,
        progress_interval: float = 0.1,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.client = client
        self.jobs = jobs
        self.on_event = on_event
        self.retry = retry or client.retry
        self.progress_interval = progress_interval
        self._loop: asyncio.AbstractEventLoop | None = None

    def _emit(self, event: PullEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a renderer bug must not break a pull
            import logging

            logging.getLogger("regtui.pull").exception("progress handler failed")

    async def pull(
        self,
        ref: Reference,
        dest: Path | str,
        *,
        platform: Platform | None = None,
        ref_name: str | None = None,
        resolved: ResolvedImage | None = None,
    ) -> PullResult:
        """Pull ``ref`` (for ``platform``) into the OCI layout at ``dest``."""
        started = time.monotonic()
        self._loop = asyncio.get_running_loop()
        image = resolved or await resolve_image(self.client, ref, platform)
        manifest = image.manifest
        for desc in (manifest.config, *manifest.layers):
            if desc.digest.split(":", 1)[0] not in DIGEST_ALGORITHMS:
                raise PullError(f"cannot verify digest algorithm of {desc.digest[:30]}")
        layout = OCILayout(dest)
        await asyncio.to_thread(layout.init)

        planned = plan_for(
            manifest,
            reference=str(ref),
            manifest_digest=image.fetched.digest,
            platform=image.platform,
        )
        jobs = {d.digest: _Job(d, k) for d, k in zip(planned.blobs, planned.kinds, strict=True)}
        platform_text = planned.platform
        self._emit(planned)
        pending = list(jobs.values())
        config_job = jobs.get(manifest.config.digest)
        if image.config_raw is not None and config_job is not None and config_job.kind == "config":
            # Already fetched and verified while resolving: store it without a second request.
            pending.remove(config_job)
            await asyncio.to_thread(self._store_config, layout, config_job, image.config_raw)
        await self._download_all(layout, ref.repository, pending)
        failures = [j for j in jobs.values() if j.error]
        if failures:
            detail = "; ".join(f"{j.descriptor.digest[:19]}: {j.error}" for j in failures[:3])
            more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
            raise PullError(f"{len(failures)} blob(s) failed: {detail}{more}")

        # Everything verified: store the manifest, then name it in index.json (last).
        name = ref_name or default_ref_name(ref)
        stored = image.fetched.descriptor()
        raw = image.fetched.raw
        if manifest.media_type == DOCKER_MANIFEST:
            raw = docker_to_oci(manifest)
            stored = Descriptor(
                OCI_MANIFEST,
                compute_digest(raw),
                len(raw),
                annotations={SOURCE_DIGEST_ANNOTATION: image.fetched.digest},
            )
        await asyncio.to_thread(layout.write_blob, raw, stored.digest)
        await asyncio.to_thread(layout.add_image, stored, name, image.platform)
        await asyncio.to_thread(layout.cleanup)
        result = PullResult(
            reference=str(ref),
            layout=layout.root,
            ref_name=name,
            platform=platform_text,
            manifest_digest=stored.digest,
            source_digest=image.fetched.digest,
            blobs_total=len(jobs),
            blobs_downloaded=sum(1 for j in jobs.values() if not j.skipped),
            blobs_skipped=sum(1 for j in jobs.values() if j.skipped),
            bytes_total=sum(j.descriptor.size for j in jobs.values()),
            bytes_fetched=sum(j.fetched for j in jobs.values()),
            seconds=time.monotonic() - started,
        )
        self._emit(PullFinished(result))
        return result

    def _store_config(self, layout: OCILayout, job: _Job, data: bytes) -> None:
        desc = job.descriptor
        if layout.has_blob(desc):
            job.skipped = True
            self._emit_threadsafe(BlobSkipped(desc.digest, desc.size))
            return
        layout.write_blob(data, desc.digest)
        job.fetched = len(data)
        self._emit_threadsafe(BlobDone(desc.digest, desc.size, len(data)))

    def _emit_threadsafe(self, event: PullEvent) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._emit, event)

    async def _download_all(self, layout: OCILayout, repository: str, jobs: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        ctx = _Context(loop=loop, emit=self._emit)
        base = await self.client.base_url()
        http = self.client.blob_http()
        # Longest first: the biggest layer is the critical path of the whole pull.
        order = sorted(jobs, key=lambda j: (j.kind != "config", -j.descriptor.size))
        executor = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="regtui-blob")
        submitted = [
            executor.submit(
                self._run_job,
                ctx,
                layout,
                http,
                f"{base}/v2/{repository}/blobs/{job.descriptor.digest}",
                job,
            )
            for job in order
        ]
        sampler = asyncio.create_task(self._sample(jobs))
        try:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in submitted))
        except BaseException:
            # Cancelled (Ctrl-C, a key in the TUI) or a bug: stop every transfer, and wait
            # for the threads to stop writing before the caller touches the layout.
            ctx.cancel.set()
            for future in submitted:
                future.cancel()
            for job in jobs:
                _abort(job.stream)
            await asyncio.shield(asyncio.to_thread(wait_futures, submitted))
            raise
        finally:
            sampler.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        self._flush_progress(jobs)

    async def _sample(self, jobs: list[_Job]) -> None:
        """Emit coalesced byte counts at most every ``progress_interval`` seconds."""
        while True:
            await asyncio.sleep(self.progress_interval)
            self._flush_progress(jobs)

    def _flush_progress(self, jobs: list[_Job]) -> None:
        for job in jobs:
            done = job.done
            if job.active and done != job.reported:
                job.reported = done
                self._emit(BlobProgress(job.descriptor.digest, done, job.descriptor.size))

    # Worker thread ------------------------------------------------------------------------------
    def _run_job(
        self, ctx: _Context, layout: OCILayout, http: httpx.Client, url: str, job: _Job
    ) -> None:
        desc = job.descriptor
        try:
            if ctx.cancel.is_set():
                raise _Cancelled()
            if layout.has_blob(desc):
                job.skipped = True
                ctx.post(BlobSkipped(desc.digest, desc.size))
                return
            _BlobDownload(self, ctx, layout, http, url, job).run()
        except _Cancelled:
            job.error = "cancelled"
        except RegtuiError as exc:
            job.error = str(exc)
            if isinstance(exc, DigestError):
                # Bad bytes are not worth resuming from.
                with contextlib.suppress(OSError):
                    layout.partial_path(desc.digest).unlink()
            ctx.post(BlobFailed(desc.digest, job.error))
        except OSError as exc:
            job.error = f"cannot write {exc.filename or 'file'}: {exc.strerror or exc}"
            ctx.post(BlobFailed(desc.digest, job.error))
        finally:
            job.active = False
            job.stream = None


class _BlobDownload:
    """One blob's transfer, with resume, retries and verification (runs in a thread)."""

    def __init__(
        self,
        puller: Puller,
        ctx: _Context,
        layout: OCILayout,
        http: httpx.Client,
        url: str,
        job: _Job,
    ) -> None:
        self.puller, self.ctx, self.layout, self.http, self.url, self.job = (
            puller,
            ctx,
            layout,
            http,
            url,
            job,
        )
        self.desc = job.descriptor
        self.algorithm = self.desc.digest.split(":", 1)[0]
        self.hasher = hashlib.new(self.algorithm)
        self.partial = layout.partial_path(self.desc.digest)
        self.started = False

    def run(self) -> None:
        size = self.desc.size
        with self._open_partial() as f:
            failures = 0
            restarted_for_digest = False
            while True:
                if self.ctx.cancel.is_set():
                    raise _Cancelled()
                if self.job.done < size:
                    before = self.job.done
                    try:
                        self._transfer(f)
                        if self.job.done < size:
                            raise _Retry("connection closed before the end of the blob")
                    except _Retry as retry:
                        if self.job.done > before:
                            failures = 0  # progress was made: a flaky link, not a dead one
                        failures += 1
                        self._wait_or_fail(failures, retry)
                        continue
                # All bytes are here: verify before anything is renamed into blobs/.
                self.ctx.post(BlobVerifying(self.desc.digest))
                actual = f"{self.algorithm}:{self.hasher.hexdigest()}"
                if self.job.done == size and actual == self.desc.digest:
                    break
                if restarted_for_digest:
                    raise DigestError(
                        f"blob {self.desc.digest[:19]} failed verification twice "
                        f"(got {actual[:19]}…): the registry is serving corrupt data"
                    )
                restarted_for_digest = True
                self._restart(f)
                self.ctx.post(
                    BlobRetrying(self.desc.digest, 1, 0.0, "digest mismatch, downloading again")
                )
        self.layout.commit_partial(self.desc.digest)
        self.ctx.post(BlobDone(self.desc.digest, size, self.job.fetched))

    @contextlib.contextmanager
    def _open_partial(self) -> Iterator[io.FileIO]:
        """Open the partial file, resuming (and re-hashing) what an earlier run left."""
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.partial, os.O_RDWR | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+b", buffering=0) as f:
            existing = os.fstat(fd).st_size
            if 0 < existing <= self.desc.size:
                buf = bytearray(1024 * 1024)
                view = memoryview(buf)
                while n := f.readinto(buf):
                    self.hasher.update(view[:n])
                self.job.done = existing
            elif existing:
                # Only when there is something to drop: on ext4, truncating a file (even
                # an empty one) makes close() start writeback of everything written to
                # it (auto_da_alloc), ~0.1 s per 400 MB on the critical path of a pull.
                f.truncate(0)
            f.seek(self.job.done)
            yield f

    def _restart(self, f: io.FileIO) -> None:
        f.truncate(0)
        f.seek(0)
        self.hasher = hashlib.new(self.algorithm)
        self.job.done = 0

    def _wait_or_fail(self, failures: int, retry: _Retry) -> None:
        policy = self.puller.retry
        if failures >= policy.attempts:
            raise NetworkError(f"{retry.reason} (gave up after {failures} attempts)")
        if retry.retry_after is not None and retry.retry_after > policy.max_retry_after:
            raise NetworkError(
                f"{retry.reason}; the registry asks to wait {retry.retry_after:.0f} s"
            )
        delay = policy.delay(failures, retry.retry_after)
        self.ctx.post(BlobRetrying(self.desc.digest, failures, delay, retry.reason))
        if self.ctx.cancel.wait(delay):
            raise _Cancelled()

    def _transfer(self, f: io.FileIO) -> None:
        """One request: stream what is missing into ``f``. Raises ``_Retry`` when transient."""
        size = self.desc.size
        offset = self.job.done
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self.http.stream("GET", self.url, headers=headers) as response:
                self.job.stream = response.extensions.get(READINTO_EXTENSION)
                status = response.status_code
                if status == 416 and offset:
                    read_error_body(response)
                    self._restart(f)
                    raise _Retry("the registry refused to resume; starting over")
                if not response.is_success:
                    body = read_error_body(response)
                    client = self.puller.client
                    error = error_from_response(
                        response, body, client.registry.host, client.has_credentials
                    )
                    if isinstance(error, RateLimitedError):
                        raise _Retry(str(error), error.retry_after)
                    if isinstance(error, ServerError) or status == 408:
                        raise _Retry(
                            str(error), parse_retry_after(response.headers.get("retry-after"))
                        )
                    raise error
                if offset and status == 206:
                    if not _content_range_ok(response.headers.get("content-range"), offset, size):
                        self._restart(f)
                        raise _Retry("the registry answered a different byte range; starting over")
                elif offset:
                    # 200 to a Range request: the whole blob is coming, start over with it.
                    self._restart(f)
                length = response.headers.get("content-length")
                if length and length.isdigit() and int(length) > size - self.job.done:
                    raise DigestError(
                        f"blob {self.desc.digest[:19]} is larger than its descriptor "
                        f"({int(length) + self.job.done} > {size} bytes): refused unread"
                    )
                if not self.started:
                    self.started = True
                    self.job.active = True
                    self.ctx.post(BlobStarted(self.desc.digest, size, offset=self.job.done))
                self._pump(response, f)
        except httpx.TransportError as exc:
            if self.ctx.cancel.is_set():
                raise _Cancelled() from None
            raise _Retry(str(describe_transport_error(exc, _host_of(exc, self.puller)))) from None
        finally:
            self.job.stream = None

    def _pump(self, response: httpx.Response, f: io.FileIO) -> None:
        """Copy the body into the partial file, hashing as it goes, never past ``size``."""
        size = self.desc.size
        raw = response.extensions.get(READINTO_EXTENSION)
        cancel = self.ctx.cancel
        job = self.job
        hasher = self.hasher
        write = f.write
        if raw is not None:
            buf = bytearray(READ_SIZE)
            view = memoryview(buf)
            while True:
                remaining = size - job.done
                # Ask for one byte more than expected at the end, to catch an oversized body.
                n = raw.readinto(view[: min(READ_SIZE, remaining + 1)])
                if not n:
                    return
                if n > remaining:
                    raise DigestError(
                        f"blob {self.desc.digest[:19]} is larger than its descriptor "
                        f"({size} bytes): cut off"
                    )
                chunk = view[:n]
                hasher.update(chunk)
                write(chunk)
                job.done += n
                job.fetched += n
                if cancel.is_set():
                    raise _Cancelled()
        else:
            for data in response.iter_raw():
                remaining = size - job.done
                if len(data) > remaining:
                    raise DigestError(
                        f"blob {self.desc.digest[:19]} is larger than its descriptor "
                        f"({size} bytes): cut off"
                    )
                hasher.update(data)
                write(data)
                job.done += len(data)
                job.fetched += len(data)
                if cancel.is_set():
                    raise _Cancelled()


def _content_range_ok(value: str | None, offset: int, size: int) -> bool:
    """``Content-Range: bytes START-END/TOTAL`` must start at ``offset`` and end at the end."""
    if not value or not value.startswith("bytes "):
        return False
    span, _, total = value[6:].partition("/")
    start, _, end = span.partition("-")
    try:
        if int(start) != offset:
            return False
        if end and int(end) != size - 1:
            return False
        return total in ("*", "") or int(total) == size
    except ValueError:
        return False


def _host_of(exc: httpx.TransportError, puller: Puller) -> str:
    """The host a transfer error came from (storage after a redirect, or the registry)."""
    try:
        return exc.request.url.netloc.decode("ascii")
    except RuntimeError:  # no request attached
        return puller.client.registry.host


def _abort(stream: object | None) -> None:
    abort = getattr(stream, "abort", None)
    if callable(abort):
        abort()


async def pull(
    client: RegistryClient,
    ref: Reference,
    dest: Path | str,
    *,
    platform: Platform | None = None,
    jobs: int = DEFAULT_JOBS,
    on_event: EventSink | None = None,
    ref_name: str | None = None,
) -> PullResult:
    """Convenience wrapper: ``Puller(client, jobs=..., on_event=...).pull(...)``."""
    puller = Puller(client, jobs=jobs, on_event=on_event)
    return await puller.pull(ref, dest, platform=platform, ref_name=ref_name)


__all__ = [
    "BlobDone",
    "BlobEvent",
    "BlobFailed",
    "BlobProgress",
    "BlobRetrying",
    "BlobSkipped",
    "BlobStarted",
    "BlobVerifying",
    "PullError",
    "PullEvent",
    "PullFinished",
    "PullPlanned",
    "PullResult",
    "Puller",
    "RegistryError",
    "ResolvedImage",
    "RetryPolicy",
    "default_output_dir",
    "plan_for",
    "pull",
    "resolve_image",
]


# Events as JSON lines, and pulls in a child process ----------------------------------------
_EVENT_TYPES: dict[str, type[PullEvent]] = {
    cls.__name__: cls
    for cls in (
        PullPlanned,
        BlobStarted,
        BlobProgress,
        BlobVerifying,
        BlobDone,
        BlobSkipped,
        BlobRetrying,
        BlobFailed,
        PullFinished,
    )
}


def event_to_json(event: PullEvent) -> str:
    """One line of JSON for ``event`` (``regtui pull --events json``)."""
    doc: dict[str, Any] = {"event": type(event).__name__}
    if isinstance(event, PullPlanned):
        doc |= {
            "reference": event.reference,
            "platform": event.platform,
            "manifest_digest": event.manifest_digest,
            "blobs": [
                {"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in event.blobs
            ],
            "kinds": list(event.kinds),
        }
    elif isinstance(event, PullFinished):
        result = dataclasses.asdict(event.result)
        result["layout"] = str(event.result.layout)
        doc["result"] = result
    else:
        doc |= dataclasses.asdict(event)
    return json.dumps(doc, separators=(",", ":"))


def event_from_json(line: str) -> PullEvent:
    """The event :func:`event_to_json` wrote (ValueError for anything else)."""
    doc = json.loads(line)
    if not isinstance(doc, dict):
        raise ValueError("not an event")
    cls = _EVENT_TYPES.get(str(doc.pop("event", "")))
    if cls is None:
        raise ValueError("unknown event")
    if cls is PullPlanned:
        blobs = tuple(Descriptor(b["mediaType"], b["digest"], int(b["size"])) for b in doc["blobs"])
        return PullPlanned(
            doc["reference"], doc["platform"], doc["manifest_digest"], blobs, tuple(doc["kinds"])
        )
    if cls is PullFinished:
        result = doc["result"]
        result["layout"] = Path(result["layout"])
        return PullFinished(PullResult(**result))
    return cls(**doc)


async def _stop_child(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    """SIGINT, then wait up to ``grace`` seconds (SIGKILL after), whatever cancels us."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    killed = False
    while proc.returncode is None:
        left = deadline - loop.time()
        if left <= 0 and not killed:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            killed, deadline = True, loop.time() + 2.0
            continue
        if left <= 0:
            return  # killed and still not reaped: give up waiting, never hang a quit
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), left)
        except (asyncio.CancelledError, TimeoutError):
            continue


#: Tells a pull child its parent's pid (regtui.pullworker: stop when it dies).
PULL_PARENT_ENV = "REGTUI_PULL_PARENT"


async def start_pull_process() -> asyncio.subprocess.Process:
    """Start a pull child ahead of time (``python -m regtui.pullworker``), for the next pull.

    Starting Python and importing the pull code costs ~0.3 s of a download's time; a UI
    that expects a download starts one early and passes it to :func:`pull_in_subprocess`.
    A child that is never given a job exits when its stdin closes (:func:`discard_pull_process`,
    or the parent's end of the pipe going away with the parent).
    """
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "regtui.pullworker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # A session of its own: with Linux autogroup scheduling (the desktop default)
        # the UI and the pull then share the CPU as two groups, so four transfer
        # threads no longer outnumber the UI's one, and the child lowers its group's
        # priority below the UI's (bench/tui_responsiveness.py). No terminal hang-up
        # reaches the child; it is stopped explicitly (_stop_child), by stdin closing
        # while it waits, or by its parent dying (regtui.pullworker).
        start_new_session=True,
        env={**os.environ, PULL_PARENT_ENV: str(os.getpid())},
    )


async def discard_pull_process(process: asyncio.subprocess.Process) -> None:
    """End a child from :func:`start_pull_process` that will not be given a job."""
    if process.returncode is None and process.stdin is not None:
        process.stdin.close()  # no job: it exits by itself
    try:
        await asyncio.wait_for(process.wait(), 2.0)
    except TimeoutError:  # still importing, or stuck: not worth waiting for
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _hand_job(
    process: asyncio.subprocess.Process, args: list[str], secret: bytes
) -> asyncio.subprocess.Process | None:
    """Give a waiting child its job; None when it is gone (the caller starts a new one)."""
    if process.returncode is not None or process.stdin is None:
        await discard_pull_process(process)
        return None
    try:
        process.stdin.write(json.dumps(args).encode() + b"\n" + secret)
        await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        await discard_pull_process(process)
        return None
    return process


async def pull_in_subprocess(
    ref: Reference,
    dest: Path,
    *,
    ref_name: str,
    platform: Platform | None,
    jobs: int,
    options: TransportOptions,
    credential: Credential | None,
    on_event: EventSink,
    process: asyncio.subprocess.Process | None = None,
) -> PullResult:
    """Run ``regtui pull --events json`` in a child process and relay its events.

    Why a process: blob threads and a UI in one interpreter share the GIL, and a busy UI
    (redrawing after a key) held every transfer up, while the transfers made keys slow
    to answer. In a child, the pull is exactly ``regtui pull``. ``ref`` should name the
    manifest by digest (what the user browsed), with ``ref_name`` as the tag to record.
    Credentials typed by the user go through the child's stdin, never its arguments;
    the child finds file-based credentials itself. Cancelling interrupts the child like
    Ctrl-C, which leaves the layout valid and partial downloads resumable.

    ``process``, from :func:`start_pull_process`, is a child already started and waiting
    for its job (one that has died meanwhile is replaced by a new one).
    """
    args = ["pull", "--events", "json", "-q"]
    args += ["-o", str(dest), "--name", ref_name, "-j", str(jobs)]
    if platform is not None:
        args += ["--platform", str(platform)]
    if options.insecure:
        args.append("--insecure")
    if options.ca_file:
        args += ["--ca-file", options.ca_file]
    args += ["--connect-timeout", str(options.timeouts.connect)]
    args += ["--read-timeout", str(options.timeouts.read)]
    secret = b""
    if credential is not None and credential.has_basic:
        args += ["--username", credential.username or "", "--password-stdin"]
        secret = (credential.password or "").encode() + b"\n"
    args.append(str(ref))
    proc = await _hand_job(process, args, secret) if process is not None else None
    if proc is None:
        proc = await _hand_job(await start_pull_process(), args, secret)
        if proc is None:
            raise PullError("the pull process exited before it was given its job")
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read())
    result: PullResult | None = None
    try:
        async for raw in proc.stdout:
            try:
                event = event_from_json(raw.decode())
            except (ValueError, KeyError, TypeError):
                continue  # not ours (nothing else is printed, but be lenient)
            if isinstance(event, PullFinished):
                result = event.result
            on_event(event)
        await proc.wait()
    except BaseException:
        # Cancelled: stop the child as Ctrl-C would (it tidies up), and see it out even if
        # cancelled again meanwhile (an app quitting cancels everything once more).
        await _stop_child(proc)
        errors.cancel()
        raise
    stderr = (await errors).decode(errors="replace")
    if proc.returncode != 0 or result is None:
        lines = [line for line in stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else f"the pull process exited with {proc.returncode}"
        raise PullError(message.removeprefix("regtui: error: "))
    return result

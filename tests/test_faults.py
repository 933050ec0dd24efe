"""The fault table: every fault the proxy can inject, against the real registry.

For each fault, a pull either completes with every blob verified, or stops with one clear
error that names the blob and the cause. Whatever happens, a watcher running during the
pull never sees a file under ``blobs/`` that does not match its name, nor an
``index.json`` naming an image before all of its blobs are in place; and when the server
honours ``Range``, the bytes fetched again after a cut are only the missing ones.

Also here: the ``jobs`` limit on a pull of 100 small layers, and faults on metadata
(catalog, tags, manifests, configs) through the CLI, which must retry and succeed or fail
with one line.

``tests/test_pull.py`` already covers the basic resume, ignore-Range, flip, extra bytes,
429/503, cancel and SIGKILL cases; the table below extends them to other offsets, other
blobs (small layers, the config), persistent faults, stalls, redirects, closes and throttles.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.faultproxy import Fault, FaultProxy
from support.images import SeededImage, blob_path
from support.registry import RunningRegistry
from support.seed import RegistryHandle, push_blob, put_manifest, registry_client

from regtui.core.client import RegistryClient, RetryPolicy, Timeouts, TransportOptions
from regtui.core.errors import RegtuiError
from regtui.core.manifest import parse_platform
from regtui.core.pull import BlobRetrying, Puller, PullEvent, PullResult
from regtui.core.reference import parse_reference

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
#: A short read timeout, so stalls are detected in a second.
OPTIONS = TransportOptions(timeouts=Timeouts(connect=2.0, read=1.0), retry=FAST)
PLATFORM = "linux/amd64"


# Invariants, checked while the pull runs and after it --------------------------------------
def _blob_digest(path: Path) -> str:
    h = hashlib.new(path.parent.name)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"{path.parent.name}:{h.hexdigest()}"


class LayoutWatcher:
    """Scans a layout every few milliseconds while a pull runs.

    Records any file under ``blobs/`` whose content does not match its name, and any moment
    at which ``index.json`` names an image while one of ``required`` is not yet in
    ``blobs/``. Each file version (inode, size, mtime) is hashed once.
    """

    def __init__(self, root: Path, required: set[str]) -> None:
        self.root = root
        self.required = required
        self.problems: list[str] = []
        self.scans = 0
        self._checked: set[tuple[str, int, int, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LayoutWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.scan()  # the final state counts too

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(0.005)

    def scan(self) -> None:
        self.scans += 1
        # index.json first: blobs are never removed, so anything it names must be found below.
        try:
            entries = json.loads((self.root / "index.json").read_bytes())["manifests"]
        except (FileNotFoundError, ValueError):
            entries = []
        present: set[str] = set()
        for root, _dirs, files in os.walk(self.root / "blobs"):
            for name in files:
                path = Path(root) / name
                try:
                    st = path.stat()
                    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
                    if key not in self._checked:
                        actual = _blob_digest(path)
                        if actual != f"{path.parent.name}:{name}":
                            self.problems.append(f"{path} holds {actual}")
                        self._checked.add(key)
                except FileNotFoundError:
                    continue  # replaced or removed between listing and reading
                present.add(f"{path.parent.name}:{name}")
        if entries and not self.required <= present:
            missing = sorted(self.required - present)
            self.problems.append(f"index.json names an image while {missing} are missing")


def index_entries(layout: Path) -> list[dict[str, Any]]:
    path = layout / "index.json"
    if not path.exists():
        return []
    entries = json.loads(path.read_text())["manifests"]
    assert isinstance(entries, list)
    return entries


def blob_files(layout: Path) -> set[str]:
    folder = layout / "blobs" / "sha256"
    return {f"sha256:{p.name}" for p in folder.iterdir()} if folder.is_dir() else set()


# The table ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Blob:
    digest: str
    size: int


@dataclass
class Env:
    """What a fault case may refer to."""

    registry: RegistryHandle
    proxy: FaultProxy
    origin: FaultProxy  # another origin (127.0.0.2) serving the same bytes
    dead: str  # http://127.0.0.2:PORT where nothing listens
    big: Blob  # the ~3 MiB layer
    small: Blob  # the smallest layer
    config: Blob
    image: SeededImage
    required: set[str] = field(default_factory=set)

    def bytes_sent(self, blob: Blob, proxy: FaultProxy | None = None) -> int:
        return sum(r.body_bytes for r in (proxy or self.proxy).requests(blob.digest))


@dataclass
class Outcome:
    result: PullResult | None
    error: RegtuiError | None
    events: list[PullEvent]
    seconds: float

    def retries(self, blob: Blob) -> list[BlobRetrying]:
        return [e for e in self.events if isinstance(e, BlobRetrying) and e.digest == blob.digest]


Faults = Callable[[Env], list[Fault]]
Check = Callable[[Env, Outcome], None]


def only_missing_bytes_refetched(blob: str, cut_at: int) -> Check:
    """After a cut at ``cut_at``, the resumed request asks for exactly the rest."""

    def check(env: Env, out: Outcome) -> None:
        target: Blob = getattr(env, blob)
        requests = env.proxy.requests(target.digest)
        assert [r.status for r in requests] == [200, 200 if cut_at == 0 else 206], requests
        assert requests[0].body_bytes == cut_at
        if cut_at:
            assert requests[1].headers.get("Range") == f"bytes={cut_at}-"
        else:
            assert "Range" not in requests[1].headers  # nothing to resume from
        assert env.bytes_sent(target) == target.size  # nothing fetched twice

    return check


def requested_times(blob: str, count: int) -> Check:
    def check(env: Env, out: Outcome) -> None:
        assert len(env.proxy.requests(getattr(env, blob).digest)) == count

    return check


def retried_after(blob: str, low: float, high: float) -> Check:
    """The blob was retried once, after a delay the server's ``Retry-After`` set."""

    def check(env: Env, out: Outcome) -> None:
        [retry] = out.retries(getattr(env, blob))
        assert low <= retry.delay <= high, retry
        assert out.seconds >= low

    return check


def stall_was_cut_short(env: Env, out: Outcome) -> None:
    # Retried after the 1 s read timeout, not after the 5 s the server stayed silent.
    assert 1.0 <= out.seconds < 4.0
    first, second = env.proxy.requests(env.big.digest)
    assert first.fault == "stall" and first.body_bytes == 500_000
    # Resumed from what was on disk (see test_stall_refetches_nothing_received for the
    # bytes that were received but not yet written).
    offset = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= 500_000
    assert second.status == 206 and second.body_bytes == env.big.size - offset


def served_by_origin(env: Env, out: Outcome) -> None:
    assert {r.status for r in env.proxy.requests(env.big.digest)} == {307}
    assert env.bytes_sent(env.big, env.origin) == env.big.size


def origin_resumed_with_range(env: Env, out: Outcome) -> None:
    first, second = env.origin.requests(env.big.digest)
    assert first.fault == "cut" and first.body_bytes == 1_000_000
    assert second.headers.get("Range") == "bytes=1000000-" and second.status == 206
    assert env.bytes_sent(env.big, env.origin) == env.big.size


def restarted_whole(env: Env, out: Outcome) -> None:
    first, second = env.proxy.requests(env.small.digest)
    assert second.headers.get("Range") == f"bytes={first.body_bytes}-"
    assert second.status == 200 and second.body_bytes == env.small.size


def persistent_cuts_resume_each_time(env: Env, out: Outcome) -> None:
    requests = env.proxy.requests(env.big.digest)
    assert len(requests) == -(-env.big.size // 1_000_000)  # ceil: 1 MB per attempt
    assert env.bytes_sent(env.big) == env.big.size


def gave_up_quickly(env: Env, out: Outcome) -> None:
    assert out.seconds < 5, "a Retry-After far in the future is reported, not waited on"


@dataclass(frozen=True)
class Case:
    faults: Faults
    #: "ok": completes; "error": stops with a clear error; "either": whichever, but sound.
    expect: str
    #: For errors: a regex the message must match (besides naming the blob).
    cause: str = ""
    #: The blob the error must name (attribute of Env).
    blob: str = "big"
    check: Check | None = None


def http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


CASES: dict[str, Any] = {
    # cut: at 0 bytes, 1 byte, mid-way, before the last byte, after the last byte; on each blob
    "cut-big-at-0": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=0)],
        "ok",
        check=only_missing_bytes_refetched("big", 0),
    ),
    "cut-big-at-1": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=1)],
        "ok",
        check=only_missing_bytes_refetched("big", 1),
    ),
    "cut-big-mid": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=1_500_000)],
        "ok",
        check=only_missing_bytes_refetched("big", 1_500_000),
    ),
    "cut-big-before-last-byte": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=e.big.size - 1)],
        "ok",
        check=lambda e, o: only_missing_bytes_refetched("big", e.big.size - 1)(e, o),
    ),
    "cut-big-after-last-byte": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=e.big.size)],
        "ok",
        check=requested_times("big", 1),
    ),
    "cut-small-mid": Case(
        lambda e: [Fault("cut", path=e.small.digest, after=e.small.size // 2)],
        "ok",
        check=lambda e, o: only_missing_bytes_refetched("small", e.small.size // 2)(e, o),
    ),
    "cut-big-every-1MB": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=1_000_000, times=None)],
        "ok",
        check=persistent_cuts_resume_each_time,
    ),
    "cut-big-always-at-0": Case(
        lambda e: [Fault("cut", path=e.big.digest, after=0, times=None)],
        "error",
        cause=r"(closed|broke).*gave up after 3 attempts",
    ),
    "cut-config-mid": pytest.param(
        Case(lambda e: [Fault("cut", path=e.config.digest, after=100)], "ok"),
    ),
    # flip: a corrupt byte is caught by the digest; once is retried, always is refused
    "flip-small-first-byte": Case(
        lambda e: [Fault("flip", path=e.small.digest, at=0)],
        "ok",
        check=requested_times("small", 2),
    ),
    "flip-big-last-byte": Case(
        lambda e: [Fault("flip", path=e.big.digest, at=e.big.size - 1)], "ok"
    ),
    "flip-small-always": Case(
        lambda e: [Fault("flip", path=e.small.digest, at=3, times=None)],
        "error",
        cause="failed verification",
        blob="small",
    ),
    "flip-config": Case(
        lambda e: [Fault("flip", path=e.config.digest, at=3)],
        "either",
        cause="failed verification",
        blob="config",
    ),
    # 5xx: retried; persistent ones give up naming the status
    "500-big-once": Case(lambda e: [Fault("status", path=e.big.digest, status=500)], "ok"),
    "502-small-once": Case(lambda e: [Fault("status", path=e.small.digest, status=502)], "ok"),
    "503-config-once": Case(lambda e: [Fault("status", path=e.config.digest, status=503)], "ok"),
    "503-small-always": Case(
        lambda e: [Fault("status", path=e.small.digest, status=503, times=None)],
        "error",
        cause=r"HTTP 503.*gave up after 3 attempts",
        blob="small",
    ),
    "500-config-always": Case(
        lambda e: [
            Fault(
                "status",
                path=e.config.digest,
                status=500,
                headers={"Retry-After": "0"},
                times=None,
            )
        ],
        "error",
        cause=r"HTTP 500",
        blob="config",
    ),
    # 429: Retry-After in seconds and as an HTTP date is honoured; a huge one is reported
    "429-big-retry-after-seconds": Case(
        lambda e: [Fault("status", path=e.big.digest, status=429, headers={"Retry-After": "1"})],
        "ok",
        check=retried_after("big", 1.0, 1.0),
    ),
    "429-big-retry-after-date": Case(
        lambda e: [
            Fault("status", path=e.big.digest, status=429, headers={"Retry-After": http_date(2)})
        ],
        "ok",
        # One-second resolution: "2 s from now" is 1-2 s away; the test's fast backoff
        # (at most 0.05 s) would be far shorter had the date been ignored.
        check=retried_after("big", 0.5, 2.0),
    ),
    "429-small-retry-after-an-hour": Case(
        lambda e: [
            Fault(
                "status",
                path=e.small.digest,
                status=429,
                headers={"Retry-After": "3600"},
                times=None,
            )
        ],
        "error",
        cause=r"HTTP 429.*asks to wait 3600 s",
        blob="small",
        check=gave_up_quickly,
    ),
    "429-config-retry-after-seconds": Case(
        lambda e: [Fault("status", path=e.config.digest, status=429, headers={"Retry-After": "1"})],
        "ok",
    ),
    "429-config-retry-after-an-hour": Case(
        lambda e: [
            Fault(
                "status",
                path=e.config.digest,
                status=429,
                headers={"Retry-After": "3600"},
                times=None,
            )
        ],
        "error",
        cause=r"HTTP 429",
        blob="config",
        check=gave_up_quickly,
    ),
    # stall: longer than the 1 s read timeout
    "stall-big-mid": Case(
        lambda e: [Fault("stall", path=e.big.digest, after=500_000, seconds=5)],
        "ok",
        check=stall_was_cut_short,
    ),
    "stall-small-always": Case(
        lambda e: [Fault("stall", path=e.small.digest, after=0, seconds=5, times=None)],
        "error",
        cause=r"read timeout.*gave up after 3 attempts",
        blob="small",
    ),
    "stall-config": pytest.param(
        Case(lambda e: [Fault("stall", path=e.config.digest, after=100, seconds=5)], "ok"),
    ),
    # ignore Range: a resumed request answered 200 with the whole blob starts over
    "ignore-range-small": Case(
        lambda e: [
            Fault("cut", path=e.small.digest, after=e.small.size // 3),
            Fault("ignore_range", path=e.small.digest),
        ],
        "ok",
        check=restarted_whole,
    ),
    # extra bytes: with a truthful Content-Length they are never read; a lying one is refused
    "extra-big-true-length": Case(
        lambda e: [Fault("extra", path=e.big.digest, count=4096, times=None)], "ok"
    ),
    "extra-config-true-length": Case(
        lambda e: [Fault("extra", path=e.config.digest, count=4096, times=None)], "ok"
    ),
    "extra-small-lying-length": Case(
        lambda e: [Fault("extra", path=e.small.digest, count=1, lie_length=True, times=None)],
        "error",
        cause="larger than its descriptor",
        blob="small",
    ),
    "extra-config-lying-length": Case(
        lambda e: [Fault("extra", path=e.config.digest, count=1, lie_length=True, times=None)],
        "error",
        cause="larger than its descriptor",
        blob="config",
    ),
    # redirect to another origin (127.0.0.2) serving the same bytes, or to a dead one
    "redirect-big-to-origin": Case(
        lambda e: [
            Fault(
                "redirect",
                path=e.big.digest,
                times=None,
                location=lambda p: e.origin.url + p,
            )
        ],
        "ok",
        check=served_by_origin,
    ),
    "redirect-all-blobs-origin-cuts": Case(
        lambda e: (
            e.origin.add(Fault("cut", path=e.big.digest, after=1_000_000))
            and [Fault("redirect", times=None, location=lambda p: e.origin.url + p)]
        ),
        "ok",
        check=origin_resumed_with_range,
    ),
    "redirect-big-to-dead-origin": Case(
        lambda e: [Fault("redirect", path=e.big.digest, times=None, location=lambda p: e.dead + p)],
        "error",
        cause=r"refused.*gave up after 3 attempts",
    ),
    # the server closes the connection after every answer (metadata and blobs)
    "close-after-every-response": Case(lambda e: [Fault("close", path=r"/v2/", times=None)], "ok"),
    # a slow link
    "throttle-all-blobs": Case(lambda e: [Fault("throttle", rate=8_000_000, times=None)], "ok"),
}


@pytest.fixture
def env(registry: RegistryHandle) -> Iterator[Env]:
    image = registry.images["multi"]
    seeded = image.manifests[PLATFORM]
    big = max(seeded.layers, key=lambda layer: layer.size)
    small = min(seeded.layers, key=lambda layer: layer.size)
    assert big.size > 2_000_000 and small.size < 200_000
    with (
        FaultProxy(registry.url) as proxy,
        FaultProxy(registry.url, host="127.0.0.2") as origin,
    ):
        yield Env(
            registry=registry,
            proxy=proxy,
            origin=origin,
            dead=f"http://127.0.0.2:{_closed_port('127.0.0.2')}",
            big=Blob(big.digest, big.size),
            small=Blob(small.digest, small.size),
            config=Blob(seeded.config_digest, seeded.config_size),
            image=image,
            required={seeded.digest, seeded.config_digest, *(x.digest for x in seeded.layers)},
        )


def _closed_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def pull_through(env: Env, dest: Path) -> Outcome:
    events: list[PullEvent] = []
    ref = parse_reference(f"{env.proxy.host}/{env.image.reference}")
    started = time.monotonic()
    result = error = None
    async with RegistryClient(ref.registry, options=OPTIONS) as client:
        puller = Puller(client, jobs=4, on_event=events.append, retry=FAST)
        try:
            result = await asyncio.wait_for(
                puller.pull(ref, dest, platform=parse_platform(PLATFORM)), 60
            )
        except RegtuiError as exc:
            error = exc
    return Outcome(result, error, events, time.monotonic() - started)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_fault_table(env: Env, tmp_path: Path, case: Case) -> None:
    for fault in case.faults(env):
        env.proxy.add(fault)
    dest = tmp_path / "layout"
    with LayoutWatcher(dest, env.required) as watcher:
        out = await pull_through(env, dest)

    assert watcher.scans > 1
    assert watcher.problems == []
    if out.error is None:
        assert case.expect in ("ok", "either"), f"expected an error matching {case.cause!r}"
        # Complete: every blob verified on disk and the image named in index.json.
        assert env.required <= blob_files(dest)
        [entry] = index_entries(dest)
        assert entry["digest"] == env.image.manifests[PLATFORM].digest
        assert not (dest / ".regtui-partial").exists()
    else:
        assert case.expect in ("error", "either"), f"pull failed: {out.error}"
        message = str(out.error)
        assert "\n" not in message and len(message) < 500, message
        digest = getattr(env, case.blob).digest
        assert digest[:19] in message, f"the error does not name the blob: {message}"
        assert case.cause, "an error case needs a cause"
        assert re.search(case.cause, message), message
        assert index_entries(dest) == []  # nothing named when something failed
        assert digest not in blob_files(dest)
    if case.check is not None:
        case.check(env, out)


async def test_error_names_the_redirect_target_that_refused(env: Env, tmp_path: Path) -> None:
    env.proxy.add(
        Fault("redirect", path=env.big.digest, times=None, location=lambda p: env.dead + p)
    )
    out = await pull_through(env, tmp_path / "layout")
    assert out.error is not None
    message = str(out.error)
    assert "refused" in message
    # The registry answered fine; the storage it redirected to did not. Say which.
    assert env.dead.removeprefix("http://") in message, message


async def test_stall_refetches_nothing_received(env: Env, tmp_path: Path) -> None:
    env.proxy.add(Fault("stall", path=env.big.digest, after=500_000, seconds=5))
    out = await pull_through(env, tmp_path / "layout")
    assert out.error is None
    first, second = env.proxy.requests(env.big.digest)
    assert first.body_bytes == 500_000
    # All 500,000 bytes reached the client before the stall: none should be asked again.
    assert second.headers.get("Range") == "bytes=500000-"


async def test_slow_transfer_reports_progress_as_bytes_arrive(env: Env, tmp_path: Path) -> None:
    # 150 kB/s in 64 KiB chunks: a 256 KiB read fills after 1.3 s; progress must move sooner.
    env.proxy.add(Fault("throttle", path=env.big.digest, rate=150_000))
    moved = asyncio.Event()

    def on_event(event: PullEvent) -> None:
        if getattr(event, "digest", None) == env.big.digest and getattr(event, "done", 0) > 0:
            moved.set()

    ref = parse_reference(f"{env.proxy.host}/{env.image.reference}")
    async with RegistryClient(ref.registry, options=OPTIONS) as client:
        puller = Puller(client, on_event=on_event, retry=FAST, progress_interval=0.05)
        task = asyncio.create_task(
            puller.pull(ref, tmp_path / "layout", platform=parse_platform(PLATFORM))
        )
        try:
            await asyncio.wait_for(moved.wait(), 1.0)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


# The jobs limit ---------------------------------------------------------------------------------
def seed_in_parallel(running: RunningRegistry, image: SeededImage) -> None:
    """``seed_image`` for a single-manifest image, its blob uploads 8 at a time."""
    [seeded] = image.manifests.values()
    with registry_client(running) as client, ThreadPoolExecutor(8) as pool:
        digests = [seeded.config_digest, *(layer.digest for layer in seeded.layers)]
        uploads = [
            pool.submit(push_blob, client, image.repo, d, blob_path(image.layout, d).read_bytes())
            for d in digests
        ]
        for upload in uploads:
            upload.result()
        put_manifest(client, image.repo, image.tag, image.raw, image.media_type)


def test_pull_of_100_layers_keeps_to_the_jobs_limit(
    registry_factory: Callable[..., RunningRegistry],
    oci_image_builder: Callable[..., SeededImage],
    tmp_path: Path,
) -> None:
    running = registry_factory()
    image = oci_image_builder(repo="many/layers", tag="1", layer_sizes=[64 + i for i in range(100)])
    seed_in_parallel(running, image)
    [seeded] = image.manifests.values()
    assert len({layer.digest for layer in seeded.layers}) == 100

    with FaultProxy(running.url) as proxy:
        # Each blob answer waits a little, so that overlapping downloads really overlap.
        proxy.add(Fault("delay", seconds=0.03, times=None))
        dest = tmp_path / "layout"

        async def run() -> PullResult:
            ref = parse_reference(f"{proxy.host}/{image.reference}")
            async with RegistryClient(ref.registry, options=OPTIONS) as client:
                return await Puller(client, jobs=3, retry=FAST).pull(ref, dest)

        result = asyncio.run(run())

    assert result.blobs_downloaded == 101  # 100 layers and the config
    # The config is read on its own while resolving; then 100 layer GETs, 3 at a time.
    assert len(proxy.requests()) == 101
    assert proxy.max_in_flight == 3
    assert {layer.digest for layer in seeded.layers} <= blob_files(dest)


# Metadata faults through the CLI ------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment without the user's credentials, proxies or debug switches."""
    env = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower()
        and not k.startswith(("REGTUI_", "DOCKER_", "XDG_"))
        and k != "REGISTRY_AUTH_FILE"
    }
    env["HOME"] = str(tmp_path / "home")
    return env


def run_cli(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "regtui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    return proc, time.monotonic() - started


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regtui: error: "), stderr
    return lines[0].removeprefix("regtui: error: ")


@pytest.fixture
def proxy(registry: RegistryHandle) -> Iterator[FaultProxy]:
    with FaultProxy(registry.url) as p:
        yield p


def test_ls_catalog_retries_5xx_and_a_cut_later_page(
    registry: RegistryHandle, proxy: FaultProxy, cli_env: dict[str, str]
) -> None:
    proxy.add(Fault("status", path=r"/v2/_catalog", status=503))
    # The second page (it carries last=) is cut mid-body once.
    proxy.add(Fault("cut", path=r"/v2/_catalog\?.*last=", after=200))
    proc, _ = run_cli(cli_env, "ls", proxy.host)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    # Every repository exactly once: the retried page is not printed twice.
    assert proc.stdout.splitlines() == registry.all_repos
    catalog = proxy.requests(r"/v2/_catalog")
    assert [r.fault for r in catalog] == ["status", None, "cut", None]


def test_ls_tags_retries_a_502_and_a_stall(
    registry: RegistryHandle, proxy: FaultProxy, cli_env: dict[str, str]
) -> None:
    proxy.add(Fault("status", path=r"/tags/list", status=502, headers={"Retry-After": "0"}))
    proxy.add(Fault("stall", path=r"/tags/list", after=20, seconds=5))
    proc, seconds = run_cli(
        cli_env, "ls", f"{proxy.host}/{registry.manytags_repo}", "--read-timeout", "1"
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == registry.manytags
    assert seconds < 4.5, "the stalled answer was waited on instead of retried"


def test_inspect_retries_manifest_and_config_faults(
    registry: RegistryHandle, proxy: FaultProxy, cli_env: dict[str, str]
) -> None:
    image = registry.images["multi"]
    seeded = image.manifests["linux/arm64/v8"]
    proxy.add(Fault("status", path=r"/manifests/", status=500))
    proxy.add(Fault("cut", path=r"/manifests/", after=50))
    proxy.add(Fault("status", path=r"/manifests/sha256:", status=429, headers={"Retry-After": "0"}))
    proxy.add(Fault("status", path=seeded.config_digest, status=503))
    proc, _ = run_cli(
        cli_env, "inspect", f"{proxy.host}/{image.reference}", "--platform", "linux/arm64"
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"^Digest: +{seeded.digest}$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Platform: +linux/arm64/v8$", proc.stdout, re.M), proc.stdout
    assert all(f.fired == 1 for f in proxy.faults)


def test_persistent_catalog_error_is_one_line(proxy: FaultProxy, cli_env: dict[str, str]) -> None:
    proxy.add(
        Fault("status", path="/v2/_catalog", status=500, headers={"Retry-After": "0"}, times=None)
    )
    proc, seconds = run_cli(cli_env, "ls", proxy.host)
    assert proc.returncode == 1
    message = one_error_line(proc.stderr)
    assert message.startswith("server error (HTTP 500") and "/v2/_catalog" in message
    assert proc.stdout == ""
    assert len(proxy.requests("/v2/_catalog")) == 4  # the default policy: 4 attempts
    assert seconds < 10


async def test_persistently_cut_manifest_gives_up_with_one_line(
    registry: RegistryHandle, proxy: FaultProxy
) -> None:
    # In process with a fast policy (the CLI's default backoff would add 3.5 s here).
    proxy.add(Fault("cut", path=r"/manifests/", after=30, times=None))
    image = registry.images["single"]
    async with RegistryClient(proxy.host, options=OPTIONS) as client:
        with pytest.raises(RegtuiError) as info:
            await client.get_manifest(image.repo, image.tag)
    message = str(info.value)
    assert "\n" not in message and ("broke" in message or "closed" in message), message
    assert len(proxy.requests("/manifests/")) == FAST.attempts


def test_inspect_retries_a_cut_config(
    registry: RegistryHandle, proxy: FaultProxy, cli_env: dict[str, str]
) -> None:
    image = registry.images["single"]
    proxy.add(Fault("cut", path=image.manifests[PLATFORM].config_digest, after=100))
    proc, _ = run_cli(cli_env, "inspect", f"{proxy.host}/{image.reference}")
    assert proc.returncode == 0, proc.stderr
    assert "Platform:" in proc.stdout

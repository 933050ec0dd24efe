"""The pull engine against a real registry: layouts skopeo accepts, skipping, resume, faults."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.faultproxy import Fault, FaultProxy
from support.images import SeededImage, SeededManifest
from support.registry import skopeo
from support.seed import RegistryHandle

from regtui.core.client import RegistryClient, RetryPolicy, TransportOptions, connect
from regtui.core.errors import RegtuiError
from regtui.core.manifest import parse_platform
from regtui.core.pull import (
    BlobDone,
    BlobProgress,
    BlobRetrying,
    BlobSkipped,
    Puller,
    PullError,
    PullEvent,
    PullFinished,
    PullPlanned,
    discard_pull_process,
    event_from_json,
    pull_in_subprocess,
    start_pull_process,
)
from regtui.core.reference import parse_reference
from regtui.pullworker import BACKGROUND_NICE

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def _blob_files(layout: Path) -> dict[str, Path]:
    return {f"sha256:{p.name}": p for p in (layout / "blobs" / "sha256").iterdir() if p.is_file()}


def assert_layout_sound(layout: Path) -> None:
    """Every file under blobs/ matches its name; nothing else lives there."""
    for root, _dirs, files in os.walk(layout / "blobs"):
        for name in files:
            path = Path(root) / name
            algorithm = path.parent.name
            assert algorithm == "sha256", path
            assert hashlib.sha256(path.read_bytes()).hexdigest() == name, f"{path} is corrupt"


def partial_file(layout: Path, digest: str) -> Path:
    """Where regtui keeps an unfinished blob (spelt out: the tests check the format)."""
    return layout / ".regtui-partial" / f"sha256-{digest.split(':')[1]}"


def index_entries(layout: Path) -> list[dict[str, object]]:
    doc = json.loads((layout / "index.json").read_text())
    entries = doc["manifests"]
    assert isinstance(entries, list)
    return entries


def expected_blobs(manifest: SeededManifest) -> set[str]:
    return {manifest.digest, manifest.config_digest, *(layer.digest for layer in manifest.layers)}


def override_args(platform: str) -> list[str]:
    os_name, arch, *variant = platform.split("/")
    args = ["--override-os", os_name, "--override-arch", arch]
    if variant:
        args += ["--override-variant", variant[0]]
    return args


async def run_pull(
    host: str,
    reference: str,
    dest: Path,
    platform: str | None = None,
    *,
    jobs: int = 4,
    retry: RetryPolicy = FAST_RETRY,
) -> tuple[object, list[PullEvent]]:
    events: list[PullEvent] = []
    ref = parse_reference(f"{host}/{reference}")
    async with connect(ref.registry) as client:
        puller = Puller(client, jobs=jobs, on_event=events.append, retry=retry)
        result = await puller.pull(
            ref, dest, platform=parse_platform(platform) if platform else None
        )
    return result, events


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"])
async def test_pull_each_platform_of_an_oci_index(
    registry: RegistryHandle, tmp_path: Path, platform: str
) -> None:
    image = registry.images["multi"]
    seeded = image.manifests[platform]
    result, _ = await run_pull(registry.host, image.reference, tmp_path / "out", platform)

    blobs = _blob_files(tmp_path / "out")
    assert expected_blobs(seeded) <= set(blobs)
    assert_layout_sound(tmp_path / "out")
    [entry] = index_entries(tmp_path / "out")
    assert entry["digest"] == seeded.digest
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": image.tag}
    assert result.platform == platform  # type: ignore[attr-defined]
    # An independent tool accepts the layout and sees the same image.
    shown = json.loads(
        skopeo("inspect", *override_args(platform), f"oci:{tmp_path / 'out'}:1.0").stdout
    )
    assert shown["Digest"] == seeded.digest
    assert shown["Layers"] == [layer.digest for layer in seeded.layers]


@pytest.mark.parametrize("name", ["dockerlist", "schema2", "single"])
async def test_pull_docker_list_and_single_images(
    registry: RegistryHandle, tmp_path: Path, name: str
) -> None:
    image = registry.images[name]
    for platform, seeded in image.manifests.items():
        dest = tmp_path / platform.replace("/", "-")
        await run_pull(registry.host, image.reference, dest, platform)
        blobs = {seeded.config_digest, *(layer.digest for layer in seeded.layers)}
        assert blobs <= set(_blob_files(dest))
        assert_layout_sound(dest)
        [entry] = index_entries(dest)
        shown = json.loads(
            skopeo("inspect", *override_args(platform), f"oci:{dest}:{image.tag}").stdout
        )
        assert shown["Layers"] == [layer.digest for layer in seeded.layers]
        if seeded.media_type.startswith("application/vnd.docker"):
            # Stored with OCI types (same blobs, new manifest), the source digest recorded.
            assert entry["annotations"]["io.regtui.source.digest"] == seeded.digest  # type: ignore[index]
            assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        else:
            assert shown["Digest"] == seeded.digest
        # skopeo can copy it out again: the layout is usable, not just inspectable.
        skopeo(
            "copy", *override_args(platform), f"oci:{dest}:{image.tag}", f"dir:{tmp_path / 'copy'}"
        )


async def test_second_platform_into_same_layout_skips_shared_blobs(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    amd64, arm64 = image.manifests["linux/amd64"], image.manifests["linux/arm64/v8"]
    shared = {layer.digest for layer in amd64.layers} & {layer.digest for layer in arm64.layers}
    assert shared, "the seeded images share a base layer"
    dest = tmp_path / "layout"
    await run_pull(registry.host, image.reference, dest, "linux/amd64")
    result, events = await run_pull(registry.host, image.reference, dest, "linux/arm64/v8")

    skipped = {e.digest for e in events if isinstance(e, BlobSkipped)}
    downloaded = {e.digest for e in events if isinstance(e, BlobDone)}
    assert skipped == shared
    assert not downloaded & shared
    assert result.blobs_skipped == len(shared)  # type: ignore[attr-defined]
    assert_layout_sound(dest)
    # One name, both platforms: skopeo picks each by its override.
    [entry] = index_entries(dest)
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1.0"  # type: ignore[index]
    for platform, seeded in (("linux/amd64", amd64), ("linux/arm64/v8", arm64)):
        shown = json.loads(skopeo("inspect", *override_args(platform), f"oci:{dest}:1.0").stdout)
        # "Digest" is the name's (a layout-local index); the image is the platform's.
        assert shown["Layers"] == [layer.digest for layer in seeded.layers]
        assert shown["Architecture"] == platform.split("/")[1]


async def test_pulling_the_same_image_again_downloads_nothing(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["single"]
    await run_pull(registry.host, image.reference, tmp_path / "o")
    result, events = await run_pull(registry.host, image.reference, tmp_path / "o")
    assert result.blobs_downloaded == 0  # type: ignore[attr-defined]
    assert not [e for e in events if isinstance(e, BlobProgress)]
    assert len(index_entries(tmp_path / "o")) == 1


async def test_pull_of_a_missing_platform_names_the_available_ones(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    with pytest.raises(PullError, match=r"no linux/s390x image \(available: linux/amd64, "):
        await run_pull(registry.host, image.reference, tmp_path / "o", "linux/s390x")
    assert not (tmp_path / "o").exists()


def test_cli_pull_writes_a_layout_and_prints_its_reference(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "regtui",
            "pull",
            f"{registry.host}/{image.reference}",
            "--platform",
            "linux/arm/v7",
            "-o",
            str(tmp_path / "out"),
            "-j",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"oci:{tmp_path / 'out'}:1.0\n"
    # stderr is not a terminal here: a plain summary line, no escape sequences.
    assert "Pulled " in proc.stderr and "\x1b[" not in proc.stderr
    assert expected_blobs(image.manifests["linux/arm/v7"]) <= set(_blob_files(tmp_path / "out"))


def test_cli_pull_default_directory_is_repo_and_tag(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["single"]
    proc = subprocess.run(
        [sys.executable, "-m", "regtui", "pull", "-q", f"{registry.host}/{image.reference}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "single_latest" / "index.json").is_file()
    assert proc.stderr == ""


# Faults ---------------------------------------------------------------------------------------
@pytest.fixture
def proxy(registry: RegistryHandle) -> Iterator[FaultProxy]:
    with FaultProxy(registry.url) as p:
        yield p


def big_layer(image: SeededImage) -> tuple[str, int]:
    layer = max(image.manifests["linux/amd64"].layers, key=lambda item: item.size)
    assert layer.size > 2_000_000, "the seeded amd64 image has a multi-MB layer"
    return layer.digest, layer.size


async def test_dropped_connection_resumes_with_range(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, size = big_layer(image)
    proxy.add(Fault("cut", path=digest, after=1_000_000))
    await run_pull(proxy.host, image.reference, tmp_path / "o", "linux/amd64")
    first, second = proxy.requests(digest)[:2]
    assert first.fault == "cut" and first.body_bytes == 1_000_000
    resumed_at = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 1_000_000
    # Only what was missing was fetched again.
    assert second.status == 206 and second.body_bytes == size - resumed_at
    assert_layout_sound(tmp_path / "o")


async def test_server_ignoring_range_makes_the_blob_start_over(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, size = big_layer(image)
    proxy.add(Fault("cut", path=digest, after=500_000))
    proxy.add(Fault("ignore_range", path=digest))
    await run_pull(proxy.host, image.reference, tmp_path / "o", "linux/amd64")
    second = proxy.requests(digest)[1]
    assert second.status == 200 and second.body_bytes == size
    assert (tmp_path / "o" / "blobs" / "sha256" / digest.split(":")[1]).stat().st_size == size
    assert_layout_sound(tmp_path / "o")


async def test_corrupted_byte_is_caught_and_retried_once(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, _ = big_layer(image)
    proxy.add(Fault("flip", path=digest, at=123_456))
    _, events = await run_pull(proxy.host, image.reference, tmp_path / "o", "linux/amd64")
    assert any(isinstance(e, BlobRetrying) and "digest" in e.reason for e in events)
    assert len(proxy.requests(digest)) == 2
    assert_layout_sound(tmp_path / "o")


async def test_persistently_corrupt_blob_fails_and_never_lands(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, _ = big_layer(image)
    proxy.add(Fault("flip", path=digest, at=10, times=None))
    with pytest.raises(PullError) as info:
        await run_pull(proxy.host, image.reference, tmp_path / "o", "linux/amd64")
    message = str(info.value)
    assert digest[:19] in message and "verification" in message
    assert digest not in _blob_files(tmp_path / "o")
    assert index_entries(tmp_path / "o") == []  # nothing named: the layout stays valid
    assert_layout_sound(tmp_path / "o")


async def test_blob_larger_than_descriptor_is_refused_unread(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, size = big_layer(image)
    proxy.add(Fault("extra", path=digest, count=4096, lie_length=True, times=None))
    with pytest.raises(PullError, match="larger than its descriptor"):
        await run_pull(proxy.host, image.reference, tmp_path / "o", "linux/amd64")
    assert all(r.body_bytes <= size + 4096 for r in proxy.requests(digest))
    assert digest not in _blob_files(tmp_path / "o")


async def test_rate_limit_and_server_errors_on_blobs_are_retried_visibly(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["single"]
    layer = image.manifests["linux/amd64"].layers[0].digest
    proxy.add(Fault("status", path=layer, status=429, headers={"Retry-After": "0"}))
    proxy.add(Fault("status", path=layer, status=503))
    _, events = await run_pull(proxy.host, image.reference, tmp_path / "o")
    reasons = [e.reason for e in events if isinstance(e, BlobRetrying) and e.digest == layer]
    assert any("429" in r for r in reasons) and any("503" in r for r in reasons)
    assert_layout_sound(tmp_path / "o")


async def test_transient_errors_on_manifests_are_retried(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    proxy.add(Fault("status", path="/manifests/", status=503, times=2))
    proxy.add(Fault("cut", path="/manifests/", after=10))
    result, _ = await run_pull(proxy.host, image.reference, tmp_path / "o", "linux/arm/v7")
    assert result.manifest_digest == image.manifests["linux/arm/v7"].digest  # type: ignore[attr-defined]
    assert len(proxy.requests("/manifests/")) >= 4


async def test_persistent_server_error_gives_up_with_a_clear_error(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["single"]
    layer = image.manifests["linux/amd64"].layers[0].digest
    proxy.add(Fault("status", path=layer, status=502, times=None))
    with pytest.raises(PullError) as info:
        await run_pull(proxy.host, image.reference, tmp_path / "o")
    assert layer[:19] in str(info.value) and "502" in str(info.value)
    assert "gave up after 4 attempts" in str(info.value)


async def test_cancelled_pull_leaves_a_valid_layout_and_resumes(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, size = big_layer(image)
    proxy.add(Fault("throttle", path=digest, rate=1_000_000))
    dest = tmp_path / "o"
    seen = asyncio.Event()

    def on_event(event: PullEvent) -> None:
        if isinstance(event, BlobProgress) and event.digest == digest and event.done > 200_000:
            seen.set()

    ref = parse_reference(f"{proxy.host}/{image.reference}")
    async with connect(ref.registry) as client:
        task = asyncio.create_task(
            Puller(client, on_event=on_event).pull(
                ref, dest, platform=parse_platform("linux/amd64")
            )
        )
        await asyncio.wait_for(seen.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert index_entries(dest) == []
    assert_layout_sound(dest)
    partial = partial_file(dest, digest)
    kept = partial.stat().st_size
    assert 0 < kept < size

    proxy.clear()
    await run_pull(proxy.host, image.reference, dest, "linux/amd64")
    last = proxy.requests(digest)[-1]
    assert last.headers.get("Range") == f"bytes={kept}-"
    assert last.body_bytes == size - kept
    assert not partial.exists()
    assert_layout_sound(dest)


def test_sigkilled_cli_pull_resumes_to_a_valid_layout(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, size = big_layer(image)
    proxy.add(Fault("throttle", path=digest, rate=500_000))
    dest = tmp_path / "o"
    cmd = [
        sys.executable,
        "-m",
        "regtui",
        "pull",
        "-q",
        "--platform",
        "linux/amd64",
        "-o",
        str(dest),
        f"{proxy.host}/{image.reference}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = partial_file(dest, digest)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if partial.exists() and partial.stat().st_size > 300_000:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the pull never got going")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_layout_sound(dest)
    assert index_entries(dest) == []

    proxy.clear()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_layout_sound(dest)
    shown = json.loads(skopeo("inspect", f"oci:{dest}:1.0").stdout)
    assert shown["Digest"] == image.manifests["linux/amd64"].digest
    resumed = proxy.requests(digest)[-1]
    assert resumed.headers.get("Range", "").startswith("bytes=")
    assert resumed.body_bytes < size


async def test_unreachable_registry_is_a_clear_error(tmp_path: Path) -> None:
    async with RegistryClient("http://127.0.0.1:9") as client:
        with pytest.raises(RegtuiError, match=r"cannot connect to 127\.0\.0\.1:9"):
            await Puller(client).pull(parse_reference("127.0.0.1:9/x:1"), tmp_path / "o")


# Events as JSON, and pulls in a child process (what the TUI uses) ----------------------------
def test_cli_events_json_are_the_pull_events(registry: RegistryHandle, tmp_path: Path) -> None:
    image = registry.images["multi"]
    proc = subprocess.run(
        [sys.executable, "-m", "regtui", "pull", "--events", "json", "-q",
         "--platform", "linux/arm64/v8", "-o", str(tmp_path / "o"),
         f"{registry.host}/{image.reference}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [event_from_json(line) for line in proc.stdout.splitlines()]
    assert isinstance(events[0], PullPlanned)
    assert isinstance(events[-1], PullFinished)
    seeded = image.manifests["linux/arm64/v8"]
    assert {d.digest for d in events[0].blobs} == expected_blobs(seeded) - {seeded.digest}
    assert events[-1].result.manifest_digest == seeded.digest
    done = {e.digest for e in events if isinstance(e, BlobDone)}
    assert done == {d.digest for d in events[0].blobs}


async def test_pull_in_subprocess_relays_events_cancels_and_resumes(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    digest, size = big_layer(image)
    seeded = image.manifests["linux/amd64"]
    proxy.add(Fault("throttle", path=digest, rate=1_000_000))
    dest = tmp_path / "o"
    ref = parse_reference(f"{proxy.host}/{image.repo}@{seeded.digest}")
    events: list[PullEvent] = []
    moving = asyncio.Event()

    def on_event(event: PullEvent) -> None:
        events.append(event)
        if isinstance(event, BlobProgress) and event.digest == digest and event.done > 200_000:
            moving.set()

    def start() -> asyncio.Task[object]:
        return asyncio.create_task(
            pull_in_subprocess(
                ref, dest, ref_name="1.0", platform=parse_platform("linux/amd64"), jobs=4,
                options=TransportOptions(), credential=None, on_event=on_event,
            )
        )  # fmt: skip

    task = start()
    await asyncio.wait_for(moving.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The child stopped as on Ctrl-C: nothing named, nothing corrupt, the rest resumable.
    assert index_entries(dest) == []
    assert_layout_sound(dest)
    kept = partial_file(dest, digest).stat().st_size
    assert 0 < kept < size

    proxy.clear()
    events.clear()
    result = await start()
    assert isinstance(events[0], PullPlanned) and isinstance(events[-1], PullFinished)
    assert result.manifest_digest == seeded.digest  # type: ignore[attr-defined]
    assert proxy.requests(digest)[-1].headers.get("Range") == f"bytes={kept}-"
    [entry] = index_entries(dest)
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1.0"  # type: ignore[index]


async def test_pull_in_subprocess_reports_the_childs_error(tmp_path: Path) -> None:
    ref = parse_reference("127.0.0.1:9/x@sha256:" + "a" * 64)
    with pytest.raises(PullError, match=r"cannot connect to 127\.0\.0\.1:9"):
        await pull_in_subprocess(
            ref, tmp_path / "o", ref_name="x", platform=None, jobs=1,
            options=TransportOptions(), credential=None, on_event=lambda e: None,
        )  # fmt: skip


async def test_pull_in_a_process_started_ahead_of_time(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    seeded = image.manifests["linux/arm64/v8"]
    ref = parse_reference(f"{registry.host}/{image.repo}@{seeded.digest}")
    process = await start_pull_process()
    events: list[PullEvent] = []
    result = await pull_in_subprocess(
        ref, tmp_path / "o", ref_name="1.0", platform=parse_platform("linux/arm64/v8"), jobs=4,
        options=TransportOptions(), credential=None, on_event=events.append, process=process,
    )  # fmt: skip
    assert process.returncode == 0  # that process did the pull
    assert result.manifest_digest == seeded.digest
    assert isinstance(events[0], PullPlanned) and isinstance(events[-1], PullFinished)
    assert_layout_sound(tmp_path / "o")
    [entry] = index_entries(tmp_path / "o")
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1.0"  # type: ignore[index]


def _autogroup_nice(pid: int) -> str | None:
    """The nice of ``pid``'s Linux autogroup, or None where autogroups are not used."""
    group = Path(f"/proc/{pid}/autogroup")
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if not (group.exists() and enabled.exists() and enabled.read_text().strip() == "1"):
        return None
    # "/autogroup-123 nice 0"; some sandboxed kernels expose the file but leave it empty.
    found = re.fullmatch(r"/autogroup-\d+ nice (-?\d+)", group.read_text().strip())
    return found.group(1) if found else None


async def test_a_process_started_for_the_ui_yields_the_cpu_to_it() -> None:
    """The TUI's download runs at a lower CPU priority than the TUI (not ``regtui pull``)."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    expected = min(19, own + BACKGROUND_NICE)
    process = await start_pull_process()
    try:
        deadline = time.monotonic() + 10
        while os.getpriority(os.PRIO_PROCESS, process.pid) < expected:
            assert time.monotonic() < deadline, "the pull process kept the UI's priority"
            await asyncio.sleep(0.02)
        group_nice = _autogroup_nice(process.pid)
        if group_nice is not None:
            # Alone in its session's autogroup: the group's nice is what counts.
            assert group_nice == str(BACKGROUND_NICE)
    finally:
        await discard_pull_process(process)
    assert os.getpriority(os.PRIO_PROCESS, 0) == own  # the UI's own is untouched


def test_a_pull_worker_in_its_parents_session_leaves_the_sessions_priority_alone() -> None:
    """Only a worker leading its own session lowers its autogroup: never the terminal's."""
    own_group = _autogroup_nice(os.getpid())
    if own_group is None:
        pytest.skip("no autogroup scheduling here (nothing that could be lowered)")
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)
    worker = subprocess.Popen(
        [sys.executable, "-m", "regtui.pullworker"], stdin=subprocess.PIPE
    )  # no start_new_session: it shares this process's session and autogroup
    try:
        deadline = time.monotonic() + 10
        while os.getpriority(os.PRIO_PROCESS, worker.pid) < expected:
            assert time.monotonic() < deadline, "the worker never lowered its priority"
            time.sleep(0.02)
        time.sleep(0.1)  # the autogroup is written right after the nice
        assert _autogroup_nice(os.getpid()) == own_group
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(10)
        with open("/proc/self/autogroup", "w") as group:  # put it back if the test failed
            group.write(own_group)


async def test_a_dead_process_started_ahead_of_time_is_replaced(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    image = registry.images["multi"]
    seeded = image.manifests["linux/amd64"]
    ref = parse_reference(f"{registry.host}/{image.repo}@{seeded.digest}")
    process = await start_pull_process()
    process.kill()
    await process.wait()
    result = await pull_in_subprocess(
        ref, tmp_path / "o", ref_name="1.0", platform=parse_platform("linux/amd64"), jobs=2,
        options=TransportOptions(), credential=None, on_event=lambda e: None, process=process,
    )  # fmt: skip
    assert result.manifest_digest == seeded.digest
    assert_layout_sound(tmp_path / "o")


_PARENT_SCRIPT = """
import asyncio, sys
from pathlib import Path
from regtui.core.client import TransportOptions
from regtui.core.manifest import parse_platform
from regtui.core.pull import BlobProgress, pull_in_subprocess, start_pull_process
from regtui.core.reference import parse_reference

async def main():
    ref, dest, big = sys.argv[1:]
    process = await start_pull_process()

    def on_event(event):
        if isinstance(event, BlobProgress) and event.digest == big and event.done > 200_000:
            print(process.pid, flush=True)  # the test kills us now

    await pull_in_subprocess(
        parse_reference(ref), Path(dest), ref_name="1.0", platform=parse_platform("linux/amd64"),
        jobs=4, options=TransportOptions(), credential=None, on_event=on_event, process=process,
    )

asyncio.run(main())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux-only")
def test_a_pull_process_stops_when_the_app_that_started_it_is_killed(
    registry: RegistryHandle, proxy: FaultProxy, tmp_path: Path
) -> None:
    # The pull child has a session of its own (no terminal hang-up reaches it): killing
    # the TUI must still stop the download, leaving a valid layout to resume from.
    image = registry.images["multi"]
    digest, size = big_layer(image)
    seeded = image.manifests["linux/amd64"]
    proxy.add(Fault("throttle", path=digest, rate=500_000))
    dest = tmp_path / "o"
    ref = f"{proxy.host}/{image.repo}@{seeded.digest}"
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT_SCRIPT, ref, str(dest), digest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()  # once the big layer is moving
    assert line.strip().isdigit(), parent.stderr.read() if parent.stderr else ""
    child = int(line)
    parent.kill()
    parent.wait()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the pull went on after its parent was killed"
    assert index_entries(dest) == []
    assert_layout_sound(dest)
    kept = partial_file(dest, digest).stat().st_size
    assert 0 < kept < size  # interrupted mid-blob, resumable


def _alive(pid: int) -> bool:
    """Whether ``pid`` is still running (a zombie waiting for init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_an_unused_process_started_ahead_of_time_exits_quietly() -> None:
    process = await start_pull_process()
    assert process.stderr is not None
    await discard_pull_process(process)
    assert process.returncode == 0
    assert await process.stderr.read() == b""


def test_the_pull_worker_refuses_anything_but_a_pull() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "regtui.pullworker"],
        input='["ls", "127.0.0.1:9"]\n',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "regtui: error: the pull worker was given something other than a pull"
    )

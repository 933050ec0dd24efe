"""Snapshot tests of the TUI (pytest-textual-snapshot), on the deterministic demo registry.

The registry is shown as ``registry.demo`` (a host-rewriting client factory points it at
the demo's loopback port), the host platform is pinned to linux/amd64, the cursor does not
blink, every worker has finished before the shot, and the downloads panel is driven with
synthetic pull events on a fake clock: nothing in a shot depends on the machine or time.

Regenerate with ``pytest tests/test_ui_snapshots.py --snapshot-update`` and review
``snapshot_report.html`` (or the SVGs under ``tests/__snapshots__/``) before committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui_support import (
    DEMO_HOST,
    SNAPSHOT_HOST_PLATFORM,
    FakeClock,
    demo_registry,  # noqa: F401 (fixture)
    demo_store_dir,  # noqa: F401 (fixture)
    quiet_app,
    rewriting_factory,
    settle,
)

from regtui.core.manifest import Descriptor, Platform
from regtui.core.pull import (
    BlobDone,
    BlobProgress,
    BlobRetrying,
    BlobSkipped,
    BlobStarted,
    BlobVerifying,
    PullPlanned,
    PullResult,
)
from regtui.core.reference import Reference, Registry
from regtui.demo import DemoRegistry
from regtui.ui.app import RegtuiApp
from regtui.ui.screens.main import MainScreen
from regtui.ui.widgets.downloads_panel import DownloadRequest, DownloadsPanel

WIDE = (140, 40)
NARROW = (100, 34)
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _pinned_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("regtui.ui.session.host_platform", lambda: SNAPSHOT_HOST_PLATFORM)


@pytest.fixture
def make(
    demo_registry: DemoRegistry,  # noqa: F811
    tmp_path: Path,
) -> Callable[..., RegtuiApp]:
    def build(target: str | None, **kwargs: Any) -> RegtuiApp:
        kwargs.setdefault("download_dir", Path("/home/user/Downloads/regtui"))
        kwargs.setdefault("recent_path", tmp_path / "recent.json")
        return quiet_app(
            target,
            client_factory=rewriting_factory({DEMO_HOST: demo_registry.address}),
            **kwargs,
        )

    return build


def settled(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before`` that waits for the workers, presses ``keys``, and waits again."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_repositories_pane(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    assert snap_compare(make(DEMO_HOST), terminal_size=WIDE, run_before=settled())


def test_tags_pane(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    # acme/api: 1.2, 1.9, 1.10 in natural order, a cosign signature tag shown as an artifact.
    app = make(f"{DEMO_HOST}/acme/api")
    assert snap_compare(app, terminal_size=WIDE, run_before=settled())


def test_platforms_pane(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    # The host's platform (pinned to linux/amd64) is pre-selected; attestations are marks.
    app = make(f"{DEMO_HOST}/acme/webapp:1.4")
    assert snap_compare(app, terminal_size=WIDE, run_before=settled())


def test_layers_pane(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    app = make(f"{DEMO_HOST}/acme/webapp:1.4")
    assert snap_compare(app, terminal_size=WIDE, run_before=settled("enter"))


def test_raw_manifest_modal(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    app = make(f"{DEMO_HOST}/acme/webapp:1.4")
    assert snap_compare(app, terminal_size=WIDE, run_before=settled("enter", "m"))


def test_help_screen(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    app = make(f"{DEMO_HOST}/acme/webapp:1.4")
    assert snap_compare(app, terminal_size=WIDE, run_before=settled("question_mark"))


def test_narrow_layout(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    app = make(f"{DEMO_HOST}/acme/worker:2.3")
    assert snap_compare(app, terminal_size=NARROW, run_before=settled())


def test_start_screen(
    snap_compare: SnapCompare, make: Callable[..., RegtuiApp], tmp_path: Path
) -> None:
    recent = tmp_path / "recent.json"
    recent.write_text('{"registries": ["registry.demo", "ghcr.io", "127.0.0.1:5000"]}')
    app = make(None, recent_path=recent)
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled())


def _digest(n: int) -> str:
    return "sha256:" + f"{n:x}" * 64


def _plan(reference: str, platform: str, sizes: list[int]) -> PullPlanned:
    layers = [Descriptor(LAYER, _digest(n + 2), size) for n, size in enumerate(sizes)]
    blobs = (Descriptor(CONFIG, _digest(1), 1_523), *layers)
    return PullPlanned(
        reference=reference,
        platform=platform,
        manifest_digest=_digest(9),
        blobs=blobs,
        kinds=("config", *(["layer"] * len(sizes))),
    )


def test_downloads_panel(snap_compare: SnapCompare, make: Callable[..., RegtuiApp]) -> None:
    """One running download in every blob state, one finished, one failed."""
    clock = FakeClock()
    app = make(f"{DEMO_HOST}/acme/webapp:1.4", clock=clock)
    registry = Registry(DEMO_HOST)
    downloads = Path("/home/user/Downloads/regtui")

    def request(repo: str, tag: str, platform: Platform) -> DownloadRequest:
        ref = Reference(registry, repo, tag=tag)
        folder = downloads / f"{repo.replace('/', '_')}_{tag}"
        return DownloadRequest(ref, _digest(9), platform, None, folder)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        panel = screen.query_one(DownloadsPanel)

        failed = panel.add_view(request("acme/api", "1.10", Platform("linux", "arm64", "v8")))
        failed.handle_event(_plan("registry.demo/acme/api:1.10", "linux/arm64/v8", [2_000_000]))
        failed.handle_event(BlobDone(_digest(1), 1_523, 1_523))
        failed.handle_event(BlobStarted(_digest(2), 2_000_000))
        failed.handle_event(BlobProgress(_digest(2), 700_000, 2_000_000))
        failed.failed("1 blob(s) failed: sha256:22222222222: connection to registry.demo broke")

        done = panel.add_view(request("tools/cli", "0.9", Platform("linux", "amd64")))
        done.handle_event(_plan("registry.demo/tools/cli:0.9", "linux/amd64", [8_400_000]))
        done.handle_event(BlobDone(_digest(1), 1_523, 1_523))
        done.handle_event(BlobDone(_digest(2), 8_400_000, 8_400_000))
        done.finished(
            PullResult(
                reference="registry.demo/tools/cli:0.9",
                layout=downloads / "tools_cli_0.9",
                ref_name="0.9",
                platform="linux/amd64",
                manifest_digest=_digest(9),
                source_digest=_digest(9),
                blobs_total=2,
                blobs_downloaded=2,
                blobs_skipped=0,
                bytes_total=8_401_523,
                bytes_fetched=8_401_523,
                seconds=2.0,
            )
        )

        running = panel.add_view(request("acme/webapp", "1.4", Platform("linux", "amd64")))
        sizes = [3_100_000, 5_200_000, 1_400, 720_000, 9_100_000]
        running.handle_event(_plan("registry.demo/acme/webapp:1.4", "linux/amd64", sizes))
        running.handle_event(BlobDone(_digest(1), 1_523, 1_523))
        for n in (2, 3, 6):
            running.handle_event(BlobStarted(_digest(n), sizes[n - 2]))
        clock.advance(1.0)
        running.handle_event(BlobProgress(_digest(2), 1_500_000, sizes[0]))
        running.handle_event(BlobProgress(_digest(6), 2_000_000, sizes[4]))
        running.handle_event(BlobProgress(_digest(3), sizes[1], sizes[1]))
        running.handle_event(BlobVerifying(_digest(3)))
        running.handle_event(BlobSkipped(_digest(4), 1_400))
        running.handle_event(BlobRetrying(_digest(5), 1, 2.0, "registry.demo answered 503"))
        clock.advance(1.0)
        running.handle_event(BlobProgress(_digest(2), 2_400_000, sizes[0]))
        running.handle_event(BlobProgress(_digest(6), 4_000_000, sizes[4]))
        await pilot.pause()
        for view in panel.views:
            view.render_progress(force=True)
        await pilot.pause()
        for view in panel.views:
            view.render_progress(force=True)
        panel.focus_table()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 44), run_before=run_before)

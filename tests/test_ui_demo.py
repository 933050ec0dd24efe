"""Fast Pilot tests on the demo registry and on an ``httpx.MockTransport`` registry.

They cover what the real registry cannot easily show: a legacy schema 1 manifest, a cosign
artifact tag, the command palette, the help screen and streaming/typing details.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from ui_support import (
    DEMO_HOST,
    demo_registry,  # noqa: F401 (fixture)
    demo_store_dir,  # noqa: F401 (fixture)
    quiet_app,
    rewriting_factory,
    settle,
    static_text,
    stub_app,
    wait_for,
)

from regtui.demo import DemoRegistry
from regtui.ui.app import RegtuiApp
from regtui.ui.screens.help import HelpScreen
from regtui.ui.screens.main import MainScreen
from regtui.ui.screens.start import StartScreen
from regtui.ui.widgets.downloads_panel import DownloadsPanel
from regtui.ui.widgets.layer_table import LayerTable
from regtui.ui.widgets.platform_list import PlatformList
from regtui.ui.widgets.tag_table import TagTable

SIZE = (160, 45)
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
LAYER_A = "sha256:" + "a" * 64
LAYER_B = "sha256:" + "b" * 64


def demo_app(demo: DemoRegistry, target: str | None, tmp_path: Path) -> RegtuiApp:
    return quiet_app(
        target,
        client_factory=rewriting_factory({DEMO_HOST: demo.address}),
        download_dir=tmp_path / "downloads",
        recent_path=tmp_path / "recent.json",
    )


def schema1_registry(request: httpx.Request) -> httpx.Response:
    """A registry with one legacy schema 1 image, ``old/app:1.0``."""
    path = request.url.path
    if path == "/v2/":
        return httpx.Response(200, json={})
    if path == "/v2/_catalog":
        return httpx.Response(200, json={"repositories": ["old/app"]})
    if path == "/v2/old/app/tags/list":
        return httpx.Response(200, json={"name": "old/app", "tags": ["1.0"]})
    if path == "/v2/old/app/manifests/1.0":
        history = [
            {"created": "2016-05-02T10:00:00Z", "container_config": {"Cmd": ["/bin/sh", "-c", cmd]}}
            for cmd in ("apt-get install -y curl", "#(nop) ADD file:rootfs in /")
        ]
        doc = {
            "schemaVersion": 1,
            "name": "old/app",
            "tag": "1.0",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": LAYER_B}, {"blobSum": LAYER_A}],
            "history": [{"v1Compatibility": json.dumps(h)} for h in history],
        }
        return httpx.Response(
            200, content=json.dumps(doc).encode(), headers={"Content-Type": SCHEMA1}
        )
    return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN", "message": "nope"}]})


async def test_legacy_schema1_is_shown_not_pulled(tmp_path: Path) -> None:
    app = stub_app("legacy.test/old/app:1.0", schema1_registry, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        layers = app.screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        platforms = app.screen.query_one(PlatformList)
        assert platforms.items[0].label == "schema 1 · amd64"
        assert "legacy" in static_text(platforms.status)
        assert layers.has_focus_within  # a single manifest skips to its layers
        # Base layer first, with the command that made it.
        assert [row.digest for row in layers.items] == [LAYER_A, LAYER_B]
        assert "ADD file:rootfs" in layers.items[0].created_by
        assert "shown, not pulled" in static_text(layers.status)
        await pilot.press("d")
        panel = app.screen.query_one(DownloadsPanel)
        assert not panel.views  # refused with a notification, nothing started


async def test_cosign_artifact_tag_is_shown_as_artifact(
    demo_registry: DemoRegistry,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = demo_app(demo_registry, f"{DEMO_HOST}/acme/api", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        tags = app.screen.query_one(TagTable)
        await wait_for(pilot, lambda: len(tags.items) == 6, what="tags")
        await settle(pilot)
        names = [row.name for row in tags.shown]
        assert names[:3] == ["1.2", "1.9", "1.10"]
        signature = tags.shown[-1]
        assert signature.name.endswith(".sig")
        assert signature.details is not None
        assert signature.details.summary.kind == "artifact"
        await pilot.press("G", "enter")
        layers = app.screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="artifact layers")
        assert "Artifact" in static_text(layers.status)


async def test_command_palette_switches_registry(
    demo_registry: DemoRegistry,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = demo_app(demo_registry, DEMO_HOST, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("ctrl+p")
        await pilot.press(*"Switch registry")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen), what="start screen")
        assert DEMO_HOST in app.screen.recent
        # Open it again from the start screen, and switch once more: back to that screen.
        start = app.screen
        await pilot.press(*DEMO_HOST, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="main screen")
        await pilot.press("ctrl+p")
        await pilot.press(*"Switch registry")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is start, what="the same start screen")
        assert len(app.screen_stack) == 2  # no screens pile up


async def test_help_lists_every_pane(
    demo_registry: DemoRegistry,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = demo_app(demo_registry, DEMO_HOST, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = static_text(app.screen.query_one("#help-body"))
        for section in ("Repositories", "Tags", "Platforms", "Layers", "Downloads panel"):
            assert section in text
        for words in ("Sort tags by creation date", "Download this platform", "Raw config"):
            assert words in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_mouse_click_drills_down(
    demo_registry: DemoRegistry,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = demo_app(demo_registry, f"{DEMO_HOST}/acme/worker", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        tags = app.screen.query_one(TagTable)
        await wait_for(pilot, lambda: bool(tags.items), what="tags")
        # A click on the highlighted row opens it, like Enter.
        await pilot.click(tags.table, offset=(2, 1))
        await pilot.click(tags.table, offset=(2, 1))
        platforms = app.screen.query_one(PlatformList)
        await wait_for(pilot, lambda: len(platforms.items) == 2, what="platforms")
        assert platforms.has_focus_within

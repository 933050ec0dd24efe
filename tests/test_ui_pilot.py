"""Pilot tests of the TUI against a real CNCF distribution registry (the ``registry`` fixture).

They drive the app with keys, as a user would, and check what is on screen: rows in the
panes, which pane has the focus, status lines, the downloaded layout.
"""

from __future__ import annotations

import gc
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from support.images import SINGLE_LABEL, SINGLE_RUN
from support.registry import skopeo
from support.seed import RegistryHandle
from ui_support import (  # noqa: F401 (fixture)
    demo_store_dir,
    screen_text,
    settle,
    static_text,
    wait_for,
)

from regtui.core.client import RegistryClient, TransportOptions
from regtui.core.errors import PermissionDeniedError
from regtui.core.manifest import host_platform
from regtui.core.reference import Registry
from regtui.ui import heap
from regtui.ui.app import RegtuiApp, make_app
from regtui.ui.screens.help import HelpScreen
from regtui.ui.screens.main import MainScreen
from regtui.ui.screens.raw import RawDocumentScreen
from regtui.ui.screens.start import StartScreen
from regtui.ui.widgets.downloads_panel import DownloadsPanel
from regtui.ui.widgets.layer_table import LayerTable
from regtui.ui.widgets.pane import Pane
from regtui.ui.widgets.platform_list import PlatformList
from regtui.ui.widgets.repository_list import RepositoryList
from regtui.ui.widgets.table import RegtuiDataTable
from regtui.ui.widgets.tag_table import TagTable

SIZE = (160, 45)


def app_for(target: str | None, tmp_path: Path, **kwargs: Any) -> RegtuiApp:
    app = make_app(
        target,
        download_dir=tmp_path / "downloads",
        recent_path=tmp_path / "recent.json",
        **kwargs,
    )
    app.cursor_blink = False
    return app


def focused_pane(app: RegtuiApp) -> Pane[Any] | None:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    for pane in screen.panes:
        if pane.has_focus_within:
            return pane
    return None


def shown_labels(pane: Pane[Any], column: int = 0) -> list[str]:
    table = pane.table
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


def highlighted_label(pane: Pane[Any]) -> str:
    table = pane.table
    return str(table.get_row_at(table.cursor_row)[0])


def status_text(pane: Pane[Any]) -> str:
    return static_text(pane.status)


async def on_screen_and_redrawn(pilot: Any) -> tuple[str, str]:
    """What is on screen, and what redrawing every widget from scratch shows.

    They differ when a change repainted too little (a line left stale).
    """
    app = pilot.app
    await pilot.pause()
    shown = app.export_screenshot()
    for widget in app.screen.walk_children():
        widget.refresh()
    await pilot.pause()
    return shown, app.export_screenshot()


async def test_drill_from_catalog_to_layers_by_keys(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(registry.host, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        repos = screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: len(repos.items) == len(registry.all_repos), what="catalog")
        assert repos.items == registry.all_repos  # every page, in order
        assert focused_pane(app) is repos

        # Find "app" by filtering, then Enter: the tags pane gets the focus.
        await pilot.press("slash", "a", "p", "p", "enter")
        assert "app" in shown_labels(repos)
        assert all("app" in label for label in shown_labels(repos))
        await pilot.press("home", "enter")
        tags = screen.query_one(TagTable)
        await wait_for(pilot, lambda: len(tags.items) == 2, what="tags of app")
        assert focused_pane(app) is tags
        assert shown_labels(tags) == ["1.0", "latest"]

        # Enter on 1.0: the platforms of the index, the host's pre-selected.
        await pilot.press("enter")
        platforms = screen.query_one(PlatformList)
        await wait_for(pilot, lambda: len(platforms.items) == 3, what="platforms")
        assert focused_pane(app) is platforms
        assert shown_labels(platforms) == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
        host = host_platform()
        if str(host) in shown_labels(platforms):
            assert highlighted_label(platforms) == str(host)

        # Down to arm64, Enter: its layers, history aligned, config summary.
        await pilot.press("home", "j", "enter")
        layers = screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        assert focused_pane(app) is layers
        seeded = registry.images["multi"].manifests["linux/arm64/v8"]
        assert [row.digest for row in layers.items] == [layer.digest for layer in seeded.layers]
        assert [row.created_by for row in layers.items] == [
            layer.created_by for layer in seeded.layers
        ]
        assert {row.compression for row in layers.items} == {"gzip"}
        summary = static_text(layers.query_one("#config-summary"))
        assert "Entrypoint" in summary and "/srv/app/app" in summary
        assert "8080/tcp" in summary

        # Escape walks back pane by pane; Tab moves forward.
        await pilot.press("escape")
        assert focused_pane(app) is platforms
        await pilot.press("escape")
        assert focused_pane(app) is tags
        await pilot.press("tab", "tab")
        assert focused_pane(app) is layers
        await pilot.press("shift+tab")
        assert focused_pane(app) is platforms


async def test_pane_switch_draws_the_same_as_a_full_repaint(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    """A Tab repaints only what its focus change altered (the boxes, the cursor rows).

    What is on screen after each switch must be what redrawing everything would show: a
    row left stale (a cursor still coloured as focused, a border still lit) would differ.
    """
    app = app_for(f"{registry.host}/app:1.0", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: len(screen.panes[0].items) > 0, what="catalog")
        await settle(pilot)

        looks: set[str] = set()
        for key in ["tab", "tab", "shift+tab", "tab", "tab", "tab"]:
            before = focused_pane(app)
            await pilot.press(key)
            assert focused_pane(app) is not before
            shown, redrawn = await on_screen_and_redrawn(pilot)
            assert shown == redrawn, f"stale paint after {key} into {focused_pane(app)}"
            looks.add(shown)
        assert len(looks) > 1  # the switches did change what is shown


async def test_once_idle_a_pane_switch_restyles_no_table_even_after_a_theme_change(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    """While the user is idle, the tables work out their looks for the other focus state,
    so a Tab restyles none of them (a restyle was half of a Tab's CPU). A new theme
    restyles everything, which makes what they kept stale: they work it out again.
    What is shown stays what redrawing everything shows."""
    app = app_for(f"{registry.host}/app:1.0", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: len(screen.panes[0].items) > 0, what="catalog")
        await settle(pilot)
        restyled: list[object] = []
        apply = app.stylesheet.apply

        def counting_apply(node: Any, **kwargs: Any) -> None:
            if isinstance(node, RegtuiDataTable):
                restyled.append(node)
            apply(node, **kwargs)

        app.stylesheet.apply = counting_apply  # type: ignore[method-assign]
        for theme in (None, "textual-light"):
            if theme is not None:
                app.theme = theme
            await pilot.pause(1.0)  # idle: time enough for all four tables
            restyled.clear()
            for key in ["tab", "tab", "tab", "tab", "shift+tab"]:
                await pilot.press(key)
            assert restyled == [], f"restyled on Tab ({theme or 'default theme'})"
            shown, redrawn = await on_screen_and_redrawn(pilot)
            assert shown == redrawn


async def test_a_resized_app_draws_what_one_started_at_that_size_draws(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    """Rows rendered before a resize are reused only when they are still right.

    The tables keep their rendered rows when only their height changes (the downloads
    panel opening): after shorter, then narrower, then wider panes, the screen must be
    what a fresh app at that size shows.
    """

    async def open_layers(app: RegtuiApp, pilot: Any) -> None:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        platforms = screen.query_one(PlatformList)
        await wait_for(pilot, lambda: len(platforms.items) == 3, what="platforms")
        await pilot.press("enter")
        layers = screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")

    async def shot(app: RegtuiApp, pilot: Any) -> str:
        await settle(pilot)
        return app.export_screenshot()

    target = f"{registry.host}/app:1.0"
    app = app_for(target, tmp_path / "resized")
    async with app.run_test(size=SIZE) as pilot:
        await open_layers(app, pilot)
        for size in [(160, 30), (130, 30), (170, 40)]:
            await pilot.resize_terminal(*size)
            resized = await shot(app, pilot)
            fresh_app = app_for(target, tmp_path / f"fresh-{size[0]}")
            async with fresh_app.run_test(size=size) as fresh_pilot:
                await open_layers(fresh_app, fresh_pilot)
                fresh = await shot(fresh_app, fresh_pilot)
            assert resized == fresh, f"stale rows at {size}"


async def test_filter_as_you_type_and_escape_clears(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(registry.host, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        repos = app.screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: len(repos.items) == len(registry.all_repos), what="catalog")
        await pilot.press("slash", *"repo-100")
        await wait_for(pilot, lambda: repos.filter_text == "repo-100", what="filtering")
        assert shown_labels(repos) == [f"bulk/repo-{n:04d}" for n in range(1000, 1010)]
        assert repos.border_subtitle == f"10 of {len(registry.all_repos):,} repositories"
        await pilot.press("escape")  # clears the filter, back to the list
        assert repos.table.row_count == len(registry.all_repos)
        assert repos.table.has_focus


async def test_tags_natural_sort_lazy_details_and_sort_by_date(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(f"{registry.host}/{registry.manytags_repo}", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        tags = app.screen.query_one(TagTable)
        await wait_for(pilot, lambda: len(tags.items) == 302, what="302 tags")
        assert focused_pane(app) is tags
        names = [row.name for row in tags.shown]
        assert names.index("1.9") < names.index("1.10") < names.index("1.11")
        assert names.index("1.2") < names.index("1.9")
        await settle(pilot)
        # Only the rows in view were looked up, and they show a digest and a size.
        looked_up = [row for row in tags.items if row.details is not None]
        assert 0 < len(looked_up) < 60
        first = tags.shown[0]
        assert first.details is not None
        assert first.details.digest == registry.manytags_image.digest
        cells = tags.table.get_row_at(0)
        assert str(cells[4]) == registry.manytags_image.digest.split(":")[1][:12]
        # Scrolling further fills in more rows.
        await pilot.press("pagedown")
        await settle(pilot)
        assert len([row for row in tags.items if row.details is not None]) > len(looked_up)
        # Filter, then sort by date (every tag looked up, same image: same date).
        await pilot.press("slash", *"1.1", "enter")
        assert [row.name for row in tags.shown][:3] == ["1.1", "1.10", "1.11"]
        await pilot.press("s")
        assert tags.sort_by_date
        await settle(pilot)
        assert all(row.details is not None for row in tags.items)


async def test_open_at_reference_preselects_host_platform(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(f"{registry.host}/app:1.0", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        platforms = screen.query_one(PlatformList)
        await wait_for(pilot, lambda: bool(platforms.items), what="platforms")
        assert focused_pane(app) is platforms
        labels = shown_labels(platforms)
        assert labels == list(registry.images["multi"].platforms)
        assert not any("unknown" in label for label in labels)  # attestation folded in
        amd64 = next(row for row in platforms.items if row.label == "linux/amd64")
        assert len(amd64.attestations) == 1
        assert "att" in str(platforms.table.get_row_at(0)[2])
        host = host_platform()
        if str(host) in labels:
            assert highlighted_label(platforms) == str(host)
            assert "host" in str(platforms.table.get_row_at(platforms.table.cursor_row)[2])
        # The catalog and the tags were opened at the same place.
        repos = screen.query_one(RepositoryList)
        tags = screen.query_one(TagTable)
        await wait_for(pilot, lambda: repos.highlighted_key() == "app", what="app highlighted")
        await wait_for(pilot, lambda: tags.highlighted_key() == "1.0", what="1.0 highlighted")
        await settle(pilot)
        sizes = {row.label: row.size for row in platforms.items}
        seeded = registry.images["multi"].manifests
        for name, manifest in seeded.items():
            layer_total = sum(layer.size for layer in manifest.layers)
            assert sizes[name] == manifest.config_size + layer_total


async def test_single_platform_tag_skips_to_layers(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    single = registry.images["single"]
    app = app_for(f"{registry.host}/{single.reference}", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        layers = app.screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        # The focus follows once the layers are drawn (after a refresh), so wait for it.
        await wait_for(pilot, lambda: focused_pane(app) is layers, what="focus on layers")
        (manifest,) = single.manifests.values()
        assert [row.digest for row in layers.items] == [x.digest for x in manifest.layers]
        summary = static_text(layers.query_one("#config-summary"))
        assert "tini" in summary and "9000/tcp" in summary and "/work" in summary
        # What the image says is shown as written, brackets and colons included (Rich
        # would read it as markup: styles, emoji, or a crash on a closing tag).
        assert f"description={SINGLE_LABEL}" in summary
        assert SINGLE_RUN in [row.created_by for row in layers.items]
        await pilot.pause()
        assert SINGLE_RUN[:24] in screen_text(app)  # as much as the narrow pane shows
        # y copies registry/repo@digest; m shows the raw manifest; c the raw config.
        await pilot.press("y")
        assert app.clipboard == f"{registry.host}/{single.repo}@{single.digest}"
        await pilot.press("m")
        assert isinstance(app.screen, RawDocumentScreen)
        assert app.screen.raw == single.raw
        await pilot.press("escape")
        await pilot.press("c")
        assert isinstance(app.screen, RawDocumentScreen)
        assert app.screen.raw == manifest.config_raw
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_download_a_non_host_platform(registry: RegistryHandle, tmp_path: Path) -> None:
    multi = registry.images["multi"]
    app = app_for(f"{registry.host}/app:1.0", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        platforms = screen.query_one(PlatformList)
        await wait_for(pilot, lambda: len(platforms.items) == 3, what="platforms")
        await pilot.press("G")  # linux/arm/v7, the last row
        assert highlighted_label(platforms) == "linux/arm/v7"
        await pilot.press("d")
        panel = screen.query_one(DownloadsPanel)
        assert panel.display
        await wait_for(pilot, lambda: bool(panel.views), what="a download row")
        view = panel.views[0]
        # Full garbage collections skip the app's heap while it downloads (UI stalls)...
        assert gc.get_freeze_count() > 0 or not view.running
        # The user keeps browsing while it runs.
        await pilot.press("escape")
        assert focused_pane(app) is screen.query_one(TagTable)
        await wait_for(pilot, lambda: not view.running, limit=30, what="download end")
        assert view.state == "done", view.error
        # ...and only then may the app collect among frozen objects (regtui.ui.heap.tidy).
        assert not heap.held()
        await pilot.pause(0.2)
        header = static_text(view.query_one(".download-header"))
        assert "done" in header and "linux/arm/v7" in header
        states = [line.state for line in view.lines]
        assert states[:-1] == ["done"] * (len(states) - 1)
        # Each progress frame repaints only the lines that changed: none is left stale.
        shown, redrawn = await on_screen_and_redrawn(pilot)
        assert shown == redrawn

    seeded = multi.manifests["linux/arm/v7"]
    layout = tmp_path / "downloads" / "app_1.0"
    index = json.loads((layout / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["digest"] == seeded.digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    assert entry["platform"]["architecture"] == "arm"
    for digest in [seeded.digest, seeded.config_digest, *(x.digest for x in seeded.layers)]:
        assert (layout / "blobs" / "sha256" / digest.split(":")[1]).is_file()
    out = skopeo(
        "inspect",
        "--override-os",
        "linux",
        "--override-arch",
        "arm",
        "--override-variant",
        "v7",
        f"oci:{layout}:1.0",
    )
    assert json.loads(out.stdout)["Architecture"] == "arm"


async def test_unknown_repository_says_so_in_the_tags_pane(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(f"{registry.host}/no/such-repo", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        tags = app.screen.query_one(TagTable)
        await wait_for(pilot, lambda: tags.status.has_class("-error"), what="an error")
        text = status_text(tags)
        assert "not found" in text or "NAME_UNKNOWN" in text
        assert "Traceback" not in text
        # The app is alive: the catalog still works.
        await pilot.press("1")
        assert focused_pane(app) is app.screen.query_one(RepositoryList)


async def test_unknown_tag_says_so_in_the_platforms_pane(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(f"{registry.host}/app:9.9", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        platforms = app.screen.query_one(PlatformList)
        await wait_for(pilot, lambda: platforms.status.has_class("-error"), what="an error")
        assert "MANIFEST_UNKNOWN" in status_text(platforms) or "not found" in status_text(platforms)


async def test_registry_down_shows_message_and_stays_up(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = app_for(f"127.0.0.1:{port}", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        repos = app.screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: repos.status.has_class("-error"), what="an error")
        assert "cannot connect" in status_text(repos)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_catalog_refused_offers_typing_a_name(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    class NoCatalog(RegistryClient):
        async def catalog_pages(  # type: ignore[override]
            self, page_size: int | None = 1000, *, first_page_size: int | None = None
        ) -> Any:
            raise PermissionDeniedError(403, "http://x/v2/_catalog", [], "")
            yield []  # pragma: no cover

    def factory(reg: Registry, options: TransportOptions | None = None) -> RegistryClient:
        return NoCatalog(reg, options=options)

    app = app_for(registry.host, tmp_path, client_factory=factory)
    async with app.run_test(size=SIZE) as pilot:
        repos = app.screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: repos.status.has_class("-warning"), what="the refusal")
        assert "does not list its repositories" in status_text(repos)
        name_box = repos.query_one("#repository-name")
        assert name_box.display
        await wait_for(pilot, lambda: name_box.has_focus, what="the name box to have the focus")
        await pilot.press(*"app:1.0", "enter")
        platforms = app.screen.query_one(PlatformList)
        await wait_for(pilot, lambda: len(platforms.items) == 3, what="platforms of app:1.0")
        assert focused_pane(app) is platforms
        assert "app" in repos.items


async def test_docker_list_and_schema2(registry: RegistryHandle, tmp_path: Path) -> None:
    docker_list = registry.images["dockerlist"]
    app = app_for(f"{registry.host}/{docker_list.reference}", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        platforms = app.screen.query_one(PlatformList)
        await wait_for(pilot, lambda: bool(platforms.items), what="platforms")
        assert shown_labels(platforms) == ["linux/amd64", "linux/arm64/v8"]
        assert "Docker manifest list" in status_text(platforms)
        await pilot.press("home", "enter")
        layers = app.screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        assert all(row.compression == "gzip" for row in layers.items)
        assert any("apk add" in row.created_by for row in layers.items)


async def test_start_screen_records_recent_registry(
    registry: RegistryHandle, tmp_path: Path
) -> None:
    app = app_for(None, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, StartScreen)
        await pilot.press(*"not a registry", "enter")
        assert "whitespace" in static_text(app.screen.query_one("#start-error"))
        box = app.screen.query_one("#target-input")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press(*registry.host, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="main screen")
        repos = app.screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: bool(repos.items), what="catalog")
    recent = json.loads((tmp_path / "recent.json").read_text())
    assert recent == {"registries": [registry.host]}


@pytest.fixture
def slow_demo(demo_store_dir: Path) -> Any:  # noqa: F811
    from regtui.demo import DemoRegistry, ensure_demo_store

    with DemoRegistry(ensure_demo_store(demo_store_dir), rate=400_000) as demo:
        yield demo


async def test_cancel_a_download_keeps_layout_valid(slow_demo: Any, tmp_path: Path) -> None:
    app = app_for(f"{slow_demo.address}/tools/cli:latest", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        layers = app.screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        await pilot.press("d")
        panel = app.screen.query_one(DownloadsPanel)
        await wait_for(pilot, lambda: bool(panel.views), what="a download")
        view = panel.views[0]
        await wait_for(pilot, lambda: view.stats.fetched > 0, what="bytes flowing")
        await pilot.press("x")
        await wait_for(pilot, lambda: view.state == "cancelled", limit=10, what="cancel")
        assert "cancelled" in static_text(view.query_one(".download-header"))
    layout = tmp_path / "downloads" / "tools_cli_latest"
    assert json.loads((layout / "index.json").read_text())["manifests"] == []

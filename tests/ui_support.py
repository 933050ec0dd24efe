"""Helpers and fixtures for the TUI tests (``tests/test_ui_*.py``).

Import the fixtures into a test module (``from ui_support import demo_registry``) to use
them; they are session-scoped, so every module shares one demo registry.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual.pilot import Pilot

from regtui.core.client import RegistryClient, TransportOptions, connect
from regtui.core.manifest import Platform
from regtui.core.reference import Registry
from regtui.demo import DemoRegistry, ensure_demo_store
from regtui.ui.app import RegtuiApp, make_app

#: The name snapshots show for the demo registry (no port, so shots are stable).
DEMO_HOST = "registry.demo"
#: Snapshots pretend to run on this platform, whatever the machine is.
SNAPSHOT_HOST_PLATFORM = Platform("linux", "amd64")


def rewriting_factory(hosts: dict[str, str]) -> Callable[..., RegistryClient]:
    """A ``client_factory`` that sends requests for a display name to a real address."""

    def factory(registry: Registry, options: TransportOptions | None = None) -> RegistryClient:
        return connect(hosts.get(registry.host, registry.host), options)

    return factory


class FakeClock:
    """A monotonic clock that moves only when told (for speeds and ETAs in snapshots)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def quiet_app(target: str | None, **kwargs: Any) -> RegtuiApp:
    """``make_app`` with the cursor blink off (stable snapshots)."""
    app = make_app(target, **kwargs)
    app.cursor_blink = False
    return app


def stub_app(
    target: str, handler: Callable[[httpx.Request], httpx.Response], tmp_path: Path
) -> RegtuiApp:
    """``quiet_app`` on a stub registry (``httpx.MockTransport(handler)``), files in tmp_path.

    For what a real registry cannot be made to do; everything else uses the real one.
    """

    def factory(registry: Registry, options: TransportOptions | None = None) -> RegistryClient:
        return RegistryClient(registry, transport=httpx.MockTransport(handler))

    return quiet_app(
        target,
        client_factory=factory,
        download_dir=tmp_path / "dl",
        recent_path=tmp_path / "recent.json",
    )


async def settle(pilot: Pilot[Any], *, limit: float = 10.0, quiet: float = 0.15) -> None:
    """Wait until no worker has run for ``quiet`` seconds (lazy look-ups start late)."""
    app = pilot.app
    deadline = time.monotonic() + limit
    calm_since: float | None = None
    while time.monotonic() < deadline:
        await pilot.pause(0.03)
        busy = any(not w.is_finished for w in app.workers)
        if busy:
            calm_since = None
            await app.workers.wait_for_complete()
            continue
        calm_since = calm_since or time.monotonic()
        if time.monotonic() - calm_since >= quiet:
            await pilot.pause()
            return
    raise AssertionError("workers did not settle in time")


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], bool], *, limit: float = 10.0, what: str = ""
) -> None:
    """Pause until ``predicate()`` holds."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


@pytest.fixture(scope="session")
def demo_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide copy of the deterministic demo images."""
    path = tmp_path_factory.mktemp("demo-store")
    ensure_demo_store(path)
    return path


@pytest.fixture(scope="session")
def demo_registry(demo_store_dir: Path) -> Iterator[DemoRegistry]:
    """The embedded demo registry, unthrottled."""
    with DemoRegistry(ensure_demo_store(demo_store_dir)) as registry:
        yield registry


@pytest.fixture
def ui_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the app's recent list and downloads inside ``tmp_path``."""
    monkeypatch.setenv("REGTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("REGTUI_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    return tmp_path


def static_text(widget: Any) -> str:
    """The plain text a ``Static`` shows (strings, Text, Content or any Rich renderable)."""
    content = widget.content
    if isinstance(content, str):
        return content
    plain = getattr(content, "plain", None)
    if isinstance(plain, str):
        return plain
    console = Console(width=300, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


def screen_text(app: RegtuiApp) -> str:
    """Everything the terminal shows right now, as plain text (modals included)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, color_system=None
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()

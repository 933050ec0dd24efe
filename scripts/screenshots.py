#!/usr/bin/env python3
"""Regenerate the SVG screenshots in screenshots/ from the demo registry.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Runs the app headless (``App.run_test``) on the embedded demo registry, shown as
``registry.demo`` so no port number appears, with the host platform pinned to
linux/amd64 so the shots look the same on every machine, and saves one SVG per pane, the
raw manifest, the help screen and a download in progress (the demo's throttled blob
bandwidth keeps it mid-transfer when the shot is taken).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from regtui.core.client import RegistryClient, TransportOptions, connect  # noqa: E402
from regtui.core.credentials import Credential  # noqa: E402
from regtui.core.manifest import Platform  # noqa: E402
from regtui.core.reference import Registry  # noqa: E402
from regtui.demo import DemoRegistry, ensure_demo_store  # noqa: E402
from regtui.ui import session  # noqa: E402
from regtui.ui.app import RegtuiApp, make_app  # noqa: E402
from regtui.ui.session import ClientFactory  # noqa: E402

DISPLAY_HOST = "registry.demo"
SIZE = (160, 42)


def _factory(address: str) -> ClientFactory:
    def factory(
        registry: Registry,
        options: TransportOptions | None = None,
        *,
        credential: Credential | None = None,
    ) -> RegistryClient:
        host = address if registry.host == DISPLAY_HOST else registry.host
        return connect(host, options, credential=credential)

    return factory


async def _settle(app: RegtuiApp, pilot: Any, quiet: float = 0.3, limit: float = 20.0) -> None:
    """Wait until no worker has run for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    calm: float | None = None
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if any(not w.is_finished and w.group != "downloads" for w in app.workers):
            calm = None
            continue
        calm = calm or time.monotonic()
        if time.monotonic() - calm >= quiet:
            return
    raise SystemExit("the app did not settle; is the demo registry answering?")


Steps = Callable[[RegtuiApp, Any], Awaitable[None]]


def _keys(*keys: str) -> Steps:
    async def run(app: RegtuiApp, pilot: Any) -> None:
        for key in keys:
            await pilot.press(key)
            await _settle(app, pilot)

    return run


async def _download(app: RegtuiApp, pilot: Any) -> None:
    await pilot.press("d")
    await pilot.pause(2.0)  # mid-transfer at the demo's throttled rate


SHOTS: list[tuple[str, str, Steps]] = [
    ("repositories", DISPLAY_HOST, _keys()),
    ("tags", f"{DISPLAY_HOST}/acme/api", _keys()),
    ("platforms", f"{DISPLAY_HOST}/acme/webapp:1.4", _keys()),
    ("layers", f"{DISPLAY_HOST}/acme/webapp:1.4", _keys("enter")),
    ("manifest", f"{DISPLAY_HOST}/acme/webapp:1.4", _keys("enter", "m")),
    ("help", f"{DISPLAY_HOST}/acme/webapp:1.4", _keys("question_mark")),
    ("download", f"{DISPLAY_HOST}/acme/webapp:1.4", _download),
]


async def take(out: Path, address: str, downloads: Path) -> list[Path]:
    """Take every shot into ``out``; returns the files written."""
    written = []
    for name, target, steps in SHOTS:
        app = make_app(
            target,
            client_factory=_factory(address),
            download_dir=downloads,
            recent_path=downloads / "recent.json",
        )
        app.cursor_blink = False
        async with app.run_test(size=SIZE) as pilot:
            await _settle(app, pilot)
            await steps(app, pilot)
            path = out / f"{name}.svg"
            app.save_screenshot(path.name, path=str(out))
            written.append(path)
        # Leaving run_test quits the app, which stops a running download cleanly.
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--rate", type=float, default=4_000_000, help="demo blob bytes/s")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # The same picture on every machine: pretend to run on linux/amd64.
    session.host_platform = lambda: Platform("linux", "amd64")  # type: ignore[attr-defined]
    store = ensure_demo_store()
    # A fixed folder, so the path in the download shot does not change from run to run.
    downloads = Path(tempfile.gettempdir()) / "regtui-screenshots"
    shutil.rmtree(downloads, ignore_errors=True)
    try:
        with DemoRegistry(store, rate=args.rate) as registry:
            written = asyncio.run(take(args.out, registry.address, downloads))
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The screenshot script (scripts/screenshots.py) runs and shows what the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_screenshot_script_draws_every_shot_from_the_demo(tmp_path: Path) -> None:
    env = {**os.environ, "REGTUI_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshots.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    shots = {p.stem: p.read_text() for p in tmp_path.glob("*.svg")}
    expected = {"repositories", "tags", "platforms", "layers", "manifest", "help", "download"}
    assert set(shots) == expected
    # The registry appears under its display name (modals cover the header), never as a
    # loopback port.
    modals = {"help", "manifest"}
    assert all("registry.demo" in svg for name, svg in shots.items() if name not in modals)
    assert all("127.0.0.1" not in svg for svg in shots.values())
    # Each shot shows what it is named for (SVG text uses &#160; for spaces).
    assert "acme/webapp" in shots["repositories"]
    assert "2.0.0-rc1" in shots["tags"]
    assert "linux/arm64/v8" in shots["platforms"]
    assert "Entrypoint" in shots["layers"]
    assert "mediaType" in shots["manifest"]
    assert "downloading" in shots["download"] and "ETA" in shots["download"]

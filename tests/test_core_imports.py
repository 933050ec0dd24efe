"""``regtui.core`` is UI-free: importing any of it must not import Textual."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import regtui.core

CORE_DIR = Path(regtui.core.__file__).parent

PROBE = """
import importlib, json, pkgutil, sys
import regtui.core

names = sorted(
    f"regtui.core.{m.name}" for m in pkgutil.iter_modules(regtui.core.__path__)
)
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "imported": names,
    "ui": sorted(
        m for m in sys.modules if m == "textual" or m.startswith(("textual.", "regtui.ui"))
    ),
}))
"""


def test_core_modules_exist() -> None:
    # Guards the test below against silently checking nothing.
    names = {m.name for m in pkgutil.iter_modules([str(CORE_DIR)])}
    assert {"client", "errors", "manifest", "reference"} <= names


def test_importing_every_core_module_does_not_import_textual() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = sorted(
        f"regtui.core.{p.stem}" for p in CORE_DIR.glob("*.py") if p.stem != "__init__"
    )
    assert report["imported"] == expected
    assert report["ui"] == [], f"regtui.core pulled in UI modules: {report['ui']}"

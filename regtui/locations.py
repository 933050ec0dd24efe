"""Where regtui keeps things, via platformdirs (one function per path, overridable).

``REGTUI_CONFIG_DIR``, ``REGTUI_CACHE_DIR`` and ``REGTUI_DOWNLOAD_DIR`` override the
defaults (tests use them; so can users). regtui never writes credentials anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "regtui"


def config_dir() -> Path:
    """User config directory (recent registries live here)."""
    override = os.environ.get("REGTUI_CONFIG_DIR")
    return Path(override) if override else platformdirs.user_config_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """User cache directory (the demo's generated images live here)."""
    override = os.environ.get("REGTUI_CACHE_DIR")
    return Path(override) if override else platformdirs.user_cache_path(APP_NAME, appauthor=False)


def downloads_dir() -> Path:
    """Where the TUI downloads images: the user's downloads directory + ``/regtui``."""
    override = os.environ.get("REGTUI_DOWNLOAD_DIR")
    if override:
        return Path(override)
    return platformdirs.user_downloads_path() / APP_NAME


def recent_file() -> Path:
    """The list of recently used registries (plain JSON, no secrets)."""
    return config_dir() / "recent.json"

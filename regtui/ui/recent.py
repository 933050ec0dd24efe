"""Recently used registries, kept as plain JSON in the config directory (never secrets)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from regtui.locations import recent_file

MAX_RECENT = 20


def load_recent(path: Path | None = None) -> list[str]:
    """Registries used before, most recent first; an unreadable file is an empty list."""
    path = path or recent_file()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    items = doc.get("registries") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, str) and item][:MAX_RECENT]


def record_recent(registry: str, path: Path | None = None) -> list[str]:
    """Put ``registry`` (a host, or ``scheme://host``) first in the list and save it.

    Only the registry's address is stored: no repository, user name or token. Failing to
    write (read-only home...) is not an error worth bothering the user with.
    """
    path = path or recent_file()
    items = [registry] + [r for r in load_recent(path) if r != registry]
    items = items[:MAX_RECENT]
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"registries": items}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".recent-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return items

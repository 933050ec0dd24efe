"""Formatting shared by the CLI and the TUI (sizes, rates, durations, digests)."""

from __future__ import annotations

import humanize


def size(n: int | float) -> str:
    """``716 B``, ``1.2 kB``, ``3.4 MB``: decimal units, one decimal."""
    if n < 1000:
        return f"{int(n)} B"
    return str(humanize.naturalsize(n, binary=False, format="%.1f"))


def rate(bytes_per_second: float) -> str:
    """``85.3 MB/s``."""
    return f"{size(bytes_per_second)}/s"


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def short_digest(digest: str, length: int = 12) -> str:
    """``sha256:0123456789ab``."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:length]}" if hexpart else digest


def one_line(text: str, limit: int | None = None) -> str:
    """Collapse whitespace; clip to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        return text[: max(0, limit - 1)] + "…"
    return text

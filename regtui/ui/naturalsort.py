"""Natural ordering of tag names: ``1.9`` before ``1.10``, ``v2`` before ``v10``."""

from __future__ import annotations

import re

_CHUNKS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key comparing digit runs as numbers and the rest case-insensitively.

    Every chunk is a ``(kind, number, text)`` triple so numbers and words never compare
    with each other directly; the original text breaks ties so the order is total.
    """
    parts: list[tuple[int, int, str]] = []
    for i, chunk in enumerate(_CHUNKS.split(text)):
        if not chunk:
            continue
        if i % 2:  # a digit run
            parts.append((0, int(chunk), chunk))
        else:
            parts.append((1, 0, chunk.casefold()))
    parts.append((-1, 0, text))  # the end sorts before any continuation: 1 < 1.4 < 1.4.2
    return tuple(parts)


def natural_sorted(items: list[str]) -> list[str]:
    """``items`` in natural order."""
    return sorted(items, key=natural_key)

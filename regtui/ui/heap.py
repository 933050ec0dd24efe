"""Keeping the app's long-lived objects out of Python's full garbage collections.

A full collection walks every object the collector tracks. After the imports (~40,000
objects), and more so once a long catalog or tag list is loaded (~200,000 objects with
5,000 repositories and 10,000 tags), one took 50-270 ms here, and Python starts one each
time the heap has grown by a quarter: five of them while those two lists loaded, each a
frozen frame or a late key (bench/load_browse.py). So a long list is built with the
collector paused, and what was built is then moved out of its sight (``gc.freeze``), as
the imports are before the app starts (:func:`regtui.ui.freeze_imported_objects`).
Frozen objects are still freed when nothing refers to them (reference counting); only
reference cycles among them wait, until the downloads panel unfreezes the heap after its
last download.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Rows built at once from which the collector is paused, and the result frozen.
BULK_ROWS = 1000

_depth = 0


@contextmanager
def bulk_load(rows: int) -> Iterator[None]:
    """Build ``rows`` long-lived rows without garbage collections, then freeze the heap.

    Fewer than :data:`BULK_ROWS` rows: nothing special. Nested uses pause once and freeze
    once, at the end of the outermost.
    """
    global _depth
    if rows < BULK_ROWS:
        yield
        return
    paused = _depth == 0 and gc.isenabled()
    if paused:
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if paused:
            gc.enable()
        if _depth == 0:
            freeze_long_lived()


def freeze_long_lived() -> None:
    """Move every object alive now out of full collections.

    Not collected first: after a bulk load that walk alone took ~35 ms. Cycles that were
    already garbage (few: a closed dialog) are kept until the next unfreeze.
    """
    gc.freeze()

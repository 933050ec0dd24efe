"""Keeping the app's long-lived objects out of Python's full garbage collections.

A full collection walks every object the collector tracks. After the imports (~40,000
objects), and more so once a long catalog or tag list is loaded (~200,000 objects with
5,000 repositories and 10,000 tags), one took 50-270 ms here, and Python starts one each
time the heap has grown by a quarter: five of them while those two lists loaded, each a
frozen frame or a late key (bench/load_browse.py). So the imports are frozen before the
app starts (``gc.freeze``: out of the collector's sight), a long list is built with the
collector paused and frozen once built, and downloads freeze the heap while they run.

Frozen objects are still freed when nothing refers to them (reference counting), but a
reference cycle among them is never found while they are frozen: a table's render
caches, frozen with a list, leaked ~1 MB each time the list was replaced. So
:func:`tidy` unfreezes and collects once enough has been frozen since it last did; the
app calls it when the user has been idle for a moment and no download runs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Rows built at once from which the collector is paused, and the result frozen.
BULK_ROWS = 1000
#: :func:`tidy` collects once the frozen objects have grown by this factor.
TIDY_GROWTH = 1.5

_depth = 0
_holds = 0
_frozen_after_tidy = 0


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
    """Move every object alive now out of full collections (until :func:`tidy`)."""
    global _frozen_after_tidy
    gc.freeze()
    if not _frozen_after_tidy:
        _frozen_after_tidy = gc.get_freeze_count()  # the first freeze: the imports


def hold() -> None:
    """Freeze the heap, and keep :func:`tidy` from collecting until :func:`release`.

    For downloads: a full collection while a transfer keeps the cores busy stalled the
    UI for 0.2-0.45 s, and a key pressed then waited for it.
    """
    global _holds
    _holds += 1
    freeze_long_lived()


def release() -> None:
    """End a :func:`hold`."""
    global _holds
    _holds = max(0, _holds - 1)


def held() -> bool:
    """Whether a :func:`hold` keeps :func:`tidy` from collecting."""
    return _holds > 0


def tidy(*, now: bool = True) -> bool:
    """Collect the garbage among frozen objects, if enough was frozen since last time.

    A full collection of everything (0.1-0.3 s with long lists), so only when the frozen
    objects have grown by :data:`TIDY_GROWTH` over the fewest seen since the last one,
    and nothing holds the heap; what is still alive is frozen again. With ``now`` false
    (the user is busy) only the count is looked at. True if it collected.
    """
    global _frozen_after_tidy
    frozen = gc.get_freeze_count()
    # Frozen objects freed by reference counting leave the count: compare with the
    # fewest seen, not with a moment when a list's temporaries were frozen too.
    _frozen_after_tidy = min(_frozen_after_tidy, frozen) if _frozen_after_tidy else frozen
    if not now or _holds or _depth or frozen < TIDY_GROWTH * _frozen_after_tidy:
        return False
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _frozen_after_tidy = gc.get_freeze_count()
    return True

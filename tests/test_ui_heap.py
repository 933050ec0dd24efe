"""``regtui.ui.heap``: long lists are built without garbage collections, then frozen, and
what becomes garbage among frozen objects is still collected (``tidy``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from regtui.ui import heap
from regtui.ui.heap import BULK_ROWS, bulk_load


@pytest.fixture(autouse=True)
def _unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    gc.unfreeze()
    monkeypatch.setattr(heap, "_frozen_after_tidy", 0)
    monkeypatch.setattr(heap, "_holds", 0)
    yield
    gc.unfreeze()
    gc.enable()


class Node:
    """An object in a reference cycle (only the cyclic collector can free it)."""

    def __init__(self) -> None:
        self.me = self


def grow_frozen() -> list[list[int]]:
    """Freeze enough new objects for ``tidy`` to think it worth a collection."""
    grown = [[] for _ in range(int(gc.get_freeze_count() * heap.TIDY_GROWTH) + 1000)]
    heap.freeze_long_lived()
    return grown


def test_a_bulk_load_pauses_the_collector_and_freezes_what_it_built() -> None:
    with bulk_load(BULK_ROWS):
        assert not gc.isenabled()
        rows = [{"name": f"tag-{i}"} for i in range(BULK_ROWS)]
        with bulk_load(BULK_ROWS):  # nested: still paused, nothing frozen yet
            assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(rows)


def test_a_short_list_changes_nothing() -> None:
    with bulk_load(BULK_ROWS - 1):
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_the_collector_runs_again_after_a_failed_load() -> None:
    with pytest.raises(RuntimeError), bulk_load(BULK_ROWS):
        raise RuntimeError("the registry went away")
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off() -> None:
    gc.disable()
    with bulk_load(BULK_ROWS):
        pass
    assert not gc.isenabled()


def test_garbage_that_was_frozen_is_collected_when_the_app_tidies() -> None:
    node = Node()
    gone = weakref.ref(node)
    heap.freeze_long_lived()
    del node
    gc.collect()
    assert gone() is not None  # frozen: out of the collector's sight
    kept = grow_frozen()

    assert not heap.tidy(now=False)  # the user is busy
    assert gone() is not None
    assert heap.tidy()
    assert gone() is None
    assert len(kept) > 1000  # what is alive stays
    assert gc.get_freeze_count() > 0  # and is frozen again
    assert not heap.tidy()  # nothing new since


def test_no_collection_while_a_download_holds_the_heap() -> None:
    node = Node()
    gone = weakref.ref(node)
    heap.hold()
    del node
    kept = grow_frozen()
    assert not heap.tidy()
    assert gone() is not None
    heap.release()
    assert heap.tidy()
    assert gone() is None
    assert kept

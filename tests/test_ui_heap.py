"""``regtui.ui.heap``: long lists are built without garbage collections, then frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from regtui.ui.heap import BULK_ROWS, bulk_load


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


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

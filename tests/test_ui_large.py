"""Long lists in the TUI: the work done per update must not grow with the list.

Timings live in ``bench/load_browse.py``; these tests count work instead, so that they
fail the same way on any machine. They use an ``httpx.MockTransport`` registry because
the point is the table, not the network.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import _data_table
from ui_support import settle, stub_app, wait_for

from regtui.ui.widgets.tag_table import TagTable

TAGS = 3000
CONFIG = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-02T03:04:05Z",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }
).encode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(CONFIG).hexdigest(),
            "size": len(CONFIG),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + "a" * 64,
                "size": 12345,
            }
        ],
    }
).encode()


def tag_names(count: int) -> list[str]:
    # Names of uneven widths all along the list ("1.2", "1.3-rc.3-linux"): most rows are
    # narrower than the widest, which is what used to trigger a re-measure of the column.
    return [f"1.{n}" if n % 2 else f"1.{n}-rc.{n % 10}-linux" for n in range(count)]


def many_tags_registry(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v2/":
        return httpx.Response(200, json={})
    if path == "/v2/_catalog":
        return httpx.Response(200, json={"repositories": ["many"]})
    if path == "/v2/many/tags/list":
        return httpx.Response(200, json={"name": "many", "tags": tag_names(TAGS)})
    if path.startswith("/v2/many/manifests/"):
        return httpx.Response(
            200,
            content=MANIFEST if request.method == "GET" else b"",
            headers={
                "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                "Docker-Content-Digest": "sha256:" + hashlib.sha256(MANIFEST).hexdigest(),
                "Content-Length": str(len(MANIFEST)),
            },
        )
    if path.startswith("/v2/many/blobs/"):
        return httpx.Response(200, content=CONFIG)
    return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN", "message": "no"}]})


async def test_filling_in_tag_details_does_not_remeasure_the_whole_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured = 0
    real_measure = _data_table.measure

    def counting_measure(*args: Any, **kwargs: Any) -> int:
        nonlocal measured
        measured += 1
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(_data_table, "measure", counting_measure)
    app = stub_app("127.0.0.1:5000/many", many_tags_registry, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        pane = app.screen.query_one(TagTable)
        await wait_for(pilot, lambda: len(pane.items) == TAGS and not pane.busy, what="tags")
        await settle(pilot)
        # Jump into the middle of the list: a new screenful of rows gets its details.
        pane.table.focus()
        pane.table.move_cursor(row=TAGS // 2, animate=False, scroll=True)
        await settle(pilot)
        in_view = list(pane.table.visible_row_range())
        await wait_for(
            pilot,
            lambda: all(pane.shown[i].details is not None for i in in_view),
            what="details of the rows in view",
        )
        await settle(pilot)
        before = measured
        # And again, further down.
        pane.table.move_cursor(row=TAGS - 5, animate=False, scroll=True)
        in_view = list(pane.table.visible_row_range())
        await settle(pilot)
        await wait_for(
            pilot,
            lambda: all(pane.shown[i].details is not None for i in in_view),
            what="details of the last rows",
        )
        await settle(pilot)
        filled = len(in_view)
        assert filled >= 10
        # A few measurements per updated cell are fine; one per row of the list is not.
        assert measured - before < filled * len(TagTable.COLUMNS) * 4, (
            f"{measured - before} cells measured to fill in {filled} rows of {TAGS}"
        )
        row = pane.shown[TAGS - 5]
        cells = pane.table.get_row(pane.row_key(row))
        assert str(cells[0]) == row.name
        assert str(cells[2]) == "2026-01-02"

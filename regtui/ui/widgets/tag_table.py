"""``TagTable``: a repository's tags in natural order, details filled in lazily.

Only the rows in view are looked up (HEAD for the digest, then the manifest and config
once per digest, at most a few at a time); scrolling fills in the rest. ``s`` sorts by
creation date, looking up every tag in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable

from regtui import format as fmt
from regtui.core.errors import RegtuiError
from regtui.ui.heap import bulk_load
from regtui.ui.naturalsort import natural_key
from regtui.ui.session import BrowserSession, TagDetails, describe_error, format_created
from regtui.ui.widgets.detail import DetailLine
from regtui.ui.widgets.pane import Pane

#: Tags per tags/list request.
TAG_PAGE_SIZE = 1000
#: Wait this long after scrolling stops before looking up the rows in view.
DETAIL_DEBOUNCE = 0.08
#: Long tags (cosign "sha256-….sig") are clipped in the table; the detail line has them whole.
TAG_WIDTH = 16
#: While sorting by date, rows are re-sorted at most this often as dates arrive.
RESORT_INTERVAL = 0.6


@dataclass(eq=False)
class TagRow:
    """One tag and what is known about it."""

    name: str
    generation: int
    details: TagDetails | None = None
    error: str | None = None
    pending: bool = False

    @property
    def created(self) -> datetime | None:
        """Creation date of the image (of the host's platform for an index)."""
        return self.details.summary.created if self.details else None


class TagTable(Pane[TagRow]):
    """The second pane: tags of the selected repository."""

    TITLE = "Tags"
    COLUMNS = (
        ("tag", "Tag"),
        ("size", "Size", 8),
        ("created", "Created", 10),
        ("kind", "Type", 10),
        ("digest", "Digest", 12),
    )
    NOUN = ("tag", "tags")
    IDLE_HINT = "Select a repository"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s",
            "toggle_sort",
            "Sort by date",
            id="sort-tags",
            tooltip="Sort tags by creation date (newest first) or by name",
        ),
        Binding(
            "y",
            "copy_reference",
            "Copy ref",
            id="copy-tag-reference",
            tooltip="Copy registry/repository@digest of the highlighted tag",
        ),
    ]

    class TagSelected(Message):
        """A tag was chosen (Enter on its row)."""

        def __init__(self, repository: str, tag: str) -> None:
            super().__init__()
            self.repository = repository
            self.tag = tag

    def __init__(self, *, id: str = "tags") -> None:  # noqa: A002
        super().__init__(id=id)
        self.session: BrowserSession | None = None
        self.repository: str | None = None
        self.sort_by_date = False
        self.generation = 0
        self._detail_timer: Timer | None = None
        self._resort_timer: Timer | None = None

    def on_mount(self) -> None:
        self.watch(self.table, "scroll_y", self._viewport_changed, init=False)

    # Rows -------------------------------------------------------------------------------------
    def row_key(self, item: TagRow) -> str:
        return item.name

    def match_text(self, item: TagRow) -> str:
        return item.name

    def row_cells(self, item: TagRow) -> Sequence[Any]:
        name = fmt.one_line(item.name, TAG_WIDTH)
        if item.error:
            return (name, Text("—", justify="right"), "", Text("error", style="italic"), "")
        if item.details is None:
            # A plain "" for a tag not looked up yet: most of 10,000 rows, and a Text each
            # cost time and memory for an empty cell.
            dots = Text("…", style="dim", justify="right") if item.pending else ""
            return (name, dots, "", "", "")
        summary = item.details.summary
        size = fmt.size(summary.size) if summary.size is not None else "—"
        return (
            name,
            Text(size, justify="right"),
            summary.created.strftime("%Y-%m-%d") if summary.created else "",
            summary.kind,
            Text(item.details.digest.split(":", 1)[-1][:12], style="dim"),
        )

    def compose_after_table(self) -> Iterable[Any]:
        yield DetailLine(id="tag-detail", classes="row-detail")

    def _show_detail(self) -> None:
        """Everything known about the highlighted tag, in full, under the table."""
        detail = self.query_one("#tag-detail", DetailLine)
        row = self.highlighted_item()
        if row is None or (row.details is None and row.error is None):
            detail.hide()
            return
        text = Text()
        text.append(row.name, "bold")
        if row.error:
            text.append(f"\n{row.error}")
        elif row.details is not None:
            summary = row.details.summary
            facts = [summary.kind]
            if summary.size is not None:
                size = f"{fmt.size(summary.size)} compressed"
                if summary.platform is not None and "(" in summary.kind:
                    size = f"{summary.platform}: {size}"  # an index: one platform's figures
                facts.append(size)
            created = format_created(summary.created)
            if created:
                facts.append(f"created {created} UTC")
            text.append(" ")
            text.append("· " + " · ".join(facts), "dim")
            text.append(f"\n{row.details.digest}")
        detail.show(text)

    def sorted_rows(self, rows: list[TagRow]) -> list[TagRow]:
        """Natural order, or newest first (unknown dates last) when sorting by date."""
        rows = sorted(rows, key=lambda r: natural_key(r.name))
        if self.sort_by_date:
            rows.sort(key=lambda r: -(r.created.timestamp() if r.created else float("-inf")))
        return rows

    # Loading ----------------------------------------------------------------------------------
    def load(self, session: BrowserSession, repository: str, select: str | None = None) -> None:
        """List the tags of ``repository``; highlight ``select`` when it appears."""
        self.session = session
        self.load_client = session.client
        self.repository = repository
        self.generation += 1
        self.workers.cancel_group(self, "tag-details")
        self.clear_items()
        self.border_title = f"{self.TITLE} · {repository}"
        if select:
            self.select_key_when_shown(select)
        self._load_tags(session, repository, self.generation)

    def reload(self) -> None:
        if self.session is not None and self.repository is not None:
            self.load(self.session, self.repository, select=self.key_to_keep())

    def doing(self) -> str:
        return f"listing the tags of {self.repository}"

    @work(exclusive=True, group="tags", exit_on_error=False)
    async def _load_tags(self, session: BrowserSession, repository: str, generation: int) -> None:
        self.set_busy(True, f"loading tags of {repository}…")
        names: list[str] = []
        async for page in session.client.tag_pages(repository, TAG_PAGE_SIZE):
            names.extend(page)
            with bulk_load(len(names)):
                self.set_items(self.sorted_rows([TagRow(n, generation) for n in names]))
        self.set_busy(False)
        if not names:
            self.set_status(f"{repository} has no tags", "info")
        self.call_after_refresh(self.schedule_details)

    # Lazy details -----------------------------------------------------------------------------
    def _viewport_changed(self, _value: float | None = None) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE, self.schedule_details)

    def on_resize(self) -> None:
        self._viewport_changed()

    def filter_changed(self) -> None:
        self._viewport_changed()

    def schedule_details(self) -> None:
        """Look up the rows in view (or every row when sorting by date)."""
        if self.session is None or self.repository is None:
            return
        if self.sort_by_date:
            rows = list(self.items)
        else:
            rows = [self.shown[i] for i in self.table.visible_row_range() if i < len(self.shown)]
        wanted = [r for r in rows if r.details is None and r.error is None and not r.pending]
        if not wanted:
            return
        for row in wanted:
            row.pending = True
            self.refresh_item(row)
        self.run_worker(
            self._fetch_details(self.session, self.repository, wanted),
            group="tag-details",
            exit_on_error=False,
        )

    async def _fetch_details(
        self, session: BrowserSession, repository: str, rows: list[TagRow]
    ) -> None:
        """Look up ``rows`` (the session bounds how many requests run at once).

        A tag that cannot be looked up is marked in its own row; the others go on.
        """

        async def one(row: TagRow) -> None:
            try:
                details = await session.tag_details(repository, row.name)
            except RegtuiError as exc:
                row.error = describe_error(exc)
            else:
                row.details = details
            finally:
                row.pending = False
            if row.generation != self.generation:
                return
            self.queue_refresh(row)
            if row is self.highlighted_item():
                self._show_detail()
            if self.sort_by_date:
                self._schedule_resort()

        try:
            await asyncio.gather(*(one(row) for row in rows))
        finally:
            for row in rows:
                row.pending = False

    # Sorting ----------------------------------------------------------------------------------
    def action_toggle_sort(self) -> None:
        """Switch between natural order and newest first."""
        self.sort_by_date = not self.sort_by_date
        suffix = " (newest first)" if self.sort_by_date else ""
        base = f"{self.TITLE} · {self.repository}" if self.repository else self.TITLE
        self.border_title = base + suffix
        self.set_items(self.sorted_rows(self.items))
        self.schedule_details()
        self.notify(
            "Sorted by creation date, newest first" if self.sort_by_date else "Sorted by name",
            timeout=2,
        )

    def _schedule_resort(self) -> None:
        if self._resort_timer is None:
            self._resort_timer = self.set_timer(RESORT_INTERVAL, self._resort)

    def _resort(self) -> None:
        self._resort_timer = None
        if self.sort_by_date:
            self.set_items(self.sorted_rows(self.items))

    # Actions ----------------------------------------------------------------------------------
    def item_selected(self, item: TagRow) -> None:
        if self.repository is not None:
            self.post_message(self.TagSelected(self.repository, item.name))

    @on(DataTable.RowHighlighted, ".pane-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def action_copy_reference(self) -> None:
        """Copy ``registry/repository@digest`` of the highlighted tag."""
        row = self.highlighted_item()
        if row is None or self.session is None or self.repository is None:
            return
        if row.details is None:
            self.notify("The digest of this tag is not known yet", severity="warning")
            return
        text = f"{self.session.registry}/{self.repository}@{row.details.digest}"
        self.app.copy_to_clipboard(text)
        self.notify(text, title="Copied", markup=False)

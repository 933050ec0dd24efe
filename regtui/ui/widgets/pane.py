"""``Pane``: the shared shape of the four browser panes.

A pane is a titled box holding a status line (loading, errors, hints), a filter box that
appears on ``/``, and a :class:`RegtuiDataTable`. It keeps the full list of items and the
filtered list shown, restores the cursor across rebuilds, and is the one place where its
workers' failures are turned into words (:meth:`Pane.worker_failed`), or, for a 401 without
credentials, handed to the screen as a :class:`Pane.LoginRequested` (the login prompt).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from regtui.core.client import RegistryClient
from regtui.ui.heap import bulk_load
from regtui.ui.session import describe_error, login_may_help
from regtui.ui.widgets.box import PaneBox
from regtui.ui.widgets.table import RegtuiDataTable

T = TypeVar("T")


#: Lists up to this long are filtered on every keystroke; longer ones when typing pauses.
IMMEDIATE_FILTER_ROWS = 400
FILTER_DEBOUNCE = 0.12
#: Rows whose details arrive within this many seconds are redrawn together.
REFRESH_BATCH = 0.25

#: Status kinds, shown with a class of the same name (``-error``...).
STATUS_KINDS = ("info", "loading", "error", "warning")


class FilterInput(Input):
    """The ``/`` filter box of a pane. Escape clears it; Enter or Down go back to the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", id="clear-filter"),
        Binding("down", "done", "To list", show=False, id="filter-to-list"),
    ]

    class Cleared(Message):
        """Escape was pressed in the filter box."""

    class Finished(Message):
        """The user is done typing (Enter or Down)."""

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())

    def action_done(self) -> None:
        self.post_message(self.Finished())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Finished())


class Pane(PaneBox, Generic[T]):
    """Base class of the repository, tag, platform and layer panes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "start_filter", "Filter", id="filter", tooltip="Filter this list"),
        Binding(
            "escape",
            "back",
            "Back",
            id="back",
            tooltip="Clear the filter, or go back to the previous pane",
        ),
        Binding(
            "r", "reload_pane", "Reload", show=False, id="reload", tooltip="Load this pane again"
        ),
    ]

    #: Shown in the border.
    TITLE: ClassVar[str] = ""
    #: ``(key, label)`` of each column, or ``(key, label, width)`` for a column whose cells
    #: are filled in later (a fixed width spares re-measuring every row on each update).
    COLUMNS: ClassVar[tuple[tuple[str, str] | tuple[str, str, int], ...]] = ()
    #: What the empty pane says before anything is selected upstream.
    IDLE_HINT: ClassVar[str] = ""
    #: Kind of items, for the count in the border ("1,100 repositories").
    NOUN: ClassVar[tuple[str, str]] = ("item", "items")

    class BackRequested(Message):
        """Escape on a pane whose filter is empty: the screen focuses the previous pane."""

        def __init__(self, pane: Pane[Any]) -> None:
            super().__init__()
            self.pane = pane

    class Reloaded(Message):
        """The user asked for the pane to load again (``r``): a new login may be offered."""

        def __init__(self, pane: Pane[Any]) -> None:
            super().__init__()
            self.pane = pane

    class LoginRequested(Message):
        """A look-up was refused with 401 and ``client`` had no credentials.

        The screen answers with :meth:`Pane.reload` once the user has logged in, or
        :meth:`Pane.worker_failed` when there is to be no login.
        """

        def __init__(
            self,
            pane: Pane[Any],
            worker: Worker[Any],
            error: BaseException,
            client: RegistryClient,
            doing: str,
        ) -> None:
            super().__init__()
            self.pane = pane
            self.worker = worker
            self.error = error
            self.client = client
            self.doing = doing

    def __init__(self, *, id: str) -> None:  # noqa: A002
        super().__init__(id=id, classes="pane")
        self.items: list[T] = []
        self.shown: list[T] = []
        self.filter_text = ""
        self.busy = False
        self._pending_key: str | None = None
        self._filter_timer: Timer | None = None
        self._dirty: list[T] = []
        self._dirty_timer: Timer | None = None
        #: The client the current look-up started with (to tell a 401 without credentials).
        self.load_client: RegistryClient | None = None
        self.border_title = self.TITLE

    # Composition ------------------------------------------------------------------------------
    def compose_before_table(self) -> Iterable[Any]:
        """Widgets between the filter box and the table (subclasses)."""
        return ()

    def compose_after_table(self) -> Iterable[Any]:
        """Widgets below the table (subclasses)."""
        return ()

    def compose(self) -> Iterable[Any]:
        yield Static("", classes="pane-status", markup=False)
        yield FilterInput(placeholder="filter…", classes="pane-filter", compact=True)
        yield from self.compose_before_table()
        yield RegtuiDataTable(classes="pane-table")
        yield from self.compose_after_table()

    def on_mount(self) -> None:
        table = self.table
        for key, label, *width in self.COLUMNS:
            table.add_column(label, key=key, width=width[0] if width else None)
        filter_box = self.query_one(FilterInput)
        filter_box.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.set_status(self.IDLE_HINT)
        self._update_counts()

    @property
    def table(self) -> RegtuiDataTable:
        """The pane's table."""
        return self.query_one(RegtuiDataTable)

    @property
    def status(self) -> Static:
        """The status line."""
        return self.query_one(".pane-status", Static)

    # Items ------------------------------------------------------------------------------------
    def row_key(self, item: T) -> str:
        """A unique key for an item's row."""
        return str(item)

    def row_cells(self, item: T) -> Sequence[Any]:
        """The cells of an item's row, one per column."""
        return (str(item),)

    def match_text(self, item: T) -> str:
        """The text the filter searches."""
        return str(item)

    def matches(self, item: T) -> bool:
        """True when ``item`` passes the current filter (every word, case-insensitive)."""
        if not self.filter_text:
            return True
        haystack = self.match_text(item).casefold()
        return all(word in haystack for word in self.filter_text.casefold().split())

    def set_items(self, items: Iterable[T], *, keep_cursor: bool = True) -> None:
        """Replace every item and redraw the table."""
        self.items = list(items)
        self.rebuild(keep_cursor=keep_cursor)

    def append_items(self, items: Sequence[T]) -> None:
        """Add items at the end (a streamed page) without disturbing the cursor."""
        self.items.extend(items)
        fresh = [item for item in items if self.matches(item)]
        if fresh:
            self.shown.extend(fresh)
            self._add_rows(fresh)
        self._apply_pending_key()
        self._update_counts()

    def _add_rows(self, items: Sequence[T]) -> None:
        with bulk_load(len(items)):  # rows stay while the list is shown (regtui.ui.heap)
            self.table.add_keyed_rows((self.row_cells(item), self.row_key(item)) for item in items)

    def clear_items(self, hint: str = "") -> None:
        """Empty the pane and show ``hint``."""
        self.items, self.shown = [], []
        self.filter_text = ""
        self._pending_key = None
        filter_box = self.query_one(FilterInput)
        filter_box.value = ""
        filter_box.display = False
        self.table.clear()
        self.set_status(hint)
        self._update_counts()

    def rebuild(self, *, keep_cursor: bool = True) -> None:
        """Redraw the table from ``items`` and the filter, keeping the highlighted row."""
        table = self.table
        current = self.highlighted_key() if keep_cursor else None
        self.shown = [item for item in self.items if self.matches(item)]
        table.clear()
        self._add_rows(self.shown)
        if current is not None:
            self.move_to_key(current)
        self._apply_pending_key()
        self._update_counts()

    def refresh_item(self, item: T) -> None:
        """Redraw one item's row in place (its cells changed)."""
        key = self.row_key(item)
        table = self.table
        if key not in table.rows:
            return
        for (column, _label, *width), value in zip(
            self.COLUMNS, self.row_cells(item), strict=False
        ):
            table.update_cell(key, column, value, update_width=not width)

    def queue_refresh(self, item: T) -> None:
        """Redraw ``item``'s row soon: updates arriving together cost one redraw."""
        self._dirty.append(item)
        if self._dirty_timer is None:
            self._dirty_timer = self.set_timer(REFRESH_BATCH, self._flush_refreshes)

    def _flush_refreshes(self) -> None:
        self._dirty_timer = None
        dirty, self._dirty = self._dirty, []
        for item in dirty:
            self.refresh_item(item)

    def highlighted_key(self) -> str | None:
        """The key of the highlighted row."""
        table = self.table
        if not table.row_count or not table.is_valid_row_index(table.cursor_row):
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def highlighted_item(self) -> T | None:
        """The highlighted item, if any."""
        table = self.table
        if 0 <= table.cursor_row < len(self.shown) and table.row_count:
            return self.shown[table.cursor_row]
        return None

    def move_to_key(self, key: str) -> bool:
        """Put the cursor on the row ``key``; False when it is not shown."""
        table = self.table
        if key not in table.rows:
            return False
        index = table.get_row_index(key)
        table.move_cursor(row=index, animate=False, scroll=True)
        return True

    def select_key_when_shown(self, key: str) -> None:
        """Move the cursor to ``key`` now, or as soon as its row arrives."""
        self._pending_key = key
        self._apply_pending_key()

    def _apply_pending_key(self) -> None:
        if self._pending_key is not None and self.move_to_key(self._pending_key):
            self._pending_key = None

    def key_to_keep(self) -> str | None:
        """The row to select again after a reload: one still awaited, else the highlighted."""
        return self._pending_key or self.highlighted_key()

    # Status -----------------------------------------------------------------------------------
    def set_status(self, text: str, kind: str = "info") -> None:
        """Show ``text`` in the status line (hidden when empty)."""
        status = self.status
        for name in STATUS_KINDS:
            status.set_class(name == kind and bool(text), f"-{name}")
        status.update(Text(text))
        status.display = bool(text)

    def set_busy(self, busy: bool, text: str = "loading…") -> None:
        """Mark the pane as loading (status line and border)."""
        self.busy = busy
        if busy:
            self.set_status(text, "loading")
        elif self.status.has_class("-loading"):
            self.set_status("")
        self._update_counts()

    def _update_counts(self) -> None:
        total = len(self.items)
        one, many = self.NOUN
        if self.filter_text:
            text = f"{len(self.shown):,} of {total:,} {many if total != 1 else one}"
        elif total:
            text = f"{total:,} {many if total != 1 else one}"
        else:
            text = ""
        if self.busy:
            text = f"{text} · loading…" if text else "loading…"
        self.border_subtitle = text

    # Filtering --------------------------------------------------------------------------------
    def action_start_filter(self) -> None:
        """Show the filter box and type into it."""
        filter_box = self.query_one(FilterInput)
        filter_box.display = True
        filter_box.focus()

    @on(Input.Changed, ".pane-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if len(self.items) <= IMMEDIATE_FILTER_ROWS:
            self.set_filter(event.value)
        else:  # a long list is redrawn once the typing pauses
            value = event.value
            self._filter_timer = self.set_timer(FILTER_DEBOUNCE, lambda: self.set_filter(value))

    def set_filter(self, text: str) -> None:
        """Filter the list (every word must appear, case-insensitive)."""
        text = text.strip()
        if text == self.filter_text:
            return
        self.filter_text = text
        self.rebuild()
        self.filter_changed()

    def filter_changed(self) -> None:
        """Hook: the shown rows changed because of the filter."""

    @on(FilterInput.Cleared)
    def _filter_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        self.clear_filter()

    @on(FilterInput.Finished)
    def _filter_finished(self, event: FilterInput.Finished) -> None:
        event.stop()
        filter_box = self.query_one(FilterInput)
        if not filter_box.value.strip():
            filter_box.display = False
        self.table.focus()

    def clear_filter(self) -> None:
        """Drop the filter, hide its box and return to the list."""
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        filter_box = self.query_one(FilterInput)
        with filter_box.prevent(Input.Changed):
            filter_box.value = ""
        filter_box.display = False
        self.set_filter("")
        self.table.focus()

    def action_back(self) -> None:
        """Escape: clear an active filter first, else go back a pane."""
        if self.filter_text:
            self.clear_filter()
            return
        self.post_message(self.BackRequested(self))

    def action_reload_pane(self) -> None:
        """``r``: load the pane again, as the user asked."""
        self.post_message(self.Reloaded(self))
        self.reload()

    def reload(self) -> None:
        """Load the pane again (subclasses); also the retry after a login."""

    def doing(self) -> str:
        """What the pane's look-up does, for the login prompt ("listing the tags of app")."""
        return f"loading {self.TITLE.lower()}"

    def focus_table(self) -> None:
        """Give the keyboard to this pane's list."""
        self.table.focus()

    # Selection --------------------------------------------------------------------------------
    @on(DataTable.RowSelected, ".pane-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        item = self.highlighted_item()
        if item is not None:
            self.item_selected(item)

    def item_selected(self, item: T) -> None:
        """Hook: Enter (or a click) on ``item``."""

    # Errors: the one place a pane's workers' failures land ------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR and worker.error is not None:
            client = self.load_client
            if client is not None and not client.has_credentials and login_may_help(worker.error):
                self.busy = False
                self._update_counts()
                self.set_status("the registry asks for credentials: waiting for the login…")
                self.post_message(
                    self.LoginRequested(self, worker, worker.error, client, self.doing())
                )
                return
            self.worker_failed(worker, worker.error)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        """Show a failed look-up in words, where it happened."""
        self.busy = False
        self._update_counts()
        self.set_status(describe_error(error), "error")

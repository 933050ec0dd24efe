"""``RegtuiDataTable``: the row table every pane uses (vim keys, Enter opens)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import zip_longest
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text, TextType
from textual import events
from textual._types import SegmentLines
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.css.styles import RenderStyles
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, DuplicateKey, Row, RowKey

from regtui.ui.widgets.hold import RepaintHold


def plain_width(value: object) -> int | None:
    """Cells a one-line table cell needs, or None when only Rich can tell.

    A ``str`` cell is rendered as markup (``[b]``, ``:emoji:``), so only one without
    ``[`` or ``:`` is its own width.
    """
    if isinstance(value, Text):
        return None if "\n" in value.plain else value.cell_len
    if isinstance(value, str):
        if "[" in value or ":" in value or "\n" in value:
            return None
        return cell_len(value)
    return None


def literal(value: Any) -> Any:
    """A cell shown as written: ``DataTable`` reads a ``str`` cell as Rich markup.

    Names, tags and history come from the registry: ``s/[a-z]*/x/`` lost its brackets,
    ``echo [/done]`` raised an error while drawing, and ``:smile:`` became an emoji. Only
    strings with ``[`` or ``:`` are wrapped: the others draw the same either way, and a
    ``Text`` per cell costs time and memory in a 10,000-row table.
    """
    if isinstance(value, str) and ("[" in value or ":" in value):
        return Text(value, end="", no_wrap=True)  # as DataTable makes a one-line str cell
    return value


class RegtuiDataTable(DataTable[Any], RepaintHold):
    """A row-cursor ``DataTable`` with ``j``/``k``/``g``/``G`` and a visible Enter binding."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="open", tooltip="Open the highlighted row"),
        Binding("down,j", "cursor_down", "Down", show=False, id="cursor-down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="cursor-up"),
        Binding("home,g", "scroll_top", "First row", show=False, id="first-row"),
        Binding("end,G", "scroll_bottom", "Last row", show=False, id="last-row"),
    ]

    #: Bumped when rows are added, removed, reordered or change height: what the row
    #: order and the line offsets depend on (see ``ordered_rows``). Class defaults:
    #: ``DataTable.__init__`` already asks for the row order.
    _rows_version = 0
    _ordered_rows_for: tuple[tuple[int, int], list[Row]] | None = None
    _offsets_for: tuple[tuple[int, int], list[tuple[RowKey, int]]] | None = None
    #: ``DataTable``'s update count bumped by cell updates, and each row's own count of
    #: them: rendered rows and cells are keyed on these instead (``_render_line_in_row``).
    _cell_updates = 0
    _row_updates: dict[RowKey, int]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=False,
            cursor_foreground_priority="renderable",
        )
        self._rows_drawn_for: tuple[int, tuple[int, ...]] | None = None
        self._row_updates = {}
        self._style_while_drawing: Style | None = None
        # Component styles (cursor, header...) per focus state; see watch_has_focus.
        self._focus_looks: dict[bool, dict[str, RenderStyles]] = {}

    def focus(self, scroll_visible: bool = True) -> RegtuiDataTable:
        """Take the focus; the repaint comes with the focus event (``_focus_moved``)."""
        with self.repaints_held():
            super().focus(scroll_visible)
        return self

    def _on_focus(self, event: events.Focus) -> None:
        self._focus_moved(lambda: super(RegtuiDataTable, self)._on_focus(event))
        event.prevent_default()

    def _on_blur(self, event: events.Blur) -> None:
        self._focus_moved(lambda: super(RegtuiDataTable, self)._on_blur(event))
        event.prevent_default()

    def watch_has_focus(self, has_focus: bool) -> None:
        """Restyle for the focus change, reusing the styles of the last time in this state.

        Textual restyles the table on every focus change: it matches the stylesheet
        against the table and each of its ten component classes (cursor, header...), half
        the CPU of a Tab (bench/tui_responsiveness.py). When the table itself looks the
        same focused or not (our styles), only the component styles differ: they are kept
        per state and put back. Any other restyle (a theme, a class) makes new component
        styles, which is seen here, and the kept ones are forgotten.
        """
        kept = self._focus_looks.get(has_focus)
        if kept is not None and self._kept_look_is_current(not has_focus):
            self._component_styles = dict(kept)
            self.notify_style_update()  # drops what was worked out from the old ones
            return
        rules, before = self.styles.base.get_rules(), dict(self._component_styles)  # copies
        super().watch_has_focus(has_focus)
        if before and self.styles.base.get_rules() == rules:
            self._focus_looks = {not has_focus: before, has_focus: dict(self._component_styles)}
        else:
            self._focus_looks = {}

    def _kept_look_is_current(self, has_focus: bool) -> bool:
        """Whether the styles kept for ``has_focus`` are the very ones the table has now.

        A restyle for anything but the focus (a theme, a class) makes new style objects:
        what was kept is then out of date.
        """
        kept, current = self._focus_looks.get(has_focus), self._component_styles
        return (
            kept is not None
            and kept.keys() == current.keys()
            and all(current[name] is styles for name, styles in kept.items())
        )

    def warm_focus_looks(self) -> bool:
        """Work out the other focus state's styles now, so the first switch is quick too.

        ``watch_has_focus`` only keeps what a focus change has worked out, so the first
        change of each table was still a full restyle: 20-40 ms more for the first Tabs
        of a session, ~0.1 s while a download kept the cores busy. Called when the user is
        idle (``MainScreen``): the table is restyled as if its focus had changed, and then
        put back as it was, without a repaint (it looks the same). False when there was
        nothing to do (already known and current, or the table is not styled yet).
        """
        has_focus = self.has_focus
        if (
            not self.is_attached
            or not self._component_styles
            or self._kept_look_is_current(has_focus)
        ):
            return False
        rules, before = self.styles.base.get_rules(), dict(self._component_styles)
        stylesheet = self.app.stylesheet
        with self.repaints_held():
            self.set_reactive(Widget.has_focus, not has_focus)
            try:
                stylesheet.apply(self, animate=False)
                other_rules, other = self.styles.base.get_rules(), dict(self._component_styles)
            finally:
                self.set_reactive(Widget.has_focus, has_focus)
            if other_rules == rules:
                self._component_styles = dict(before)
                self.notify_style_update()
                self._focus_looks = {has_focus: before, not has_focus: other}
            else:  # the table's own look depends on its focus: restyle it back in full
                stylesheet.apply(self, animate=False)
                # Only this state is known (so this is not tried again until a restyle).
                self._focus_looks = {has_focus: dict(self._component_styles)}
        return True

    def _focus_moved(self, handle: Callable[[], None]) -> None:
        """Let Textual restyle for the focus change, then repaint only what it changed.

        Textual repaints a table whole when it gains or loses focus. Only the cursor row
        looks different (our styles drop DataTable's focus tint), so when the table's base
        style is unchanged, only that row is repainted: a Tab redraws two rows instead of
        two tables, while a download competes for the CPU (bench/tui_responsiveness.py).
        """
        before = self.rich_style
        with self.repaints_held():
            handle()
        if not self.repaint_was_held:
            return
        if self.rich_style != before or not self.row_count:
            self.refresh()
        else:
            self.refresh_row(self.cursor_row)

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """The vertical scrollbar (created when first needed), styled as it is created.

        Textual styles a new scrollbar at the table's next restyle, which is the first
        focus change: that Tab then set its size rules and laid out the whole screen
        again (~0.1 s more, once per table).
        """
        new = self._vertical_scrollbar is None
        bar = super().vertical_scrollbar
        if new and self.is_attached:
            self.app.stylesheet.update_nodes([bar], animate=False)
        return bar

    @property
    def rich_style(self) -> Style:
        """The table's base style (fixed while it draws, see ``render_lines``)."""
        style = self._style_while_drawing
        return super().rich_style if style is None else style

    def render_lines(self, crop: Region) -> list[Strip]:
        """Draw the lines in ``crop``, working out the table's base style once.

        ``DataTable`` asks for it once per line, and each answer walks every ancestor
        and blends their colours: a third of the CPU of redrawing a table with its rows
        already rendered (as when the downloads panel opens and the panes get shorter).
        """
        self._forget_rows_drawn_differently()
        self._style_while_drawing = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._style_while_drawing = None

    def _on_resize(self, event: events.Resize) -> None:
        """Resized: nothing to do here; ``render_lines`` forgets rows drawn differently.

        ``DataTable`` forgets its rendered rows on any resize, but a row depends on the
        table's width and the columns' widths, not its height. When the downloads panel
        opens, the panes get shorter, nothing else: re-rendering every visible row of four
        tables was most of the UI's CPU in the first quarter second of a download
        (bench/tui_responsiveness.py). A resized table is repainted anyway.
        """
        event.prevent_default()

    def _drawn_for(self) -> tuple[int, tuple[int, ...]]:
        """What a rendered row depends on besides its cells: the table's and columns' widths."""
        return (
            self.size.width,
            tuple(column.get_render_width(self) for column in self.ordered_columns),
        )

    def _forget_rows_drawn_differently(self) -> None:
        """Drop the rendered rows when the table's or a column's width changed."""
        drawn_for = self._drawn_for()
        if drawn_for != self._rows_drawn_for:
            self._rows_drawn_for = drawn_for
            self._update_count += 1  # part of every rendered row's cache key

    def notify_style_update(self) -> None:
        """Restyled (every focus change is one): keep the rendered rows.

        ``DataTable`` drops all its render caches on any restyle, so each pane switch
        re-rendered every visible row of two tables (~120 ms of CPU here). Its cache keys
        already include the focus state and the base style, so the cached rows stay
        correct; only the component-style lookup (cursor colours) must be recomputed.
        """
        ScrollView.notify_style_update(self)
        self._get_styles_to_render_cell.cache_clear()
        if not self._holding:
            self._styles_cache.clear()
        self.refresh()

    # Row order and line offsets ----------------------------------------------------------------
    @property
    def ordered_rows(self) -> list[Row]:
        """The rows in display order, worked out again only when rows change.

        ``DataTable`` keys this list, and the line offsets below, on its update count,
        which every cell update bumps: with 10,000 tags, each detail filled in for a
        row in view rebuilt both lists (~0.1 s), and the first ``j`` waited ~1 s.
        """
        key = (self.row_count, self._rows_version)
        cached = self._ordered_rows_for
        if cached is None or cached[0] != key:
            # As DataTable works it out, without its cache: that one is a linked list
            # (reference cycles), which kept the old rows for the garbage collector to
            # find, and rows are frozen out of its sight (regtui.ui.heap).
            keys, rows = self._row_locations, self.rows
            ordered = [rows[keys.get_key(index)] for index in range(self.row_count)]  # type: ignore[index]
            cached = self._ordered_rows_for = (key, ordered)
        return cached[1]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        """(row, line within the row) for each line of the table (see ``ordered_rows``)."""
        key = (self.row_count, self._rows_version)
        cached = self._offsets_for
        if cached is None or cached[0] != key:
            offsets = [(row.key, y) for row in self.ordered_rows for y in range(row.height)]
            cached = self._offsets_for = (key, offsets)
        return cached[1]

    def _rows_changed(self) -> None:
        # After the change: until then the cached order is the one DataTable's code
        # expects (a change of the row count alone is in the key already).
        self._rows_version += 1

    def add_row(
        self,
        *cells: CellType,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        """Add a row whose cells are shown as written (see :func:`literal`)."""
        row_key = super().add_row(*map(literal, cells), height=height, key=key, label=label)
        self._rows_changed()
        return row_key

    def add_keyed_rows(self, rows: Iterable[tuple[Sequence[Any], str]]) -> None:
        """Add one-line rows, each ``(cells, key)``, at the bottom, as ``add_row`` would.

        ``add_row`` sets the cursor (a reactive that always runs its watcher) and asks for
        an idle check for every row: ~57 us a row, 0.57 s of the 1.6 s before 10,000 tags
        were drawn. Here that is done once for all of them.
        """
        keys = [column.key for column in self.ordered_columns]
        locations, data, table_rows = self._row_locations, self._data, self.rows
        new_rows = self._new_rows
        start = index = self.row_count
        for cells, key in rows:
            row_key = RowKey(key)
            if row_key in locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            if len(cells) > len(keys):
                raise ValueError("More values provided than there are columns.")
            locations[row_key] = index
            data[row_key] = dict(zip_longest(keys, map(literal, cells)))
            table_rows[row_key] = Row(row_key, 1)
            new_rows.add(row_key)
            index += 1
        if index == start:
            return
        self._rows_changed()
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if start == 0 and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # a cell to highlight where there was none
        self._update_count += 1
        self.check_idle()

    def remove_row(self, row_key: RowKey | str) -> None:
        """Remove a row."""
        super().remove_row(row_key)
        self._rows_changed()

    def clear(self, columns: bool = False) -> Self:
        """Remove every row (and with ``columns``, every column)."""
        super().clear(columns)
        self._row_updates.clear()
        self._rows_changed()
        return self

    def sort(
        self,
        *columns: ColumnKey | str,
        key: Callable[[Any], Any] | None = None,
        reverse: bool = False,
    ) -> Self:
        """Sort the rows."""
        super().sort(*columns, key=key, reverse=reverse)
        self._rows_changed()
        return self

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: CellType,
        *,
        update_width: bool = False,
    ) -> None:
        """Update a cell (shown as written); with ``update_width``, widen its column if needed.

        Unlike ``DataTable``'s, this never narrows the column: to fit a column to a cell
        narrower than the widest, ``DataTable`` re-measures every cell of the column, and
        with 10,000 tags and a screenful of rows being filled in that froze the app for
        ~40 s. Columns are fitted again when the rows are rebuilt.
        """
        value = literal(value)
        if update_width:
            column = self.columns.get(
                ColumnKey(column_key) if isinstance(column_key, str) else column_key
            )
            width = plain_width(value)
            if column is not None and width is not None and width <= column.content_width:
                update_width = False
        super().update_cell(row_key, column_key, value, update_width=update_width)
        key = RowKey(row_key) if isinstance(row_key, str) else row_key
        self._row_updates[key] = self._row_updates.get(key, 0) + 1
        self._cell_updates += 1  # DataTable counted it as an update of the whole table

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """Render a line of a row, re-rendering its cells only if the row itself changed.

        ``DataTable`` keys every rendered row and cell on one update count, which each
        cell update bumps: a screenful of tags being filled in re-rendered every cell in
        view through Rich for each batch (~50 ms of a ``j`` on 10,000 tags). While a row
        (and its cells) renders, the count it sees is the table's other updates (rows
        added, removed, sorted, columns resized) with that row's own cell updates.
        """
        table_count = self._update_count
        self._update_count = (  # type: ignore[assignment]  # only ever part of cache keys here
            table_count - self._cell_updates,
            self._row_updates.get(row_key, 0),
        )
        try:
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        finally:
            self._update_count = table_count

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Fit the columns to new rows, measuring plain one-line rows directly.

        ``DataTable`` measures each new cell through Rich (a console-size query per cell,
        ~40 us): 2 s of the 3 s that 10,000 tags took to appear. Rows whose cells are all
        plain text are measured here; anything else (labels, wrapped or multi-line cells)
        goes through ``DataTable``, which also finishes the update (virtual size, refresh).
        """
        columns = self.ordered_columns
        widths = [column.content_width for column in columns]
        rest: list[RowKey] = []
        for row_key in new_rows:
            row = self.rows.get(row_key)
            if row is None:  # removed before this idle callback ran
                continue
            cells = self._data.get(row_key, {})
            measured = [plain_width(cells.get(column.key)) for column in columns]
            if row.label is not None or row.auto_height or row.height != 1 or None in measured:
                rest.append(row_key)
                continue
            widths = [max(width, cell or 0) for width, cell in zip(widths, measured, strict=True)]
        for column, width in zip(columns, widths, strict=True):
            column.content_width = width
        super()._update_dimensions(rest)
        if rest:
            self._rows_changed()  # rows of automatic height got theirs
        # Rows drawn since they were added (before this idle callback) have the old
        # column widths; DataTable counts on a resize event coming to redraw them.
        if self._rows_drawn_for is not None and self._drawn_for() != self._rows_drawn_for:
            self.refresh()

    def visible_row_range(self) -> range:
        """Indexes of the rows currently in view."""
        top = int(self.scroll_y)
        height = max(0, self.scrollable_content_region.height - (1 if self.show_header else 0))
        return range(top, min(self.row_count, top + max(height, 1)))

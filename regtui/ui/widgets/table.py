"""``RegtuiDataTable``: the row table every pane uses (vim keys, Enter opens)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.scroll_view import ScrollView
from textual.widgets import DataTable


class RegtuiDataTable(DataTable[Any]):
    """A row-cursor ``DataTable`` with ``j``/``k``/``g``/``G`` and a visible Enter binding."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="open", tooltip="Open the highlighted row"),
        Binding("down,j", "cursor_down", "Down", show=False, id="cursor-down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="cursor-up"),
        Binding("home,g", "scroll_top", "First row", show=False, id="first-row"),
        Binding("end,G", "scroll_bottom", "Last row", show=False, id="last-row"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=False,
            cursor_foreground_priority="renderable",
        )

    def notify_style_update(self) -> None:
        """Restyled (every focus change is one): keep the rendered rows.

        ``DataTable`` drops all its render caches on any restyle, so each pane switch
        re-rendered every visible row of two tables (~120 ms of CPU here). Its cache keys
        already include the focus state and the base style, so the cached rows stay
        correct; only the component-style lookup (cursor colours) must be recomputed.
        """
        ScrollView.notify_style_update(self)
        self._get_styles_to_render_cell.cache_clear()
        self._styles_cache.clear()
        self.refresh()

    def visible_row_range(self) -> range:
        """Indexes of the rows currently in view."""
        top = int(self.scroll_y)
        height = max(0, self.scrollable_content_region.height - (1 if self.show_header else 0))
        return range(top, min(self.row_count, top + max(height, 1)))

"""``DetailLine``: the lines under a pane's table about its highlighted row."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class DetailLine(Static):
    """What the highlighted row is, in full (digest, size, history...), shown as written.

    Redrawn on every cursor move. ``Static.update`` lays the whole screen out again each
    time, in case the height changed: with the second frame that follows, that was half
    of a ``j`` (bench/load_browse.py). Here the layout happens only when the number of
    lines shown changes.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id, classes=classes, markup=False)
        self.display = False
        self._laid_out_for: tuple[int, int] | None = None  # (width, lines) at the last layout

    def show(self, text: Text) -> None:
        """Show ``text``; a layout pass only if it takes more or fewer lines than before."""
        width = self.size.width
        self.update(text, layout=False)
        # The lines the content takes at this width, before any height limit in the CSS:
        # the same number as before means the same height.
        shape = (width, self.get_content_height(self.size, self.app.size, width)) if width else None
        if not self.display or shape is None or shape != self._laid_out_for:
            self._laid_out_for = shape
            self.display = True
            self.refresh(layout=True)

    def hide(self) -> None:
        """Show nothing (the table's rows get the room)."""
        self.display = False
        self._laid_out_for = None

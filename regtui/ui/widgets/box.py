"""``PaneBox``: a titled box whose top edge and title light up while the focus is inside.

A Tab restyles two boxes, so what a restyle touches decides what a Tab costs, and a Tab
must be answered quickly while a download competes for the same cores
(bench/tui_responsiveness.py):

* Not ``.pane:focus-within`` in CSS: Textual restyles the whole subtree of a box matched
  by it (for a pane, its table with all its component classes) and repaints it. The
  ``-active`` class set here is applied to the box alone.
* The ``-active`` rule changes only the top edge. The title's emphasis is a style on the
  title itself: Textual repaints every descendant of a box whose ``border-title-color``
  or ``border-title-style`` changes (colours are inherited), and nothing inside a pane
  depends on its title.
* So only the box's first line looks different, and only that line is repainted. A lit
  whole border changed every line of both boxes: re-rendering them was a third of a
  Tab's CPU.
"""

from __future__ import annotations

from textual import events
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget

from regtui.ui.widgets.hold import RepaintHold

# Textual's own border_title descriptor, which PaneBox's property stands in front of.
_WIDGET_TITLE = vars(Widget)["border_title"]

# The active box's title: bright and bold (the text colour of the table below it).
ACTIVE_TITLE_STYLE = "bold $foreground"


class PaneBox(Vertical, RepaintHold):
    """A container with the ``-active`` class while one of its descendants has focus."""

    _title: str | None = None

    @property
    def active(self) -> bool:
        """Whether the box is drawn as the focused one."""
        return self.has_class("-active")

    @property
    def border_title(self) -> str | None:
        """The title on the box's top border (plain text, as set)."""
        return self._title

    @border_title.setter
    def border_title(self, title: str | None) -> None:
        self._title = title
        self._paint_title()

    def _paint_title(self) -> None:
        # Content, not a str: a title is plain text (a name typed by the user is not markup).
        title = self._title
        if title is None:
            shown = None
        elif self.active:
            shown = Content.styled(title, ACTIVE_TITLE_STYLE)
        else:
            shown = Content(title)
        _WIDGET_TITLE.__set__(self, shown)

    def _sync_active(self) -> None:
        active = self.has_focus_within
        if active != self.active:
            # update=False and a restyle of this node only: the rule for .-active styles
            # the box's border, never its children.
            self.set_class(active, "-active", update=False)
            with self.repaints_held():
                self._paint_title()
                if self.is_attached:
                    self.app.stylesheet.update_nodes([self], animate=False)
            # Only the top line changed (the .-active rule and the title): repaint it.
            left, top = self.content_offset
            self.refresh(Region(-left, -top, self.outer_size.width, 1))

    def _on_mount(self, event: events.Mount) -> None:
        # Watching the screen's focus (a synchronous callback), not DescendantFocus (a
        # message, handled a frame later): the box and its table then restyle and
        # repaint in the same frame, not in two.
        self.watch(self.screen, "focused", self._focus_moved, init=True)

    def _focus_moved(self, _focused: Widget | None) -> None:
        self._sync_active()

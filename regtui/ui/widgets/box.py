"""``PaneBox``: a titled box whose border lights up while the focus is inside it.

Why not ``.pane:focus-within`` in CSS: on every focus change Textual restyles the whole
subtree of a box matched by a ``:focus-within`` rule (for a pane, its table with all its
component classes) and repaints it. That was a third of the CPU a Tab cost, which counted
most while a download competed for the same cores (bench/tui_responsiveness.py). The
``-active`` class set here is applied to the box alone: nothing inside depends on it.
"""

from __future__ import annotations

from textual import events
from textual.containers import Vertical
from textual.widget import Widget


class PaneBox(Vertical):
    """A container with the ``-active`` class while one of its descendants has focus."""

    @property
    def active(self) -> bool:
        """Whether the box is drawn as the focused one."""
        return self.has_class("-active")

    def _sync_active(self) -> None:
        active = self.has_focus_within
        if active != self.active:
            # update=False and a restyle of this node only: the rule for .-active styles
            # the box's border and title, never its children.
            self.set_class(active, "-active", update=False)
            if self.is_attached:
                self.app.stylesheet.update_nodes([self], animate=False)

    def _on_mount(self, event: events.Mount) -> None:
        # Watching the screen's focus (a synchronous callback), not DescendantFocus (a
        # message, handled a frame later): the box and its table then restyle and
        # repaint in the same frame, not in two.
        self.watch(self.screen, "focused", self._focus_moved, init=True)

    def _focus_moved(self, _focused: Widget | None) -> None:
        self._sync_active()

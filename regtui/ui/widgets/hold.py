"""``RepaintHold``: a widget that can hold back whole repaints while it is restyled.

Textual repaints a whole widget for many style changes (a focus change restyles a
table; a border colour, a box), though often only one line looks different. A widget
that knows which line that is restyles inside :meth:`RepaintHold.repaints_held` and then
repaints that line itself. A Tab is then two lines per pane, not two panes
(bench/tui_responsiveness.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from textual.geometry import Region
from textual.widget import Widget


class RepaintHold(Widget):
    """A widget whose whole repaints can be held back (:meth:`repaints_held`).

    List it after the Textual base (``class Box(Vertical, RepaintHold)``): Textual takes a
    widget's default CSS and component classes along the first base only.
    """

    _holding = False
    _held = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Any:
        """Refresh; while repaints are held, a whole repaint is only noted."""
        if self._holding and not (regions or layout or recompose):
            self._held = True
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    @property
    def repaint_was_held(self) -> bool:
        """Whether a whole repaint was asked for during the last :meth:`repaints_held`."""
        return self._held

    @contextmanager
    def repaints_held(self) -> Iterator[None]:
        """Inside, whole repaints are noted instead of done (layouts still go through)."""
        outer = self._holding
        if not outer:
            self._held = False
        self._holding = True
        try:
            yield
        finally:
            self._holding = outer

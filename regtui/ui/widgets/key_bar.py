"""``KeyBar``: a one-line footer of the keys that apply to the focused widget.

It shows what Textual's ``Footer`` shows (the screen's active bindings with ``show=True``,
one entry per action, the command palette key on the right) but renders a single line of
text instead of one widget per key. Textual's ``Footer`` recomposes a dozen widgets on
every focus change, which cost more than the whole pane switch may take (under 100 ms,
issue 4) on a small machine; this costs one ``refresh``. Clicking a key presses it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.widget import Widget


class _Entry(NamedTuple):
    key: str
    display: str
    description: str
    enabled: bool
    start: int
    end: int


class KeyBar(Widget):
    """The footer line: ``⏎ Open  / Filter  esc Back …   ^p palette``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keybar--key",
        "keybar--description",
        "keybar--disabled",
    }

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._entries: list[_Entry] = []
        self._text = Text()
        self._signature: tuple[Any, ...] = ()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Any) -> None:
        active = self.screen.active_bindings
        by_action: dict[str, tuple[Binding, bool]] = {}
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and binding.action not in by_action:
                by_action[binding.action] = (binding, enabled)
        palette = None
        if self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                palette = (found.binding, found.enabled)
                by_action.pop(found.binding.action, None)
        items = [
            (binding.key.split(",")[0], self.app.get_key_display(binding), binding.description, on)
            for binding, on in by_action.values()
        ]
        if palette is not None:
            binding, on = palette
            items.append(
                (binding.key.split(",")[0], self.app.get_key_display(binding), "palette", on)
            )
        signature = tuple(items)
        if signature == self._signature:
            return
        self._signature = signature
        self._layout(items, has_palette=palette is not None)
        self.refresh()

    def _layout(self, items: list[tuple[str, str, str, bool]], *, has_palette: bool) -> None:
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        text_style = self.get_component_rich_style("keybar--description", partial=True)
        off_style = self.get_component_rich_style("keybar--disabled", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        entries: list[_Entry] = []
        body = items[:-1] if has_palette else items
        for key, display, description, enabled in body:
            start = len(text)
            text.append(f" {display} ", off_style if not enabled else key_style)
            text.append(f"{description} ", off_style if not enabled else text_style)
            entries.append(_Entry(key, display, description, enabled, start, len(text)))
        if has_palette:
            key, display, description, enabled = items[-1]
            tail = Text()
            tail.append(f" {display} ", key_style)
            tail.append(f"{description} ", text_style)
            width = self.size.width or 80
            gap = max(1, width - len(text) - len(tail))
            text.append(" " * gap)
            start = len(text)
            text.append_text(tail)
            entries.append(_Entry(key, display, description, enabled, start, len(text)))
        self._entries = entries
        self._text = text

    def on_resize(self) -> None:
        self._signature = ()
        self._bindings_changed(self.screen)

    def render(self) -> RenderResult:
        return self._text

    def on_click(self, event: events.Click) -> None:
        for entry in self._entries:
            if entry.start <= event.x < entry.end and entry.enabled:
                self.app.simulate_key(entry.key)
                return

"""``StartScreen``: recently used registries and a box to type one (``regtui`` alone)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from regtui.ui.widgets.key_bar import KeyBar

INTRO = (
    "Browse a container registry: repositories → tags → platforms → layers.\n"
    "Type a registry (ghcr.io, 127.0.0.1:5000) or go straight to a repository or tag "
    "(127.0.0.1:5000/app:1.0), or pick one you used before."
)


class StartScreen(Screen[None]):
    """The first screen when no registry was given."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "to_recent", "Recent", show=False, id="to-recent"),
    ]

    class TargetChosen(Message):
        """The user typed or picked a registry (or a reference in one)."""

        def __init__(self, target: str) -> None:
            super().__init__()
            self.target = target

    def __init__(self, recent: list[str], *, initial: str = "", error: str = "") -> None:
        super().__init__()
        self.recent = recent
        self.initial = initial
        self.initial_error = error

    def compose(self) -> Iterable[Any]:
        yield Header(show_clock=False)
        with Vertical(id="start-box"):
            yield Static(Text("regtui", style="bold"), id="start-title")
            yield Static(INTRO, id="start-intro")
            yield Input(
                value=self.initial,
                placeholder="registry[/repository[:tag|@digest]]",
                id="target-input",
            )
            yield Static("", id="start-error", markup=False)
            yield Static(Text("Recently used", style="bold"), id="recent-title")
            yield OptionList(
                *[Option(r, id=r) for r in self.recent],
                id="recent",
            )
            yield Static("", id="recent-empty")
        yield KeyBar()

    def on_mount(self) -> None:
        box = self.query_one("#target-input", Input)
        box.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.set_recent(self.recent)
        self.show_error(self.initial_error)
        box.focus()

    def set_recent(self, recent: list[str]) -> None:
        """Replace the list of recent registries."""
        self.recent = recent
        options = self.query_one("#recent", OptionList)
        options.clear_options()
        options.add_options([Option(r, id=r) for r in recent])
        options.display = bool(recent)
        empty = self.query_one("#recent-empty", Static)
        empty.update("" if recent else "None yet: registries you open are listed here.")
        empty.display = not recent

    def show_error(self, message: str) -> None:
        """Say why the typed text could not be opened."""
        error = self.query_one("#start-error", Static)
        error.update(message)
        error.display = bool(message)

    def action_to_recent(self) -> None:
        options = self.query_one("#recent", OptionList)
        if self.recent:
            options.focus()
            if options.highlighted is None:
                options.highlighted = 0

    @on(Input.Submitted, "#target-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(self.TargetChosen(event.value.strip()))

    @on(OptionList.OptionSelected, "#recent")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.TargetChosen(str(event.option.prompt)))

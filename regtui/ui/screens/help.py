"""``HelpScreen``: every key, by where it applies (``?``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from regtui.ui.widgets.key_bar import KeyBar

#: Keys that need no listing of their own (Textual's built-ins shown once, below).
EXTRA_GLOBAL = (
    ("^p", "Command palette (switch registry, downloads, theme…)"),
    ("mouse", "Click a row to highlight it, click again to open it; wheel scrolls"),
)


def _keys(app: Any, binding: Binding) -> str:
    shown = []
    for key in binding.key.split(","):
        key = key.strip()
        shown.append(app.get_key_display(Binding(key, binding.action)))
    return " ".join(shown)


def key_sections() -> list[tuple[str, Sequence[BindingType]]]:
    """(section title, bindings) for every place keys apply, from the classes themselves."""
    from regtui.ui.app import RegtuiApp
    from regtui.ui.screens.info import RegistryInfoScreen
    from regtui.ui.screens.login import LoginScreen
    from regtui.ui.screens.main import MainScreen
    from regtui.ui.screens.raw import RawDocumentScreen
    from regtui.ui.widgets.downloads_panel import DownloadsPanel
    from regtui.ui.widgets.layer_table import LayerTable
    from regtui.ui.widgets.pane import FilterInput, Pane
    from regtui.ui.widgets.platform_list import PlatformList
    from regtui.ui.widgets.repository_list import RepositoryList
    from regtui.ui.widgets.table import RegtuiDataTable
    from regtui.ui.widgets.tag_table import TagTable

    return [
        ("Everywhere", [*RegtuiApp.BINDINGS, *MainScreen.BINDINGS]),
        ("In every list", [*RegtuiDataTable.BINDINGS, *Pane.BINDINGS]),
        ("Filter box (after /)", FilterInput.BINDINGS),
        ("Repositories", RepositoryList.BINDINGS),
        ("Tags", TagTable.BINDINGS),
        ("Platforms", PlatformList.BINDINGS),
        ("Layers", LayerTable.BINDINGS),
        ("Downloads panel", DownloadsPanel.BINDINGS),
        ("Raw JSON view", RawDocumentScreen.BINDINGS),
        ("Registry info", RegistryInfoScreen.BINDINGS),
        ("Login prompt", LoginScreen.BINDINGS),
    ]


def keys_table(app: Any) -> Table:
    """All keys as one table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, min_width=14)
    table.add_column()
    first = True
    for title, bindings in key_sections():
        if not first:
            table.add_row("", "")
        first = False
        table.add_row(Text(title, style="bold underline"), "")
        for binding in bindings:
            if not isinstance(binding, Binding):
                binding = Binding(*binding)
            description = binding.tooltip or binding.description or binding.action
            table.add_row(Text(_keys(app, binding), style="bold"), description)
        if title == "Everywhere":
            for keys, description in EXTRA_GLOBAL:
                table.add_row(Text(keys, style="bold"), description)
    return table


class HelpScreen(ModalScreen[None]):
    """A modal listing every key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_screen", "Close", id="close-help"),
    ]

    def compose(self) -> Iterable[Any]:
        with Vertical(id="help-dialog"):
            yield Static(Text("regtui keys", style="bold"), id="help-heading")
            with VerticalScroll(id="help-scroll"):
                yield Static(keys_table(self.app), id="help-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

"""``RegistryInfoScreen``: how the registry is reached and who regtui is to it (``i``).

Host, the URL scheme actually used (after a ``GET /v2/``), ``--insecure``, the API version
header, the credential source (never the secret), the auth scheme in use, the token realm
and service, the scopes granted so far, and any warning met while looking for credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from regtui.core.client import TransportOptions
from regtui.ui.session import BrowserSession, RegistryInfo, describe_error, registry_info
from regtui.ui.widgets.key_bar import KeyBar

NONE = "—"


def info_table(info: RegistryInfo | None, host: str) -> Table:
    """The facts as a two-column grid (``info`` None: still being checked)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=14)
    table.add_column(overflow="fold")

    def row(label: str, value: str | Text) -> None:
        # As written: realm, service, scopes and user names are not Rich markup.
        table.add_row(label, Text(value) if isinstance(value, str) else value)

    row("Registry", host)
    if info is None:
        row("", Text("checking…", style="italic"))
        return table
    if info.ping is not None:
        scheme = info.ping.scheme
        row("URL scheme", "https" if scheme == "https" else f"{scheme} (plain HTTP)")
    else:
        row("URL scheme", Text(f"unknown: {info.ping_error}", style="italic"))
    row(
        "--insecure",
        "on (plain HTTP and unverified TLS allowed)" if info.insecure else "off",
    )
    if info.ca_file:
        row("CA file", info.ca_file)
    if info.ping is not None:
        version = info.ping.api_version or "not sent"
        row("API version", f"{version} (/v2/ answered HTTP {info.ping.status})")
    auth = info.auth
    row("Credentials", auth.source)
    if info.username:
        row("User", info.username)
    scheme = auth.scheme
    if scheme == "none" and info.challenge_scheme:
        scheme = f"none (the registry asks for {info.challenge_scheme})"
    row("Auth scheme", scheme)
    row("Token realm", auth.realm or NONE)
    row("Service", auth.service or NONE)
    if auth.granted:
        for i, scope in enumerate(auth.granted):
            row("Granted" if i == 0 else "", scope)
    elif auth.scheme == "bearer":
        row("Granted", "no scope yet (browse, then look again)")
    elif auth.scheme == "basic":
        row("Granted", f"{NONE} (basic auth grants no token scopes)")
    else:
        row("Granted", NONE)
    for i, warning in enumerate(auth.warnings):
        row("Warnings" if i == 0 else "", Text(warning, style="italic"))
    return table


class RegistryInfoScreen(ModalScreen[None]):
    """A modal with the registry's connection and authentication facts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,i", "dismiss_screen", "Close", id="close-info"),
        Binding(
            "r",
            "refresh_info",
            "Refresh",
            id="refresh-info",
            tooltip="Ask the registry again and show the scopes granted since",
        ),
    ]

    def __init__(self, session: BrowserSession, options: TransportOptions | None) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.info: RegistryInfo | None = None

    def compose(self) -> Iterable[Any]:
        with Vertical(id="info-dialog"):
            yield Static(Text("Registry info", style="bold"), id="info-heading")
            with VerticalScroll(id="info-scroll"):
                yield Static(info_table(None, self.session.registry.host), id="info-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#info-scroll").focus()
        self._gather()

    @work(exclusive=True, group="registry-info", exit_on_error=False)
    async def _gather(self) -> None:
        session = self.session
        self.info = await registry_info(session.registry, session.client, self.options)
        self.query_one("#info-body", Static).update(info_table(self.info, session.registry.host))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        error = event.worker.error
        if event.state == WorkerState.ERROR and error is not None:
            text = Text(describe_error(error), style="italic")
            self.query_one("#info-body", Static).update(text)

    def action_refresh_info(self) -> None:
        self._gather()

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

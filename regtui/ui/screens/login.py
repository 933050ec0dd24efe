"""``LoginScreen``: the prompt shown when a registry answers 401 and no credentials are known.

The user types a username and a password; Enter checks them against the registry (the
screen stays up meanwhile) and, once accepted, the screen closes with the new client. A
refused password brings the prompt back with one line saying so; Escape cancels. The
password lives in the ``Input`` and in the :class:`~regtui.core.credentials.Credential`
given to the client: never on disk, on screen (the input shows bullets) or in a repr (the
worker's description names the user only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from regtui.core.client import RegistryClient
from regtui.core.credentials import Credential, explicit_credential
from regtui.ui.session import LoginRefusedError, describe_error
from regtui.ui.widgets.key_bar import KeyBar

#: The credential source shown in the registry info for credentials typed here.
LOGIN_SOURCE = "login prompt"

#: Checks a credential; returns a client using it, or raises (``LoginRefusedError``...).
LoginCheck = Callable[[Credential], Awaitable[RegistryClient]]

HINT = "Enter logs in, Escape cancels. The password is kept in memory for this session only."


class LoginScreen(ModalScreen[RegistryClient | None]):
    """Username and password for one registry; dismissed with a client, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="cancel-login",
            tooltip="Cancel the login: the pane shows the authentication error",
        ),
    ]

    def __init__(self, registry: str, doing: str, check: LoginCheck) -> None:
        super().__init__()
        self.registry = registry
        self.doing = doing
        self.check = check
        self._worker: Worker[RegistryClient] | None = None
        self._answered = False

    def compose(self) -> Iterable[Any]:
        heading = Text()
        heading.append(f"Log in to {self.registry}", "bold")
        heading.append(
            f"\n{self.registry} asked for credentials while {self.doing}, and none were "
            "found for it (docker or podman login, REGTUI_USERNAME).",
            "dim",
        )
        with Vertical(id="login-dialog"):
            yield Static(heading, id="login-heading")
            yield Static("Username", classes="login-label")
            yield Input(placeholder="username", id="login-username")
            yield Static("Password", classes="login-label")
            yield Input(placeholder="password", password=True, id="login-password")
            yield Static("", id="login-error", markup=False)
            yield Static(HINT, id="login-hint")
        yield KeyBar()

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for box in self.query(Input):
            box.cursor_blink = blink
        self.show_error("")
        self.query_one("#login-username", Input).focus()

    # Parts ------------------------------------------------------------------------------------
    @property
    def username_box(self) -> Input:
        return self.query_one("#login-username", Input)

    @property
    def password_box(self) -> Input:
        return self.query_one("#login-password", Input)

    @property
    def checking(self) -> bool:
        """Credentials are being checked with the registry."""
        return self._worker is not None and not self._worker.is_finished

    def show_error(self, message: str) -> None:
        """One line under the inputs (hidden when empty)."""
        error = self.query_one("#login-error", Static)
        error.update(message)
        error.display = bool(message)

    def _set_checking(self, checking: bool) -> None:
        for box in self.query(Input):
            box.disabled = checking
        hint = self.query_one("#login-hint", Static)
        hint.update(f"Checking the credentials with {self.registry}…" if checking else HINT)

    # Submitting -------------------------------------------------------------------------------
    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.checking:
            return
        username = self.username_box.value.strip()
        password = self.password_box.value
        if event.input is self.username_box and not password:
            if username:
                self.password_box.focus()
            return
        if not username:
            self.show_error("Type a username")
            self.username_box.focus()
            return
        self.show_error("")
        self._set_checking(True)
        credential = explicit_credential(username, password, LOGIN_SOURCE)
        self._worker = self.run_worker(
            self.check(credential),
            name="login",
            group="login",
            # Never the arguments: Textual's default description would repr them.
            description=f"log in to {self.registry} as {username}",
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self._worker:
            return
        if event.state == WorkerState.SUCCESS and isinstance(worker.result, RegistryClient):
            client = worker.result
            if self._answered:  # cancelled meanwhile: nobody wants this client
                self.app.call_later(_close_quietly, client)
                return
            self._answered = True
            self.password_box.value = ""
            self.dismiss(client)
        elif event.state == WorkerState.ERROR:
            error = worker.error
            if isinstance(error, LoginRefusedError):
                message = str(error)
            else:
                message = describe_error(error) if error else "the login failed"
            self._set_checking(False)
            self.show_error(message)
            self.password_box.value = ""
            self.password_box.focus()
        elif event.state == WorkerState.CANCELLED:
            self._set_checking(False)

    def action_cancel(self) -> None:
        """Escape: no login (the pane shows the authentication error)."""
        if self._answered:
            return
        self._answered = True
        worker = self._worker
        if worker is not None:
            if worker.state == WorkerState.SUCCESS and isinstance(worker.result, RegistryClient):
                self.app.call_later(_close_quietly, worker.result)  # accepted just now: unused
            else:
                worker.cancel()  # log_in closes the client it was checking
        self.dismiss(None)


async def _close_quietly(client: RegistryClient) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()

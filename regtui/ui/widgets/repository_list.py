"""``RepositoryList``: the registry's catalog, streamed page by page.

A registry that does not list its repositories (Docker Hub, ghcr.io, or one that answers
401/403/404/UNSUPPORTED on ``/v2/_catalog``) says so here, and the pane offers a box to
type a repository name instead. ``o`` opens that box on any registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input
from textual.worker import Worker

from regtui.core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    RegtuiError,
)
from regtui.core.reference import parse_reference
from regtui.ui.session import BrowserSession, describe_error
from regtui.ui.widgets.pane import Pane

#: Repositories per catalog request: small enough that the first rows show at once.
#: A small first page puts rows on screen at once; later pages are as big as the
#: registry allows (each request costs it about the same whatever its size).
FIRST_PAGE_SIZE = 100
CATALOG_PAGE_SIZE = 1000


class RepositoryNameInput(Input):
    """Where a repository name is typed when the catalog cannot be listed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to list", id="leave-repository-name"),
    ]

    class Left(Message):
        """Escape in the name box."""

    def action_leave(self) -> None:
        self.post_message(self.Left())


class RepositoryList(Pane[str]):
    """The first pane: every repository of the registry."""

    TITLE = "Repositories"
    COLUMNS = (("name", "Repository"),)
    NOUN = ("repository", "repositories")
    IDLE_HINT = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "o",
            "type_name",
            "Type a name",
            id="open-repository",
            tooltip="Open a repository by typing its name",
        ),
    ]

    class RepositorySelected(Message):
        """A repository was chosen (Enter on a row, or a typed name)."""

        def __init__(self, repository: str, tag: str | None = None) -> None:
            super().__init__()
            self.repository = repository
            self.tag = tag

    def __init__(self, *, id: str = "repositories") -> None:  # noqa: A002
        super().__init__(id=id)
        self.session: BrowserSession | None = None
        self.catalog_available = True
        self._redirect_focus = False

    def compose_after_table(self) -> Iterable[Any]:
        box = RepositoryNameInput(
            placeholder="repository name, e.g. library/alpine or org/app:1.0",
            id="repository-name",
            compact=True,
        )
        box.display = False
        yield box

    def on_mount(self) -> None:
        self.query_one(RepositoryNameInput).cursor_blink = getattr(self.app, "cursor_blink", True)

    # Loading ----------------------------------------------------------------------------------
    def load(self, session: BrowserSession, select: str | None = None) -> None:
        """List ``session``'s catalog; put the cursor on ``select`` when it shows up."""
        self.session = session
        self.load_client = session.client
        self.catalog_available = True
        self.clear_items()
        if select:
            self.select_key_when_shown(select)
        if session.registry.is_docker_hub:
            self.catalog_unavailable(
                "Docker Hub does not list its repositories: type a name below "
                "(library/alpine, org/app…)"
            )
            if select:
                self.remember(select)
            return
        self._load_catalog(session)

    def reload(self) -> None:
        if self.session is not None:
            self.load(self.session, select=self.key_to_keep())

    def doing(self) -> str:
        return "listing its repositories"

    @work(exclusive=True, group="repositories", exit_on_error=False)
    async def _load_catalog(self, session: BrowserSession) -> None:
        self.set_busy(True, f"loading repositories of {session.registry}…")
        async for page in session.catalog_pages(CATALOG_PAGE_SIZE, FIRST_PAGE_SIZE):
            self.append_items(page)
            if self.status.has_class("-loading"):
                self.set_status("")
        self.set_busy(False)
        if not self.items:
            self.catalog_unavailable("This registry lists no repositories: type a name below")

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        if _catalog_refused(error):
            self.busy = False
            assert isinstance(error, RegistryError)
            self.catalog_unavailable(
                f"This registry does not list its repositories ({_refusal(error)}): "
                "type a name below"
            )
            return
        super().worker_failed(worker, error)

    def catalog_unavailable(self, message: str) -> None:
        """Say why there is no list and offer the name box."""
        self.catalog_available = False
        self._update_counts()
        self.set_status(message, "warning")
        box = self.query_one(RepositoryNameInput)
        box.display = True
        focused = self.screen.focused if self.is_attached else None
        if focused is None or self in focused.ancestors_with_self:
            # The screen's initial focus on the list may still be on its way: redirect it.
            self._redirect_focus = True
            self.call_after_refresh(box.focus)  # once it is laid out, it can be focused

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self._redirect_focus and event.widget is self.table:
            self._redirect_focus = False
            self.call_after_refresh(self.query_one(RepositoryNameInput).focus)

    def remember(self, repository: str) -> None:
        """Add a typed repository to the list (registries without a catalog)."""
        if repository not in self.items:
            self.append_items([repository])
        self.move_to_key(repository)

    # Typing a name ----------------------------------------------------------------------------
    def action_type_name(self) -> None:
        """Show the name box and type into it."""
        self._redirect_focus = False
        box = self.query_one(RepositoryNameInput)
        box.display = True
        self.call_after_refresh(box.focus)

    @on(RepositoryNameInput.Left)
    def _leave_name(self, event: RepositoryNameInput.Left) -> None:
        event.stop()
        if self.catalog_available:
            self.query_one(RepositoryNameInput).display = False
        self.table.focus()

    @on(Input.Submitted, "#repository-name")
    def _name_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text or self.session is None:
            return
        host = self.session.registry.host
        try:
            ref = parse_reference(f"{host}/{text}", default_tag=None)
        except RegtuiError as exc:
            self.set_status(describe_error(exc), "error")
            return
        event.input.value = ""
        if not self.catalog_available:
            self.set_status("")
        self.remember(ref.repository)
        self.post_message(self.RepositorySelected(ref.repository, ref.tag))

    def item_selected(self, item: str) -> None:
        self.post_message(self.RepositorySelected(item))


def _catalog_refused(error: BaseException) -> bool:
    if isinstance(error, AuthenticationError | PermissionDeniedError | NotFoundError):
        return True
    return isinstance(error, RegistryError) and (
        error.status in (400, 405, 501) or error.has_code("UNSUPPORTED")
    )


def _refusal(error: RegistryError) -> str:
    if isinstance(error, AuthenticationError):
        return "it requires authentication for the catalog"
    if isinstance(error, PermissionDeniedError):
        return "access to the catalog is denied"
    if isinstance(error, NotFoundError):
        return "it has no catalog endpoint"
    return f"catalog unsupported, HTTP {error.status}"

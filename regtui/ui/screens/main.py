"""``MainScreen``: the four browser panes and the downloads panel for one registry.

The screen wires the panes together (messages up, calls down): a selection in one pane
loads the next and moves the focus there. It owns the registry session (client and
caches) and closes it when it goes away.

It also runs the login prompt: a pane whose look-up got a 401 without credentials asks
for it (:class:`Pane.LoginRequested`); one prompt serves every pane waiting, and after a
login the session's client is replaced and each of them loads again. Once the user has
cancelled, the panes show the error instead, until a reload (``r``) or another registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header

from regtui import format as fmt
from regtui.core.client import RegistryClient, TransportOptions
from regtui.core.credentials import Credential
from regtui.core.reference import Reference
from regtui.ui.screens.info import RegistryInfoScreen
from regtui.ui.screens.login import LoginScreen
from regtui.ui.session import (
    BrowserSession,
    ClientFactory,
    describe_error,
    download_dir_for,
    log_in,
)
from regtui.ui.widgets.downloads_panel import Clock, DownloadRequest, DownloadsPanel
from regtui.ui.widgets.key_bar import KeyBar
from regtui.ui.widgets.layer_table import LayerTable
from regtui.ui.widgets.pane import Pane
from regtui.ui.widgets.platform_list import PlatformList
from regtui.ui.widgets.repository_list import (
    CATALOG_PAGE_SIZE,
    FIRST_PAGE_SIZE,
    RepositoryList,
)
from regtui.ui.widgets.tag_table import TagTable

#: Seconds after the screen opens, and without a key or mouse event, before the tables
#: work out their looks for the other focus state (``_warm_focus_looks``); and between
#: two tables doing so.
WARM_AFTER = 0.3
WARM_IDLE = 0.3
WARM_STEP = 0.03


class MainScreen(Screen[None]):
    """Repositories → tags → platforms → layers, plus downloads."""

    #: Screen.focused repaints the whole screen when it changes; the widgets that gain or
    #: lose focus repaint themselves anyway (their styles change), so a pane switch need
    #: not recomposite every cell of the terminal (it was most of the switch's cost).
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    #: No auto focus (None would mean the app's "*"): on_mount focuses the pane the user
    #: starts in. Auto focus first gave it to the hidden filter box, and moving it away
    #: restyled the pane once more before the first frame.
    AUTO_FOCUS = ""
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (120, "-wide"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "focus_pane(1)", "Next pane", show=False, id="next-pane"),
        Binding("shift+tab", "focus_pane(-1)", "Previous pane", show=False, id="previous-pane"),
        Binding("1", "jump(0)", "Repositories", show=False, id="focus-repositories"),
        Binding("2", "jump(1)", "Tags", show=False, id="focus-tags"),
        Binding("3", "jump(2)", "Platforms", show=False, id="focus-platforms"),
        Binding("4", "jump(3)", "Layers", show=False, id="focus-layers"),
        Binding(
            "w",
            "toggle_downloads",
            "Downloads",
            id="toggle-downloads",
            tooltip="Show or hide the downloads panel",
        ),
        Binding(
            "x",
            "cancel_download",
            "Cancel download",
            show=False,
            id="cancel-newest-download",
            tooltip="Cancel the newest running download",
        ),
        Binding(
            "i",
            "show_info",
            "Info",
            id="registry-info",
            tooltip="Registry info: credential source, auth scheme, granted scopes",
        ),
    ]

    def __init__(
        self,
        target: Reference,
        *,
        client_factory: ClientFactory,
        options: TransportOptions | None,
        download_dir: Path,
        jobs: int,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.client_factory = client_factory
        self.options = options
        self.download_dir = download_dir
        self.jobs = jobs
        self.clock = clock
        self.session: BrowserSession | None = None
        self._last_pane = 0
        self._resumed = False
        #: The user went to the platforms pane by drilling (Enter, or a reference given):
        #: a single-image tag then skips on to its layers.
        self._drilling = False
        #: Panes waiting for the login prompt that is up (None: no prompt is up).
        self._login_waiting: list[Pane.LoginRequested] | None = None
        #: The user cancelled the login: no prompt again until a reload.
        self._login_declined = False
        # Connect and ask for the first catalog page now: the network then overlaps with
        # building and drawing the screen (on_mount reports a client that cannot be made).
        self._client_error: Exception | None = None
        try:
            client = client_factory(target.registry, options)
        except Exception as exc:  # a bad CA file, plain HTTP refused...: shown on mount
            self._client_error = exc
        else:
            self.session = BrowserSession(target.registry, client)
            if not target.registry.is_docker_hub:
                self.session.start_catalog(CATALOG_PAGE_SIZE, FIRST_PAGE_SIZE)

    def compose(self) -> Iterable[Any]:
        # The width class first: set by the first resize instead, it restyled every widget
        # once more before the first frame (~40 ms of a start).
        width = self.app.size.width
        for threshold, name in sorted(self.HORIZONTAL_BREAKPOINTS, reverse=True):
            if width >= threshold:
                self.set_class(True, name, update=False)
                break
        yield Header(show_clock=False)
        with Container(id="panes"):
            yield RepositoryList()
            yield TagTable()
            yield PlatformList()
            yield LayerTable()
        panel = self._downloads_panel = DownloadsPanel(jobs=self.jobs, clock=self.clock)
        panel.display = False
        yield panel
        yield KeyBar()

    def post_message(self, message: Message) -> bool:
        if isinstance(message, events.ScreenResume) and not self._resumed:
            # The first resume follows the mount, which styled every widget moments ago:
            # styling them all again cost ~50 ms before the first frame. Later resumes
            # (back from a dialog) restyle as usual.
            self._resumed = True
            message.refresh_styles = False
        return super().post_message(message)

    # Parts ------------------------------------------------------------------------------------
    @property
    def repo_pane(self) -> RepositoryList:
        return self.query_one(RepositoryList)

    @property
    def tag_pane(self) -> TagTable:
        return self.query_one(TagTable)

    @property
    def platform_pane(self) -> PlatformList:
        return self.query_one(PlatformList)

    @property
    def layer_pane(self) -> LayerTable:
        return self.query_one(LayerTable)

    @property
    def downloads(self) -> DownloadsPanel:
        return self.query_one(DownloadsPanel)

    @property
    def panes(self) -> list[Pane[Any]]:
        """The browser panes in drill-down order."""
        return [self.repo_pane, self.tag_pane, self.platform_pane, self.layer_pane]

    # Start and stop ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.set_timer(WARM_AFTER, self._warm_focus_looks)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        target = self.target
        self.sub_title = str(target.registry)
        self.title = "regtui"
        session = self.session
        if session is None:
            assert self._client_error is not None
            self.repo_pane.set_status(describe_error(self._client_error), "error")
            self._focus(self.repo_pane)
            return
        self.app.call_later(getattr(self.app, "registry_opened", _noop), target.registry)
        repository = target.repository or None
        self.repo_pane.load(session, select=repository)
        if repository is None:
            self._focus(self.repo_pane)
            return
        self.tag_pane.load(session, repository, select=target.tag)
        if target.tag or target.digest:
            reference = target.digest or target.tag
            assert reference is not None
            self._load_platforms(session, repository, reference)
            self._focus(self.platform_pane)
        else:
            self._focus(self.tag_pane)

    def _warm_focus_looks(self) -> None:
        """Let one table work out its other focus look while the user is idle; then the next.

        The first Tab into or out of each table was a full restyle (see
        ``RegtuiDataTable.warm_focus_looks``); this does that work ahead of time, one table
        at a time, so a key pressed meanwhile waits for at most one.
        """
        since = getattr(self.app, "seconds_since_input", None)
        idle = since() if callable(since) else WARM_IDLE
        # Not while the pane the user looks at is still loading: its rows come first.
        if idle < WARM_IDLE or any(p.busy and p.has_focus_within for p in self.panes):
            self.set_timer(max(WARM_IDLE - idle, WARM_STEP), self._warm_focus_looks)
            return
        for pane in self.panes:
            if pane.table.warm_focus_looks():
                self.set_timer(WARM_STEP, self._warm_focus_looks)
                return

    def _theme_changed(self, _theme: object) -> None:
        # A new theme restyles everything: what the tables kept for the focus is stale.
        self.set_timer(WARM_AFTER, self._warm_focus_looks)

    async def on_unmount(self) -> None:
        # The signal would keep this screen (and its rows) until the next theme change.
        self.app.theme_changed_signal.unsubscribe(self)
        # Quitting stops running downloads the way Ctrl-C stops `regtui pull`: their
        # layouts stay valid and what was fetched resumes next time.
        await self._downloads_panel.stop_all()  # (already out of the DOM here)
        await self._downloads_panel.discard_spare()
        if self.session is not None:
            await self.session.aclose()

    # Drilling down ----------------------------------------------------------------------------
    def _load_platforms(self, session: BrowserSession, repository: str, reference: str) -> None:
        """Show the platforms of a tag (or digest); a download is now a key away."""
        self.platform_pane.load(session, repository, reference)
        self._downloads_panel.prepare()

    @on(RepositoryList.RepositorySelected)
    def _repository_selected(self, event: RepositoryList.RepositorySelected) -> None:
        if self.session is None:
            return
        self.tag_pane.load(self.session, event.repository, select=event.tag)
        self.platform_pane.reset()
        self.layer_pane.reset()
        if event.tag:
            self._load_platforms(self.session, event.repository, event.tag)
            self._focus(self.platform_pane)
        else:
            self._focus(self.tag_pane)

    @on(TagTable.TagSelected)
    def _tag_selected(self, event: TagTable.TagSelected) -> None:
        if self.session is None:
            return
        self._load_platforms(self.session, event.repository, event.tag)
        self.layer_pane.reset()
        self._focus(self.platform_pane)

    @on(PlatformList.PlatformSelected)
    def _platform_selected(self, event: PlatformList.PlatformSelected) -> None:
        if self.session is None:
            return
        row = event.row
        self.layer_pane.load(
            self.session, event.repository, event.reference, row.digest, row.platform, event.index
        )
        if not event.auto:
            self._focus(self.layer_pane)
        elif self._drilling:
            # A single-image tag the user was drilling into: straight on to its layers,
            # after the focus move to the platforms pane that may still be pending.
            self.call_after_refresh(self._focus, self.layer_pane)
        self._drilling = False

    # Logging in -------------------------------------------------------------------------------
    @on(Pane.LoginRequested)
    def _login_requested(self, event: Pane.LoginRequested) -> None:
        event.stop()
        session = self.session
        pane = event.pane
        if session is None:
            pane.worker_failed(event.worker, event.error)
        elif session.client is not event.client:
            pane.reload()  # a login happened while this look-up was under way
        elif self._login_declined:
            pane.worker_failed(event.worker, event.error)
        elif self._login_waiting is not None:
            if all(waiting.pane is not pane for waiting in self._login_waiting):
                self._login_waiting.append(event)
        else:
            self._login_waiting = [event]
            prompt = LoginScreen(session.registry.host, event.doing, self._check_login)
            self.app.push_screen(prompt, self._login_finished)

    async def _check_login(self, credential: Credential) -> RegistryClient:
        return await log_in(self.client_factory, self.target.registry, self.options, credential)

    def _login_finished(self, client: RegistryClient | None) -> None:
        waiting, self._login_waiting = self._login_waiting or [], None
        session = self.session
        if client is not None and session is None:  # pragma: no cover - no prompt without one
            self.app.call_later(client.aclose)
            client = None
        if client is None or session is None:
            self._login_declined = True
            for event in waiting:
                event.pane.worker_failed(event.worker, event.error)
            return
        session.replace_client(client)
        self.notify(f"Logged in to {session.registry}", timeout=3, markup=False)
        for event in waiting:
            event.pane.reload()

    @on(Pane.Reloaded)
    def _pane_reloaded(self, event: Pane.Reloaded) -> None:
        event.stop()
        self._login_declined = False

    # Registry info ----------------------------------------------------------------------------
    def action_show_info(self) -> None:
        """Registry info: how the registry is reached and the credential in use."""
        if self.session is None:
            self.notify("No connection to this registry", severity="warning")
            return
        self.app.push_screen(RegistryInfoScreen(self.session, self.options))

    # Downloads --------------------------------------------------------------------------------
    @on(PlatformList.DownloadRequested)
    def _download_platform(self, event: PlatformList.DownloadRequested) -> None:
        self._start_download(
            event.repository, event.reference, event.row.digest, event.row.platform, event.index
        )

    @on(LayerTable.DownloadRequested)
    def _download_layers(self, event: LayerTable.DownloadRequested) -> None:
        shown = event.shown
        self._start_download(
            shown.repository, shown.reference, shown.fetched.digest, shown.platform, shown.index
        )

    def _start_download(
        self, repository: str, reference: str, digest: str, platform: Any, index: Any
    ) -> None:
        if self.session is None:
            return
        ref = Reference(self.session.registry, repository)
        ref = ref.with_digest(reference) if ":" in reference else ref.with_tag(reference)
        request = DownloadRequest(
            reference=ref,
            digest=digest,
            platform=platform,
            index=index,
            destination=download_dir_for(self.download_dir, ref),
        )
        view = self.downloads.start(request, self.session)
        if view is not None:
            what = (
                f"{repository}:{reference if ':' not in reference else fmt.short_digest(reference)}"
            )
            self.notify(
                f"{what} → {request.destination}", title="Downloading", timeout=3, markup=False
            )

    @on(DownloadsPanel.DownloadFinished)
    def _download_finished(self, event: DownloadsPanel.DownloadFinished) -> None:
        view = event.view
        ref = view.request.reference
        what = f"{ref.repository}:{ref.tag or fmt.short_digest(ref.digest or '')}"
        if view.state == "done":
            self.notify(
                f"{what} → {view.request.destination}",
                title="Downloaded",
                timeout=5,
                markup=False,
            )
        elif view.state == "failed":
            self.notify(
                f"{what}: {view.error}",
                title="Download failed",
                severity="error",
                timeout=8,
                markup=False,
            )
        else:
            self.notify(
                f"{what}: cancelled", title="Download", severity="warning", timeout=3, markup=False
            )

    def action_toggle_downloads(self) -> None:
        """Show or hide the downloads panel."""
        panel = self.downloads
        panel.display = not panel.display
        if not panel.display and panel.has_focus_within:
            self.panes[self._last_pane].focus_table()

    def action_cancel_download(self) -> None:
        """Cancel the newest running download."""
        running = self.downloads.running_views()
        self.downloads.cancel(running[0] if running else None)

    # Focus ------------------------------------------------------------------------------------
    def _focus(self, pane: Pane[Any]) -> None:
        """Focus ``pane``; landing on the platforms pane means the user is drilling down."""
        self._drilling = pane is self.platform_pane
        pane.focus_table()

    def _focus_order(self) -> list[Widget]:
        order: list[Widget] = list(self.panes)
        if self.downloads.display and self.downloads.views:
            order.append(self.downloads)
        return order

    def _current_index(self, order: list[Widget]) -> int | None:
        for index, widget in enumerate(order):
            if widget.has_focus_within:
                return index
        return None

    def action_focus_pane(self, delta: int) -> None:
        """Tab / Shift-Tab: the next or previous pane."""
        order = self._focus_order()
        current = self._current_index(order)
        target = order[((current if current is not None else -1) + delta) % len(order)]
        self._drilling = False
        target.focus_table()  # type: ignore[attr-defined]

    def action_jump(self, index: int) -> None:
        """1-4: a pane by number."""
        self._drilling = False
        self.panes[index].focus_table()

    @on(Pane.BackRequested)
    def _back(self, event: Pane.BackRequested) -> None:
        panes = self.panes
        if event.pane in panes:
            index = panes.index(event.pane)
            if index > 0:
                self._drilling = False
                panes[index - 1].focus_table()

    @on(DownloadsPanel.BackRequested)
    def _back_from_downloads(self) -> None:
        self.panes[self._last_pane].focus_table()

    def on_descendant_focus(self) -> None:
        for index, pane in enumerate(self.panes):
            if pane.has_focus_within:
                self._last_pane = index


def _noop(*_: object) -> None:
    return None

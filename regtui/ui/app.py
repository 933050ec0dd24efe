"""``RegtuiApp`` and ``make_app``, the one factory used by the CLI and the tests."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

from regtui.core.client import TransportOptions, connect
from regtui.core.errors import RegtuiError
from regtui.core.pull import DEFAULT_JOBS
from regtui.core.reference import Reference, Registry, parse_reference
from regtui.locations import downloads_dir, recent_file
from regtui.ui import heap
from regtui.ui.recent import load_recent, record_recent
from regtui.ui.screens.help import HelpScreen
from regtui.ui.screens.main import MainScreen
from regtui.ui.screens.start import StartScreen
from regtui.ui.session import ClientFactory, describe_error
from regtui.ui.widgets.downloads_panel import Clock

STYLES = Path(__file__).parent / "styles"


def parse_target(text: str) -> Reference:
    """What a user typed (registry, registry/repo, repo:tag, repo@digest) as a reference.

    A lone word that looks like a host (``quay.io``, ``127.0.0.1:5000``, ``localhost``) is a
    registry; anything else follows the Docker grammar (``alpine`` is Docker Hub's
    ``library/alpine``).
    """
    return parse_reference(text.strip(), default_tag=None, require_repository=False)


#: The interpreter's thread switch interval while the app runs (see ``on_mount``).
SWITCH_INTERVAL = 0.0005
#: Seconds between looks at whether the heap needs tidying, and how long the user must
#: have left keys and mouse alone for it (a collection can take 0.1-0.3 s).
TIDY_CHECK = 5.0
TIDY_IDLE = 3.0


class RegtuiApp(App[int]):
    """The regtui terminal UI."""

    TITLE = "regtui"
    CSS_PATH = [
        STYLES / "app.tcss",
        STYLES / "panes.tcss",
        STYLES / "downloads.tcss",
        STYLES / "screens.tcss",
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit regtui (running downloads stop)"),
        Binding("question_mark", "show_help", "Keys", id="help", tooltip="Show every key"),
    ]
    ENABLE_COMMAND_PALETTE = True

    #: Tests switch this off so that snapshots never catch a cursor mid-blink.
    cursor_blink = True

    def __init__(
        self,
        target: str | None = None,
        *,
        options: TransportOptions | None = None,
        download_dir: Path | None = None,
        client_factory: ClientFactory = connect,
        jobs: int = DEFAULT_JOBS,
        recent_path: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.options = options
        self.download_dir = download_dir if download_dir is not None else downloads_dir()
        self.client_factory = client_factory
        self.jobs = jobs
        self.recent_path = recent_path
        self.clock = clock
        self._initial_reference: Reference | None = None
        self._switch_interval = sys.getswitchinterval()
        self._last_input = time.monotonic()  # the last key or mouse event (_tidy_heap)

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        # A widget set up in compose() is styled in full as it mounts. Styling it when its
        # constructor sets a class (``Input(compact=True)``) was wasted: ~15 ms of a start.
        if isinstance(node, Widget) and not node.is_attached:
            return
        super().update_styles(node, animate)

    # Screens ----------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        # A target given on the command line opens a main screen (see on_mount) over an
        # empty one: building a start screen the user may never see cost ~50 ms before
        # the first rows. "Switch registry" puts a start screen in its place.
        self._initial_reference = None
        error = ""
        if self.target:
            try:
                self._initial_reference = parse_target(self.target)
            except RegtuiError as exc:
                error = describe_error(exc)
        if self._initial_reference is not None:
            return Screen()
        initial = (self.target or "") if error else ""
        return StartScreen(self._recent(), initial=initial, error=error)

    def on_mount(self) -> None:
        # Blob threads need the GIL for a moment after every socket read; with the default
        # 5 ms switch interval, a busy UI (redrawing after a key) made each of them wait up
        # to 5 ms per read, and a pull with pane switching took ~1.5x as long. 0.5 ms keeps
        # transfers moving and keys answered; it only matters while threads compete.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.set_interval(TIDY_CHECK, self._tidy_heap, name="tidy-heap")
        if self._initial_reference is not None:
            self.push_screen(self._main_screen(self._initial_reference))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self._last_input = time.monotonic()
        await super().on_event(event)

    def seconds_since_input(self) -> float:
        """Seconds since the last key press or mouse event (work that can wait, waits)."""
        return time.monotonic() - self._last_input

    def _tidy_heap(self) -> None:
        """Collect garbage among frozen objects while the user is idle (regtui.ui.heap)."""
        heap.tidy(now=self.seconds_since_input() >= TIDY_IDLE)

    def on_unmount(self) -> None:
        sys.setswitchinterval(self._switch_interval)

    def _main_screen(self, reference: Reference) -> MainScreen:
        return MainScreen(
            reference,
            client_factory=self.client_factory,
            options=self.options,
            download_dir=self.download_dir,
            jobs=self.jobs,
            clock=self.clock,
        )

    def _recent(self) -> list[str]:
        return load_recent(self.recent_path or recent_file())

    def registry_opened(self, registry: Registry) -> None:
        """Remember a registry the user opened (its address only)."""
        name = f"{registry.scheme}://{registry.host}" if registry.scheme else registry.host
        with contextlib.suppress(Exception):
            record_recent(name, self.recent_path or recent_file())

    @on(StartScreen.TargetChosen)
    def open_target(self, event: StartScreen.TargetChosen) -> None:
        """Open what was typed or picked on the start screen."""
        try:
            reference = parse_target(event.target)
        except RegtuiError as exc:
            if isinstance(self.screen, StartScreen):
                self.screen.show_error(describe_error(exc))
            return
        self.push_screen(self._main_screen(reference))

    def action_switch_registry(self) -> None:
        """Back to the start screen (not while downloads run on this registry)."""
        screen = self.screen
        if isinstance(screen, MainScreen):
            if screen.downloads.running_views():
                self.notify(
                    "Downloads are running on this registry: cancel them (x) or wait",
                    severity="warning",
                )
                return
            stack = self.screen_stack
            below = stack[-2] if len(stack) > 1 else None
            if isinstance(below, StartScreen):
                self.pop_screen()
                below.set_recent(self._recent())
                below.show_error("")
            else:  # opened at a target, over an empty screen
                self.switch_screen(StartScreen(self._recent()))

    def action_show_help(self) -> None:
        """Every key, by where it applies."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # Command palette --------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Keys", "Show every key (?)", self.action_show_help)
        if isinstance(screen, MainScreen):
            yield SystemCommand(
                "Switch registry", "Back to the start screen", self.action_switch_registry
            )
            yield SystemCommand(
                "Registry info",
                "Scheme, API version, credential source, auth scheme, granted scopes (i)",
                screen.action_show_info,
            )
            yield SystemCommand(
                "Downloads: show or hide", "The downloads panel (w)", screen.action_toggle_downloads
            )
            yield SystemCommand(
                "Downloads: cancel newest",
                "Cancel the newest running download (x)",
                screen.action_cancel_download,
            )
            yield SystemCommand(
                "Downloads: clear finished",
                "Remove finished downloads from the panel",
                screen.downloads.action_clear_finished,
            )
            yield SystemCommand(
                "Tags: sort by date / name",
                "Toggle the tag order (s)",
                screen.tag_pane.action_toggle_sort,
            )
            yield SystemCommand(
                "Reload pane",
                "Load the focused pane again (r)",
                lambda: _reload_focused(screen),
            )


def _reload_focused(screen: MainScreen) -> None:
    for pane in screen.panes:
        if pane.has_focus_within:
            pane.action_reload_pane()
            return
    screen.repo_pane.action_reload_pane()


def make_app(
    target: str | None,
    *,
    options: TransportOptions | None = None,
    download_dir: Path | None = None,
    client_factory: ClientFactory = connect,
    jobs: int = DEFAULT_JOBS,
    recent_path: Path | None = None,
    clock: Clock | None = None,
) -> RegtuiApp:
    """The app for ``target`` (``REGISTRY[/REPO[:TAG|@DIGEST]]``, or None for the start screen).

    ``client_factory(registry, options)`` makes the registry client: tests pass one that
    points a display name at a loopback port.
    """
    return RegtuiApp(
        target,
        options=options,
        download_dir=download_dir,
        client_factory=client_factory,
        jobs=jobs,
        recent_path=recent_path,
        clock=clock,
    )

"""``DownloadsPanel``: pulls running in the background, one row per blob.

Each download is a :class:`DownloadView`: a header (what, where, state), one line per blob
with a progress bar, bytes, speed and state (waiting, downloading, verifying, done,
already present, retrying, failed), and a total line with the ETA. Pull events only update
the model (:class:`regtui.progress.TransferStats`); the lines are redrawn by a timer, so a
burst of events never costs more than one redraw. The pull itself runs in a child process
(:func:`regtui.core.pull.pull_in_subprocess`), so drawing never slows a transfer.
Finished, failed and cancelled downloads stay listed with their result.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import AwaitMount, Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from regtui import format as fmt
from regtui.core.auth import RegistryAuth
from regtui.core.client import FetchedManifest
from regtui.core.manifest import ImageManifest, Platform
from regtui.core.pull import (
    BlobDone,
    BlobFailed,
    BlobProgress,
    BlobRetrying,
    BlobStarted,
    Puller,
    PullEvent,
    PullFinished,
    PullPlanned,
    PullResult,
    default_ref_name,
    discard_pull_process,
    plan_for,
    pull_in_subprocess,
    start_pull_process,
)
from regtui.core.reference import Reference
from regtui.progress import BlobRow, TransferStats
from regtui.ui import heap
from regtui.ui.session import BrowserSession, describe_error, platform_text
from regtui.ui.widgets.box import PaneBox

Clock = Callable[[], float]

#: Redraws per second of running downloads (the bars move smoothly at 5; every redraw
#: takes the GIL from the transfer threads, see bench/tui_responsiveness.py).
REFRESH_HZ = 5
#: Longest wait, when quitting, for running pulls to stop cleanly.
STOP_TIMEOUT = 15.0

STATE_WORDS = {
    "waiting": "waiting",
    "downloading": "downloading",
    "verifying": "verifying",
    "done": "done",
    "present": "already present",
    "retrying": "retrying",
    "failed": "failed",
}


@dataclass(frozen=True)
class DownloadRequest:
    """What to pull and where: the image manifest exactly as browsed."""

    reference: Reference
    digest: str
    platform: Platform | None
    index: FetchedManifest | None
    destination: Path

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a download (same image into the same place)."""
        return (str(self.reference), self.digest, str(self.destination))


class BlobLine:
    """What one line says about a blob (or the total): label, bar, bytes, speed, state.

    Not a widget: a download's lines are drawn by one :class:`BlobLines`.
    """

    LABEL_WIDTH = 21
    TAIL_WIDTH = 5 + 21 + 12 + 26  # percentage, bytes, speed, state

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown: tuple[int, int, str, str, str] = (0, 0, "", "", "waiting")

    @property
    def state(self) -> str:
        """The state word shown (``done``, ``retrying in 2s: …``...)."""
        return self.shown[3]

    def segments(self, width: int, style: Callable[[str | None], Style]) -> list[Segment]:
        """The line at ``width`` cells, its parts styled by ``style(component)``."""
        done, total, speed, state, state_class = self.shown
        base = style(None)
        bar_width = max(4, width - self.LABEL_WIDTH - self.TAIL_WIDTH - 2)
        fraction = min(1.0, done / total) if total > 0 else 0.0
        filled = round(bar_width * fraction)
        finished = state_class in ("done", "present")
        word_style = {
            "done": "blob-line--done",
            "present": "blob-line--done",
            "retrying": "blob-line--retrying",
            "failed": "blob-line--failed",
        }.get(state_class, "blob-line--muted")
        amount = f"{fmt.size(done)} / {fmt.size(total)}" if total > 0 else ""
        plain = (
            (f" {100 * fraction:3.0f}%" if total > 0 else "     ")
            + amount.rjust(21)
            + speed.rjust(12)
            + "  "
        )
        return [
            Segment(self.label[: self.LABEL_WIDTH - 1].ljust(self.LABEL_WIDTH), base),
            Segment("━" * filled, style("blob-line--bar-done" if finished else "blob-line--bar")),
            # A lighter line for the rest, so the bar reads even without colours (NO_COLOR).
            Segment("─" * (bar_width - filled), style("blob-line--bar-empty")),
            Segment(plain, base),
            Segment(fmt.one_line(state, 24), style(word_style)),
        ]


def _lines_for(labels: Iterable[str]) -> list[BlobLine]:
    return [*(BlobLine(label) for label in labels), BlobLine("total")]


class BlobLines(Widget):
    """A download's blob lines and its total line (the last), drawn as one widget.

    One widget rather than one per line: every progress frame repainted each line's widget
    and every container around it (~20 widgets for a 12-blob pull, five times a second).
    Lines are built as segments (``render_line``), each redrawn only when what it says
    changed, with styles looked up once per restyle: going through ``render`` (Rich
    ``Text``, converted for Textual on every frame) was a quarter of a core while a
    download ran.
    """

    def __init__(self, labels: Iterable[str]) -> None:
        super().__init__(classes="download-blobs")
        self.lines = _lines_for(labels)
        self._styles: dict[str, Style] = {}
        self._strips: dict[int, tuple[tuple[Any, ...], Strip]] = {}

    def set_labels(self, labels: Iterable[str]) -> None:
        """One line per label, then the total line (a new height: a layout pass)."""
        self.lines = _lines_for(labels)
        self._strips.clear()
        self.refresh(layout=True)

    def show(
        self, index: int, done: int, total: int, speed: str, state: str, state_class: str
    ) -> None:
        """Set what line ``index`` says; only that line is redrawn, and only if it changed."""
        line = self.lines[index]
        shown = (done, total, speed, state, state_class)
        if shown != line.shown:
            line.shown = shown
            self.refresh(Region(0, index, self.size.width, 1))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """One row per line."""
        return len(self.lines)

    def notify_style_update(self) -> None:
        """Restyled (theme, CSS): look the styles up again."""
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, component: str | None = None, *, total: bool = False) -> Style:
        """The lines' style, or a component's over it (cached until the next restyle)."""
        key = f"{component or ''}{'+total' if total else ''}"
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            # The lines have no background of their own: the panel's is theirs.
            panel = next((n for n in self.ancestors if isinstance(n, DownloadsPanel)), None)
            if panel is not None:
                if total:
                    style = style + panel.get_component_rich_style("blob-line--total", partial=True)
                if component is not None:
                    # The full component style: its colours blended over the background
                    # (a partial one leaves out colours with alpha, like $foreground 15%).
                    style = style + panel.get_component_rich_style(component)
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        """Line ``y``, rebuilt only when what it shows or the width changed."""
        width = self.size.width
        if not 0 <= y < len(self.lines):
            return Strip.blank(width, self._style())
        line = self.lines[y]
        key = (line.shown, width)
        cached = self._strips.get(y)
        if cached is not None and cached[0] == key:
            return cached[1]
        total = y == len(self.lines) - 1

        def style(component: str | None) -> Style:
            return self._style(component, total=total)

        strip = Strip(line.segments(width, style)).adjust_cell_length(width, style(None))
        self._strips[y] = (key, strip)
        return strip


class DownloadView(Vertical, can_focus=True):
    """One pull: header, blob lines, total line."""

    def __init__(
        self, request: DownloadRequest, *, clock: Clock, planned: PullPlanned | None = None
    ) -> None:
        super().__init__(classes="download")
        self.request = request
        self.clock = clock
        self.stats = TransferStats()
        self.notes: dict[str, str] = {}
        self.state = "resolving"
        self.result: PullResult | None = None
        self.error: str | None = None
        self.platform = platform_text(request.platform)
        self.worker: Worker[Any] | None = None
        self._samples: dict[str, deque[tuple[float, int]]] = {}
        self._dirty = True
        #: The blobs the mounted lines stand for (remounted only when the plan differs).
        self._line_digests: tuple[str, ...] = ()
        self._header_shown: Text | None = None
        # Parts of the view, found once it is mounted (on_mount).
        self._blobs: BlobLines | None = None
        self._header: Static | None = None
        if planned is not None:
            self._adopt_plan(planned)

    def compose(self) -> Iterable[Any]:
        yield Static("", classes="download-header")
        # The lines come with the view when the plan is known: a later change in their
        # number is another layout pass of the whole screen while the transfer runs.
        self._line_digests = tuple(self.stats.rows)
        yield BlobLines(_blob_label(row) for row in self.stats.rows.values())

    def on_mount(self) -> None:
        # Looked up once: render_progress runs five times a second.
        self._blobs = self.query_one(BlobLines)
        self._header = self.query_one(".download-header", Static)
        self.render_progress()

    @property
    def lines(self) -> list[BlobLine]:
        """What the blob lines and, last, the total line say."""
        return list(self._blobs.lines) if self._blobs is not None else []

    def watch_has_focus(self, has_focus: bool) -> None:
        """Mark the focused download on its header line alone.

        Textual would restyle the view and every line in it (seven component styles
        each) and repaint them all; a Tab into the panel while a download runs took
        ~0.1 s of CPU that way. Nothing in the view's styles depends on its focus.
        """
        if self._header is not None:
            self._header.set_class(has_focus, "-selected")

    @property
    def running(self) -> bool:
        """Still resolving or transferring."""
        return self.state in ("resolving", "downloading")

    # Events (on the event loop, from the pull engine) ---------------------------------------
    def handle_event(self, event: PullEvent) -> None:
        """Update the model; the panel's timer redraws."""
        now = self.clock()
        if isinstance(event, PullPlanned):
            self.stats.plan(event)
            self.stats.started = now
            self.state = "downloading"
            if event.platform and event.platform != "-":
                self.platform = event.platform
        elif isinstance(event, PullFinished):
            self.result = event.result
        else:
            row = self.stats.apply(event)
            if row is not None:
                if isinstance(event, BlobStarted | BlobProgress | BlobDone):
                    self.notes.pop(row.digest, None)
                    self._samples.setdefault(row.digest, deque(maxlen=30)).append((now, row.done))
                elif isinstance(event, BlobRetrying):
                    self.notes[row.digest] = (
                        f"retrying in {fmt.duration(event.delay)}: {fmt.one_line(event.reason)}"
                    )
                elif isinstance(event, BlobFailed):
                    self.notes[row.digest] = fmt.one_line(event.reason)
        self._dirty = True

    def plan(self, planned: PullPlanned) -> None:
        """Show the blobs to come before the pull process reports its own plan.

        The same plan (from the manifest the user browsed) arrives again from the pull;
        drawing the lines now puts their layout pass before the transfer, not during it.
        """
        if not self.stats.rows:
            self._adopt_plan(planned)
            self.render_progress()

    def _adopt_plan(self, planned: PullPlanned) -> None:
        self.handle_event(planned)
        self.state = "resolving"  # until the pull itself reports

    def finished(self, result: PullResult) -> None:
        """The pull completed."""
        self.result = result
        self.state = "done"
        self._dirty = True
        self.render_progress()

    def failed(self, message: str) -> None:
        """The pull stopped with an error."""
        self.state = "failed"
        self.error = message
        self._dirty = True
        self.render_progress()

    def cancelled(self) -> None:
        """The user cancelled the pull."""
        self.state = "cancelled"
        self._dirty = True
        self.render_progress()

    # Drawing ----------------------------------------------------------------------------------
    def _blob_speed(self, row: BlobRow, now: float) -> float:
        samples = self._samples.get(row.digest)
        if not samples or row.state != "downloading":
            return 0.0
        while len(samples) > 2 and now - samples[0][0] > 3.0:
            samples.popleft()
        t0, b0 = samples[0]
        span = now - t0
        return (row.done - b0) / span if span > 0.2 else 0.0

    def render_progress(self, force: bool = False) -> None:
        """Redraw from the model if anything changed."""
        if not (self._dirty or force) or not self.is_mounted or self._blobs is None:
            return
        self._dirty = False
        now = self.clock()
        blobs = self._blobs
        digests = tuple(self.stats.rows)
        if digests != self._line_digests:
            # Usually never: the lines come with the plan made before the pull starts
            # (see plan). A new number of lines is a layout pass of the whole screen.
            blobs.set_labels(_blob_label(row) for row in self.stats.rows.values())
            self._line_digests = digests
        for index, row in enumerate(self.stats.rows.values()):
            speed = self._blob_speed(row, now)
            note = self.notes.get(row.digest)
            state = note or STATE_WORDS.get(row.state, row.state)
            blobs.show(
                index, row.done, row.size, fmt.rate(speed) if speed else "", state, row.state
            )
        self._render_total(blobs, now)
        self._update_header()

    def _render_total(self, blobs: BlobLines, now: float) -> None:
        last = len(blobs.lines) - 1
        stats = self.stats
        if not stats.rows:
            blobs.show(last, 0, 0, "", "resolving…" if self.running else "", "waiting")
            return
        if self.state == "downloading":
            speed = stats.speed(now)
            eta = stats.eta(speed)
            eta_text = f"ETA {fmt.duration(eta)}" if eta is not None else "ETA --"
            rate = fmt.rate(speed) if speed else ""
            blobs.show(last, stats.done, stats.total, rate, eta_text, "")
        elif self.state == "done" and self.result is not None:
            result = self.result
            blobs.show(
                last,
                stats.total,
                stats.total,
                fmt.rate(result.rate) if result.rate else "",
                "done",
                "done",
            )
        else:
            blobs.show(last, stats.done, stats.total, "", self.state, "failed")

    def _update_header(self) -> None:
        header = self._header
        if header is None:
            return
        request = self.request
        text = Text()
        text.append(f"{request.reference.repository}:{_ref_label(request.reference)}", "bold")
        if self.platform:
            text.append(f"  {self.platform}")
        text.append(f"  → {request.destination}", "dim")
        text.append("  ")
        if self.state == "done" and self.result is not None:
            r = self.result
            text.append(
                f"done: {r.blobs_downloaded} downloaded, {r.blobs_skipped} already present, "
                f"{fmt.size(r.bytes_fetched)} in {r.seconds:.1f}s",
                "bold",
            )
        elif self.state == "failed":
            text.append(f"failed: {self.error}", "bold")
        elif self.state == "cancelled":
            text.append("cancelled (verified blobs kept; download again to resume)", "italic")
        elif self.state == "resolving":
            text.append("resolving…", "italic")
        else:
            finished = sum(1 for r in self.stats.rows.values() if r.state in ("done", "present"))
            text.append(f"downloading, {finished}/{len(self.stats.rows)} blobs")
        if text == self._header_shown:
            return  # five times a second, mostly unchanged: no repaint
        self._header_shown = text
        header.update(text, layout=False)
        # The state class goes on the header only: restyling one line, not the whole view.
        for name in ("resolving", "downloading", "done", "failed", "cancelled"):
            header.set_class(self.state == name, f"-{name}")


def _plan(
    request: DownloadRequest, fetched: FetchedManifest | None, platform: Platform | None
) -> PullPlanned | None:
    """The plan of pulling ``fetched`` (None unless it is an image manifest at hand)."""
    if fetched is None or not isinstance(fetched.manifest, ImageManifest):
        return None
    return plan_for(
        fetched.manifest,
        reference=str(request.reference),
        manifest_digest=fetched.digest,
        platform=platform,
    )


def _blob_label(row: BlobRow) -> str:
    return f"{row.kind:<6} {row.digest.split(':', 1)[-1][:12]}"


def _ref_label(ref: Reference) -> str:
    if ref.tag:
        return ref.tag
    return fmt.short_digest(ref.digest or "")


class DownloadsPanel(PaneBox):
    """The downloads panel under the browser panes."""

    # The styles of the parts of a BlobLine. They live here, worked out once with the
    # panel, not on each line: a new download's dozen lines were ~80 more nodes to style
    # as its transfer began (bench/tui_responsiveness.py).
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "blob-line--bar",
        "blob-line--bar-done",
        "blob-line--bar-empty",
        "blob-line--muted",
        "blob-line--done",
        "blob-line--retrying",
        "blob-line--failed",
        "blob-line--total",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel", "Cancel", id="cancel-download", tooltip="Cancel this download"),
        Binding(
            "delete",
            "clear_finished",
            "Clear finished",
            id="clear-downloads",
            tooltip="Remove finished, failed and cancelled downloads from the list",
        ),
        Binding("down,j", "focus_download(1)", "Next", show=False, id="next-download"),
        Binding("up,k", "focus_download(-1)", "Previous", show=False, id="previous-download"),
        Binding("escape", "back", "Back", id="downloads-back"),
    ]

    class BackRequested(Message):
        """Escape in the panel: focus returns to the browser panes."""

    class DownloadFinished(Message):
        """A download ended (done, failed or cancelled)."""

        def __init__(self, view: DownloadView) -> None:
            super().__init__()
            self.view = view

    def __init__(
        self,
        *,
        id: str = "downloads",  # noqa: A002
        jobs: int = 4,
        clock: Clock | None = None,
        in_process: bool = False,
    ) -> None:
        super().__init__(id=id, classes="pane")
        self.jobs = jobs
        #: Pull in this process rather than a child (tests that fake the network need it).
        self.in_process = in_process
        self.clock: Clock = clock or time.monotonic
        self.border_title = "Downloads"
        self._timer: Timer | None = None
        self._views: dict[str, DownloadView] = {}
        #: A pull child started ahead of time (see prepare), and whether one is starting.
        self._spare: asyncio.subprocess.Process | None = None
        self._spare_starting = False
        #: Whether this panel holds the heap (regtui.ui.heap.hold, see _hold_gc).
        self._holds_heap = False

    def compose(self) -> Iterable[Any]:
        yield Static("No downloads yet: press d on a platform", classes="downloads-empty")
        yield VerticalScroll(id="download-list", can_focus=False)

    @property
    def views(self) -> list[DownloadView]:
        """Downloads, newest first."""
        return list(self.query(DownloadView))

    def running_views(self) -> list[DownloadView]:
        """Downloads still in progress."""
        return [v for v in self.views if v.running]

    # Starting ---------------------------------------------------------------------------------
    def add_view(
        self, request: DownloadRequest, planned: PullPlanned | None = None
    ) -> DownloadView:
        """Add a row for ``request`` (newest first) and show the panel."""
        view = DownloadView(request, clock=self.clock, planned=planned)
        listing = self.query_one("#download-list", VerticalScroll)
        children = list(listing.children)
        mounting = listing.mount(view, before=children[0] if children else None)
        self.query_one(".downloads-empty").display = False
        if not self.display:
            self.call_later(self._show_when_mounted, mounting)
        self._update_counts()
        return view

    async def _show_when_mounted(self, mounting: AwaitMount) -> None:
        """Show the panel once its new download and that one's lines are mounted.

        Shown at once, the panel made the screen lay out and draw three times as the
        pull began (the panes shrink, the view mounts, then its lines): CPU taken from
        the transfer (bench/tui_responsiveness.py). Mounted while hidden, they draw once.
        """
        await mounting
        self.display = True

    def prepare(self) -> None:
        """Start a pull process ahead of time: the next download then starts at once.

        Called when the user opens a tag (a download is a key away). Starting Python and
        importing the pull code takes ~0.3 s, which would otherwise delay every download
        started from the TUI against ``regtui pull`` (bench/tui_responsiveness.py).
        """
        if self.in_process or self._spare is not None or self._spare_starting:
            return
        if not self.is_attached:  # the screen is closing
            return
        self._spare_starting = True
        self.run_worker(self._start_spare(), group="spare-pull", exit_on_error=False)

    async def _start_spare(self) -> None:
        try:
            spare = await start_pull_process()
        except OSError:
            return  # downloads will start their own process and say what is wrong
        finally:
            self._spare_starting = False
        if self.is_attached:
            self._spare = spare
        else:  # the screen went away while it started
            await discard_pull_process(spare)

    def _take_spare(self) -> asyncio.subprocess.Process | None:
        spare, self._spare = self._spare, None
        return spare

    async def discard_spare(self) -> None:
        """End the process started ahead of time, if any (the screen is closing)."""
        spare = self._take_spare()
        if spare is not None:
            await discard_pull_process(spare)

    def start(self, request: DownloadRequest, session: BrowserSession) -> DownloadView | None:
        """Pull ``request`` in the background; None when that exact pull is already running."""
        for view in self.running_views():
            if view.request.key == request.key:
                self.notify("Already downloading this image", severity="warning")
                return None
        # The manifest was fetched for browsing: the view can list the blobs at once.
        known = _plan(request, session.cached_manifest(request.digest), request.platform)
        view = self.add_view(request, known)
        worker = self.run_worker(
            self._pull(view, request, session),
            name=str(id(view)),
            group="downloads",
            exclusive=False,
            exit_on_error=False,
        )
        view.worker = worker
        self._views[worker.name] = view
        self._ensure_timer()
        self._hold_gc(True)
        return view

    def _hold_gc(self, hold: bool) -> None:
        """Keep full garbage collections off the heap while downloads run.

        A full collection walks every object the app has (~110,000 after browsing a
        large catalog): on a machine whose cores the transfer keeps busy, it stalled the
        UI for 0.2-0.45 s once per pull, and a key pressed then waited for it. The heap
        is frozen when the first download starts, and the app tidies it (a collection
        when the user is idle) only once the last one has ended (:mod:`regtui.ui.heap`).
        """
        if hold and not self._holds_heap:
            heap.hold()
            self._holds_heap = True
        elif not hold and self._holds_heap:
            heap.release()
            self._holds_heap = False

    async def _pull(
        self, view: DownloadView, request: DownloadRequest, session: BrowserSession
    ) -> PullResult:
        resolved = await session.resolve_for_download(
            request.reference, request.digest, request.platform, request.index
        )
        planned = _plan(request, resolved.fetched, resolved.platform)
        if planned is not None:
            view.plan(planned)
        client = session.client
        if self.in_process:
            puller = Puller(client, jobs=self.jobs, on_event=view.handle_event)
            return await puller.pull(
                request.reference, request.destination, platform=request.platform, resolved=resolved
            )
        # The pull itself runs in a child process: see pull_in_subprocess for why. It is
        # given the manifest by digest, at the address the client really uses.
        auth = client.auth
        credential = auth.credential if isinstance(auth, RegistryAuth) else None
        if credential is not None and not credential.source.startswith(("--username", "login")):
            credential = None  # from the user's files: the child finds it there itself
        target = Reference(client.registry, request.reference.repository, digest=request.digest)
        return await pull_in_subprocess(
            target,
            request.destination,
            ref_name=default_ref_name(request.reference),
            platform=resolved.platform,
            jobs=self.jobs,
            options=client.options,
            credential=credential,
            on_event=view.handle_event,
            process=self._take_spare(),
        )

    async def stop_all(self) -> None:
        """Cancel the running downloads and wait (bounded) until their pulls have stopped."""
        workers = [v.worker for v in self.running_views() if v.worker is not None]
        for worker in workers:
            worker.cancel()

        async def stopped(worker: Worker[Any]) -> None:
            with contextlib.suppress(Exception):
                await worker.wait()

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(stopped(w) for w in workers)), STOP_TIMEOUT)
        self._hold_gc(False)

    def _ensure_timer(self) -> None:
        if self._timer is None:
            self._timer = self.set_interval(1 / REFRESH_HZ, self._tick)
        else:
            self._timer.resume()

    def _tick(self) -> None:
        views = self.views
        for view in views:
            view.render_progress()
        if not any(v.running for v in views) and self._timer is not None:
            self._timer.pause()

    # The one place download workers end -------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        view = self._views.get(event.worker.name)
        if view is None:
            return
        worker = event.worker
        if event.state == WorkerState.SUCCESS and isinstance(worker.result, PullResult):
            view.finished(worker.result)
        elif event.state == WorkerState.ERROR:
            view.failed(describe_error(worker.error) if worker.error else "failed")
        elif event.state == WorkerState.CANCELLED:
            view.cancelled()
        else:
            return
        del self._views[worker.name]
        self._update_counts()
        self.post_message(self.DownloadFinished(view))
        if not self.running_views():
            self._hold_gc(False)
            # Ready for the next one; not while pulls run, not to take their CPU.
            self.prepare()

    def _update_counts(self) -> None:
        views = self.views
        running = sum(1 for v in views if v.running)
        parts = []
        if running:
            parts.append(f"{running} running")
        if len(views) > running:
            parts.append(f"{len(views) - running} finished")
        self.border_subtitle = " · ".join(parts)

    # Actions ----------------------------------------------------------------------------------
    def _focused_view(self) -> DownloadView | None:
        focused = self.screen.focused
        return focused if isinstance(focused, DownloadView) else None

    def action_cancel(self) -> None:
        """Cancel the focused download (or the newest running one)."""
        view = self._focused_view()
        if view is None or not view.running:
            running = self.running_views()
            view = running[0] if running else None
        self.cancel(view)

    def cancel(self, view: DownloadView | None) -> bool:
        """Cancel ``view``'s pull; False when there was nothing to cancel."""
        if view is None or not view.running or view.worker is None:
            self.notify("No running download to cancel", severity="warning", timeout=3)
            return False
        view.worker.cancel()
        return True

    def action_clear_finished(self) -> None:
        """Forget downloads that are over."""
        for view in self.views:
            if not view.running:
                view.remove()
        self.call_after_refresh(self._after_clear)

    def _after_clear(self) -> None:
        if not self.views:
            self.query_one(".downloads-empty").display = True
        self._update_counts()

    def action_focus_download(self, delta: int) -> None:
        """Move between downloads."""
        views = self.views
        if not views:
            return
        current = self._focused_view()
        index = views.index(current) if current in views else -1
        views[max(0, min(len(views) - 1, index + delta))].focus()

    def action_back(self) -> None:
        self.post_message(self.BackRequested())

    def focus_table(self) -> None:
        """Focus the first download (the panel's equivalent of a pane's list)."""
        views = self.views
        if views:
            views[0].focus()
        else:
            self.focus()

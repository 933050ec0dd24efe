"""Rendering pull progress events in a terminal (``regtui pull``).

On a terminal: one line per blob with a bar, like podman's ``Copying blob``, plus a total
line with speed and ETA, redrawn at most ten times a second. Elsewhere (CI logs, pipes): a
plain progress line every few seconds. Both end with a one-line summary.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import TextIO

from regtui import format as fmt
from regtui.core.pull import (
    BlobDone,
    BlobFailed,
    BlobProgress,
    BlobRetrying,
    BlobSkipped,
    BlobStarted,
    BlobVerifying,
    PullEvent,
    PullFinished,
    PullPlanned,
    PullResult,
)


@dataclass
class BlobRow:
    """What is known of one blob."""

    digest: str
    kind: str
    size: int
    done: int = 0
    state: str = "waiting"


class TransferStats:
    """Totals, speed and ETA over a pull's blob rows (shared with the TUI)."""

    def __init__(self) -> None:
        self.rows: dict[str, BlobRow] = {}
        self.started = time.monotonic()
        self._samples: list[tuple[float, int]] = []
        self.fetched = 0

    def plan(self, event: PullPlanned) -> None:
        """Start tracking the planned blobs."""
        self.rows = {
            d.digest: BlobRow(d.digest, kind, d.size)
            for d, kind in zip(event.blobs, event.kinds, strict=True)
        }
        self.started = time.monotonic()

    def apply(self, event: PullEvent) -> BlobRow | None:
        """Update the row an event is about; returns it."""
        row = self.rows.get(getattr(event, "digest", ""))
        if row is None:
            return None
        if isinstance(event, BlobStarted):
            row.state, row.done = "downloading", event.offset
        elif isinstance(event, BlobProgress):
            self.fetched += max(0, event.done - row.done)
            row.done = event.done
            if row.state in ("waiting", "retrying"):
                row.state = "downloading"
        elif isinstance(event, BlobVerifying):
            row.state = "verifying"
        elif isinstance(event, BlobDone):
            self.fetched += max(0, event.size - row.done)
            row.state, row.done = "done", event.size
        elif isinstance(event, BlobSkipped):
            row.state, row.done = "present", event.size
        elif isinstance(event, BlobRetrying):
            row.state = "retrying"
        elif isinstance(event, BlobFailed):
            row.state = "failed"
        return row

    @property
    def total(self) -> int:
        """Bytes of all blobs."""
        return sum(r.size for r in self.rows.values())

    @property
    def done(self) -> int:
        """Bytes in place (downloaded or already present)."""
        return sum(r.done for r in self.rows.values())

    def speed(self, now: float | None = None) -> float:
        """Transfer rate over the last few seconds, in bytes per second."""
        now = time.monotonic() if now is None else now
        self._samples.append((now, self.fetched))
        while len(self._samples) > 2 and now - self._samples[0][0] > 3.0:
            self._samples.pop(0)
        t0, b0 = self._samples[0]
        if now - t0 < 0.2:
            elapsed = now - self.started
            return self.fetched / elapsed if elapsed > 0.2 else 0.0
        return (self.fetched - b0) / (now - t0)

    def eta(self, speed: float) -> float | None:
        """Seconds left at ``speed``, or None when unknown."""
        remaining = sum(
            r.size - r.done for r in self.rows.values() if r.state not in ("done", "present")
        )
        if remaining <= 0:
            return 0.0
        return remaining / speed if speed > 0 else None


_STATE_WORDS = {
    "waiting": "waiting",
    "downloading": "",
    "verifying": "verifying",
    "done": "done",
    "present": "already present",
    "retrying": "retrying",
    "failed": "failed",
}


class TerminalProgress:
    """An ``on_event`` sink for :class:`~regtui.core.pull.Puller` that draws to ``stream``."""

    def __init__(self, stream: TextIO, *, live: bool, interval: float | None = None) -> None:
        self.stream = stream
        self.live = live
        self.interval = interval if interval is not None else (0.1 if live else 5.0)
        self.stats = TransferStats()
        self.notes: dict[str, str] = {}
        self._drawn_lines = 0
        self._last_draw = 0.0
        self.reference = ""
        self.platform = ""

    def __call__(self, event: PullEvent) -> None:
        if isinstance(event, PullPlanned):
            self.stats.plan(event)
            self.reference, self.platform = event.reference, event.platform
            self._last_draw = time.monotonic()
            if not self.live:
                self.stream.write(
                    f"Pulling {event.reference} ({event.platform}): {len(event.blobs)} blobs, "
                    f"{fmt.size(event.total_bytes)}\n"
                )
                self.stream.flush()
            return
        if isinstance(event, PullFinished):
            self.draw(force=True)
            return
        self.stats.apply(event)
        if isinstance(event, BlobRetrying):
            self.notes[event.digest] = (
                f"retrying in {event.delay:.0f}s: {fmt.one_line(event.reason, 60)}"
            )
            if not self.live:
                self.stream.write(
                    f"  blob {fmt.short_digest(event.digest)}: {fmt.one_line(event.reason)}; "
                    f"retry in {event.delay:.1f}s\n"
                )
        elif isinstance(event, BlobFailed):
            self.notes[event.digest] = fmt.one_line(event.reason, 80)
            if not self.live:
                self.stream.write(
                    f"  blob {fmt.short_digest(event.digest)} failed: "
                    f"{fmt.one_line(event.reason)}\n"
                )
        elif isinstance(event, BlobStarted | BlobProgress | BlobDone):
            self.notes.pop(event.digest, None)
        self.draw()

    def draw(self, *, force: bool = False) -> None:
        """Redraw (live) or print a progress line (plain), at most every ``interval``."""
        now = time.monotonic()
        if not force and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        speed = self.stats.speed(now)
        if self.live:
            self._draw_live(speed)
        elif not force:
            s = self.stats
            rows = s.rows.values()
            finished = sum(1 for r in rows if r.state in ("done", "present"))
            pct = 100 * s.done / s.total if s.total else 100
            self.stream.write(
                f"  {fmt.size(s.done)} / {fmt.size(s.total)} ({pct:.0f}%), {fmt.rate(speed)}, "
                f"{finished}/{len(s.rows)} blobs\n"
            )
        self.stream.flush()

    def _draw_live(self, speed: float) -> None:
        width = max(40, shutil.get_terminal_size((100, 24)).columns - 1)
        lines = []
        for row in self.stats.rows.values():
            label = f"Copying {row.kind:<6} {fmt.short_digest(row.digest)}"
            note = self.notes.get(row.digest) or _STATE_WORDS[row.state]
            amount = f"{fmt.size(row.done)} / {fmt.size(row.size)}"
            bar = _bar(row.done, row.size, 24)
            lines.append(f"{label} {bar} {amount:>21} {note}"[:width])
        s = self.stats
        eta = s.eta(speed)
        eta_text = f"ETA {fmt.duration(eta)}" if eta is not None else "ETA --"
        lines.append(
            f"Total {fmt.size(s.done)} / {fmt.size(s.total)}  {fmt.rate(speed)}  {eta_text}"[:width]
        )
        out = []
        if self._drawn_lines:
            out.append(f"\x1b[{self._drawn_lines}F")
        for line in lines:
            out.append(f"\x1b[2K{line}\n")
        self.stream.write("".join(out))
        self._drawn_lines = len(lines)

    def summary(self, result: PullResult) -> str:
        """The closing line."""
        return (
            f"Pulled {result.reference} ({result.platform}) into {result.layout} as "
            f"{result.ref_name}: {fmt.size(result.bytes_fetched)} in {result.seconds:.1f}s "
            f"({fmt.rate(result.rate)}); {result.blobs_total} blobs: "
            f"{result.blobs_downloaded} downloaded, {result.blobs_skipped} already present"
        )


def _bar(done: int, total: int, width: int) -> str:
    if total <= 0:
        return "[" + "=" * width + "]"
    filled = min(width, int(width * done / total))
    head = ">" if 0 < filled < width else ""
    return "[" + "=" * max(0, filled - len(head)) + head + " " * (width - filled) + "]"

#!/usr/bin/env python3
"""TUI responsiveness (issue 4, performance): first rows, pull from the TUI vs the CLI.

    .venv/bin/python bench/tui_responsiveness.py [--runs 3] [--size-mb 1024] [--jobs 4]

Starts CNCF distribution (``docker-registry``) on 127.0.0.1, seeds it like the test suite
(1,100 ``bulk/repo-NNNN`` repositories and the named images, ``tests/support/seed.py``) and
pushes a ~1 GiB single-platform image (the layout of ``bench/pull_vs_peers.py``) with
skopeo. Then, in one run:

* **first rows**: in a new Python process each time, as a user starts ``regtui HOST``:
  from ``make_app`` to the first frame showing repository rows, and to the whole catalog,
  and from starting the process (interpreter and imports included) to those first rows
  (the app runs headless, as in the tests, and draws every frame);
* **pull**: ``regtui pull`` (the CLI, a separate process) against the same image pulled from
  the TUI by pressing ``d``, in rotating order, each into a fresh directory after a
  ``sync`` (median wall time);
* **pane switch while downloading**: during each TUI pull, ``tab`` is pressed every 0.4 s and
  the time until the app has answered it is recorded: focus moved, every widget has handled
  what that caused, and the frame showing it is drawn.

Targets: first rows < 1 s (and before the rest of the catalog); TUI pull no more than 10 %
slower than the CLI; pane switch < 100 ms. The figures are printed; nothing is asserted.

The registry runs in a session of its own, as a service or a container does, rather than
in the benchmark's. With Linux autogroup scheduling a session is a CPU group: sharing the
benchmark's, the registry competed for the CPU as one group with the UI, while the TUI's
pull (in a session of its own, see ``regtui.core.pull.start_pull_process``) was another,
and ``regtui pull`` was inside the registry's. A registry elsewhere competes with neither.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.geometry import Region
from textual.strip import Strip

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from regtui.ui import freeze_imported_objects  # noqa: E402
from regtui.ui.app import RegtuiApp, make_app  # noqa: E402
from regtui.ui.screens.main import MainScreen  # noqa: E402
from regtui.ui.widgets.downloads_panel import DownloadsPanel  # noqa: E402
from regtui.ui.widgets.layer_table import LayerTable  # noqa: E402
from regtui.ui.widgets.repository_list import RepositoryList  # noqa: E402

SIZE = (160, 45)


async def first_rows(host: str, expected: int, work: Path) -> tuple[float, float, int]:
    """Seconds to the first repository rows, to the whole catalog, and rows at first sight."""
    freeze_imported_objects()  # as regtui.ui.run does before it makes the app
    started = time.perf_counter()
    app = make_app(host, download_dir=work / "dl", recent_path=work / "recent.json")
    app.cursor_blink = False
    async with app.run_test(size=SIZE):
        repos = app.screen.query_one(RepositoryList)
        table = repos.table
        # The first frame that draws the table with rows in it. Not Pilot.pause(): it
        # forces frames of its own, and without a delay it waits for the whole process to
        # go idle, which is after the last page of the catalog.
        drawn = asyncio.Event()
        render_lines = table.render_lines

        def watched_render_lines(crop: Region) -> list[Strip]:
            strips = render_lines(crop)
            if table.row_count and crop.height > 1:
                drawn.set()  # the waiter resumes once this frame is done
            return strips

        table.render_lines = watched_render_lines  # type: ignore[method-assign]
        await drawn.wait()
        first = time.perf_counter() - started
        at_first = table.row_count
        await until(lambda: len(repos.items) >= expected and not repos.busy)
        await settled(app)
        everything = time.perf_counter() - started
    return first, everything, at_first


def first_rows_in_new_process(
    host: str, expected: int, work: Path
) -> tuple[float, float, float, int]:
    """``first_rows`` in a new interpreter; also seconds from starting it to the first rows.

    A new process for each start, as for a user: this one's heap (the seeding, earlier
    runs) made its garbage collections several times slower than a fresh ``regtui``'s.
    """
    spawned = time.time()
    out = subprocess.run(
        [sys.executable, __file__, "--first-rows-child", host, str(expected), str(work)],
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    from_spawn = doc["app_made_at"] + doc["first"] - spawned
    return doc["first"], doc["all"], from_spawn, doc["rows"]


def first_rows_child(host: str, expected: int, work: str) -> None:
    """The child's half of :func:`first_rows_in_new_process`: one start, as JSON."""
    made_at = time.time()
    first, everything, rows = asyncio.run(first_rows(host, expected, Path(work)))
    doc = {"app_made_at": made_at, "first": first, "all": everything, "rows": rows}
    print(json.dumps(doc))


async def until(predicate: Callable[[], bool]) -> None:
    """Poll every millisecond (timing must not wait for the app to be idle, as Pilot does)."""
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.001)


def painted(app: RegtuiApp) -> bool:
    """Nothing left to draw: no widget dirty, no layout or repaint pending."""
    screen = app.screen
    return not (
        screen._dirty_widgets
        or screen._layout_required
        or screen._repaint_required
        or screen._scroll_required
    )


async def settled(app: RegtuiApp) -> None:
    """Every widget has handled the messages queued so far, and the result is on screen.

    A pane switch is not answered when focus moves, but when the panes' new looks (the
    border, the cursor, the key bar) have been drawn; those are messages and a frame later.
    """
    nodes = [app, *app.screen.walk_children(with_self=True)]
    left = 0
    done = asyncio.Event()

    def one_done() -> None:
        nonlocal left
        left -= 1
        if not left:
            done.set()

    for node in nodes:
        if node.call_later(one_done):
            left += 1
    if left:
        await done.wait()
    await until(lambda: painted(app))


async def pane_switch(app: RegtuiApp) -> float:
    """Press Tab; seconds until the focus has moved and the result is on screen."""
    before = app.focused
    started = time.perf_counter()
    send_key(app, "tab")
    await until(lambda: app.focused is not before)
    await settled(app)
    return time.perf_counter() - started


def send_key(app: RegtuiApp, key: str) -> None:
    """Deliver a key press the way the terminal driver does (no waiting, unlike Pilot)."""
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def tui_pull(
    host: str, ref: str, dest_dir: Path, jobs: int, *, switch: bool = True
) -> tuple[float, list[float]]:
    """Pull ``ref`` from the TUI; return (seconds, pane-switch latencies in seconds).

    With ``switch``, ``tab`` is pressed every 0.4 s during the pull; a pane switch is timed
    from the key press to the focus having moved to the next pane.
    """
    app = make_app(
        f"{host}/{ref}", download_dir=dest_dir, jobs=jobs, recent_path=dest_dir / "recent.json"
    )
    app.cursor_blink = False
    switches: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        layers = screen.query_one(LayerTable)
        while layers.current is None:
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        panel = screen.query_one(DownloadsPanel)
        started = time.perf_counter()
        send_key(app, "d")
        await until(lambda: bool(panel.views) and panel.views[0].worker is not None)
        view = panel.views[0]
        assert view.worker is not None
        # Woken by the pull's end rather than polling for it: a loop polling every few
        # milliseconds on the app's event loop took CPU that was then charged to the TUI.
        pulled = asyncio.ensure_future(view.worker.wait())
        next_switch = time.perf_counter() + 0.4
        while not pulled.done():
            timeout = max(0.0, next_switch - time.perf_counter()) if switch else None
            await asyncio.wait({pulled}, timeout=timeout)
            if pulled.done():
                break
            switches.append(await pane_switch(app))
            next_switch = time.perf_counter() + 0.4
        seconds = time.perf_counter() - started
        await until(lambda: not view.running)  # the view has taken in the result
        if view.state != "done":
            raise SystemExit(f"TUI pull ended {view.state}: {view.error}")
    return seconds, switches


async def idle_switches(host: str, work: Path, count: int = 8) -> list[float]:
    """Pane switches with nothing downloading (for comparison)."""
    app = make_app(f"{host}/app:1.0", download_dir=work / "dl", recent_path=work / "r.json")
    app.cursor_blink = False
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.0)
        for _ in range(count):
            latencies.append(await pane_switch(app))
            await pilot.pause(0.2)
    return latencies


def cli_pull(host: str, ref: str, dest: Path, jobs: int) -> float:
    """``regtui pull`` in a separate process; wall seconds."""
    ref = f"{host}/{ref}"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "regtui", "pull", "-q", "-j", str(jobs), "-o", str(dest), ref],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def import_seconds() -> float:
    """Cold import of the TUI in a fresh interpreter (not counted in 'first rows')."""
    code = (
        "import time; t = time.perf_counter(); import regtui.ui.app; print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--first-rows-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_rows_child:
        host, expected, work_dir = args.first_rows_child
        first_rows_child(host, int(expected), work_dir)
        return
    # Imported here: a first-rows child imports only what regtui itself does.
    from bench.pull_vs_peers import build_layout, precompile
    from tests.support.registry import start_registry
    from tests.support.seed import seed_registry

    precompile()
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install docker-registry skopeo)")
    with tempfile.TemporaryDirectory(prefix="regtui-tui-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        with start_registry(work / "registry", own_session=True) as registry:
            handle = seed_registry(registry, work / "seed")
            build_layout(work / "src", args.size_mb)
            subprocess.run(
                [
                    "skopeo",
                    "--insecure-policy",
                    "copy",
                    "--quiet",
                    "--dest-tls-verify=false",
                    f"oci:{work / 'src'}:1.0",
                    f"docker://{registry.host}/bench/big:1.0",
                ],
                check=True,
            )
            shutil.rmtree(work / "src")
            catalog = len(handle.all_repos) + 1
            print(
                f"registry {registry.host}: {catalog} repositories and a "
                f"{args.size_mb:.0f} MB image, seeded in {time.perf_counter() - t0:.0f}s "
                f"on {os.cpu_count()} cores"
            )
            print(f"cold import of regtui.ui.app: {import_seconds():.2f}s (before the clock)")

            firsts, alls, from_spawns = [], [], []
            for run in range(args.runs):
                first, everything, from_spawn, at_first = first_rows_in_new_process(
                    registry.host, catalog, work
                )
                firsts.append(first)
                alls.append(everything)
                from_spawns.append(from_spawn)
                print(
                    f"start {run + 1}: first rows {first * 1000:.0f} ms ({at_first} rows), "
                    f"all {catalog} rows {everything * 1000:.0f} ms; first rows from the "
                    f"process start {from_spawn * 1000:.0f} ms",
                    flush=True,
                )

            idle = asyncio.run(idle_switches(registry.host, work))
            print(
                f"pane switch, idle: median {statistics.median(idle) * 1000:.0f} ms, "
                f"max {max(idle) * 1000:.0f} ms",
                flush=True,
            )

            cli_times, quiet_times, tui_times, switches = [], [], [], []
            for run in range(args.runs):
                dest = work / f"pull-{run}"
                latencies: list[float] = []

                def pull_cli(dest: Path = dest) -> None:
                    cli_times.append(
                        cli_pull(registry.host, "bench/big:1.0", dest / "cli", args.jobs)
                    )

                def pull_quiet(dest: Path = dest) -> None:
                    seconds, _ = asyncio.run(
                        tui_pull(
                            registry.host, "bench/big:1.0", dest / "quiet", args.jobs, switch=False
                        )
                    )
                    quiet_times.append(seconds)

                def pull_switching(dest: Path = dest, latencies: list[float] = latencies) -> None:
                    seconds, found = asyncio.run(
                        tui_pull(registry.host, "bench/big:1.0", dest / "tui", args.jobs)
                    )
                    tui_times.append(seconds)
                    latencies.extend(found)

                # Rotate who goes first; let the previous gigabyte reach the disk before
                # each pull (writeback of one pull otherwise slows the next), and delete
                # it, so each pull starts with the same page cache (writing into a cache
                # that holds another pull's gigabyte costs much more system time here).
                order = [pull_cli, pull_quiet, pull_switching]
                order = order[run % 3 :] + order[: run % 3]
                for pull in order:
                    os.sync()
                    pull()
                    for sub in ("cli", "quiet", "tui"):
                        shutil.rmtree(dest / sub, ignore_errors=True)
                switches.extend(latencies)
                shutil.rmtree(dest)
                worst = max(latencies) * 1000 if latencies else float("nan")
                print(
                    f"pull {run + 1}: cli {cli_times[-1]:.2f}s  tui {quiet_times[-1]:.2f}s  "
                    f"tui+tab {tui_times[-1]:.2f}s ({len(latencies)} pane switches, "
                    f"worst {worst:.0f} ms)",
                    flush=True,
                )

    cli, tui = statistics.median(cli_times), statistics.median(tui_times)
    quiet = statistics.median(quiet_times)
    print()
    print(
        f"first repository rows: median {statistics.median(firsts) * 1000:.0f} ms (target < 1000)"
    )
    print(f"whole catalog:         median {statistics.median(alls) * 1000:.0f} ms")
    print(
        f"first rows from starting Python (imports included): median "
        f"{statistics.median(from_spawns) * 1000:.0f} ms"
    )
    print(
        f"pull {args.size_mb:.0f} MB: cli {cli:.2f}s, tui {quiet:.2f}s, "
        f"tui/cli {quiet / cli:.3f} (target <= 1.10)"
    )
    print(
        f"  with a pane switch every 0.4 s: tui {tui:.2f}s, tui/cli {tui / cli:.3f} "
        f"(the UI's own work competes for the {os.cpu_count()} cores)"
    )
    if switches:
        ordered = sorted(switches)
        p50 = ordered[len(ordered) // 2] * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        print(
            f"pane switch during the download: median {p50:.0f} ms, p95 {p95:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms over {len(ordered)} (target < 100)"
        )


if __name__ == "__main__":
    main()

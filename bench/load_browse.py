#!/usr/bin/env python3
"""Browse a big registry: 5,000 repositories, and one repository with 10,000 tags.

    .venv/bin/python bench/load_browse.py [--runs 3] [--cache DIR] [--repos 5000] [--tags 10000]

Starts CNCF distribution (``docker-registry``) on 127.0.0.1 and seeds it over plain HTTP the
way ``tests/support/seed.py`` does: one small image is uploaded once, every other repository
gets it by cross-repository mount and one manifest PUT, and ``load/manytags`` gets the same
manifest under 10,000 tags. The storage directory is kept in ``--cache`` (default: a
directory under the user cache dir), so later runs start at once.

Measures, with the number of cores of this machine:

* ``regtui ls REGISTRY`` and ``regtui ls REGISTRY/load/manytags`` (a subprocess each,
  median of ``--runs``);
* the first-page latency of ``RegistryClient.catalog_pages`` (and ``tag_pages``), at the
  CLI's page size (1000) and the TUI's, and the time for all pages;
* when ``regtui.ui`` exists: the TUI (``App.run_test``) from start to the first repository
  rows, to all of them, and how long a key press (``j``) takes to be answered while the
  list is still loading; the same for the 10,000 tags.

No timing is asserted: this is a bench, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.images import build_image  # noqa: E402
from support.registry import RunningRegistry, start_registry  # noqa: E402
from support.seed import mount_blob, push_tree, put_manifest, registry_client  # noqa: E402

from regtui.core.client import RegistryClient  # noqa: E402

MANYTAGS = "load/manytags"
SEED_THREADS = 16


# Seeding -------------------------------------------------------------------------------------
def repo_names(count: int) -> list[str]:
    return [f"load/repo-{n:05d}" for n in range(count)]


def tag_names(count: int) -> list[str]:
    # Version-like names, so that natural sorting (1.2 < 1.10) has work to do.
    return [f"{n // 1000}.{(n // 10) % 100}.{n % 10}-build{n}" for n in range(count)]


def seed(running: RunningRegistry, workdir: Path, repos: int, tags: int) -> float:
    """Fill the registry; returns the seconds it took."""
    started = time.monotonic()
    image = build_image(workdir / "image", repo=repo_names(1)[0], tag="latest", layer_sizes=(64,))
    [manifest] = image.manifests.values()
    blobs = [manifest.config_digest, *(layer.digest for layer in manifest.layers)]
    with (
        registry_client(running) as client,
        ThreadPoolExecutor(SEED_THREADS, thread_name_prefix="seed") as pool,
    ):
        push_tree(client, image.repo, image.layout, image.digest, image.media_type)
        put_manifest(client, image.repo, "latest", image.raw, image.media_type)

        def copy(repo: str, tag: str = "latest") -> None:
            for blob in blobs:
                mount_blob(client, repo, blob, image.repo)
            put_manifest(client, repo, tag, image.raw, image.media_type)

        def tag(name: str) -> None:
            put_manifest(client, MANYTAGS, name, image.raw, image.media_type)

        names = tag_names(tags)
        copy(MANYTAGS, names[0])
        jobs: list[Callable[[], None]] = [lambda r=r: copy(r) for r in repo_names(repos)[1:]]
        jobs += [lambda t=t: tag(t) for t in names[1:]]
        for done, future in enumerate([pool.submit(job) for job in jobs], 1):
            future.result()
            if done % 2500 == 0:
                print(f"  seeded {done:,}/{len(jobs):,} requests groups", flush=True)
    return time.monotonic() - started


def open_registry(cache: Path, repos: int, tags: int) -> tuple[RunningRegistry, str]:
    """Start the registry on the cached storage, seeding it first when needed."""
    workdir = cache / f"r{repos}-t{tags}"
    marker = workdir / "seeded.json"
    running = start_registry(workdir)
    if marker.is_file():
        return running, f"storage reused from {workdir}"
    print(f"Seeding {repos:,} repositories and {tags:,} tags into {workdir} (first run only)…")
    try:
        seconds = seed(running, workdir, repos, tags)
    except BaseException:
        running.stop()
        raise
    marker.write_text(json.dumps({"repos": repos, "tags": tags, "seconds": seconds}))
    return running, f"seeded in {seconds:.0f} s into {workdir}"


# The CLI -------------------------------------------------------------------------------------
def time_cli(args: list[str], runs: int, expect_lines: int) -> tuple[float, float]:
    """Median and best wall time of ``regtui ARGS`` (a new process each time)."""
    times = []
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    for _ in range(runs):
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "regtui", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        times.append(time.monotonic() - started)
        lines = proc.stdout.count("\n")
        if proc.returncode != 0 or lines != expect_lines:
            raise SystemExit(f"regtui {' '.join(args)}: exit {proc.returncode}, {lines} lines")
    return statistics.median(times), min(times)


# The core client -------------------------------------------------------------------------------
async def page_latency(host: str, what: str, page_size: int) -> tuple[float, float, int, int]:
    """(first page, all pages) seconds, pages and names, for a fresh client."""
    started = time.monotonic()
    first, pages, names = 0.0, 0, 0
    async with RegistryClient(host) as client:
        source = (
            client.catalog_pages(page_size)
            if what == "catalog"
            else client.tag_pages(MANYTAGS, page_size)
        )
        async for page in source:
            if pages == 0:
                first = time.monotonic() - started
            pages += 1
            names += len(page)
    return first, time.monotonic() - started, pages, names


# The TUI ---------------------------------------------------------------------------------------
async def tui_figures(target: str, pane_name: str, expected: int) -> dict[str, Any]:
    """Start the app on ``target``; time the first rows, all rows, and ``j`` while loading.

    The first rows are the first frame that draws the pane's table with rows in it; a
    ``j`` is answered when the cursor has moved and that frame is drawn (as a pane switch
    is in ``bench/tui_responsiveness.py``). Until this version both were timed when the
    rows or the cursor were in the table's model, before any frame showed them.
    """
    import tempfile

    from textual.geometry import Region
    from textual.strip import Strip

    from bench.tui_responsiveness import send_key, settled, until
    from regtui.ui import freeze_imported_objects, make_app

    with tempfile.TemporaryDirectory() as tmp:
        freeze_imported_objects()  # as regtui.ui.run does before it makes the app
        app = make_app(target, download_dir=Path(tmp) / "dl", recent_path=Path(tmp) / "r.json")
        app.cursor_blink = False
        started = time.monotonic()
        figures: dict[str, Any] = {"keys": []}
        async with app.run_test(size=(140, 45)):
            figures["app_ready"] = time.monotonic() - started
            pane = _find_pane(app, pane_name)
            table = pane.table
            drawn = asyncio.Event()
            render_lines = table.render_lines

            def watched_render_lines(crop: Region) -> list[Strip]:
                strips = render_lines(crop)
                if table.row_count and crop.height > 1 and not drawn.is_set():
                    figures["first_count"] = table.row_count
                    drawn.set()
                return strips

            table.render_lines = watched_render_lines  # type: ignore[method-assign]
            await asyncio.wait_for(drawn.wait(), 300)
            figures["first_rows"] = time.monotonic() - started
            deadline = started + 300
            # Press j while the rest arrives; answered when the moved cursor is drawn.
            while time.monotonic() < deadline:
                loading = len(pane.items) < expected or pane.busy
                if not loading:
                    figures.setdefault("all_rows", time.monotonic() - started)
                    if sum(1 for _, during in figures["keys"] if not during) >= 5:
                        break
                table.focus()
                await settled(app)
                before = table.cursor_row
                pressed = time.monotonic()
                send_key(app, "j")
                await asyncio.wait_for(until(lambda b=before: table.cursor_row != b), 60)
                await settled(app)
                figures["keys"].append((time.monotonic() - pressed, loading))
                await asyncio.sleep(0.02)
            while (len(pane.items) < expected or pane.busy) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            figures.setdefault("all_rows", time.monotonic() - started)
            figures["count"] = len(pane.items)
            figures["rows_in_table"] = pane.table.row_count
        return figures


def _find_pane(app: Any, name: str) -> Any:
    from regtui.ui.widgets.repository_list import RepositoryList
    from regtui.ui.widgets.tag_table import TagTable

    kind = RepositoryList if name == "repositories" else TagTable
    return app.screen.query_one(kind)


def print_tui(title: str, figures: dict[str, Any]) -> None:
    keys_loading = [s for s, loading in figures["keys"] if loading]
    keys_idle = [s for s, loading in figures["keys"] if not loading]
    print(f"  {title}:")
    print(f"    app mounted after           {figures['app_ready'] * 1000:8.0f} ms")
    print(
        f"    first rows after            {figures['first_rows'] * 1000:8.0f} ms "
        f"({figures['first_count']:,} rows)"
    )
    label = f"all {figures['count']:,} rows after"
    print(f"    {label:<28}{figures['all_rows'] * 1000:8.0f} ms")

    def describe(samples: list[float]) -> str:
        if not samples:
            return "no samples"
        ms = sorted(s * 1000 for s in samples)
        return f"{len(ms)} presses, median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms"

    print(f"    'j' answered while loading  {describe(keys_loading)}")
    print(f"    'j' answered once loaded    {describe(keys_idle)}")


# Main ------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repos", type=int, default=5000)
    parser.add_argument("--tags", type=int, default=10000)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "regtui-bench"
        / "load-browse",
    )
    parser.add_argument("--no-tui", action="store_true", help="skip the TUI figures")
    args = parser.parse_args()

    running, how = open_registry(args.cache, args.repos, args.tags)
    try:
        host = running.host
        total_repos = args.repos + 1  # and load/manytags
        print(
            f"regtui browse bench: {args.repos:,} repositories (+{MANYTAGS}), "
            f"{args.tags:,} tags; {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {platform.machine()}; registry {how}"
        )
        print("CLI (a new process per run, median / best of", args.runs, "runs):")
        median, best = time_cli(["ls", host], args.runs, total_repos)
        print(f"  regtui ls REGISTRY            {median:6.2f} s / {best:.2f} s")
        median, best = time_cli(["ls", f"{host}/{MANYTAGS}"], args.runs, args.tags)
        print(f"  regtui ls REGISTRY/{MANYTAGS} {median:6.2f} s / {best:.2f} s")

        print("Core client (first page / all pages, fresh client):")
        tui_catalog_page, tui_tag_page = 1000, 1000
        try:
            from regtui.ui.widgets import repository_list, tag_table

            tui_catalog_page = repository_list.CATALOG_PAGE_SIZE
            tui_tag_page = getattr(tag_table, "TAG_PAGE_SIZE", 1000)
        except ImportError:
            pass
        for what, size in (
            ("catalog", 1000),
            ("catalog", tui_catalog_page),
            ("tags", 1000),
            ("tags", tui_tag_page),
        ):
            first, total, pages, names = asyncio.run(page_latency(host, what, size))
            print(
                f"  {what:7} n={size:<5} first page {first * 1000:6.0f} ms, "
                f"all {pages} pages ({names:,}) {total * 1000:6.0f} ms"
            )

        if args.no_tui:
            return
        try:
            import regtui.ui  # noqa: F401
        except ImportError:
            print("TUI: regtui.ui not available, skipped")
            return
        print("TUI (App.run_test, 140x45):")
        for title, target, pane, expected in (
            (f"{total_repos:,} repositories", host, "repositories", total_repos),
            (f"{args.tags:,} tags", f"{host}/{MANYTAGS}", "tags", args.tags),
        ):
            try:
                figures = asyncio.run(tui_figures(target, pane, expected))
            except Exception as exc:  # the UI is young: report, don't hide the other figures
                print(f"  {title}: failed: {type(exc).__name__}: {exc}")
                continue
            print_tui(title, figures)
    finally:
        running.stop()


if __name__ == "__main__":
    main()

"""``python -m regtui.ui [TARGET] [--download-dir DIR] [--demo [--rate BYTES/S]]``.

For trying the TUI by hand; users run ``regtui``. ``--demo`` starts the embedded demo
registry and opens it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from regtui.ui import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m regtui.ui")
    parser.add_argument("target", nargs="?", help="REGISTRY[/REPO[:TAG|@DIGEST]]")
    parser.add_argument("--download-dir", type=Path, help="where downloads go")
    parser.add_argument("--jobs", type=int, default=4, help="parallel blob downloads")
    parser.add_argument("--demo", action="store_true", help="serve and open the demo registry")
    parser.add_argument("--rate", type=float, help="demo: throttle blobs to this many B/s")
    args = parser.parse_args(argv)
    target = args.target
    demo = None
    if args.demo:
        from regtui.demo import DemoRegistry, ensure_demo_store

        demo = DemoRegistry(ensure_demo_store(), rate=args.rate)
        address = demo.start()
        target = f"{address}/{target}" if target else address
    try:
        return run(target, download_dir=args.download_dir, jobs=args.jobs)
    finally:
        if demo is not None:
            demo.stop()


if __name__ == "__main__":
    sys.exit(main())

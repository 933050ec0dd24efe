"""``python -m regtui.pullworker``: a ``regtui pull`` process started before its job is known.

Starting Python and importing the pull machinery takes ~0.3 s, which a download started
from the TUI would otherwise wait for (see :func:`regtui.core.pull.start_pull_process`).
This process does that work at once, then reads one line from stdin: a JSON list, the
arguments of ``regtui pull``. Whatever follows on stdin is for that command (the password
of ``--password-stdin``). Stdin closing without a job ends the process quietly.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    """Wait for a job on stdin and run it as ``regtui pull`` would; the exit status."""
    try:
        from regtui import cli  # the point of starting early: this import is done

        line = sys.stdin.readline()
    except KeyboardInterrupt:
        return 130
    if not line.strip():
        return 0  # the parent no longer needs us
    try:
        argv = json.loads(line)
    except ValueError:
        argv = None
    if not (
        isinstance(argv, list) and argv[:1] == ["pull"] and all(isinstance(a, str) for a in argv)
    ):
        sys.stderr.write("regtui: error: the pull worker was given something other than a pull\n")
        return 2
    return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())

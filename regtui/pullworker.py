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

_PR_SET_PDEATHSIG = 1

#: How much lower than the UI's the CPU priority of a download started from it is.
BACKGROUND_NICE = 5


def _yield_cpu_to_the_ui() -> None:
    """Lower this process's CPU priority: it works for an interactive UI.

    The transfer is network-bound and loses next to nothing; the UI, when it competes with
    four transfer threads, hashing and writing for the CPU, answers a key sooner (a pane
    switch during a 1 GB pull, bench/tui_responsiveness.py). On Linux the process is alone
    in its autogroup (a session of its own), where only the group's nice counts; in a
    cgroup without autogroup, the nice of its threads does. Both are lowered; either may
    be refused, which only costs responsiveness. Started without a session of its own,
    it leaves the autogroup alone: that would lower the priority of its parent's session.
    """
    import os

    try:
        os.nice(BACKGROUND_NICE)
    except (OSError, AttributeError):
        pass
    # The autogroup is the whole session's: renice it only when this process leads a
    # session of its own, never the terminal session of whoever started it.
    if sys.platform == "linux" and os.getsid(0) == os.getpid():
        try:
            with open("/proc/self/autogroup", "w") as group:
                group.write(str(BACKGROUND_NICE))
        except OSError:
            pass


def _stop_with_parent() -> None:
    """On Linux, be interrupted (as by Ctrl-C) when the process that started us dies.

    The child runs in a session of its own (see :func:`regtui.core.pull.start_pull_process`), so
    no terminal hang-up reaches it; without this, a download went on after the TUI was
    killed. Interrupted, the pull leaves the layout valid and its partial files resumable.
    """
    if sys.platform != "linux":
        return
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)
    except (OSError, AttributeError):
        return
    from regtui.core.pull import PULL_PARENT_ENV  # after prctl: the race window stays short

    parent = os.environ.pop(PULL_PARENT_ENV, "")
    if parent.isdigit() and os.getppid() != int(parent):
        raise KeyboardInterrupt  # the parent died before prctl took effect


def main() -> int:
    """Wait for a job on stdin and run it as ``regtui pull`` would (ending the process).

    Returns an exit status only when there is no pull to run.
    """
    try:
        _stop_with_parent()
        _yield_cpu_to_the_ui()
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
    # As `regtui pull` (the TUI waits for this process to end: see cli.run on freezing).
    cli.run(argv)


if __name__ == "__main__":
    raise SystemExit(main())

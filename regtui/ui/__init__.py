"""The Textual TUI of regtui (issue 4). The UI imports the core; never the reverse.

``make_app`` builds the app (used by the CLI and the tests); ``run`` runs it and returns an
exit status.
"""

from __future__ import annotations

from pathlib import Path

from regtui.core.client import RegistryClient, TransportOptions, connect
from regtui.core.credentials import Credential
from regtui.core.pull import DEFAULT_JOBS
from regtui.core.reference import Registry
from regtui.ui.app import RegtuiApp, make_app, parse_target
from regtui.ui.heap import freeze_long_lived
from regtui.ui.session import ClientFactory

__all__ = ["RegtuiApp", "freeze_imported_objects", "make_app", "parse_target", "run"]


def freeze_imported_objects() -> None:
    """Take what the imports made (~40,000 objects) out of the garbage collector's sight.

    Modules, classes and functions live as long as the process; without this, every full
    collection walks them again, and one fell before the first rows were drawn
    (bench/tui_responsiveness.py: ~40 ms sooner to the first rows, ~100 ms to the
    whole catalog). Called once, after the imports, before the app is made. Long lists
    and running downloads freeze the heap the same way, and the app collects among the
    frozen objects now and then while the user is idle (:mod:`regtui.ui.heap`).
    """
    freeze_long_lived()


def run(
    target: str | None,
    options: TransportOptions | None = None,
    download_dir: Path | None = None,
    jobs: int = DEFAULT_JOBS,
    credential: Credential | None = None,
) -> int:
    """Run the TUI until the user quits; the exit status for the CLI (0, or 1 on a crash).

    ``credential`` (from ``--username``) is used for the registry the app opens with;
    other registries use the credentials found in the user's files. What the user types
    in the login prompt (a 401 without credentials) replaces both, in memory only.
    """
    factory: ClientFactory = connect
    cli_credential = credential
    if cli_credential is not None:
        first = parse_target(target).registry.host if target else None

        def factory(
            registry: Registry,
            opts: TransportOptions | None = None,
            /,
            *,
            credential: Credential | None = None,
        ) -> RegistryClient:
            # A login typed in the prompt wins; else --username for the first registry.
            given = credential or (cli_credential if registry.host == first else None)
            return connect(registry, opts, credential=given)

    freeze_imported_objects()
    app = make_app(
        target, options=options, download_dir=download_dir, jobs=jobs, client_factory=factory
    )
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code)
    return int(result or 0)

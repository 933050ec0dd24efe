"""The ``regtui`` command line: ``ls``, ``inspect``, ``pull``, ``demo`` and the TUI.

Errors are one line on stderr, ``regtui: error: ...``; exit status 1 for registry and
network errors, 2 for usage errors, 130 when interrupted. Never a traceback (set
``REGTUI_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import math
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from regtui import __version__
from regtui import format as fmt
from regtui.core.client import (
    FetchedManifest,
    RegistryClient,
    Timeouts,
    TransportOptions,
    connect,
)
from regtui.core.credentials import Credential, explicit_credential
from regtui.core.errors import ManifestError, RegtuiError, UsageError, printable
from regtui.core.manifest import (
    ArtifactManifest,
    ImageIndex,
    ImageManifest,
    LegacyManifest,
    align_history,
    parse_config,
    parse_platform,
)
from regtui.core.pull import DEFAULT_JOBS, Puller, PullEvent, default_output_dir, event_to_json
from regtui.core.reference import Reference, parse_reference
from regtui.progress import TerminalProgress

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: The demo's default blob bandwidth: slow enough to watch the progress bars.
DEMO_RATE = "8M"

SUBCOMMANDS = ("ls", "inspect", "pull", "demo", "tui")


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with our one-line error format (exit 2)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"regtui: error: {message}\n(see 'regtui --help')\n")


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _add_transport_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--insecure",
        action="store_true",
        help="allow plain HTTP and unverified TLS for a non-loopback registry",
    )
    group.add_argument(
        "--ca-file", metavar="FILE", help="trust the CA certificates in this PEM file"
    )
    group.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="connect timeout (default 10 s)",
    )
    auth = parser.add_argument_group("authentication")
    auth.add_argument(
        "-u", "--username", metavar="USER", help="log in as USER (else: docker/podman credentials)"
    )
    auth.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    group.add_argument(
        "--read-timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="longest silence tolerated from the registry (default 30 s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public for tests and docs)."""
    parser = _ArgumentParser(
        prog="regtui",
        description="A terminal UI for container registries. "
        "Run 'regtui REGISTRY[/REPO[:TAG]]' to browse, or a subcommand for scripts.",
    )
    parser.add_argument("--version", action="version", version=f"regtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)

    ls = sub.add_parser("ls", help="list repositories of a registry, or tags of a repository")
    ls.add_argument("target", metavar="REGISTRY[/REPO]")
    ls.add_argument(
        "--page-size",
        type=int,
        default=1000,
        metavar="N",
        help="entries per request (default 1000)",
    )
    _add_transport_options(ls)

    inspect = sub.add_parser("inspect", help="show a manifest list or image manifest")
    inspect.add_argument(
        "reference", metavar="REF", help="e.g. ghcr.io/org/app:1.0 or repo@sha256:…"
    )
    inspect.add_argument(
        "--platform", metavar="OS/ARCH[/VARIANT]", help="pick one entry of an index"
    )
    output = inspect.add_mutually_exclusive_group()
    output.add_argument(
        "--raw", action="store_true", help="write the exact manifest bytes to stdout"
    )
    output.add_argument(
        "--config", action="store_true", help="write the exact image config to stdout"
    )
    _add_transport_options(inspect)

    pull = sub.add_parser("pull", help="download an image into an OCI layout, verified")
    pull.add_argument("reference", metavar="REF", help="e.g. ghcr.io/org/app:1.0")
    pull.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="which entry of an index (default: this host's)",
    )
    pull.add_argument(
        "-o", "--output", metavar="DIR", help="OCI layout directory (default ./<repo>_<tag>)"
    )
    pull.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"parallel blob downloads (default {DEFAULT_JOBS})",
    )
    pull.add_argument("--name", metavar="NAME", help="ref name in the layout (default: the tag)")
    pull.add_argument("-q", "--quiet", action="store_true", help="no progress, only errors")
    pull.add_argument(
        "--events",
        choices=["json"],
        help="write progress events to stdout as JSON lines (for programs; the TUI uses it)",
    )
    _add_transport_options(pull)

    tui = sub.add_parser(
        "tui",
        help="open the TUI (the default: 'regtui HOST[/REPO[:TAG]]' is 'regtui tui …')",
    )
    tui.add_argument(
        "target", nargs="?", metavar="REGISTRY[/REPO[:TAG|@DIGEST]]", help="where to start"
    )
    _add_tui_options(tui)
    _add_transport_options(tui)

    demo = sub.add_parser(
        "demo", help="try regtui on an embedded registry with sample multi-arch images"
    )
    demo.add_argument(
        "--serve", action="store_true", help="only run the demo registry (for trying the CLI)"
    )
    demo.add_argument(
        "--rate",
        type=_rate,
        default=_rate(DEMO_RATE),
        metavar="BYTES/S",
        help=f"throttle blob downloads so progress is visible (default {DEMO_RATE}; 0: off)",
    )
    demo.add_argument("--port", type=int, default=0, help="port for --serve (default: free)")
    _add_tui_options(demo)
    return parser


def _add_tui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--download-dir",
        metavar="DIR",
        type=Path,
        help="where downloads go (default: your downloads folder + /regtui)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"parallel blob downloads (default {DEFAULT_JOBS})",
    )


def _rate(text: str) -> float | None:
    """``8M``, ``500k``, ``1200000``, ``0`` (unlimited) as bytes per second."""
    value = text.strip().upper().removesuffix("/S").removesuffix("B")
    scale = {"K": 1e3, "M": 1e6, "G": 1e9}.get(value[-1:], 1.0)
    try:
        number = float(value[:-1] if scale != 1.0 else value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (try 8M or 500k)") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r}")
    return number * scale or None


def _options(args: argparse.Namespace) -> TransportOptions:
    return TransportOptions(
        insecure=args.insecure,
        ca_file=args.ca_file,
        timeouts=Timeouts(connect=args.connect_timeout, read=args.read_timeout),
    )


def _credential(args: argparse.Namespace) -> Credential | None:
    """The credential given on the command line, if any (the password is never echoed)."""
    if args.password_stdin and not args.username:
        raise UsageError("--password-stdin needs --username")
    if not args.username:
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get("REGTUI_PASSWORD") is not None:
        password = os.environ["REGTUI_PASSWORD"]
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.username}: ")
    else:
        raise UsageError("--username needs --password-stdin (or REGTUI_PASSWORD) here")
    return explicit_credential(args.username, password, "--username")


def _client(ref: Reference, args: argparse.Namespace) -> RegistryClient:
    client = connect(
        ref.registry, _options(args), credential=_credential(args), repository=ref.repository
    )
    info = client.auth_info
    for warning in info.warnings if info else ():
        sys.stderr.write(f"regtui: warning: {' '.join(warning.split())}\n")
    return client


# ls ---------------------------------------------------------------------------------------
async def cmd_ls(args: argparse.Namespace, out: TextIO) -> int:
    """``regtui ls REGISTRY`` lists repositories; ``regtui ls REGISTRY/REPO`` lists tags."""
    target = parse_reference(args.target, default_tag=None, require_repository=False)
    if target.tag or target.digest:
        raise UsageError(f"'regtui ls' takes REGISTRY or REGISTRY/REPO, not a tag: {args.target}")
    if args.page_size < 1:
        raise UsageError("--page-size must be at least 1")
    async with _client(target, args) as client:
        if target.repository:
            pages = client.tag_pages(target.repository, args.page_size)
        else:
            if target.registry.is_docker_hub:
                raise UsageError(
                    "Docker Hub has no repository catalog: name a repository, "
                    "e.g. 'regtui ls docker.io/library/alpine'"
                )
            pages = client.catalog_pages(min(args.page_size, 1000))
        async for page in pages:
            for name in page:
                out.write(name + "\n")
            out.flush()
    return 0


# inspect ------------------------------------------------------------------------------------
async def cmd_inspect(args: argparse.Namespace, out: TextIO) -> int:
    """``regtui inspect REF``: an index's entries, or a manifest's layers with history."""
    ref = parse_reference(args.reference)
    wanted = parse_platform(args.platform) if args.platform else None
    async with _client(ref, args) as client:
        fetched = await client.get_manifest(ref.repository, ref.ref)
        manifest = fetched.manifest
        if isinstance(manifest, ImageIndex) and (wanted is not None or args.config):
            if wanted is None:
                raise UsageError(
                    f"{ref} is a multi-platform index: choose one with --platform "
                    f"({', '.join(str(e.platform) for e in manifest.entries() if e.platform)})"
                )
            entry = manifest.select(wanted)
            if entry is None:
                available = ", ".join(str(e.platform) for e in manifest.entries() if e.platform)
                raise ManifestError(
                    f"{ref} has no {wanted} entry (available: {available or 'none'})"
                )
            fetched = await client.get_manifest(ref.repository, entry.descriptor.checked_digest())
            manifest = fetched.manifest
        if args.raw:
            _write_bytes(out, fetched.raw)
            return 0
        config, config_problem = None, None
        if isinstance(manifest, ImageManifest) and manifest.is_image:
            config_raw = await client.get_blob(ref.repository, manifest.config)
            if args.config:
                _write_bytes(out, config_raw)
                return 0
            try:
                config = parse_config(config_raw)
            except ManifestError as exc:
                config_problem = f"{exc}: platform and history not shown"
        elif args.config:
            raise UsageError(f"{ref} has no image config (it is not an image manifest)")
    # Everything in the report came from the registry: no control characters reach the terminal.
    out.write(printable(format_inspect(ref, fetched, config, config_problem)))
    return 0


def _write_bytes(out: TextIO, data: bytes) -> None:
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()
        buffer.write(data)
        buffer.flush()
    else:  # a StringIO in tests
        out.write(data.decode("utf-8", "replace"))


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _size(n: int) -> str:
    return fmt.size(n)


def format_inspect(
    ref: Reference, fetched: FetchedManifest, config: Any = None, config_problem: str | None = None
) -> str:
    """The human-readable ``inspect`` report for an index or a manifest."""
    manifest = fetched.manifest
    head = [
        ("Name", f"{ref.name}@{fetched.digest}"),
        ("Media type", fetched.media_type or "(none)"),
        ("Digest", fetched.digest),
    ]
    lines: list[str] = []
    if isinstance(manifest, ImageIndex):
        entries = manifest.entries()
        head.append(
            ("Entries", f"{len(entries)} platform(s), {len(manifest.manifests)} manifest(s)")
        )
        lines.append(_kv(head))
        rows = [["PLATFORM", "DIGEST", "SIZE", "MEDIA TYPE", "NOTE"]]
        platform_of = {e.descriptor.digest: str(e.platform or "-") for e in entries}
        for desc in manifest.manifests:
            note = ""
            platform = str(desc.platform) if desc.platform else "-"
            if desc.is_attestation and desc.attests in platform_of:
                note = f"{desc.reference_type} for {platform_of[desc.attests or '']}"
                platform = "(attestation)"
            elif desc.media_type in (manifest.media_type,):
                note = "nested index"
            rows.append([platform, desc.digest, _size(desc.size), desc.media_type, note])
        lines.append(_table(rows))
    elif isinstance(manifest, ImageManifest):
        if config is not None:
            head.append(("Platform", str(config.platform)))
            if config.created:
                head.append(("Created", config.created))
        elif not manifest.is_image:
            head.append(("Artifact type", manifest.kind))
        head.append(("Config", f"{manifest.config.digest} ({_size(manifest.config.size)})"))
        head.append(("Total size", f"{_size(manifest.total_size)} ({manifest.total_size} bytes)"))
        head.append(("Layers", str(len(manifest.layers))))
        if manifest.subject is not None:
            head.append(("Subject", manifest.subject.digest))
        for problem in (*manifest.problems, *([config_problem] if config_problem else [])):
            head.append(("Warning", problem))
        lines.append(_kv(head))
        rows = [["#", "DIGEST", "SIZE", "MEDIA TYPE", "CREATED BY"]]
        for layer in align_history(manifest.layers, config):
            rows.append(
                [
                    str(layer.index + 1),
                    layer.descriptor.digest,
                    _size(layer.descriptor.size),
                    layer.descriptor.media_type,
                    _oneline(layer.created_by, 120),
                ]
            )
        lines.append(_table(rows))
    elif isinstance(manifest, ArtifactManifest):
        head.append(("Artifact type", manifest.artifact_type or "-"))
        lines.append(_kv(head))
        rows = [["DIGEST", "SIZE", "MEDIA TYPE"]]
        rows += [[b.digest, _size(b.size), b.media_type] for b in manifest.blobs]
        lines.append(_table(rows))
    elif isinstance(manifest, LegacyManifest):
        head.append(("Legacy", "Docker schema 1 manifest: shown for information, not pulled"))
        head.append(("Architecture", manifest.architecture or "-"))
        lines.append(_kv(head))
        rows = [["#", "BLOB"]] + [[str(i + 1), b] for i, b in enumerate(manifest.fs_layers)]
        lines.append(_table(rows))
    return "\n".join(lines)


def _kv(pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs) + 1
    return "".join(f"{(k + ':').ljust(width)} {v}\n" for k, v in pairs)


def _oneline(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# pull ---------------------------------------------------------------------------------------
async def cmd_pull(args: argparse.Namespace, out: TextIO) -> int:
    """``regtui pull REF``: parallel verified download into an OCI layout."""
    ref = parse_reference(args.reference)
    platform = parse_platform(args.platform) if args.platform else None
    if args.jobs < 1 or args.jobs > 64:
        raise UsageError("--jobs must be between 1 and 64")
    dest = Path(args.output) if args.output else default_output_dir(ref)
    renderer = None
    if not args.quiet:
        renderer = TerminalProgress(sys.stderr, live=sys.stderr.isatty())
    sink: Callable[[PullEvent], None] | None = renderer
    if args.events == "json":

        def sink(event: PullEvent) -> None:
            out.write(event_to_json(event) + "\n")
            out.flush()

    async with _client(ref, args) as client:
        puller = Puller(client, jobs=args.jobs, on_event=sink)
        try:
            result = await puller.pull(ref, dest, platform=platform, ref_name=args.name)
        except asyncio.CancelledError:
            sys.stderr.write(
                f"regtui: pull interrupted; {dest} is unchanged apart from verified blobs, "
                "and partial downloads resume when you run the same command again\n"
            )
            raise
    if renderer is not None:
        sys.stderr.write(renderer.summary(result) + "\n")
    if args.events is None:
        # stdout gets the one thing a script wants: how to refer to the result.
        out.write(f"oci:{result.layout}:{result.ref_name}\n")
    return 0


# tui and demo ---------------------------------------------------------------------------------
def cmd_tui(args: argparse.Namespace) -> int:
    """``regtui [REGISTRY[/REPO[:TAG|@DIGEST]]]``: the interactive app."""
    from regtui import ui  # Textual is imported only for the TUI

    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        # Not interactive (a script, a pipe, CI): a TUI would wait forever.
        build_parser().print_usage(sys.stderr)
        raise UsageError(
            "the TUI needs a terminal; in scripts use 'regtui ls', 'regtui inspect' or "
            "'regtui pull' (see 'regtui --help')"
        )
    if args.target:
        parse_reference(args.target, default_tag=None, require_repository=False)
    if not 1 <= args.jobs <= 64:
        raise UsageError("--jobs must be between 1 and 64")
    credential = _credential(args)
    return ui.run(
        args.target,
        _options(args),
        download_dir=args.download_dir,
        jobs=args.jobs,
        credential=credential,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """``regtui demo``: sample images on an embedded loopback registry, then the TUI."""
    from regtui.demo import DemoRegistry, default_cache_dir, ensure_demo_store, serve_forever_cli

    cache = default_cache_dir()
    if args.serve:
        return serve_forever_cli(
            port=args.port,
            rate=args.rate,
            cache_dir=cache,
            examples=[
                "regtui ls {address}",
                "regtui ls {address}/acme/webapp",
                "regtui inspect {address}/acme/webapp:1.4",
                "regtui pull {address}/acme/webapp:1.4 --platform linux/arm64",
                "regtui {address}",
            ],
        )
    from regtui import ui

    if not (cache / "demo.json").is_file():
        sys.stderr.write(f"Generating the demo images in {cache} (first run only)…\n")
    store = ensure_demo_store(cache)
    with DemoRegistry(store, rate=args.rate) as registry:
        return ui.run(registry.address, download_dir=args.download_dir, jobs=args.jobs)


# main ---------------------------------------------------------------------------------------
Handler = Callable[[argparse.Namespace, TextIO], Coroutine[Any, Any, int]]
HANDLERS: dict[str, Handler] = {"ls": cmd_ls, "inspect": cmd_inspect, "pull": cmd_pull}
SYNC_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"tui": cmd_tui, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``regtui`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # No subcommand means the TUI: `regtui`, `regtui HOST/REPO`, `regtui --insecure HOST`.
    first = args_list[0] if args_list else ""
    if first not in SUBCOMMANDS and first not in ("-h", "--help", "--version"):
        if first and not first.startswith("-") and not _looks_like_target(first):
            # A bare word is more likely a mistyped command than Docker Hub's library/<word>.
            return _fail(
                f"unknown command {first!r} (commands: {', '.join(SUBCOMMANDS)}; to browse "
                f"Docker Hub's library/{first}, run 'regtui docker.io/{first}')",
                EXIT_USAGE,
            )
        args_list = ["tui", *args_list]
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        if args.command in SYNC_HANDLERS:
            return SYNC_HANDLERS[args.command](args)
        return asyncio.run(HANDLERS[args.command](args, sys.stdout))
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except RegtuiError as exc:
        return _fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # `regtui ls … | head`: the reader went away; that is not an error.
        _silence_stdout()
        return 0
    except Exception as exc:
        if os.environ.get("REGTUI_DEBUG"):
            traceback.print_exc()
        return _fail(f"internal error: {type(exc).__name__}: {exc} (REGTUI_DEBUG=1 for details)", 1)


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``regtui`` process (console script, ``python -m regtui``, the TUI's pull process).

    :func:`main`, then exit with its status. Freezes what the imports built first
    (``gc.freeze``): the collector then never walks those objects again, neither in a
    full collection during the command nor in the collections Python runs while it shuts
    down, which took ~80 ms of every command's exit (measured: a pull's process ended
    ~107 ms after its last event, ~29 ms frozen). In a process of its own only: tests
    call :func:`main` many times in one process.
    """
    gc.freeze()
    raise SystemExit(main(argv))


def _looks_like_target(word: str) -> bool:
    return any(c in word for c in "./:@") or word == "localhost"


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"regtui: error: {' '.join(printable(message).split())}\n")
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass

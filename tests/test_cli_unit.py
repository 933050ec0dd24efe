"""The command line without a registry: argument handling, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import regtui
import regtui.cli
from regtui.cli import main
from regtui.core.client import RegistryClient, TransportOptions
from regtui.core.manifest import OCI_CONFIG, OCI_MANIFEST
from regtui.core.reference import Registry

# 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so nothing may be sent there.
UNROUTABLE = "192.0.2.1:5000"
CLOSED_PORT = "127.0.0.1:1"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regtui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),  # as isolated by the fixture below
        check=False,
    )


def assert_one_error_line(stderr: str) -> str:
    """Exactly one ``regtui: error:`` line, no traceback; return the message."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("regtui: error: ")]
    assert len(errors) == 1, stderr
    # argparse errors add a pointer to --help; nothing else may follow.
    assert all(line == errors[0] or line == "(see 'regtui --help')" for line in lines), stderr
    return errors[0].removeprefix("regtui: error: ")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxies, and no credentials or config from the user running the tests."""
    for name in list(os.environ):
        if "proxy" in name.lower():
            monkeypatch.delenv(name)
    for name in (
        "REGTUI_DEBUG",
        "REGTUI_USERNAME",
        "REGTUI_PASSWORD",
        "REGISTRY_AUTH_FILE",
        "DOCKER_CONFIG",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("REGTUI_CONFIG_DIR", "REGTUI_CACHE_DIR", "REGTUI_DOWNLOAD_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))


# In a subprocess: what a user's shell sees ---------------------------------------------------
def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"regtui {regtui.__version__}"


def test_run_exits_with_the_status_of_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script's function: main's exit status becomes the process's."""
    # run() freezes the heap for a process of its own; not this test process's heap.
    monkeypatch.setattr(regtui.cli.gc, "freeze", lambda: None)
    monkeypatch.setattr(sys, "argv", ["regtui", "inspect", "Alpine"])
    with pytest.raises(SystemExit) as exited:
        regtui.cli.run()
    assert exited.value.code == 2
    assert "must be lowercase" in assert_one_error_line(capsys.readouterr().err)


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in assert_one_error_line(result.stderr)
    assert result.stdout == ""


def test_bad_reference_is_a_usage_error() -> None:
    result = run_cli("inspect", "Alpine")
    assert result.returncode == 2
    message = assert_one_error_line(result.stderr)
    assert message == "repository name must be lowercase: 'Alpine'"


def test_unreachable_host_exits_1_with_one_line() -> None:
    result = run_cli("ls", f"http://{CLOSED_PORT}")
    assert result.returncode == 1
    message = assert_one_error_line(result.stderr)
    assert message == f"cannot connect to {CLOSED_PORT}: connection refused"


# In process ------------------------------------------------------------------------------
def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on its own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ls"], "the following arguments are required: REGISTRY[/REPO]"),
        (["inspect"], "the following arguments are required: REF"),
        (["ls", "ghcr.io", "--page-size", "many"], "invalid int value: 'many'"),
        (["ls", "ghcr.io", "--read-timeout", "soon"], "not a number of seconds: 'soon'"),
        (["inspect", "alpine", "--raw", "--config"], "not allowed with argument --raw"),
        (["ls", "ghcr.io", "--bogus"], "unrecognized arguments: --bogus"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_argparse_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = _main(capsys, *argv)
    assert code == 2
    assert says in assert_one_error_line(err)
    assert out == ""


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["inspect", ""], "empty image reference"),
        (["inspect", "ghcr.io/Org/app"], "repository name must be lowercase"),
        (["inspect", "alpine@sha256:abc"], "64 lowercase hex digits"),
        (["inspect", "alpine:-x"], "invalid tag"),
        (["inspect", "alpine", "--platform", "linux"], "expected os/arch[/variant]"),
        (["ls", "ghcr.io/org/app:1.0"], "not a tag"),
        (["ls", f"ghcr.io/org/app@sha256:{'a' * 64}"], "not a tag"),
        (["ls", "docker.io"], "Docker Hub has no repository catalog"),
        (["ls", "ghcr.io", "--page-size", "0"], "--page-size must be at least 1"),
        (["ls", f"http://{UNROUTABLE}/app"], "plain HTTP to 192.0.2.1:5000 refused"),
        (["ls", f"http://{UNROUTABLE}"], "plain HTTP to 192.0.2.1:5000 refused"),
        (["inspect", f"http://{UNROUTABLE}/app:1"], "--insecure"),
    ],
)
def test_usage_errors_exit_2_before_any_network(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = _main(capsys, *argv, "--connect-timeout", "1")
    assert code == 2
    assert says in assert_one_error_line(err)
    assert out == ""


def test_no_command_without_a_terminal_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `regtui` alone opens the TUI; without a terminal it must say so, not hang.
    code, out, err = _main(capsys)
    assert code == 2
    assert out == ""
    assert "usage: regtui" in err
    assert "the TUI needs a terminal" in err and "regtui ls" in err


@pytest.mark.parametrize("argv", [["ls", CLOSED_PORT], ["inspect", f"{CLOSED_PORT}/app:1"]])
def test_unreachable_registry_exits_1(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = _main(capsys, *argv)
    assert code == 1
    assert assert_one_error_line(err) == f"cannot connect to {CLOSED_PORT}: connection refused"
    assert out == ""


@pytest.mark.parametrize("value", ["nan", "-1"])
def test_invalid_timeouts_are_usage_errors(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = _main(capsys, "ls", CLOSED_PORT, "--connect-timeout", value)
    assert code == 2
    assert "internal error" not in err


# With a mocked registry ------------------------------------------------------------------------
def _serve(monkeypatch: pytest.MonkeyPatch, handler: Any) -> None:
    """Make the CLI's clients talk to ``handler`` instead of the network."""

    def connect(
        registry: Registry | str, options: TransportOptions | None = None, **_: Any
    ) -> RegistryClient:
        return RegistryClient(registry, options=options, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(regtui.cli, "connect", connect)


def _response(doc: Any, content_type: str = "application/json", **headers: str) -> httpx.Response:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **headers}
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))


def test_ls_prints_every_repository_across_pages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("last") == "b":
            return _response({"repositories": ["c"]})
        return _response({"repositories": ["a", "b"]}, Link='</v2/_catalog?last=b&n=2>; rel="next"')

    _serve(monkeypatch, handler)
    code, out, err = _main(capsys, "ls", "http://127.0.0.1:5000", "--page-size", "2")
    assert (code, out, err) == (0, "a\nb\nc\n", "")


def test_registry_errors_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "no such repo"}]})
        return httpx.Response(
            404,
            headers={"Content-Type": "application/json"},
            stream=httpx.ByteStream(body.encode()),
        )

    _serve(monkeypatch, handler)
    code, out, err = _main(capsys, "ls", "http://127.0.0.1:5000/nope")
    assert code == 1
    assert "NAME_UNKNOWN: no such repo" in assert_one_error_line(err)
    assert out == ""


def test_unverifiable_config_digest_is_not_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": "sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + "a" * 64,
                "size": 1,
            }
        ],
    }
    _serve(monkeypatch, lambda request: _response(manifest, OCI_MANIFEST))
    code, _, err = _main(capsys, "inspect", "http://127.0.0.1:5000/app:1")
    assert_one_error_line(err)
    assert code == 1

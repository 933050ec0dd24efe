"""TLS and plain HTTP against real registries: what a user sees with a self-signed certificate.

A real registry serves HTTPS with a fresh self-signed certificate (``tls_config``). Without
help, ``regtui`` says the certificate could not be verified, that it is self-signed, and
points to ``--ca-file`` and ``--insecure``; with either, listing and pulling (whose blob
transport has its own TLS path) work. Plain HTTP is refused for a non-loopback name without
``--insecure`` (a usage error, before any network), while a plain-HTTP loopback registry
keeps working: the HTTPS probe falls back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.images import SeededImage
from support.registry import RunningRegistry, tls_config
from support.seed import seed_image


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float

    def error_line(self) -> str:
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("regtui: error: "), self.err
        return lines[0].removeprefix("regtui: error: ")


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., Run]:
    """Run the CLI in a subprocess, without the user's credentials, proxies or CA settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower()
        and not k.startswith(("REGTUI_", "DOCKER_", "XDG_", "SSL_", "REQUESTS_CA"))
        and k != "REGISTRY_AUTH_FILE"
    }
    env["HOME"] = str(tmp_path / "home")

    def run(*args: str) -> Run:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "regtui", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    return run


@dataclass
class Served:
    registry: RunningRegistry
    image: SeededImage
    cert: Path

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture
def https_registry(
    registry_factory: Callable[[dict[str, Any] | None], RunningRegistry],
    oci_image_builder: Callable[..., SeededImage],
    tmp_path: Path,
) -> Iterator[Served]:
    running = registry_factory(tls_config(tmp_path / "tls"))
    assert running.url.startswith("https://")
    image = oci_image_builder(repo="secure/app", tag="1.0", layer_sizes=(300_000, 2_000))
    seed_image(running, image)
    yield Served(running, image, tmp_path / "tls" / "tls.crt")


@pytest.mark.parametrize("scheme", ["", "https://"], ids=["no-scheme", "https"])
def test_self_signed_certificate_is_explained(
    https_registry: Served, cli: Callable[..., Run], scheme: str
) -> None:
    run = cli("ls", scheme + https_registry.host)
    assert run.code == 1
    message = run.error_line()
    assert "could not be verified" in message and "self-signed" in message, message
    assert "--ca-file" in message and "--insecure" in message, message
    assert https_registry.host.split(":")[0] in message
    assert run.out == ""


def test_self_signed_certificate_stops_a_pull_before_anything_is_written(
    https_registry: Served, cli: Callable[..., Run], tmp_path: Path
) -> None:
    run = cli("pull", "-q", "-o", "out", f"{https_registry.host}/{https_registry.image.reference}")
    assert run.code == 1
    assert "self-signed" in run.error_line()
    assert not (tmp_path / "out").exists()


def test_ca_file_makes_listing_and_pulling_work(
    https_registry: Served, cli: Callable[..., Run], tmp_path: Path
) -> None:
    ca = str(https_registry.cert)
    run = cli("ls", "--ca-file", ca, https_registry.host)
    assert run.code == 0, run.err
    assert run.out == "secure/app\n"
    run = cli("ls", "--ca-file", ca, f"https://{https_registry.host}/secure/app")
    assert run.code == 0, run.err
    assert run.out == "1.0\n"
    # Blobs move through their own transport: it must trust the same CA.
    run = cli("pull", "-q", "--ca-file", ca, "-o", "out", f"{https_registry.host}/secure/app:1.0")
    assert run.code == 0, run.err
    [seeded] = https_registry.image.manifests.values()
    blobs = {p.name for p in (tmp_path / "out" / "blobs" / "sha256").iterdir()}
    assert {layer.digest.split(":")[1] for layer in seeded.layers} <= blobs
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [seeded.digest]


def test_insecure_makes_listing_and_pulling_work(
    https_registry: Served, cli: Callable[..., Run], tmp_path: Path
) -> None:
    run = cli("ls", "--insecure", https_registry.host)
    assert run.code == 0, run.err
    assert run.out == "secure/app\n"
    run = cli("pull", "-q", "--insecure", "-o", "out", f"{https_registry.host}/secure/app:1.0")
    assert run.code == 0, run.err
    assert (tmp_path / "out" / "index.json").is_file()


def test_a_ca_file_that_is_not_the_issuer_still_fails_clearly(
    https_registry: Served,
    cli: Callable[..., Run],
    tmp_path: Path,
) -> None:
    tls_config(tmp_path / "other")  # another self-signed certificate, never served
    run = cli("ls", "--ca-file", str(tmp_path / "other" / "tls.crt"), https_registry.host)
    assert run.code == 1
    message = run.error_line()
    assert "could not be verified" in message and "--insecure" in message


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot load CA file"), ("not a certificate\n", "cannot load CA file")],
    ids=["missing", "garbage"],
)
def test_an_unusable_ca_file_is_one_line(
    cli: Callable[..., Run], tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    # Refused before any connection: the host need not exist.
    run = cli("ls", "--ca-file", str(path), "registry.example.com")
    assert run.code in (1, 2)
    message = run.error_line()
    assert says in message and "ca.pem" in message


def test_certificate_for_another_name_says_so(
    registry_factory: Callable[[dict[str, Any] | None], RunningRegistry],
    cli: Callable[..., Run],
    tmp_path: Path,
) -> None:
    # Trusted (the CA file is the certificate itself) but issued for "localhost".
    running = registry_factory(tls_config(tmp_path / "tls", hostname="localhost"))
    run = cli("ls", "--ca-file", str(tmp_path / "tls" / "tls.crt"), running.host)
    assert run.code == 1
    message = run.error_line()
    assert "could not be verified" in message and "mismatch" in message, message
    # The same certificate is fine under the name it was issued for.
    port = running.host.rsplit(":", 1)[1]
    run = cli("ls", "--ca-file", str(tmp_path / "tls" / "tls.crt"), f"localhost:{port}")
    assert run.code == 0, run.err


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "http://registry.example.com"],
        ["ls", "http://10.1.2.3:5000/team/app"],
        ["inspect", "http://registry.example.com/team/app:1.0"],
        ["pull", "-o", "out", "http://registry.example.com:8080/team/app:1.0"],
    ],
    ids=["ls-name", "ls-private-ip", "inspect", "pull"],
)
def test_plain_http_to_a_non_loopback_name_is_a_usage_error(
    cli: Callable[..., Run], tmp_path: Path, args: list[str]
) -> None:
    run = cli(*args)
    assert run.code == 2
    message = run.error_line()
    assert "plain HTTP" in message and "--insecure" in message, message
    assert run.seconds < 5  # refused before any connection attempt
    assert not (tmp_path / "out").exists()


def test_plain_http_loopback_registry_still_works(
    registry_factory: Callable[[dict[str, Any] | None], RunningRegistry],
    oci_image_builder: Callable[..., SeededImage],
    cli: Callable[..., Run],
) -> None:
    running = registry_factory(None)
    assert running.url.startswith("http://")
    seed_image(running, oci_image_builder(repo="plain/app", tag="2", layer_sizes=(512,)))
    # No scheme: regtui tries HTTPS first, and falls back to HTTP on loopback.
    run = cli("ls", running.host)
    assert run.code == 0, run.err
    assert run.out == "plain/app\n"
    run = cli("inspect", f"{running.host}/plain/app:2")
    assert run.code == 0, run.err
    assert "Layers:" in run.out
    # Asked for HTTPS explicitly, it says the server does not speak it.
    run = cli("ls", f"https://{running.host}")
    assert run.code == 1
    assert "does not speak HTTPS" in run.error_line()

"""Start and stop a real CNCF distribution registry (Debian's ``docker-registry``) on loopback."""

from __future__ import annotations

import atexit
import copy
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

REGISTRY_BINARY = "docker-registry"
SKOPEO_BINARY = "skopeo"
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_PORT_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# Every registry this process started and has not stopped yet: the atexit hook below kills
# them if a test run is interrupted before fixture teardown.
_LIVE: set[subprocess.Popen[bytes]] = set()


class RegistryStartError(RuntimeError):
    """The registry process exited or did not answer ``GET /v2/`` in time."""


class SkopeoError(AssertionError):
    """A skopeo command failed; the message carries the command line and its stderr."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(args)} exited with {returncode}:\n{stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


def missing_tools() -> list[str]:
    """Names of the external binaries the real-registry tests need but cannot find on PATH."""
    return [tool for tool in (REGISTRY_BINARY, SKOPEO_BINARY) if shutil.which(tool) is None]


def skopeo(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
    """Run ``skopeo ARGS`` and return the finished process (stdout as bytes, exact).

    Raises :class:`SkopeoError` (an ``AssertionError``) with stderr when skopeo fails.
    ``--insecure-policy`` keeps the run independent of ``/etc/containers/policy.json``,
    which minimal CI images do not ship.
    """
    cmd = [SKOPEO_BINARY, "--insecure-policy", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SkopeoError(cmd, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``extra``; a ``None`` value deletes the key."""
    merged = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def base_config(storage: Path, port: int) -> dict[str, Any]:
    """The registry configuration every test registry starts from (before ``extra_config``)."""
    return {
        "version": 0.1,
        # Access-log lines still go to the log file: they are handy when a test fails.
        "log": {"level": "warn", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            # Upload purging walks the storage at startup; nothing to purge in a test.
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        # A fixed secret avoids the "No HTTP secret provided" warning in every log.
        "http": {"addr": f"127.0.0.1:{port}", "secret": "regtui-tests"},
    }


# htpasswd auth: distribution accepts only bcrypt entries and the stdlib cannot make them
# (``crypt`` is deprecated), so the entry is precomputed, at bcrypt's minimum cost (4) to keep
# the registry's per-request password check cheap.
HTPASSWD_USER = "regtui"
HTPASSWD_PASSWORD = "regtui-secret"
HTPASSWD_ENTRY = f"{HTPASSWD_USER}:$2b$04$5Lepjzj6bMQ.4et1j5EKL.VXwI4q3pxgVhBaxTj0BP5LhtnfLEVBq"
HTPASSWD_REALM = "regtui-lab"


def htpasswd_config(workdir: Path) -> dict[str, Any]:
    """``extra_config`` for Basic auth as ``HTPASSWD_USER``/``HTPASSWD_PASSWORD``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "htpasswd"
    path.write_text(HTPASSWD_ENTRY + "\n")
    return {"auth": {"htpasswd": {"realm": HTPASSWD_REALM, "path": str(path)}}}


def tls_config(workdir: Path, hostname: str = "127.0.0.1") -> dict[str, Any]:
    """``extra_config`` serving HTTPS with a fresh self-signed certificate for ``hostname``.

    The certificate (PEM) is at ``workdir / "tls.crt"``, to pass as a CA bundle.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    workdir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    try:
        alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        alt_name = x509.DNSName(hostname)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "tls.crt", workdir / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {"http": {"tls": {"certificate": str(cert_path), "key": str(key_path)}}}


@dataclass
class RunningRegistry:
    """A ``docker-registry serve`` subprocess listening on 127.0.0.1."""

    host: str
    url: str
    storage: Path
    log: Path
    config_path: Path
    config: dict[str, Any]
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def port(self) -> int:
        """The TCP port the registry listens on."""
        return int(self.host.rpartition(":")[2])

    @property
    def tls(self) -> bool:
        """Whether the registry serves HTTPS (``http.tls`` configured)."""
        return self.url.startswith("https://")

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the registry log (for failure messages)."""
        return _tail(self.log, lines)

    def stop(self) -> None:
        """Stop the registry (SIGTERM, then SIGKILL after a bounded wait). Idempotent."""
        _terminate(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_registry(
    workdir: Path, *, extra_config: dict[str, Any] | None = None, own_session: bool = False
) -> RunningRegistry:
    """Start an empty registry with its storage, config and log under ``workdir``.

    ``extra_config`` is deep-merged into :func:`base_config` (e.g. ``auth.htpasswd``,
    ``auth.token`` or ``http.tls``; with ``http.tls`` the URL is ``https://``). With
    ``own_session``, the registry runs in a session of its own, as a service does (with
    Linux autogroup scheduling, it then does not share a CPU group with the caller). Returns once
    ``GET /v2/`` answers with any HTTP status (401 counts: auth may be on); raises
    :class:`RegistryStartError` with the log tail if the process dies or stays silent for
    ``STARTUP_TIMEOUT`` seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    last_error: RegistryStartError | None = None
    # The free port is found by binding and closing a socket, so another process can take it
    # before the registry binds it; retry with a new port when that happens.
    for _ in range(_PORT_ATTEMPTS):
        try:
            return _start_once(
                workdir, storage, _free_port(), extra_config or {}, own_session=own_session
            )
        except RegistryStartError as err:
            if "address already in use" not in str(err):
                raise
            last_error = err
    assert last_error is not None
    raise last_error


def _start_once(
    workdir: Path,
    storage: Path,
    port: int,
    extra_config: Mapping[str, Any],
    *,
    own_session: bool = False,
) -> RunningRegistry:
    config = deep_merge(base_config(storage, port), extra_config)
    config_path = workdir / "config.yml"
    # JSON is valid YAML, and the test environment has no YAML library.
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    log = workdir / "registry.log"
    scheme = "https" if "tls" in config.get("http", {}) else "http"
    host = str(config["http"]["addr"])
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent_hook(),
            start_new_session=own_session,
        )
    _LIVE.add(process)
    running = RunningRegistry(
        host=host,
        url=f"{scheme}://{host}",
        storage=storage,
        log=log,
        config_path=config_path,
        config=config,
        process=process,
    )
    try:
        _wait_until_up(running)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_until_up(running: RunningRegistry) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(verify=False, timeout=1.0) as client:
        while True:
            if running.process.poll() is not None:
                raise RegistryStartError(
                    f"docker-registry exited with {running.process.returncode} before answering;"
                    f" log tail ({running.log}):\n{running.log_tail()}"
                )
            try:
                client.get(f"{running.url}/v2/")
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RegistryStartError(
                    f"docker-registry did not answer GET {running.url}/v2/ within"
                    f" {STARTUP_TIMEOUT:.0f}s; log tail ({running.log}):\n{running.log_tail()}"
                )
            time.sleep(0.02)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes Linux SIGTERM the registry when the test process dies.

    This covers deaths no finalizer sees (SIGKILL from a CI timeout). Linux delivers the
    signal when the *thread* that forked exits, so start registries from the main thread
    (pytest fixtures do), not from a short-lived worker thread.
    """
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: no imports in the child
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return hook


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    _LIVE.discard(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_LIVE):
        _terminate(process)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

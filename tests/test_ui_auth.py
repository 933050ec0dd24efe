"""The TUI's login prompt and registry info, against real registries that want credentials.

* htpasswd Basic auth (one registry per module, one image ``ns/app:v1``): opening it
  prompts; a wrong password brings the prompt back with one line (and the password is on
  screen nowhere); the right one lists the repositories, drills to the layers and downloads
  with the new client; cancelling leaves the error in the pane, for good until ``r``;
  credentials from a docker ``config.json`` mean no prompt, and ``i`` names that source.
* ``auth: token`` with the test token server: ``i`` shows the bearer scheme, the realm, the
  service and the scopes granted while browsing (after a login, and anonymously).
* A 403 never prompts (a mock registry).
* Snapshots of the prompt and of the registry info, the registry shown as ``registry.auth``.

Every test runs with ``HOME``, ``DOCKER_CONFIG``, ``XDG_*`` and ``REGISTRY_AUTH_FILE`` in
``tmp_path``: the developer's own credentials are never read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.images import SeededImage, build_image
from support.registry import (
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    RunningRegistry,
    htpasswd_config,
    start_registry,
)
from support.seed import seed_image
from support.token_server import ALICE, ALICE_PASSWORD, TokenServer
from textual.pilot import Pilot
from textual.widgets import Static
from ui_support import quiet_app, rewriting_factory, screen_text, settle, static_text, wait_for

from regtui.core.auth import RegistryAuth
from regtui.core.client import RegistryClient, TransportOptions
from regtui.core.reference import Registry
from regtui.ui.app import RegtuiApp, make_app
from regtui.ui.screens.info import RegistryInfoScreen
from regtui.ui.screens.login import LoginScreen
from regtui.ui.screens.main import MainScreen
from regtui.ui.widgets.downloads_panel import DownloadsPanel
from regtui.ui.widgets.layer_table import LayerTable
from regtui.ui.widgets.pane import Pane
from regtui.ui.widgets.repository_list import RepositoryList
from regtui.ui.widgets.tag_table import TagTable

SIZE = (140, 40)
WRONG_PASSWORD = "wr0ng-Pa55-xyzzy"
#: The name snapshots show for the basic-auth registry (no port).
AUTH_HOST = "registry.auth"

SnapCompare = Callable[..., bool]


# ---------------------------------------------------------------------------------------------
# Isolation and labs


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home: no credential file of the developer's is ever read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(home / "auth.json"))
    monkeypatch.setenv("REGTUI_CONFIG_DIR", str(home / ".config" / "regtui"))
    for name in ("REGTUI_USERNAME", "REGTUI_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return home


@dataclass
class BasicLab:
    registry: RunningRegistry
    image: SeededImage  # ns/app:v1, one platform

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture(scope="module")
def basic_lab(
    real_registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BasicLab]:
    workdir = tmp_path_factory.mktemp("ui-basic-lab")
    with start_registry(
        workdir / "registry", extra_config=htpasswd_config(workdir / "auth")
    ) as running:
        image = build_image(workdir / "img", repo="ns/app", tag="v1", layer_sizes=(1024, 4096))
        seed_image(running, image, auth=(HTPASSWD_USER, HTPASSWD_PASSWORD))
        yield BasicLab(running, image)


@dataclass
class TokenLab:
    server: TokenServer
    registry: RunningRegistry

    @property
    def host(self) -> str:
        return self.registry.host


@pytest.fixture(scope="module")
def token_lab(
    real_registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TokenLab]:
    """Anonymous may pull ``public/*``; alice may pull anything and list the catalog."""
    workdir = tmp_path_factory.mktemp("ui-token-lab")
    with (
        TokenServer(workdir / "token-server") as server,
        start_registry(workdir / "registry", extra_config=server.registry_config()) as running,
    ):
        for n, repo in enumerate(("public/app", "a/app")):
            image = build_image(workdir / f"img-{n}", repo=repo, tag="v1", seed=n)
            seed_image(running, image, auth=server.seeder_auth())
        yield TokenLab(server, running)


def docker_config(home: Path, host: str, user: str, password: str) -> None:
    """``~/.docker/config.json`` with ``auths`` for ``host``."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = home / ".docker" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))


# ---------------------------------------------------------------------------------------------
# Driving the app


def app_for(target: str | None, tmp_path: Path, **kwargs: Any) -> RegtuiApp:
    app = make_app(
        target,
        download_dir=tmp_path / "downloads",
        recent_path=tmp_path / "recent.json",
        **kwargs,
    )
    app.cursor_blink = False
    return app


def main_screen(app: RegtuiApp) -> MainScreen:
    screen = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    return screen


async def prompt_shown(pilot: Pilot[Any]) -> LoginScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login prompt")
    screen = app.screen
    assert isinstance(screen, LoginScreen)
    await pilot.pause()
    return screen


def prompt_heading(prompt: LoginScreen) -> str:
    return " ".join(static_text(prompt.query_one("#login-heading", Static)).split())


def login_error(prompt: LoginScreen) -> str:
    error = prompt.query_one("#login-error", Static)
    return static_text(error) if error.display else ""


async def log_in(pilot: Pilot[Any], user: str, password: str) -> None:
    """Type ``user``, Enter (on to the password), ``password``, Enter.

    After a refusal the prompt keeps the user name and waits in the password box.
    """
    prompt = pilot.app.screen
    assert isinstance(prompt, LoginScreen)
    if prompt.username_box.has_focus:
        await pilot.press(*user, "enter")
    assert prompt.username_box.value == user
    assert prompt.password_box.has_focus
    await pilot.press(*password, "enter")


def status_text(pane: Pane[Any]) -> str:
    return static_text(pane.status)


async def info_text(pilot: Pilot[Any]) -> str:
    """Press ``i`` and return the registry info once the registry has answered."""
    app = pilot.app
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, RegistryInfoScreen), what="info")
    screen = app.screen
    assert isinstance(screen, RegistryInfoScreen)
    await wait_for(pilot, lambda: screen.info is not None, what="the ping")
    await pilot.pause()
    return static_text(screen.query_one("#info-body", Static))


def assert_secret_nowhere(app: RegtuiApp, *secrets: str) -> None:
    """Not on screen, not in any worker's description."""
    text = screen_text(app)
    descriptions = " ".join(w.description for w in app.workers)
    for secret in secrets:
        assert secret not in text
        assert secret not in descriptions


def assert_in_no_file(secret: str, *paths: Path) -> None:
    """``secret`` is in no file at or under ``paths``."""
    for base in paths:
        for path in [base, *base.rglob("*")] if base.is_dir() else [base]:
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


# ---------------------------------------------------------------------------------------------
# Basic auth


async def test_login_prompt_wrong_then_right_password_browse_and_download(
    basic_lab: BasicLab, tmp_path: Path, home: Path
) -> None:
    host = basic_lab.host
    app = app_for(host, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        prompt = await prompt_shown(pilot)
        assert f"Log in to {host}" in screen_text(app)
        assert f"{host} asked for credentials while listing its repositories" in (
            prompt_heading(prompt)
        )

        # A wrong password: the prompt stays, says so in one line, and shows no password.
        await log_in(pilot, HTPASSWD_USER, WRONG_PASSWORD)
        await wait_for(pilot, lambda: bool(login_error(prompt)), what="the refusal")
        assert app.screen is prompt
        error = login_error(prompt)
        assert error.startswith(f"authentication failed for {host}")
        assert "\n" not in error.strip()
        assert prompt.password_box.value == ""
        assert prompt.password_box.has_focus
        assert prompt.username_box.value == HTPASSWD_USER
        assert_secret_nowhere(app, WRONG_PASSWORD)

        # The typed password shows as bullets only.
        await pilot.press(*HTPASSWD_PASSWORD)
        assert_secret_nowhere(app, HTPASSWD_PASSWORD)
        assert "•" * len(HTPASSWD_PASSWORD) in screen_text(app)

        # The right one: the catalog is listed with the new client.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the login")
        screen = main_screen(app)
        repos = screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: repos.items == ["ns/app"], what="the catalog")
        assert screen.session is not None
        client = screen.session.client
        assert client.has_credentials
        assert isinstance(client.auth, RegistryAuth) and client.auth.credential is not None
        assert HTPASSWD_PASSWORD not in repr(client.auth.credential)

        # Drill down to the layers and download: the new client is used for the blobs.
        await pilot.press("enter")
        tags = screen.query_one(TagTable)
        await wait_for(pilot, lambda: [t.name for t in tags.items] == ["v1"], what="tags")
        await pilot.press("enter")
        layers = screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        (seeded,) = basic_lab.image.manifests.values()
        assert [row.digest for row in layers.items] == [layer.digest for layer in seeded.layers]
        await wait_for(pilot, lambda: layers.has_focus_within, what="focus on the layers")
        await pilot.press("d")
        panel = screen.query_one(DownloadsPanel)
        await wait_for(
            pilot,
            lambda: bool(panel.views) and not panel.views[0].running,
            limit=30,
            what="the download",
        )
        view = panel.views[0]
        assert view.state == "done", view.error
        assert (view.request.destination / "index.json").is_file()

        # The registry info names the prompt as the source; never the password.
        info = await info_text(pilot)
        assert "login prompt" in info
        assert "basic" in info
        assert HTPASSWD_USER in info
        assert_secret_nowhere(app, HTPASSWD_PASSWORD, WRONG_PASSWORD)
        await pilot.press("escape")
        await pilot.press("q")

    # In memory only: not in recent.json, not in any file the app wrote.
    assert host in (tmp_path / "recent.json").read_text()
    assert_in_no_file(HTPASSWD_PASSWORD, home, tmp_path / "recent.json")


async def test_cancel_shows_the_error_and_prompts_again_only_after_a_reload(
    basic_lab: BasicLab, tmp_path: Path
) -> None:
    host = basic_lab.host
    app = app_for(host, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await prompt_shown(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the cancel")
        screen = main_screen(app)
        repos = screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: repos.status.has_class("-warning"), what="the message")
        assert "requires authentication" in status_text(repos)

        # Another refused look-up: the message in its pane, no prompt this time.
        name_box = repos.query_one("#repository-name")
        await wait_for(pilot, lambda: name_box.has_focus, what="the name box")
        await pilot.press(*"ns/app", "enter")
        tags = screen.query_one(TagTable)
        await wait_for(pilot, lambda: tags.status.has_class("-error"), what="the tags error")
        assert f"authentication required by {host}" in status_text(tags)
        await settle(pilot)
        assert not any(isinstance(s, LoginScreen) for s in app.screen_stack)

        # r: the user wants it again, so the prompt comes back (naming what failed).
        await wait_for(pilot, lambda: tags.has_focus_within, what="focus on the tags")
        await pilot.press("r")
        prompt = await prompt_shown(pilot)
        assert "listing the tags of ns/app" in prompt_heading(prompt)
        await log_in(pilot, HTPASSWD_USER, HTPASSWD_PASSWORD)
        await wait_for(pilot, lambda: [t.name for t in tags.items] == ["v1"], what="tags")
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_docker_config_credentials_need_no_prompt(
    basic_lab: BasicLab, tmp_path: Path, home: Path
) -> None:
    docker_config(home, basic_lab.host, HTPASSWD_USER, HTPASSWD_PASSWORD)
    app = app_for(f"{basic_lab.host}/ns/app:v1", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        repos = screen.query_one(RepositoryList)
        layers = screen.query_one(LayerTable)
        await wait_for(pilot, lambda: repos.items == ["ns/app"], what="the catalog")
        await wait_for(pilot, lambda: layers.current is not None, what="layers")
        assert not any(isinstance(s, LoginScreen) for s in app.screen_stack)
        info = await info_text(pilot)
        assert "~/.docker/config.json (auths)" in info
        assert "basic" in info
        assert "http (plain HTTP)" in info  # the loopback registry speaks plain HTTP
        assert "--insecure      off" in info
        assert "registry/2.0" in info
        assert_secret_nowhere(app, HTPASSWD_PASSWORD)
        await pilot.press("i")  # i again closes it
        assert isinstance(app.screen, MainScreen)

        # The key is listed in the help and in the command palette.
        await pilot.press("question_mark")
        help_text = static_text(app.screen.query_one("#help-body", Static))
        assert "Registry info: credential source" in help_text
        assert "Login prompt" in help_text
        await pilot.press("escape")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Registry info" in titles


# ---------------------------------------------------------------------------------------------
# Token auth


async def test_token_login_then_info_shows_bearer_and_granted_scopes(
    token_lab: TokenLab, tmp_path: Path
) -> None:
    server = token_lab.server
    app = app_for(token_lab.host, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        prompt = await prompt_shown(pilot)  # the catalog needs alice
        await log_in(pilot, ALICE, WRONG_PASSWORD)
        await wait_for(pilot, lambda: bool(login_error(prompt)), what="the refusal")
        assert login_error(prompt).startswith(f"authentication failed for {token_lab.host}")
        assert_secret_nowhere(app, WRONG_PASSWORD)
        await log_in(pilot, ALICE, ALICE_PASSWORD)

        screen = main_screen(app)
        repos = screen.query_one(RepositoryList)
        await wait_for(pilot, lambda: repos.items == ["a/app", "public/app"], what="catalog")
        await wait_for(pilot, lambda: repos.has_focus_within, what="focus on the list")
        await pilot.press("end", "enter")
        tags = screen.query_one(TagTable)
        await wait_for(pilot, lambda: bool(tags.items), what="tags of public/app")
        await pilot.press("enter")
        layers = screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers")

        info = await info_text(pilot)
        assert "bearer" in info
        assert "login prompt" in info
        assert ALICE in info
        assert server.realm in info
        assert server.service in info
        assert "registry:catalog:*" in info
        assert "repository:public/app:pull" in info
        assert_secret_nowhere(app, ALICE_PASSWORD, WRONG_PASSWORD)


async def test_token_anonymous_after_cancel_info_shows_anonymous_scope(
    token_lab: TokenLab, tmp_path: Path
) -> None:
    app = app_for(f"{token_lab.host}/public/app:v1", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await prompt_shown(pilot)  # for the catalog only
        await pilot.press("escape")
        screen = main_screen(app)
        layers = screen.query_one(LayerTable)
        await wait_for(pilot, lambda: layers.current is not None, what="layers, anonymously")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the cancel")
        info = await info_text(pilot)
        assert "anonymous" in info
        assert "bearer" in info
        assert "repository:public/app:pull" in info


async def test_token_scope_refused_is_not_shown_as_granted(
    token_lab: TokenLab, tmp_path: Path
) -> None:
    app = app_for(f"{token_lab.host}/public/app:v1", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await prompt_shown(pilot)  # the anonymous token for the catalog granted nothing
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the cancel")
        info = await info_text(pilot)
        assert "repository:public/app:pull" in info
        assert "registry:catalog:*" not in info


# ---------------------------------------------------------------------------------------------
# 403: no prompt


def _forbidding(request: httpx.Request) -> httpx.Response:
    """A registry that lets nobody in: 403 (a streamed body, as from the network)."""
    if request.url.path == "/v2/":
        return httpx.Response(200, stream=httpx.ByteStream(b"{}"))
    body = json.dumps({"errors": [{"code": "DENIED", "message": "requested access is denied"}]})
    return httpx.Response(
        403,
        headers={"Content-Type": "application/json"},
        stream=httpx.ByteStream(body.encode()),
    )


async def test_forbidden_shows_the_message_without_prompting(tmp_path: Path) -> None:
    def factory(
        registry: Registry, options: TransportOptions | None = None, **_: Any
    ) -> RegistryClient:
        return RegistryClient(registry, options=options, transport=httpx.MockTransport(_forbidding))

    app = app_for("forbidding.test/org/app", tmp_path, client_factory=factory)
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        tags = screen.query_one(TagTable)
        await wait_for(pilot, lambda: tags.status.has_class("-error"), what="the refusal")
        assert "DENIED" in status_text(tags)
        await settle(pilot)
        assert not any(isinstance(s, LoginScreen) for s in app.screen_stack)


# ---------------------------------------------------------------------------------------------
# Snapshots


def settled(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before`` that waits for the workers, presses ``keys``, and waits again."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_login_screen_snapshot(
    snap_compare: SnapCompare, basic_lab: BasicLab, tmp_path: Path
) -> None:
    app = quiet_app(
        AUTH_HOST,
        client_factory=rewriting_factory({AUTH_HOST: basic_lab.host}),
        download_dir=Path("/home/user/Downloads/regtui"),
        recent_path=tmp_path / "recent.json",
    )

    async def type_credentials(pilot: Pilot[Any]) -> None:
        # No settle() before the prompt: it would raise the catalog worker's 401.
        await prompt_shown(pilot)
        await settle(pilot)
        await pilot.press(*HTPASSWD_USER, "tab", *HTPASSWD_PASSWORD)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=type_credentials)


def test_registry_info_snapshot(
    snap_compare: SnapCompare, basic_lab: BasicLab, tmp_path: Path, home: Path
) -> None:
    docker_config(home, basic_lab.host, HTPASSWD_USER, HTPASSWD_PASSWORD)
    app = quiet_app(
        AUTH_HOST,
        client_factory=rewriting_factory({AUTH_HOST: basic_lab.host}),
        download_dir=Path("/home/user/Downloads/regtui"),
        recent_path=tmp_path / "recent.json",
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("i"))

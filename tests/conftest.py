"""Shared pytest fixtures.

Real-registry fixtures (``registry``, ``registry_factory``) run CNCF distribution
(``docker-registry``) and skopeo from PATH; the code behind them is in ``tests/support``.
Tests using them get the ``registry`` marker automatically (deselect with
``-m "not registry"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.images import SeededImage, build_image
from support.registry import RunningRegistry, missing_tools, start_registry
from support.seed import RegistryHandle, seed_registry

REAL_REGISTRY_FIXTURES = frozenset({"registry", "registry_factory", "real_registry_tools"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real-registry fixture with ``registry``."""
    for item in items:
        if REAL_REGISTRY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)


# ---------------------------------------------------------------------------------------------
# Real registry


@pytest.fixture(scope="session")
def real_registry_tools() -> None:
    """Skip (or, with ``CI=true``, fail) when docker-registry or skopeo is not installed."""
    missing = missing_tools()
    if not missing:
        return
    message = (
        f"{' and '.join(missing)} not on PATH; the real-registry tests need the Debian"
        " packages docker-registry and skopeo"
    )
    # In CI these tests are the point: a missing tool must be an error, never a quiet skip.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true, so this is an error)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def registry(
    real_registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryHandle]:
    """The session registry, seeded once (~15 s): named images, many/tags, 1,100 bulk repos.

    Shared by every test in the session (per xdist worker): treat it as read-only, and use
    ``registry_factory`` for anything that pushes or deletes.
    """
    workdir = tmp_path_factory.mktemp("session-registry")
    with start_registry(workdir / "registry") as running:
        yield seed_registry(running, workdir / "images")


@pytest.fixture
def registry_factory(
    real_registry_tools: None, tmp_path: Path
) -> Iterator[Callable[[dict[str, Any] | None], RunningRegistry]]:
    """Start empty registries under ``tmp_path`` (``extra_config`` deep-merged); all are
    stopped at teardown. Seed them with ``support.seed.seed_image``."""
    started: list[RunningRegistry] = []

    def start(extra_config: dict[str, Any] | None = None) -> RunningRegistry:
        running = start_registry(tmp_path / f"registry-{len(started)}", extra_config=extra_config)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def oci_image_builder(tmp_path: Path) -> Callable[..., SeededImage]:
    """``support.images.build_image`` writing each image to its own layout under ``tmp_path``.

    Call it with ``build_image``'s keyword arguments (``repo``, ``tag``, ``platforms``,
    ``layer_sizes``, ``docker_types``, ``attest``, …).
    """
    count = 0

    def build(**kwargs: Any) -> SeededImage:
        nonlocal count
        count += 1
        return build_image(tmp_path / f"oci-image-{count}", **kwargs)

    return build

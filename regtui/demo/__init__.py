"""The embedded demo registry behind ``regtui demo``.

:func:`ensure_demo_store` generates deterministic sample images on first use (cached under
the platform cache directory) and :class:`DemoRegistry` serves them read-only on a loopback
port, speaking the registry API like CNCF distribution. Nothing here imports Textual.
"""

from regtui.demo.images import (
    DEMO_EPOCH,
    DOCKER_LIST_REPO,
    GENERATOR_VERSION,
    MANY_TAGS_REPO,
    MULTI_ARCH_REPO,
    SINGLE_PLATFORM_REPO,
    TAG_SORT_REPO,
    DemoStore,
    DemoStoreError,
    default_cache_dir,
    ensure_demo_store,
)
from regtui.demo.server import DemoRegistry, serve_forever_cli

__all__ = [
    "DEMO_EPOCH",
    "DOCKER_LIST_REPO",
    "GENERATOR_VERSION",
    "MANY_TAGS_REPO",
    "MULTI_ARCH_REPO",
    "SINGLE_PLATFORM_REPO",
    "TAG_SORT_REPO",
    "DemoRegistry",
    "DemoStore",
    "DemoStoreError",
    "default_cache_dir",
    "ensure_demo_store",
    "serve_forever_cli",
]

"""``LayerTable``: the chosen image's config summary and its layers.

Each layer shows its short digest, size, compression and the history step that created it
(``created_by``, aligned by skipping ``empty_layer`` entries). Below the table, the
highlighted layer in full. ``m``/``c`` open the raw manifest/config, ``y`` copies
``registry/repo@digest``, ``d`` downloads the image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from regtui import format as fmt
from regtui.core.client import FetchedManifest
from regtui.core.manifest import (
    ArtifactManifest,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    LegacyManifest,
    Platform,
    align_history,
    layer_compression,
)
from regtui.ui.session import (
    BrowserSession,
    format_created,
    legacy_created_by,
    parse_created,
    platform_text,
    short_type,
)
from regtui.ui.widgets.detail import DetailLine
from regtui.ui.widgets.pane import Pane

#: ``created_by`` is clipped to this many characters in the table (full text below it).
CREATED_BY_WIDTH = 72


@dataclass(frozen=True)
class LayerRow:
    """One layer (or blob of an artifact) with what built it."""

    position: int
    digest: str
    size: int | None
    compression: str
    created_by: str
    media_type: str
    diff_id: str | None = None


@dataclass(frozen=True)
class Shown:
    """What the layers pane currently shows."""

    repository: str
    reference: str
    fetched: FetchedManifest
    platform: Platform | None
    index: FetchedManifest | None
    config_raw: bytes | None
    config: ImageConfig | None


class LayerTable(Pane[LayerRow]):
    """The fourth pane: config summary and layers of the chosen platform."""

    TITLE = "Layers"
    COLUMNS = (
        ("n", "#"),
        ("size", "Size"),
        ("compression", "Compr."),
        ("created_by", "Created by"),
        ("digest", "Digest"),
    )
    NOUN = ("layer", "layers")
    IDLE_HINT = "Select a platform"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "download", "Download", id="download-image", tooltip="Download this image"),
        Binding("m", "raw_manifest", "Manifest", id="raw-manifest", tooltip="Raw manifest JSON"),
        Binding("c", "raw_config", "Config", id="raw-config", tooltip="Raw config JSON"),
        Binding(
            "y",
            "copy_reference",
            "Copy ref",
            id="copy-image-reference",
            tooltip="Copy registry/repository@digest of this image",
        ),
    ]

    class DownloadRequested(Message):
        """``d`` in the layers pane: download the image shown."""

        def __init__(self, shown: Shown) -> None:
            super().__init__()
            self.shown = shown

    def __init__(self, *, id: str = "layers") -> None:  # noqa: A002
        super().__init__(id=id)
        self.session: BrowserSession | None = None
        self.current: Shown | None = None
        self._request: tuple[str, str, str, Platform | None, FetchedManifest | None] | None = None

    def compose_before_table(self) -> Iterable[Any]:
        scroll = VerticalScroll(Static("", id="config-summary"), id="config-summary-scroll")
        scroll.can_focus = False
        scroll.display = False
        yield scroll

    def compose_after_table(self) -> Iterable[Any]:
        yield DetailLine(id="layer-detail")

    # Rows -------------------------------------------------------------------------------------
    def row_key(self, item: LayerRow) -> str:
        return f"{item.position}:{item.digest}"

    def match_text(self, item: LayerRow) -> str:
        return f"{item.digest} {item.compression} {item.created_by} {item.media_type}"

    def row_cells(self, item: LayerRow) -> Sequence[Any]:
        size = fmt.size(item.size) if item.size is not None else "—"
        return (
            Text(str(item.position + 1), justify="right"),
            Text(size, justify="right"),
            item.compression,
            fmt.one_line(item.created_by, CREATED_BY_WIDTH),
            Text(item.digest.split(":", 1)[-1][:12], style="dim"),
        )

    # Loading ----------------------------------------------------------------------------------
    def load(
        self,
        session: BrowserSession,
        repository: str,
        reference: str,
        digest: str,
        platform: Platform | None,
        index: FetchedManifest | None,
    ) -> None:
        """Show the image manifest ``digest`` of ``repository`` (chosen as ``reference``)."""
        self.session = session
        self.load_client = session.client
        self._request = (repository, reference, digest, platform, index)
        self.current = None
        self.clear_items()
        self._set_summary(None)
        name = platform_text(platform) or fmt.short_digest(digest)
        self.border_title = f"{self.TITLE} · {name}"
        self._load(session, repository, reference, digest, platform, index)

    def reset(self, hint: str = IDLE_HINT) -> None:
        """Empty the pane (the selection upstream changed)."""
        self.workers.cancel_group(self, "layers")
        self.current = None
        self._request = None
        self.border_title = self.TITLE
        self._set_summary(None)
        self.clear_items(hint)

    def reload(self) -> None:
        if self.session is not None and self._request is not None:
            self.load(self.session, *self._request)

    def doing(self) -> str:
        if self._request is None:
            return "loading the layers"
        repository, _reference, digest, _platform, _index = self._request
        return f"loading the layers of {repository}@{fmt.short_digest(digest)}"

    @work(exclusive=True, group="layers", exit_on_error=False)
    async def _load(
        self,
        session: BrowserSession,
        repository: str,
        reference: str,
        digest: str,
        platform: Platform | None,
        index: FetchedManifest | None,
    ) -> None:
        self.set_busy(True, f"loading {fmt.short_digest(digest)}…")
        fetched = await session.manifest(repository, digest)
        manifest = fetched.manifest
        config_raw: bytes | None = None
        config: ImageConfig | None = None
        note = ""
        note_kind = "info"
        if isinstance(manifest, ImageManifest):
            if manifest.is_image:
                config_raw, config = await session.config(repository, manifest.config)
                if config is None:
                    note, note_kind = "The image config could not be parsed", "warning"
            else:
                config_raw, _ = await session.config(repository, manifest.config)
                note = f"Artifact: {manifest.kind}"
            rows = self._image_rows(manifest, config)
            if manifest.problems:
                note = "; ".join(manifest.problems)
                note_kind = "warning"
        elif isinstance(manifest, LegacyManifest):
            rows = self._legacy_rows(manifest)
            note, note_kind = "Docker schema 1 manifest (legacy): shown, not pulled", "warning"
        elif isinstance(manifest, ArtifactManifest):
            rows = [
                LayerRow(i, b.digest, b.size, short_type(b.media_type), "", b.media_type)
                for i, b in enumerate(manifest.blobs)
            ]
            note = "Withdrawn OCI artifact manifest: shown, not pulled"
            note_kind = "warning"
        elif isinstance(manifest, ImageIndex):
            rows = []
            note = "This entry is itself an index (nested); its entries are not shown here"
            note_kind = "warning"
        else:  # pragma: no cover - the union is exhaustive
            rows = []
        self.current = Shown(repository, reference, fetched, platform, index, config_raw, config)
        self.set_items(rows, keep_cursor=False)
        self.set_busy(False)
        self._set_summary(self.current)
        self.set_status(note, note_kind)
        self._show_detail()

    @staticmethod
    def _image_rows(manifest: ImageManifest, config: ImageConfig | None) -> list[LayerRow]:
        rows = []
        for info in align_history(manifest.layers, config):
            desc = info.descriptor
            compression = info.compression
            if compression == "other":
                compression = short_type(desc.media_type)
            rows.append(
                LayerRow(
                    info.index,
                    desc.digest,
                    desc.size,
                    compression,
                    info.created_by,
                    desc.media_type,
                    info.diff_id,
                )
            )
        return rows

    @staticmethod
    def _legacy_rows(manifest: LegacyManifest) -> list[LayerRow]:
        # Schema 1 lists the newest layer first; show them base first like schema 2.
        pairs = list(zip(manifest.fs_layers, manifest.v1_history, strict=False))
        rows = []
        for position, (digest, history) in enumerate(reversed(pairs)):
            rows.append(
                LayerRow(
                    position,
                    digest,
                    None,
                    layer_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"),
                    legacy_created_by(history),
                    "application/vnd.docker.image.rootfs.diff.tar.gzip",
                )
            )
        return rows

    # Summary and detail -----------------------------------------------------------------------
    def _set_summary(self, shown: Shown | None) -> None:
        scroll = self.query_one("#config-summary-scroll", VerticalScroll)
        summary = self.query_one("#config-summary", Static)
        if shown is None:
            scroll.display = False
            summary.update("")
            return
        summary.update(config_summary(shown))
        scroll.display = True

    @on(DataTable.RowHighlighted, ".pane-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#layer-detail", DetailLine)
        row = self.highlighted_item()
        if row is None:
            detail.hide()
            return
        lines = Text()
        lines.append(row.created_by or "(no history entry for this layer)", style="bold")
        size = f"{row.size:,} bytes" if row.size is not None else "size unknown"
        lines.append(f"\n{row.digest} · {size} · {row.compression} · {row.media_type}", "dim")
        detail.show(lines)

    # Actions ----------------------------------------------------------------------------------
    def action_download(self) -> None:
        """Download the image shown."""
        shown = self.current
        if shown is None:
            return
        manifest = shown.fetched.manifest
        if isinstance(manifest, LegacyManifest | ArtifactManifest | ImageIndex):
            self.notify("This manifest is shown, not pulled", severity="warning", timeout=4)
            return
        self.post_message(self.DownloadRequested(shown))

    def action_raw_manifest(self) -> None:
        """Show the image manifest as JSON."""
        shown = self.current
        if shown is None:
            return
        from regtui.ui.screens.raw import RawDocumentScreen

        title = f"{shown.repository}@{fmt.short_digest(shown.fetched.digest)}"
        self.app.push_screen(RawDocumentScreen.for_manifest(title, shown.fetched))

    def action_raw_config(self) -> None:
        """Show the image config as JSON."""
        shown = self.current
        if shown is None:
            return
        manifest = shown.fetched.manifest
        if shown.config_raw is None or not isinstance(manifest, ImageManifest):
            self.notify("This manifest has no config blob", severity="warning")
            return
        from regtui.ui.screens.raw import RawDocumentScreen

        self.app.push_screen(
            RawDocumentScreen(
                f"config of {shown.repository}@{fmt.short_digest(shown.fetched.digest)}",
                shown.config_raw,
                digest=manifest.config.digest,
                media_type=manifest.config.media_type,
            )
        )

    def action_copy_reference(self) -> None:
        """Copy ``registry/repository@digest`` of this image."""
        shown = self.current
        if shown is None or self.session is None:
            return
        text = f"{self.session.registry}/{shown.repository}@{shown.fetched.digest}"
        self.app.copy_to_clipboard(text)
        self.notify(text, title="Copied", markup=False)


def config_summary(shown: Shown) -> RenderableType:
    """The config at a glance: created, entrypoint, cmd, env, user, workdir, labels, ports."""
    manifest = shown.fetched.manifest
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def add(key: str, value: str | Text) -> None:
        # As written: a str cell would be read as Rich markup (labels, env, commands).
        grid.add_row(key, Text(value) if isinstance(value, str) else value)

    if isinstance(manifest, ImageManifest):
        total = fmt.size(manifest.total_size)
        add("Image", f"{len(manifest.layers)} layers, {total} compressed")
    config = shown.config
    if config is None:
        if isinstance(manifest, LegacyManifest):
            add("Name", f"{manifest.name}:{manifest.tag} ({manifest.architecture})")
        return grid
    created = format_created(parse_created(config.created))
    add("Created", f"{created} UTC" if created else "unknown")
    add("Platform", platform_text(config.platform) if config.os else "unknown")
    if config.entrypoint:
        add("Entrypoint", _argv(config.entrypoint))
    if config.cmd:
        add("Cmd", _argv(config.cmd))
    add("User", config.user or "(root)")
    if config.working_dir:
        add("Workdir", config.working_dir)
    if config.exposed_ports:
        add("Ports", ", ".join(config.exposed_ports))
    if config.volumes:
        add("Volumes", ", ".join(config.volumes))
    for i, env in enumerate(config.env):
        add("Env" if i == 0 else "", env)
    for i, (key, value) in enumerate(sorted(config.labels.items())):
        add("Labels" if i == 0 else "", f"{key}={value}")
    return Group(grid)


def _argv(argv: Sequence[str]) -> str:
    """``["a", "b c"]`` as JSON-ish text, how Dockerfiles write it."""
    return "[" + ", ".join(f'"{a}"' for a in argv) + "]"

"""``PlatformList``: the entries of a tag's index, or the one image it is.

The host's platform is pre-selected; BuildKit attestation entries are shown as a mark on
the platform they attest, never as ``unknown/unknown`` rows. A tag that is a single image
(or a legacy schema 1 / artifact manifest) has one row and skips straight to its layers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from regtui import format as fmt
from regtui.core.client import FetchedManifest
from regtui.core.manifest import (
    ArtifactManifest,
    Descriptor,
    ImageIndex,
    ImageManifest,
    IndexEntry,
    LegacyManifest,
    Platform,
)
from regtui.ui.session import BrowserSession, entry_label, platform_text, short_type
from regtui.ui.widgets.detail import DetailLine
from regtui.ui.widgets.pane import Pane


@dataclass(eq=False)
class PlatformRow:
    """One platform (index entry) or the single manifest of a tag."""

    position: int
    label: str
    digest: str
    media_type: str
    platform: Platform | None
    size: int | None = None
    is_host: bool = False
    attestations: tuple[Descriptor, ...] = field(default_factory=tuple)
    is_attestation: bool = False
    note: str = ""

    @property
    def is_index(self) -> bool:
        """This entry is itself an index (nested)."""
        return self.media_type.endswith("index.v1+json") or "manifest.list" in self.media_type


class PlatformList(Pane[PlatformRow]):
    """The third pane: platforms of the selected tag."""

    TITLE = "Platforms"
    COLUMNS = (
        ("platform", "Platform"),
        ("size", "Size", 8),
        ("notes", "Notes"),
        ("digest", "Digest"),
    )
    NOUN = ("platform", "platforms")
    IDLE_HINT = "Select a tag"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "download",
            "Download",
            id="download-platform",
            tooltip="Download this platform as an OCI layout",
        ),
        Binding(
            "m",
            "raw_manifest",
            "Manifest",
            id="raw-index",
            tooltip="Show the tag's manifest (index) as JSON",
        ),
        Binding(
            "y",
            "copy_reference",
            "Copy ref",
            id="copy-platform-reference",
            tooltip="Copy registry/repository@digest of the highlighted platform",
        ),
    ]

    class PlatformSelected(Message):
        """A platform was chosen; ``auto`` when a single-image tag skipped to its layers."""

        def __init__(
            self,
            repository: str,
            reference: str,
            row: PlatformRow,
            index: FetchedManifest | None,
            *,
            auto: bool = False,
        ) -> None:
            super().__init__()
            self.repository = repository
            self.reference = reference
            self.row = row
            self.index = index
            self.auto = auto

    class DownloadRequested(Message):
        """``d`` on a platform."""

        def __init__(
            self, repository: str, reference: str, row: PlatformRow, index: FetchedManifest | None
        ) -> None:
            super().__init__()
            self.repository = repository
            self.reference = reference
            self.row = row
            self.index = index

    def __init__(self, *, id: str = "platforms") -> None:  # noqa: A002
        super().__init__(id=id)
        self.session: BrowserSession | None = None
        self.repository: str | None = None
        self.reference: str | None = None
        self.top: FetchedManifest | None = None

    # Rows -------------------------------------------------------------------------------------
    def row_key(self, item: PlatformRow) -> str:
        return f"{item.position}:{item.digest}"

    def match_text(self, item: PlatformRow) -> str:
        return f"{item.label} {item.digest} {item.note}"

    def row_cells(self, item: PlatformRow) -> Sequence[Any]:
        notes = []
        if item.is_host:
            notes.append("host")
        if item.attestations:
            notes.append("att")  # BuildKit attestations (SBOM, provenance) refer to it
        if item.note:
            notes.append(item.note)
        label = Text(item.label, style="bold" if item.is_host else "")
        size = fmt.size(item.size) if item.size is not None else "…"
        return (
            label,
            Text(size, justify="right"),
            ", ".join(notes),
            Text(item.digest.split(":", 1)[-1][:12], style="dim"),
        )

    def compose_after_table(self) -> Iterable[Any]:
        yield DetailLine(id="platform-detail", classes="row-detail")

    @on(DataTable.RowHighlighted, ".pane-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted entry's digest in full, and what attests it."""
        detail = self.query_one("#platform-detail", DetailLine)
        row = self.highlighted_item()
        if row is None:
            detail.hide()
            return
        text = Text()
        text.append(row.label, "bold")
        if row.is_host:
            text.append(" ")
            text.append("· this host's platform", "dim")
        text.append(f"\n{row.digest}")
        for attestation in row.attestations:
            kind = attestation.reference_type or "attestation"
            text.append(f"\n{kind} {fmt.short_digest(attestation.digest)}", "dim")
        detail.show(text)

    # Loading ----------------------------------------------------------------------------------
    def load(self, session: BrowserSession, repository: str, reference: str) -> None:
        """Show the platforms of ``repository:reference`` (a tag or a digest)."""
        self.session = session
        self.load_client = session.client
        self.repository = repository
        self.reference = reference
        self.top = None
        self.clear_items()
        shown = reference if ":" not in reference else fmt.short_digest(reference)
        self.border_title = f"{self.TITLE} · {shown}"
        self._load(session, repository, reference)

    def reset(self, hint: str = IDLE_HINT) -> None:
        """Empty the pane (the selection upstream changed)."""
        self.workers.cancel_group(self, "platforms")
        self.repository = self.reference = None
        self.top = None
        self.border_title = self.TITLE
        self.clear_items(hint)

    def reload(self) -> None:
        if self.session and self.repository and self.reference:
            self.load(self.session, self.repository, self.reference)

    def doing(self) -> str:
        reference = self.reference or ""
        shown = reference if ":" not in reference else fmt.short_digest(reference)
        separator = "@" if ":" in reference else ":"
        return f"loading {self.repository}{separator}{shown}"

    @work(exclusive=True, group="platforms", exit_on_error=False)
    async def _load(self, session: BrowserSession, repository: str, reference: str) -> None:
        self.set_busy(True, f"loading {repository}:{reference}…")
        fetched = await session.manifest(repository, reference)
        self.top = fetched
        manifest = fetched.manifest
        if isinstance(manifest, ImageIndex):
            await self._show_index(session, repository, fetched, manifest)
            return
        row = await self._single_row(session, repository, fetched)
        self.set_items([row])
        self.set_busy(False)
        if isinstance(manifest, LegacyManifest):
            self.set_status("Docker schema 1 manifest (legacy): shown, not pulled", "warning")
        elif isinstance(manifest, ArtifactManifest):
            self.set_status("Withdrawn OCI artifact manifest: shown, not pulled", "warning")
        else:
            self.set_status("A single-platform image", "info")
        self.post_message(self.PlatformSelected(repository, reference, row, None, auto=True))

    async def _single_row(
        self, session: BrowserSession, repository: str, fetched: FetchedManifest
    ) -> PlatformRow:
        manifest = fetched.manifest
        summary = await session.summary(repository, fetched)
        platform = summary.platform
        if isinstance(manifest, LegacyManifest):
            label = f"schema 1 · {manifest.architecture or '?'}"
        elif isinstance(manifest, ArtifactManifest):
            label = f"artifact · {short_type(manifest.artifact_type or 'unknown')}"
        elif isinstance(manifest, ImageManifest) and not manifest.is_image:
            label = f"artifact · {short_type(manifest.kind)}"
        else:
            label = platform_text(platform) or "image"
        return PlatformRow(
            position=0,
            label=label,
            digest=fetched.digest,
            media_type=fetched.media_type or "",
            platform=platform,
            size=summary.size,
            is_host=platform is not None and platform.matches(session.host),
        )

    async def _show_index(
        self,
        session: BrowserSession,
        repository: str,
        fetched: FetchedManifest,
        index: ImageIndex,
    ) -> None:
        entries = index.entries()
        host_entry = index.select(session.host)
        rows = [self._entry_row(i, entry, entry == host_entry) for i, entry in enumerate(entries)]
        self.set_items(rows)
        host_row = next((r for r in rows if r.is_host), None)
        if host_row is not None:
            self.move_to_key(self.row_key(host_row))
        kind = "Docker manifest list" if index.is_docker else "OCI index"
        count = sum(1 for r in rows if not r.is_attestation)
        note = f"{kind} · {count} platform{'s' if count != 1 else ''}"
        if host_row is None and count:
            note += f" · none for this host ({session.host})"
        self.set_busy(False)
        self.set_status(note, "info")
        self._update_counts()

        slots = asyncio.Semaphore(6)

        async def size_of(row: PlatformRow) -> None:
            async with slots:
                child = await session.manifest(repository, row.digest)
            if isinstance(child.manifest, ImageManifest):
                row.size = child.manifest.total_size
            elif isinstance(child.manifest, ImageIndex):
                row.note = "nested index"
                row.size = sum(d.size for d in child.manifest.manifests)
            self.queue_refresh(row)

        await asyncio.gather(*(size_of(r) for r in rows))

    def _entry_row(self, position: int, entry: IndexEntry, is_host: bool) -> PlatformRow:
        desc = entry.descriptor
        platform = desc.platform if desc.platform and not desc.platform.is_unknown else None
        return PlatformRow(
            position=position,
            label=entry_label(entry),
            digest=desc.digest,
            media_type=desc.media_type,
            platform=platform,
            is_host=is_host,
            attestations=entry.attestations,
            is_attestation=desc.is_attestation,
        )

    # Actions ----------------------------------------------------------------------------------
    def item_selected(self, item: PlatformRow) -> None:
        if self.repository and self.reference:
            index = self.top if self.top and isinstance(self.top.manifest, ImageIndex) else None
            self.post_message(self.PlatformSelected(self.repository, self.reference, item, index))

    def action_download(self) -> None:
        """Download the highlighted platform."""
        row = self.highlighted_item()
        if row is None or not self.repository or not self.reference or self.top is None:
            return
        manifest = self.top.manifest
        if isinstance(manifest, LegacyManifest):
            self.notify(
                "Docker schema 1 manifests are shown, not pulled", severity="warning", timeout=4
            )
            return
        if isinstance(manifest, ArtifactManifest):
            self.notify(
                "Withdrawn OCI artifact manifests are not pulled", severity="warning", timeout=4
            )
            return
        if row.is_index:
            self.notify("This entry is a nested index: open it first", severity="warning")
            return
        index = self.top if isinstance(manifest, ImageIndex) else None
        self.post_message(self.DownloadRequested(self.repository, self.reference, row, index))

    def action_raw_manifest(self) -> None:
        """Show the tag's top manifest (the index, or the image manifest)."""
        if self.top is None or self.repository is None:
            return
        from regtui.ui.screens.raw import RawDocumentScreen

        self.app.push_screen(
            RawDocumentScreen.for_manifest(f"{self.repository}:{self.reference}", self.top)
        )

    def action_copy_reference(self) -> None:
        """Copy ``registry/repository@digest`` of the highlighted platform."""
        row = self.highlighted_item()
        if row is None or self.session is None or self.repository is None:
            return
        text = f"{self.session.registry}/{self.repository}@{row.digest}"
        self.app.copy_to_clipboard(text)
        self.notify(text, title="Copied", markup=False)

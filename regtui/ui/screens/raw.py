"""``RawDocumentScreen``: a manifest or config as syntax-highlighted JSON, in a modal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from regtui import format as fmt
from regtui.core.client import FetchedManifest
from regtui.ui.widgets.key_bar import KeyBar

#: Documents above this size are shown as plain text (highlighting them would be slow).
HIGHLIGHT_LIMIT = 512 * 1024


def display_json(raw: bytes) -> tuple[str, bool]:
    """The text to show and whether it was reformatted.

    Documents already laid out on several lines are shown byte for byte; compact ones are
    indented for reading (the digest is still the digest of the exact bytes).
    """
    text = raw.decode("utf-8", "replace")
    if text.count("\n") > 1:
        return text.rstrip("\n"), False
    try:
        doc = json.loads(raw)
    except ValueError:
        return text, False
    return json.dumps(doc, indent=2, ensure_ascii=False), True


class RawDocumentScreen(ModalScreen[None]):
    """Raw JSON with a title line (what, digest, size, media type)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss_screen", "Close", id="close-raw"),
        Binding("y", "copy_document", "Copy JSON", id="copy-raw"),
        Binding("down,j", "scroll_down", "Down", show=False, id="raw-down"),
        Binding("up,k", "scroll_up", "Up", show=False, id="raw-up"),
    ]

    def __init__(
        self, title: str, raw: bytes, *, digest: str | None = None, media_type: str | None = None
    ) -> None:
        super().__init__()
        self.document_title = title
        self.raw = raw
        self.digest = digest
        self.media_type = media_type

    @classmethod
    def for_manifest(cls, title: str, fetched: FetchedManifest) -> RawDocumentScreen:
        """The raw view of a fetched manifest."""
        return cls(
            f"manifest of {title}",
            fetched.raw,
            digest=fetched.digest,
            media_type=fetched.media_type,
        )

    def compose(self) -> Iterable[Any]:
        text, reformatted = display_json(self.raw)
        heading = Text()
        heading.append(self.document_title, "bold")
        facts = [fmt.size(len(self.raw))]
        if self.media_type:
            facts.append(self.media_type)
        if reformatted:
            facts.append("indented for reading")
        heading.append("\n" + " · ".join(facts), "dim")
        if self.digest:
            heading.append(f"\n{self.digest}", "dim")
        with Vertical(id="raw-dialog"):
            yield Static(heading, id="raw-heading")
            with VerticalScroll(id="raw-scroll"):
                body = Text(text)
                if len(self.raw) <= HIGHLIGHT_LIMIT:
                    JSONHighlighter().highlight(body)
                yield Static(body, id="raw-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#raw-scroll").focus()

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

    def action_copy_document(self) -> None:
        self.app.copy_to_clipboard(self.raw.decode("utf-8", "replace"))
        self.notify(f"{fmt.size(len(self.raw))} of JSON", title="Copied")

    def action_scroll_down(self) -> None:
        self.query_one("#raw-scroll", VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#raw-scroll", VerticalScroll).scroll_up(animate=False)

"""``DetailLine`` (the lines under a pane's table): it grows and shrinks with what it shows.

It lays the screen out again only when the number of lines changes, so this checks that
the height follows the text whichever way it changes, and that the text is always new.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from regtui.ui.widgets.detail import DetailLine


class Detailed(App[None]):
    CSS = "DetailLine { height: auto; max-height: 4; } #below { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield DetailLine(id="detail")
        yield Static("below", id="below")


def shown(detail: DetailLine) -> list[str]:
    width, height = detail.size
    return [s.text.rstrip() for s in detail.render_lines(Region(0, 0, width, height))]


async def test_the_detail_line_takes_the_height_of_what_it_shows() -> None:
    app = Detailed()
    async with app.run_test(size=(40, 12)) as pilot:
        detail = app.query_one(DetailLine)
        below = app.query_one("#below")
        assert not detail.display

        steps = [
            "one\ntwo",
            "uno\ndos",  # as many lines: no layout, new text
            "a\nb\nc",
            "x",
            "a line long enough to wrap at forty columns, so two",
            "p\nq\nr\ns\nt\nu",  # capped by max-height
            "short",
        ]
        for text in steps:
            detail.show(Text(text))
            await pilot.pause()
            lines = Text(text).wrap(app.console, 40)
            expected = min(len(lines), 4)
            assert detail.size.height == expected, text
            assert shown(detail) == [line.plain.rstrip() for line in lines][:expected]
            assert below.region.y == expected  # the rest of the screen moved with it

        detail.hide()
        await pilot.pause()
        assert not detail.display and below.region.y == 0
        detail.show(Text("back\nagain"))
        await pilot.pause()
        assert detail.size.height == 2 and shown(detail) == ["back", "again"]

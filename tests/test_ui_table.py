"""``RegtuiDataTable`` against Textual's own ``DataTable``: the same edits, the same table.

``RegtuiDataTable`` keeps its row order and line offsets across cell updates, adds rows in
bulk and wraps cells that look like markup; each of those stands in for ``DataTable``
code. Here both tables get the same rows, updates, removals, sorts and clears, and must
then hold the same rows in the same order and draw the same lines (the oracle reads
markup, so no cell here has ``[`` or ``:``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from regtui.ui.widgets.table import RegtuiDataTable

COLUMNS = ("name", "size", "note")


class Pair(App[None]):
    def compose(self) -> ComposeResult:
        yield RegtuiDataTable(id="ours")
        yield DataTable(id="theirs", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for table in self.tables:
            for column in COLUMNS:
                table.add_column(column, key=column)

    @property
    def tables(self) -> tuple[RegtuiDataTable, DataTable[Any]]:
        return self.query_one("#ours", RegtuiDataTable), self.query_one("#theirs", DataTable)


def rows(n: int, start: int = 0) -> list[tuple[tuple[str, str, str], str]]:
    return [
        ((f"item-{i:03d}", f"{(i * 37) % 101} kB", "x" * (i % 7)), f"k{i}")
        for i in range(start, start + n)
    ]


def lines(table: DataTable[Any]) -> list[str]:
    width, height = table.size
    return [strip.text for strip in table.render_lines(Region(0, 0, width, height))]


def same(ours: RegtuiDataTable, theirs: DataTable[Any]) -> None:
    assert ours.row_count == theirs.row_count
    assert [ours.get_row_at(i) for i in range(ours.row_count)] == [
        theirs.get_row_at(i) for i in range(theirs.row_count)
    ]
    assert [row.key for row in ours.ordered_rows] == [row.key for row in theirs.ordered_rows]
    assert lines(ours) == lines(theirs)


async def test_the_same_edits_make_the_same_table() -> None:
    app = Pair()
    async with app.run_test(size=(60, 40)) as pilot:
        ours, theirs = app.tables

        async def both(edit: Callable[[DataTable[Any]], object]) -> None:
            edit(ours)
            edit(theirs)
            await pilot.pause()
            same(ours, theirs)

        ours.add_keyed_rows(rows(30))
        for cells, key in rows(30):
            theirs.add_row(*cells, key=key)
        await pilot.pause()
        same(ours, theirs)

        await both(lambda t: t.update_cell("k3", "note", "changed", update_width=True))
        # Rows in view filled in one by one, as tag details arrive (each drawn between).
        await both(lambda t: t.update_cell("k5", "size", "7 MB"))
        await both(lambda t: t.update_cell("k6", "name", "renamed"))
        await both(lambda t: t.move_cursor(row=5))
        await both(lambda t: t.update_cell("k5", "note", "under the cursor"))
        await both(lambda t: t.update_cell("k5", "note", "and again"))
        await both(lambda t: t.remove_row("k6"))
        await both(lambda t: t.add_row("back", "1 kB", "", key="k6"))
        await both(lambda t: t.update_cell("k6", "note", "re-added"))
        await both(lambda t: t.update_cell("k7", "note", "wider than any note so far"))
        await both(lambda t: t.remove_row("k0"))
        await both(lambda t: t.move_cursor(row=20))
        await both(lambda t: t.sort("size", reverse=True))
        await both(lambda t: t.add_row("late", "1 kB", "", key="late"))
        await both(lambda t: t.update_cell("late", "size", "999 kB"))
        await both(lambda t: t.sort(key=lambda row: row[0]))
        await both(lambda t: t.clear())
        ours.add_keyed_rows(rows(5, start=100))
        for cells, key in rows(5, start=100):
            theirs.add_row(*cells, key=key)
        await pilot.pause()
        same(ours, theirs)
        assert ours.cursor_row == theirs.cursor_row == 0


class Focusing(App[None]):
    """Both tables styled alike, focused or not (as regtui's panes are)."""

    CSS = """
    DataTable { background-tint: $foreground 0%; }
    DataTable:focus { background-tint: $foreground 0%; }
    """

    def compose(self) -> ComposeResult:
        yield RegtuiDataTable(id="ours")
        yield DataTable(id="theirs", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            table.add_column("name", key="name")
            for i in range(3):
                table.add_row(f"item-{i}", key=f"k{i}")


def looks_of(line: list[tuple[str, str]]) -> list[tuple[int, str]]:
    """A drawn line without its text: (width, style) of each segment."""
    return [(len(text), style) for text, style in line]


def cursor_line(table: DataTable[Any]) -> list[tuple[str, str]]:
    """The cursor row as drawn: (text, style) of each segment."""
    y = table.cursor_row + 1  # under the header
    strip = table.render_lines(Region(0, y, table.size.width, 1))[0]
    return [(segment.text, str(segment.style)) for segment in strip]


class FocusingTheirs(Focusing):
    """As ``Focusing``, with Textual's table focused first: ours has never had the focus."""

    AUTO_FOCUS = "#theirs"


class FocusTinted(FocusingTheirs):
    """A table whose own look (not only its cursor) depends on its focus."""

    CSS = "RegtuiDataTable:focus { background: red; }"


async def test_focus_looks_worked_out_ahead_of_time_are_the_ones_focus_shows() -> None:
    """``warm_focus_looks`` changes nothing on screen; the focus changes after it show
    exactly what Textual's ``DataTable`` shows."""
    app = FocusingTheirs()
    async with app.run_test(size=(40, 12)) as pilot:
        ours = app.query_one("#ours", RegtuiDataTable)
        theirs = app.query_one("#theirs", DataTable)
        await pilot.pause()
        assert theirs.has_focus
        focused, blurred = cursor_line(theirs), cursor_line(ours)
        assert focused != blurred

        assert ours.warm_focus_looks()
        assert not ours.warm_focus_looks()  # done once
        await pilot.pause()
        assert cursor_line(ours) == blurred
        ours.move_cursor(row=1)  # a row drawn afresh, with the styles it has now
        await pilot.pause()
        assert looks_of(cursor_line(ours)) == looks_of(blurred)
        ours.move_cursor(row=0)

        restyled: list[object] = []
        apply = app.stylesheet.apply

        def counting_apply(node: Any, **kwargs: Any) -> None:
            restyled.append(node)
            apply(node, **kwargs)

        app.stylesheet.apply = counting_apply  # type: ignore[method-assign]
        ours.focus()
        await pilot.pause()
        app.stylesheet.apply = apply  # type: ignore[method-assign]
        assert ours not in restyled  # the point: the styles were already worked out
        assert cursor_line(ours) == focused
        assert cursor_line(theirs) == blurred
        theirs.focus()
        await pilot.pause()
        assert cursor_line(ours) == blurred
        assert cursor_line(theirs) == focused


async def test_a_table_whose_own_look_follows_its_focus_is_restyled_back() -> None:
    """When the table itself looks different focused, warming must leave it as it was."""
    app = FocusTinted()
    async with app.run_test(size=(40, 12)) as pilot:
        ours = app.query_one("#ours", RegtuiDataTable)
        theirs = app.query_one("#theirs", DataTable)
        await pilot.pause()
        blurred_background = ours.styles.background
        assert ours.warm_focus_looks()
        assert not ours.warm_focus_looks()  # nothing to keep, and not tried over and over
        assert ours.styles.background == blurred_background
        ours.focus()
        await pilot.pause()
        assert ours.styles.background.rgb == (255, 0, 0)
        theirs.focus()
        await pilot.pause()
        assert ours.styles.background == blurred_background


async def test_a_table_looks_focused_as_textual_draws_it_across_focus_changes_and_themes() -> None:
    """The cursor row shows the focus exactly as ``DataTable`` does, after many focus
    changes (whose styles ``RegtuiDataTable`` keeps) and after a change of theme (which
    must not bring back the old theme's cursor)."""
    app = Focusing()
    async with app.run_test(size=(40, 12)) as pilot:
        ours = app.query_one("#ours", RegtuiDataTable)
        theirs = app.query_one("#theirs", DataTable)

        async def looks() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
            """The cursor rows of a focused and a blurred table (ours, then Textual's)."""
            ours.focus()
            await pilot.pause()
            focused, blurred_theirs = cursor_line(ours), cursor_line(theirs)
            theirs.focus()
            await pilot.pause()
            assert cursor_line(theirs) == focused
            assert cursor_line(ours) == blurred_theirs
            return focused, blurred_theirs

        first = await looks()
        assert first[0] != first[1]  # the focus shows
        for _ in range(3):
            assert await looks() == first

        assert app.theme != "textual-light"
        app.theme = "textual-light"
        await pilot.pause()
        light = await looks()
        assert light != first
        assert await looks() == light

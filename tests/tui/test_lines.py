"""LineView alone: bounded, filtered, wrapped, following — in a bare app."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from kudev.widgets.lines import Line, LineView, clean_text

pytestmark = pytest.mark.anyio


class ViewApp(App[None]):
    def __init__(self, view: LineView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


def lines(*texts: str, prefix: str = "") -> list[Line]:
    return [Line(t, prefix=prefix) for t in texts]


async def test_keeps_only_the_newest_lines():
    view = LineView(5)
    async with ViewApp(view).run_test(size=(40, 10)) as pilot:
        view.append(lines(*(str(i) for i in range(12))))
        await pilot.pause()
        assert view.rows_text() == ["7", "8", "9", "10", "11"]
        view.append(lines("12"))
        assert view.rows_text() == ["8", "9", "10", "11", "12"]


async def test_lines_passed_over_are_counted_as_received_and_new_but_never_shown():
    view = LineView(5)
    async with ViewApp(view).run_test(size=(40, 10)) as pilot:
        view.append(lines("a", "b"))
        view.set_follow(False)
        view.append(lines(*(str(i) for i in range(3, 8))), passed=1)  # "2" went by unseen
        await pilot.pause()
        assert view.rows_text() == ["3", "4", "5", "6", "7"]
        assert (view.received, view.unseen) == (8, 6)
        with pytest.raises(ValueError):
            view.append(lines("9"), passed=1)  # one newer line cannot have pushed "8" out


async def test_not_following_keeps_the_same_lines_in_view_while_old_ones_drop():
    view = LineView(50)
    async with ViewApp(view).run_test(size=(40, 10)) as pilot:
        view.append(lines(*(f"l{i}" for i in range(50))))
        await pilot.pause()
        view.scroll_to(y=20, animate=False, immediate=True)
        view.set_follow(False)
        top = view.visible_text()[0]
        view.append(lines(*(f"n{i}" for i in range(5))))
        await pilot.pause()
        assert view.visible_text()[0] == top
        assert view.unseen == 5


async def test_filter_rebuilds_from_every_kept_line_and_marks_matches():
    view = LineView(100)
    async with ViewApp(view).run_test(size=(40, 10)) as pilot:
        view.append(lines("GET /a 200", "POST /b 500", "GET /c 500"))
        view.set_filter("500")
        await pilot.pause()
        assert view.rows_text() == ["POST /b 500", "GET /c 500"]
        view.append(lines("GET /d 200", "GET /e 500"))
        assert view.rows_text() == ["POST /b 500", "GET /c 500", "GET /e 500"]
        assert view.shown_count == 3 and view.line_count == 5
        view.set_filter("")
        assert len(view.rows_text()) == 5


async def test_filter_matches_the_prefix_too():
    view = LineView(100)
    async with ViewApp(view).run_test(size=(60, 10)) as pilot:
        view.append(lines("one", prefix="web-1") + lines("two", prefix="worker-1"))
        view.set_filter("worker")
        await pilot.pause()
        assert view.rows_text() == ["worker-1 two"]


async def test_wrap_splits_long_lines_under_the_prefix_column():
    view = LineView(100, wrap=True)
    async with ViewApp(view).run_test(size=(30, 10)) as pilot:
        view.append(lines("x" * 40, prefix="pod"))
        await pilot.pause()
        rows = view.rows_text()
        assert rows[0].startswith("pod x") and rows[1].startswith("    x")
        assert "".join(r[4:] for r in rows) == "x" * 40
        assert all(len(r) <= 29 for r in rows)  # 30 columns, one kept for the scrollbar


def test_clean_text_drops_terminal_escapes_and_tabs():
    assert clean_text("\x1b[31mred\x1b[0m\tok\x07") == "red ok"
    assert clean_text("plain") == "plain"
    assert len(clean_text("x" * 10_000)) == 4_001

"""The logs pane under a flood: lines come in batches, in order, none lost below the bound, the
bound holds and what it skips is said; behind a covering screen they wait, then arrive."""

from __future__ import annotations

import threading
import time

import pytest

from kudev import events as ev
from kudev.screens.help import HelpScreen
from kudev.view_model.feed import MAX_LOG_LINES
from kudev.widgets.lines import LineView
from kudev.widgets.log_pane import LogPane
from tests.tui import scripts
from tests.tui.conftest import settle, wait_until
from tests.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio

SIZE = (100, 30)
CHUNK = 2_000  # what one burst of the fault test's container prints


def pane(app) -> LogPane:
    return app.dashboard.query_one(LogPane)


def view(app) -> LineView:
    return app.dashboard.query_one("#log-lines", LineView)


def flood_lines(start: int, count: int) -> list[ev.Event]:
    return scripts.logs(scripts.POD_A, *(f"flood {i}" for i in range(start, start + count)))


def emit_in_bursts(app, engine, total: int) -> threading.Thread:
    """From an engine-side thread, as the log followers do: a burst, then wait until the UI
    took it (no clock: the next burst goes when the feed is empty)."""

    def run() -> None:
        for start in range(0, total, CHUNK):
            engine.emit(*flood_lines(start, min(CHUNK, total - start)))
            deadline = time.monotonic() + 10
            while app.feed.pending and time.monotonic() < deadline:
                time.sleep(0.001)

    thread = threading.Thread(target=run, name="test-flood")
    thread.start()
    return thread


async def test_lines_from_an_engine_thread_arrive_in_order_and_none_is_lost(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        before = view(d.app).received
        producer = emit_in_bursts(d.app, d.engine, 30_000)
        await wait_until(pilot, lambda: not producer.is_alive(), timeout=30)
        producer.join()
        await settle(pilot, d.engine)
        assert view(d.app).received - before == 30_000
        assert pane(d.app).dropped == 0
        rows = view(d.app).rows_text()
        assert len(rows) == MAX_LOG_LINES
        assert [row.split()[-1] for row in rows] == [str(i) for i in range(20_000, 30_000)]
        assert "skipped" not in str(pane(d.app).border_subtitle)


async def test_the_bound_holds_and_what_it_skipped_is_said(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        # All at once, before the UI can take any: more than the feed may hold.
        d.engine.emit(*flood_lines(0, 25_000))
        await settle(pilot, d.engine)
        rows = view(d.app).rows_text()
        assert len(rows) == MAX_LOG_LINES
        assert [row.split()[-1] for row in rows] == [str(i) for i in range(15_000, 25_000)]
        assert pane(d.app).dropped == 15_000
        assert "15,000 skipped under load" in str(pane(d.app).border_subtitle)


async def test_lines_wait_behind_the_help_screen_and_arrive_when_it_closes(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        before = view(d.app).received
        await pilot.press("question_mark")
        assert isinstance(d.app.screen, HelpScreen)
        producer = emit_in_bursts(d.app, d.engine, 18_000)
        await wait_until(pilot, lambda: not producer.is_alive(), timeout=30)
        producer.join()
        await settle(pilot, d.engine)
        assert view(d.app).received == before  # nothing redrawn behind the help
        assert d.app.state.pod_logs[scripts.POD_A][-1].line == "flood 17999"  # state is current

        await pilot.press("escape")
        await pilot.pause()
        assert view(d.app).received - before == 18_000
        rows = view(d.app).rows_text()
        assert [row.split()[-1] for row in rows] == [str(i) for i in range(8_000, 18_000)]
        # The pane keeps 10k lines either way: the 8k it never drew are not "skipped".
        assert pane(d.app).dropped == 0
        assert "skipped" not in str(pane(d.app).border_subtitle)


async def test_a_pods_change_behind_the_help_screen_is_drawn_when_it_closes(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("question_mark")
        d.engine.emit(scripts.pods(scripts.pod("hello-new-pod", scripts.TAG2, phase="Pending")))
        await settle(pilot, d.engine)
        assert [p.name for p in d.app.state.pods] == ["hello-new-pod"]
        await pilot.press("escape")
        await pilot.pause()
        assert "hello-new" in screen_text(d.app)

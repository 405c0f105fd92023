"""What the dashboard looks like in its main states (pytest-textual-snapshot).

Update after a deliberate change with `python -m pytest tests/tui --snapshot-update` and look at
the SVGs (open tests/tui/__snapshots__/…/*.svg or the report) before committing them.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from tests.tui import scripts
from tests.tui.conftest import Dashboard, settle

SIZE = (100, 30)


def settled(d: Dashboard, *keys: str) -> Callable[[Pilot[None]], object]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, d.engine)
        if keys:
            await pilot.press(*keys)
            await pilot.pause()

    return run_before


def test_first_start(snap_compare, dashboard):
    d = dashboard(scripts.started())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d))


def test_building(snap_compare, dashboard):
    d = dashboard(scripts.building())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d))


def test_ready(snap_compare, dashboard):
    d = dashboard(scripts.ready())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d))


def test_ready_at_80x24(snap_compare, dashboard):
    d = dashboard(scripts.ready())
    assert snap_compare(d.app, terminal_size=(80, 24), run_before=settled(d))


def test_ready_wide(snap_compare, dashboard):
    d = dashboard(scripts.ready())
    assert snap_compare(d.app, terminal_size=(180, 40), run_before=settled(d))


def test_crash_looping_pod(snap_compare, dashboard):
    d = dashboard(scripts.crash_looping())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d))


def test_crash_looping_pod_detail(snap_compare, dashboard):
    d = dashboard(scripts.crash_looping())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d, "2", "down", "enter"))


def test_build_failed(snap_compare, dashboard):
    d = dashboard(scripts.build_failed())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d))


def test_daemon_down(snap_compare, dashboard):
    d = dashboard(scripts.daemon_down())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d))


def test_build_history(snap_compare, dashboard):
    d = dashboard(scripts.build_failed())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d, "b"))


def test_help(snap_compare, dashboard):
    d = dashboard(scripts.ready())
    assert snap_compare(d.app, terminal_size=SIZE, run_before=settled(d, "question_mark"))

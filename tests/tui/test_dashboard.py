"""The dashboard driven by a scripted event stream: every key and screen, as a person sees it."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import DataTable

from kudev import events as ev
from kudev.deploy.pod_details import ContainerState, PodDetail, PodEvent
from kudev.screens.help import HelpScreen
from kudev.screens.history import BuildHistoryScreen
from kudev.screens.pod_detail import PodDetailScreen
from kudev.session import SessionOptions
from kudev.widgets.build_pane import BuildPane
from kudev.widgets.lines import LineView
from kudev.widgets.log_pane import LogPane
from tests.tui import scripts
from tests.tui.conftest import T0, settle, wait_until
from tests.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio

SIZE = (100, 30)


def log_view(app) -> LineView:
    return app.dashboard.query_one("#log-lines", LineView)


def log_subtitle(app) -> str:
    return str(app.dashboard.query_one(LogPane).border_subtitle)


async def test_first_start_shows_where_it_deploys_and_that_nothing_is_built(dashboard):
    d = dashboard(scripts.started())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        text = screen_text(d.app)
    header = text.splitlines()[0]
    assert "hello" in header and "ctx kind-dev (kind)" in header and "ns default" in header
    assert "hello:(not built yet)" in header and "WATCHING" in header
    assert "waiting for the first cycle" in text
    assert "no log lines yet" in text


async def test_ready_shows_tag_stage_times_and_the_files_that_triggered_it(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        lines = screen_text(d.app).splitlines()
    assert f"hello:{scripts.TAG2}" in lines[0] and "READY" in lines[0]
    assert lines[1].startswith(" now  #2")
    for stage in ("hash 0.01s", "build 2.31s", "load 1.20s", "apply 0.41s", "ready 3.20s"):
        assert stage in lines[1]
    assert "✓ 7.13s" in lines[1]
    assert lines[2].startswith(" last #1")
    assert "why  #2 change: www/index.html, serve.sh" in lines[3]


async def test_the_engine_runs_in_a_worker_thread(dashboard):
    d = dashboard(scripts.started())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        assert d.engine.run_thread and d.engine.run_thread != threading.main_thread().name


async def test_r_asks_the_engine_for_a_rebuild(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("r")
        assert d.engine.calls == ["rebuild"]
        await wait_until(pilot, lambda: "rebuild requested" in screen_text(d.app))


async def test_p_pauses_and_resumes_watching(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("p")
        await settle(pilot, d.engine)
        assert "watching paused (p)" in screen_text(d.app).splitlines()[0]
        await pilot.press("p")
        await settle(pilot, d.engine)
        assert "watching paused" not in screen_text(d.app)
    assert d.engine.calls[:2] == ["pause", "resume"]


async def test_q_stops_the_engine_waits_for_it_and_exits_0(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        worker = d.app._engine_worker
        await pilot.press("q")
        await pilot.pause()
    assert d.engine.calls == ["stop"]
    assert worker is not None and worker.is_finished
    assert d.app.return_code == 0


async def test_z_zooms_the_focused_pane_and_z_again_restores(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("1", "z")
        text = screen_text(d.app)
        assert "build #2" in text and "pods 2/2" not in text and "following" not in text
        await pilot.press("z")
        text = screen_text(d.app)
        assert "build #2" in text and "pods 2/2" in text and "following" in text


async def test_tab_moves_between_the_panes(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        seen = []
        for _ in range(3):
            seen.append(d.app.dashboard.focused_pane().id)
            await pilot.press("tab")
    assert seen == ["logs", "build", "pods"]


async def test_slash_filters_logs_as_you_type_and_escape_clears(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("slash", *"version")
        shown = log_view(d.app).visible_text()
        assert len(shown) == 1 and "GET /version.txt 200" in shown[0]
        assert "filter “version”: 1 of 4" in log_subtitle(d.app)
        await pilot.press("escape")
        assert len(log_view(d.app).visible_text()) == 4


async def test_filter_that_matches_nothing_says_so(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("slash", *"zzz", "enter")
        assert "no line matches “zzz”" in screen_text(d.app)


async def test_c_clears_the_logs(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("c")
        assert log_view(d.app).visible_text() == []
        assert "0 lines" in log_subtitle(d.app)


async def test_f_pauses_following_and_end_follows_again(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("f")
        d.engine.emit(*scripts.logs(scripts.POD_A, *(f"line {i}" for i in range(40))))
        await settle(pilot, d.engine)
        assert "paused · 40 new" in log_subtitle(d.app)
        assert "line 39" not in "\n".join(log_view(d.app).visible_text())
        await pilot.press("G")
        await pilot.pause()
        assert log_view(d.app).visible_text()[-1].endswith("line 39")
        assert log_subtitle(d.app).startswith("following")


async def test_scrolling_up_stops_following(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        d.engine.emit(*scripts.logs(scripts.POD_A, *(f"line {i}" for i in range(40))))
        await settle(pilot, d.engine)
        await pilot.press("3", "up")
        assert log_subtitle(d.app).startswith("paused")
        await pilot.press("end")
        assert log_subtitle(d.app).startswith("following")


async def test_w_wraps_long_log_lines(dashboard):
    d = dashboard(scripts.ready())
    long_line = "a" * 70 + "b" * 70 + "END"
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        d.engine.emit(*scripts.logs(scripts.POD_A, long_line))
        await settle(pilot, d.engine)
        assert "END" not in "\n".join(log_view(d.app).visible_text())
        await pilot.press("w")
        await pilot.pause()
        rows = log_view(d.app).visible_text()[-2:]  # 140 cells after the pod name: two rows
        assert "".join(row.split()[-1] for row in rows) == long_line
        assert "wrap" in log_subtitle(d.app)


async def test_each_pod_keeps_its_colour(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        pane = d.app.dashboard.query_one(LogPane)
        first, second = pane.colour_index(scripts.POD_A), pane.colour_index(scripts.POD_B)
        d.engine.emit(*scripts.logs(scripts.POD_B, "again"), *scripts.logs(scripts.POD_A, "x"))
        await settle(pilot, d.engine)
        assert first != second
        assert (pane.colour_index(scripts.POD_A), pane.colour_index(scripts.POD_B)) == (
            first,
            second,
        )


async def test_pods_are_listed_with_phase_ready_restarts_age_and_tag(dashboard):
    d = dashboard(scripts.crash_looping())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        table = d.app.dashboard.query_one("#pods-table", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    assert rows == [
        [f"● {scripts.POD_A}", "Running", "1/1", "0", "3m", scripts.TAG1],
        ["✗ hello-5f8b9c7d6-xk2lp", "CrashLoopBackOff", "0/1", "5", "5m", scripts.TAG2],
    ]


async def test_a_newer_pods_snapshot_replaces_the_older(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        d.engine.emit(
            scripts.pods(scripts.pod("hello-new-1", scripts.TAG2)),
            scripts.pods(scripts.pod("hello-new-2", scripts.TAG2)),
        )
        await settle(pilot, d.engine)
        table = d.app.dashboard.query_one("#pods-table", DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["● hello-new-2"]


async def test_enter_on_a_crashing_pod_shows_exit_code_reason_and_last_lines(dashboard):
    d = dashboard(scripts.crash_looping())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("2", "down", "enter")
        await pilot.pause()
        assert isinstance(d.app.screen, PodDetailScreen)
        text = screen_text(d.app)
        assert "hello-5f8b9c7d6-xk2lp  CrashLoopBackOff  ready 0/1  restarts 5" in text
        assert "app        CrashLoopBackOff  1" in text
        assert "Previous container's last lines" in text
        assert "sh: /serve.sh: line 3: httpd: not found" in text
        assert "Kubernetes events not available yet" in text
        await pilot.press("escape")
        assert not isinstance(d.app.screen, PodDetailScreen)


class FakePodDetails:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def describe(self, pod: str) -> PodDetail:
        self.asked.append((pod, threading.current_thread().name))
        return PodDetail(
            containers=(
                ContainerState(
                    "app",
                    "waiting",
                    "CrashLoopBackOff",
                    restarts=5,
                    last_exit_code=137,
                    last_reason="OOMKilled",
                ),
            ),
            events=(PodEvent("Warning", "BackOff", "Back-off restarting", T0 + 590, count=7),),
        )


async def test_pod_detail_source_adds_container_states_and_kubernetes_events(dashboard):
    source = FakePodDetails()
    d = dashboard(scripts.crash_looping(), pod_details=source)
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("2", "down", "enter")
        await wait_until(pilot, lambda: "BackOff" in screen_text(d.app).split("Recent events")[1])
        text = screen_text(d.app)
    assert "waiting CrashLoopBackOff  137   OOMKilled" in text
    assert "10s  Warning  BackOff  Back-off restarting (x7)" in text
    assert source.asked[0][0] == "hello-5f8b9c7d6-xk2lp"
    assert source.asked[0][1] != threading.main_thread().name


async def test_an_engine_can_offer_its_pod_detail_source(project):
    from kudev.app import make_app
    from tests.tui.conftest import ScriptedEngine, fixed_clock

    source = FakePodDetails()

    def factory(_project, _options, sink):
        engine = ScriptedEngine(sink, scripts.crash_looping())
        engine.pod_details = source  # type: ignore[attr-defined]
        return engine

    app = make_app(project, SessionOptions(), engine_factory=factory, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "CrashLoopBackOff" in screen_text(app))
        await pilot.press("2", "down", "enter")
        await wait_until(pilot, lambda: bool(source.asked))


async def test_b_lists_every_cycle_and_enter_shows_that_build(dashboard):
    d = dashboard(scripts.build_failed())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("b")
        assert isinstance(d.app.screen, BuildHistoryScreen)
        rows = [line.split() for line in screen_text(d.app).splitlines()[2:4]]
        assert rows[0] == [
            "2",
            "failed",
            "1m",
            "ago",
            "–",
            "0.00s",
            "✗",
            "0.38s",
            "–",
            "–",
            "–",
            "0.39s",
            "change:",
            "Dockerfile",
        ]
        assert rows[1] == [
            "1",
            "ok",
            "10m",
            "ago",
            scripts.TAG1,
            "0.01s",
            "2.31s",
            "1.20s",
            "0.41s",
            "3.20s",
            "7.13s",
            "initial",
        ]
        text = screen_text(d.app)
        assert "failed at Step 2/3 : COPY missing.txt /x" in text  # the selected cycle's detail
        await pilot.press("down", "enter")
        assert not isinstance(d.app.screen, BuildHistoryScreen)
        assert d.app.dashboard.query_one(BuildPane).border_title == "build #1 · ok"
        await pilot.press("1", "right_square_bracket")
        assert d.app.dashboard.query_one(BuildPane).border_title == "build #2 · FAILED"


async def test_an_earlier_build_stays_shown_until_the_next_cycle_starts(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        pane = d.app.dashboard.query_one(BuildPane)
        await pilot.press("1", "left_square_bracket")
        assert pane.border_title == "build #1 · ok"
        assert "earlier build · ] newer (latest #2)" in str(pane.border_subtitle)
        d.engine.emit(ev.Notice(message="unrelated", ts=T0))
        await settle(pilot, d.engine)
        assert pane.border_title == "build #1 · ok"
        d.engine.emit(ev.CycleStarted(cycle=3, reason="forced", ts=T0))
        await settle(pilot, d.engine)
        assert pane.border_title == "build #3 · running"


async def test_build_failure_pins_the_failing_step_and_e_jumps_to_it(dashboard):
    d = dashboard(scripts.build_failed())
    async with d.app.run_test(size=(100, 24)) as pilot:
        await settle(pilot, d.engine)
        text = screen_text(d.app)
        assert "✗ failed at Step 2/3 : COPY missing.txt /x  (e: jump to it)" in text
        view = d.app.dashboard.query_one("#build-lines", LineView)
        assert view.visible_text()[0] != "Step 2/3 : COPY missing.txt /x"
        await pilot.press("1", "e")
        assert view.visible_text()[0] == "Step 2/3 : COPY missing.txt /x"
        assert "COPY failed: file not found" in view.visible_text()[1]


async def test_error_banner_stays_until_the_next_good_cycle(dashboard):
    d = dashboard(scripts.daemon_down())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        text = screen_text(d.app)
        assert "✗ cannot reach the Docker daemon at unix:///var/run/docker.sock" in text
        assert "→ start it (`sudo systemctl start docker`" in text
        assert "kudev retries by itself" in text
        d.engine.emit(
            ev.CycleStarted(cycle=2, reason="retry", ts=T0),
            ev.Notice(message="still trying", ts=T0),
        )
        await settle(pilot, d.engine)
        assert "cannot reach the Docker daemon" in screen_text(d.app)
        d.engine.emit(*scripts.cycle(3, scripts.TAG1, reason="retry"))
        await settle(pilot, d.engine)
        text = screen_text(d.app)
        assert "cannot reach the Docker daemon" not in text.split("╭")[0]
        assert "READY" in text


class CrashingEngine:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def run(self) -> bool:
        raise RuntimeError("boom")

    def request_rebuild(self) -> None:
        self.calls.append("rebuild")

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def stop(self) -> None:
        self.calls.append("stop")


async def test_an_engine_crash_is_shown_and_the_dashboard_keeps_running(project):
    from kudev.app import make_app

    engine = CrashingEngine()
    app = make_app(project, SessionOptions(), engine_factory=lambda *_: engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "engine stopped" in screen_text(app))
        text = screen_text(app)
        assert "✗ kudev's engine stopped: RuntimeError: boom" in text
        assert "STOPPED" in text.splitlines()[0]
        await pilot.press("b")
        assert isinstance(app.screen, BuildHistoryScreen)
        await pilot.press("escape", "q")
        await pilot.pause()
    assert app.return_code == 1


async def test_question_mark_opens_help_naming_every_key(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=(100, 40)) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("question_mark")
        assert isinstance(d.app.screen, HelpScreen)
        text = screen_text(d.app)
        for key in ("r ", "p ", "z ", "/ ", "c ", "q ", "b ", "f ", "w ", "End  G", "Tab", "Enter"):
            assert f"│ {key}" in text, key
        await pilot.press("escape")
        assert not isinstance(d.app.screen, HelpScreen)


def test_every_binding_is_in_the_help():
    from kudev.app import KudevApp
    from kudev.screens.dashboard import DashboardScreen
    from kudev.screens.help import KEYS
    from kudev.widgets.build_pane import BuildPane

    described = " ".join(key for _group, keys in KEYS for key, _ in keys).lower()
    names = {
        "question_mark": "?",
        "slash": "/",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
    }
    for owner in (KudevApp, DashboardScreen, BuildPane):
        for binding in owner.BINDINGS:
            for key in binding.key.split(","):  # type: ignore[union-attr]
                assert names.get(key, key).lower() in described, (owner.__name__, key)


def palette_offers(app, word: str) -> bool:
    from textual.command import CommandList, CommandPalette

    if not isinstance(app.screen, CommandPalette):
        return False
    options = app.screen.query_one(CommandList)
    return options.highlighted is not None and any(
        word in str(options.get_option_at_index(i).prompt).lower()
        for i in range(options.option_count)
    )


async def test_command_palette_offers_kudev_commands(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.press("ctrl+p", *"rebuild")
        # The palette searches its providers in a worker: wait for the hit, not for a time.
        await wait_until(pilot, lambda: palette_offers(d.app, "rebuild"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: d.engine.calls == ["rebuild"])


async def test_port_forward_and_rollout_are_shown(dashboard):
    script = [
        *scripts.ready(),
        ev.PortForwardState(local=8080, remote=8080, target=f"pod/{scripts.POD_A}", active=True),
        ev.PortForwardState(local=9090, remote=9090, target="x", active=False, error="refused"),
        ev.RolloutProgress(cycle=2, workload="deployment/hello", ready=1, desired=2, ts=T0),
    ]
    d = dashboard(script)
    async with d.app.run_test(size=(150, 30)) as pilot:
        await settle(pilot, d.engine)
        text = screen_text(d.app)
    assert ":8080→8080  :9090→9090 (refused)" in text.splitlines()[0]
    assert "pods 2/2 ready · deployment/hello 1/2" in text


async def test_build_only_says_nothing_is_deployed(dashboard):
    d = dashboard(scripts.started()[:1], options=SessionOptions(load_images=False))
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        text = screen_text(d.app)
    assert "hello  build only" in text and "build only: nothing deployed" in text


async def test_the_logs_pane_keeps_the_newest_10k_lines(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        for chunk in range(4):
            lines = (f"line {chunk * 3000 + i}" for i in range(3000))
            d.engine.emit(*scripts.logs(scripts.POD_A, *lines))
            await settle(pilot, d.engine)
        view = log_view(d.app)
        assert view.line_count == 10_000
        assert view.rows_text()[0].endswith("line 2000")  # 4 + 12,000 lines came
        assert view.visible_text()[-1].endswith("line 11999")


async def test_a_flood_faster_than_the_ui_is_shed_and_counted(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        d.engine.emit(*scripts.logs(scripts.POD_A, *(f"flood {i}" for i in range(25_000))))
        await settle(pilot, d.engine)
        assert log_view(d.app).visible_text()[-1].endswith("flood 24999")
        assert "skipped under load" in log_subtitle(d.app)


async def test_nothing_is_scheduled_while_no_event_arrives(dashboard):
    d = dashboard(scripts.ready())
    async with d.app.run_test(size=SIZE) as pilot:
        await settle(pilot, d.engine)
        await pilot.pause(0.2)
        assert d.app.dashboard._flush_timer is None
        assert not d.app.feed.pending


def test_no_color_is_respected(project, monkeypatch):
    from kudev.app import make_app

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(project, SessionOptions(), engine_factory=lambda *_: CrashingEngine())
    assert app.no_color


async def test_a_sync_cycle_shows_in_the_strip_the_pods_and_the_history(dashboard):
    d = dashboard(scripts.synced())
    async with d.app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, d.engine)
        text = screen_text(d.app)
        assert "hash 0.00s → sync 0.08s · 3 files · 2 pods  ✓ 0.08s" in text
        assert f"{scripts.TAG1} + 3 synced" in text
        assert f"{scripts.TAG1} + 3 synced, behind" in text
        await pilot.press("b")
        assert isinstance(d.app.screen, BuildHistoryScreen)
        history = screen_text(d.app)
        assert "sync: 3 files · 2 pods" in history and "— sync" in history
        rows = [line.split() for line in history.splitlines()[2:4]]
        assert rows[0][:4] == ["2", "ok", "1m", "ago"] and "0.08s" in rows[0]

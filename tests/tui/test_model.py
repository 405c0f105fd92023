"""The dashboard's plain-Python half: the thread-safe feed and the state folded from events."""

from __future__ import annotations

import threading

from kudev import events as ev
from kudev.view_model.feed import EventFeed
from kudev.view_model.state import SessionState, format_age, format_seconds, pod_health
from tests.test_headless import full_cycle
from tests.tui import scripts


def log(i: int) -> ev.LogLine:
    return ev.LogLine(pod="p", container="c", line=str(i))


def test_feed_asks_for_one_wake_up_until_the_ui_takes():
    feed = EventFeed()
    assert feed.put(log(1)) is True
    assert feed.put(log(2)) is False
    assert feed.put(ev.Notice(message="x")) is False
    batch = feed.take()
    assert [line.line for line in batch.logs] == ["1", "2"] and len(batch.events) == 1
    assert feed.put(log(3)) is True


def test_feed_keeps_the_newest_log_lines_and_counts_the_rest():
    feed = EventFeed(max_logs=100)
    for i in range(250):
        feed.put(log(i))
    batch = feed.take()
    assert [line.line for line in batch.logs] == [str(i) for i in range(150, 250)]
    assert batch.dropped_logs == 150
    assert feed.take().dropped_logs == 0


def test_a_waiting_pods_snapshot_is_replaced_in_place():
    feed = EventFeed()
    first = ev.PodsChanged(pods=())
    newer = ev.PodsChanged(pods=(scripts.pod("a", "t"),))
    feed.put(ev.Notice(message="before"))
    feed.put(first)
    feed.put(ev.Notice(message="after"))
    feed.put(newer)
    events = feed.take().events
    assert events == [events[0], newer, events[2]]
    assert [type(e) for e in events] == [ev.Notice, ev.PodsChanged, ev.Notice]


def test_feed_sheds_old_build_output_past_its_bound_but_keeps_other_events():
    feed = EventFeed(max_events=100)
    feed.put(ev.CycleStarted(cycle=1, reason="initial"))
    for i in range(150):
        feed.put(ev.BuildOutput(cycle=1, image="x", line=str(i)))
    feed.put(ev.CycleFinished(cycle=1, ok=True, seconds=1))
    batch = feed.take()
    assert isinstance(batch.events[0], ev.CycleStarted)
    assert isinstance(batch.events[-1], ev.CycleFinished)
    lines = [e.line for e in batch.events if isinstance(e, ev.BuildOutput)]
    assert lines[-1] == "149" and len(lines) <= 100
    assert batch.dropped_build_lines == 150 - len(lines)


def test_feed_takes_puts_from_many_threads():
    feed = EventFeed(max_logs=1_000_000)

    def produce() -> None:
        for i in range(10_000):
            feed.put(log(i))

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    taken = 0
    while any(t.is_alive() for t in threads):
        taken += len(feed.take().logs)
    for t in threads:
        t.join()
    taken += len(feed.take().logs)
    assert taken == 40_000


def fold(events: list[ev.Event]) -> SessionState:
    state = SessionState()
    for event in events:
        state.apply(event)
    return state


def test_phase_follows_the_running_stage():
    state = fold(scripts.started())
    assert state.phase == "watching"
    state.apply(ev.CycleStarted(cycle=1, reason="initial"))
    state.apply(ev.StageStarted(cycle=1, stage="build"))
    assert state.phase == "building"
    state.apply(ev.StageFinished(cycle=1, stage="build", seconds=1))
    state.apply(ev.StageStarted(cycle=1, stage="load"))
    assert state.phase == "loading"
    state.apply(ev.StageFinished(cycle=1, stage="load", seconds=1))
    state.apply(ev.StageStarted(cycle=1, stage="apply"))
    assert state.phase == "deploying"
    state.apply(ev.CycleFinished(cycle=1, ok=True, seconds=3))
    assert state.phase == "ready"


def test_a_crash_in_the_settle_window_turns_ready_into_failed():
    state = fold(scripts.started())
    state.apply(ev.CycleStarted(cycle=1, reason="initial"))
    state.apply(ev.CycleFinished(cycle=1, ok=True, seconds=3))
    assert state.phase == "ready"
    state.apply(
        ev.PodDiagnosis(cycle=1, pod="p", container="c", reason="Error", message="", exit_code=1)
    )
    state.apply(ev.ErrorReported(cause="deployment/app failed", cycle=1, stage="ready"))
    assert state.phase == "failed"
    assert state.cycle(1).stages["ready"].status == "failed"


def test_an_error_outside_the_settle_window_leaves_a_ready_cycle_ready():
    state = fold(scripts.started())
    state.apply(ev.CycleStarted(cycle=1, reason="initial"))
    state.apply(ev.CycleFinished(cycle=1, ok=True, seconds=3))
    state.apply(ev.ErrorReported(cause="port 8080 is taken", cycle=1, stage=""))
    assert state.phase == "ready"


def test_failed_step_is_found_in_buildkit_output():
    state = fold(
        [
            ev.CycleStarted(cycle=1, reason="initial"),
            ev.BuildOutput(cycle=1, image="x", line="#5 [1/3] FROM busybox:1.36"),
            ev.BuildOutput(cycle=1, image="x", line="#6 [2/3] COPY missing.txt /x"),
            ev.BuildOutput(cycle=1, image="x", line="#7 [3/3] RUN true"),
            ev.BuildOutput(
                cycle=1, image="x", line="#6 ERROR: failed to calculate checksum", stream="error"
            ),
        ]
    )
    record = state.current
    assert record is not None and record.failed_step == "[2/3] COPY missing.txt /x"
    assert record.failed_step_seq == 2  # the transcript's third line (after the cycle note)


def test_failed_step_is_found_in_classic_builder_output():
    state = fold(scripts.build_failed())
    record = state.current
    assert record is not None and record.failed_step == "Step 2/3 : COPY missing.txt /x"


def test_error_stays_until_a_good_cycle():
    state = fold(scripts.daemon_down())
    assert state.error is not None and state.phase == "failed"
    state.apply(ev.CycleFinished(cycle=2, ok=False, seconds=1))
    assert state.error is not None
    for event in scripts.cycle(3, scripts.TAG1):
        state.apply(event)
    assert state.error is None and state.errors_since_ok == 0


def test_stage_times_multi_image_sum_and_a_skip_does_not_hide_a_build():
    state = fold(
        [
            ev.CycleStarted(cycle=1, reason="initial"),
            ev.StageStarted(cycle=1, stage="build", image="a"),
            ev.StageFinished(cycle=1, stage="build", seconds=1.0, image="a"),
            ev.StageStarted(cycle=1, stage="build", image="b"),
            ev.StageFinished(cycle=1, stage="build", seconds=0.5, skipped=True, image="b"),
        ]
    )
    build = state.current.stages["build"]  # type: ignore[union-attr]
    assert build.status == "done" and build.seconds == 1.5


def transcript(state: SessionState, cycle: int) -> list[tuple[str, str]]:
    record = state.cycle(cycle)
    assert record is not None
    return [(line.kind, line.text) for line in record.lines]


def test_a_full_cycle_transcript_has_kudevs_note_on_each_stage():
    # The stream the headless printer's test reads (tests/test_headless.py): same words.
    assert transcript(fold(full_cycle()), 2) == [
        ("note", "cycle 2: change (www/page0.html, www/page1.html, www/page2.html and 2 more)"),
        ("step", "Step 1/2 : FROM busybox:1.36"),
        ("error", "no space left"),
        ("ok", "build hello done in 2.31s: hello:kudev-1a2b3c4d"),
        ("note", "build worker skipped in 0.00s"),
        ("ok", "load hello done in 1.20s: hello:kudev-1a2b3c4d"),
        ("ok", "apply done in 0.41s: deployment/hello"),
        ("ok", "ready done in 3.20s"),
        ("ok", "cycle 2 ok in 7.13s"),
    ]


def test_failed_and_cancelled_cycle_transcripts():
    state = fold(
        [
            ev.CycleStarted(cycle=1, reason="initial"),
            ev.StageFinished(cycle=1, stage="build", seconds=0.5, ok=False, image="hello"),
            ev.ErrorReported(cause="no such file", remedy="check the Dockerfile", cycle=1),
            ev.PodDiagnosis(
                cycle=1, pod="p", container="c", reason="OOMKilled", message="m", exit_code=137
            ),
            ev.CycleFinished(cycle=1, ok=False, seconds=0.5),
            ev.CycleStarted(cycle=2, reason="change", changed=("/elsewhere/a",), changed_total=1),
            ev.CycleFinished(cycle=2, ok=False, cancelled=True, seconds=0.25),
        ]
    )
    assert transcript(state, 1) == [
        ("note", "cycle 1: initial"),
        ("fail", "build hello failed in 0.50s"),
        ("fail", "error: no such file"),
        ("note", "  hint: check the Dockerfile"),
        ("fail", "pod p: OOMKilled (exit 137): m"),
        ("fail", "cycle 1 FAILED in 0.50s"),
    ]
    assert transcript(state, 2) == [
        ("note", "cycle 2: change (/elsewhere/a)"),
        ("note", "cycle 2 cancelled (newer change) in 0.25s"),
    ]


def test_pods_state_forgets_pods_gone_for_two_snapshots():
    state = fold(scripts.crash_looping())
    crashing = "hello-5f8b9c7d6-xk2lp"
    assert crashing in state.diagnoses and crashing in state.pod_logs
    state.apply(scripts.pods(scripts.pod(scripts.POD_A, scripts.TAG1)))
    assert crashing in state.diagnoses  # one snapshot of grace: logs may name a pod early
    state.apply(scripts.pods(scripts.pod(scripts.POD_A, scripts.TAG1)))
    assert crashing not in state.diagnoses and crashing not in state.pod_logs


def test_pod_health():
    assert pod_health(scripts.pod("a", "t")) == "ok"
    assert pod_health(scripts.pod("a", "t", ready="0/1", phase="Pending")) == "pending"
    assert pod_health(scripts.pod("a", "t", reason="CrashLoopBackOff", ready="0/1")) == "failing"
    assert pod_health(scripts.pod("a", "t", phase="Terminating")) == "gone"


def test_formats():
    assert [format_seconds(s) for s in (0.012, 12.34, 125)] == ["0.01s", "12.3s", "2m05s"]
    assert [format_age(s) for s in (5, 300, 7200, 200_000, -3)] == ["5s", "5m", "2h", "2d", "0s"]


def test_interleaved_builds_of_two_images_keep_the_stage_running_and_their_own_steps():
    state = fold(
        [
            ev.SessionStarted(project="p", root="/p", images=("api", "web")),
            ev.CycleStarted(cycle=1, reason="initial"),
            ev.StageStarted(cycle=1, stage="build", image="api"),
            ev.StageStarted(cycle=1, stage="build", image="web"),
            ev.BuildOutput(cycle=1, image="api", line="#6 [2/2] COPY . /app"),
            ev.BuildOutput(cycle=1, image="web", line="#6 [2/3] RUN make"),
            ev.StageFinished(cycle=1, stage="build", image="web", seconds=1.0, skipped=True),
        ]
    )
    record = state.current
    assert record is not None and record.stages["build"].status == "running"  # api still is
    state.apply(ev.BuildOutput(cycle=1, image="api", line="#6 ERROR: no file", stream="error"))
    assert record.failed_step == "[2/2] COPY . /app"  # api's step 6, not web's
    assert [line.image for line in record.lines if line.kind != "note"] == ["api", "web", "api"]
    state.apply(ev.StageFinished(cycle=1, stage="build", image="api", seconds=2.0, ok=False))
    assert record.stages["build"].status == "failed"

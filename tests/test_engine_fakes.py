"""The real Engine over faked seams (tests/enginefakes.py): no Docker, no cluster.

Each test drives the loop through the scripted change source and the fakes' gates and
reads the event stream, so it runs in milliseconds and checks what a front-end would see.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kudev import events as ev
from kudev import exit_codes
from kudev.config import Config, ImageSpec, load_config
from kudev.engine.cycle import MAX_CONTEXT_TRIES
from kudev.errors import BuildFailed, ClusterError, KudevError
from kudev.headless import run_headless
from kudev.project import Project, build_context
from kudev.session import SessionOptions
from tests.enginefakes import Fakes
from tests.enginelib import RunningEngine


def make_project(root: Path, *names: str) -> Project:
    """One folder per image, each with a Dockerfile and main.txt."""
    images = []
    for name in names or ("app",):
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
        (folder / "main.txt").write_text(f"{name} v1\n")
        images.append(ImageSpec(name=name, context=folder, dockerfile=folder / "Dockerfile"))
    config = Config(path=root / ".kudev.yaml", root=root, name="fakes", images=tuple(images))
    return Project(config=config, cache_dir=root.parent / "cache")


def started(log, cycle: int) -> ev.CycleStarted:
    return [e for e in log.of(ev.CycleStarted) if e.cycle == cycle][0]


def test_each_image_is_built_loaded_and_handed_to_the_deployer(tmp_path):
    project = make_project(tmp_path / "shop", "api", "web")
    fakes = Fakes()
    assert fakes.engine(project, SessionOptions(once=True)).run()
    log = fakes.log
    stages = [(e.stage, e.image) for e in log.of(ev.StageFinished)]
    assert stages[0] == ("hash", "") and stages[-1] == ("apply", "")
    for image in ("api", "web"):  # the two images build side by side: each in its order
        assert [s for s, i in stages if i == image] == ["build", "load"]
    ready = {e.image: e for e in log.of(ev.ImageReady)}
    assert set(ready) == {"api", "web"} and all(e.built and e.loaded for e in ready.values())
    assert sorted(fakes.builder.built) == [f"api:{ready['api'].tag}", f"web:{ready['web'].tag}"]
    assert fakes.deployer.deploys == [(1, {"api": ready["api"].ref, "web": ready["web"].ref})]
    assert ready["api"].ref == f"registry.fake/api:{ready['api'].tag}"
    assert not fakes.deployer.live  # --once: no pod or log streams
    finished = log.of(ev.CycleFinished)[0]
    assert finished.ok and set(finished.stages) == {"hash", "build", "load", "apply"}
    assert log.of(ev.ClusterConnected)[0].loader == "fake loader"


def test_an_existing_tag_is_not_built_again(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes()
    assert fakes.engine(project, SessionOptions(once=True)).run()
    fakes.log.events.clear()
    assert fakes.engine(project, SessionOptions(once=True)).run()
    build = [e for e in fakes.log.of(ev.StageFinished) if e.stage == "build"][0]
    assert build.skipped and build.detail.endswith(" exists")
    assert len(fakes.builder.built) == 1


def test_a_burst_of_changes_becomes_one_cycle(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes(hold_deploys=True)
    log, root = fakes.log, project.config.images[0].context
    with RunningEngine(fakes.engine(project)) as running:
        log.wait_for(lambda e: isinstance(e, ev.StageStarted) and e.stage == "apply")
        edited = []
        for i in range(3):  # the engine is busy deploying: all three wait in its inbox
            path = root / f"new{i}.txt"
            path.write_text(f"{i}\n")
            fakes.changes.send(path)
            edited.append(str(path))
        fakes.deployer.gate.release()
        assert log.cycle_finished(2).ok
        running.engine.request_rebuild()  # a marker: the cycle after the burst is this one
        log.cycle_finished(3)
    assert started(log, 2).reason == "change" and started(log, 2).changed == tuple(edited)
    assert started(log, 3).reason == "forced"


def test_a_change_mid_build_cancels_it_and_the_newest_state_is_built(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes()
    fakes.builder.gate.hold()
    log = fakes.log
    main = project.config.images[0].context / "main.txt"
    with RunningEngine(fakes.engine(project)):
        log.wait_for(lambda e: isinstance(e, ev.BuildOutput) and e.cycle == 1)
        main.write_text("v2\n")
        fakes.changes.send(main)
        first = log.cycle_finished(1)
        fakes.builder.gate.release()
        second = log.cycle_finished(2)
    assert first.cancelled and not first.ok and second.ok
    build_1 = [e for e in log.of(ev.StageFinished) if e.stage == "build" and e.cycle == 1][0]
    assert not build_1.ok
    assert started(log, 2).changed == (str(main),)
    newest = build_context(project.config.images[0], None)
    newest.scan()
    ready = log.of(ev.ImageReady)
    assert [e.cycle for e in ready] == [2] and ready[0].tag == newest.tag()
    assert fakes.builder.built == [f"app:{newest.tag()}"] != fakes.builder.prepared[:1]
    assert [d[0] for d in fakes.deployer.deploys] == [2]


def test_an_unreachable_daemon_is_retried_after_the_plans_delays(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes(unreachable=2, retry_delays=(0.05, 0.1))
    log = fakes.log
    with RunningEngine(fakes.engine(project)):
        assert log.cycle_finished(3).ok
    assert [started(log, n).reason for n in (1, 2, 3)] == ["initial", "retry", "retry"]
    errors = log.of(ev.ErrorReported)
    assert [(e.cycle, e.retrying) for e in errors] == [(1, True), (2, True)]
    assert "Docker daemon" in errors[0].cause
    finished = {e.cycle: e for e in log.of(ev.CycleFinished)}
    assert started(log, 2).ts - finished[1].ts >= 0.04
    assert started(log, 3).ts - finished[2].ts >= 0.09  # the second delay, not the first
    assert fakes.docker.connects == 3


def test_files_that_keep_changing_under_the_tar_end_the_cycle_with_an_error(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes()
    fakes.builder.context_changes = 2  # settles on the third try
    assert fakes.engine(project, SessionOptions(once=True)).run()
    fakes.builder.context_changes = 10
    (project.config.images[0].context / "main.txt").write_text("v2\n")
    assert not fakes.engine(project, SessionOptions(once=True)).run()
    error = fakes.log.of(ev.ErrorReported)[-1]
    assert "kept changing" in error.cause and f"{MAX_CONTEXT_TRIES} tries" in error.cause
    assert fakes.builder.context_changes == 10 - MAX_CONTEXT_TRIES


def write_config(root: Path, namespace_line: str) -> Path:
    (root / "app").mkdir(parents=True, exist_ok=True)
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")
    path = root / ".kudev.yaml"
    path.write_text(
        "metadata: {name: shop}\nspec:\n"
        f"  {namespace_line}\n"
        "  images:\n    - name: app\n      context: app\n"
    )
    return path


def test_a_good_config_edit_is_used_from_the_next_cycle(tmp_path):
    path = write_config(tmp_path / "p", "namespace: one")
    project = Project(config=load_config(path), cache_dir=tmp_path / "cache")
    fakes = Fakes()
    log = fakes.log
    with RunningEngine(fakes.engine(project)):
        assert log.cycle_finished(1).ok
        write_config(tmp_path / "p", "namespace: two")
        fakes.changes.send(path)
        assert log.cycle_finished(2).ok
    assert started(log, 2).reason == "config"
    assert any(e.message == "reloaded .kudev.yaml" for e in log.of(ev.Notice))
    first, second = fakes.deployers
    assert first.namespace == "one" and first.stopped == [False]  # stopped by the reload
    assert second.namespace == "two" and [d[0] for d in second.deploys] == [2]
    assert [e.namespace for e in log.of(ev.ClusterConnected)] == ["one", "two"]


def test_a_broken_config_edit_is_reported_at_its_line_and_the_old_one_kept(tmp_path):
    path = write_config(tmp_path / "p", "namespace: one")
    project = Project(config=load_config(path), cache_dir=tmp_path / "cache")
    fakes = Fakes()
    log = fakes.log
    with RunningEngine(fakes.engine(project)) as running:
        assert log.cycle_finished(1).ok
        write_config(tmp_path / "p", "namespaec: two")
        fakes.changes.send(path)
        log.wait_for(lambda e: isinstance(e, ev.Notice) and "keeping" in e.message)
        running.engine.request_rebuild()
        assert log.cycle_finished(2).ok
    error = log.of(ev.ErrorReported)[0]
    assert error.where.startswith(f"{path}:3:") and "namespaec" in error.cause
    assert started(log, 2).reason == "forced"  # the broken edit itself started nothing
    assert running.engine.project.config.namespace == "one"
    assert len(fakes.deployers) == 1 and [d[0] for d in fakes.deployer.deploys] == [1, 2]


def test_no_cycle_runs_while_paused_and_a_change_made_then_runs_on_resume(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes()
    log = fakes.log
    main = project.config.images[0].context / "main.txt"
    with RunningEngine(fakes.engine(project)) as running:
        log.cycle_finished(1)
        running.engine.pause()
        log.wait_for(lambda e: isinstance(e, ev.WatchState) and not e.watching)
        main.write_text("v2\n")
        fakes.changes.send(main)
        running.engine.request_rebuild()  # neither a change nor a request builds while paused
        running.engine.resume()
        log.cycle_finished(2)
    kinds = [
        (type(e).__name__, getattr(e, "watching", None))
        for e in log.events
        if isinstance(e, (ev.WatchState, ev.CycleStarted))
    ]
    assert kinds == [
        ("WatchState", True),
        ("CycleStarted", None),
        ("WatchState", False),
        ("WatchState", True),
        ("CycleStarted", None),
    ]
    assert started(log, 2).changed == (str(main),) and len(log.of(ev.CycleStarted)) == 2


def test_once_returns_the_cycles_result(tmp_path):
    project = make_project(tmp_path / "p")
    once = SessionOptions(once=True)
    assert Fakes().engine(project, once).run()

    failed_build = Fakes()
    failed_build.builder.failures = [BuildFailed("build failed at Step 2/2", "fix it")]
    assert not failed_build.engine(project, SessionOptions(once=True)).run()
    assert not failed_build.log.of(ev.ErrorReported)[0].retrying

    unreachable = Fakes(unreachable=1)
    assert not unreachable.engine(project, once).run()
    assert [e.retrying for e in unreachable.log.of(ev.ErrorReported)] == [False]
    assert len(unreachable.log.of(ev.CycleStarted)) == 1

    assert not Fakes(deploy_outcomes=[False]).engine(project, once).run()
    raising = Fakes(deploy_outcomes=[ClusterError("apply refused", "")])
    assert not raising.engine(project, once).run()
    apply = [e for e in raising.log.of(ev.StageFinished) if e.stage == "apply"][0]
    assert not apply.ok


def test_headless_once_exits_0_on_success_and_1_on_a_failed_build(tmp_path, capsys):
    project = make_project(tmp_path / "p")
    ok = Fakes()
    code = run_headless(project, SessionOptions(once=True), False, engine_factory=ok.engine)
    assert code == exit_codes.OK
    failed = Fakes()
    failed.builder.failures = [BuildFailed("build failed at Step 2/2: boom", "fix it")]
    code = run_headless(project, SessionOptions(once=True), False, engine_factory=failed.engine)
    assert code == exit_codes.FAILED == 1
    assert "error: build failed at Step 2/2: boom" in capsys.readouterr().out


def test_stop_during_a_build_cancels_it_and_joins_the_worker(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes()
    fakes.builder.gate.hold()
    before = set(threading.enumerate())
    with RunningEngine(fakes.engine(project)) as running:
        fakes.log.wait_for(lambda e: isinstance(e, ev.BuildOutput))
    assert running.result == [False]
    assert fakes.log.cycle_finished(1, timeout=1).cancelled
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("kudev-")]
    assert fakes.builder.closed and fakes.deployers == []


def test_pod_details_come_from_the_deployer_once_there_is_one(tmp_path):
    project = make_project(tmp_path / "p")
    fakes = Fakes()
    engine = fakes.engine(project)
    with pytest.raises(KudevError, match="not connected"):
        engine.pod_details.describe("web-1")
    with RunningEngine(engine):
        fakes.log.cycle_finished(1)
        assert engine.pod_details.describe("web-1").containers == ()


def test_twenty_sessions_with_the_real_watcher_leave_no_kudev_thread(tmp_path):

    project = make_project(tmp_path / "p")
    main = project.config.images[0].context / "main.txt"
    before = set(threading.enumerate())
    for session in range(20):
        fakes = Fakes()
        engine = fakes.engine(project, real_watcher=True)
        with RunningEngine(engine):
            assert fakes.log.cycle_finished(1, timeout=10).ok
            write_until_a_cycle_starts(main, f"session {session}", fakes.log)
            assert fakes.log.cycle_finished(2, timeout=10).ok
        assert fakes.deployer.stopped == [False]
        left = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("kudev-")]
        assert not left, f"session {session} left {left}"


def write_until_a_cycle_starts(path: Path, text: str, log) -> None:
    """Edit through inotify; the watch is armed a moment after the thread starts, so an edit
    in that moment is rewritten rather than waited for with a fixed pause."""
    for attempt in range(50):
        path.write_text(f"{text} ({attempt})\n")
        try:
            log.wait_for(lambda e: isinstance(e, ev.CycleStarted) and e.cycle == 2, timeout=0.2)
            return
        except AssertionError:
            continue
    raise AssertionError("no edit reached the engine through the watcher")

"""The engine against the real Docker Engine, fed scripted change batches."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kudev import events as ev
from kudev.build.buildkit import find_buildkit_cli
from kudev.build.docker_client import connect
from kudev.config import Config, ImageSpec
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.dockerlib import unique_name
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges
from tests.tools import missing_tool

pytestmark = pytest.mark.docker


def make_project(root: Path, dockerfile: str, files: dict[str, str], cache: Path) -> Project:
    root.mkdir(exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    name = unique_name("kudev-engine")
    image = ImageSpec(name=name, context=root, dockerfile=root / "Dockerfile")
    config = Config(path=root / ".kudev.yaml", root=root, name=name, images=(image,))
    return Project(config=config, cache_dir=cache)


def build_only(**kw) -> SessionOptions:
    return SessionOptions(load_images=False, **kw)


@pytest.fixture
def simple(tmp_path, isolated_cache, cleanup_images) -> Project:
    project = make_project(
        tmp_path / "app",
        "FROM scratch\nCOPY . /app\n",
        {"main.txt": "v1\n", ".dockerignore": "logs\n", "logs/a.log": "x\n"},
        isolated_cache,
    )
    cleanup_images.append(project.config.name)
    return project


def test_first_cycle_builds_and_reports_each_stage(simple):
    log = EventLog()
    ok = Engine(simple, build_only(once=True), log).run()
    assert ok
    kinds = [type(e) for e in log.events]
    # The context is hashed before the session starts; the scan says so first.
    assert kinds[:2] == [ev.ContextScan, ev.SessionStarted] and kinds[-1] is ev.CycleFinished
    stages = [(e.stage, e.skipped) for e in log.of(ev.StageFinished)]
    assert stages == [("hash", False), ("build", False), ("load", True)]
    ready = log.of(ev.ImageReady)[0]
    assert ready.ref.startswith(simple.config.name + ":kudev-") and len(ready.tag) == 14
    assert any(ready.tag in e.line for e in log.of(ev.BuildOutput))  # "tagged"/"naming to"


def test_unchanged_sources_skip_the_build(simple):
    assert Engine(simple, build_only(once=True), EventLog()).run()
    log = EventLog()
    assert Engine(simple, build_only(once=True), log).run()
    build = [e for e in log.of(ev.StageFinished) if e.stage == "build"][0]
    assert build.skipped and "exists" in build.detail
    assert not log.of(ev.BuildOutput)


def test_change_rebuilds_with_new_tag_and_names_the_file(simple):
    changes = ScriptedChanges()
    log = EventLog()
    engine = Engine(simple, build_only(), log, change_source=changes)
    with RunningEngine(engine):
        log.cycle_finished(1)
        first = log.of(ev.ImageReady)[0].tag
        main = simple.config.root / "main.txt"
        main.write_text("v2\n")
        changes.send(main)
        assert log.cycle_finished(2).ok
    started = [e for e in log.of(ev.CycleStarted) if e.cycle == 2][0]
    assert started.reason == "change" and started.changed == (str(main),)
    assert log.of(ev.ImageReady)[1].tag != first


def test_excluded_and_identical_changes_trigger_nothing(simple):
    changes = ScriptedChanges()
    log = EventLog()
    engine = Engine(simple, build_only(), log, change_source=changes)
    with RunningEngine(engine):
        log.cycle_finished(1)
        root = simple.config.root
        (root / "logs" / "b.log").write_text("new\n")
        (root / "main.txt").write_text("v1\n")  # same content, new mtime
        changes.send(root / "logs" / "b.log", root / "main.txt")
        assert changes.relevant is not None
        assert not changes.relevant(str(root / "logs/b.log"))
        assert changes.relevant(str(root / "main.txt"))
        engine.request_rebuild()  # a marker: the next cycle must be this forced one
        started = log.wait_for(lambda e: isinstance(e, ev.CycleStarted) and e.cycle == 2)
    assert started.reason == "forced" and started.changed == ()


@pytest.mark.parametrize("builder", ["sdk", "buildkit"])
def test_newer_change_cancels_running_build(
    tmp_path, isolated_cache, cleanup_images, busybox_base, docker_client, monkeypatch, builder
):
    monkeypatch.setenv("KUDEV_BUILDER", builder)
    if builder == "buildkit" and find_buildkit_cli() is None:
        missing_tool("no docker CLI with BuildKit on this machine")
    # The nonce defeats the layer cache; "$((6*7))" is only "42" once the step runs.
    project = make_project(
        tmp_path / "slow",
        f"FROM {busybox_base}\nCOPY nonce delay /\n"
        "RUN echo running-$((6*7)); sleep $(cat /delay)\n",
        {"delay": "30", "nonce": unique_name()},
        isolated_cache,
    )
    cleanup_images.append(project.config.name)
    changes = ScriptedChanges()
    log = EventLog()
    engine = Engine(project, build_only(), log, change_source=changes)
    started = time.monotonic()
    with RunningEngine(engine):
        log.wait_for(lambda e: isinstance(e, ev.BuildOutput) and "running-42" in e.line)
        delay = project.config.root / "delay"
        delay.write_text("0")
        changes.send(delay)
        first = log.cycle_finished(1)
        second = log.cycle_finished(2)
    assert first.cancelled and not first.ok
    assert second.ok
    assert time.monotonic() - started < 25, "the 30 s build was not cancelled"
    ready = log.of(ev.ImageReady)
    assert len(ready) == 1 and ready[0].cycle == 2
    leftovers = docker_client.containers.list(all=True, filters={"status": "running"})
    assert not [c for c in leftovers if "sleep" in " ".join(c.attrs["Config"]["Cmd"] or [])]


def test_daemon_down_is_reported_and_retried_until_it_is_back(simple, tmp_path, monkeypatch):
    # With `builder: auto` a dead Docker would hand the build to podman or the layer builder.
    images = tuple(replace(image, builder="docker") for image in simple.config.images)
    simple = Project(config=replace(simple.config, images=images), cache_dir=simple.cache_dir)
    socket_dir = tmp_path / "sock"
    socket_dir.mkdir()
    socket_path = socket_dir / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    log = EventLog()
    engine = Engine(simple, build_only(), log, change_source=ScriptedChanges())
    with RunningEngine(engine):
        error = log.wait_for(lambda e: isinstance(e, ev.ErrorReported))
        assert error.cause == (
            f"cannot reach the Docker daemon at unix://{socket_path} (socket not found)"
        )
        assert "dockerd" in error.remedy and error.retrying
        assert not log.cycle_finished(1).ok
        os.symlink("/var/run/docker.sock", socket_path)  # the daemon "comes back"
        retried = log.wait_for(lambda e: isinstance(e, ev.CycleFinished) and e.ok, timeout=30)
    started = [e for e in log.of(ev.CycleStarted) if e.cycle == retried.cycle][0]
    assert started.reason == "retry"


def test_build_failure_names_the_step_and_keeps_running(simple):
    (simple.config.root / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /x\n")
    changes = ScriptedChanges()
    log = EventLog()
    engine = Engine(simple, build_only(), log, change_source=changes)
    with RunningEngine(engine):
        assert not log.cycle_finished(1).ok
        error = log.of(ev.ErrorReported)[0]
        assert error.cause.startswith("build failed at ") and "COPY missing.txt /x" in error.cause
        assert "missing.txt" in error.cause and not error.retrying
        dockerfile = simple.config.root / "Dockerfile"
        dockerfile.write_text("FROM scratch\nCOPY main.txt /x\n")
        changes.send(dockerfile)
        assert log.cycle_finished(2).ok


def test_connect_reports_missing_socket(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nope.sock")
    from kudev.errors import DockerUnavailable

    with pytest.raises(DockerUnavailable) as info:
        connect()
    assert "socket not found" in info.value.cause


def test_a_temp_file_that_came_and_went_is_not_named_as_a_trigger(simple):
    changes = ScriptedChanges()
    log = EventLog()
    engine = Engine(simple, build_only(), log, change_source=changes)
    with RunningEngine(engine):
        log.cycle_finished(1)
        main = simple.config.root / "main.txt"
        main.write_text("v2\n")  # e.g. `sed -i` writes a temp file, then renames it over
        changes.send(main, simple.config.root / "sedAb12Cd")
        assert log.cycle_finished(2).ok
    started = [e for e in log.of(ev.CycleStarted) if e.cycle == 2][0]
    assert started.changed == (str(main),)

"""The real watcher (watchfiles/inotify) driving the real engine and Docker Engine."""

from __future__ import annotations

import time

import pytest

from kudev import events as ev
from kudev.config import Config, WatchSpec
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.enginelib import EventLog, RunningEngine
from tests.test_engine import make_project

pytestmark = pytest.mark.docker


@pytest.fixture
def watched(tmp_path, isolated_cache, cleanup_images) -> Project:
    project = make_project(
        tmp_path / "app",
        "FROM scratch\nCOPY . /app\n",
        {"main.txt": "v1\n", ".dockerignore": "logs\nnode_modules\n"},
        isolated_cache,
    )
    cleanup_images.append(project.config.name)
    config = project.config
    fast = Config(**{**config.__dict__, "watch": WatchSpec(debounce_ms=150)})
    return Project(config=fast, cache_dir=project.cache_dir)


def cycles_started(log: EventLog) -> list[ev.CycleStarted]:
    return log.of(ev.CycleStarted)


def quiet_for(log: EventLog, seconds: float) -> int:
    """Wait, then return how many cycles have started."""
    time.sleep(seconds)
    return len(cycles_started(log))


def test_saving_a_file_rebuilds_and_excluded_paths_do_not(watched):
    log = EventLog()
    engine = Engine(watched, SessionOptions(load_images=False), log)
    root = watched.config.root
    with RunningEngine(engine):
        log.cycle_finished(1)
        (root / "logs").mkdir()
        (root / "logs" / "x.log").write_text("noise\n")
        (root / "node_modules" / "pkg").mkdir(parents=True)
        (root / "node_modules" / "pkg" / "index.js").write_text("noise\n")
        assert quiet_for(log, 1.5) == 1, "an excluded path triggered a cycle"
        (root / "main.txt").write_text("v2\n")
        settled = log.settled_cycle(after=1, timeout=30)
        assert settled.ok
    assert log.changed_between(1, settled.cycle) == {str(root / "main.txt")}


def test_ten_thousand_files_moved_in_give_one_rebuild(watched, tmp_path):
    """A generated tree appears at once (built beside the project, then renamed in), the way
    an unpacked archive or a checkout lands; the storm-folding rules themselves are checked
    with a scripted clock in tests/test_watch_storms.py."""
    log = EventLog()
    engine = Engine(watched, SessionOptions(load_images=False), log)
    root = watched.config.root
    staging = tmp_path / "staging-src"  # same filesystem: the rename is one inotify event
    for d in range(100):
        folder = staging / f"d{d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"f{f}.txt").write_text(f"{d}-{f}\n")
    with RunningEngine(engine):
        log.cycle_finished(1)
        staging.rename(root / "src")
        settled = log.settled_cycle(after=1, timeout=60)
        assert settled.ok
        assert quiet_for(log, 2.0) == settled.cycle, "the move gave more than one rebuild"
        files = engine._images[0].context.files()
    assert log.cycles() == settled.cycle
    assert sum(1 for f in files if f.startswith("src/")) == 10_000
    assert str(root / "src") in log.changed_between(1, settled.cycle)


def test_config_error_keeps_the_old_config_and_says_where(watched):
    root = watched.config.root
    (root / ".kudev.yaml").write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\nmetadata:\n"
        f"  name: {watched.config.name}\nspec:\n  imageName: {watched.config.name}\n"
    )
    log = EventLog()
    engine = Engine(watched, SessionOptions(load_images=False), log)
    with RunningEngine(engine):
        log.cycle_finished(1)
        (root / ".kudev.yaml").write_text(
            "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\nmetadata:\n"
            f"  name: {watched.config.name}\nspec:\n  imageName: {watched.config.name}\n"
            "  replicas: many\n"
        )
        error = log.wait_for(lambda e: isinstance(e, ev.ErrorReported), timeout=30)
        assert ".kudev.yaml:7:" in error.cause or ".kudev.yaml:7:" in error.where
        assert "replicas" in error.cause
        log.wait_for(lambda e: isinstance(e, ev.Notice) and "previous configuration" in e.message)
        (root / "main.txt").write_text("v3\n")
        # Still building with the old config: some cycle builds the v3 tree. Which one is not
        # the point (the edit may land inside a cycle already running, which rehashes it).
        context = watched.context_for()
        context.scan()
        want = context.tag()
        ready = log.wait_for(lambda e: isinstance(e, ev.ImageReady) and e.tag == want, 30)
        assert log.cycle_finished(ready.cycle, timeout=30).ok

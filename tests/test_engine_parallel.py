"""Images building side by side, over the engine's fakes (tests/enginefakes.py): no Docker.

Overlap is shown with the fake builder's gate (both builds held at it at once), never with
sleeps; an image built FROM another is held back until that one's job ends.
"""

from __future__ import annotations

import threading

import pytest

from kudev import events as ev
from kudev.build.image_graph import folded_tag
from kudev.engine import build_jobs
from kudev.errors import BuildFailed
from kudev.image_ref import tag_of
from kudev.session import SessionOptions
from tests.enginefakes import Fakes
from tests.enginelib import RunningEngine
from tests.test_engine_fakes import make_project


@pytest.fixture(autouse=True)
def four_cores(monkeypatch):
    """The machine's CPU count must not decide whether two builds may overlap."""
    monkeypatch.setattr(build_jobs, "max_parallel_builds", lambda: 4)


def built_from(project, image: str, base: str) -> None:
    spec = next(i for i in project.config.images if i.name == image)
    spec.dockerfile.write_text(f"FROM --platform=linux/amd64 {base}:latest AS up\nCOPY . /app\n")


def test_two_independent_images_build_at_the_same_time(tmp_path):
    project = make_project(tmp_path / "shop", "api", "web")
    fakes = Fakes()
    fakes.builder.gate.hold()
    with RunningEngine(fakes.engine(project, SessionOptions(once=True))) as running:
        held = fakes.builder.wait_running(2)  # both started, neither finished
        assert sorted(r.split(":")[0] for r in held) == ["api", "web"]
        assert fakes.builder.built == []
        fakes.builder.gate.release()
        assert fakes.log.cycle_finished(1).ok
    assert running.result == [True] and len(fakes.builder.built) == 2


def test_an_image_built_from_another_waits_for_it_and_names_its_exact_ref(tmp_path):
    project = make_project(tmp_path / "shop", "app", "base")
    built_from(project, "app", "base")
    fakes = Fakes()
    fakes.builder.gate.hold()
    with RunningEngine(fakes.engine(project, SessionOptions(once=True))):
        [held] = fakes.builder.wait_running(1)
        assert held.startswith("base:")
        assert fakes.builder.prepared == [held]  # app is not even prepared while base builds
        fakes.builder.gate.release()
        assert fakes.log.cycle_finished(1).ok
    base_ref, app_ref = fakes.builder.built
    assert app_ref.startswith("app:") and fakes.builder.bases[app_ref] == {"base": base_ref}
    ready = {e.image: e for e in fakes.log.of(ev.ImageReady)}
    app_digest = _digest(project, "app")
    assert ready["app"].tag == folded_tag(app_digest, {"base": tag_of(base_ref)})


def test_editing_the_upstream_gives_both_images_new_tags(tmp_path):
    project = make_project(tmp_path / "shop", "app", "base")
    built_from(project, "app", "base")
    fakes = Fakes()
    base_file = next(i for i in project.config.images if i.name == "base").context / "main.txt"
    with RunningEngine(fakes.engine(project)):
        assert fakes.log.cycle_finished(1).ok
        base_file.write_text("base v2\n")
        fakes.changes.send(base_file)
        assert fakes.log.cycle_finished(2).ok
    tags = {(e.cycle, e.image): e.tag for e in fakes.log.of(ev.ImageReady)}
    assert tags[(1, "base")] != tags[(2, "base")] and tags[(1, "app")] != tags[(2, "app")]
    assert len(fakes.builder.built) == 4


def test_a_change_to_one_image_while_both_build_cancels_the_cycle_and_the_next_rebuilds(tmp_path):
    project = make_project(tmp_path / "shop", "api", "web")
    fakes = Fakes()
    fakes.builder.gate.hold()
    api = project.config.images[0].context / "main.txt"
    with RunningEngine(fakes.engine(project)):
        fakes.builder.wait_running(2)
        api.write_text("api v2\n")
        fakes.changes.send(api)
        first = fakes.log.cycle_finished(1)
        fakes.builder.gate.release()
        second = fakes.log.cycle_finished(2)
    assert first.cancelled and not first.ok and second.ok
    assert [e.cycle for e in fakes.log.of(ev.ImageReady)] == [2, 2]
    assert {r.split(":")[0] for r in fakes.builder.built} == {"api", "web"}
    assert fakes.deployer.deploys[0][0] == 2


def test_a_failed_build_cancels_the_other_and_fails_the_cycle(tmp_path):
    project = make_project(tmp_path / "shop", "api", "web")
    fakes = Fakes()
    fakes.builder.gate.hold()
    fakes.builder.failures.append(BuildFailed("build failed at Step 2/2: boom", "fix it"))
    assert not fakes.engine(project, SessionOptions(once=True)).run()
    finished = fakes.log.cycle_finished(1, timeout=1)
    assert not finished.ok and not finished.cancelled
    assert [e.cause for e in fakes.log.of(ev.ErrorReported)][0].endswith("boom")
    assert fakes.builder.built == [] and fakes.deployers == []


def test_stop_during_parallel_builds_leaves_no_kudev_thread(tmp_path):
    project = make_project(tmp_path / "shop", "api", "web", "worker")
    fakes = Fakes()
    fakes.builder.gate.hold()
    before = set(threading.enumerate())
    with RunningEngine(fakes.engine(project)) as running:
        fakes.builder.wait_running(3)
    assert running.result == [False]
    assert fakes.log.cycle_finished(1, timeout=1).cancelled
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("kudev-")]
    assert fakes.builder.built == [] and fakes.builder.closed


def test_images_built_from_each_other_are_a_config_error_naming_them(tmp_path):
    project = make_project(tmp_path / "shop", "a", "b")
    built_from(project, "a", "b")
    built_from(project, "b", "a")
    fakes = Fakes()
    assert not fakes.engine(project, SessionOptions(once=True)).run()
    [error] = fakes.log.of(ev.ErrorReported)
    assert "cycle: a → b → a" in error.cause and fakes.builder.prepared == []


def _digest(project, name: str) -> str:
    from kudev.project import build_context

    ctx = build_context(next(i for i in project.config.images if i.name == name), None)
    ctx.scan()
    return ctx.digest()

"""An image built FROM another of the project's images, through the engine and real Docker:
the dependent is built against exactly the upstream just built, and only rebuilt with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kudev import events as ev
from kudev.build.buildkit import find_buildkit_cli
from kudev.config import Config, ImageSpec
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.dockerlib import exported_paths, unique_name
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges
from tests.tools import missing_tool

pytestmark = pytest.mark.docker


def image(root: Path, name: str, dockerfile: str, files: dict[str, str]) -> ImageSpec:
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(dockerfile)
    for rel, text in files.items():
        (root / rel).write_text(text)
    return ImageSpec(name=name, context=root, dockerfile=root / "Dockerfile")


def base_and_app(tmp_path: Path, cache: Path) -> Project:
    base_name, app_name = unique_name("kudev-base"), unique_name("kudev-app")
    base = image(tmp_path / "base", base_name, "FROM scratch\nCOPY . /base/\n", {"b.txt": "1\n"})
    # The app lists first: the FROM graph, not the configured order, decides who waits.
    app = image(
        tmp_path / "app",
        app_name,
        f"FROM {base_name}:latest AS up\nCOPY . /app/\n",
        {"a.txt": "1\n"},
    )
    config = Config(path=tmp_path / ".kudev.yaml", root=tmp_path, name="fr", images=(app, base))
    return Project(config=config, cache_dir=cache)


@pytest.mark.parametrize("builder", ["sdk", "buildkit"])
def test_editing_the_base_rebuilds_both_and_editing_the_app_skips_the_base(
    tmp_path, isolated_cache, cleanup_images, docker_client, monkeypatch, builder
):
    monkeypatch.setenv("KUDEV_BUILDER", builder)
    if builder == "buildkit" and find_buildkit_cli() is None:
        missing_tool("no docker CLI with BuildKit on this machine")
    project = base_and_app(tmp_path, isolated_cache)
    app, base = project.config.images
    cleanup_images.extend([app.name, base.name])
    log, changes = EventLog(), ScriptedChanges()
    engine = Engine(project, SessionOptions(load_images=False), log, change_source=changes)
    with RunningEngine(engine):
        assert log.cycle_finished(1, timeout=120).ok
        (base.context / "new.txt").write_text("added to the base\n")
        changes.send(base.context / "new.txt")
        assert log.cycle_finished(2, timeout=120).ok
        (app.context / "a.txt").write_text("2\n")
        changes.send(app.context / "a.txt")
        assert log.cycle_finished(3, timeout=120).ok
    builds = {(e.cycle, e.image): e for e in log.of(ev.StageFinished) if e.stage == "build"}
    assert not builds[(2, base.name)].skipped and not builds[(2, app.name)].skipped
    assert builds[(3, base.name)].skipped and builds[(3, base.name)].detail.endswith(" exists")
    assert not builds[(3, app.name)].skipped
    ready = {(e.cycle, e.image): e.ref for e in log.of(ev.ImageReady)}
    files, _ = exported_paths(docker_client, ready[(2, app.name)], "/base")
    assert "new.txt" in files  # the app really was built FROM the new base
    files, _ = exported_paths(docker_client, ready[(1, app.name)], "/base")
    assert "new.txt" not in files and "b.txt" in files
    assert ready[(3, app.name)] != ready[(2, app.name)] != ready[(1, app.name)]

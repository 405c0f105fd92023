"""The dashboard over the real engine and the real Docker Engine (no cluster: build only)."""

from __future__ import annotations

import asyncio
import time

import pytest

from kudev.app import make_app
from kudev.config import Config, ImageSpec
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.dockerlib import unique_name
from tests.enginelib import ScriptedChanges
from tests.tui.screen_text import screen_text

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


@pytest.fixture
def slow_project(tmp_path, isolated_cache, busybox_base, cleanup_images) -> Project:
    """A build that takes a second, so every stage is on screen long enough to be seen."""
    root = tmp_path / "app"
    root.mkdir()
    # The nonce defeats the layer cache, so the RUN step really runs in every test run.
    (root / "Dockerfile").write_text(
        f"FROM {busybox_base}\nCOPY nonce main.txt /app/\nRUN sleep 1\n"
    )
    (root / "nonce").write_text(unique_name())
    (root / "main.txt").write_text("v1\n")
    name = unique_name("kudev-tui")
    cleanup_images.append(name)
    image = ImageSpec(name=name, context=root, dockerfile=root / "Dockerfile")
    config = Config(path=root / ".kudev.yaml", root=root, name=name, images=(image,))
    return Project(config=config, cache_dir=isolated_cache)


async def watch_strip(pilot, until, timeout: float = 60) -> list[str]:
    """Every distinct text the 'now' line of the stage strip showed until `until()` holds."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"timed out; the strip showed {seen}"
        now_line = screen_text(pilot.app).splitlines()[1]
        if not seen or seen[-1] != now_line:
            seen.append(now_line)
        await asyncio.sleep(0.02)
    seen.append(screen_text(pilot.app).splitlines()[1])
    return seen


async def test_an_edit_walks_the_stage_strip_and_shows_the_new_tag(slow_project):
    changes = ScriptedChanges()
    engines: list[Engine] = []

    def factory(project, options, sink):
        engines.append(Engine(project, options, sink, change_source=changes))
        return engines[0]

    app = make_app(slow_project, SessionOptions(load_images=False), engine_factory=factory)
    async with app.run_test(size=(120, 35)) as pilot:
        header = lambda: screen_text(app).splitlines()[0]  # noqa: E731
        await watch_strip(pilot, lambda: "READY" in header())
        first_tag = app.state.tags[slow_project.config.name]
        assert f":{first_tag}" in header()

        main = slow_project.config.root / "main.txt"
        main.write_text("v2\n")
        await asyncio.to_thread(changes.send, main)
        walked = await watch_strip(
            pilot,
            lambda: "READY" in header() and app.state.current.cycle == 2,  # type: ignore[union-attr]
        )
        new_tag = app.state.tags[slow_project.config.name]
        text = screen_text(app)
        await pilot.press("q")
        await pilot.pause()

    assert new_tag != first_tag
    assert f"{slow_project.config.name}:{new_tag}" in text.splitlines()[0]
    assert "why  #2 change: main.txt" in text
    building = [line for line in walked if "#2" in line and "build …" in line]
    assert building, f"never saw cycle 2 building: {walked}"
    done = walked[-1]
    assert "hash" in done and "load skip" in done and "apply –" in done and "✓" in done
    assert "build " in done and "build …" not in done
    assert walked.index(building[0]) < len(walked) - 1
    assert app.return_code == 0

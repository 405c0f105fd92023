"""The dashboard over the real engine on the real cluster: an edit walks the stage strip,
the pods pane shows the new tag, the logs pane shows the new output."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from kudev.app import make_app
from kudev.config import load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.e2e.kudevlib import write_app
from tests.enginelib import ScriptedChanges
from tests.tui.screen_text import screen_text

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


async def wait_screen(app, predicate, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen_text(app)
        if predicate(text):
            return text
        assert time.monotonic() < deadline, f"timed out; the screen showed:\n{text}"
        await asyncio.sleep(0.1)


async def test_edit_walks_the_strip_and_new_pod_shows_its_tag_and_logs(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache
):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_path))
    name = f"tui-{uuid.uuid4().hex[:6]}"
    root = write_app(tmp_path / name, name, namespace)
    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=isolated_cache)
    changes = ScriptedChanges()

    def factory(project, options, sink):
        return Engine(project, options, sink, change_source=changes)

    app = make_app(project, SessionOptions(), engine_factory=factory)
    async with app.run_test(size=(160, 45)) as pilot:
        first = await wait_screen(app, lambda t: "READY" in t.splitlines()[0] and "serving v1" in t)
        first_tag = app.state.tags[name]
        assert "kudev-rig" in first.splitlines()[0]  # the context in the header
        assert first_tag in first  # the pods pane's tag column
        for rel, text in (("www/index.html", "hello v2\n"), ("www/version.txt", "v2\n")):
            (root / rel).write_text(text)
        await asyncio.to_thread(
            changes.send, root / "www" / "index.html", root / "www" / "version.txt"
        )
        seen_stages: set[str] = set()

        def cycle_two_ready(text: str) -> bool:
            now = text.splitlines()[1]
            for stage in ("build …", "load …", "apply …", "ready …"):
                if "#2" in now and stage in now:
                    seen_stages.add(stage)
            return "#2" in now and "✓" in now and "serving v2" in text

        final = await wait_screen(app, cycle_two_ready)
        new_tag = app.state.tags[name]
        await pilot.press("q")
        await pilot.pause()
    assert new_tag != first_tag
    assert new_tag in final  # header and the new pod's row
    assert "ready …" in seen_stages or "apply …" in seen_stages, seen_stages
    assert "why  #2 change: www/index.html" in final or "why  #2 change: www/" in final
    assert app.return_code == 0

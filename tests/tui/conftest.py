"""A scripted engine, a fixed clock and helpers to drive the dashboard with Pilot."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.reactive import reactive
from textual.widgets import Input

from kudev import events as ev
from kudev.app import KudevApp, make_app
from kudev.config import Config, ImageSpec
from kudev.project import Project
from kudev.session import SessionOptions

T0 = 1_700_000_000.0  # the scripted session's "now"; events carry times around it


def fixed_clock() -> float:
    return T0 + 600


class ScriptedEngine:
    """Engine-like: `run()` emits a script through the sink, then waits until `stop()`.

    Like the real engine, pause/resume answer with a WatchState event.
    """

    def __init__(self, sink: ev.EventSink, script: Sequence[ev.Event]) -> None:
        self.sink = sink
        self.script = list(script)
        self.calls: list[str] = []
        self.emitted = threading.Event()
        self._stopped = threading.Event()
        self.run_thread: str = ""

    def run(self) -> bool:
        self.run_thread = threading.current_thread().name
        for event in self.script:
            self.sink(event)
        self.emitted.set()
        self._stopped.wait()
        return True

    def emit(self, *events: ev.Event) -> None:
        for event in events:
            self.sink(event)

    def request_rebuild(self) -> None:
        self.calls.append("rebuild")

    def pause(self) -> None:
        self.calls.append("pause")
        self.sink(ev.WatchState(watching=False, ts=T0))

    def resume(self) -> None:
        self.calls.append("resume")
        self.sink(ev.WatchState(watching=True, ts=T0))

    def stop(self) -> None:
        self.calls.append("stop")
        self._stopped.set()


def make_project(root: Path, name: str = "hello") -> Project:
    root.mkdir(parents=True, exist_ok=True)
    image = ImageSpec(name=name, context=root, dockerfile=root / "Dockerfile")
    config = Config(path=root / ".kudev.yaml", root=root, name=name, images=(image,))
    return Project(config=config, cache_dir=root / ".cache")


class Dashboard:
    """The app under test with its scripted engine."""

    def __init__(self, app: KudevApp, engine: ScriptedEngine) -> None:
        self.app = app
        self.engine = engine


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project() -> Project:
    # A fixed root so snapshots do not carry a tmp path.
    return make_project(Path("/work/hello"))


@pytest.fixture
def dashboard(project: Project) -> Callable[..., Dashboard]:
    def build(
        script: Sequence[ev.Event] = (),
        options: SessionOptions | None = None,
        **kw: object,
    ) -> Dashboard:
        holder: list[ScriptedEngine] = []

        def factory(_project: Project, _options: SessionOptions, sink: ev.EventSink):
            holder.append(ScriptedEngine(sink, script))
            return holder[0]

        app = make_app(
            project,
            options or SessionOptions(kube_context="kind-dev"),
            engine_factory=factory,
            clock=fixed_clock,
            **kw,  # type: ignore[arg-type]
        )
        return Dashboard(app, holder[0])

    return build


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes snapshots depend on timing."""
    blink: reactive[bool] = reactive(False, init=False)
    blink.__set_name__(Input, "cursor_blink")
    monkeypatch.setattr(Input, "cursor_blink", blink)


async def settle(pilot: Pilot[None], engine: ScriptedEngine, timeout: float = 5.0) -> None:
    """Wait until the engine emitted its script and the dashboard has shown all of it."""
    app = pilot.app
    assert isinstance(app, KudevApp)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.emitted.is_set() and not app.feed.pending:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the dashboard did not take the scripted events")
    app.dashboard.flush()
    await pilot.pause()


async def wait_until(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 5.0
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)

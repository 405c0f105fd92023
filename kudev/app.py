"""The Textual dashboard: composes the screens and runs the engine in one thread worker.

The engine's sink only appends to an `EventFeed` and posts one message; key bindings only call
the engine's thread-safe request methods. Docker and Kubernetes are never called on the UI loop.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from kudev import events as ev
from kudev import exit_codes
from kudev.deploy.pod_details import PodDetailSource
from kudev.project import Project
from kudev.screens.dashboard import DashboardScreen, FeedPending
from kudev.screens.help import PALETTE
from kudev.session import SessionOptions
from kudev.view_model.feed import EventFeed
from kudev.view_model.state import SessionState

STOP_TIMEOUT_S = 10.0
# A log flood allocates ~100k short-lived objects a second: at CPython's default (700) the
# collector runs thousands of times a second and its full passes stall keys by 50-100 ms.
GC_GEN0_THRESHOLD = 10_000


class EngineLike(Protocol):
    def run(self) -> bool: ...
    def request_rebuild(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...


EngineFactory = Callable[[Project, SessionOptions, ev.EventSink], EngineLike]


def _default_engine(project: Project, options: SessionOptions, sink: ev.EventSink) -> EngineLike:
    from kudev.engine.loop import Engine

    return Engine(project, options, sink)


class KudevApp(App[None]):
    CSS_PATH = "kudev.tcss"
    TITLE = "kudev"
    BINDINGS = [
        Binding("r", "rebuild", "Rebuild"),
        Binding("p", "toggle_watch", "Pause"),
        Binding("b", "history", "History"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        project: Project,
        options: SessionOptions,
        engine_factory: EngineFactory,
        *,
        pod_details: PodDetailSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.state = _initial_state(project, options)
        self.feed = EventFeed()
        self.engine = engine_factory(project, options, self._sink)  # its sink runs later
        # The deploy side can hand its PodDetailSource over as `engine.pod_details`.
        details = pod_details or getattr(self.engine, "pod_details", None)
        self.dashboard = DashboardScreen(self.state, self.feed, clock, details)
        self._clock = clock
        self._engine_worker: Worker[bool] | None = None
        self._engine_failed = False

    def get_default_screen(self) -> Screen[Any]:
        return self.dashboard

    def on_mount(self) -> None:
        self._gc_thresholds = gc.get_threshold()
        gc.set_threshold(GC_GEN0_THRESHOLD, *self._gc_thresholds[1:])
        self._engine_worker = self._run_engine()

    def on_unmount(self) -> None:
        gc.set_threshold(*self._gc_thresholds)

    # -- the engine ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", name="engine")
    def _run_engine(self) -> bool:
        # Textual cancels every worker when the app ends, however it ends (q, an unhandled
        # error, a test finishing): that is the engine's stop signal too.
        cancelled = get_current_worker().cancelled_event
        finished = threading.Event()

        def stop_when_cancelled() -> None:
            cancelled.wait()
            if not finished.is_set() and not self.state.stopping:
                self.engine.stop()

        threading.Thread(target=stop_when_cancelled, name="kudev-engine-stop", daemon=True).start()
        try:
            return self.engine.run()
        finally:
            finished.set()
            cancelled.set()  # releases the stopper thread

    def _sink(self, event: ev.Event) -> None:
        """Called on the engine's threads."""
        if self.feed.put(event):
            self.dashboard.post_message(FeedPending())

    @on(Worker.StateChanged)
    def _engine_state(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "engine" or self.state.stopping:
            return
        if event.state == WorkerState.ERROR:
            self._engine_failed = True
            error = event.worker.error
            self.state.engine_stopped = "crashed"
            self.state.apply(
                ev.ErrorReported(
                    cause=f"kudev's engine stopped: {type(error).__name__}: {error}",
                    remedy="press q and start kudev again (kudev --headless shows the same loop)",
                )
            )
        elif event.state == WorkerState.SUCCESS:
            self.state.engine_stopped = "stopped"
        else:
            return
        self.dashboard.flush()  # whatever the engine said last, then the new state
        self.dashboard.show_state()

    # -- keys ---------------------------------------------------------------------------------

    def action_rebuild(self) -> None:
        self.engine.request_rebuild()
        self.notify("rebuild requested", timeout=2)

    def action_toggle_watch(self) -> None:
        if self.state.watching is False:
            self.engine.resume()
        else:
            self.engine.pause()

    def action_history(self) -> None:
        from kudev.screens.history import BuildHistoryScreen

        if isinstance(self.screen, BuildHistoryScreen):
            return
        self.push_screen(BuildHistoryScreen(self.state, self._clock), self._history_chosen)

    def _history_chosen(self, cycle: int | None) -> None:
        if cycle is not None:
            self.dashboard.build.show_cycle(cycle)

    def action_help(self) -> None:
        from kudev.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(), "help")
        self.push_screen("help")

    async def action_quit(self) -> None:
        """Stop the engine, wait for its thread (bounded), then exit."""
        if self.state.stopping:
            return
        self.state.stopping = True
        self.dashboard.show_state()
        self.engine.stop()
        worker = self._engine_worker
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while worker is not None and not worker.is_finished and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.exit(return_code=exit_codes.FAILED if self._engine_failed else exit_codes.OK)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for title, help_text, target, action in PALETTE:
            node = self if target == "app" else self.dashboard
            yield SystemCommand(title, help_text, partial(self.run_action, action, node))
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys"):  # ours stop the engine / list our keys
                yield command


def _initial_state(project: Project, options: SessionOptions) -> SessionState:
    config = project.config
    return SessionState(
        project=config.name,
        root=str(config.root),
        images=tuple(i.name for i in config.images),
        context=options.kube_context or config.kube_context or "",
        namespace=options.namespace or config.namespace,
        build_only=not options.load_images,
    )


def make_app(
    project: Project,
    options: SessionOptions,
    *,
    engine_factory: EngineFactory | None = None,
    pod_details: PodDetailSource | None = None,
    clock: Callable[[], float] = time.time,
) -> KudevApp:
    """The one way to build the dashboard, for the CLI and for tests."""
    return KudevApp(
        project, options, engine_factory or _default_engine, pod_details=pod_details, clock=clock
    )


def run_dashboard(project: Project, options: SessionOptions) -> int:
    app = make_app(project, options)
    # SIGTERM (a closed terminal tab, `kill`) stops the engine as cleanly as q does.
    previous = signal.signal(signal.SIGTERM, lambda *_: app.call_later(app.action_quit))
    try:
        app.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return app.return_code if app.return_code is not None else exit_codes.OK

"""Running the real engine in a thread and waiting for its events."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kudev import events as ev
from kudev.engine.loop import Engine


class ScriptedChanges:
    """A change source fed by the test; applies the engine's relevance filter like watchfiles."""

    def __init__(self) -> None:
        self.batches: queue.Queue[tuple[set[str], threading.Event]] = queue.Queue()
        self.relevant: Callable[[str], bool] | None = None

    def send(self, *paths: Path | str) -> None:
        """Hand a batch to the engine and wait until the engine's inbox has it."""
        handed = threading.Event()
        self.batches.put(({str(p) for p in paths}, handed))
        assert handed.wait(10), "the engine never took the batch"

    def __call__(
        self, paths: list[Path], relevant: Callable[[str], bool], stop: threading.Event
    ) -> Iterable[set[str]]:
        self.relevant = relevant
        while not stop.is_set():
            try:
                batch, handed = self.batches.get(timeout=0.05)
            except queue.Empty:
                continue
            kept = {p for p in batch if relevant(p)}
            if kept:
                yield kept  # resumes once the engine's watcher thread queued it
            handed.set()


class EventLog:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: ev.Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: type[ev.Event]) -> list:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[ev.Event], bool], timeout: float = 60) -> ev.Event:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [type(e).__name__ for e in self.events[-15:]]
                    raise AssertionError(f"event not seen in {timeout}s; last: {kinds}")
                self._cond.wait(left)

    def cycles(self) -> int:
        """The number of the last cycle that started (0 before the first)."""
        return max((e.cycle for e in self.of(ev.CycleStarted)), default=0)

    def settled_cycle(self, after: int, timeout: float = 60) -> ev.CycleFinished:
        """The first cycle after `after` that was not cancelled.

        A real watcher may split one edit into several batches, and on a loaded machine a
        later batch cancels the cycle an earlier one started: wait for the state, never
        for a cycle number.
        """
        event = self.wait_for(
            lambda e: isinstance(e, ev.CycleFinished) and e.cycle > after and not e.cancelled,
            timeout,
        )
        assert isinstance(event, ev.CycleFinished)
        return event

    def changed_between(self, after: int, upto: int) -> set[str]:
        """Every path the cycles after `after` up to `upto` were started for."""
        return {
            path for e in self.of(ev.CycleStarted) if after < e.cycle <= upto for path in e.changed
        }

    def cycle_finished(self, cycle: int, timeout: float = 60) -> ev.CycleFinished:
        event = self.wait_for(
            lambda e: isinstance(e, ev.CycleFinished) and e.cycle == cycle, timeout
        )
        assert isinstance(event, ev.CycleFinished)
        return event


class RunningEngine:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.result: list[bool] = []
        self.thread = threading.Thread(target=lambda: self.result.append(engine.run()))

    def __enter__(self) -> RunningEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "engine did not stop"

"""Each image's build and load as a job on a thread of its own: several at once (up to the
CPU count), each after the project images it is built FROM.

The engine thread starts the jobs (deciding and preparing a build stays on it: the tar is
written from the context tree that it alone updates), then takes its inbox as it did during
one build: the watcher's changes are applied, and a job whose sources changed under it is
cancelled, which cancels the cycle; the first failure cancels the other jobs; a stop cancels
them all. Which job may start next is `startable`, a pure function.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kudev.build.builder import BuildCancelled
from kudev.engine.inbox import Inbox, Msg, drain

# After a stop the jobs have this long to end once cancelled; then the engine stops anyway.
STOP_GRACE_S = 10.0
JOIN_S = 5.0


def max_parallel_builds() -> int:
    """How many images build at once: a build is mostly CPU, one per core."""
    return os.cpu_count() or 1


def startable(
    order: Sequence[str],
    upstream: Mapping[str, Iterable[str]],
    started: Collection[str],
    done: Collection[str],
    limit: int,
) -> list[str]:
    """The images to start now: not started, all their upstreams done, within `limit`."""
    free = limit - (len(started) - len(done))
    ready = [
        name
        for name in order
        if name not in started and all(up in done for up in upstream.get(name, ()))
    ]
    return ready[: max(free, 0)]


@dataclass(frozen=True)
class Built:
    local_ref: str  # as built here: what dependents are built FROM
    deploy_ref: str  # as the cluster's nodes pull it


@dataclass(frozen=True)
class JobWork:
    """One image's job, as the engine thread prepared it."""

    run: Callable[[], Built]  # on the job's thread: the build (if any), then the load
    cancel: Callable[[], None]  # stops the build; from the engine thread
    stale: Callable[[], bool]  # whether the sources it was prepared from have changed


# (image, what the images done so far gave) -> the job; on the engine thread, may raise
StartJob = Callable[[str, Mapping[str, Built]], JobWork]


class BuildJobs:
    """Runs one cycle's jobs and owns their threads (`kudev-build-<image>`)."""

    def __init__(
        self,
        inbox: Inbox,
        apply_changes: Callable[[frozenset[str]], None],
        stop: threading.Event,
        limit: int | None = None,
    ) -> None:
        self._inbox = inbox
        self._apply_changes = apply_changes
        self._stop = stop
        self.limit = limit or max_parallel_builds()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, JobWork] = {}
        self._done: dict[str, Built] = {}
        self._failure: BaseException | None = None
        self._deferred: list[Msg] = []
        self.active = False

    def run(
        self, order: Sequence[str], upstream: Mapping[str, Iterable[str]], start: StartJob
    ) -> dict[str, Built]:
        """Every image's job, each after its upstreams; raises the first failure."""
        self._running, self._done, self._failure, self.active = {}, {}, None, True
        started: set[str] = set()
        try:
            while True:
                for name in self._ready(order, upstream, started):
                    started.add(name)
                    self._start(name, start)
                if not self._running:
                    break
                msg = self._next()
                if msg is not None:
                    self._handle(msg)
        finally:
            self.active = False
            for msg in self._deferred:
                self._inbox.put(msg)
            self._deferred.clear()
            self.join(JOIN_S)
        if self._failure is not None:
            raise self._failure
        if len(self._done) < len(order):
            raise BuildCancelled("build cancelled: kudev is stopping", "")
        return dict(self._done)

    def take_news(self) -> None:
        """Fold in what is queued now (a build's context changed while it was prepared)."""
        drain(self._inbox, self._handle)

    def cancel_all(self) -> None:
        for work in list(self._running.values()):
            work.cancel()

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _ready(
        self, order: Sequence[str], upstream: Mapping[str, Iterable[str]], started: set[str]
    ) -> list[str]:
        if self._failure is not None or self._stop.is_set():
            return []
        return startable(order, upstream, started, self._done, self.limit)

    def _start(self, name: str, start: StartJob) -> None:
        try:
            work = start(name, dict(self._done))
        except BaseException as err:  # noqa: BLE001 - the cycle raises it once jobs ended
            self._fail(err)
            return
        self._running[name] = work
        if self._failure is not None or self._stop.is_set():
            work.cancel()  # it failed or stopped while this job was prepared: end it at once

        def job() -> None:
            try:
                result: object = work.run()
            except BaseException as err:  # handed to the engine thread, which raises it
                result = err
            self._inbox.put(Msg("job_done", result=result, image=name))

        # A daemon only so a wedged build cannot keep the process alive; it is joined.
        thread = threading.Thread(target=job, name=f"kudev-build-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _handle(self, msg: Msg) -> None:
        if msg.kind == "job_done":
            self._job_done(msg.image, msg.result)
        elif msg.kind == "changes":
            self._apply_changes(msg.paths)
            for work in list(self._running.values()):
                if work.stale():
                    work.cancel()
        elif msg.kind == "stop":
            self._stop.set()
            self.cancel_all()
        else:
            self._deferred.append(msg)

    def _job_done(self, name: str, result: object) -> None:
        if self._running.pop(name, None) is None:
            return  # a job given up on after the stop grace
        if isinstance(result, BaseException):
            self._fail(result)
        else:
            assert isinstance(result, Built)
            self._done[name] = result

    def _fail(self, err: BaseException) -> None:
        """The first failure is the cycle's; the other jobs need not finish."""
        if self._failure is None:
            self._failure = err
            self.cancel_all()

    def _next(self) -> Msg | None:
        if not self._stop.is_set():
            return self._inbox.get()
        try:  # cancelled for the stop: the jobs have a grace period to end
            return self._inbox.get(timeout=STOP_GRACE_S)
        except queue.Empty:
            self._fail(BuildCancelled("the build did not stop in time", ""))
            self._running.clear()
            return None

"""The inner loop: watch → hash → build → load → (deploy) — one thread, one event stream.

The engine never knows which front-end listens: it calls `sink(event)` and nothing else.
Requests from a front-end (rebuild, pause, stop) arrive through thread-safe methods that only
put a message on the engine's inbox. Builds run as jobs on worker threads (build_jobs.py),
so the engine keeps hashing incoming changes and cancels a build once its content is outdated.
What to do next is decided by `plan.next_action`; this module only carries it out.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from kudev import events as ev
from kudev.build.builder import BuildCancelled
from kudev.engine.build_jobs import JOIN_S, BuildJobs
from kudev.engine.connections import Connections, PodDetailsNow
from kudev.engine.cycle import Cycle
from kudev.engine.cycle_host import ImageState
from kudev.engine.inbox import Inbox, Msg, drain
from kudev.engine.live_cycle import CyclePlan, SyncCycle, plan_cycle, resumed_syncs
from kudev.engine.plan import (
    RETRY_DELAYS,
    Do,
    LoopState,
    Pending,
    next_action,
    retries_after_failure,
)
from kudev.engine.seams import BuilderFactory, DeliveryFactory, DeployerFactory
from kudev.engine.watching import Watcher, WatchPlan
from kudev.errors import KudevError
from kudev.own_output import inside
from kudev.project import Project, build_context
from kudev.session import SessionOptions
from kudev.sources.readers import HashStopped
from kudev.sources.watch import ChangeSource
from kudev.wording import own_output_words

MAX_LISTED_CHANGES = 50


class Engine:
    def __init__(
        self,
        project: Project,
        options: SessionOptions,
        sink: ev.EventSink,
        *,
        change_source: ChangeSource | None = None,
        builder_factory: BuilderFactory | None = None,
        delivery_factory: DeliveryFactory | None = None,
        deployer_factory: DeployerFactory | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.project = project
        self.options = options
        self._sink = sink
        self._emit_lock = threading.Lock()
        self._inbox: Inbox = queue.Queue()
        self._stop = threading.Event()
        self.connections = Connections(
            options,
            self.emit,
            builder_factory=builder_factory,
            delivery_factory=delivery_factory,
            deployer_factory=deployer_factory,
        )
        self._watcher = Watcher(change_source, self._changes_arrived, self.emit)
        self.pod_details = PodDetailsNow(self.connections)  # the dashboard's pod detail hook
        self._retry_delays = retry_delays
        self._images: list[ImageState] = []
        self._pending = Pending()
        self._paused = False
        self._cycle = 0
        self._retries = 0
        self._retry_due = False
        self.jobs = BuildJobs(self._inbox, self._apply_changes, self._stop)
        self.last_ok = False

    # -- requests from front-ends (any thread) ------------------------------------------------

    def request_rebuild(self) -> None:
        from kudev.oci.source import forget_resolved_tags

        forget_resolved_tags()  # `oci://…:TAG` manifests: resolve the tag again
        self._inbox.put(Msg("rebuild"))

    def pause(self) -> None:
        self._inbox.put(Msg("pause"))

    def resume(self) -> None:
        self._inbox.put(Msg("resume"))

    def stop(self) -> None:
        self._stop.set()
        self._inbox.put(Msg("stop"))
        self.connections.cancel_build()
        self.connections.cancel_load()
        self.connections.cancel_deploy()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> bool:
        """Run until stopped (or one cycle with options.once); returns the last cycle's result."""
        try:
            try:
                self._start()
            except KudevError as err:
                self.emit(ev.error_event(err))
                return False
            if not self.options.once:
                self._watcher.start(self._watch_plan())  # before the first build: edits count
            while True:
                action = next_action(self._loop_state(), self._retry_delays)
                if action.do is Do.STOP:
                    return self.last_ok
                if action.do is Do.CYCLE:
                    self._cycle_now(action.reason)
                else:
                    self._wait(action.timeout)
                self._drain_quietly()
        except HashStopped:  # a stop mid-hash: the digests read so far are kept, no more
            return self.last_ok
        finally:
            self._shutdown()

    def _start(self) -> None:
        self._images = self._image_states(self.project)
        started = time.monotonic()
        for state in self._images:
            self._scan(state)
            state.context.cache.save()
        self._pending.hash_seconds = time.monotonic() - started
        config = self.project.config
        self.emit(
            ev.SessionStarted(
                project=config.name,
                root=str(config.root),
                images=tuple(i.name for i in config.images),
            )
        )
        roots = [s.context.root for s in self._images]
        if left_out := inside(self.project.own_output, roots):
            self.emit(ev.Notice(message=own_output_words(left_out), level="warning"))

    def _loop_state(self) -> LoopState:
        return LoopState(
            pending=self._pending,
            cycles=self._cycle,
            stopping=self._stop.is_set(),
            paused=self._paused,
            once=self.options.once,
            retries=self._retries,
            retry_due=self._retry_due,
        )

    def _wait(self, timeout: float | None) -> None:
        """Take the next request or batch; without one before `timeout` a retry is due."""
        try:
            msg = self._inbox.get(timeout=timeout)
        except queue.Empty:
            self._retry_due = True
            return
        self._handle(msg)

    def _drain_quietly(self) -> None:
        """Fold in whatever else is already queued, so one burst gives one cycle."""
        drain(self._inbox, self._handle)

    def take_news(self) -> None:
        if self.jobs.active:
            self.jobs.take_news()  # it also takes the other jobs' ends
        else:
            self._drain_quietly()

    def _handle(self, msg: Msg) -> None:
        if msg.kind == "changes":
            self._apply_changes(msg.paths)
        elif msg.kind == "rebuild":
            self._pending.forced = True
        elif msg.kind == "pause" and not self._paused:
            self._paused = True
            self.emit(ev.WatchState(watching=False))
        elif msg.kind == "resume" and self._paused:
            self._paused = False
            self.emit(ev.WatchState(watching=True, paths=self._watch_plan().paths_str()))
        elif msg.kind == "stop":
            self._stop.set()

    def _changes_arrived(self, paths: frozenset[str]) -> None:
        """Called on the watcher's thread."""
        self._inbox.put(Msg("changes", paths=paths))

    def _apply_changes(self, paths: Iterable[str]) -> None:
        paths = set(paths)
        if str(self.project.config.path) in paths:
            self._reload_config()
        started = time.monotonic()
        # An editor's temp file, created and removed within one batch, is no trigger to name.
        listed = {p for p in paths if os.path.lexists(p) or self._was_tracked(p)}
        changed = False
        for state in self._images:
            changed |= state.context.update(p for p in paths if _inside(p, state.context.root))
        self._pending.hash_seconds += time.monotonic() - started
        if changed or self._pending.config_changed or self._touches_manifests(paths):
            self._pending.paths |= listed
        # else: saved without a change Docker would see (a touch, an identical write)

    def _was_tracked(self, path: str) -> bool:
        for state in self._images:
            rel = state.context.relative(path)
            if rel is not None and state.context.tree.get(rel) is not None:
                return True
        return self._touches_manifests({path})

    def _touches_manifests(self, paths: set[str]) -> bool:
        manifests = [str(m) for m in self.project.config.manifests]
        deployer = self.connections.deployer_now
        if deployer is not None:
            manifests += deployer.sources  # e.g. a kustomize base elsewhere
        return any(p == m or p.startswith(m + "/") for p in paths for m in manifests)

    # -- configuration ---------------------------------------------------------------------------

    def _reload_config(self) -> None:
        from kudev.config import load_config

        old = self.project.config
        try:
            config = load_config(old.path, old.root)
        except KudevError as err:
            self.emit(ev.error_event(err))
            self.emit(ev.Notice(message="keeping the previous configuration", level="warning"))
            return
        if config == old:
            return
        self.project = replace(self.project, config=config)
        self._images = self._image_states(self.project)
        for state in self._images:
            self._scan(state)
        self.connections.drop_cluster()
        self._pending.config_changed = True
        self.emit(ev.Notice(message=f"reloaded {config.path.name}"))
        self._watcher.restart(self._watch_plan())

    def _image_states(self, project: Project) -> list[ImageState]:
        return [
            ImageState(spec, build_context(spec, project.cache_dir, project.own_output, self._stop))
            for spec in project.config.images
        ]

    def _scan(self, state: ImageState) -> None:
        self.emit(ev.ContextScan(image=state.spec.name, root=str(state.context.root)))
        state.context.scan()

    def _watch_plan(self) -> WatchPlan:
        return WatchPlan(self.project, tuple(self._images))

    # -- one cycle -------------------------------------------------------------------------------

    def _cycle_now(self, reason: str) -> None:
        from kudev.deploy.live.sync import SyncFailed

        self._cycle += 1
        pending = self._pending
        changed, hash_seconds = pending.paths, pending.hash_seconds
        self._pending = Pending()
        self._retry_due = False
        plan = self._plan(reason, pending)
        listed = tuple(sorted(changed)[:MAX_LISTED_CHANGES])
        self.emit(
            ev.CycleStarted(
                cycle=self._cycle,
                reason=reason,
                changed=listed,
                changed_total=len(changed),
                mode="sync" if plan.is_sync else "build",
                full_reason=plan.full_reason,
            )
        )
        started = time.monotonic()
        cycle = self._make_cycle(reason, plan)
        ok, cancelled = False, False
        try:
            ok = cycle.run(hash_seconds)
        except BuildCancelled:
            cancelled = True
        except SyncFailed as err:
            # Streams closed for a stop are no failure to tell; a sync failed either way.
            cancelled = self._stop.is_set()
            if not cancelled:
                self._report(err, self._cycle)
            # The containers may hold part of it: a full build puts everything right.
            self._pending.full_build = f"the last sync failed ({err.cause})"
        except KudevError as err:
            self._report(err, self._cycle)
        self.last_ok = ok
        if ok or cancelled:
            self._retries = 0
        self.emit(
            ev.CycleFinished(
                cycle=self._cycle,
                ok=ok,
                cancelled=cancelled,
                seconds=time.monotonic() - started,
                stages=cycle.stages,
            )
        )
        for state in self._images:
            state.context.cache.save()

    def _plan(self, reason: str, pending: Pending) -> CyclePlan:
        if pending.full_build:
            return CyclePlan(full_reason=pending.full_build)
        return plan_cycle(self, self._images, reason, pending.paths)

    def _make_cycle(self, reason: str, plan: CyclePlan) -> Cycle | SyncCycle:
        if plan.is_sync:
            return SyncCycle(self, self._cycle, self._images, plan)
        resumed = resumed_syncs(self, self._images) if reason == "initial" else None
        return Cycle(self, self._cycle, self._images, forced=(reason == "forced"), resumed=resumed)

    def _report(self, err: KudevError, cycle: int) -> None:
        retrying = retries_after_failure(err.retryable, self.options.once)
        if retrying:
            self._retries += 1
            self.connections.drop_after_failure()
        self.emit(ev.error_event(err, cycle=cycle, retrying=retrying))

    # -- shutdown and events ---------------------------------------------------------------------

    def _shutdown(self) -> None:
        self._watcher.signal_stop()
        self.connections.close(cleanup=self.options.cleanup)
        self._watcher.stop()
        self.jobs.join(JOIN_S)
        for state in self._images:
            state.context.cache.save()
        self.connections.disconnect()

    def emit(self, event: ev.Event) -> None:
        with self._emit_lock:
            self._sink(event)


def _inside(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(str(root) + "/")

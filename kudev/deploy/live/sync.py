"""Live update's hands: send synced files into the app's containers, and keep them there.

A sync streams one tar into `tar -x -C / -f -` in every running container of the last full
image, pods in parallel, with one `rm -f` for deleted files; then the triggered `run` steps and
the `restart: container`. A container that starts later from that image (a restart, a new pod)
is caught up by the `kudev-resync` thread this object owns, before its pod counts as current.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kudev import events as ev
from kudev.config.model import LiveUpdateSpec
from kudev.deploy.live.exec import ExecRefused, ExecResult
from kudev.deploy.live.sender import ContainerSender, NoSyncTools, SyncFailed
from kudev.deploy.live.sync_job import Sync, triggered
from kudev.deploy.live.synced import RunningContainer, SyncedState, running_containers
from kudev.image_ref import same_repository
from kudev.threads import join, start_thread
from kudev.timing import clock

STOP_GRACE_S = 2.0  # a stop lets a sync in flight end this long before closing its streams
TARGETS_WAIT_S = 5.0  # right after a deploy, how long to wait for the pod watch to show them

__all__ = ["ImageLive", "LiveSyncer", "NoSyncTools", "SyncFailed", "SyncFigures"]


@dataclass(frozen=True)
class SyncFigures:
    files: int
    deletes: int
    bytes: int
    pods: int


@dataclass(frozen=True)
class ImageLive:
    """What the syncer needs to know of one image."""

    name: str
    root: Path  # the build context on disk
    live: LiveUpdateSpec


class LiveSyncer:
    def __init__(
        self,
        api_client: Any,
        namespace: str,
        emit: ev.EventSink,
        republish: Callable[[], None],
    ) -> None:
        self._sender = ContainerSender(api_client, namespace)
        self.emit = emit
        self.republish = republish  # re-emit the pod rows once their synced state changed
        self.states: dict[str, SyncedState] = {}
        self._images: dict[str, ImageLive] = {}
        self._pods: Mapping[str, Any] = {}
        self._send_lock = threading.Lock()  # one sender at a time: cycle or resync thread
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cutoff: threading.Timer | None = None  # interrupt(): closes a sync's streams

    # -- what the deployer tells it ----------------------------------------------------------

    def set_base(self, image: ImageLive, base_ref: str, synced: Sync | None = None) -> None:
        """A full deploy of `base_ref`; `synced` is what must be on top of it (a resumed
        session's initial sync), re-applied to every container as a catch-up."""
        self._images[image.name] = image
        state = self.states.setdefault(image.name, SyncedState())
        state.reset(base_ref)
        if synced is not None and not synced.empty:
            state.record(synced)
        self._wake.set()

    def on_pods(self, pods: Mapping[str, Any]) -> None:
        """Called by the pod watch with every snapshot (its thread)."""
        self._pods = pods
        for state in self.states.values():
            state.forget_pods(pods)
        self._sender.forget(set(running_containers(pods)))
        self._wake.set()

    def decorate(self, row: ev.PodRow, pod: Any) -> ev.PodRow:
        """The pod's row with its synced files, and whether it has the latest of them."""
        containers = running_containers({row.name: pod})
        images = {c.name: c.image for c in pod.spec.containers or []}
        for state in self.states.values():
            mine = [i for i in images.values() if same_repository(i, state.base_ref)]
            if not state.base_ref or not mine:
                continue
            of_base = [c for c in containers if state.runs_base(c)]
            current = (
                all(state.runs_base_image(i) for i in mine)
                and len(of_base) == len(mine)
                and all(state.is_current(c) for c in of_base)
            )
            return replace(row, synced_files=state.count, current=current)
        return row

    def blocker(self, image: str) -> str:
        """Why `image` cannot be synced now; "" when it can."""
        state = self.states.get(image)
        if state is None:
            return "no full build has reached the pods yet"
        return state.behind_reason(running_containers(self._pods))

    def start(self) -> None:
        if self._thread is None:
            self._thread = start_thread("resync", self._resync_loop)

    def interrupt(self) -> None:
        """kudev is stopping (any thread, without blocking): no sync starts from now on, and
        one in flight has STOP_GRACE_S to end before its streams are closed under it, so the
        thread sending it (the engine's) is free to shut down."""
        self._stop.set()
        self._wake.set()
        if self._cutoff is None and self._send_lock.locked():
            self._cutoff = threading.Timer(STOP_GRACE_S, self._sender.close)
            self._cutoff.name = "kudev-sync-cutoff"
            self._cutoff.daemon = True
            self._cutoff.start()

    def stop(self) -> bool:
        self._stop.set()
        self._wake.set()
        if self._cutoff is not None:
            self._cutoff.cancel()
            self._cutoff.join()
        # Let a sync in flight finish (a file half-written is worse than a short wait).
        if self._send_lock.acquire(timeout=STOP_GRACE_S):
            self._send_lock.release()
        self._sender.close()
        ended = self._thread is None or join(self._thread, self._sender.close)
        self._sender.close()  # a receiver the resync thread opened while it ended
        return ended

    # -- a cycle's sync ----------------------------------------------------------------------

    def sync(self, image: str, plan: Sync, cycle: int) -> SyncFigures:
        """Send `plan` to every container of the last full image; raises SyncFailed."""
        with self._send_lock:
            if self._stop.is_set():
                raise SyncFailed("sync cancelled: kudev is stopping", "")
            state, spec = self.states[image], self._images[image]
            targets = self._targets(state)
            if not targets:
                raise SyncFailed(f"no running container of {state.base_ref} to sync to", "")
            behind = {c for c in state.behind(targets)}
            catch_up = _merged(state.as_sync(), plan)
            sent = self._sender.send_all(
                spec.name, spec.root, targets, lambda c: catch_up if c in behind else plan
            )
            state.mark(targets, state.record(plan))
            self.republish()
            self._after_sync(spec, targets, plan, cycle)
            return SyncFigures(len(plan.files), len(plan.deletes), sent, len(targets))

    def _targets(self, state: SyncedState) -> list[RunningContainer]:
        """The running containers of the base image; right after a deploy the pod watch may
        not have shown them yet, so wait a moment for it."""
        deadline = clock() + TARGETS_WAIT_S
        while True:
            targets = [c for c in running_containers(self._pods) if state.runs_base(c)]
            if targets or clock() > deadline or self._stop.is_set():
                return targets
            self._stop.wait(0.02)

    def _after_sync(
        self, spec: ImageLive, targets: Sequence[RunningContainer], plan: Sync, cycle: int
    ) -> None:
        for step in plan.runs:
            self._run_everywhere(spec.name, targets, step.argv, cycle)
        if spec.live.restart == "container":
            # PID 1 gets SIGTERM; the kubelet starts the container again, and the resync
            # thread puts the synced set back into it before its pod counts as current.
            argv = ("sh", "-c", "kill -TERM 1")
            self._run_everywhere(spec.name, targets, argv, cycle, quiet=True)

    # -- sending -----------------------------------------------------------------------------

    def _run_everywhere(
        self,
        image: str,
        targets: Sequence[RunningContainer],
        argv: Sequence[str],
        cycle: int,
        quiet: bool = False,
    ) -> None:
        """Run a step in each target; its output is build output, a failure an error
        that does not rebuild (`r` does)."""
        for target in targets:
            where = f"{target.pod}/{target.container}"
            try:
                result = self._sender.exec(target, argv, None)
            except ExecRefused as err:
                result = ExecResult(-1, message=err.cause)
            if not quiet:
                self.emit(ev.BuildOutput(cycle=cycle, image=image, line=f"$ {_shown(argv)}"))
                for line, stream in result.output_lines():
                    self.emit(ev.BuildOutput(cycle=cycle, image=image, line=line, stream=stream))
            if not result.ok and not quiet:
                self.emit(
                    ev.ErrorReported(
                        cause=f"`{_shown(argv)}` in {where} failed with exit code "
                        f"{result.exit_code}" + (f": {result.message}" if result.message else ""),
                        remedy="fix it and save again; `r` rebuilds the image",
                        cycle=cycle,
                        stage="sync",
                    )
                )

    # -- keeping containers right ------------------------------------------------------------

    def _resync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            for name in list(self.states):
                self._catch_up(name)

    def _catch_up(self, name: str) -> None:
        with self._send_lock:
            state, spec = self.states[name], self._images.get(name)
            if spec is None or self._stop.is_set():
                return
            running = running_containers(self._pods)
            behind = state.behind(running)
            if not behind:
                self._sender.warm([c for c in running if state.runs_base(c)])
                return
            started = clock()
            catch_up = state.as_sync()
            try:
                self._sender.send_all(spec.name, spec.root, behind, lambda _c: catch_up)
            except SyncFailed as err:
                self.emit(ev.error_event(err))
                return
            state.mark(behind, state.generation)
            touched = [f.rel for f in (*catch_up.files, *catch_up.deletes)]
            for step in triggered(spec.live.run, touched):
                self._run_everywhere(name, behind, step.argv, 0)
            pods = ", ".join(sorted({c.pod for c in behind}))
            self.emit(
                ev.Notice(
                    f"re-applied {state.count} synced files to {pods} "
                    f"(a container started) in {clock() - started:.2f}s"
                )
            )
        self.republish()


def _merged(first: Sync, then: Sync) -> Sync:
    """`first`, with `then` on top: a path in both takes `then`'s fate."""
    later = {f.dest for f in (*then.files, *then.deletes)}
    return Sync(
        files=tuple(f for f in first.files if f.dest not in later) + then.files,
        deletes=tuple(f for f in first.deletes if f.dest not in later) + then.deletes,
    )


def _shown(argv: Sequence[str]) -> str:
    if len(argv) == 3 and argv[:2] == ("sh", "-c"):
        return argv[2]
    return " ".join(argv)

"""Sending to containers: a tar and deletions into each, in parallel, and plain execs.

Each container's sends go through its receiver (deploy/live/receiver.py), opened once;
without one, or when it fails, through one exec of `tar -x -C / -f -` (deletions first, in
the same exec). Every stream this holds is closed by `close()`, which its owner's stop calls.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kudev.deploy.live.exec import ExecRefused, ExecResult, cut, exec_in, tar_of
from kudev.deploy.live.receiver import Receiver
from kudev.deploy.live.sync_job import Sync
from kudev.deploy.live.synced import RunningContainer
from kudev.deploy.live.ws_api import PrivateCoreApis
from kudev.errors import KudevError
from kudev.threads import join, start_thread

EXTRACT = ("tar", "-x", "-C", "/", "-f", "-")
# With deletions the same exec removes them first: one process start per container, not two.
REMOVE_THEN_EXTRACT = 'rm -f -- "$@" && exec tar -x -C / -f -'


class SyncFailed(KudevError):
    """A sync did not reach every container; the cycle falls back to a full build."""


class NoSyncTools(SyncFailed):
    """The image has no `tar` or no `sh`: live update cannot work with it."""


class ContainerSender:
    def __init__(self, api_client: Any, namespace: str) -> None:
        self.cores = PrivateCoreApis(api_client)  # exec swaps call_api: never a shared client
        self.namespace = namespace
        self._open: set[Any] = set()  # one-off exec streams in flight
        self._open_lock = threading.Lock()  # guards _open and _receivers
        self._receivers: dict[RunningContainer, Receiver] = {}
        self._closed = False

    def forget(self, running: set[RunningContainer]) -> None:
        """Close the receivers of containers that no longer run."""
        with self._open_lock:
            gone = [c for c in self._receivers if c not in running]
            closing = [self._receivers.pop(c) for c in gone]
        for receiver in closing:
            receiver.close()

    def close(self) -> None:
        """For a stop: every stream is cut, a sync being written into one included."""
        self._closed = True
        self._close_streams()
        with self._open_lock:
            receivers, self._receivers = list(self._receivers.values()), {}
        for receiver in receivers:
            receiver.close(now=True)

    def send_all(
        self,
        image: str,
        root: Path,
        targets: Sequence[RunningContainer],
        payload_of: Callable[[RunningContainer], Sync],
    ) -> int:
        """Send to every target in parallel; the content bytes of one send."""
        results: dict[RunningContainer, ExecResult | BaseException] = {}
        tars: dict[Sync, tuple[bytes, int, list[str]]] = {}
        for target in targets:
            payload = payload_of(target)
            if payload not in tars:
                tars[payload] = tar_of([(root / f.rel, f.dest) for f in payload.files])

        def send(target: RunningContainer) -> None:
            payload = payload_of(target)
            data, _, gone = tars[payload]
            deletes = [f.dest for f in payload.deletes] + gone
            try:
                results[target] = self._send(target, data if payload.files else None, deletes)
            except BaseException as err:  # noqa: BLE001 - handed to the joining thread
                results[target] = err

        threads = [start_thread(f"sync-{t.pod}", send, t) for t in targets[1:]]
        if targets:
            send(targets[0])  # the first on this thread: one pod needs no thread at all
        for thread in threads:
            join(thread, timeout_s=60)
        _raise_first_failure(image, targets, results)
        return max((tars[payload_of(t)][1] for t in targets), default=0)

    def _send(self, target: RunningContainer, tar: bytes | None, deletes: list[str]) -> ExecResult:
        receiver = self._receiver(target)
        if receiver is None:
            return self._send_once(target, tar, deletes)
        result = receiver.remove(deletes) if deletes else ExecResult(0)
        if result.ok and tar is not None:
            result = receiver.extract(tar)
        if result.ok or result.missing_tool or self._closed:
            return result  # closed: cut for a stop, and another exec would be cut as well
        # The receiver may be what failed (killed, confused): one plain exec decides.
        return self._send_once(target, tar, deletes)

    def _receiver(self, target: RunningContainer) -> Receiver | None:
        """The container's receiver, opened now if it has none (None if that fails)."""
        with self._open_lock:
            receiver = self._receivers.get(target)
        if receiver is not None and not receiver.broken:
            return receiver
        try:
            with self.cores.borrow() as core:
                receiver = Receiver.open(
                    core, self.namespace, target.pod, target.container, lambda _ws: None
                )
        except ExecRefused:
            return None
        with self._open_lock:
            if self._closed:
                receiver.close()
                return None
            self._receivers[target] = receiver
        return receiver

    def _send_once(
        self, target: RunningContainer, tar: bytes | None, deletes: list[str]
    ) -> ExecResult:
        if tar is None:
            argv: tuple[str, ...] = ("rm", "-f", "--", *deletes)
        elif deletes:
            argv = ("sh", "-c", REMOVE_THEN_EXTRACT, "kudev-sync", *deletes)
        else:
            argv = EXTRACT
        return self.exec(target, argv, tar)

    def exec(
        self, target: RunningContainer, argv: Sequence[str], stdin: bytes | None
    ) -> ExecResult:
        with self.cores.borrow() as core:
            return exec_in(
                core,
                self.namespace,
                target.pod,
                target.container,
                argv,
                stdin,
                on_open=self._track,
                on_close=self._untrack,
            )

    def warm(self, containers: Sequence[RunningContainer]) -> None:
        """Open the receivers of new containers now, so the next sync finds them ready."""
        for container in containers:
            with self._open_lock:
                known = container in self._receivers
            if not known:
                self._receiver(container)

    def _track(self, ws: Any) -> None:
        with self._open_lock:
            self._open.add(ws)
        if self._closed:
            self._close_streams()

    def _untrack(self, ws: Any) -> None:
        with self._open_lock:
            self._open.discard(ws)

    def _close_streams(self) -> None:
        with self._open_lock:
            streams, self._open = list(self._open), set()
        for ws in streams:
            cut(ws)
            with contextlib.suppress(Exception):  # a stream that may be gone already
                ws.close()


def _raise_first_failure(
    image: str,
    targets: Sequence[RunningContainer],
    results: Mapping[RunningContainer, ExecResult | BaseException],
) -> None:
    for target in targets:
        result = results.get(target)
        where = f"{target.pod}/{target.container}"
        if result is None:
            raise SyncFailed(f"the sync to {where} did not finish", "")
        if isinstance(result, KudevError):
            raise SyncFailed(result.cause, result.remedy) from result
        if isinstance(result, BaseException):
            raise SyncFailed(f"the sync to {where} failed: {result}", "") from result
        if result.missing_tool:
            raise NoSyncTools(
                f"live update needs `tar` and `sh` in image {image}, and {where} has "
                f"none ({result.message or _first_line(result)})",
                "add them to the image (e.g. busybox) or remove `sync`; "
                "kudev does full builds from now on",
            )
        if not result.ok:
            raise SyncFailed(
                f"the sync to {where} failed with exit code {result.exit_code}: "
                f"{_first_line(result) or result.message}",
                "check the container's disk and the destination's permissions",
            )


def _first_line(result: ExecResult) -> str:
    lines = result.output_lines()
    return lines[0][0] if lines else ""

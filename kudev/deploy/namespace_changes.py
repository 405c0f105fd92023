"""Wake a waiter the moment a pod or a workload in a namespace changes.

The rollout waits on this instead of polling: a Deployment's status is written by its
controller tens of milliseconds after the last pod event, so watching pods alone leaves the
final "rolled out" unseen until the next timeout. One thread per watched resource, each owned
here and ended by `stop()`.
"""

from __future__ import annotations

import threading
from typing import Any

from kudev.threads import join, shut_response, start_thread

RETRY_S = 0.5
WATCH_TIMEOUT_S = 300


class NamespaceChanges:
    """Wakes `wait()` on every watch event of the given list calls (pods, deployments, …) and
    says which of them changed, so a waiter re-reads only what moved."""

    def __init__(self, namespace: str, list_calls: dict[str, Any]) -> None:
        self.namespace = namespace
        self._calls = list_calls  # name → e.g. CoreV1Api.list_namespaced_pod
        self._changed = threading.Event()
        self._which: set[str] = set()  # names changed since the last wait(); under _lock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._responses: set[Any] = set()
        self._threads: list[threading.Thread] = []
        self._watching = threading.Semaphore(0)

    def start(self, timeout_s: float = 5.0) -> None:
        """Start the watches; return once each has opened (or `timeout_s` passed)."""
        for name, call in self._calls.items():
            self._threads.append(start_thread(f"rollout-{name}", self._run, name, call))
        for _ in self._threads:
            self._watching.acquire(timeout=timeout_s)

    def wait(self, seconds: float) -> set[str]:
        """Block until something changed since the last call, or `seconds` pass; the names of
        the list calls that saw a change (all of them after a watch broke: re-read it all)."""
        self._changed.wait(max(0.0, seconds))
        with self._lock:
            self._changed.clear()
            which, self._which = self._which, set()
        return which

    def _mark(self, name: str) -> None:
        with self._lock:
            self._which.add(name)
        self._changed.set()

    def stop(self) -> bool:
        self._stop.set()
        self._changed.set()
        ended = [join(t, self._interrupt) for t in self._threads]
        return all(ended)

    def __enter__(self) -> NamespaceChanges:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _interrupt(self) -> None:
        with self._lock:
            for response in self._responses:
                shut_response(response)

    def _run(self, name: str, call: Any) -> None:
        opened = False
        while not self._stop.is_set():
            try:
                response = self._open(call)
            except Exception:  # noqa: BLE001 - a watch that will not open is retried
                self._mark(name)  # the waiter re-reads rather than trusting a dead watch
                self._stop.wait(RETRY_S)
                continue
            if not opened:
                opened = True
                self._watching.release()
            if response is None:
                return
            self._follow(name, response)

    def _open(self, call: Any) -> Any:
        listing = call(self.namespace, limit=1, _request_timeout=10)
        response = call(
            self.namespace,
            resource_version=listing.metadata.resource_version,
            watch=True,
            timeout_seconds=WATCH_TIMEOUT_S,
            _preload_content=False,
        )
        with self._lock:
            if not self._stop.is_set():
                self._responses.add(response)
                return response
        response.close()
        return None

    def _follow(self, name: str, response: Any) -> None:
        try:
            for _chunk in response.stream(amt=None, decode_content=False):
                self._mark(name)
                if self._stop.is_set():
                    return
        except Exception:  # noqa: BLE001 - shut down by stop(), or a broken stream: reopen
            self._mark(name)
        finally:
            with self._lock:
                self._responses.discard(response)
            response.close()
            response.release_conn()

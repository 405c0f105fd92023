"""Logs of every container of the app, each line once, following pods across redeploys.

One stream per container instance (pod, container, containerID), so a restarted container
gets a new stream and nothing is attached twice. A broken stream resumes from the last
timestamp it saw and skips what it already delivered. A stream that ends while its container
still runs was broken too (a kubelet restart closes it cleanly). Nothing is buffered beyond
a line.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kudev import events as ev
from kudev.threads import join, shut_response, start_thread

RESUME_DELAY_S = 1.0


def split_timestamp(line: str) -> tuple[tuple[int, int] | None, str]:
    """("2026-11-23T09:00:00.12345Z text") → ((epoch seconds, nanoseconds), "text")."""
    stamp, sep, text = line.partition(" ")
    if not sep or not stamp.endswith("Z") or "T" not in stamp:
        return None, line
    whole, _, frac = stamp[:-1].partition(".")
    seconds = _epoch_seconds(whole)
    if seconds is None:
        return None, line
    nanos = int((frac + "000000000")[:9]) if frac.isdigit() else 0
    return (seconds, nanos), text


@functools.lru_cache(maxsize=64)
def _epoch_seconds(whole: str) -> int | None:
    """A flood shares each second's stamp over thousands of lines, and strptime costs ~20 µs:
    parsed once a second, a 20k-lines/s container stops costing the UI thread the GIL."""
    try:
        return int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


class ContainerLog:
    """Follows one container instance; remembers where it is so a reconnect skips repeats."""

    def __init__(
        self,
        core: Any,
        namespace: str,
        pod: str,
        container: str,
        emit: ev.EventSink,
        stop: threading.Event,
        container_id: str = "",
    ) -> None:
        self.core, self.namespace, self.pod, self.container = core, namespace, pod, container
        self.container_id = container_id
        self.emit = emit
        self.stop = stop
        self.last: tuple[int, int] | None = None
        self.count_at_last = 0  # lines delivered that carry exactly `last`
        self._skip = 0  # of those, how many a resumed stream will send again
        self.done = threading.Event()
        self._lock = threading.Lock()  # orders opening a stream against interrupt()
        self._response: Any = None

    def interrupt(self) -> None:
        """Unblock the stream read (after `stop` is set, so the thread ends)."""
        with self._lock:
            if self._response is not None:
                shut_response(self._response)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self._follow_once() and not self._still_running():
                    return  # the container ended and its stream closed normally
                self.stop.wait(RESUME_DELAY_S)
        finally:
            self.done.set()

    def _follow_once(self) -> bool:
        """Stream until EOF (True) or a broken connection (False)."""
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"follow": True, "timestamps": True, "_preload_content": False}
        if self.last is not None:
            # sinceSeconds is whole seconds: ask a little early and skip what was delivered.
            kwargs["since_seconds"] = max(1, int(time.time() - self.last[0]) + 2)
            self._skip = self.count_at_last
        try:
            response = self.core.read_namespaced_pod_log(
                self.pod, self.namespace, container=self.container, **kwargs
            )
        except ApiException as err:
            return err.status in (400, 404)  # gone, or not started yet and then gone
        with self._lock:
            self._response = response
        try:
            if self.stop.is_set():  # set before the stream was held: interrupt() missed it
                return True
            for line in _lines(response):
                self._deliver(line)
        except Exception:  # noqa: BLE001 - a dropped connection: resume from `last`
            return False
        finally:
            with self._lock:
                self._response = None
            if self.stop.is_set():
                response.close()  # a stream cut short is no connection to reuse
            response.release_conn()
        return True

    def _still_running(self) -> bool:
        """Whether this container instance runs on: its stream's end was then a break. When
        the pod cannot be read (the API server away), assume so and try again."""
        from kubernetes.client.exceptions import ApiException

        try:
            pod = self.core.read_namespaced_pod(self.pod, self.namespace, _request_timeout=10)
        except ApiException as err:
            return err.status not in (400, 404)
        except Exception:  # noqa: BLE001 - no answer at all: the cluster is away, not the pod
            return True
        for status in pod.status.container_statuses or []:
            if status.name == self.container:
                same = not self.container_id or status.container_id == self.container_id
                return same and bool(status.state and status.state.running)
        return False

    def _deliver(self, raw: str) -> None:
        stamp, text = split_timestamp(raw)
        if stamp is not None and self.last is not None:
            if stamp < self.last:
                return  # replayed after a reconnect: delivered before
            if stamp == self.last and self._skip > 0:
                self._skip -= 1
                return
        if stamp is not None:
            if stamp == self.last:
                self.count_at_last += 1
            else:
                self.last, self.count_at_last = stamp, 1
        self.emit(ev.LogLine(pod=self.pod, container=self.container, line=text))


def _lines(response: Any) -> Iterator[str]:
    pending = b""
    for chunk in response.stream(amt=64 * 1024, decode_content=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


class LogFollower:
    """Starts one ContainerLog per running container instance of the app's pods, each on its
    own thread, and stops and joins them all in `stop()`."""

    def __init__(self, api_client: Any, namespace: str, emit: ev.EventSink) -> None:
        from kubernetes import client

        self.core: Any = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.emit = emit
        self.stop_event = threading.Event()
        self.streams: dict[tuple[str, str, str], ContainerLog] = {}
        self._threads: dict[tuple[str, str, str], threading.Thread] = {}  # still running
        self._lock = threading.Lock()

    def sync(self, pods: Mapping[str, Any]) -> None:
        """Called with every pod change: attach to container instances not followed yet."""
        with self._lock:
            for pod in pods.values():
                for status in pod.status.container_statuses or []:
                    if status.container_id and (status.state.running or status.state.terminated):
                        self._attach(pod.metadata.name, status.name, status.container_id)

    def _attach(self, pod: str, container: str, container_id: str) -> None:
        key = (pod, container, container_id)
        if key in self.streams or self.stop_event.is_set():
            return
        stream = ContainerLog(
            self.core, self.namespace, pod, container, self.emit, self.stop_event, container_id
        )
        self.streams[key] = stream
        self._threads = {k: t for k, t in self._threads.items() if t.is_alive()}
        self._threads[key] = start_thread(f"log-{pod}-{container}", stream.run)

    def stop(self) -> bool:
        """Stop every stream and join its thread; False if one did not end in time."""
        with self._lock:  # no attach after this
            self.stop_event.set()
            running = [(self.streams[key], t) for key, t in self._threads.items()]
        for stream, _ in running:
            stream.interrupt()
        return all([join(thread, stream.interrupt) for stream, thread in running])

"""The app's pods as a live list, from a watch (not polling), as PodsChanged snapshots."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from kudev import events as ev
from kudev.deploy.diagnosis import pod_phase, waiting_reason
from kudev.image_ref import tag_of
from kudev.threads import join, shut_response, start_thread

RETRY_S = 2.0
EMPTY: Mapping[str, Any] = MappingProxyType({})


def pod_row(pod: Any) -> ev.PodRow:
    statuses = pod.status.container_statuses or []
    ready = sum(1 for s in statuses if s.ready)
    containers = pod.spec.containers or []
    image = containers[0].image if containers else ""
    created = pod.metadata.creation_timestamp
    return ev.PodRow(
        name=pod.metadata.name,
        phase=pod_phase(pod),
        ready=f"{ready}/{len(containers)}",
        restarts=sum(s.restart_count or 0 for s in statuses),
        created=created.timestamp() if created else 0.0,
        image_tag=tag_of(image),
        node=pod.spec.node_name or "",
        reason=waiting_reason(pod),
    )


class PodsWatcher:
    """Lists then watches pods matching a label selector; calls `on_pods` with every change.

    The watch thread keeps its working dict to itself and publishes each state as a fresh
    read-only snapshot (`pods`), swapped in one assignment: port-forward threads read it while
    the watch moves on, and never see a dict mid-change.
    """

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        selector: str,
        on_pods: Callable[[Mapping[str, Any]], None],
        emit: ev.EventSink,
        decorate: Callable[[ev.PodRow, Any], ev.PodRow] = lambda row, _pod: row,
    ) -> None:
        from kubernetes import client

        self.core: Any = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.selector = selector
        self.on_pods = on_pods
        self.emit = emit
        self.decorate = decorate  # adds what others know of a pod (its synced files)
        self._working: dict[str, Any] = {}  # the watch thread's only
        self._snapshot: Mapping[str, Any] = EMPTY
        self._stop = threading.Event()
        self._lock = threading.Lock()  # orders opening the watch against stop()
        self._response: Any = None
        self._thread: threading.Thread | None = None

    @property
    def pods(self) -> Mapping[str, Any]:
        """The latest published pods by name; an immutable snapshot."""
        return self._snapshot

    def start(self) -> None:
        self._thread = start_thread("pods", self._run)

    def stop(self) -> bool:
        """Stop the watch and join its thread; False if it did not end in time."""
        self._stop.set()
        self._interrupt()
        return self._thread is None or join(self._thread, self._interrupt)

    def _interrupt(self) -> None:
        with self._lock:
            if self._response is not None:
                shut_response(self._response)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._list_and_watch()
            except Exception as err:  # noqa: BLE001 - a broken stream is retried, not fatal
                if self._stop.is_set():
                    return
                self.emit(
                    ev.Notice(
                        f"pod watch interrupted ({type(err).__name__}); retrying", level="warning"
                    )
                )
                self._stop.wait(RETRY_S)

    def _list_and_watch(self) -> None:
        listing = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector, _request_timeout=30
        )
        self._working = {p.metadata.name: p for p in listing.items}
        self._changed()
        response = self.core.list_namespaced_pod(
            self.namespace,
            label_selector=self.selector,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=300,
            watch=True,
            _preload_content=False,
        )
        if not self._hold(response):
            return
        try:
            for event in _events(response):
                if self._stop.is_set():
                    return
                self._apply(event)
        finally:
            self._release(response)

    def _hold(self, response: Any) -> bool:
        """Make `response` the one stop() interrupts; False (and closed) if stop came first."""
        with self._lock:
            if not self._stop.is_set():
                self._response = response
                return True
        response.close()
        response.release_conn()
        return False

    def _release(self, response: Any) -> None:
        with self._lock:
            self._response = None
        response.close()
        response.release_conn()

    def _apply(self, event: dict[str, Any]) -> None:
        if event["type"] == "ERROR":  # 410 Gone and the like: _run relists
            from kubernetes.client.exceptions import ApiException

            raw = event.get("raw_object") or {}
            reason = f"{raw.get('reason', '')}: {raw.get('message', '')}"
            raise ApiException(status=raw.get("code", 0), reason=reason)
        pod = event["object"]
        if event["type"] == "DELETED":
            self._working.pop(pod.metadata.name, None)
        elif event["type"] in ("ADDED", "MODIFIED"):
            self._working[pod.metadata.name] = pod
        else:
            return  # BOOKMARK
        self._changed()

    def _changed(self) -> None:
        snapshot = MappingProxyType(dict(self._working))
        self._snapshot = snapshot
        self.on_pods(snapshot)
        self.republish()

    def republish(self) -> None:
        """Emit the rows of the latest snapshot again (what decorates them changed)."""
        pods = self._snapshot.values()
        rows = tuple(sorted((self.decorate(pod_row(p), p) for p in pods), key=lambda r: r.name))
        self.emit(ev.PodsChanged(pods=rows))


def _events(response: Any) -> Iterator[dict[str, Any]]:
    """The watch stream's events, pods deserialised (what kubernetes.watch.Watch does, over a
    response this module holds, so stop() can interrupt its read)."""
    from kubernetes import watch

    decoder = watch.Watch()
    for line in watch.watch.iter_resp_lines(response):
        event = decoder.unmarshal_event(line, "V1Pod")
        if isinstance(event, dict):
            yield event

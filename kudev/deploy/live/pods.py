"""The app's pods as a live list, from a watch (not polling), as PodsChanged snapshots."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kudev import events as ev
from kudev.deploy.diagnosis import pod_phase, waiting_reason
from kudev.image_ref import tag_of

RETRY_S = 2.0


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
    """Lists then watches pods matching a label selector; calls `on_pods` with every change."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        selector: str,
        on_pods: Callable[[dict[str, Any]], None],
        emit: ev.EventSink,
    ) -> None:
        from kubernetes import client

        self.core: Any = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.selector = selector
        self.on_pods = on_pods
        self.emit = emit
        self.pods: dict[str, Any] = {}
        self._stop = threading.Event()
        self._watch: Any = None
        self.thread = threading.Thread(target=self._run, name="kudev-pods", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

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
        from kubernetes import watch

        listing = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector, _request_timeout=30
        )
        self.pods = {p.metadata.name: p for p in listing.items}
        self._changed()
        self._watch = watch.Watch()
        for event in self._watch.stream(
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=self.selector,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=300,
        ):
            if self._stop.is_set():
                return
            pod = event["object"]
            if event["type"] == "DELETED":
                self.pods.pop(pod.metadata.name, None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                self.pods[pod.metadata.name] = pod
            self._changed()

    def _changed(self) -> None:
        rows = tuple(sorted((pod_row(p) for p in self.pods.values()), key=lambda r: r.name))
        self.emit(ev.PodsChanged(pods=rows))
        self.on_pods(dict(self.pods))

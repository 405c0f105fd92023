"""What Kubernetes says about one pod, for the dashboard's pod detail screen.

`PodDetailSource` is the hook; `KubePodDetails` implements it against the API server
(`kubectl describe pod` in data). `describe` blocks: the dashboard runs it in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kudev.deploy.pod_logs import last_logs
from kudev.errors import KudevError


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: str  # running, waiting, terminated
    reason: str = ""  # CrashLoopBackOff, ErrImagePull, Completed, …
    ready: bool = False
    restarts: int = 0
    image: str = ""
    last_exit_code: int | None = None  # of the previous (terminated) container
    last_reason: str = ""  # Error, OOMKilled, …
    last_finished: float | None = None  # epoch seconds


@dataclass(frozen=True)
class PodEvent:
    """One Kubernetes event about the pod (`kubectl describe pod`'s Events table)."""

    type: str  # Normal, Warning
    reason: str  # BackOff, Pulled, FailedScheduling, …
    message: str
    last_seen: float  # epoch seconds
    count: int = 1


@dataclass(frozen=True)
class PodDetail:
    containers: tuple[ContainerState, ...] = ()
    events: tuple[PodEvent, ...] = ()
    previous_logs: dict[str, tuple[str, ...]] | None = None  # container -> last lines


class PodDetailSource(Protocol):
    def describe(self, pod: str) -> PodDetail:
        """What Kubernetes says about the pod now. Blocking; raise KudevError on failure."""
        ...


class KubePodDetails:
    """PodDetailSource over the API server, for one namespace."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        from kubernetes import client

        self.core: Any = client.CoreV1Api(api_client)
        self.namespace = namespace

    def describe(self, pod: str) -> PodDetail:
        from kubernetes.client.exceptions import ApiException

        try:
            obj = self.core.read_namespaced_pod(pod, self.namespace, _request_timeout=15)
            events = self.core.list_namespaced_event(
                self.namespace, field_selector=f"involvedObject.name={pod}", _request_timeout=15
            ).items
        except ApiException as err:
            raise KudevError(
                f"cannot describe pod {pod}: {err.reason}", "is it still there?"
            ) from err
        containers = tuple(_container(cs) for cs in obj.status.container_statuses or [])
        previous = {
            c.name: last_logs(self.core, self.namespace, pod, c.name)
            for c in containers
            if c.restarts
        }
        return PodDetail(containers, tuple(_events(events)), previous or None)


def _container(cs: Any) -> ContainerState:
    state, reason = "waiting", ""
    if cs.state.running:
        state = "running"
    elif cs.state.terminated:
        state, reason = "terminated", cs.state.terminated.reason or ""
    elif cs.state.waiting:
        reason = cs.state.waiting.reason or ""
    last = cs.last_state.terminated if cs.last_state else None
    return ContainerState(
        name=cs.name,
        state=state,
        reason=reason,
        ready=bool(cs.ready),
        restarts=cs.restart_count or 0,
        image=cs.image or "",
        last_exit_code=last.exit_code if last else None,
        last_reason=(last.reason or "") if last else "",
        last_finished=last.finished_at.timestamp() if last and last.finished_at else None,
    )


def _events(items: list[Any]) -> list[PodEvent]:
    def when(e: Any) -> float:
        stamp = e.last_timestamp or e.event_time or e.metadata.creation_timestamp
        return stamp.timestamp() if stamp else 0.0

    ordered = sorted(items, key=when)[-20:]
    return [
        PodEvent(e.type or "", e.reason or "", e.message or "", when(e), e.count or 1)
        for e in ordered
    ]

"""The hook through which the pod detail screen learns more than the event stream says.

The event stream gives a pod's row, kudev's diagnosis and its log lines; Kubernetes knows more
(every container's state, the pod's recent events). The deploy side implements
`PodDetailSource` and either exposes it as the engine's `pod_details` attribute (the dashboard
picks it up) or passes it to `make_app(..., pod_details=...)`. `describe` is a blocking call
(it talks to the API server); the detail screen runs it in a thread worker, never on the UI loop.
No Textual here, so kudev's core can implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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

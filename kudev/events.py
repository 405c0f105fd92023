"""The event stream: every front-end (headless printer, TUI) renders these and nothing else.

Events are small frozen dataclasses. `to_json()` gives the wire form documented in README:
one object per line with `type` (the event's kind), `ts` (seconds since the epoch) and the
event's own fields.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

# A cycle's stages in the order they run: the `stage` of StageStarted/StageFinished.
STAGES = ("hash", "build", "load", "apply", "ready")
# A sync cycle's stages: `sync` stands in for build, load, apply and ready. A session's first
# cycle on pods left with synced files runs all of them: the full stages, then `sync`.
SYNC_STAGES = ("hash", "sync")
ALL_STAGES = (*STAGES, "sync")


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    ts: float = field(default_factory=_now, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"type": self.kind, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=str)


@dataclass(frozen=True)
class SessionStarted(Event):
    """The engine is up: what it watches and where it would deploy."""

    kind: ClassVar[str] = "session_started"
    project: str
    root: str
    images: tuple[str, ...]
    context: str = ""  # kube context, "" when none
    cluster: str = ""  # detected cluster kind, "" when unknown


@dataclass(frozen=True)
class ContextScan(Event):
    """A whole build context is walked and hashed: at the start, before `session_started`, and
    after a config reload. A context of gigabytes takes seconds, and this says why."""

    kind: ClassVar[str] = "context_scan"
    image: str
    root: str


@dataclass(frozen=True)
class CycleStarted(Event):
    """A build/deploy cycle begins; `changed` lists the paths that triggered it."""

    kind: ClassVar[str] = "cycle_started"
    cycle: int
    reason: str  # "initial", "change", "forced", "config", "retry", "full" (after a failed sync)
    changed: tuple[str, ...] = ()
    changed_total: int = 0  # may exceed len(changed): the list is capped
    mode: str = "build"  # "build" (a full build) or "sync" (live update: files copied in)
    full_reason: str = ""  # why a project with sync rules builds: "serve.sh is not under …"


@dataclass(frozen=True)
class StageStarted(Event):
    kind: ClassVar[str] = "stage_started"
    cycle: int
    stage: str  # one of ALL_STAGES
    image: str = ""


@dataclass(frozen=True)
class StageFinished(Event):
    """A stage ended. `ok` False means it failed; `skipped` means there was nothing to do."""

    kind: ClassVar[str] = "stage_finished"
    cycle: int
    stage: str  # one of ALL_STAGES
    seconds: float
    ok: bool = True
    skipped: bool = False
    detail: str = ""
    image: str = ""
    # Counts a stage has to tell; the sync stage's: files, deletes, bytes, pods.
    figures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildOutput(Event):
    """One line of build (or image-loader, or live update `run` step) output, as it arrives."""

    kind: ClassVar[str] = "build_output"
    cycle: int
    image: str
    line: str
    stream: str = "stdout"  # "stdout", "error", "loader"


@dataclass(frozen=True)
class ImageReady(Event):
    """An image exists under its content tag and is on the cluster's nodes (or needs no load)."""

    kind: ClassVar[str] = "image_ready"
    cycle: int
    image: str  # configured image name
    ref: str  # full reference to deploy, e.g. "myapp:kudev-1a2b3c4d" or "localhost:5000/myapp:…"
    tag: str
    built: bool  # False when an existing image was reused
    loaded: bool  # False when no load was needed


@dataclass(frozen=True)
class CycleFinished(Event):
    kind: ClassVar[str] = "cycle_finished"
    cycle: int
    ok: bool
    seconds: float
    cancelled: bool = False
    stages: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorReported(Event):
    """Something went wrong; `cause` is one line, `remedy` what the user can do."""

    kind: ClassVar[str] = "error"
    cause: str
    remedy: str = ""
    where: str = ""  # file:line:col when known
    cycle: int = 0
    stage: str = ""
    retrying: bool = False


@dataclass(frozen=True)
class Notice(Event):
    """Information worth a line: config reloaded, watching paused, inotify limits, retries."""

    kind: ClassVar[str] = "notice"
    message: str
    level: str = "info"  # "info" or "warning"


@dataclass(frozen=True)
class WatchState(Event):
    kind: ClassVar[str] = "watch_state"
    watching: bool
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionEnded(Event):
    kind: ClassVar[str] = "session_ended"
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class ClusterConnected(Event):
    """Which cluster the engine talks to and how images reach it."""

    kind: ClassVar[str] = "cluster_connected"
    context: str
    cluster_kind: str  # "kind", "minikube", "docker-desktop", … or "unknown"
    server: str
    namespace: str
    loader: str  # e.g. "kind load docker-image --name dev", "push to localhost:5000"


@dataclass(frozen=True)
class PodRow:
    """One pod of the app as the pods pane shows it (not an event by itself)."""

    name: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown, Terminating
    ready: str  # "1/1"
    restarts: int
    created: float  # epoch seconds; the front-end computes the age
    image_tag: str  # tag of the app container's image, e.g. "kudev-1a2b3c4d"
    node: str = ""
    reason: str = ""  # waiting/terminated reason: CrashLoopBackOff, ErrImagePull, OOMKilled…
    synced_files: int | None = None  # files synced on top of the image; None: no live update
    current: bool = True  # False while its containers lack the synced files (or the image)


@dataclass(frozen=True)
class PodsChanged(Event):
    """The full current pod list of the app (a snapshot: a newer one replaces an older one)."""

    kind: ClassVar[str] = "pods"
    pods: tuple[PodRow, ...]


@dataclass(frozen=True)
class LogLine(Event):
    """One line a container printed."""

    kind: ClassVar[str] = "log"
    pod: str
    container: str
    line: str


@dataclass(frozen=True)
class RolloutProgress(Event):
    kind: ClassVar[str] = "rollout"
    cycle: int
    workload: str  # "deployment/hello"
    ready: int
    desired: int
    message: str = ""


@dataclass(frozen=True)
class PodDiagnosis(Event):
    """Why a pod is not becoming ready, with what a person needs to fix it."""

    kind: ClassVar[str] = "diagnosis"
    cycle: int
    pod: str
    container: str
    reason: str  # ErrImagePull, ImagePullBackOff, CrashLoopBackOff, OOMKilled, Unschedulable,
    #              CreateContainerConfigError, ProbeFailed, …
    message: str
    exit_code: int | None = None
    last_logs: tuple[str, ...] = ()  # the previous container's last lines, when it crashed


@dataclass(frozen=True)
class PortForwardState(Event):
    kind: ClassVar[str] = "port_forward"
    local: int
    remote: int
    target: str  # "pod/hello-7d9c-abcde"
    active: bool
    error: str = ""


EventSink = Callable[[Event], None]


def error_event(err: Exception, **fields: Any) -> ErrorReported:
    """An ErrorReported from a KudevError (cause/remedy/where) or any other exception."""
    cause = getattr(err, "cause", None) or f"{type(err).__name__}: {err}"
    return ErrorReported(
        cause=cause,
        remedy=getattr(err, "remedy", ""),
        where=getattr(err, "where", ""),
        **fields,
    )

"""What the dashboard knows, folded from the event stream. Plain Python: no Textual here.

`SessionState.apply(event)` is the only way in; widgets read the state and never the events,
so a snapshot test and the live app show the same thing for the same stream.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kudev import events as ev
from kudev.wording import (
    changed_words,
    cycle_mode_words,
    cycle_outcome,
    stage_outcome,
    stage_words,
)

MAX_CYCLES = 100
MAX_BUILD_LINES = 5_000  # per cycle
MAX_POD_LOG_LINES = 200  # per pod, for the pod detail screen

# Classic builder: "Step 2/3 : COPY x /y". BuildKit: "#7 [2/3] COPY x /y" and "#7 ERROR: …".
_CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : ")
_BUILDKIT_STEP = re.compile(r"^#(\d+) (\[[^\]]*\] .*)$")
_BUILDKIT_ERROR = re.compile(r"^#(\d+) ERROR: ")
_FAILED_AT = re.compile(r"^build failed at (Step \d+/\d+ : .+?|\[[^\]]*\] .+?|.+?): ")

STAGE_PHASE = {
    "hash": "building",
    "build": "building",
    "load": "loading",
    "apply": "deploying",
    "ready": "deploying",
    "sync": "syncing",
}
# How the transcript styles kudev's note on a finished stage.
_STAGE_LINE_KIND = {"failed": "fail", "skipped": "note", "done": "ok"}


@dataclass
class StageRecord:
    status: str = "pending"  # pending, running, done, skipped, failed
    seconds: float = 0.0
    did_work: bool = False  # one image's real build outweighs another's skip
    running: int = 0  # images in this stage now: images build side by side
    figures: dict[str, int] = field(default_factory=dict)  # summed over images


@dataclass(frozen=True)
class BuildLine:
    """A line of a cycle's transcript: build output, or kudev's own note about a stage."""

    text: str
    kind: str  # out, step, error, loader, note, ok, fail
    seq: int  # position in the cycle's transcript since it began (survives trimming)
    image: str = ""  # whose builder or loader wrote it: images build side by side


@dataclass
class CycleRecord:
    cycle: int
    reason: str
    changed: tuple[str, ...] = ()
    changed_total: int = 0
    started: float = 0.0
    mode: str = "build"  # or "sync": live update, files copied into the containers
    full_reason: str = ""  # why a project with sync rules built instead
    stages: dict[str, StageRecord] = field(
        default_factory=lambda: {s: StageRecord() for s in ev.STAGES}
    )
    tags: dict[str, str] = field(default_factory=dict)
    result: str = "running"  # running, ok, failed, cancelled
    seconds: float | None = None
    error: str = ""
    failed_step: str = ""
    failed_step_seq: int | None = None
    lines: deque[BuildLine] = field(default_factory=lambda: deque(maxlen=MAX_BUILD_LINES))
    line_total: int = 0
    # Per image: two images' BuildKit outputs both number their steps from #1.
    _steps: dict[tuple[str, str], BuildLine] = field(default_factory=dict, repr=False)
    _last_step: dict[str, BuildLine] = field(default_factory=dict, repr=False)

    def add_line(self, text: str, kind: str, image: str = "") -> BuildLine:
        line = BuildLine(text, kind, self.line_total, image)
        self.line_total += 1
        self.lines.append(line)
        return line

    def add_build_output(self, text: str, stream: str, image: str = "") -> None:
        buildkit = _BUILDKIT_STEP.match(text)
        if stream == "error":
            kind = "error"
        elif stream == "loader":
            kind = "loader"
        elif buildkit or _CLASSIC_STEP.match(text):
            kind = "step"
        else:
            kind = "out"
        line = self.add_line(text, kind, image)
        if buildkit:
            self._steps[image, buildkit.group(1)] = line
        elif kind == "step":
            self._last_step[image] = line
        if kind == "error" and not self.failed_step:
            self._note_failed_step(text, image)

    def _note_failed_step(self, error_text: str, image: str) -> None:
        failed = _BUILDKIT_ERROR.match(error_text)
        step = self._steps.get((image, failed.group(1))) if failed else self._last_step.get(image)
        if step is not None:
            self.failed_step = _BUILDKIT_STEP.sub(r"\2", step.text)
            self.failed_step_seq = step.seq

    @property
    def running_stage(self) -> str:
        running = [s for s, r in self.stages.items() if r.status == "running"]
        return running[-1] if running else ""

    @property
    def finished(self) -> bool:
        return self.result != "running"

    @property
    def shown_stages(self) -> tuple[str, ...]:
        """The stages this cycle has: a sync cycle's `sync` stands in for the build's."""
        if self.mode == "sync":
            return ev.SYNC_STAGES
        return (*ev.STAGES, "sync") if "sync" in self.stages else ev.STAGES


@dataclass
class SessionState:
    project: str = ""
    root: str = ""
    images: tuple[str, ...] = ()
    context: str = ""
    cluster_kind: str = ""
    namespace: str = ""
    build_only: bool = False
    watching: bool | None = None
    tags: dict[str, str] = field(default_factory=dict)
    cycles: deque[CycleRecord] = field(default_factory=lambda: deque(maxlen=MAX_CYCLES))
    error: ev.ErrorReported | None = None
    errors_since_ok: int = 0
    pods: tuple[ev.PodRow, ...] = ()
    diagnoses: dict[str, dict[str, ev.PodDiagnosis]] = field(default_factory=dict)
    pod_logs: dict[str, deque[ev.LogLine]] = field(default_factory=dict)
    rollout: ev.RolloutProgress | None = None
    port_forwards: dict[int, ev.PortForwardState] = field(default_factory=dict)
    engine_stopped: str = ""  # why the engine is no longer running ("" while it runs)
    stopping: bool = False
    _previous_pods: frozenset[str] = field(default=frozenset(), repr=False)

    # -- reading ----------------------------------------------------------------------------

    @property
    def current(self) -> CycleRecord | None:
        return self.cycles[-1] if self.cycles else None

    @property
    def previous(self) -> CycleRecord | None:
        return self.cycles[-2] if len(self.cycles) > 1 else None

    def cycle(self, number: int) -> CycleRecord | None:
        for record in reversed(self.cycles):
            if record.cycle == number:
                return record
        return None

    @property
    def phase(self) -> str:
        """watching · building · loading · deploying · ready · failed (and a few edges)."""
        if self.stopping:
            return "stopping"
        if self.engine_stopped:
            return "stopped"
        record = self.current
        if record is None:
            return "starting" if self.watching is None else "watching"
        if record.result == "running":
            return STAGE_PHASE.get(record.running_stage, "building")
        return {"ok": "ready", "failed": "failed"}.get(record.result, "watching")

    def pod(self, name: str) -> ev.PodRow | None:
        return next((p for p in self.pods if p.name == name), None)

    def relative(self, path: str) -> str:
        """A changed path as the person knows it: relative to the project when inside it."""
        if self.root and (path == self.root or path.startswith(self.root.rstrip("/") + "/")):
            return os.path.relpath(path, self.root)
        return path

    # -- folding events in --------------------------------------------------------------------

    def apply(self, event: ev.Event) -> None:
        # The table is total over the event types (tests/test_events.py), so no event falls
        # through unseen; one from a newer engine than this dashboard is left alone.
        handler = EVENT_HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def add_logs(self, lines: Iterable[ev.LogLine]) -> None:
        for line in lines:
            buffer = self.pod_logs.get(line.pod)
            if buffer is None:
                buffer = self.pod_logs[line.pod] = deque(maxlen=MAX_POD_LOG_LINES)
            buffer.append(line)

    def _on_log_line(self, event: ev.LogLine) -> None:
        self.add_logs((event,))

    def _on_session_started(self, event: ev.SessionStarted) -> None:
        self.project, self.root, self.images = event.project, event.root, event.images
        self.context = event.context or self.context
        self.cluster_kind = event.cluster or self.cluster_kind

    def _on_cluster_connected(self, event: ev.ClusterConnected) -> None:
        self.context, self.cluster_kind = event.context, event.cluster_kind
        self.namespace = event.namespace

    def _on_watch_state(self, event: ev.WatchState) -> None:
        self.watching = event.watching

    def _on_cycle_started(self, event: ev.CycleStarted) -> None:
        record = CycleRecord(
            cycle=event.cycle,
            reason=event.reason,
            changed=event.changed,
            changed_total=event.changed_total,
            started=event.ts,
            mode=event.mode,
            full_reason=event.full_reason,
        )
        paths = [self.relative(p) for p in event.changed]
        why = f" ({changed_words(paths, event.changed_total)})" if paths else ""
        kind = cycle_mode_words(event.mode, event.full_reason)
        kind = f" — {kind}" if kind else ""
        record.add_line(f"cycle {event.cycle}: {event.reason}{why}{kind}", "note")
        self.cycles.append(record)
        self.rollout = None

    def _on_stage_started(self, event: ev.StageStarted) -> None:
        record = self._record(event.cycle)
        stage = record.stages.setdefault(event.stage, StageRecord())
        stage.running += 1
        if stage.status != "failed":
            stage.status = "running"

    def _on_stage_finished(self, event: ev.StageFinished) -> None:
        record = self._record(event.cycle)
        stage = record.stages.setdefault(event.stage, StageRecord())
        stage.seconds += event.seconds
        stage.did_work |= event.ok and not event.skipped
        for name, count in event.figures.items():
            stage.figures[name] = stage.figures.get(name, 0) + count
        stage.running = max(0, stage.running - 1)
        if not event.ok:
            stage.status = "failed"
        elif stage.status == "failed":
            pass
        elif stage.running:
            stage.status = "running"  # another image is still in this stage
        else:
            stage.status = "done" if stage.did_work else "skipped"
        if event.stage != "hash":
            line_kind = _STAGE_LINE_KIND[stage_outcome(event)]
            record.add_line(stage_words(event, decimals=2), line_kind)

    def _on_build_output(self, event: ev.BuildOutput) -> None:
        self._record(event.cycle).add_build_output(event.line, event.stream, event.image)

    def _on_image_ready(self, event: ev.ImageReady) -> None:
        self.tags[event.image] = event.tag
        self._record(event.cycle).tags[event.image] = event.tag

    def _on_cycle_finished(self, event: ev.CycleFinished) -> None:
        record = self._record(event.cycle)
        record.result = "cancelled" if event.cancelled else "ok" if event.ok else "failed"
        record.seconds = event.seconds
        for name, seconds in event.stages.items():
            record.stages.setdefault(name, StageRecord()).seconds = seconds
        for stage in record.stages.values():
            if stage.status == "running":
                stage.status = "failed" if record.result == "failed" else "pending"
        record.add_line(
            f"cycle {event.cycle} {cycle_outcome(event)} in {event.seconds:.2f}s",
            "ok" if event.ok else "note" if event.cancelled else "fail",
        )
        if event.ok:
            self.error = None
            self.errors_since_ok = 0

    def _on_error_reported(self, event: ev.ErrorReported) -> None:
        self.error = event
        self.errors_since_ok += 1
        record = self.cycle(event.cycle) if event.cycle else None
        if record is None:
            return
        record.error = event.cause
        if event.stage == "ready" and record.result == "ok":
            # The settle watch after "ready": a new pod crashed, so the cycle did not hold.
            record.result = "failed"
            record.stages.setdefault("ready", StageRecord()).status = "failed"
        if not record.failed_step and (at := _FAILED_AT.match(event.cause)):
            record.failed_step = at.group(1)
        record.add_line(f"error: {event.cause}", "fail")
        if event.remedy:
            record.add_line(f"  hint: {event.remedy}", "note")

    def _on_pods_changed(self, event: ev.PodsChanged) -> None:
        names = frozenset(p.name for p in event.pods)
        keep = names | self._previous_pods  # log lines may name a pod a snapshot before it
        for table in (self.diagnoses, self.pod_logs):
            for gone in [n for n in table if n not in keep]:
                del table[gone]
        self._previous_pods = names
        self.pods = event.pods

    def _on_pod_diagnosis(self, event: ev.PodDiagnosis) -> None:
        containers = self.diagnoses.setdefault(event.pod, {})
        before = containers.get(event.container)
        containers[event.container] = event
        if before is not None and before.reason == event.reason:
            return
        record = self.cycle(event.cycle) if event.cycle else self.current
        if record is not None:
            code = f" (exit {event.exit_code})" if event.exit_code is not None else ""
            record.add_line(f"pod {event.pod}: {event.reason}{code}: {event.message}", "fail")

    def _on_rollout_progress(self, event: ev.RolloutProgress) -> None:
        self.rollout = event

    def _on_port_forward_state(self, event: ev.PortForwardState) -> None:
        self.port_forwards[event.local] = event

    def _record(self, cycle: int) -> CycleRecord:
        """The cycle's record; made up when its start was not seen (a dropped or late event)."""
        record = self.cycle(cycle)
        if record is None:
            record = CycleRecord(cycle=cycle, reason="?")
            self.cycles.append(record)
        return record


def _ignored(_state: SessionState, _event: ev.Event) -> None:
    pass


# Event type → what folding it in does. Every type in kudev.events has an entry, even when the
# state has nothing to keep from it.
EVENT_HANDLERS: dict[type[ev.Event], Callable[[SessionState, Any], None]] = {
    ev.ContextScan: _ignored,  # the first cycle's hash stage counts the scan's seconds
    ev.SessionStarted: SessionState._on_session_started,
    ev.ClusterConnected: SessionState._on_cluster_connected,
    ev.WatchState: SessionState._on_watch_state,
    ev.CycleStarted: SessionState._on_cycle_started,
    ev.StageStarted: SessionState._on_stage_started,
    ev.StageFinished: SessionState._on_stage_finished,
    ev.BuildOutput: SessionState._on_build_output,
    ev.ImageReady: SessionState._on_image_ready,
    ev.CycleFinished: SessionState._on_cycle_finished,
    ev.ErrorReported: SessionState._on_error_reported,
    ev.PodsChanged: SessionState._on_pods_changed,
    ev.PodDiagnosis: SessionState._on_pod_diagnosis,
    ev.LogLine: SessionState._on_log_line,
    ev.RolloutProgress: SessionState._on_rollout_progress,
    ev.PortForwardState: SessionState._on_port_forward_state,
    ev.Notice: _ignored,  # the dashboard shows it as a toast (DashboardScreen.flush)
    ev.SessionEnded: _ignored,  # headless only: the app sees its engine worker end instead
}


def pod_health(pod: ev.PodRow) -> str:
    """ok, pending, failing or gone: what colour a pod gets."""
    if pod.phase == "Terminating" or pod.phase == "Succeeded":
        return "gone"
    if pod.reason or pod.phase in ("Failed", "Unknown"):
        return "failing"
    ready, _, total = pod.ready.partition("/")
    if pod.phase == "Running" and ready == total and total not in ("", "0"):
        return "ok"
    return "pending"


def format_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def format_age(seconds: float) -> str:
    """kubectl's style: 45s, 3m, 2h, 4d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

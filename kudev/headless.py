"""The headless front-end: prints the event stream as readable lines or JSON lines."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from kudev import events as ev
from kudev import exit_codes
from kudev.project import Project
from kudev.session import SessionOptions
from kudev.wording import (
    changed_words,
    cycle_mode_words,
    cycle_outcome,
    pod_image_words,
    stage_words,
)

if TYPE_CHECKING:
    from kudev.engine.loop import Engine


def format_event(event: ev.Event) -> str | None:
    """One readable line (or a few) for an event; None for events not worth a line."""
    if isinstance(event, ev.SessionStarted):
        return f"kudev: {event.project} in {event.root} (images: {', '.join(event.images)})"
    if isinstance(event, ev.ContextScan):
        return f"hashing the build context of {event.image} ({event.root})"
    if isinstance(event, ev.CycleStarted):
        kind = cycle_mode_words(event.mode, event.full_reason)
        kind = f" — {kind}" if kind else ""
        return f"[{event.cycle}] cycle started: {event.reason}{_changed(event)}{kind}"
    if isinstance(event, ev.StageFinished):
        return f"[{event.cycle}] {stage_words(event, decimals=3)}"
    if isinstance(event, ev.BuildOutput):
        marker = "!" if event.stream == "error" else "|"
        return f"[{event.cycle}] {event.image} {marker} {event.line}"
    if isinstance(event, ev.ImageReady):
        how = "built" if event.built else "reused"
        return f"[{event.cycle}] image ready: {event.ref} ({how})"
    if isinstance(event, ev.CycleFinished):
        return f"[{event.cycle}] cycle {cycle_outcome(event)} in {event.seconds:.2f}s"
    if isinstance(event, ev.ErrorReported):
        return _error_lines(event)
    if isinstance(event, ev.Notice):
        return f"{'warning: ' if event.level == 'warning' else ''}{event.message}"
    if isinstance(event, ev.WatchState):
        return "watching for changes (Ctrl-C to stop)" if event.watching else "watching paused"
    return _deploy_side(event)


def _deploy_side(event: ev.Event) -> str | None:
    if isinstance(event, ev.ClusterConnected):
        return (
            f"cluster: {event.context} ({event.cluster_kind}), namespace {event.namespace}; "
            f"images: {event.loader}"
        )
    if isinstance(event, ev.LogLine):
        return f"{event.pod}/{event.container} | {event.line}"
    if isinstance(event, ev.RolloutProgress):
        return f"[{event.cycle}] rollout {event.workload}: {event.ready}/{event.desired} ready"
    if isinstance(event, ev.PodDiagnosis):
        return _diagnosis_lines(event)
    if isinstance(event, ev.PortForwardState):
        return _forward_line(event)
    if isinstance(event, ev.PodsChanged):
        return "pods: " + ("; ".join(_pod_summary(p) for p in event.pods) or "none")
    return None


def _pod_summary(pod: ev.PodRow) -> str:
    reason = f" {pod.reason}" if pod.reason else ""
    image = pod_image_words(pod)
    return f"{pod.name} {pod.phase}{reason} {pod.ready} restarts={pod.restarts} {image}"


def _diagnosis_lines(event: ev.PodDiagnosis) -> str:
    who = f"{event.pod}/{event.container}" if event.container else event.pod
    code = f" (exit code {event.exit_code})" if event.exit_code is not None else ""
    lines = [f"[{event.cycle}] {who}: {event.reason}{code}: {event.message}"]
    lines += [f"    {line}" for line in event.last_logs]
    return "\n".join(lines)


def _forward_line(event: ev.PortForwardState) -> str:
    if event.error:
        return f"port-forward 127.0.0.1:{event.local}: {event.error}"
    if not event.active:
        return f"port-forward 127.0.0.1:{event.local}: waiting for a ready pod"
    return f"port-forward 127.0.0.1:{event.local} -> {event.target}:{event.remote}"


def _changed(event: ev.CycleStarted) -> str:
    if not event.changed_total:
        return ""
    return f" ({changed_words(event.changed, event.changed_total)})"


def _error_lines(event: ev.ErrorReported) -> str:
    where = f"{event.where}: " if event.where else ""
    text = f"error: {where}{event.cause}"
    if event.remedy:
        text += f"\n  hint: {event.remedy}"
    if event.retrying:
        text += "\n  (retrying)"
    return text


class HeadlessPrinter:
    def __init__(self, out: TextIO, json_lines: bool) -> None:
        self.out = out
        self.json_lines = json_lines
        self._last_pods: str | None = None

    def __call__(self, event: ev.Event) -> None:
        text = event.to_json() if self.json_lines else format_event(event)
        if isinstance(event, ev.PodsChanged) and not self.json_lines:
            if text == self._last_pods:
                return  # a watch event that changed nothing this printer shows
            self._last_pods = text
        if text is not None:
            self.out.write(text + "\n")
            self.out.flush()


def run_headless(
    project: Project,
    options: SessionOptions,
    json_lines: bool,
    out: TextIO | None = None,
    engine_factory: Callable[[Project, SessionOptions, ev.EventSink], Engine] | None = None,
) -> int:
    """Run the engine until Ctrl-C/SIGTERM (or one cycle with --once)."""
    printer = HeadlessPrinter(out or sys.stdout, json_lines)
    engine = (engine_factory or _real_engine)(project, options, printer)
    result: dict[str, bool] = {}
    worker = threading.Thread(target=lambda: result.update(ok=engine.run()), name="kudev-engine")
    stopped = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopped.set()
        engine.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(timeout=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ok = result.get("ok", False)
    printer(ev.SessionEnded(ok=ok, reason="stopped" if stopped.is_set() else "done"))
    if options.once and stopped.is_set() and not ok:
        return exit_codes.INTERRUPTED  # Ctrl-C before the one cycle could finish
    if options.once:
        return exit_codes.OK if ok else exit_codes.FAILED
    return exit_codes.OK  # a watching session ends by Ctrl-C: that is its normal end


def _real_engine(project: Project, options: SessionOptions, sink: ev.EventSink) -> Engine:
    from kudev.engine.loop import Engine

    return Engine(project, options, sink)

"""The status header: where kudev deploys, what it is doing, and each stage's time."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from kudev.view_model.state import CycleRecord, SessionState, format_seconds
from kudev.wording import cycle_mode_words, sync_figures_words

StyleOf = Callable[[str], Style]

COMPACT_BELOW = 100  # columns
_PHASE_CLASSES = ("-ready", "-failed", "-busy", "-idle", "-stopped")


def phase_class(phase: str) -> str:
    if phase in ("ready", "failed"):
        return f"-{phase}"
    if phase in ("building", "loading", "deploying", "syncing", "stopping"):
        return "-busy"
    return "-stopped" if phase == "stopped" else "-idle"


def stage_strip_text(
    record: CycleRecord | None, label: str, style_of: StyleOf, *, compact: bool = False
) -> Text:
    """`now  #3  hash 0.01s → build 2.31s → load skip → apply – → ready –  ✓ 4.12s`.

    Compact (for 80 columns): one decimal.
    """
    text = Text(f"{label:<5}", style=style_of("label"))
    if record is None:
        return text.append("–", style_of("pending"))
    text.append(f"#{record.cycle:<3}", style_of("cycle"))
    for index, stage in enumerate(record.shown_stages):
        if index:
            text.append(" → ", style_of("arrow"))
        status = record.stages[stage].status
        text.append(f"{stage} ", style_of(status))
        text.append(_stage_value(record, stage, compact), style_of(status))
    if record.finished:
        mark = {"ok": "✓", "failed": "✗", "cancelled": "cancelled"}[record.result]
        total = _seconds(record.seconds or 0.0, compact)
        text.append(f"  {mark} {total}", style_of(f"result-{record.result}"))
    return text


def _seconds(seconds: float, compact: bool) -> str:
    if compact and seconds < 10:
        return f"{seconds:.1f}s"
    return format_seconds(seconds)


def _stage_value(record: CycleRecord, stage: str, compact: bool) -> str:
    state = record.stages[stage]
    if state.status == "running":
        return "…"
    if state.status == "skipped":
        return "skip"
    if state.status == "pending":
        return "–" if record.finished else "·"
    mark = "✗ " if state.status == "failed" else ""
    figures = f" · {sync_figures_words(state.figures)}" if state.figures else ""
    return mark + _seconds(state.seconds, compact) + figures


def why_text(state: SessionState, record: CycleRecord | None, style_of: StyleOf) -> Text:
    text = Text("why  ", style=style_of("label"))
    if record is None:
        return text.append("waiting for the first cycle", style_of("pending"))
    text.append(f"#{record.cycle} ", style_of("cycle"))
    kind = cycle_mode_words(record.mode, record.full_reason)
    if kind:
        text.append(f"[{kind}] ", style_of("label"))
    if not record.changed_total:
        reasons = {
            "initial": "first build of this session",
            "forced": "rebuild requested (r)",
            "config": "configuration changed",
            "retry": "retrying after an error",
        }
        return text.append(reasons.get(record.reason, record.reason))
    files = [state.relative(p) for p in record.changed[:4]]
    text.append(f"{record.reason}: ", style_of("label"))
    text.append(", ".join(files), style_of("files"))
    more = record.changed_total - len(files)
    if more > 0:
        text.append(f" and {more} more", style_of("label"))
    return text


class StageStrip(Static):
    """Two lines: the current cycle (or the latest) and the one before it."""

    COMPONENT_CLASSES = {
        "stage--label",
        "stage--cycle",
        "stage--arrow",
        "stage--pending",
        "stage--running",
        "stage--done",
        "stage--skipped",
        "stage--failed",
        "stage--result-ok",
        "stage--result-failed",
        "stage--result-cancelled",
        "stage--files",
    }

    def style_of(self, name: str) -> Style:
        return self.get_component_rich_style(f"stage--{name}", partial=True)

    def show(self, state: SessionState) -> None:
        compact = self.app.size.width < COMPACT_BELOW
        text = stage_strip_text(state.current, "now", self.style_of, compact=compact)
        last = stage_strip_text(state.previous, "last", self.style_of, compact=compact)
        self.update(text.append("\n").append_text(last))


class WhyLine(StageStrip):
    def show(self, state: SessionState) -> None:
        self.update(why_text(state, state.current, self.style_of))


class StatusHeader(Vertical):
    """Project, cluster, namespace, image tag and state; then the stage strip and the why."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="session-line"):
            yield Static(id="session-info")
            yield Static(id="phase")
        yield StageStrip(id="stage-strip")
        yield WhyLine(id="why")

    def show(self, state: SessionState) -> None:
        self.query_one("#session-info", Static).update(self._session_text(state))
        phase = self.query_one("#phase", Static)
        phase.update(f" {state.phase.upper()} ")
        phase.remove_class(*_PHASE_CLASSES).add_class(phase_class(state.phase))
        self.query_one(StageStrip).show(state)
        self.query_one(WhyLine).show(state)

    def _session_text(self, state: SessionState) -> Text:
        strip = self.query_one(StageStrip)
        label, value, bad = (
            strip.style_of("label"),
            strip.style_of("files"),
            strip.style_of("failed"),
        )
        text = Text()
        text.append(state.project or "kudev", Style(bold=True))
        if state.build_only:
            text.append("  build only", label)
        else:
            text.append("  ctx ", label).append(state.context or "?", value)
            if state.cluster_kind:
                text.append(f" ({state.cluster_kind})", label)
            text.append("  ns ", label).append(state.namespace or "?", value)
        for image in state.images or tuple(state.tags):
            tag = state.tags.get(image)
            text.append(f"  {image}:", label).append(tag or "(not built yet)", value)
        for forward in state.port_forwards.values():
            text.append(f"  :{forward.local}→{forward.remote}", value if forward.active else bad)
            if forward.error:
                text.append(f" ({forward.error})", bad)
        if state.watching is False:
            text.append("  watching paused (p)", bad)
        return text

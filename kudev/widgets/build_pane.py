"""The build pane: one cycle's transcript — kudev's note on each stage and the builder's lines.

It follows the newest cycle; `[` and `]` step through earlier ones (they are kept, bounded), and
`e` jumps to the Dockerfile step that failed, which the pane also pins above the output.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from kudev.view_model.state import MAX_BUILD_LINES, BuildLine, CycleRecord, SessionState
from kudev.widgets.lines import Line, LineView, clean_text

_KINDS = ("out", "step", "error", "loader", "note", "ok", "fail", "failed-step")


class BuildPane(Vertical, can_focus=False):
    COMPONENT_CLASSES = {f"build--{kind}" for kind in _KINDS}
    BINDINGS = [
        Binding("left_square_bracket", "older", "Older build"),
        Binding("right_square_bracket", "newer", "Newer build"),
        Binding("e", "jump_to_failure", "Failing step"),
    ]

    def __init__(self, state: SessionState, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self._state = state
        self._shown: CycleRecord | None = None
        # The person chose an earlier cycle: stay on it until the next cycle starts.
        self._pinned_until: int | None = None
        self._shown_total = 0  # how much of the shown cycle's transcript the view has
        self._shown_failed_seq: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="build-failure")
        yield LineView(MAX_BUILD_LINES, wrap=True, id="build-lines")

    @property
    def view(self) -> LineView:
        return self.query_one("#build-lines", LineView)

    def sync(self) -> None:
        """Catch up with the state: a new cycle replaces the shown one unless pinned."""
        latest = self._state.current
        if latest is not None and latest.cycle != self._pinned_until:
            self._pinned_until = None
        if self._pinned_until is None and latest is not None and latest is not self._shown:
            self._show(latest)
        elif self._shown is not None:
            if self._shown.failed_step_seq != self._shown_failed_seq:
                self._show(self._shown)  # restyle the failing step's line
            else:
                self._append_new()
        self._update_labels()

    def show_cycle(self, number: int) -> bool:
        record = self._state.cycle(number)
        if record is None:
            return False
        latest = self._state.current
        pinned = latest is not None and record is not latest
        self._pinned_until = latest.cycle if pinned and latest is not None else None
        self._show(record)
        self._update_labels()
        return True

    # -- actions ------------------------------------------------------------------------------

    def action_older(self) -> None:
        self._step(-1)

    def action_newer(self) -> None:
        self._step(+1)

    def action_jump_to_failure(self) -> None:
        record = self._shown
        if record is None or record.failed_step_seq is None:
            self.notify("no failing step in this build", severity="warning", timeout=3)
            return
        if not self.view.scroll_to_key(record.failed_step_seq):
            self.notify("the failing step scrolled out of the kept lines", timeout=3)

    def _step(self, delta: int) -> None:
        cycles = list(self._state.cycles)
        if not cycles or self._shown is None:
            return
        index = next((i for i, r in enumerate(cycles) if r is self._shown), len(cycles) - 1)
        index = min(max(index + delta, 0), len(cycles) - 1)
        self.show_cycle(cycles[index].cycle)

    # -- rendering ----------------------------------------------------------------------------

    def _show(self, record: CycleRecord) -> None:
        self._shown = record
        self._shown_failed_seq = record.failed_step_seq
        view = self.view
        view.clear()
        view.set_follow(True)
        view.append([self._line(line, record) for line in record.lines])
        self._shown_total = record.line_total

    def _append_new(self) -> None:
        record = self._shown
        assert record is not None
        new = record.line_total - self._shown_total
        if new <= 0:
            return
        lines = list(record.lines)[-new:]
        self.view.append([self._line(line, record) for line in lines])
        self._shown_total = record.line_total

    def _line(self, line: BuildLine, record: CycleRecord) -> Line:
        kind = "failed-step" if line.seq == record.failed_step_seq else line.kind
        style = None if kind == "out" else self._style(kind)
        text = clean_text(line.text)
        if line.image and len(self._state.images) > 1:
            text = f"{line.image} │ {text}"  # two images' lines interleave as they build
        return Line(text, style, key=line.seq)

    def _style(self, kind: str) -> Style:
        return self.get_component_rich_style(f"build--{kind}", partial=True)

    def _update_labels(self) -> None:
        record = self._shown
        failure = self.query_one("#build-failure", Static)
        if record is None:
            self.border_title = "build"
            self.border_subtitle = ""
            failure.set_class(False, "-visible")
            return
        status = {"running": "running", "ok": "ok", "failed": "FAILED"}.get(record.result, "")
        status = status or record.result
        self.border_title = f"build #{record.cycle} · {status}"
        latest = self._state.current
        if self._pinned_until is not None and latest is not None:
            self.border_subtitle = f"earlier build · ] newer (latest #{latest.cycle})"
        elif len(self._state.cycles) > 1:
            self.border_subtitle = "[ older builds"
        else:
            self.border_subtitle = ""
        failure.set_class(bool(record.failed_step), "-visible")
        if record.failed_step:
            text = Text("✗ failed at ", style=self._style("fail"))
            text.append(record.failed_step, self._style("failed-step"))
            if record.failed_step_seq is not None:
                text.append("  (e: jump to it)", self._style("note"))
            failure.update(text)

"""The logs pane: every pod's lines in one stream, a stable colour per pod.

Follow/pause (`f`, or scroll up; `End`/`G` follows again), filter as you type (`/`), wrap (`w`),
clear (`c`). Bounded: the oldest lines go first, and lines the UI could not take in time under a
flood are counted and said ("N skipped under load"), not queued. While another screen covers the
dashboard the pane holds its lines (`hold`/`release`) instead of redrawing behind it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input

from kudev import events as ev
from kudev.view_model.feed import MAX_LOG_LINES
from kudev.widgets.lines import MAX_LINE_CHARS, Line, LineView, clean_text

POD_COLOURS = 8  # logs--pod-0 … logs--pod-7 in the stylesheet


class FilterInput(Input):
    BINDINGS = [Binding("escape", "close", "Close filter", show=False)]

    def action_close(self) -> None:
        self.value = ""
        pane = self.parent
        if isinstance(pane, LogPane):
            pane.close_filter()


class LogPane(Vertical):
    COMPONENT_CLASSES = {f"logs--pod-{i}" for i in range(POD_COLOURS)}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self._colours: dict[str, int] = {}
        self._styles: dict[int, Style] = {}
        self.dropped = 0
        self._held: deque[ev.LogLine] | None = None  # while covered: the newest lines, bounded
        self._passed = 0  # held lines the bound let go: newer ones would push them out anyway

    def compose(self) -> ComposeResult:
        yield LineView(MAX_LOG_LINES, placeholder="no log lines yet", id="log-lines")
        yield FilterInput(placeholder="filter logs (Enter keeps it, Esc clears)", id="log-filter")

    def on_mount(self) -> None:
        self.border_title = "logs"
        self._update_labels()

    @property
    def view(self) -> LineView:
        return self.query_one("#log-lines", LineView)

    def append(self, logs: Sequence[ev.LogLine], dropped: int = 0) -> None:
        self.dropped += dropped
        held = self._held
        if held is not None:
            self._passed += max(0, len(held) + len(logs) - MAX_LOG_LINES)
            held.extend(logs)
            return
        self._show(logs)

    def hold(self) -> None:
        """Keep lines instead of drawing them: a screen covers the dashboard, and every redraw
        behind it makes that screen re-render (a modal re-tints the whole dashboard)."""
        if self._held is None:
            self._held = deque(maxlen=MAX_LOG_LINES)

    def release(self) -> None:
        """Show what arrived while held, in one batch."""
        held, passed = self._held, self._passed
        self._held, self._passed = None, 0
        if held is None:
            return
        self._show(list(held), passed)

    def _show(self, logs: Sequence[ev.LogLine], passed: int = 0) -> None:
        styles: dict[str, Style] = {}
        lines = []
        for log in logs:  # the hot loop under a flood: no call it can do without
            style = styles.get(log.pod)
            if style is None:
                style = styles[log.pod] = self._colour(log.pod)
            text = log.line
            if len(text) > MAX_LINE_CHARS or not text.isprintable():
                text = clean_text(text)
            lines.append(Line(text, None, log.pod, style))
        self.view.append(lines, passed)
        self._update_labels()

    def colour_index(self, pod: str) -> int:
        """Pods get colours in the order they first speak, so the first eight never share one."""
        index = self._colours.get(pod)
        if index is None:
            index = self._colours[pod] = len(self._colours) % POD_COLOURS
        return index

    def _colour(self, pod: str) -> Style:
        index = self.colour_index(pod)
        style = self._styles.get(index)
        if style is None:
            style = self._styles[index] = self.get_component_rich_style(
                f"logs--pod-{index}", partial=True
            )
        return style

    # -- commands (bound on the dashboard, so they work from any pane) -------------------------

    def clear(self) -> None:
        self.view.clear()
        if self._held is not None:
            self._held.clear()
        self.dropped = self._passed = 0
        self._update_labels()

    def toggle_follow(self) -> None:
        self.view.set_follow(not self.view.follow)

    def toggle_wrap(self) -> None:
        self.view.set_wrap(not self.view.wrap)

    def jump_to_end(self) -> None:
        self.view.set_follow(True)

    def open_filter(self) -> None:
        field = self.query_one(FilterInput)
        field.add_class("-visible")
        field.focus()

    def close_filter(self) -> None:
        field = self.query_one(FilterInput)
        if not field.value:
            field.remove_class("-visible")
        self.view.focus()

    @on(Input.Changed, "#log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.view.set_filter(event.value)

    @on(Input.Submitted, "#log-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter()

    @on(LineView.StateChanged, "#log-lines")
    def _view_changed(self, event: LineView.StateChanged) -> None:
        event.stop()
        self._update_labels()

    def _update_labels(self) -> None:
        view = self.view
        parts = []
        if view.follow:
            parts.append("following")
        else:
            parts.append(f"paused · {view.unseen:,} new · End follows")
        if view.filter:
            parts.append(f"filter “{view.filter}”: {view.shown_count:,} of {view.line_count:,}")
        else:
            parts.append(f"{view.line_count:,} lines")
        if view.wrap:
            parts.append("wrap")
        if self.dropped:
            parts.append(f"{self.dropped:,} skipped under load")
        self.border_subtitle = " · ".join(parts)

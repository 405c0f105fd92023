"""The dashboard: status header, error banner, build, pods and logs — fed from the event feed.

The engine's threads only append to the `EventFeed` and post one `FeedPending`; this screen takes
the whole batch at most `FLUSH_HZ` times a second, folds it into the `SessionState` and lets each
widget catch up. Nothing arrives, nothing runs: there is no timer while the feed is empty.
While another screen covers it (help, history, a pod), the state is still folded at that pace
but the widgets wait: a redraw behind a screen makes that screen re-render, and under a log
flood that is what the keys would wait for. They catch up when the dashboard is back on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer

from kudev import events as ev
from kudev.deploy.pod_details import PodDetailSource
from kudev.screens.live import LiveScreen
from kudev.view_model.feed import EventFeed
from kudev.view_model.state import SessionState
from kudev.widgets.banner import ErrorBanner
from kudev.widgets.build_pane import BuildPane
from kudev.widgets.log_pane import LogPane
from kudev.widgets.pods_table import PodsPane
from kudev.widgets.status import StatusHeader

FLUSH_HZ = 15
NARROW_BELOW = 160  # columns: below this the panes stack instead of build | pods side by side


_ZOOMED_GRID = {
    "grid_size_columns": 1,
    "grid_size_rows": 1,
    "grid_columns": "1fr",
    "grid_rows": "1fr",
}


class FeedPending(Message):
    """Events wait in the feed. Posted from the engine's threads; one replaces another."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedPending)


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("z", "zoom", "Zoom"),
        Binding("slash", "filter", "Filter"),
        Binding("f", "follow", "Follow", show=False),
        Binding("w", "wrap", "Wrap", show=False),
        Binding("c", "clear_logs", "Clear", show=False),
        Binding("G", "log_end", "Logs end", show=False),
        Binding("1", "focus_pane('build')", "Build pane", show=False),
        Binding("2", "focus_pane('pods')", "Pods pane", show=False),
        Binding("3", "focus_pane('logs')", "Logs pane", show=False),
    ]

    def __init__(
        self,
        state: SessionState,
        feed: EventFeed,
        clock: Callable[[], float],
        pod_details: PodDetailSource | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.feed = feed
        self.clock = clock
        self.pod_details = pod_details
        self._flush_timer: Timer | None = None
        self._last_flush = 0.0
        self._composed = False  # events may arrive before the widgets exist: they wait
        self._covered = False  # another screen is on top: widgets catch up when it goes
        self._redraw_due = False
        self._zoomed = ""

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield ErrorBanner(id="banner")
        with Container(id="panes"):
            yield BuildPane(self.state, id="build")
            yield PodsPane(self.state, self.clock, id="pods")
            yield LogPane(id="logs")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # Nested widgets compose after this screen mounts; start drawing once they all exist.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self._composed = True
        self.flush()  # what arrived meanwhile (and re-arms the feed's wake-up)
        self._redraw()
        self.query_one(LogPane).view.focus()

    def on_screen_suspend(self) -> None:
        self._covered = True
        if self._composed:
            self.logs.hold()

    def on_screen_resume(self) -> None:
        self._covered = False
        if not self._composed:
            return
        self.logs.release()
        if self._redraw_due:
            self._redraw()

    def on_resize(self) -> None:
        self.query_one("#panes").set_class(self.size.width < NARROW_BELOW, "-narrow")
        self.show_state()  # the stage strip goes compact below 100 columns

    # -- events in ----------------------------------------------------------------------------

    def on_feed_pending(self, _message: FeedPending) -> None:
        if self._flush_timer is not None:
            return
        wait = self._last_flush + 1 / FLUSH_HZ - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._flush_timer = self.set_timer(wait, self.flush)

    def flush(self) -> None:
        """Take everything waiting in the feed and show it."""
        if self._flush_timer is not None:
            self._flush_timer.stop()  # called directly: the pending timer has nothing to do
            self._flush_timer = None
        if not self._composed:
            return
        self._last_flush = time.monotonic()
        batch = self.feed.take()
        for event in batch.events:
            self.state.apply(event)
            if isinstance(event, ev.Notice):
                severity: SeverityLevel = "warning" if event.level == "warning" else "information"
                self.notify(event.message, severity=severity, timeout=4)
        if batch.logs or batch.dropped_logs:
            self.state.add_logs(batch.logs)
            self.query_one(LogPane).append(batch.logs, batch.dropped_logs)
        if batch.events:
            self._redraw()
        top = self.app.screen
        if isinstance(top, LiveScreen):
            top.state_changed()

    def show_state(self) -> None:
        """Redraw after the app changed the state itself (engine stopped, quitting)."""
        if self._composed:
            self._redraw()

    def _redraw(self) -> None:
        self._redraw_due = self._covered
        if self._covered:
            return
        state = self.state
        self.query_one(StatusHeader).show(state)
        self.query_one(ErrorBanner).show(state.error, state.errors_since_ok)
        self.query_one(BuildPane).sync()
        self.query_one(PodsPane).sync()

    # -- panes --------------------------------------------------------------------------------

    @property
    def logs(self) -> LogPane:
        return self.query_one(LogPane)

    @property
    def build(self) -> BuildPane:
        return self.query_one(BuildPane)

    def focused_pane(self) -> Widget | None:
        node = self.focused
        while node is not None and not node.has_class("pane"):
            node = node.parent if isinstance(node.parent, Widget) else None
        return node

    @property
    def zoomed(self) -> str:
        """The zoomed pane's id, or ""."""
        return self._zoomed

    def action_zoom(self) -> None:
        pane = self.focused_pane() or self.logs
        self._zoom("" if self._zoomed == pane.id else str(pane.id))

    def _zoom(self, pane_id: str) -> None:
        # The grid's shape and the other panes' display are set inline: a class on #panes would
        # restyle every widget inside the panes, and that restyle is what the key waits for.
        grid = self.query_one("#panes").styles
        with self.app.batch_update():
            for rule, value in _ZOOMED_GRID.items():
                if pane_id:
                    setattr(grid, rule, value)
                else:
                    grid.clear_rule(rule)
            for pane in self.query(".pane"):
                pane.display = not pane_id or pane.id == pane_id
                pane.set_class(pane.id == pane_id, "-zoom")
        self._zoomed = pane_id

    def action_focus_pane(self, name: str) -> None:
        targets = {"build": "#build-lines", "pods": "#pods-table", "logs": "#log-lines"}
        self.query_one(targets[name]).focus()
        if self.zoomed:
            self._zoom(name)

    def action_filter(self) -> None:
        if self.zoomed not in ("", "logs"):
            self._zoom("logs")
        self.logs.open_filter()

    def action_follow(self) -> None:
        self.logs.toggle_follow()

    def action_wrap(self) -> None:
        self.logs.toggle_wrap()

    def action_log_end(self) -> None:
        self.logs.jump_to_end()

    def action_clear_logs(self) -> None:
        self.logs.clear()

    @on(PodsPane.PodChosen)
    def _open_pod(self, event: PodsPane.PodChosen) -> None:
        from kudev.screens.pod_detail import PodDetailScreen

        self.app.push_screen(PodDetailScreen(event.pod, self.state, self.clock, self.pod_details))

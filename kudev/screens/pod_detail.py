"""One pod, for the crash diagnosis without leaving the dashboard.

Built from what the event stream says (the pod's row, kudev's diagnoses, its log lines). With a
`PodDetailSource` it also shows every container's state and the pod's Kubernetes events, fetched
in a thread worker: the UI never waits for the API server.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from kudev.deploy.pod_details import PodDetail, PodDetailSource
from kudev.screens.live import LiveScreen
from kudev.view_model.state import SessionState, format_age, pod_health
from kudev.widgets.lines import clean_text

RECENT_LOG_LINES = 30


class PodDetailScreen(LiveScreen[None]):
    COMPONENT_CLASSES = {
        "detail--ok",
        "detail--pending",
        "detail--failing",
        "detail--gone",
        "detail--heading",
        "detail--note",
        "detail--warning",
    }
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("u", "refresh_detail", "Refresh", show=False),
    ]

    def __init__(
        self,
        pod: str,
        state: SessionState,
        clock: Callable[[], float],
        source: PodDetailSource | None = None,
    ) -> None:
        super().__init__()
        self.pod = pod
        self._state = state
        self._clock = clock
        self._source = source
        self._detail: PodDetail | None = None
        self._detail_error = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pod-detail"):
            yield Static(id="pod-summary")
            yield Static(id="pod-containers", classes="section")
            yield Static(id="pod-events", classes="section")
            yield Static(id="pod-previous-logs", classes="section")
            yield Static(id="pod-recent-logs", classes="section")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.state_changed()
        self.action_refresh_detail()

    def action_refresh_detail(self) -> None:
        if self._source is not None:
            self._fetch(self._source)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pod-detail")
    def _fetch(self, source: PodDetailSource) -> PodDetail:
        return source.describe(self.pod)

    @on(Worker.StateChanged)
    def _fetched(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "pod-detail":
            return
        if event.state == WorkerState.SUCCESS:
            self._detail, self._detail_error = event.worker.result, ""
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            self._detail_error = getattr(error, "cause", None) or f"{error}"
        self.state_changed()

    def state_changed(self) -> None:
        self.query_one("#pod-summary", Static).update(self._summary())
        self.query_one("#pod-containers", Static).update(self._containers())
        self.query_one("#pod-events", Static).update(self._events())
        self.query_one("#pod-previous-logs", Static).update(self._previous_logs())
        self.query_one("#pod-recent-logs", Static).update(self._recent_logs())

    # -- sections -----------------------------------------------------------------------------

    def _summary(self) -> Text:
        row = self._state.pod(self.pod)
        text = Text(self.pod, style="bold")
        if row is None:
            return text.append("  (gone: no longer in the app's pod list)", self._style("note"))
        text.append(f"  {row.reason or row.phase}", self._style(pod_health(row)))
        text.append(f"  ready {row.ready}  restarts {row.restarts}")
        text.append(f"  age {format_age(self._clock() - row.created)}")
        text.append(f"  image {row.image_tag}")
        if row.node:
            text.append(f"  node {row.node}")
        return text

    def _containers(self) -> Group:
        table = Table(box=None, pad_edge=False, show_edge=False, expand=False)
        for column in ("container", "state", "exit", "reason", "message"):
            table.add_column(column, style=self._style("note") if column == "message" else None)
        diagnoses = self._state.diagnoses.get(self.pod, {})
        if self._detail is not None and self._detail.containers:
            for c in self._detail.containers:
                exit_code = "" if c.last_exit_code is None else str(c.last_exit_code)
                said = diagnoses.get(c.name)
                table.add_row(
                    c.name,
                    f"{c.state} {c.reason}".strip(),
                    exit_code,
                    c.last_reason,
                    said.message if said else "",
                )
        for name, d in diagnoses.items():
            if self._detail is not None and any(c.name == name for c in self._detail.containers):
                continue
            exit_code = "" if d.exit_code is None else str(d.exit_code)
            table.add_row(name, d.reason, exit_code, d.reason, d.message)
        if not table.row_count:
            note = "no problem reported for this pod's containers"
            return Group(self._heading("Containers"), Text(note, style=self._style("note")))
        return Group(self._heading("Containers · state and last termination"), table)

    def _events(self) -> Group:
        heading = self._heading("Recent events")
        note = self._style("note")
        if self._source is None:
            return Group(heading, Text("Kubernetes events not available yet", style=note))
        if self._detail_error:
            failing = self._style("failing")
            return Group(heading, Text(f"could not fetch: {self._detail_error}", style=failing))
        if self._detail is None:
            return Group(heading, Text("fetching…", style=note))
        if not self._detail.events:
            return Group(heading, Text("none", style=note))
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("age", "type", "reason", "message"):
            table.add_column(column)
        now = self._clock()
        for e in self._detail.events:
            count = f" (x{e.count})" if e.count > 1 else ""
            style = self._style("warning") if e.type == "Warning" else None
            age = format_age(now - e.last_seen)
            table.add_row(age, e.type, e.reason, e.message + count, style=style)
        return Group(heading, table)

    def _previous_logs(self) -> Group:
        heading = self._heading("Previous container's last lines")
        lines: list[str] = []
        for d in self._state.diagnoses.get(self.pod, {}).values():
            lines.extend(d.last_logs)
        if not lines and self._detail is not None and self._detail.previous_logs:
            for logs in self._detail.previous_logs.values():
                lines.extend(logs)
        if not lines:
            note = "no previous container (it has not crashed)"
            return Group(heading, Text(note, style=self._style("note")))
        return Group(heading, Text("\n".join(clean_text(line) for line in lines)))

    def _recent_logs(self) -> Group:
        heading = self._heading("Recent log lines")
        logs = list(self._state.pod_logs.get(self.pod, ()))[-RECENT_LOG_LINES:]
        if not logs:
            return Group(heading, Text("none yet", style=self._style("note")))
        text = Text("\n".join(clean_text(f"{log.container} │ {log.line}") for log in logs))
        return Group(heading, text)

    def _heading(self, title: str) -> Text:
        return Text(f"\n{title}", style=self._style("heading"))

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"detail--{name}", partial=True)

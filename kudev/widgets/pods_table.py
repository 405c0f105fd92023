"""The pods pane: the app's pods, coloured by health; Enter opens a pod's detail."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from kudev import events as ev
from kudev.view_model.state import SessionState, format_age, pod_health
from kudev.wording import pod_image_words

COLUMNS = ("name", "phase", "ready", "restarts", "age", "image tag")
_MARK = {"ok": "●", "pending": "◌", "failing": "✗", "gone": "·"}
AGE_REFRESH_S = 5.0


class PodsPane(Vertical):
    COMPONENT_CLASSES = {"pods--ok", "pods--pending", "pods--failing", "pods--gone"}

    class PodChosen(Message):
        def __init__(self, pod: str) -> None:
            super().__init__()
            self.pod = pod

    def __init__(
        self, state: SessionState, clock: Callable[[], float], *, id: str | None = None
    ) -> None:
        super().__init__(id=id, classes="pane")
        self._state = state
        self._clock = clock
        self._shown: tuple[ev.PodRow, ...] | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="pods-table", cursor_type="row")
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table
        yield Static(id="pods-diagnosis")

    def on_mount(self) -> None:
        self.border_title = "pods"
        # Ages move by themselves; a slow timer that only runs while pods are shown.
        self._ages = self.set_interval(AGE_REFRESH_S, self._refresh_ages, pause=True)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#pods-table", DataTable)

    def sync(self) -> None:
        state = self._state
        if state.pods is not self._shown:
            self._fill(state.pods)
        self._update_labels()

    @on(DataTable.RowSelected, "#pods-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PodChosen(event.row_key.value))

    def _fill(self, pods: tuple[ev.PodRow, ...]) -> None:
        table = self.table
        selected = self.selected_pod
        table.clear()
        now = self._clock()
        for pod in pods:
            table.add_row(*self._cells(pod, now), key=pod.name)
        if selected is not None and self._state.pod(selected) is not None:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._shown = pods
        if pods:
            self._ages.resume()
        else:
            self._ages.pause()

    @property
    def selected_pod(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value

    def _cells(self, pod: ev.PodRow, now: float) -> list[Text]:
        health = pod_health(pod)
        style = self.get_component_rich_style(f"pods--{health}", partial=True)
        phase = pod.reason or pod.phase
        values = (
            f"{_MARK[health]} {pod.name}",
            phase,
            pod.ready,
            str(pod.restarts),
            format_age(now - pod.created),
            pod_image_words(pod),
        )
        return [Text(value, style=style, no_wrap=True) for value in values]

    def _refresh_ages(self) -> None:
        table, now = self.table, self._clock()
        for pod in self._state.pods:
            if pod.name in table.rows:
                age = Text(format_age(now - pod.created), style=self._style_of(pod))
                table.update_cell(pod.name, "age", age)

    def _style_of(self, pod: ev.PodRow) -> Style:
        return self.get_component_rich_style(f"pods--{pod_health(pod)}", partial=True)

    def _update_labels(self) -> None:
        state = self._state
        ready = sum(pod_health(p) == "ok" for p in state.pods)
        title = f"pods {ready}/{len(state.pods)} ready" if state.pods else "pods"
        if state.rollout is not None:
            r = state.rollout
            title += f" · {r.workload} {r.ready}/{r.desired}"
        self.border_title = title
        self.border_subtitle = "Enter: details" if state.pods else ""
        diagnosis = self.query_one("#pods-diagnosis", Static)
        problems = [d for pod in state.pods for d in state.diagnoses.get(pod.name, {}).values()]
        diagnosis.set_class(bool(problems), "-visible")
        if not problems:
            empty = "no pods yet" if not state.build_only else "build only: nothing deployed"
            diagnosis.update("" if state.pods else empty)
            diagnosis.set_class(not state.pods, "-visible")
            return
        first = problems[0]
        code = f", exit {first.exit_code}" if first.exit_code is not None else ""
        text = Text(f"✗ {first.pod}: {first.reason}{code} — {first.message}")
        text.stylize(self.get_component_rich_style("pods--failing", partial=True))
        if len(problems) > 1:
            text.append(f"  (+{len(problems) - 1} more)")
        diagnosis.update(text)

"""Build history: every cycle kept, with its trigger files, tag, stage times and result.

Enter shows the chosen cycle's transcript in the build pane.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from kudev import events as ev
from kudev.screens.live import LiveScreen
from kudev.view_model.state import CycleRecord, SessionState, format_age, format_seconds
from kudev.wording import changed_words, cycle_mode_words, sync_figures_words

COLUMNS = ("#", "result", "when", "tag", *ev.STAGES, "total", "why")
# With live update the history gains a sync column (figures in the detail line).
SYNC_COLUMNS = ("#", "result", "when", "tag", *ev.STAGES, "sync", "total", "why")


class BuildHistoryScreen(LiveScreen[int | None]):
    COMPONENT_CLASSES = {"history--ok", "history--failed", "history--running", "history--note"}
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("b", "close", "Back", show=False),
    ]

    def __init__(self, state: SessionState, clock: Callable[[], float]) -> None:
        super().__init__()
        self._state = state
        self._clock = clock
        self._shown: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static("Build history · Enter shows a build's output · Esc back", id="history-title")
        table: DataTable[Text] = DataTable(id="history-table", cursor_type="row")
        self._columns = self._wanted_columns()
        for column in self._columns:
            table.add_column(column, key=column)
        yield table
        yield Static(id="history-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.state_changed()
        table = self.query_one(DataTable)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def state_changed(self) -> None:
        table: DataTable[Text] = self.query_one("#history-table", DataTable)
        cycles = list(reversed(self._state.cycles))  # newest first
        selected = table.cursor_row if table.row_count else 0
        columns = self._wanted_columns()
        table.clear(columns=columns != self._columns)
        if columns != self._columns:
            self._columns = columns
            for column in columns:
                table.add_column(column, key=column)
        now = self._clock()
        for record in cycles:
            table.add_row(*self._cells(record, now), key=str(record.cycle))
        self._shown = [r.cycle for r in cycles]
        if cycles:
            table.move_cursor(row=min(selected, len(cycles) - 1), animate=False)
        self._show_detail()

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.dismiss(int(event.row_key.value))

    def _wanted_columns(self) -> tuple[str, ...]:
        synced = any("sync" in r.stages for r in self._state.cycles)
        return SYNC_COLUMNS if synced else COLUMNS

    def _selected_record(self) -> CycleRecord | None:
        table = self.query_one("#history-table", DataTable)
        if not table.row_count or table.cursor_row >= len(self._shown):
            return None
        return self._state.cycle(self._shown[table.cursor_row])

    def _show_detail(self) -> None:
        record = self._selected_record()
        detail = self.query_one("#history-detail", Static)
        if record is None:
            detail.update("no cycle yet")
            return
        text = Text(f"#{record.cycle} {record.reason}", style="bold")
        kind = cycle_mode_words(record.mode, record.full_reason)
        if kind:
            text.append(f" — {kind}")
        sync = record.stages.get("sync")
        if sync is not None and sync.figures:
            text.append(f"\nsync: {sync_figures_words(sync.figures)}")
        files = [self._state.relative(p) for p in record.changed]
        if files:
            more = record.changed_total - len(files)
            text.append("\nfiles: " + ", ".join(files) + (f" and {more} more" if more > 0 else ""))
        for image, tag in record.tags.items():
            text.append(f"\n{image}:{tag}")
        if record.failed_step:
            text.append(f"\nfailed at {record.failed_step}", self._style("failed"))
        if record.error:
            text.append(f"\nerror: {record.error}", self._style("failed"))
        detail.update(text)

    def _cells(self, record: CycleRecord, now: float) -> list[Text]:
        why = record.reason
        if record.changed:
            paths = [self._state.relative(p) for p in record.changed]
            why += ": " + changed_words(paths, record.changed_total, shown=2)  # a narrow column
        stages = [_stage_cell(record, s) for s in self._columns[4:-2]]
        total = format_seconds(record.seconds) if record.seconds is not None else "…"
        when = f"{format_age(now - record.started)} ago" if record.started else ""
        tag = ", ".join(record.tags.values()) or "–"
        known = ("ok", "failed", "running")
        result = Text(
            record.result, style=self._style(record.result if record.result in known else "note")
        )
        return [Text(str(record.cycle)), result, *map(Text, (when, tag, *stages, total, why))]

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"history--{name}", partial=True)


def _stage_cell(record: CycleRecord, stage: str) -> str:
    state = record.stages.get(stage)
    if state is None:
        return "–"
    if state.status in ("done", "failed"):
        return ("✗ " if state.status == "failed" else "") + format_seconds(state.seconds)
    return {"skipped": "skip", "running": "…"}.get(state.status, "–")

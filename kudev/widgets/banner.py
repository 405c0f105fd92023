"""The error banner: the engine's last error with its remedy, until a cycle succeeds again."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from kudev import events as ev


class ErrorBanner(Static):
    COMPONENT_CLASSES = {"banner--cause", "banner--remedy", "banner--note"}

    def show(self, error: ev.ErrorReported | None, count: int = 1) -> None:
        self.set_class(error is not None, "-visible")
        if error is None:
            self.update("")
            return
        cause = self.get_component_rich_style("banner--cause", partial=True)
        remedy = self.get_component_rich_style("banner--remedy", partial=True)
        note = self.get_component_rich_style("banner--note", partial=True)
        text = Text("✗ ", style=cause)
        if error.where:
            text.append(f"{error.where}: ", note)
        text.append(error.cause, cause)
        if error.remedy:
            text.append("\n→ ", remedy).append(error.remedy, remedy)
        extras = ["kudev retries by itself"] if error.retrying else []
        if count > 1:
            extras.append(f"{count - 1} more since the last good cycle")
        if extras:
            text.append(f"  ({'; '.join(extras)})", note)
        self.update(text)

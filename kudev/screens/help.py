"""`?`: every key, grouped the way a k9s or Tilt user looks for them."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Engine",
        (
            ("r", "rebuild and redeploy now, even if nothing changed"),
            ("p", "pause / resume watching for changes"),
            ("b", "build history: every cycle, its files, tag, stage times"),
            ("q", "quit (stops the engine cleanly)"),
        ),
    ),
    (
        "Panes",
        (
            ("Tab / Shift+Tab", "next / previous pane"),
            ("1 2 3", "focus build / pods / logs"),
            ("z", "zoom the focused pane (again to restore)"),
            ("Enter", "on a pod: its containers, events and last log lines"),
            ("[  ]", "build pane: older / newer build"),
            ("e", "build pane: jump to the failing Dockerfile step"),
        ),
    ),
    (
        "Logs",
        (
            ("/", "filter as you type (Enter keeps it, Esc clears it)"),
            ("f", "follow / pause"),
            ("End  G", "jump to the end and follow"),
            ("Home  g", "jump to the top"),
            ("w", "wrap long lines"),
            ("c", "clear"),
        ),
    ),
    (
        "Anywhere",
        (
            ("?", "this help (Esc, ? or q closes it)"),
            ("Ctrl+P", "command palette"),
            ("Esc", "back"),
        ),
    ),
)


# The command palette's kudev entries: (title, help, "app" or "dashboard", action).
PALETTE: tuple[tuple[str, str, str, str], ...] = (
    ("Rebuild now", "Build and deploy even if nothing changed (r)", "app", "rebuild"),
    ("Pause / resume watching", "Stop or restart reacting to edits (p)", "app", "toggle_watch"),
    ("Build history", "Every cycle with files, tag, stage times (b)", "app", "history"),
    ("Zoom pane", "Give the focused pane the whole screen (z)", "dashboard", "zoom"),
    ("Filter logs", "Show only log lines containing a text (/)", "dashboard", "filter"),
    ("Follow / pause logs", "Keep the newest log line in view (f)", "dashboard", "follow"),
    ("Wrap log lines", "Wrap long log lines (w)", "dashboard", "wrap"),
    ("Clear logs", "Empty the logs pane (c)", "dashboard", "clear_logs"),
    ("Keys", "Every key binding (?)", "app", "help"),
    ("Quit", "Stop the engine and leave (q)", "app", "quit"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        # Like less(1): q closes the page it opened on; q on the dashboard quits.
        Binding("escape,question_mark,q", "app.pop_screen", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._keys(), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "kudev keys"
        self.query_one("#help").border_subtitle = "Esc, ? or q closes"

    @staticmethod
    def _keys() -> Table:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(no_wrap=True, style="bold", width=16)
        table.add_column(ratio=1)
        for group, keys in KEYS:
            table.add_row(Text(group, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key, what)
        return table

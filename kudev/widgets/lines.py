"""A bounded view of many lines: filter, wrap, follow — rendered one visible row at a time.

Textual's `Log` cannot colour a prefix, wrap or filter, and `RichLog` renders every line when it
is written and again for every filter keystroke. `LineView` keeps plain `Line` records in a
bounded deque (the oldest go first) and renders only the rows on screen, so 50k lines a second
cost a deque append each, and memory stays flat whatever the app prints.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

MAX_LINE_CHARS = 4_000
MAX_PREFIX_CELLS = 24
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f]"
)


def clean_text(text: str) -> str:
    """What a terminal line may hold: no escape sequences (apps colour their logs), no tabs."""
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + "…"
    if text.isprintable():
        return text
    return _CONTROL.sub("", text).expandtabs(4)  # escapes first: they take no columns


class Line(NamedTuple):  # a tuple: cheapest to make, 50k of them a second
    text: str
    style: Style | None = None
    prefix: str = ""
    prefix_style: Style | None = None
    key: int = -1  # the caller's identity for the line, for `scroll_to_key`


# (sequence number of the line, the line, the part of its text on this row, first row of line?)
_Row = tuple[int, Line, str, bool]


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


class LineView(ScrollView, can_focus=True):
    """Lines in a bounded deque; `follow` keeps the newest in view."""

    BINDINGS = [
        Binding("end,G", "follow_end", "End", show=False),
        Binding("home,g", "scroll_home", "Top", show=False),
    ]

    class StateChanged(Message):
        """Follow, wrap or filter changed (also when the person scrolled away)."""

        def __init__(self, view: LineView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> LineView:
            return self.view

    def __init__(
        self,
        max_lines: int,
        *,
        wrap: bool = False,
        follow: bool = True,
        placeholder: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self.placeholder = placeholder
        self._lines: deque[Line] = deque(maxlen=max_lines)
        self._rows: deque[_Row] = deque()  # trimmed with the lines; wrapped lines take several
        self._filter = ""
        self._needle: re.Pattern[str] | None = None
        self._wrap = wrap
        self._follow = follow
        self._prefix_width = 0
        self._text_width = 0
        self._known_prefixes: set[str] = set()
        self.received = 0  # lines ever appended
        self.unseen = 0  # matching lines appended while not following

    # -- state --------------------------------------------------------------------------------

    @property
    def follow(self) -> bool:
        return self._follow

    @property
    def wrap(self) -> bool:
        return self._wrap

    @property
    def filter(self) -> str:
        return self._filter

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def shown_count(self) -> int:
        """Lines that pass the filter."""
        if not self._filter:
            return len(self._lines)
        return sum(1 for row in self._rows if row[3])

    def visible_text(self) -> list[str]:
        """The rows on screen now, as plain text (what a person reads)."""
        left, top = self.scroll_offset
        region = self.scrollable_content_region
        rows = list(self._rows)[top : top + region.height]
        gutter = self._gutter()
        texts = []
        for row in rows:
            plain = self._plain(row)
            start = gutter + (0 if self._wrap else left)
            texts.append(plain[:gutter] + plain[start : start + region.width - gutter])
        return texts

    def rows_text(self) -> list[str]:
        return [self._plain(row) for row in self._rows]

    def _plain(self, row: _Row) -> str:
        _seq, line, chunk, first = row
        prefix = self._fit_prefix(line.prefix) if first else ""
        return (prefix.ljust(self._prefix_width) + " " if self._prefix_width else "") + chunk

    # -- changing -----------------------------------------------------------------------------

    def append(self, lines: Sequence[Line], passed: int = 0) -> None:
        """Add lines at the end. `passed`: lines that came before these and went by unseen,
        which a full view's worth of newer lines would have pushed out anyway; counted, never
        shown."""
        if passed and len(lines) < self.max_lines:
            raise ValueError("only a full view's worth of lines can pass others over")
        if passed:
            self.received += passed
            if not self._follow and self._needle is None:
                self.unseen += passed
        if not lines:
            return
        self.received += len(lines)
        self._lines.extend(lines)
        prefix_grew = self._measure(lines)
        if prefix_grew and self._wrap:
            self._rebuild_rows()  # a wider prefix column narrows every wrapped row
            dropped = 0
        else:
            kept = lines[-self.max_lines :]
            self._add_rows(kept, self.received - len(kept))
            dropped = self._trim_rows()
        self._after_change(dropped)

    def clear(self) -> None:
        self._lines.clear()
        self._rows.clear()
        self._prefix_width = self._text_width = 0
        self._known_prefixes.clear()
        self.unseen = 0
        self._update_virtual_size()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def set_filter(self, text: str) -> None:
        if text == self._filter:
            return
        self._filter = text
        self._needle = re.compile(re.escape(text), re.IGNORECASE) if text else None
        self._rebuild_rows()
        self._after_change(0, moved=True)

    def set_wrap(self, wrap: bool) -> None:
        if wrap == self._wrap:
            return
        self._wrap = wrap
        self._rebuild_rows()
        self._after_change(0, moved=True)

    def set_follow(self, follow: bool) -> None:
        if follow == self._follow:
            return
        self._follow = follow
        if follow:
            self.unseen = 0
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.post_message(self.StateChanged(self))

    def scroll_to_key(self, key: int) -> bool:
        """Bring the line with this key to the top of the view; False when it is gone."""
        for index, (_seq, line, _chunk, first) in enumerate(self._rows):
            if first and line.key == key:
                self.set_follow(False)
                self.scroll_to(y=index, animate=False, immediate=True, force=True)
                return True
        return False

    # -- rows ---------------------------------------------------------------------------------

    def _measure(self, lines: Sequence[Line]) -> bool:
        """Widen the prefix column or the text width for new lines; True if the prefix grew."""
        grew = False
        known, text_width = self._known_prefixes, self._text_width
        for line in lines:
            if line.prefix not in known:
                known.add(line.prefix)
                width = min(_cells(line.prefix), MAX_PREFIX_CELLS)
                if width > self._prefix_width:
                    self._prefix_width = width
                    grew = True
            # len() first: a line's cells are never fewer than its characters would suggest
            # for the widths that matter here, and cell_len is slow.
            if len(line.text) > text_width:
                text_width = max(text_width, _cells(line.text))
        self._text_width = text_width
        return grew

    def _matches(self, line: Line) -> bool:
        needle = self._needle
        return needle is None or bool(needle.search(line.text) or needle.search(line.prefix))

    def _add_rows(self, lines: Sequence[Line], seq: int) -> None:
        rows = self._rows
        if not self._wrap and self._needle is None:  # the common case, at C speed
            numbers = range(seq + 1, seq + 1 + len(lines))
            rows.extend(zip(numbers, lines, _texts(lines), _TRUE, strict=False))
            if not self._follow:
                self.unseen += len(lines)
            return
        wrap_width = self._wrap_width() if self._wrap else 0
        for line in lines:
            seq += 1
            if not self._matches(line):
                continue
            if not self._follow:
                self.unseen += 1
            if not wrap_width or _cells(line.text) <= wrap_width:
                rows.append((seq, line, line.text, True))
                continue
            for index, chunk in enumerate(_chop(line.text, wrap_width)):
                rows.append((seq, line, chunk, index == 0))

    def _rebuild_rows(self) -> None:
        self._rows.clear()
        unseen = self.unseen
        self._add_rows(list(self._lines), self.received - len(self._lines))
        self.unseen = unseen

    def _trim_rows(self) -> int:
        """Drop the rows of lines the bounded deque let go; returns how many rows went."""
        oldest = self.received - len(self._lines)  # rows carry seq > oldest while kept
        rows = self._rows
        dropped = 0
        while rows and rows[0][0] <= oldest:
            rows.popleft()
            dropped += 1
        return dropped

    def _wrap_width(self) -> int:
        # Leave room for the vertical scrollbar even while it is hidden: it appears once the
        # wrapped rows overflow, and rows wrapped for the wider view would lose their last cell.
        width = (self.size.width or 80) - self.styles.scrollbar_size_vertical
        return max(10, width - self._gutter())

    def _gutter(self) -> int:
        return self._prefix_width + 1 if self._prefix_width else 0

    def _fit_prefix(self, prefix: str) -> str:
        if _cells(prefix) <= MAX_PREFIX_CELLS:
            return prefix
        return "…" + prefix[-(MAX_PREFIX_CELLS - 1) :]

    def _after_change(self, dropped: int, *, moved: bool = False) -> None:
        self._update_virtual_size()
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        elif dropped:
            self.scroll_to(
                y=max(0, self.scroll_offset.y - dropped), animate=False, immediate=True, force=True
            )
        self.refresh()
        if moved:
            self.post_message(self.StateChanged(self))

    def _update_virtual_size(self) -> None:
        width = self._gutter() + (0 if self._wrap else self._text_width)
        self.virtual_size = Size(width, len(self._rows))

    def on_resize(self, _event: events.Resize) -> None:
        if self._wrap:
            self._rebuild_rows()
            self._after_change(0)

    # -- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = scroll_y + y
        if index >= len(self._rows):
            if index == 0 and (hint := self._empty_hint()):
                hint_style = base + Style(dim=True, italic=True)
                return Strip([Segment(hint, hint_style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        _seq, line, chunk, first = self._rows[index]
        gutter = self._gutter()
        strips = []
        if gutter:
            prefix = self._fit_prefix(line.prefix) if first else ""
            style = base + line.prefix_style if line.prefix_style and first else base
            strips.append(Strip([Segment(prefix.ljust(gutter - 1) + " ", style)], gutter))
        text_style = base + line.style if line.style else base
        text = Strip(self._text_segments(chunk, text_style))
        left = 0 if self._wrap else scroll_x
        strips.append(text.crop_extend(left, left + max(0, width - gutter), base))
        return Strip.join(strips)

    def _empty_hint(self) -> str:
        if self._filter and self._lines:
            return f"no line matches “{self._filter}”"
        return self.placeholder

    def _text_segments(self, text: str, style: Style) -> list[Segment]:
        if self._needle is None:
            return [Segment(text, style)]
        segments: list[Segment] = []
        mark = style + Style(reverse=True)
        at = 0
        for found in self._needle.finditer(text):
            segments.append(Segment(text[at : found.start()], style))
            segments.append(Segment(found.group(), mark))
            at = found.end()
        segments.append(Segment(text[at:], style))
        return segments

    # -- following follows the person's scrolling -----------------------------------------------

    def action_follow_end(self) -> None:
        self.set_follow(True)

    def action_scroll_home(self) -> None:
        self.set_follow(False)
        self.scroll_home(animate=False)

    def action_scroll_up(self) -> None:
        self.set_follow(False)
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.set_follow(False)
        super().action_page_up()

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self._follow_if_at_end()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._follow_if_at_end()

    def _follow_if_at_end(self) -> None:
        if self.scroll_offset.y >= self.max_scroll_y:
            self.set_follow(True)

    def on_mouse_scroll_up(self, _event: events.MouseScrollUp) -> None:
        self.set_follow(False)


_TRUE = itertools.repeat(True)


def _texts(lines: Sequence[Line]) -> Iterator[str]:
    return (line.text for line in lines)


def _chop(text: str, width: int) -> list[str]:
    if text.isascii():
        return [text[i : i + width] for i in range(0, len(text), width)] or [""]
    return chop_cells(text, width) or [""]

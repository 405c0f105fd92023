"""How long a running dashboard takes to answer a key: from the press to the first frame
showing its effect.

The press is `App.simulate_key`, the Key event a terminal delivers. `pilot.press` is not a
timer: after the key it waits for the whole process to go idle (Textual's `wait_for_idle`, up to
1 s, twice), which it never is while a log flood arrives, so it would time Pilot's patience
rather than the dashboard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App


class FrameClock:
    """Records every frame the app's compositor hands to its driver, and whether it showed
    what `shows()` asks about at that moment."""

    def __init__(self, app: App[Any], shows: Callable[[], bool]) -> None:
        self.shows = shows
        self._frames: list[tuple[float, bool]] = []
        display = app._display

        def recording(screen: Any, renderable: Any) -> None:
            self._frames.append((time.perf_counter(), shows()))
            del self._frames[:-100]  # a key's frame is among the last few
            display(screen, renderable)

        app._display = recording  # type: ignore[method-assign]
        self.app = app

    def first_frame(self, since: float, showing: bool) -> float | None:
        return next((t for t, s in self._frames if t >= since and s == showing), None)

    async def time_key(self, key: str, timeout: float = 30) -> float:
        """Press `key`; seconds until a frame shows `shows()` turned the other way."""
        wanted = not self.shows()
        pressed = time.perf_counter()
        self.app.simulate_key(key)
        while (shown := self.first_frame(pressed, wanted)) is None:
            assert time.perf_counter() - pressed < timeout, f"{key!r} never showed its effect"
            await asyncio.sleep(0.002)
        return shown - pressed

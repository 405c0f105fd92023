"""The base of every screen drawn over the dashboard: redrawn from the state after each flush.

It has a module of its own so that the dashboard and the screens it opens both import it, and
neither imports the other.
"""

from __future__ import annotations

from textual.screen import Screen, ScreenResultType


class LiveScreen(Screen[ScreenResultType]):
    """A screen over the dashboard that redraws from the state after every flush."""

    def state_changed(self) -> None:
        """Called after the dashboard folded a batch of events into the state."""

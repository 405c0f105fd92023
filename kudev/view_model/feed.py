"""The hand-over from the engine's threads to the UI thread.

The engine calls its sink from its own threads, and a chatty app can make that 50k log lines a
second. `EventFeed.put` only appends under a lock; the UI takes everything at once, at most
~15 times a second. Log lines are bounded (the oldest go first and are counted), a newer pods
snapshot replaces one still waiting, and build output is shed past a bound: a flood costs the UI
one bounded batch per flush, never a growing backlog.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from kudev import events as ev

# The logs pane keeps this many lines; the feed holds no more between two takes, since a
# newer batch that size would push every older line out of the pane anyway. At 15 takes a
# second a 20k-lines/s flood skips nothing unless the UI stalls for half a second.
MAX_LOG_LINES = 10_000
MAX_PENDING_LOGS = MAX_LOG_LINES
MAX_PENDING_EVENTS = 20_000


@dataclass
class Batch:
    events: list[ev.Event] = field(default_factory=list)
    logs: list[ev.LogLine] = field(default_factory=list)
    dropped_logs: int = 0
    dropped_build_lines: int = 0


class EventFeed:
    def __init__(
        self, max_logs: int = MAX_PENDING_LOGS, max_events: int = MAX_PENDING_EVENTS
    ) -> None:
        self._lock = threading.Lock()
        self._max_events = max_events
        self._events: list[ev.Event] = []
        self._logs: deque[ev.LogLine] = deque(maxlen=max_logs)
        self._dropped_logs = 0
        self._dropped_build = 0
        self._pods_at: int | None = None  # where the pending PodsChanged sits in _events
        self._wake_sent = False

    def put(self, event: ev.Event) -> bool:
        """Queue an event; True when the UI needs waking (nothing was pending before)."""
        with self._lock:
            if isinstance(event, ev.LogLine):
                if len(self._logs) == self._logs.maxlen:
                    self._dropped_logs += 1
                self._logs.append(event)
            elif isinstance(event, ev.PodsChanged) and self._pods_at is not None:
                self._events[self._pods_at] = event
            else:
                if isinstance(event, ev.PodsChanged):
                    self._pods_at = len(self._events)
                self._events.append(event)
                if len(self._events) > self._max_events:
                    self._shed_build_output()
            if self._wake_sent:
                return False
            self._wake_sent = True
            return True

    def take(self) -> Batch:
        """Everything queued since the last take, in order (log lines apart)."""
        with self._lock:
            batch = Batch(self._events, list(self._logs), self._dropped_logs, self._dropped_build)
            self._events = []
            self._logs.clear()
            self._dropped_logs = self._dropped_build = 0
            self._pods_at = None
            self._wake_sent = False
            return batch

    @property
    def pending(self) -> bool:
        with self._lock:
            return bool(self._events or self._logs)

    def _shed_build_output(self) -> None:
        """Drop the older half of the waiting build lines; every other event is kept."""
        build_lines = sum(isinstance(e, ev.BuildOutput) for e in self._events)
        shed = max(build_lines // 2, 1)
        kept: list[ev.Event] = []
        for event in self._events:
            if shed and isinstance(event, ev.BuildOutput):
                shed -= 1
                self._dropped_build += 1
                continue
            if isinstance(event, ev.PodsChanged):
                self._pods_at = len(kept)
            kept.append(event)
        self._events = kept

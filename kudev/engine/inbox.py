"""The engine's inbox: what front-ends, the watcher and build jobs tell the engine thread."""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Msg:
    kind: str  # "changes", "rebuild", "pause", "resume", "stop", "job_done"
    paths: frozenset[str] = frozenset()
    result: Any = None  # job_done: what the job returned, or the exception it raised
    image: str = ""  # job_done: whose job


Inbox = queue.Queue[Msg]


def drain(inbox: Inbox, handle: Callable[[Msg], None]) -> None:
    """Handle every message already queued, without waiting for more."""
    while True:
        try:
            msg = inbox.get_nowait()
        except queue.Empty:
            return
        handle(msg)

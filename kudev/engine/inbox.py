"""The engine's inbox: what front-ends, the watcher and build jobs tell the engine thread."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any


@dataclass
class Msg:
    kind: str  # "changes", "rebuild", "pause", "resume", "stop", "job_done"
    paths: frozenset[str] = frozenset()
    result: Any = None  # job_done: what the job returned, or the exception it raised
    image: str = ""  # job_done: whose job


Inbox = queue.Queue[Msg]

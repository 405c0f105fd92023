"""What a cycle works on and what it needs of the loop that runs it.

A module of its own so that the full cycle (cycle.py) and the sync cycle (live_cycle.py) can
both name these without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kudev import events as ev
from kudev.config import ImageSpec
from kudev.engine.build_jobs import BuildJobs
from kudev.engine.connections import Connections
from kudev.engine.shipped import Shipped
from kudev.project import Project
from kudev.session import SessionOptions
from kudev.sources.context import BuildContext


@dataclass
class ImageState:
    spec: ImageSpec
    context: BuildContext
    ready_tag: str = ""  # tag of the last image that reached the cluster
    ready_ref: str = ""
    ready_local_ref: str = ""  # the same image as built here, "name:kudev-…"
    shipped: Shipped = field(default_factory=Shipped)  # what the pods hold (live update)
    no_sync: str = ""  # why live update cannot work with this image ("" while it can)


class CycleHost(Protocol):
    """What a cycle needs of the engine loop that runs it."""

    options: SessionOptions
    connections: Connections
    jobs: BuildJobs  # runs each image's build and load on a thread of its own

    @property
    def project(self) -> Project: ...

    @property
    def stopping(self) -> bool: ...

    def emit(self, event: ev.Event) -> None: ...

    def take_news(self) -> None:
        """Fold in the changes already queued (after the context changed under a build)."""
        ...

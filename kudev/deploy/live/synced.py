"""What has been synced since the last full image, and which containers have it — no I/O.

A container restarts with its image's files: whatever was synced into it is gone. So the set of
files synced since the last full build is kept here, each container that has the latest of it
is recorded by its container ID, and one that starts (a restart, a reschedule, a scale-up,
`restart: container`) is behind until the set is re-applied. A new full build starts afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kudev.deploy.live.sync_job import Sync, SyncedFile
from kudev.image_ref import parse_ref, same_repository, tag_of


@dataclass(frozen=True)
class RunningContainer:
    """One running container of a pod, as the pod watch shows it."""

    pod: str
    container: str
    container_id: str  # changes on every start of the container
    image: str  # as the pod spec names it


@dataclass(frozen=True)
class Applied:
    container_id: str
    generation: int


class SyncedState:
    """One image's synced set since its last full build, and each container's copy of it."""

    def __init__(self, base_ref: str = "") -> None:
        self.base_ref = base_ref  # the deploy reference of the last full build
        self.generation = 0  # one more per sync
        self._entries: dict[str, tuple[SyncedFile, bool]] = {}  # dest -> (file, exists)
        self._applied: dict[tuple[str, str], Applied] = {}

    def reset(self, base_ref: str) -> None:
        """A full build reached the pods: its image holds everything synced so far."""
        self.base_ref = base_ref
        self.generation = 0
        self._entries.clear()
        self._applied.clear()

    # -- the set -----------------------------------------------------------------------------

    def record(self, sync: Sync) -> int:
        """Add a sync every target received; returns the new generation."""
        for file in sync.files:
            self._entries[file.dest] = (file, True)
        for file in sync.deletes:
            self._entries[file.dest] = (file, False)
        self.generation += 1
        return self.generation

    @property
    def count(self) -> int:
        return len(self._entries)

    def as_sync(self) -> Sync:
        """Everything synced since the full build, as one sync: what a new container needs."""
        entries = sorted(self._entries.values(), key=lambda e: e[0].dest)
        return Sync(
            files=tuple(f for f, exists in entries if exists),
            deletes=tuple(f for f, exists in entries if not exists),
        )

    # -- the containers ----------------------------------------------------------------------

    def runs_base(self, container: RunningContainer) -> bool:
        return same_image(container.image, self.base_ref)

    def runs_base_image(self, image: str) -> bool:
        return same_image(image, self.base_ref)

    def behind(self, containers: Iterable[RunningContainer]) -> list[RunningContainer]:
        """The containers of the base image that lack the latest synced set."""
        if not self.base_ref:
            return []
        return [c for c in containers if self.runs_base(c) and not self.is_current(c)]

    def is_current(self, container: RunningContainer) -> bool:
        if not self._entries:
            return True  # nothing synced: the image is all it needs
        applied = self._applied.get((container.pod, container.container))
        return (
            applied is not None
            and applied.container_id == container.container_id
            and applied.generation == self.generation
        )

    def mark(self, containers: Iterable[RunningContainer], generation: int) -> None:
        for c in containers:
            self._applied[(c.pod, c.container)] = Applied(c.container_id, generation)

    def behind_reason(self, containers: Iterable[RunningContainer]) -> str:
        """Why a sync cannot stand in for a build now ("" when it can): the image's
        containers must all run the last full build."""
        if not self.base_ref:
            return "no full build has reached the pods yet"
        mine = [c for c in containers if same_repository(c.image, self.base_ref)]
        if not mine:
            return "no running pod of the app to sync to"
        for c in mine:
            if not self.runs_base(c):
                return f"pod {c.pod} runs {tag_of(c.image)}, not the last full build"
        return ""

    def forget_pods(self, alive: Iterable[str]) -> None:
        keep = set(alive)
        for key in [k for k in self._applied if k[0] not in keep]:
            del self._applied[key]


def same_image(image: str, ref: str) -> bool:
    """Whether a pod's image is `ref`, with Docker's defaults folded in."""
    return bool(ref) and parse_ref(image).normalized() == parse_ref(ref).normalized()


def running_containers(pods: Mapping[str, Any]) -> list[RunningContainer]:
    """Every running container of the live pods (not terminating), from a watch snapshot."""
    found = []
    for pod in pods.values():
        if pod.metadata.deletion_timestamp is not None or pod.status.phase != "Running":
            continue
        images = {c.name: c.image for c in pod.spec.containers or []}
        for status in pod.status.container_statuses or []:
            if status.state is None or status.state.running is None or not status.container_id:
                continue
            found.append(
                RunningContainer(
                    pod=pod.metadata.name,
                    container=status.name,
                    container_id=status.container_id,
                    image=images.get(status.name, ""),
                )
            )
    return found

"""A sync, as the deploy side carries it out: which files go where, what to delete, what to run.

The engine decides (kudev.engine.sync_plan); the deploy side only executes, so these types
live here, below both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kudev.config.model import RunStep
from kudev.sources.dockerignore import PatternMatcher


@dataclass(frozen=True)
class SyncedFile:
    rel: str  # in the build context
    dest: str  # absolute, in the container


@dataclass(frozen=True)
class Sync:
    files: tuple[SyncedFile, ...] = ()  # to send, read from disk when sent
    deletes: tuple[SyncedFile, ...] = ()  # to remove in the container
    runs: tuple[RunStep, ...] = ()  # the run steps this change triggers, in order

    @property
    def empty(self) -> bool:
        return not self.files and not self.deletes


def triggered(steps: Iterable[RunStep], touched: Sequence[str]) -> tuple[RunStep, ...]:
    """The steps with no trigger, and those whose trigger matches a synced path."""
    chosen = []
    for step in steps:
        matcher = PatternMatcher(list(step.trigger))
        if not step.trigger or any(matcher.matches_or_parent_matches(r) for r in touched):
            chosen.append(step)
    return tuple(chosen)

"""What the engine does next, decided from what it knows — a pure function, as Tilt's
buildcontrol: no threads, no clock, no Docker, so every rule has a plain unit test."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

# Seconds before each further try after a retryable failure (daemon or cluster away).
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass
class Pending:
    """What has happened since the last cycle started."""

    paths: set[str] = field(default_factory=set)
    forced: bool = False
    config_changed: bool = False
    hash_seconds: float = 0.0
    full_build: str = ""  # a sync failed: the next cycle builds, and this says why

    def any(self) -> bool:
        return bool(self.paths) or self.forced or self.config_changed or bool(self.full_build)


@dataclass(frozen=True)
class LoopState:
    pending: Pending
    cycles: int = 0  # cycles run so far
    stopping: bool = False
    paused: bool = False
    once: bool = False
    retries: int = 0  # retryable failures in a row
    retry_due: bool = False  # the backoff delay has passed without other news


class Do(Enum):
    WAIT = "wait"  # for the next message; `timeout` set while a retry is pending
    CYCLE = "cycle"
    STOP = "stop"


@dataclass(frozen=True)
class Action:
    do: Do
    reason: str = ""  # for CYCLE: initial, config, forced, retry, full or change
    timeout: float | None = None  # for WAIT: when a retry falls due


def next_action(state: LoopState, delays: tuple[float, ...] = RETRY_DELAYS) -> Action:
    if state.stopping or (state.once and state.cycles > 0):
        return Action(Do.STOP)
    if state.cycles == 0:
        return Action(Do.CYCLE, reason="initial")
    if state.paused:
        return Action(Do.WAIT)  # a retry falls due again after resuming
    if state.pending.any() or state.retry_due:
        return Action(Do.CYCLE, reason=cycle_reason(state.pending, state.retry_due))
    if state.retries:
        return Action(Do.WAIT, timeout=retry_delay(state.retries, delays))
    return Action(Do.WAIT)


def cycle_reason(pending: Pending, retry_due: bool) -> str:
    """The strongest reason wins: a new config, then a forced rebuild, then a retry."""
    if pending.config_changed:
        return "config"
    if pending.forced:
        return "forced"
    if pending.full_build and not pending.paths:
        return "full"
    return "retry" if retry_due and not pending.paths else "change"


def retry_delay(retries: int, delays: tuple[float, ...] = RETRY_DELAYS) -> float:
    """The delay before try number `retries` + 1; the last delay repeats."""
    return delays[min(retries, len(delays)) - 1]


def retries_after_failure(retryable: bool, once: bool) -> bool:
    """--once reports and exits; a watching session tries again by itself."""
    return retryable and not once

"""The engine's decision, as a pure function: no threads, no clock, no Docker."""

from __future__ import annotations

import pytest

from kudev.engine.plan import (
    RETRY_DELAYS,
    Action,
    Do,
    LoopState,
    Pending,
    cycle_reason,
    next_action,
    retries_after_failure,
    retry_delay,
)

WAIT = Action(Do.WAIT)
STOP = Action(Do.STOP)


def state(**kw) -> LoopState:
    return LoopState(pending=kw.pop("pending", Pending()), cycles=kw.pop("cycles", 1), **kw)


def cycle(reason: str) -> Action:
    return Action(Do.CYCLE, reason=reason)


def test_the_first_cycle_runs_at_once_and_with_once_it_is_the_only_one():
    assert next_action(state(cycles=0)) == cycle("initial")
    assert next_action(state(cycles=0, once=True)) == cycle("initial")
    assert next_action(state(cycles=1, once=True, pending=Pending(forced=True))) == STOP


def test_stopping_wins_over_everything():
    busy = Pending(paths={"a"}, forced=True, config_changed=True)
    assert next_action(state(cycles=0, stopping=True)) == STOP
    assert next_action(state(stopping=True, pending=busy, retry_due=True)) == STOP


def test_nothing_pending_waits_without_a_timeout():
    assert next_action(state()) == WAIT


def test_pending_work_starts_a_cycle_unless_paused():
    assert next_action(state(pending=Pending(paths={"a"}))) == cycle("change")
    assert next_action(state(pending=Pending(paths={"a"}), paused=True)) == WAIT
    assert next_action(state(retries=2, retry_due=True, paused=True)) == WAIT


@pytest.mark.parametrize(
    ("pending", "retry_due", "reason"),
    [
        (Pending(paths={"a"}, forced=True, config_changed=True), True, "config"),
        (Pending(paths={"a"}, forced=True), True, "forced"),
        (Pending(forced=True), False, "forced"),
        (Pending(), True, "retry"),
        (Pending(paths={"a"}), True, "change"),  # a change while retrying names the change
        (Pending(paths={"a"}), False, "change"),
    ],
)
def test_the_strongest_reason_names_the_cycle(pending, retry_due, reason):
    assert cycle_reason(pending, retry_due) == reason
    assert next_action(state(pending=pending, retry_due=retry_due, retries=1)) == cycle(reason)


def test_after_a_retryable_failure_the_wait_backs_off_and_then_holds():
    delays = (0.1, 0.2, 0.5)
    waits = [next_action(state(retries=n), delays).timeout for n in range(1, 6)]
    assert waits == [0.1, 0.2, 0.5, 0.5, 0.5]
    assert next_action(state(retries=1)) == Action(Do.WAIT, timeout=RETRY_DELAYS[0])
    assert retry_delay(99) == RETRY_DELAYS[-1] == 15.0


def test_only_a_retryable_error_in_a_watching_session_is_retried():
    assert retries_after_failure(retryable=True, once=False)
    assert not retries_after_failure(retryable=True, once=True)
    assert not retries_after_failure(retryable=False, once=False)


def test_pending_any_counts_paths_forced_and_config():
    assert not Pending(hash_seconds=1.0).any()
    assert Pending(paths={"x"}).any() and Pending(forced=True).any()
    assert Pending(config_changed=True).any()

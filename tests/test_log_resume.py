"""A resumed log stream delivers every line exactly once."""

from __future__ import annotations

import threading

from kudev import events as ev
from kudev.deploy.live.logs import ContainerLog, split_timestamp


def follower(lines: list[str]) -> ContainerLog:
    def emit(event: ev.Event) -> None:
        assert isinstance(event, ev.LogLine)
        lines.append(event.line)

    return ContainerLog(None, "ns", "pod", "app", emit, threading.Event())


def test_timestamps_parse_with_any_fraction_length():
    assert split_timestamp("2026-11-23T09:00:00.5Z hello world") == (
        (1795424400, 500_000_000),
        "hello world",
    )
    assert split_timestamp("2026-11-23T09:00:00Z x")[0] == (1795424400, 0)
    assert split_timestamp("no timestamp here") == (None, "no timestamp here")


def test_replayed_lines_after_a_reconnect_are_skipped():
    got: list[str] = []
    log = follower(got)
    first = [
        "2026-11-23T09:00:00.1Z a",
        "2026-11-23T09:00:00.2Z b",
        "2026-11-23T09:00:00.2Z c",
    ]  # two lines in the same nanosecond
    for line in first:
        log._deliver(line)
    log._skip = log.count_at_last  # what _follow_once does before resuming
    replay = [
        "2026-11-23T09:00:00.1Z a",
        "2026-11-23T09:00:00.2Z b",
        "2026-11-23T09:00:00.2Z c",
        "2026-11-23T09:00:00.2Z d",
        "2026-11-23T09:00:01Z e",
    ]
    for line in replay:
        log._deliver(line)
    assert got == ["a", "b", "c", "d", "e"]

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


class _Stream:
    def __init__(self, lines: list[str]) -> None:
        self.data = "".join(line + "\n" for line in lines).encode()

    def stream(self, amt: int, decode_content: bool):
        yield self.data

    def close(self) -> None: ...

    def release_conn(self) -> None: ...


class _KubeletRestartCore:
    """A log stream that ends cleanly while the container still runs (what a kubelet restart
    does), then the rest of the log once the container has exited."""

    def __init__(self) -> None:
        self.streams = [
            _Stream(["2026-11-23T09:00:00.1Z line 1", "2026-11-23T09:00:00.2Z line 2"]),
            _Stream(["2026-11-23T09:00:00.2Z line 2", "2026-11-23T09:00:00.3Z line 3"]),
        ]
        self.states = ["running", "terminated"]

    def read_namespaced_pod_log(self, *args, **kwargs):
        return self.streams.pop(0)

    def read_namespaced_pod(self, *args, **kwargs):
        from types import SimpleNamespace as NS

        state = self.states.pop(0)
        status = NS(
            name="app",
            container_id="containerd://1",
            state=NS(running=NS() if state == "running" else None),
        )
        return NS(status=NS(container_statuses=[status]))


def test_a_stream_that_ends_while_the_container_runs_is_resumed(monkeypatch):
    import kudev.deploy.live.logs as logs

    monkeypatch.setattr(logs, "RESUME_DELAY_S", 0.01)
    got: list[str] = []
    log = follower(got)
    log.core, log.container_id = _KubeletRestartCore(), "containerd://1"
    log.run()
    assert got == ["line 1", "line 2", "line 3"]

"""A stop ends a loader tool that is running, and whatever that tool started."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from kudev.tool_run import LoaderFailed, run_streaming, stop_running_tools


def test_stopping_ends_the_tool_and_its_children():
    errors: list[BaseException] = []

    def load() -> None:
        try:
            run_streaming(["sh", "-c", "echo started; sleep 30; echo never"], lambda _: None)
        except LoaderFailed as err:
            errors.append(err)

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    thread = threading.Thread(target=load)
    thread.start()
    deadline = time.monotonic() + 5
    while not [p for p in psutil.Process().children(recursive=True) if p.name() == "sleep"]:
        assert time.monotonic() < deadline, "the tool never started"
        time.sleep(0.05)
    started = time.monotonic()
    stop_running_tools()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2
    assert errors, "a tool ended by a stop is not a successful load"
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not left, f"left running: {left}"


@pytest.mark.parametrize("argv", [["true"], ["sh", "-c", "exit 0"]])
def test_a_tool_that_ends_by_itself_is_unaffected(argv):
    run_streaming(argv, lambda _: None)

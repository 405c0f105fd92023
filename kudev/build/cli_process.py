"""One build tool run as a child process: its lines streamed, and cancel from another thread.

The BuildKit CLI builder, podman and buildah all build this way: the context tar on stdin,
output merged into one stream of lines, and a cancel that interrupts the tool (SIGINT lets it
clean up) and kills it when it does not stop within a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import IO

from kudev.build.builder import BuildCancelled, LineSink

CANCEL_GRACE_S = 2
# A line → (stream for the build pane, the failure summary this line gives or "").
LineReader = Callable[[str], tuple[str, str]]


class CliProcess:
    """Runs one tool at a time; `cancel()` may come from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def reset(self) -> None:
        with self._lock:
            self._cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            proc = self._proc
        if proc is not None and proc.poll() is None:
            interrupt(proc)

    def run(
        self,
        argv: list[str],
        stdin: IO[bytes] | None,
        on_line: LineSink,
        read_line: LineReader,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """(exit status, failure summary); raises BuildCancelled after cancel()."""
        proc = subprocess.Popen(
            argv,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env if env is not None else dict(os.environ),
            start_new_session=True,  # Ctrl-C reaches kudev, which cancels the build itself
        )
        with self._lock:
            self._proc = proc
            if self._cancelled:
                interrupt(proc)
        try:
            failure = _follow(proc, on_line, read_line)
            code = proc.wait()
        finally:
            with self._lock:
                self._proc = None
        if self._cancelled:
            raise BuildCancelled("build cancelled: a newer change arrived", "")
        return code, failure


def interrupt(proc: subprocess.Popen[str]) -> None:
    """SIGINT lets the tool cancel cleanly; it may wait for a running step, so it is killed
    after a grace period (BuildKit cancels daemon-side when the session closes)."""
    proc.send_signal(signal.SIGINT)
    killer = threading.Timer(CANCEL_GRACE_S, _kill_if_running, args=(proc,))
    killer.name = "kudev-build-kill"  # ends by itself within the grace period
    killer.daemon = True
    killer.start()


def _kill_if_running(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()


def _follow(proc: subprocess.Popen[str], on_line: LineSink, read_line: LineReader) -> str:
    failure = ""
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        stream, said = read_line(line)
        failure = said or failure
        on_line(line, stream)
    return failure

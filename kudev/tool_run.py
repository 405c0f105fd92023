"""Running a loader's tool: output streamed line by line, the image tar fed on stdin.

A failing tool becomes a LoaderFailed that keeps the last lines of its output; a missing one
a ClusterError with the install hint from the cluster kinds table.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable

from kudev.cluster_kinds import KINDS
from kudev.errors import ClusterError

LineSink = Callable[[str], None]

TAIL_LINES = 20
INSTALL_HINTS = {
    **{kind.tool: kind.install_hint for kind in KINDS if kind.install_hint},
    "sudo": "install sudo, or run kudev as root",
}


class LoaderFailed(ClusterError):
    """A loader tool exited non-zero. `output` keeps its last lines (all were streamed)."""

    def __init__(self, cause: str, remedy: str, output: tuple[str, ...]) -> None:
        super().__init__(cause, remedy)
        self.output = output

    def render(self) -> str:
        tail = "".join(f"\n  | {line}" for line in self.output)
        return super().render() + tail


class _RunningTools:
    """The loader tools running now. They run on the engine's thread, so a stop from another
    thread ends them here; each runs in its own process group, so a tool's own children (a
    script's `sleep`, `ctr` under `sudo`) end with it instead of outliving kudev."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def signal_all(self, sig: int = signal.SIGTERM) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            signal_group(proc, sig)


RUNNING_TOOLS = _RunningTools()


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_running_tools() -> None:
    """End every loader tool now (kudev is stopping)."""
    RUNNING_TOOLS.signal_all()


def run_streaming(
    argv: list[str],
    on_line: LineSink,
    *,
    stdin: Iterable[bytes] | None = None,
    remedy: str = "",
) -> None:
    """Run `argv` (no shell), passing each stdout/stderr line to `on_line` as it arrives.

    `stdin` chunks are written from a thread so a tool that prints while it reads cannot
    deadlock us. Non-zero exit → LoaderFailed with the last lines; missing tool → ClusterError.
    """
    tool = argv[0]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    except FileNotFoundError as err:
        raise ClusterError(
            f"{tool} not found on PATH", INSTALL_HINTS.get(tool, f"install {tool}")
        ) from err
    RUNNING_TOOLS.add(proc)
    feeder = _Feeder(proc, stdin) if stdin is not None else None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            # A carriage return redraws a terminal line: keep what the terminal would show.
            line = raw.decode("utf-8", "replace").rstrip("\r\n").rsplit("\r", 1)[-1]
            tail.append(line)
            on_line(line)
        code = proc.wait()
    finally:
        RUNNING_TOOLS.discard(proc)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        signal_group(proc, signal.SIGKILL)  # what the tool started and left behind
        if feeder:
            feeder.join()
    if feeder and feeder.error:
        raise feeder.error
    if code != 0:
        said = next((line for line in reversed(tail) if line.strip()), "no output")
        raise LoaderFailed(
            f"`{' '.join(argv)}` exited with status {code}: {said.strip()}",
            remedy,
            tuple(tail),
        )


class _Feeder(threading.Thread):
    """Writes chunks into a process's stdin; keeps the chunk source's exception, if any."""

    def __init__(self, proc: subprocess.Popen[bytes], chunks: Iterable[bytes]) -> None:
        super().__init__(daemon=True, name="kudev-stdin-feeder")
        self.proc = proc
        self.chunks = chunks
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        assert self.proc.stdin is not None
        try:
            for chunk in self.chunks:
                self.proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the tool exited early; its exit status and output say why
        except BaseException as err:  # docker save failed mid-stream
            self.error = err
            self.proc.kill()
        finally:
            close = getattr(self.chunks, "close", None)
            if close:
                close()  # let go of the Docker connection when the tool stopped reading
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()


def executables(argv: list[str]) -> tuple[str, ...]:
    """The programs an argv needs: `sudo -n k3s ctr …` needs sudo and k3s."""
    if argv and argv[0] == "sudo":
        wrapped = next((arg for arg in argv[1:] if not arg.startswith("-")), None)
        return ("sudo", wrapped) if wrapped else ("sudo",)
    return (argv[0],) if argv else ()

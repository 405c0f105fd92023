"""Run a command in a container through the API server's exec websocket (no kubectl).

The Kubernetes client's `stream()` opens the websocket (v5.channel.k8s.io, which can close
stdin so `tar -x -f -` sees its end); stdout and stderr are collected and the exit status is
read from the error channel, where the API server reports it.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kudev.errors import KudevError

STDOUT, STDERR, STATUS = 1, 2, 3
# What a shell says for a command it cannot find or run; the runtime's "executable file not
# found" is reported the same way, so both mean "this image lacks the tool".
MISSING_TOOL_CODES = (126, 127)
# Stdin goes out in frames of this size: the client masks each frame in Python (~30 ms per MiB
# here) before it sends a byte, so a sync of hundreds of MB in one frame could not be cut
# short for seconds; in frames, a cut stream fails the next write.
STDIN_FRAME = 1 << 20


class ExecRefused(KudevError):
    """The API server would not open the exec stream (pod gone, forbidden, not running)."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    message: str = ""  # the API server's words when the command failed to start or exited non-zero

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def missing_tool(self) -> bool:
        return self.exit_code in MISSING_TOOL_CODES

    def output_lines(self) -> list[tuple[str, str]]:
        """(line, stream) of what the command printed, stdout first."""
        lines = [(line, "stdout") for line in _lines(self.stdout)]
        return lines + [(line, "error") for line in _lines(self.stderr)]


def open_exec(
    core: Any, namespace: str, pod: str, container: str, argv: Sequence[str], *, stdin: bool
) -> Any:
    """The exec websocket (a WSClient) of `argv` in the container; raises ExecRefused."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    try:
        return stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            container=container,
            command=list(argv),
            stdin=stdin,
            stdout=True,
            stderr=True,
            tty=False,
            binary=True,
            _preload_content=False,
        )
    except ApiException as err:
        raise ExecRefused(
            f"cannot exec in {pod}/{container}: {err.reason or err.status}",
            "check that the pod still runs and that you may exec into it "
            "(`pods/exec` in your RBAC role)",
        ) from err


def write_stdin(ws: Any, data: bytes) -> None:
    """`data` to the command's stdin, STDIN_FRAME bytes per websocket frame."""
    view = memoryview(data)
    for start in range(0, max(len(data), 1), STDIN_FRAME):
        ws.write_stdin(bytes(view[start : start + STDIN_FRAME]))


def cut(ws: Any) -> None:
    """Shut an exec websocket's connection down now, under a thread writing to it too: the
    client's close() first sends a close frame, which waits for the lock that a large write
    (a tar of hundreds of MB) holds until the last byte is out."""
    raw = getattr(getattr(ws, "sock", None), "sock", None)  # WSClient → WebSocket → socket
    if raw is None:
        return
    with contextlib.suppress(OSError):
        # The plain socket's shutdown: ssl.SSLSocket's would drop its SSL object under the writer.
        socket.socket.shutdown(raw, socket.SHUT_RDWR)


def read_status(ws: Any) -> ExecResult:
    """What an ended exec printed, and its exit status from the error channel."""
    return _result(ws.read_channel(STATUS), ws.read_channel(STDOUT), ws.read_channel(STDERR))


def exec_in(
    core: Any,
    namespace: str,
    pod: str,
    container: str,
    argv: Sequence[str],
    stdin: bytes | None = None,
    *,
    timeout_s: float = 30.0,
    on_open: Callable[[Any], None] = lambda _ws: None,
    on_close: Callable[[Any], None] = lambda _ws: None,
) -> ExecResult:
    """Run `argv` in the container, feeding `stdin` when given. `on_open` and `on_close`
    bracket the stream's life, so its owner can close it on stop. Raises ExecRefused when
    the stream cannot be opened or breaks."""
    ws = open_exec(core, namespace, pod, container, argv, stdin=stdin is not None)
    on_open(ws)
    try:
        if stdin is not None:
            write_stdin(ws, stdin)
            ws.close_channel(0)
        ws.run_forever(timeout=timeout_s)
        if ws.is_open():
            raise ExecRefused(
                f"{argv[0]} in {pod}/{container} did not finish within {timeout_s:.0f}s",
                "check the container (a full disk, a hung process); `r` rebuilds",
            )
        return read_status(ws)
    except ExecRefused:
        raise
    except Exception as err:  # noqa: BLE001 - websocket-client raises its own types
        raise ExecRefused(
            f"the exec stream to {pod}/{container} broke ({type(err).__name__}: {err})",
            "the pod may have gone; the next change builds and redeploys",
        ) from err
    finally:
        ws.close()
        on_close(ws)


def _result(status: bytes, stdout: bytes, stderr: bytes) -> ExecResult:
    if not status:
        return ExecResult(-1, stdout, stderr, "the stream ended without an exit status")
    parsed = json.loads(status)
    if parsed.get("status") == "Success":
        return ExecResult(0, stdout, stderr)
    message = parsed.get("message", "")
    causes = (parsed.get("details") or {}).get("causes") or [{}]
    if parsed.get("reason") == "NonZeroExitCode":
        return ExecResult(int(causes[0].get("message", "1")), stdout, stderr, message)
    if "not found" in message or "no such file" in message.lower():
        return ExecResult(127, stdout, stderr, message)
    return ExecResult(-1, stdout, stderr, message)


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines()


def tar_of(files: Sequence[tuple[Path, str]]) -> tuple[bytes, int, list[str]]:
    """A tar of (file on disk, absolute path in the container) pairs, for `tar -x -C /`:
    (the tar, the bytes of content in it, the destinations whose file has gone meanwhile)."""
    buffer = io.BytesIO()
    content = 0
    gone: list[str] = []
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for source, dest in files:
            try:
                info = tar.gettarinfo(str(source), arcname=dest.lstrip("/"))
            except FileNotFoundError:
                gone.append(dest)
                continue
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                try:
                    with open(source, "rb") as handle:
                        data = handle.read()
                except FileNotFoundError:
                    gone.append(dest)
                    continue
                info.size = len(data)  # a file rewritten since the stat: send what was read
                content += len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue(), content, gone

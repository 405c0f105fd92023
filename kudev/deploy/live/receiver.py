"""A receiver in each synced container: one exec, kept open, that takes many syncs.

Starting a process in a container costs the runtime 40-60 ms (runc exec), and the exec
websocket 10 ms more: most of a sync. So each container of the base image gets one long-lived
exec of `sh -c RECEIVER`, opened as soon as the container runs, and every sync is one
websocket write: "x N" and a tar of N bytes for `tar -x -C / -f -`, or "r N" and N bytes of
NUL-separated paths for `rm -f`. The receiver answers "kudev-done <exit code>". A receiver
that fails or breaks is closed, never reused: after an error its stdin may hold half a sync.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from kudev.deploy.live.exec import (
    ExecRefused,
    ExecResult,
    cut,
    open_exec,
    read_status,
    write_stdin,
)
from kudev.timing import clock

RECEIVER = r"""
while read -r op n; do
  case "$op" in
    x) head -c "$n" | tar -x -C / -f - ;;
    r) head -c "$n" | xargs -0 rm -f -- ;;
    *) false ;;
  esac
  echo "kudev-done $?"
done
"""
_DONE = re.compile(rb"kudev-done (\d+)\n")
REPLY_TIMEOUT_S = 30.0


class Receiver:
    """One container's receiver; used by one thread at a time."""

    def __init__(self, ws: Any, where: str) -> None:
        self.ws = ws
        self.where = where
        self.broken = False

    @classmethod
    def open(
        cls, core: Any, namespace: str, pod: str, container: str, on_open: Callable[[Any], None]
    ) -> Receiver:
        ws = open_exec(core, namespace, pod, container, ("sh", "-c", RECEIVER), stdin=True)
        on_open(ws)
        return cls(ws, f"{pod}/{container}")

    def extract(self, tar: bytes) -> ExecResult:
        return self._send(b"x", tar)

    def remove(self, paths: Sequence[str]) -> ExecResult:
        return self._send(b"r", b"".join(p.encode() + b"\0" for p in paths))

    def _send(self, op: bytes, payload: bytes) -> ExecResult:
        try:
            write_stdin(self.ws, op + b" %d\n" % len(payload) + payload)
            result = self._reply()
        except ExecRefused:
            self.close()
            raise
        except Exception as err:  # noqa: BLE001 - websocket-client raises its own types
            self.close()
            raise ExecRefused(f"the receiver in {self.where} broke ({err})", "") from err
        if not result.ok:
            self.close()
        return result

    def _reply(self) -> ExecResult:
        deadline = clock() + REPLY_TIMEOUT_S
        out, err = b"", b""
        while True:
            out += self.ws.read_channel(1)
            err += self.ws.read_channel(2)
            done = _DONE.search(out)
            if done:
                before = out[: done.start()]
                return ExecResult(int(done.group(1)), before, err)
            if not self.ws.is_open():
                # The receiver ended: its exit status says why (no sh, no tar, killed).
                status = read_status(self.ws)
                self.broken = True
                return status if not status.ok else ExecResult(-1, out, err, "receiver ended")
            left = deadline - clock()
            if left <= 0:
                raise ExecRefused(f"the receiver in {self.where} did not answer in time", "")
            self.ws.update(timeout=left)

    def close(self, now: bool = False) -> None:
        """`now`: cut the connection first, so a sync being written into it ends at once."""
        self.broken = True
        if now:
            cut(self.ws)
        with contextlib.suppress(Exception):
            self.ws.close()

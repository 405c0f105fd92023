"""Threads with an owner: every stream thread is started here, named "kudev-…", and
stopped by its component's `stop()`, which interrupts a blocked read and joins with a timeout."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

THREAD_PREFIX = "kudev-"
JOIN_TIMEOUT_S = 5.0
_JOIN_SLICE_S = 0.05


def start_thread(name: str, target: Callable[..., object], *args: Any) -> threading.Thread:
    # Daemon still: a thread a stop() could not end must not hold the interpreter open.
    thread = threading.Thread(target=target, args=args, name=THREAD_PREFIX + name, daemon=True)
    thread.start()
    return thread


def join(
    thread: threading.Thread,
    interrupt: Callable[[], None] = lambda: None,
    timeout_s: float = JOIN_TIMEOUT_S,
) -> bool:
    """Wait for `thread` to end, calling `interrupt` between short waits: a stream a thread
    was about to open when its owner stopped is closed as soon as it exists. True if it ended."""
    if thread.ident is None or thread is threading.current_thread():
        return True  # never started, or stopped from its own callback
    deadline = time.monotonic() + timeout_s
    while thread.is_alive():
        interrupt()
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        thread.join(min(_JOIN_SLICE_S, left))
    return True


def shut_response(response: Any) -> None:
    """Unblock a thread reading a streamed (`_preload_content=False`) urllib3 response.

    Shutting the socket down wakes a blocked recv at once; closing it from another thread
    would not (and with TLS could wait on the reader's lock).
    """
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

"""Shared body of the stand-in cluster tools (kind, minikube, k3d, ctr) used by the tests.

Each call appends one JSON line {"tool", "argv", "stdin_bytes"} to $KUDEV_STANDIN_LOG.
Behaviour is set through the environment:
  KUDEV_STANDIN_STDIN   save the bytes read on stdin to this path
  KUDEV_STANDIN_GATE    after the first output line, wait (up to 10 s) until this path exists
  KUDEV_STANDIN_EXIT    exit with this status (default 0)
  KUDEV_STANDIN_STDERR  message written to stderr before a non-zero exit
"""

from __future__ import annotations

import json
import os
import sys
import time


def say(stream, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def main(tool: str) -> int:
    say(sys.stdout, f"{tool}: starting {' '.join(sys.argv[1:])}")
    gate = os.environ.get("KUDEV_STANDIN_GATE")
    if gate:
        deadline = time.monotonic() + 10
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                say(sys.stderr, f"{tool}: gate timeout (output was not read while running)")
                return 99
            time.sleep(0.02)
    data = sys.stdin.buffer.read()
    if os.environ.get("KUDEV_STANDIN_STDIN"):
        with open(os.environ["KUDEV_STANDIN_STDIN"], "wb") as f:
            f.write(data)
    if os.environ.get("KUDEV_STANDIN_LOG"):
        record = {"tool": tool, "argv": [tool, *sys.argv[1:]], "stdin_bytes": len(data)}
        with open(os.environ["KUDEV_STANDIN_LOG"], "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    say(sys.stderr, f"{tool}: progress on stderr")
    code = int(os.environ.get("KUDEV_STANDIN_EXIT", "0"))
    if code:
        say(sys.stderr, os.environ.get("KUDEV_STANDIN_STDERR", f"{tool}: simulated failure"))
        return code
    say(sys.stdout, f"{tool}: done")
    return 0

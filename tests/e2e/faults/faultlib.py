"""Shared pieces of the fault matrix: the numbered-log app, counting its lines, timing a
recovery, the process tree and listeners of a kudev process, and the results file.

Every case records its figures with `record(case, ...)`: printed (see them with `pytest -s`)
and written as JSON to `$KUDEV_FAULT_RESULTS` (default `build/fault-results/`), one file per
case, for the matrix table in the closing note.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kudev import events as ev
from tests.e2e.kudevlib import free_port

REPO = Path(__file__).resolve().parents[3]
RIG_RESTART = REPO / "tests" / "e2e" / "cluster" / "restart"
RESULTS_DIR = Path(os.environ.get("KUDEV_FAULT_RESULTS", REPO / "build" / "fault-results"))

# The app prints `line N` this often per second and serves its page on 8080.
LINES_PER_S = 10
NUMBERED_DOCKERFILE = """\
FROM busybox:1.36
COPY www/ /www/
COPY run.sh /run.sh
{extra}CMD ["sh", "/run.sh"]
"""
# `line N` at a fixed rate, and httpd for the port-forward. TERM is trapped: a shell as PID 1
# would ignore it and the old pod would linger for its whole grace period.
NUMBERED_RUN = """\
#!/bin/sh
trap 'kill $httpd; exit 0' TERM
httpd -f -p 8080 -h /www &
httpd=$!
n=0
while :; do
  n=$((n+1))
  echo "line $n"
  usleep {period_us}
done
"""
LINE = re.compile(r"^line (\d+)$")


def write_numbered_app(
    root: Path,
    name: str,
    namespace: str,
    *,
    extra_spec: str = "",
    dockerfile_extra: str = "",
    run_script: str | None = None,
    local_port: int | None = None,
) -> Path:
    """A kudev project whose pod prints `line 1`, `line 2`, … and serves `hello`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "www").mkdir(exist_ok=True)
    (root / "www" / "index.html").write_text("hello\n")
    script = run_script or NUMBERED_RUN.format(period_us=1_000_000 // LINES_PER_S)
    (root / "run.sh").write_text(script)
    (root / "Dockerfile").write_text(NUMBERED_DOCKERFILE.format(extra=dockerfile_extra))
    (root / ".dockerignore").write_text(".kudev.yaml\nmanifests\n")
    port = local_port or free_port()
    timeout = "" if "rolloutTimeout" in extra_spec else "  rolloutTimeout: 90\n"
    spec = "".join(f"  {line}\n" for line in extra_spec.splitlines())
    image = "" if "images:" in extra_spec else f"  imageName: {name}\n"
    (root / ".kudev.yaml").write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\n"
        f"metadata:\n  name: {name}\nspec:\n{image}"
        f"  namespace: {namespace}\n  replicas: 1\n  localPort: {port}\n"
        f"  servicePort: 8080\n{timeout}{spec}"
    )
    return root


# ---- counting lines ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineCount:
    """The numbered lines one pod's log stream delivered."""

    pod: str
    first: int
    last: int
    received: int
    lost: int  # numbers between first and last never delivered
    repeated: int  # deliveries of a number already delivered

    def __str__(self) -> str:
        return (
            f"{self.pod}: lines {self.first}..{self.last}, {self.received} received, "
            f"{self.lost} lost, {self.repeated} repeated"
        )


def count_lines(events: Iterable[ev.Event]) -> dict[str, LineCount]:
    numbers: dict[str, list[int]] = {}
    for event in events:
        if isinstance(event, ev.LogLine) and (match := LINE.match(event.line)):
            numbers.setdefault(event.pod, []).append(int(match.group(1)))
    return {pod: _count(pod, seen) for pod, seen in numbers.items()}


def _count(pod: str, seen: list[int]) -> LineCount:
    unique = set(seen)
    first, last = min(unique), max(unique)
    return LineCount(
        pod=pod,
        first=first,
        last=last,
        received=len(seen),
        lost=(last - first + 1) - len(unique),
        repeated=len(seen) - len(unique),
    )


def last_line_number(events: Iterable[ev.Event], pod: str) -> int:
    count = count_lines(events).get(pod)
    return count.last if count else 0


# ---- waiting and timing --------------------------------------------------------------------


def seconds_until(check: Callable[[], object], timeout: float, what: str, interval=0.1) -> float:
    """Poll `check` until truthy; the seconds it took. Fails after `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - start


def http_answers(port: int, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


def listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def restart_rig_daemon(name: str, seconds_down: float = 0) -> str:
    """tests/e2e/cluster/restart NAME: SIGTERM (then SIGKILL), start again, wait healthy."""
    result = subprocess.run(
        [str(RIG_RESTART), name, str(seconds_down)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"restart {name} failed:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


# ---- processes -----------------------------------------------------------------------------


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process below `pid`."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append((child.pid, " ".join(child.cmdline())))
        except psutil.NoSuchProcess:
            continue
    return found


def alive(pids: Iterable[int]) -> list[int]:
    import psutil

    live = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                live.append(pid)
        except psutil.NoSuchProcess:
            continue
    return live


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---- results -------------------------------------------------------------------------------


def record(case: str, **figures: object) -> None:
    """Print one case's figures and keep them as JSON for the matrix table."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    row = {"case": case, **figures}
    (RESULTS_DIR / f"{case}.json").write_text(json.dumps(row, indent=2, default=str) + "\n")
    shown = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[fault-matrix] {case}: {shown}")


# ---- the engine in-process -----------------------------------------------------------------


def make_engine(root: Path, log: Callable[[ev.Event], None], changes, cache_dir: Path):
    """The real engine over the project at `root`, events to `log`, changes scripted.
    KUBECONFIG must point at the rig (the `rig_env` fixture sets it)."""
    from kudev.config import load_config
    from kudev.engine.loop import Engine
    from kudev.project import Project
    from kudev.session import SessionOptions

    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=cache_dir)
    return Engine(project, SessionOptions(), log, change_source=changes)


def app_pods(events: Iterable[ev.Event]) -> set[str]:
    """Pods the last PodsChanged listed as Running."""
    latest = [e for e in events if isinstance(e, ev.PodsChanged)]
    if not latest:
        return set()
    return {p.name for p in latest[-1].pods if p.phase == "Running"}

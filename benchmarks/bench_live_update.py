"""Save → new content served, for live update's sync path and the full-build path, on a cluster.

    KUBECONFIG=… python benchmarks/bench_live_update.py [--runs 10] [--namespace kudev-bench-live]

examples/hello (busybox httpd serving /www) is copied to a temporary folder and given
`sync: [{src: www, dest: /www}]`. The real engine runs with the real watcher (50 ms of quiet)
and kudev's own port-forward (spec.localPort). Each run writes www/index.html with a new token
and polls http://127.0.0.1:<localPort>/index.html every 10 ms until the answer holds it: the
time from the write to that first response is the run's figure. The sync path runs with live
update on; the full-build path is the same edit with live update off (`--no-sync`): build,
push to the cluster's registry, a new pod, and the forward retargeted to it. Prints every run,
the median and p90 of each path, where the sync path's time goes (detect = write → cycle
start, the sync stage, the rest until served), and the ratios against the full path and
against Tilt v0.37.7's `live_update=[sync('./www', '/www')]` on the same rig, measured the
same way (median 326 ms, p90 342 ms; issue 10).
"""

from __future__ import annotations

import argparse
import math
import shutil
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from kudev import events as ev
from kudev.config import load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"
POLL_S = 0.010
TILT_MEDIAN_MS, TILT_P90_MS = 326.0, 342.0


class Recorder:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.cond = threading.Condition()

    def __call__(self, event: ev.Event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait(self, match, timeout: float = 300) -> ev.Event:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = next((e for e in self.events if match(e)), None)
                if found is not None:
                    return found
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("event not seen")

    def finished(self, cycle: int) -> ev.CycleFinished:
        event = self.wait(lambda e: isinstance(e, ev.CycleFinished) and e.cycle == cycle)
        assert isinstance(event, ev.CycleFinished)
        return event

    def of_cycle(self, cycle: int, kind: type) -> list:  # type: ignore[type-arg]
        with self.cond:
            return [e for e in self.events if isinstance(e, kind) and e.cycle == cycle]


@dataclass
class Run:
    served_s: float
    detect_s: float = 0.0
    sync_s: float = 0.0
    mode: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
            return r.read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def served_after(port: int, token: str, written: float, timeout: float = 120) -> float:
    """Poll every 10 ms from `written` (perf_counter) until the page holds `token`."""
    tick = written
    while True:
        if token in get(port):
            return time.perf_counter() - written
        if time.perf_counter() - written > timeout:
            raise TimeoutError(f"{token} not served after {timeout}s")
        tick += POLL_S
        time.sleep(max(0.0, tick - time.perf_counter()))


def session(work: Path, namespace: str, port: int, live_sync: bool, runs: int) -> list[Run]:
    config = load_config(work / ".kudev.yaml")
    config = replace(config, namespace=namespace, create_namespace=True, local_port=port)
    rec = Recorder()
    project = Project(config=config, cache_dir=work.parent / "cache")
    engine = Engine(project, SessionOptions(live_sync=live_sync), rec)
    thread = threading.Thread(target=engine.run, name="kudev-bench-engine")
    thread.start()
    results: list[Run] = []
    try:
        assert rec.finished(1).ok, "the first deploy failed"
        rec.wait(lambda e: isinstance(e, ev.PortForwardState) and e.active, 60)
        for run in range(runs):
            time.sleep(0.5)
            cycle = run + 2
            token = f"bench-{'sync' if live_sync else 'full'}-{run}-{time.time_ns()}"
            wall, written = time.time(), time.perf_counter()
            (work / "www" / "index.html").write_text(f"<h1>{token}</h1>\n")
            served = served_after(port, token, written)
            done = rec.finished(cycle)
            assert done.ok, f"cycle {cycle} failed"
            [start] = rec.of_cycle(cycle, ev.CycleStarted)
            results.append(
                Run(
                    served_s=served,
                    detect_s=start.ts - wall,
                    sync_s=done.stages.get("sync", 0.0),
                    mode=start.mode,
                )
            )
            print(f"  {'sync' if live_sync else 'full'} run {run + 1}: {served * 1000:7.1f} ms")
    finally:
        engine.stop()
        thread.join()
    return results


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest rank


def report(name: str, runs: list[Run]) -> tuple[float, float]:
    ms = [r.served_s * 1000 for r in runs]
    median, high = statistics.median(ms), p90(ms)
    print(f"{name}: {len(ms)} runs, median {median:.1f} ms, p90 {high:.1f} ms")
    return median, high


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--namespace", default=f"kudev-bench-live-{time.time_ns() % 10**6}")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp()) / "hello"
    shutil.copytree(EXAMPLE, work)
    with (work / ".kudev.yaml").open("a") as config:
        config.write("  sync:\n    - src: www\n      dest: /www\n")
    port = free_port()
    try:
        print("sync path (live update on):")
        synced = session(work, args.namespace, port, True, args.runs)
        print("full-build path (--no-sync):")
        full = session(work, args.namespace, port, False, args.runs)
    finally:
        cleanup(work, args.namespace)
    assert all(r.mode == "sync" for r in synced), "a sync-path run was not a sync cycle"
    assert all(r.mode == "build" for r in full), "a full-path run was a sync cycle"
    sync_median, sync_p90 = report("sync path", synced)
    full_median, full_p90 = report("full-build path", full)
    detect = statistics.median(r.detect_s * 1000 for r in synced)
    stage = statistics.median(r.sync_s * 1000 for r in synced)
    print(
        f"sync path, medians: detect {detect:.1f} ms (watcher quiet time 50 ms), "
        f"sync stage {stage:.1f} ms, the rest (event → served, poll) "
        f"{sync_median - detect - stage:.1f} ms"
    )
    print(
        f"full / sync: median {full_median / sync_median:.1f}×, p90 {full_p90 / sync_p90:.1f}× "
        "(goal ≥ 15×)"
    )
    print(
        f"Tilt live_update / kudev sync: median {TILT_MEDIAN_MS / sync_median:.1f}×, "
        f"p90 {TILT_P90_MS / sync_p90:.1f}× (goal ≥ 2×: median ≤ 150 ms, p90 ≤ 200 ms)"
    )


def cleanup(work: Path, namespace: str) -> None:
    from kubernetes import client

    from kudev.cluster.detect import api_client_for

    api = api_client_for(None, None)
    client.CoreV1Api(api).delete_namespace(namespace, propagation_policy="Background")
    shutil.rmtree(work.parent, ignore_errors=True)


if __name__ == "__main__":
    main()

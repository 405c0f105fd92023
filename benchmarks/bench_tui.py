"""The dashboard under a log flood: key-press latency, memory and CPU.

    python benchmarks/bench_tui.py [--rates 0,5000,20000,50000] [--runs 3] [--seconds 4]

An engine stand-in emits LogLine events from its own thread at each rate (four pods, like the
deploy side's log watchers) into the running app (headless Pilot, 120x35) whose logs pane
already holds 10k lines. While it floods, a key is pressed every 150 ms: `z` (zoom: restyle and
relayout) and `w` (wrap: re-wraps every kept line, the heaviest key). Latency is the time from
the press to the first frame the compositor produced showing its effect. The press is
`App.simulate_key` (the Key event a terminal delivers): `pilot.press` also waits for every
message queue to drain, which under a flood takes seconds and is not what a person waits for.
Rate 0 is the baseline, measured in the same run. RSS is read after 1 s of flood and at the
end: flat means bounded. CPU is process CPU time over wall time; "idle" is a dashboard with
nothing arriving and nobody typing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from kudev import events as ev
from kudev.app import KudevApp, make_app
from kudev.config import Config, ImageSpec
from kudev.project import Project
from kudev.session import SessionOptions
from kudev.widgets.log_pane import LogPane

PREFILL = 10_000  # the logs pane's bound
PODS = ("web-7d9c5b6f4-abcde", "web-7d9c5b6f4-fghij", "worker-5f8b9c7d6-xk2lp", "db-0")


class FloodEngine:
    """Engine-like: a short session, then `rate` log lines a second until stopped."""

    def __init__(self, sink: ev.EventSink, rate: int) -> None:
        self.sink = sink
        self.rate = rate
        self.sent = 0
        self.flooding = threading.Event()
        self._stop = threading.Event()

    def run(self) -> bool:
        self.sink(ev.SessionStarted(project="bench", root="/bench", images=("bench",)))
        self.sink(ev.WatchState(watching=True))
        line = 'GET /api/items?page=3 200 12.4ms user-agent="curl/8.5" request-id=9f1c2e'
        for i in range(PREFILL):  # every rate, 0 included, starts with a full logs pane
            self.sink(ev.LogLine(pod=PODS[i % len(PODS)], container="app", line=f"{i} {line}"))
        self.flooding.wait()
        started = time.perf_counter()
        while not self._stop.is_set():
            due = int((time.perf_counter() - started) * self.rate) - self.sent
            for i in range(max(0, min(due, self.rate))):
                pod = PODS[(self.sent + i) % len(PODS)]
                self.sink(ev.LogLine(pod=pod, container="app", line=f"{self.sent + i} {line}"))
            self.sent += max(0, due)
            self._stop.wait(0.002)
        return True

    def request_rebuild(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...

    def stop(self) -> None:
        self.flooding.set()
        self._stop.set()


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_project() -> Project:
    root = Path(tempfile.mkdtemp(prefix="kudev-bench-tui-"))
    image = ImageSpec(name="bench", context=root, dockerfile=root / "Dockerfile")
    config = Config(path=root / ".kudev.yaml", root=root, name="bench", images=(image,))
    return Project(config=config, cache_dir=root / ".cache")


async def one_run(rate: int, key: str, seconds: float) -> dict[str, Any]:
    engines: list[FloodEngine] = []

    def factory(_p: Project, _o: SessionOptions, sink: ev.EventSink) -> FloodEngine:
        engines.append(FloodEngine(sink, rate))
        return engines[0]

    app: KudevApp = make_app(bench_project(), SessionOptions(), engine_factory=factory)
    frames: list[tuple[float, bool]] = []
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.5)
        pane = app.dashboard.query_one(LogPane)
        display = app._display
        shows = {
            "w": lambda: pane.view.wrap,  # re-wraps every kept line: the heaviest key
            "z": lambda: bool(app.dashboard.zoomed),  # a relayout
        }[key]

        def recording_display(screen: Any, renderable: Any) -> None:
            # Every frame the compositor produced, and what it showed.
            frames.append((time.perf_counter(), shows()))
            display(screen, renderable)

        app._display = recording_display  # type: ignore[method-assign]
        engine = engines[0]
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        engine.flooding.set()
        await asyncio.sleep(1.0)
        rss_early = rss_mb()
        latencies = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            wanted = not shows()
            pressed = time.perf_counter()
            app.simulate_key(key)  # as the terminal driver delivers it; see the docstring
            while not any(t >= pressed and wrap == wanted for t, wrap in frames[-50:]):
                await asyncio.sleep(0.001)
            shown = next(t for t, wrap in frames if t >= pressed and wrap == wanted)
            latencies.append((shown - pressed) * 1000)
            del frames[:-50]
            await asyncio.sleep(0.15)
        wall = time.perf_counter() - wall0
        cpu = (cpu_seconds() - cpu0) / wall
        rss_late = rss_mb()
        received = pane.view.received
        sent = engine.sent
        await pilot.press("q")
    return {
        "latency_ms": latencies,
        "rss_early": rss_early,
        "rss_late": rss_late,
        "cpu": cpu,
        "sent_per_s": sent / wall,
        "shown_per_s": received / wall,
        "skipped": pane.dropped,
    }


def in_fresh_process(rate: int, key: str, seconds: float) -> dict[str, Any]:
    return asyncio.run(one_run(rate, key, seconds))


async def idle_cpu(seconds: float) -> float:
    """CPU share of a dashboard with nothing arriving and nobody typing."""
    app = make_app(
        bench_project(), SessionOptions(), engine_factory=lambda _p, _o, s: FloodEngine(s, 0)
    )
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.5)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        share = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
        await pilot.press("q")
    return share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0,5000,20000,50000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--keys", default="z,w", help="z: zoom (relayout), w: re-wrap 10k lines")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    idle = statistics.median(asyncio.run(idle_cpu(3.0)) for _ in range(args.runs))
    print(f"idle (nothing arriving, no keys): CPU {idle * 100:.1f}%\n")
    print(
        f"{'key':>3} {'lines/s':>8} {'sent/s':>8} {'presses':>8} {'p50':>8} {'p95':>8} "
        f"{'max':>8} {'RSS@1s':>8} {'RSS end':>8} {'CPU':>6}"
    )
    for key in args.keys.split(","):
        for rate in rates:
            runs = []
            for _ in range(args.runs):
                # One process per run: RSS is then this run's alone, not every earlier app's.
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                    runs.append(pool.submit(in_fresh_process, rate, key, args.seconds).result())
            report(key, rate, runs)
    print(
        "\nlatency: from the key press to the first frame showing its effect; "
        f"{args.runs} runs x {args.seconds:.0f}s per row, over all presses. "
        f"The logs pane holds {PREFILL:,} lines at every rate. "
        "RSS: the whole process (app and flooding thread), a fresh process per run."
    )


def report(key: str, rate: int, runs: list[dict[str, Any]]) -> None:
    med = statistics.median
    lat = sorted(x for r in runs for x in r["latency_ms"])
    p95 = lat[math.ceil(len(lat) * 0.95) - 1]
    print(
        f"{key:>3} {rate:>8} {med(r['sent_per_s'] for r in runs):>8.0f} {len(lat):>8} "
        f"{med(lat):>6.1f}ms {p95:>6.1f}ms {lat[-1]:>6.1f}ms "
        f"{med(r['rss_early'] for r in runs):>6.0f}MB "
        f"{med(r['rss_late'] for r in runs):>6.0f}MB "
        f"{med(r['cpu'] for r in runs) * 100:>5.0f}%"
    )


if __name__ == "__main__":
    main()

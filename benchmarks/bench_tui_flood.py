"""The dashboard over the real engine under a log flood: how fast it answers keys.

    PYTHONPATH=$PWD python benchmarks/bench_tui_flood.py [--rate 20000] [--runs 3] [--seconds 8]

The real `Engine` runs behind the real App (headless Pilot, 160x45) with its seams faked
(tests/enginefakes.py: no Docker, no cluster). Once its first cycle is deployed, a producer
thread runs the deploy side's real log follower (`deploy/live/logs.py` `ContainerLog`) against
an API-server stand-in that answers the log stream with timestamped lines, `rate / 10` of them
every 100 ms — the shape of the fault test's container (`seq` in a loop with `usleep 100000`).
Every line then takes the engine's own path: timestamp split, `LogLine`, `Engine.emit`, the
App's sink, the event feed, the logs pane.

While it floods, `?` opens the help screen and `Esc` closes it, every 0.25 s. Latency is the time
from the press to the first frame the compositor produced showing that screen (tests/keytiming.py
says why the press is `App.simulate_key`; `--pilot` presses with `pilot.press` instead and also
prints when it came back). Rate 0 is the baseline, measured in the same run. Each run is a fresh
process, so RSS is that run's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.enginefakes

from kudev.app import KudevApp, make_app  # noqa: E402
from kudev.config import Config, ImageSpec  # noqa: E402
from kudev.deploy.live.logs import ContainerLog  # noqa: E402
from kudev.project import Project  # noqa: E402
from kudev.screens.help import HelpScreen  # noqa: E402
from kudev.session import SessionOptions  # noqa: E402
from kudev.widgets.log_pane import LogPane  # noqa: E402
from tests.enginefakes import Fakes  # noqa: E402
from tests.keytiming import FrameClock  # noqa: E402

BURST_S = 0.1
PRESS_EVERY_S = 0.25
POD = "flood-7d9c5b6f4-abcde"


class FloodStream:
    """The API server's answer to a followed log: `rate` timestamped lines a second."""

    def __init__(self, rate: int, stop: threading.Event) -> None:
        self.rate = rate
        self.stop = stop
        self.sent = 0

    def stream(self, amt: int, decode_content: bool) -> Any:
        started = time.monotonic()
        while not self.stop.wait(BURST_S):
            due = int((time.monotonic() - started) * self.rate) - self.sent
            if due <= 0:
                continue
            now = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            nanos = f"{int(now % 1 * 1e9):09d}"
            first = self.sent + 1
            text = "".join(f"{stamp}.{nanos}Z line {n}\n" for n in range(first, first + due))
            self.sent += due
            data = text.encode()
            for at in range(0, len(data), amt):  # the HTTP stream's chunks
                yield data[at : at + amt]

    def release_conn(self) -> None: ...
    def close(self) -> None: ...


class FloodApi:
    """The two CoreV1Api calls `ContainerLog` makes."""

    def __init__(self, stream: FloodStream) -> None:
        self._stream = stream

    def read_namespaced_pod_log(self, *_args: Any, **_kwargs: Any) -> FloodStream:
        return self._stream

    def read_namespaced_pod(self, *_args: Any, **_kwargs: Any) -> Any:
        return SimpleNamespace(status=SimpleNamespace(container_statuses=[]))  # ended


def bench_project() -> Project:
    root = Path(tempfile.mkdtemp(prefix="kudev-bench-flood-")) / "app"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (root / "main.txt").write_text("v1\n")
    image = ImageSpec(name="flood", context=root, dockerfile=root / "Dockerfile")
    config = Config(path=root / ".kudev.yaml", root=root, name="flood", images=(image,))
    return Project(config=config, cache_dir=root.parent / "cache")


def first_cycle_done(app: KudevApp) -> Any:
    return lambda: app.state.current is not None and app.state.current.result == "ok"


async def wait_until(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def one_run(rate: int, seconds: float, via_pilot: bool) -> dict[str, Any]:
    fakes = Fakes()
    app: KudevApp = make_app(
        bench_project(),
        SessionOptions(),
        engine_factory=lambda p, o, sink: fakes.engine(p, o, sink),
    )
    stop = threading.Event()
    flood = FloodStream(rate, stop)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(first_cycle_done(app), "the first cycle")
        follower = ContainerLog(FloodApi(flood), "ns", POD, "app", fakes.deployer.emit, stop)
        producer = threading.Thread(target=follower.run, name="bench-flood")
        clock = FrameClock(app, lambda: isinstance(app.screen, HelpScreen))
        producer.start()
        await asyncio.sleep(1.0)  # the flood under way, the logs pane full
        rss_early = rss_mib()
        latencies: list[float] = []
        returned: list[float] = []  # --pilot: when pilot.press came back
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            key = "escape" if isinstance(app.screen, HelpScreen) else "question_mark"
            if via_pilot:  # what the fault test did: the press plus Pilot's wait for idle
                pressed = time.perf_counter()
                await pilot.press(key)
                returned.append((time.perf_counter() - pressed) * 1000)
                shown = clock.first_frame(pressed, key == "question_mark")
                assert shown is not None
                latencies.append((shown - pressed) * 1000)
            else:
                latencies.append(await clock.time_key(key) * 1000)
            await asyncio.sleep(PRESS_EVERY_S)
        stop.set()
        producer.join(5)
        if isinstance(app.screen, HelpScreen):
            await clock.time_key("escape")  # the pane shows what it held behind the help
        await asyncio.sleep(0.3)  # the last lines reach the pane
        pane = app.dashboard.query_one(LogPane)
        figures = {
            "latency_ms": latencies,
            "returned_ms": returned,
            "rss_early": rss_early,
            "rss_late": rss_mib(),
            "sent": flood.sent,
            "shown": pane.view.received,
            "skipped": pane.dropped,
        }
        await pilot.press("q")
    return figures


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def in_fresh_process(rate: int, seconds: float, via_pilot: bool) -> dict[str, Any]:
    return asyncio.run(one_run(rate, seconds, via_pilot))


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    lat = sorted(x for r in runs for x in r["latency_ms"])
    return {
        "presses": len(lat),
        "median": statistics.median(lat),
        "p90": lat[math.ceil(len(lat) * 0.9) - 1],
        "max": lat[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--pilot", action="store_true", help="press with pilot.press, as the fault test did"
    )
    args = parser.parse_args()
    rows = {}
    for rate in (0, args.rate):
        runs = []
        for run in range(args.runs):
            # One process per run: RSS and the GC's history are that run's alone.
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                runs.append(pool.submit(in_fresh_process, rate, args.seconds, args.pilot).result())
            r = runs[-1]
            lat = sorted(r["latency_ms"])
            lost = r["sent"] - r["shown"] - r["skipped"]
            print(
                f"rate {rate:>6} run {run + 1}: {len(lat)} presses, median "
                f"{statistics.median(lat):6.1f} ms, max {lat[-1]:6.1f} ms; lines sent "
                f"{r['sent']:,}, shown {r['shown']:,}, skipped {r['skipped']:,}, lost {lost:,}; "
                f"RSS {r['rss_early']:.0f} → {r['rss_late']:.0f} MiB"
            )
            if r["returned_ms"]:
                back = sorted(r["returned_ms"])
                print(
                    f"  pilot.press came back after: median {statistics.median(back):.0f} ms, "
                    f"max {back[-1]:.0f} ms"
                )
        rows[rate] = summary(runs)
    print(f"\n{'lines/s':>8} {'presses':>8} {'median':>9} {'p90':>9} {'max':>9}")
    for rate, row in rows.items():
        print(
            f"{rate:>8} {row['presses']:>8} {row['median']:>7.1f}ms {row['p90']:>7.1f}ms "
            f"{row['max']:>7.1f}ms"
        )
    base, flood = rows[0], rows[args.rate]
    print(
        f"flood / baseline: median x{flood['median'] / base['median']:.1f}, "
        f"p90 x{flood['p90'] / base['p90']:.1f}, max x{flood['max'] / base['max']:.1f}"
    )
    print(
        f"\nlatency: `?`/Esc press to the first frame showing the help screen / the dashboard; "
        f"{args.runs} runs x {args.seconds:.0f} s per rate, over all presses."
    )


if __name__ == "__main__":
    main()

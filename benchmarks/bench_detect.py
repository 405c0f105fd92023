"""Save → `cycle_started`: how soon kudev starts a cycle after a file is written.

    python benchmarks/bench_detect.py [--runs 20] [--debounce-ms 10]

The real engine and the real inotify watcher (watchfiles), with the engine suite's fake
builder, delivery and deployer (tests/enginefakes.py), so nothing but detection, the rehash
of the one file and the engine's scheduling is timed. The baseline, measured in the same run,
alternating with kudev: watchfiles alone on the same folder with the same step, from the write
to the batch. kudev's own part is the difference; the ratio is kudev / bare watchfiles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kudev import events as ev  # noqa: E402
from kudev.config import WatchSpec  # noqa: E402
from tests.enginefakes import Fakes  # noqa: E402
from tests.enginelib import RunningEngine  # noqa: E402
from tests.test_engine_fakes import make_project  # noqa: E402

PAUSE_S = 0.3  # between edits: each is a single save, never part of a storm


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def bare_watchfiles(folder: Path, step_ms: int, runs: int) -> list[float]:
    import watchfiles

    stop = threading.Event()
    seen: list[float] = []
    got = threading.Event()

    def watch() -> None:
        for batch in watchfiles.watch(
            folder,
            step=step_ms,
            debounce=5000,
            stop_event=stop,
            rust_timeout=300,
            yield_on_timeout=True,
        ):
            if batch:
                seen.append(time.monotonic())
                got.set()

    thread = threading.Thread(target=watch, name="bench-watchfiles")
    thread.start()
    time.sleep(0.3)  # the watch is armed a moment after the thread starts
    latencies = []
    for run in range(runs):
        got.clear()
        written = time.monotonic()
        (folder / "main.txt").write_text(f"bare {run}\n")
        if got.wait(5):
            latencies.append(seen[-1] - written)
        time.sleep(PAUSE_S)
    stop.set()
    thread.join()
    return latencies


def kudev_engine(root: Path, debounce_ms: int, runs: int) -> list[float]:
    project = make_project(root)
    config = replace(project.config, watch=WatchSpec(debounce_ms=debounce_ms))
    project = replace(project, config=config)
    main = config.images[0].context / "main.txt"
    fakes = Fakes()
    engine = fakes.engine(project, real_watcher=True)
    latencies = []
    with RunningEngine(engine):
        fakes.log.cycle_finished(1, timeout=10)
        time.sleep(0.3)
        for run in range(runs):
            cycle = run + 2
            written = time.time()  # events carry wall-clock `ts`
            main.write_text(f"kudev {run}\n")
            started = fakes.log.wait_for(
                lambda e, c=cycle: isinstance(e, ev.CycleStarted) and e.cycle == c, timeout=5
            )
            latencies.append(started.ts - written)
            fakes.log.cycle_finished(cycle, timeout=10)
            time.sleep(PAUSE_S)
    return latencies


def report(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    runs = " ".join(f"{v:.1f}" for v in ms)
    print(f"{name}: runs(ms) {runs}")
    print(f"  median {statistics.median(ms):.1f} ms, p90 {p90(ms):.1f} ms, n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--debounce-ms", type=int, default=WatchSpec().debounce_ms)
    args = parser.parse_args()
    bare: list[float] = []
    ours: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(2):  # alternate so drift in machine load hits both
            half = args.runs // 2
            folder = Path(tmp) / f"bare{rnd}"
            folder.mkdir()
            bare += bare_watchfiles(folder, args.debounce_ms, half)
            ours += kudev_engine(Path(tmp) / f"kudev{rnd}", args.debounce_ms, half)
    print(f"debounceMs {args.debounce_ms}; edits {PAUSE_S}s apart")
    report("watchfiles alone (baseline): write → batch", bare)
    report("kudev: write → cycle_started", ours)
    print(
        f"ratio kudev/baseline: median {statistics.median(ours) / statistics.median(bare):.2f},"
        f" p90 {p90(ours) / p90(bare):.2f}; kudev's own part (median difference)"
        f" {(statistics.median(ours) - statistics.median(bare)) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()

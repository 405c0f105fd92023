"""Save → new pod Ready for the example app on a real cluster, by stage, and kudev's overhead.

    KUBECONFIG=… python benchmarks/bench_deploy_cycle.py [--runs 5] [--namespace kudev-bench]

The real engine runs with the real watcher (watchfiles, debounce 50 ms). Each run rewrites
examples/hello's www/version.txt in a temporary copy and waits for the cycle to finish.
detect = file write → cycle start (watcher + debounce); the stages come from the engine's own
clock. Overhead = total − build − load − rollout wait, i.e. detection, hashing, rendering,
apply and event delivery. `ready` includes the rollout's 3 s settle window (kudev/rollout.py:
a pod that crashes right after starting fails the cycle). Prints medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from kudev import events as ev
from kudev.config import WatchSpec, load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"


class Recorder:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.cond = threading.Condition()

    def __call__(self, event: ev.Event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def finished(self, cycle: int, timeout: float = 300) -> ev.CycleFinished:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if isinstance(e, ev.CycleFinished) and e.cycle == cycle:
                        return e
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"cycle {cycle} did not finish")

    def started(self, cycle: int) -> ev.CycleStarted:
        return next(e for e in self.events if isinstance(e, ev.CycleStarted) and e.cycle == cycle)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--namespace", default="kudev-bench")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp()) / "hello"
    shutil.copytree(EXAMPLE, work)
    config = load_config(work / ".kudev.yaml")
    config = replace(
        config,
        namespace=args.namespace,
        create_namespace=True,
        watch=WatchSpec(debounce_ms=50),
        local_port=None,
        service_port=None,
    )
    rec = Recorder()
    engine = Engine(Project(config=config, cache_dir=work.parent / "cache"), SessionOptions(), rec)
    thread = threading.Thread(target=engine.run)
    thread.start()
    rows = []
    try:
        assert rec.finished(1).ok, "the first deploy failed"
        for run in range(args.runs):
            time.sleep(1.0)
            written = time.time()
            (work / "www" / "version.txt").write_text(f"bench {run} {written}\n")
            done = rec.finished(run + 2)
            assert done.ok, f"cycle {run + 2} failed"
            detect = rec.started(run + 2).ts - written
            s = done.stages
            waited = s.get("build", 0) + s.get("load", 0) + s.get("ready", 0)
            rows.append(
                {
                    "detect": detect,
                    **s,
                    "total": detect + done.seconds,
                    "overhead": detect + done.seconds - waited,
                }
            )
    finally:
        engine.stop()
        thread.join()
        from kudev.cluster.detect import api_client_for
        from kudev.deploy.apply import Applier

        Applier(api_client_for(None, None), config.name, args.namespace).down()
        shutil.rmtree(work.parent)
    keys = ["detect", "hash", "build", "load", "apply", "ready", "total", "overhead"]
    print(f"save → pod Ready, examples/hello, {len(rows)} runs, medians (ms):")
    for key in keys:
        values = [r.get(key, 0.0) * 1000 for r in rows]
        print(
            f"  {key:9s} {statistics.median(values):8.1f}   (min {min(values):.1f}, "
            f"max {max(values):.1f})"
        )
    overhead = statistics.median(r["overhead"] for r in rows)
    total = statistics.median(r["total"] for r in rows)
    print(
        f"kudev overhead {overhead * 1000:.0f} ms = {overhead / total:.1%} of the cycle "
        "(goal ≤ 150 ms)"
    )


if __name__ == "__main__":
    main()

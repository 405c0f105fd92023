"""Several images at once: one cycle of a three-image project, side by side vs one at a time.

    python benchmarks/bench_parallel_builds.py [--runs 6]

The real engine and Docker Engine (`--build-only`), three images on the local busybox base
(scripts/busybox-image), each with a RUN step that compresses 24 MiB of its own data, so the
builds are CPU work like a compile. Each run changes every image's data, so all three build.
The baseline, in the same run and alternating with it: the same engine with one build at a
time (`max_parallel_builds` set to 1). Prints every run, the median and the p90 of each, and
the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kudev import events as ev  # noqa: E402
from kudev.config import Config, ImageSpec  # noqa: E402
from kudev.engine import build_jobs  # noqa: E402
from kudev.engine.loop import Engine  # noqa: E402
from kudev.project import Project  # noqa: E402
from kudev.session import SessionOptions  # noqa: E402
from tests.enginelib import EventLog  # noqa: E402

BASE = os.environ.get("KUDEV_TEST_BASE_IMAGE", "busybox:1.36")
IMAGES = ("api", "web", "worker")
DOCKERFILE = f"FROM {BASE}\nCOPY data /data\nRUN gzip -9 -c /data > /data.gz\n"
DATA_BYTES = 24 * 1024 * 1024


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def project(root: Path, run: int) -> Project:
    specs = []
    for name in IMAGES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Dockerfile").write_text(DOCKERFILE)
        # Compressible but not trivial, and new each run so every image builds.
        seed = f"{name} {run} {time.time()}\n".encode()
        (folder / "data").write_bytes(
            (seed + os.urandom(48) * 4) * (DATA_BYTES // (len(seed) + 192))
        )
        specs.append(
            ImageSpec(name=f"kudev-bench-{name}", context=folder, dockerfile=folder / "Dockerfile")
        )
    config = Config(path=root / ".kudev.yaml", root=root, name="bench", images=tuple(specs))
    return Project(config=config, cache_dir=root / "cache")


def one_cycle(root: Path, run: int, limit: int) -> float:
    build_jobs.max_parallel_builds = lambda: limit  # type: ignore[assignment]
    log = EventLog()
    engine = Engine(project(root, run), SessionOptions(once=True, load_images=False), log)
    if not engine.run():
        raise RuntimeError(f"the cycle failed: {log.of(ev.ErrorReported)}")
    return log.of(ev.CycleFinished)[-1].seconds


def report(name: str, values: list[float]) -> None:
    runs = " ".join(f"{v:.2f}" for v in values)
    print(f"{name}: runs(s) {runs}")
    print(f"  median {statistics.median(values):.2f} s, p90 {p90(values):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    alone: list[float] = []
    side: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            alone.append(one_cycle(Path(tmp) / "alone", run, 1))
            side.append(one_cycle(Path(tmp) / "side", run, cores))
    print(f"{len(IMAGES)} images, {DATA_BYTES >> 20} MiB gzip -9 each, {cores} cores")
    print("(cycle_started → cycle_finished, wall clock)")
    report("one at a time (baseline)", alone)
    report(f"side by side (up to {cores})", side)
    print(
        f"ratio side/alone: median {statistics.median(side) / statistics.median(alone):.2f},"
        f" p90 {p90(side) / p90(alone):.2f}"
    )


if __name__ == "__main__":
    main()

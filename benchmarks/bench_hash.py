"""Context hashing: cold hash vs sha256sum, incremental rehash, and `kudev --help`.

    python benchmarks/bench_hash.py [--files 50000] [--mbytes 400] [--runs 5]

Cold: kudev's full scan + hash of a generated tree (no digest cache) against
`find -type f -print0 | xargs -0 -P2 sha256sum` over the same files, alternating, after
dropping nothing (both read from the page cache: the tree was just written; the ratio
measures CPU work, not the disk). Rehash: one file rewritten, then `update([path])` +
`digest()`, at 5k and at the full size. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_tree import generate  # noqa: E402

from kudev.sources.context import BuildContext  # noqa: E402


def cold_kudev(root: Path) -> float:
    started = time.perf_counter()
    ctx = BuildContext(root, root / "Dockerfile")
    ctx.scan()
    ctx.digest()
    return time.perf_counter() - started


def cold_sha256sum(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        f"find {root} -type f -print0 | xargs -0 -P2 sha256sum > /dev/null", shell=True, check=True
    )
    return time.perf_counter() - started


def rehash_ms(root: Path, runs: int) -> float:
    ctx = BuildContext(root, root / "Dockerfile")
    ctx.scan()
    ctx.digest()
    target = next(root.glob("pkg*/mod*/file*.go"))
    times = []
    for i in range(runs * 4):
        target.write_bytes(f"edit {i}\n".encode() * 50)
        started = time.perf_counter()
        ctx.update([target])
        ctx.digest()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def help_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kudev", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def python_startup_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--mbytes", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kudev-bench-"))
    try:
        big, small = work / "big", work / "small"
        generate(big, args.files, args.mbytes * 1024 * 1024)
        generate(small, args.files // 10, args.mbytes * 1024 * 1024 // 10)
        ours, theirs = [], []
        for run in range(args.runs + 1):
            pair = (cold_kudev, cold_sha256sum) if run % 2 else (cold_sha256sum, cold_kudev)
            results = {fn.__name__: fn(big) for fn in pair}
            if run:  # run 0 warms the page cache for both
                ours.append(results["cold_kudev"])
                theirs.append(results["cold_sha256sum"])
        kudev_s, base_s = statistics.median(ours), statistics.median(theirs)
        print(f"tree: {args.files} files, {args.mbytes} MB; {args.runs} runs each, medians")
        print(
            f"cold hash   kudev {kudev_s:6.2f} s   find|xargs -P2 sha256sum {base_s:6.2f} s"
            f"   ratio {kudev_s / base_s:.2f}x (goal <= 1.2x)"
        )
        small_ms, big_ms = rehash_ms(small, args.runs), rehash_ms(big, args.runs)
        print(
            f"rehash after one change: {args.files // 10} files {small_ms:.2f} ms, "
            f"{args.files} files {big_ms:.2f} ms (goal <= 10 ms, flat; "
            f"ratio {big_ms / small_ms:.2f}x)"
        )
        help_t, python_t = help_ms(args.runs), python_startup_ms(args.runs)
        print(
            f"kudev --help {help_t:.0f} ms; bare python startup {python_t:.0f} ms "
            f"(ratio {help_t / python_t:.2f}x)"
        )
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

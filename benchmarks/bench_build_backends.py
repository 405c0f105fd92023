"""Incremental build time: kudev's SDK build (classic builder) vs the docker CLI with BuildKit.

Both build the same context tar (the example app with one file changed per run), in
alternating order, so machine noise hits both alike. Prints medians and the ratio.

    python benchmarks/bench_build_backends.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from kudev.build.classic import ImageBuilder
from kudev.build.context_tar import write_context_tar
from kudev.build.docker_client import connect
from kudev.sources.context import BuildContext

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"


def buildkit_cli() -> str | None:
    """A docker CLI that builds with BuildKit from a tar on stdin (20.10, or one with buildx)."""
    for cli in ("/usr/bin/docker", shutil.which("docker")):
        if not cli or not os.path.exists(cli):
            continue
        probe = subprocess.run([cli, "buildx", "version"], capture_output=True)
        version = subprocess.run(
            [cli, "version", "-f", "{{.Client.Version}}"], capture_output=True, text=True
        ).stdout
        if probe.returncode == 0 or version.startswith("20."):
            return cli
    return None


def time_sdk(builder: ImageBuilder, ctx: BuildContext, tag: str) -> float:
    started = time.perf_counter()
    builder.build(ctx, tag, lambda line, stream: None)
    return time.perf_counter() - started


def time_buildkit(cli: str, ctx: BuildContext, tag: str) -> float:
    with tempfile.TemporaryFile() as body:
        started = time.perf_counter()
        dockerfile = write_context_tar(ctx, body)
        body.seek(0)
        subprocess.run(
            [cli, "build", "-q", "-f", dockerfile, "-t", tag, "-"],
            stdin=body,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    cli = buildkit_cli()
    if cli is None:
        print("no docker CLI with BuildKit here; nothing to compare")
        return
    work = Path(tempfile.mkdtemp()) / "hello"
    shutil.copytree(EXAMPLE, work)
    client = connect()
    builder = ImageBuilder(client)
    sdk, bk = [], []
    for run in range(args.runs + 1):
        for backend in ("sdk", "bk") if run % 2 else ("bk", "sdk"):
            (work / "www" / "version.txt").write_text(f"{backend} {run} {time.time()}\n")
            ctx = BuildContext(work, work / "Dockerfile")
            ctx.scan()
            tag = f"kudev-bench-build:{backend}{run}"
            seconds = (
                time_sdk(builder, ctx, tag) if backend == "sdk" else time_buildkit(cli, ctx, tag)
            )
            if run:  # run 0 warms both caches
                (sdk if backend == "sdk" else bk).append(seconds)
    for image in client.images.list("kudev-bench-build"):
        for tag in image.tags:
            client.images.remove(tag, force=True)
    shutil.rmtree(work.parent)
    sdk_median, bk_median = statistics.median(sdk), statistics.median(bk)
    print(f"incremental build of examples/hello, {args.runs} runs each, alternating")
    print(f"  kudev SDK (classic builder): median {sdk_median * 1000:7.1f} ms")
    print(f"  {cli} BuildKit:      median {bk_median * 1000:7.1f} ms")
    print(f"  ratio classic/BuildKit: {sdk_median / bk_median:.2f}x")


if __name__ == "__main__":
    main()

"""Build + load of one changed file in examples/hello, for every builder kudev has.

BuildKit through the docker CLI, the classic builder through the API, podman, buildah and the
layer builder each build the example with www/version.txt changed, then load the image the
way the rig's cluster takes it: a push to its KEP-1755 registry (localhost:5000). The
builders take turns in a rotating order, so machine noise hits all alike; the first round
warms every cache and is not counted. Prints every run, the median and p90 of each, and each
median against BuildKit's measured in the same run.

    python benchmarks/bench_builders.py [--runs 7] [--registry localhost:5000]

podman and buildah get their own containers-storage (vfs, cgroupfs) in a temporary folder,
with busybox:1.36 pulled into it from the registry; the base gets there from the local
Docker Engine (scripts/busybox-image builds it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kudev.build.buildah import BuildahBuilder
from kudev.build.buildkit import CliBuildKitBuilder, find_buildkit_cli
from kudev.build.classic import ImageBuilder
from kudev.build.docker_client import connect
from kudev.build.layers.builder import LayersBuilder
from kudev.build.podman import PodmanBuilder
from kudev.cluster.loaders import RegistryLoader
from kudev.sources.context import BuildContext

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hello"
BASE = "busybox:1.36"


def containers_storage(folder: Path, registry: str) -> None:
    """Isolated podman/buildah storage holding the base, set in this process's environment."""
    (folder / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{folder}/run"\ngraphroot = "{folder}/graph"\n'
    )
    (folder / "containers.conf").write_text(
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    os.environ["CONTAINERS_STORAGE_CONF"] = str(folder / "storage.conf")
    os.environ["CONTAINERS_CONF"] = str(folder / "containers.conf")
    pulled = f"{registry}/{BASE}"
    subprocess.run(
        ["podman", "pull", "-q", "--tls-verify=false", pulled], check=True, capture_output=True
    )
    subprocess.run(["podman", "tag", pulled, f"docker.io/library/{BASE}"], check=True)


def base_in_registry(registry: str) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "busybox-image")], check=True)
    subprocess.run(["docker", "tag", BASE, f"{registry}/{BASE}"], check=True)
    subprocess.run(["docker", "push", "-q", f"{registry}/{BASE}"], check=True, capture_output=True)


def builders(work: Path, registry: str) -> dict[str, Callable[[], Any]]:
    client = connect()
    made: dict[str, Callable[[], Any]] = {}
    cli = find_buildkit_cli()
    if cli:
        made["BuildKit CLI"] = lambda: CliBuildKitBuilder(client, cli)
    made["classic API"] = lambda: ImageBuilder(client)
    if shutil.which("podman"):
        made["podman"] = lambda: PodmanBuilder(shutil.which("podman") or "podman")
    if shutil.which("buildah"):
        made["buildah"] = lambda: BuildahBuilder(shutil.which("buildah") or "buildah")
    made["layers"] = lambda: LayersBuilder(registry, work / "layers-cache")
    return made


def one_run(builder: Any, loader: RegistryLoader, work: Path, label: str) -> tuple[float, float]:
    """(build seconds, load seconds) for one changed file."""
    (work / "www" / "version.txt").write_text(f"{label} {time.time_ns()}\n")
    context = BuildContext(work, work / "Dockerfile")
    context.scan()
    ref = f"kudev-bench-builders:{context.tag()}"
    started = time.perf_counter()
    builder.run(builder.prepare(context, ref), lambda line, stream: None)
    built = time.perf_counter()
    loader.load(ref, lambda line: None)
    return built - started, time.perf_counter() - built


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--registry", default="localhost:5000")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kudev-bench-builders-"))
    work = scratch / "hello"
    shutil.copytree(EXAMPLE, work)
    base_in_registry(args.registry)
    if shutil.which("podman"):
        containers_storage(scratch, args.registry)
    made = {name: make() for name, make in builders(scratch, args.registry).items()}
    names = list(made)
    loaders = {name: RegistryLoader(args.registry, made[name].client) for name in names}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for run in range(args.runs + 1):
        order = names[run % len(names) :] + names[: run % len(names)]
        for name in order:
            measured = one_run(made[name], loaders[name], work, f"{name}{run}")
            if run:  # round 0 warms every cache
                times[name].append(measured)
    shutil.rmtree(scratch, ignore_errors=True)
    report(times, args.runs, args.registry)


def report(times: dict[str, list[tuple[float, float]]], runs: int, registry: str) -> None:
    print(
        f"build + load (push to {registry}) of one changed file in examples/hello, "
        f"{runs} runs each, rotating order"
    )
    totals = {name: [b + load for b, load in runs_] for name, runs_ in times.items()}
    baseline = statistics.median(totals.get("BuildKit CLI") or next(iter(totals.values())))
    for name, pairs in times.items():
        total = totals[name]
        median = statistics.median(total)
        build = statistics.median(b for b, _ in pairs)
        load = statistics.median(load for _, load in pairs)
        runs_ms = " ".join(f"{t * 1000:.0f}" for t in total)
        print(
            f"  {name:<13} median {median * 1000:7.1f} ms (build {build * 1000:6.1f}, "
            f"load {load * 1000:6.1f})  p90 {p90(total) * 1000:7.1f} ms  "
            f"{baseline / median:5.1f}x BuildKit's speed   runs: {runs_ms}"
        )


if __name__ == "__main__":
    main()

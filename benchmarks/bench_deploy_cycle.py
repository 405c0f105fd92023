"""Save → rolled out for examples/hello on a real cluster: kudev by stage, and Tilt beside it.

    KUBECONFIG=… python benchmarks/bench_deploy_cycle.py [--runs 10] [--tilt PATH | --no-tilt]

Each tool runs its own watch loop as a person would start it (`kudev --headless --json`, and
`tilt up --stream` with `docker_build` + `k8s_yaml`) on its own copy of the example, with the
same Deployment, pushing to the cluster's KEP-1755 registry. Each run rewrites www/index.html
and times, from the write:
- for both: the API server showing the Deployment rolled out to the new generation (a watch
  of the Deployment, in this process: observedGeneration caught up, every replica updated and
  available, no old one left);
- for kudev also: the write → `cycle_started`, each stage, apply finished, kudev's `ready`
  event as this process reads it, how long after the rollout that is, and kudev's overhead
  (ready − build − load − the Kubernetes rollout from apply to rolled out).
Runs of the two tools alternate, so both see the same machine. Prints runs, median and p90,
and the kudev/Tilt ratio of the medians. Tilt comes from --tilt or the cache path below
(`scripts/build-tilt` builds it from the Go module proxy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"
TILT_CACHE = Path.home() / ".cache" / "kudev-peers" / "tilt-v0.37.7" / "tilt"
NAMESPACES = ("kudev-bench-kudev", "kudev-bench-tilt")
RIG_REGISTRY = "localhost:5000"  # the rig's KEP-1755 registry
SETTLE_BETWEEN_RUNS_S = 3.5  # kudev's settle window after ready, so runs do not overlap
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: {name}
        ports: [{{containerPort: 8080}}]
"""
TILTFILE = """\
allow_k8s_contexts(k8s_context())
analytics_settings(enable=False)
version_settings(check_updates=False)
watch_settings(ignore=['Tiltfile', 'deploy.yaml', '.kudev.yaml'])
docker_build('{name}', '.')
k8s_yaml('deploy.yaml')
"""


class RolloutClock:
    """When the API server first shows each generation of one Deployment rolled out."""

    def __init__(self, api_client: Any, namespace: str, name: str) -> None:
        from kubernetes import client

        self.apps = client.AppsV1Api(api_client)
        self.namespace, self.name = namespace, name
        self.rolled_out: dict[int, float] = {}
        self.generation = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rollout", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def wait(self, after_generation: int, timeout: float = 120) -> float:
        """The time the first generation above `after_generation` was seen rolled out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                done = [t for g, t in self.rolled_out.items() if g > after_generation]
                if done:
                    return min(done)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name} not rolled out past {after_generation}")
                self._cond.wait(left)

    def _run(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for event in w.stream(
                    self.apps.list_namespaced_deployment,
                    self.namespace,
                    field_selector=f"metadata.name={self.name}",
                    timeout_seconds=5,
                ):
                    self._seen(event["object"], time.time())
                    if self._stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - not there yet, or a dropped watch: again
                time.sleep(0.05)
            finally:
                w.stop()

    def _seen(self, obj: Any, at: float) -> None:
        status, generation = obj.status, obj.metadata.generation or 0
        desired = obj.spec.replicas if obj.spec.replicas is not None else 1
        done = (
            (status.observed_generation or 0) >= generation
            and (status.updated_replicas or 0) == desired
            and (status.available_replicas or 0) == desired
            and (status.replicas or 0) == desired
        )
        with self._cond:
            self.generation = max(self.generation, generation)
            if done and generation not in self.rolled_out:
                self.rolled_out[generation] = at
                self._cond.notify_all()


class KudevEvents:
    """`kudev --headless --json` as a child process; its events with the time each was read."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kudev", "-C", str(root), "--headless", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="bench-kudev", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.events.append((time.time(), json.loads(line)))
                self._cond.notify_all()

    def wait(self, match: Any, timeout: float = 180) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for read_at, event in self.events:
                    if match(event):
                        return read_at, event
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError("kudev did not say what was awaited")
                self._cond.wait(left)

    def cycle(self, number: int) -> list[dict[str, Any]]:
        with self._cond:
            return [e for _, e in self.events if e.get("cycle") == number]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def base_in_registry() -> None:
    """The layer builder takes its base from a registry: the rig's, as a Docker Hub mirror."""
    subprocess.run(["bash", str(EXAMPLE.parent.parent / "scripts" / "busybox-image")], check=True)
    mirrored = f"{RIG_REGISTRY}/busybox:1.36"
    subprocess.run(["docker", "tag", "busybox:1.36", mirrored], check=True)
    subprocess.run(["docker", "push", "-q", mirrored], check=True, capture_output=True)


def copy_example(work: Path, name: str, namespace: str, extra_spec: str = "") -> Path:
    root = work / name
    shutil.copytree(EXAMPLE, root)
    (root / "deploy.yaml").write_text(DEPLOYMENT.format(name=name))
    (root / "Tiltfile").write_text(TILTFILE.format(name=name))
    (root / ".kudev.yaml").write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\n"
        f"metadata: {{name: {name}}}\nspec:\n  imageName: {name}\n  namespace: {namespace}\n"
        "  createNamespace: true\n  manifests: [deploy.yaml]\n" + extra_spec
    )
    with (root / ".dockerignore").open("a") as ignore:
        ignore.write("Tiltfile\ndeploy.yaml\n")
    return root


def edit(root: Path, run: int) -> float:
    (root / "www" / "index.html").write_text(f"<p>run {run} at {time.time()}</p>\n")
    return time.time()


def kudev_run(root: Path, kudev: KudevEvents, clock: RolloutClock, run: int) -> dict[str, float]:
    before = clock.generation
    written = edit(root, run)
    cycle = run + 2
    rolled_out = clock.wait(before)
    ready_read, _ = kudev.wait(
        lambda e: e["type"] == "stage_finished" and e["stage"] == "ready" and e["cycle"] == cycle
    )
    events = kudev.cycle(cycle)
    started = next(e for e in events if e["type"] == "cycle_started")
    stages = {e["stage"]: e for e in events if e["type"] == "stage_finished"}
    if not all(s["ok"] for s in stages.values()):
        raise RuntimeError(f"cycle {cycle} failed: {stages}")
    build, load = stages["build"]["seconds"], stages["load"]["seconds"]
    rollout = rolled_out - stages["apply"]["ts"]
    return {
        "save → cycle_started": started["ts"] - written,
        "hash": stages["hash"]["seconds"],
        "build": build,
        "load": load,
        "apply": stages["apply"]["seconds"],
        "save → apply finished": stages["apply"]["ts"] - written,
        "kubernetes rollout": rollout,
        "save → rolled out": rolled_out - written,
        "save → kudev ready": ready_read - written,
        "ready after rolled out": ready_read - rolled_out,
        "kudev overhead": (ready_read - written) - build - load - rollout,
    }


def tilt_run(root: Path, clock: RolloutClock, run: int) -> dict[str, float]:
    before = clock.generation
    written = edit(root, run)
    return {"save → rolled out": clock.wait(before) - written}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def report(title: str, rows: list[dict[str, float]]) -> None:
    print(f"\n{title}: {len(rows)} runs, milliseconds")
    print(f"  {'':24s} {'median':>8s} {'p90':>8s}   runs")
    for key in rows[0]:
        values = [r[key] * 1000 for r in rows]
        runs = " ".join(f"{v:.0f}" for v in values)
        print(f"  {key:24s} {statistics.median(values):8.1f} {p90(values):8.1f}   {runs}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tilt", default=str(TILT_CACHE))
    parser.add_argument("--no-tilt", action="store_true")
    parser.add_argument(
        "--layers",
        action="store_true",
        help="kudev with `builder: layers`, its base pushed to the rig's registry first",
    )
    args = parser.parse_args()
    from kubernetes import config as kube_config

    api_client = kube_config.new_client_from_config()
    tilt = None if args.no_tilt or not Path(args.tilt).is_file() else args.tilt
    work = Path(tempfile.mkdtemp(prefix="kudev-bench-"))
    for namespace in NAMESPACES:  # a previous run's, still terminating, refuses new objects
        subprocess.run(
            ["kubectl", "wait", "--for=delete", f"namespace/{namespace}", "--timeout=120s"],
            capture_output=True,
        )
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE.parent.parent)}
    extra = ""
    if args.layers:
        base_in_registry()
        extra = f"  builder: layers\n  baseRegistry: {RIG_REGISTRY}\n"
    kudev_root = copy_example(work, "hello-kudev", "kudev-bench-kudev", extra)
    kudev_clock = RolloutClock(api_client, "kudev-bench-kudev", "hello-kudev")
    kudev_clock.start()
    kudev = KudevEvents(kudev_root, env)
    tilt_proc, tilt_clock, tilt_root = None, None, None
    try:
        kudev.wait(lambda e: e["type"] == "cycle_finished" and e["cycle"] == 1 and e["ok"])
        kudev_clock.wait(0)
        if tilt:
            tilt_root = copy_example(work, "hello-tilt", "kudev-bench-tilt")
            subprocess.run(
                ["kubectl", "create", "namespace", "kudev-bench-tilt"], capture_output=True
            )
            tilt_clock = RolloutClock(api_client, "kudev-bench-tilt", "hello-tilt")
            tilt_clock.start()
            tilt_proc = subprocess.Popen(
                [tilt, "up", "--stream", "--port", "0", "--web-mode", "prod"]
                + ["--namespace", "kudev-bench-tilt"],
                cwd=tilt_root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**env, "TILT_DISABLE_ANALYTICS": "1"},
            )
            tilt_clock.wait(0, timeout=300)
        kudev_rows, tilt_rows = [], []
        for run in range(args.runs):
            time.sleep(SETTLE_BETWEEN_RUNS_S)
            kudev_rows.append(kudev_run(kudev_root, kudev, kudev_clock, run))
            if tilt_root and tilt_clock:
                time.sleep(SETTLE_BETWEEN_RUNS_S)
                tilt_rows.append(tilt_run(tilt_root, tilt_clock, run))
    finally:
        kudev.stop()
        kudev_clock.stop()
        if tilt_proc:
            tilt_proc.terminate()
            tilt_proc.wait(timeout=30)
        if tilt_clock:
            tilt_clock.stop()
        for namespace in NAMESPACES:
            subprocess.run(
                ["kubectl", "delete", "namespace", namespace, "--wait=false"], capture_output=True
            )
        shutil.rmtree(work, ignore_errors=True)
    builder = "builder: layers" if args.layers else "builder: auto (BuildKit)"
    report(f"kudev, {builder} (examples/hello, save → each point)", kudev_rows)
    if tilt_rows:
        report("Tilt v0.37.7, same Deployment, same registry", tilt_rows)
        ours = statistics.median(r["save → rolled out"] for r in kudev_rows)
        theirs = statistics.median(r["save → rolled out"] for r in tilt_rows)
        print(f"\nsave → rolled out, medians: kudev/Tilt = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()

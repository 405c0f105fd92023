"""SIGINT, then SIGTERM, landed while kudev is held in each stage: it exits within 5 s,
leaves no process behind (docker CLI, buildx, loader, hashing worker), no listener on the
forwarded port, and the app keeps running (no `--cleanup`).

Each stage is held long enough to aim at, by honest means: the hash by a context of sparse
files (gigabytes to read, nothing on disk) plus enough small ones for the worker processes;
the build by a `RUN sleep`; the load by an importCommand that sleeps before importing; apply
by hundreds of ConfigMaps, re-applied after a manifest edit; ready by a readiness probe that
only starts after some seconds; sync by a file of some hundred MB synced into the running pod."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.faults.faultlib import alive, descendants, listening, record, write_numbered_app

pytestmark = pytest.mark.e2e

EXIT_BOUND_S = 5
HOLD_S = 30
SIGNALS = pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
GIB = 1 << 30
# hash: 4 × 16 GiB sparse take the 2 hashing workers many seconds; 4,500 small files are
# enough to take the worker-process path (readers.PARALLEL_MIN_FILES).
SPARSE_FILES, SPARSE_SIZE, SMALL_FILES = 4, 16 * GIB, 4500
CONFIGMAPS = 600  # apply: one server-side apply each, several seconds in all on the rig
SYNC_MB = 400  # sync: one file this big, sent through the exec websocket


# ---- kudev as a subprocess, read line by line ----------------------------------------------


@dataclass
class Kudev:
    """`kudev --headless --json` on a project; its output read on a thread as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    _new: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, root: Path, kubeconfig: Path, cache: Path) -> Kudev:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUDEV_CACHE_DIR": str(cache)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "kudev", "-C", str(root), "--headless", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        kudev = cls(proc)
        # Read all the time: a full pipe would block kudev's printer, and so its exit.
        threading.Thread(target=kudev._read, name="test-kudev-out", daemon=True).start()
        return kudev

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._new:
                self.lines.append(line)
                with contextlib.suppress(ValueError):  # a line that is not an event
                    self.events.append(json.loads(line))
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    def wait_for(self, check: Callable[[dict], bool], what: str, timeout: float = 240) -> dict:
        """The first event (from the start) that passes `check`."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._new:
            while True:
                for event in self.events[seen:]:
                    if check(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and seen == len(self.events)):
                    tail = "".join(self.lines[-15:])
                    raise AssertionError(f"kudev never got to {what}:\n{tail}")
                self._new.wait(timeout=min(left, 0.5))

    def stage_started(self, stage: str, cycle: int) -> None:
        self.wait_for(
            lambda e: e["type"] == "stage_started" and e["stage"] == stage and e["cycle"] == cycle,
            f"stage {stage} of cycle {cycle}",
        )

    def first_cycle_served(self) -> None:
        ok = self.wait_for(lambda e: e["type"] == "cycle_finished", "the first cycle's end")
        assert ok["ok"], "".join(self.lines[-15:])
        self.wait_for(lambda e: e["type"] == "port_forward" and e["active"], "the port-forward")

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass(frozen=True)
class Stopped:
    exit_s: float
    rc: int
    children: list[tuple[int, str]]  # what ran below kudev as the signal landed
    left: list[int]  # of those, what still runs


def signal_and_wait(kudev: Kudev, sig: signal.Signals, settle_s: float = 1.5) -> Stopped:
    time.sleep(settle_s)  # well inside the stage: its tools are running
    children = descendants(kudev.proc.pid)
    sent = time.monotonic()
    kudev.proc.send_signal(sig)
    try:
        rc = kudev.proc.wait(timeout=30)
    finally:
        if kudev.proc.poll() is None:
            kudev.proc.kill()
    exit_s = time.monotonic() - sent
    time.sleep(0.5)  # a straggler would still be alive now
    return Stopped(exit_s, rc, children, alive(pid for pid, _ in children))


def check_exit(stopped: Stopped, sig: signal.Signals, kudev: Kudev, port: int, stage: str) -> None:
    """What every case asserts, and its figures recorded."""
    text = kudev.text
    record(
        f"signal-{sig.name}-{stage}",
        exit_s=round(stopped.exit_s, 2),
        rc=stopped.rc,
        children_at_signal=len(stopped.children),
        children_left=len(stopped.left),
        listener_left=listening(port),
    )
    assert stopped.exit_s < EXIT_BOUND_S, f"exited {stopped.exit_s:.1f} s after {sig.name}:\n{text}"
    assert stopped.rc in (0, 130, 143), text
    assert "Traceback" not in text, text
    left = [c for c in stopped.children if c[0] in stopped.left]
    assert not left, f"left running: {left}"
    assert not listening(port), f"something still listens on {port}"


def assert_app_kept(core_v1, namespace: str, name: str) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    assert apps.read_namespaced_deployment(name, namespace), "the app was removed"


# ---- build, load, ready --------------------------------------------------------------------


def _stage_setup(stage: str, tmp_path, containerd_address: str) -> dict[str, str]:
    if stage == "build":
        # A fresh step each time: BuildKit would reuse a finished `RUN sleep` from its cache.
        return {"dockerfile_extra": f"RUN echo {uuid.uuid4().hex} && sleep {HOLD_S}\n"}
    if stage == "load":
        loader = tmp_path / "slow-import.sh"
        loader.write_text(
            f"#!/bin/sh\nsleep {HOLD_S}\n"
            f"exec ctr --address {containerd_address} -n k8s.io images import -\n"
        )
        loader.chmod(0o755)
        return {"extra_spec": f"cluster:\n  kind: containerd\n  importCommand: [{loader}]\n"}
    # ready: the built-in Deployment has no probe, so bring a manifest with one.
    return {"extra_spec": "manifests:\n  - manifests\n"}


def _deployment(name: str, probe_delay_s: int = 0) -> str:
    from tests.e2e.test_deploy import deployment_yaml

    spec = "  terminationGracePeriodSeconds: 1\n  containers:\n  - name: app\n    image: IMAGE\n"
    if probe_delay_s:
        spec += (
            "    readinessProbe: {exec: {command: [sh, -c, 'true']}, "
            f"initialDelaySeconds: {probe_delay_s}, periodSeconds: 1}}\n"
        )
    return deployment_yaml(name, spec)


def _port(root: Path) -> int:
    from kudev.config import load_config

    return load_config(root / ".kudev.yaml").local_port


@SIGNALS
@pytest.mark.parametrize("stage", ["build", "load", "ready"])
def test_a_signal_in_a_stage_exits_fast_and_leaves_nothing_behind(
    stage, sig, tmp_path, kubeconfig_path, namespace, containerd_address, app_name, core_v1
):
    root = write_numbered_app(
        tmp_path / app_name,
        app_name,
        namespace,
        **_stage_setup(stage, tmp_path, containerd_address),
    )
    if stage == "ready":
        (root / "manifests").mkdir()
        (root / "manifests" / "app.yaml").write_text(_deployment(app_name, HOLD_S))
    kudev = Kudev.start(root, kubeconfig_path, tmp_path / "cache")
    kudev.stage_started(stage, cycle=1)
    stopped = signal_and_wait(kudev, sig)
    check_exit(stopped, sig, kudev, _port(root), stage)
    if stage in ("build", "load"):
        assert stopped.children, "no docker CLI or loader was running: the stage was not held"
    if stage == "ready":
        assert_app_kept(core_v1, namespace, app_name)


# ---- hash: the initial scan of a big context -----------------------------------------------


@SIGNALS
def test_a_signal_while_the_context_is_hashed_ends_the_scan_and_its_workers(
    sig, tmp_path, kubeconfig_path, app_name
):
    # Stopped before it reaches for the cluster: the namespace is never used.
    root = write_numbered_app(tmp_path / app_name, app_name, "kudev-signals-unused")
    for i in range(SPARSE_FILES):
        with open(root / "www" / f"big{i}.bin", "wb") as f:
            f.truncate(SPARSE_SIZE)
    small = root / "www" / "small"
    small.mkdir()
    for i in range(SMALL_FILES):
        (small / f"{i}.txt").write_text(f"{i}\n")
    kudev = Kudev.start(root, kubeconfig_path, tmp_path / "cache")
    kudev.wait_for(lambda e: e["type"] == "context_scan", "the context scan")
    stopped = signal_and_wait(kudev, sig, settle_s=2.5)  # the workers are up and reading
    check_exit(stopped, sig, kudev, _port(root), "hash")
    workers = [c for c in stopped.children if "spawn_main" in c[1]]
    assert workers, f"no hashing worker ran: the stage was not held ({stopped.children})"
    types = [e["type"] for e in kudev.events]
    assert "session_started" not in types and "cycle_started" not in types, types


# ---- apply: hundreds of objects, re-applied ------------------------------------------------


def _configmaps(name: str, batch: str) -> str:
    return "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{batch}-{i}\n"
        f"data:\n  n: '{i}'\n"
        for i in range(CONFIGMAPS)
    )


@SIGNALS
def test_a_signal_mid_apply_stops_the_applies_and_records_what_was_applied(
    sig, tmp_path, kubeconfig_path, namespace, app_name, core_v1
):
    root = write_numbered_app(
        tmp_path / app_name, app_name, namespace, extra_spec="manifests:\n  - manifests\n"
    )
    (root / "manifests").mkdir()
    (root / "manifests" / "app.yaml").write_text(_deployment(app_name))
    (root / "manifests" / "configmaps.yaml").write_text(_configmaps(app_name, "a"))
    kudev = Kudev.start(root, kubeconfig_path, tmp_path / "cache")
    kudev.first_cycle_served()
    # Another set of ConfigMaps: a cycle whose build and load have nothing to do, whose apply
    # creates the new set before it would prune the old one.
    staged = tmp_path / "configmaps.yaml"
    staged.write_text(_configmaps(app_name, "b"))
    staged.rename(root / "manifests" / "configmaps.yaml")  # one change, never a half-written file
    kudev.stage_started("apply", cycle=2)
    stopped = signal_and_wait(kudev, sig, settle_s=0.5)
    check_exit(stopped, sig, kudev, _port(root), "apply")
    applies = [
        e
        for e in kudev.events
        if e["type"] == "stage_finished" and e["stage"] == "apply" and e["cycle"] == 2
    ]
    assert applies and not applies[-1]["ok"], f"the apply was not stopped part-way: {applies}"
    assert_app_kept(core_v1, namespace, app_name)
    _assert_inventory_lists_every_configmap(core_v1, namespace, app_name)


def _assert_inventory_lists_every_configmap(core_v1, namespace: str, name: str) -> None:
    """Nothing applied without a record: `kudev down` would find all of it."""
    from kudev.deploy.apply import INVENTORY_PREFIX

    inventory = core_v1.read_namespaced_config_map(INVENTORY_PREFIX + name, namespace)
    recorded = {item[3] for item in json.loads(inventory.data["objects"])}
    existing = {
        cm.metadata.name
        for cm in core_v1.list_namespaced_config_map(namespace).items
        if cm.metadata.name.startswith((f"{name}-a-", f"{name}-b-"))
    }
    new = {n for n in existing if n.startswith(f"{name}-b-")}
    assert 0 < len(new) < CONFIGMAPS, f"not stopped mid-apply: {len(new)} of the new set"
    assert len(existing - new) == CONFIGMAPS, "the old set was pruned after a stop"
    assert existing - recorded == set(), "configmaps applied but not in the inventory"


# ---- sync: a big file into the running pod -------------------------------------------------


@SIGNALS
def test_a_signal_mid_sync_closes_its_streams_and_records_nothing(
    sig, tmp_path, kubeconfig_path, namespace, app_name, core_v1
):
    root = write_numbered_app(
        tmp_path / app_name, app_name, namespace, extra_spec="sync:\n  - src: www\n    dest: /www\n"
    )
    kudev = Kudev.start(root, kubeconfig_path, tmp_path / "cache")
    kudev.first_cycle_served()
    pods_before = _running_pods(core_v1, namespace, app_name)
    # Written aside and moved in: one change, of the whole file.
    staged = tmp_path / "big.bin"
    with open(staged, "wb") as f:
        for _ in range(SYNC_MB):
            f.write(os.urandom(1 << 20))
    staged.rename(root / "www" / "big.bin")
    kudev.stage_started("sync", cycle=2)
    stopped = signal_and_wait(kudev, sig, settle_s=1.0)
    check_exit(stopped, sig, kudev, _port(root), "sync")
    synced = [
        e
        for e in kudev.events
        if e["type"] == "stage_finished" and e["stage"] == "sync" and e["ok"]
    ]
    assert synced == [], f"the sync was not cut short: {synced}"
    assert not [e for e in kudev.events if e["type"] == "error"], kudev.text
    assert_app_kept(core_v1, namespace, app_name)
    assert _running_pods(core_v1, namespace, app_name) == pods_before, "the pod was replaced"
    for pod in pods_before:
        _assert_no_receiver_left(core_v1, namespace, pod)


def _running_pods(core_v1, namespace: str, name: str) -> dict[str, tuple[str, int]]:
    """Running pods of the app: name -> (container ID, restarts)."""
    from kudev.deploy.apply import LABEL_PROJECT

    found = {}
    pods = core_v1.list_namespaced_pod(namespace, label_selector=f"{LABEL_PROJECT}={name}")
    for pod in pods.items:
        if pod.metadata.deletion_timestamp is None and pod.status.phase == "Running":
            status = pod.status.container_statuses[0]
            found[pod.metadata.name] = (status.container_id, status.restart_count)
    return found


def _container_processes(core_v1, namespace: str, pod: str) -> list[str]:
    from kubernetes.stream import stream

    out = stream(
        core_v1.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=["ps", "-o", "pid,args"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
    )
    return [line for line in out.splitlines()[1:] if " ps -o" not in line]


def _assert_no_receiver_left(core_v1, namespace: str, pod: str) -> None:
    """The sync's exec streams were closed: the container runs no receiver or tar of it."""
    deadline = time.monotonic() + 15  # the runtime ends an exec once its stream is gone
    while True:
        left = [p for p in _container_processes(core_v1, namespace, pod) if _of_sync(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert left == [], f"{pod} still runs the sync's processes: {left}"


def _of_sync(process: str) -> bool:
    return any(word in process for word in ("tar -x", "head -c", "kudev-done", "xargs -0"))

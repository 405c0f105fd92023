"""SIGINT, then SIGTERM, landed while kudev is held in each stage: it exits within 5 s,
leaves no process behind (docker CLI, buildx, loader), no listener on the forwarded port,
and the app keeps running (no `--cleanup`).

Each stage is held long enough to aim at: the build by a `RUN sleep`, the load by an
importCommand that sleeps before importing, the ready stage by a readiness probe that only starts
after some seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.e2e.faults.faultlib import alive, descendants, listening, record, write_numbered_app

pytestmark = pytest.mark.e2e

EXIT_BOUND_S = 5
HOLD_S = 30


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


def _manifest(name: str) -> str:
    from tests.e2e.test_deploy import deployment_yaml

    spec = (
        "  terminationGracePeriodSeconds: 1\n"
        "  containers:\n  - name: app\n    image: IMAGE\n"
        "    readinessProbe: {exec: {command: [sh, -c, 'true']}, "
        f"initialDelaySeconds: {HOLD_S}, periodSeconds: 1}}\n"
    )
    return deployment_yaml(name, spec)


def _wait_for_stage(proc: subprocess.Popen[str], stage: str) -> list[str]:
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "stage_started" and event.get("stage") == stage:
            return seen
        if event.get("type") in ("session_ended", "cycle_finished"):
            break
    raise AssertionError(f"kudev never reached stage {stage}:\n{''.join(seen[-12:])}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
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
        (root / "manifests" / "app.yaml").write_text(_manifest(app_name))
    from kudev.config import load_config

    port = load_config(root / ".kudev.yaml").local_port
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kudev", "-C", str(root), "--headless", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        output = _wait_for_stage(proc, stage)
        time.sleep(1.5)  # well inside the stage: its tools are running
        children = descendants(proc.pid)
        sent = time.monotonic()
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=30)
        exit_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(output) + rest
    time.sleep(0.5)  # a straggler would still be alive now
    left = alive(pid for pid, _ in children)
    record(
        f"signal-{sig.name}-{stage}",
        exit_s=round(exit_s, 2),
        rc=proc.returncode,
        children_at_signal=len(children),
        children_left=len(left),
        listener_left=listening(port),
    )
    assert exit_s < EXIT_BOUND_S, f"exited {exit_s:.1f} s after {sig.name}:\n{text}"
    assert proc.returncode in (0, 130, 143), text
    assert "Traceback" not in text, text
    if stage in ("build", "load"):
        assert children, "no docker CLI or loader was running: the stage was not held"
    assert not left, f"left running: {[c for c in children if c[0] in left]}"
    assert not listening(port), f"something still listens on {port}"
    if stage == "ready":
        from kubernetes import client

        apps = client.AppsV1Api(core_v1.api_client)
        assert apps.read_namespaced_deployment(app_name, namespace), "the app was removed"

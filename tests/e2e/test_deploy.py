"""kudev's deploy side end to end: real images, a real API server and kubelet."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from kudev import events as ev
from kudev.config import load_config
from kudev.deploy.rollout import SETTLE_S
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.e2e.kudevlib import http_get, run_kudev, write_app
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e


def app_name() -> str:
    return f"app-{uuid.uuid4().hex[:6]}"


def engine_for(
    root: Path,
    kubeconfig: Path,
    log: EventLog,
    changes: ScriptedChanges,
    monkeypatch,
    isolated_cache,
) -> Engine:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=isolated_cache)
    return Engine(project, SessionOptions(), log, change_source=changes)


def test_once_deploys_the_builtin_templates_and_exits_zero(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    result = run_kudev(root, kubeconfig_path, "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "image ready" in result.stdout and "all workloads ready" in result.stdout
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    deployment = apps.read_namespaced_deployment(name, namespace)
    image = deployment.spec.template.spec.containers[0].image
    assert ":kudev-" in image and name in image
    assert deployment.metadata.labels["app.kubernetes.io/managed-by"] == "kudev"
    assert core_v1.read_namespaced_service(name, namespace).spec.ports[0].port == 8080


def test_redeploy_follows_logs_and_port_forward_to_the_new_pod(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    port = load_config(root / ".kudev.yaml").local_port
    log, changes = EventLog(), ScriptedChanges()
    engine = engine_for(root, kubeconfig_path, log, changes, monkeypatch, isolated_cache)
    with RunningEngine(engine):
        assert log.cycle_finished(1, timeout=180).ok
        log.wait_for(lambda e: isinstance(e, ev.LogLine) and e.line == "serving v1", 60)
        log.wait_for(lambda e: isinstance(e, ev.PortForwardState) and e.active, 60)
        assert http_get(port) == "hello v1\n"
        first_pod = next(e.pod for e in log.of(ev.LogLine) if e.line == "serving v1")
        detail = engine.pod_details.describe(first_pod)  # what the pod detail screen shows
        assert [(c.name, c.state) for c in detail.containers] == [(name, "running")]
        assert {"Scheduled", "Started"} <= {e.reason for e in detail.events}
        for rel, text in (("www/index.html", "hello v2\n"), ("www/version.txt", "v2\n")):
            (root / rel).write_text(text)
        changes.send(root / "www" / "index.html", root / "www" / "version.txt")
        assert log.cycle_finished(2, timeout=180).ok
        v2 = log.wait_for(lambda e: isinstance(e, ev.LogLine) and e.line == "serving v2", 60)
        deadline = time.monotonic() + 30
        while http_get(port) != "hello v2\n" and time.monotonic() < deadline:
            time.sleep(0.5)  # the old pod may still answer until it terminates
        assert http_get(port) == "hello v2\n"
    lines = [e for e in log.of(ev.LogLine) if e.line.startswith("serving")]
    assert [e.line for e in lines].count("serving v1") == 1, "a log stream was attached twice"
    assert v2.pod != lines[0].pod
    pods = log.of(ev.PodsChanged)[-1].pods
    assert any(p.image_tag.startswith("kudev-") for p in pods)


def test_ready_comes_at_once_and_a_crash_in_the_settle_window_fails_the_cycle(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace, extra_spec="manifests:\n  - manifests\n")
    (root / "manifests").mkdir()
    pod_spec = (
        "  containers:\n  - name: app\n    image: IMAGE\n"
        "    command: [sh, -c, 'echo up; sleep 1; echo going down; exit 3']\n"
    )
    (root / "manifests" / "deploy.yaml").write_text(deployment_yaml(name, pod_spec))
    log, changes = EventLog(), ScriptedChanges()
    engine = engine_for(root, kubeconfig_path, log, changes, monkeypatch, isolated_cache)
    with RunningEngine(engine):
        finished = log.cycle_finished(1, timeout=180)
        assert finished.ok, "ready is reported when the pod is, before it crashes"
        assert finished.stages["ready"] < SETTLE_S, "ready waited for the settle window"
        error = log.wait_for(
            lambda e: isinstance(e, ev.ErrorReported) and e.stage == "ready", timeout=30
        )
    assert error.cycle == 1 and "failed" in error.cause
    diagnosis = next(e for e in log.of(ev.PodDiagnosis) if e.cycle == 1)
    assert diagnosis.exit_code == 3
    assert error.ts - finished.ts < SETTLE_S + 2, "the crash was reported late"


FAILURES = {
    "missing_image": (
        "manifests:\n  - manifests\n",
        "  containers:\n  - name: app\n    image: registry.invalid/none/such:1\n",
        ("ErrImagePull", "ImagePullBackOff"),
    ),
    "exits_one": (
        "manifests:\n  - manifests\n",
        "  containers:\n  - name: app\n    image: IMAGE\n"
        "    command: [sh, -c, 'echo about to fail; exit 1']\n",
        ("CrashLoopBackOff", "Error"),
    ),
    "out_of_memory": (
        "manifests:\n  - manifests\n",
        "  containers:\n  - name: app\n    image: IMAGE\n"
        "    command: [sh, -c, 'echo eating memory; tail /dev/zero']\n"
        "    resources: {limits: {memory: 16Mi}}\n",
        ("OOMKilled",),
    ),
    "missing_configmap": (
        "manifests:\n  - manifests\n",
        "  containers:\n  - name: app\n    image: IMAGE\n"
        "    envFrom: [{configMapRef: {name: does-not-exist}}]\n",
        ("CreateContainerConfigError",),
    ),
    "failing_probe": (
        "manifests:\n  - manifests\nrolloutTimeout: 20\n",
        "  containers:\n  - name: app\n    image: IMAGE\n"
        "    readinessProbe: {httpGet: {path: /healthz, port: 9999}, periodSeconds: 1}\n",
        ("ProbeFailed",),
    ),
    "unschedulable": (
        "manifests:\n  - manifests\n",
        "  nodeSelector: {kudev-e2e/no-such-node: 'true'}\n"
        "  containers:\n  - name: app\n    image: IMAGE\n",
        ("Unschedulable",),
    ),
}


def deployment_yaml(name: str, pod_spec: str) -> str:
    image = name  # substituted by kudev with the built reference
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata:\n  name: {name}\nspec:\n  replicas: 1\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n"
        f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
        + "".join(f"    {line}\n" for line in pod_spec.replace("IMAGE", image).splitlines())
    )


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_once_exits_non_zero_with_the_diagnosis(tmp_path, kubeconfig_path, namespace, case):
    """Fail fast, proven fast: the diagnosis event comes well before rolloutTimeout."""
    extra, pod_spec, reasons = FAILURES[case]
    name = app_name()
    root = write_app(tmp_path / name, name, namespace, extra_spec=extra)
    (root / "manifests").mkdir()
    (root / "manifests" / "deploy.yaml").write_text(deployment_yaml(name, pod_spec))
    result = run_kudev(root, kubeconfig_path, "--once", "--json")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    diagnoses = [e for e in events if e["type"] == "diagnosis" and e["reason"] in reasons]
    assert diagnoses, output
    applied = next(e for e in events if e["type"] == "stage_finished" and e["stage"] == "apply")
    after_apply = diagnoses[0]["ts"] - applied["ts"]
    timeout = load_config(root / ".kudev.yaml").rollout_timeout_s
    assert after_apply < timeout / 2, f"{case}: diagnosis {after_apply:.1f}s after apply"
    if case == "exits_one":
        crash = diagnoses[0]
        assert crash["exit_code"] == 1 and "about to fail" in crash["last_logs"], crash


def test_prune_and_down_touch_only_what_kudev_applied(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    from kubernetes import client

    core_v1.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="not-kudevs"), data={"keep": "me"}),
    )
    name = app_name()
    root = write_app(tmp_path / name, name, namespace, extra_spec="manifests:\n  - manifests\n")
    (root / "manifests").mkdir()
    (root / "manifests" / "app.yaml").write_text(
        deployment_yaml(name, "  containers:\n  - name: app\n    image: IMAGE\n")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {a: '1'}\n"
    )
    assert run_kudev(root, kubeconfig_path, "--once").returncode == 0
    core_v1.read_namespaced_config_map("extra", namespace)
    text = (root / "manifests" / "app.yaml").read_text().split("---")[0]
    (root / "manifests" / "app.yaml").write_text(text)
    second = run_kudev(root, kubeconfig_path, "--once")
    assert second.returncode == 0 and "pruned configmap/extra" in second.stdout
    down = run_kudev(root, kubeconfig_path, "down")
    assert down.returncode == 0, down.stderr
    names = {cm.metadata.name for cm in core_v1.list_namespaced_config_map(namespace).items}
    assert "not-kudevs" in names and "extra" not in names
    assert not [n for n in names if n.startswith("kudev-inventory")]


def test_kustomize_directory_is_rendered_and_deployed(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace, extra_spec="manifests:\n  - deploy\n")
    (root / "deploy").mkdir()
    (root / "deploy" / "app.yaml").write_text(
        deployment_yaml(name, "  containers:\n  - name: app\n    image: IMAGE\n")
    )
    (root / "deploy" / "kustomization.yaml").write_text(
        "resources: [app.yaml]\ncommonLabels: {flavour: kustomized}\n"
    )
    result = run_kudev(root, kubeconfig_path, "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    from kubernetes import client

    deployment = client.AppsV1Api(core_v1.api_client).read_namespaced_deployment(name, namespace)
    assert deployment.metadata.labels["flavour"] == "kustomized"
    assert ":kudev-" in deployment.spec.template.spec.containers[0].image


def test_non_local_context_is_refused(tmp_path, kubeconfig_path):
    import yaml

    config = yaml.safe_load(kubeconfig_path.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://10.255.255.1:6443"
    for context in config["contexts"]:
        context["name"] = "prod-eu"
    config["current-context"] = "prod-eu"
    remote = tmp_path / "remote-kubeconfig"
    remote.write_text(yaml.safe_dump(config))
    root = write_app(tmp_path / "app", "guarded", "default")
    result = run_kudev(root, remote, "--once", timeout=60)
    assert result.returncode == 1
    assert "refusing kube context 'prod-eu'" in result.stdout + result.stderr
    assert "--allow-context prod-eu" in result.stdout + result.stderr


def test_manifest_only_change_redeploys_without_rebuilding(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache, core_v1
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace, extra_spec="manifests:\n  - manifests\n")
    (root / "manifests").mkdir()
    manifest = root / "manifests" / "app.yaml"
    pod_spec = "  containers:\n  - name: app\n    image: IMAGE\n"
    manifest.write_text(deployment_yaml(name, pod_spec))
    log, changes = EventLog(), ScriptedChanges()
    engine = engine_for(root, kubeconfig_path, log, changes, monkeypatch, isolated_cache)
    with RunningEngine(engine):
        assert log.cycle_finished(1, timeout=180).ok
        manifest.write_text(deployment_yaml(name, pod_spec).replace("replicas: 1", "replicas: 2"))
        changes.send(manifest)
        assert log.cycle_finished(2, timeout=180).ok
    stages = {(e.cycle, e.stage): e for e in log.of(ev.StageFinished)}
    assert stages[(2, "build")].skipped and not stages[(1, "build")].skipped
    rebuilt = [e for e in log.of(ev.BuildOutput) if e.cycle == 2 and e.stream != "loader"]
    assert not rebuilt, "cycle 2 ran a build"
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    assert apps.read_namespaced_deployment(name, namespace).spec.replicas == 2


def test_a_taken_local_port_is_a_clear_error_and_the_loop_goes_on(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache
):
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        name = app_name()
        root = write_app(tmp_path / name, name, namespace, local_port=port)
        log, changes = EventLog(), ScriptedChanges()
        engine = engine_for(root, kubeconfig_path, log, changes, monkeypatch, isolated_cache)
        with RunningEngine(engine):
            error = log.wait_for(lambda e: isinstance(e, ev.ErrorReported), timeout=180)
            assert error.cause == f"local port {port} is already in use"
            assert "localPort" in error.remedy
            assert log.cycle_finished(1, timeout=180).ok
    finally:
        blocker.close()


def run_until_ready_then_signal(root: Path, kubeconfig: Path, sig, *extra: str):
    import os
    import signal as _signal  # noqa: F401 - the caller passes signal.SIGINT/SIGTERM
    import subprocess
    import sys

    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kudev", "-C", str(root), "--headless", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "all workloads ready" in line:
            break
    proc.send_signal(sig)
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("kudev did not stop within 30 s of the signal") from None
    return proc.returncode, "".join(lines) + rest


def test_ctrl_c_stops_cleanly_and_leaves_the_app_running(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    import signal

    from kubernetes import client

    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    code, output = run_until_ready_then_signal(root, kubeconfig_path, signal.SIGINT)
    assert code == 0, output
    assert "Traceback" not in output
    apps = client.AppsV1Api(core_v1.api_client)
    assert apps.read_namespaced_deployment(name, namespace).status.ready_replicas == 1


def test_sigterm_with_cleanup_deletes_what_kudev_applied(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    import signal

    from kubernetes import client

    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    code, output = run_until_ready_then_signal(root, kubeconfig_path, signal.SIGTERM, "--cleanup")
    assert code == 0, output
    assert "cleaned up" in output
    apps = client.AppsV1Api(core_v1.api_client)
    assert name not in {d.metadata.name for d in apps.list_namespaced_deployment(namespace).items}

"""Features that only a real cluster proves: doctor, registry discovery, StatefulSet and
DaemonSet rollouts, several images, extra port-forwards and a config reload."""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import pytest

from kudev import events as ev
from kudev.config import load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.e2e.kudevlib import free_port, http_get, run_kudev, write_app
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e

RIG_REGISTRY = "localhost:5000"


def app_name() -> str:
    return f"app-{uuid.uuid4().hex[:6]}"


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def pod_template(name: str, image: str) -> str:
    return textwrap.dedent(
        f"""\
          selector:
            matchLabels: {{app: {name}}}
          template:
            metadata:
              labels: {{app: {name}}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: app
                image: {image}
        """
    )


def test_doctor_against_the_rig(tmp_path, kubeconfig_path):
    done = run_kudev(tmp_path, kubeconfig_path, "doctor", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if line[:1] in "✓!✗"}
    assert lines["docker"].startswith("✓") and lines["api"].startswith("✓")
    assert f"✓ local registry  {RIG_REGISTRY}" in done.stdout
    assert "kube-public/local-registry-hosting" in lines["local"] or "local-registry" in done.stdout
    assert f"push to registry {RIG_REGISTRY}" in lines["image"]


def test_the_advertised_registry_prefixes_the_deployed_image(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    done = run_kudev(root, kubeconfig_path, "--once", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    events = events_of(done.stdout)
    ready = next(e for e in events if e["type"] == "image_ready")
    assert ready["ref"] == f"{RIG_REGISTRY}/{name}:{ready['tag']}" and ready["loaded"]
    connected = next(e for e in events if e["type"] == "cluster_connected")
    assert connected["loader"] == f"push to registry {RIG_REGISTRY}"
    from kubernetes import client

    deployment = client.AppsV1Api(core_v1.api_client).read_namespaced_deployment(name, namespace)
    assert deployment.spec.template.spec.containers[0].image == ready["ref"]


def test_statefulset_and_daemonset_roll_out(tmp_path, kubeconfig_path, namespace, core_v1):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace, extra_spec="manifests:\n  - k8s\n")
    (root / "k8s").mkdir()
    template = textwrap.indent(pod_template(name, name), "  ")
    (root / "k8s" / "workloads.yaml").write_text(
        f"apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {name}-db\nspec:\n"
        f"  serviceName: {name}-db\n  replicas: 1\n"
        + template.replace(f"app: {name}}}", f"app: {name}-db}}")
        + f"---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: {name}-agent\nspec:\n"
        + template.replace(f"app: {name}}}", f"app: {name}-agent}}")
    )
    done = run_kudev(root, kubeconfig_path, "--once", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    rollouts = {e["workload"]: e for e in events_of(done.stdout) if e["type"] == "rollout"}
    assert rollouts[f"statefulset/{name}-db"]["ready"] == 1
    assert (
        rollouts[f"daemonset/{name}-agent"]["ready"]
        == rollouts[f"daemonset/{name}-agent"]["desired"]
    )
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    image = apps.read_namespaced_stateful_set(f"{name}-db", namespace).spec.template.spec
    assert image.containers[0].image.startswith(f"{RIG_REGISTRY}/{name}:kudev-")
    assert apps.read_namespaced_daemon_set(f"{name}-agent", namespace).status.number_ready >= 1


def test_two_images_an_extra_port_forward_and_a_config_reload(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache
):
    """Two images built and substituted, a second forward to the sidecar's Service, and an
    edit of .kudev.yaml that takes effect (replicas 1 → 2) without a restart."""
    name = app_name()
    sidecar = f"{name}-side"
    extra_port = free_port()
    root = tmp_path / name
    write_app(root, name, namespace)
    (root / "side").mkdir()
    (root / "side" / "index.html").write_text("side v1\n")
    (root / "side" / "Dockerfile").write_text(
        "FROM busybox:1.36\nCOPY index.html /www/\n"
        'CMD ["httpd", "-f", "-p", "9000", "-h", "/www"]\n'
    )
    manifests = root / "k8s"
    manifests.mkdir()
    app_port = free_port()

    def config(replicas: int) -> str:
        return (
            "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\n"
            f"metadata:\n  name: {name}\nspec:\n  namespace: {namespace}\n"
            f"  localPort: {app_port}\n  servicePort: 8080\n  rolloutTimeout: 90\n"
            f"  images:\n  - name: {name}\n    context: .\n"
            f"  - name: {sidecar}\n    context: ./side\n"
            "  manifests:\n  - k8s\n"
            f"  portForwards:\n  - {{local: {extra_port}, remote: 9000, resource: svc/{sidecar}}}\n"
            f"  replicas: {replicas}\n"
        )

    def deployment(replicas: int) -> str:
        return (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
            f"  replicas: {replicas}\n"
            f"  selector:\n    matchLabels: {{app: {name}}}\n"
            f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
            "      terminationGracePeriodSeconds: 1\n      containers:\n"
            f"      - name: app\n        image: {name}\n"
            f"      - name: side\n        image: {sidecar}\n"
            f"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n"
            f"  selector: {{app: {name}}}\n  ports: [{{port: 8080}}]\n"
            f"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {sidecar}\nspec:\n"
            f"  selector: {{app: {name}}}\n  ports: [{{port: 9000}}]\n"
        )

    (root / ".kudev.yaml").write_text(config(1))
    (manifests / "app.yaml").write_text(deployment(1))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_path))
    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=isolated_cache)
    log, changes = EventLog(), ScriptedChanges()
    engine = Engine(project, SessionOptions(), log, change_source=changes)
    with RunningEngine(engine):
        assert log.settled_cycle(after=0, timeout=180).ok
        refs = {e.image: e.ref for e in log.of(ev.ImageReady)}
        assert set(refs) == {name, sidecar}
        assert all(r.startswith(f"{RIG_REGISTRY}/") for r in refs.values())
        log.wait_for(
            lambda e: isinstance(e, ev.PortForwardState) and e.local == extra_port and e.active,
            timeout=60,
        )
        assert _answers(extra_port) == "side v1"
        assert _answers(app_port) == "hello v1"

        (root / ".kudev.yaml").write_text(config(2))
        (manifests / "app.yaml").write_text(deployment(2))
        before = log.cycles()
        changes.send(root / ".kudev.yaml", manifests / "app.yaml")
        reloaded = log.settled_cycle(after=before, timeout=180)
        assert reloaded.ok
        started = [e for e in log.of(ev.CycleStarted) if e.cycle == reloaded.cycle][0]
        assert started.reason == "config"
        assert any(
            isinstance(e, ev.Notice) and e.message == "reloaded .kudev.yaml" for e in log.events
        )
        rollouts = [e for e in log.of(ev.RolloutProgress) if e.cycle == reloaded.cycle]
        assert rollouts and rollouts[-1].desired == 2 and rollouts[-1].ready == 2
        assert _answers(extra_port) == "side v1"


def _answers(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return http_get(port, "/index.html").strip()
        except OSError as err:
            last = err
            time.sleep(0.5)
    raise AssertionError(f"127.0.0.1:{port} did not answer: {last}")


def test_cluster_kind_containerd_imports_into_the_rigs_node(
    tmp_path, kubeconfig_path, namespace, containerd_address, ctr, core_v1
):
    """`cluster.kind: containerd` overrides the advertised registry: ContainerdImportLoader
    imports into the rig's own containerd (its `importCommand` names the rig's socket)."""
    name = app_name()
    command = f"[ctr, --address, {containerd_address}, -n, k8s.io, images, import, -]"
    extra = f"cluster:\n  kind: containerd\n  importCommand: {command}\n"
    # Content of its own, so the node cannot already hold it under another name.
    root = write_app(tmp_path / name, name, namespace, version=name, extra_spec=extra)
    try:
        done = run_kudev(root, kubeconfig_path, "--once", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        events = events_of(done.stdout)
        connected = next(e for e in events if e["type"] == "cluster_connected")
        assert connected["cluster_kind"] == "containerd"
        assert connected["loader"].startswith("docker save IMAGE | ctr --address"), connected
        ready = next(e for e in events if e["type"] == "image_ready")
        assert ready["loaded"] and ready["ref"] == f"{name}:{ready['tag']}"
        listed = ctr(containerd_address, "images", "ls", "-q").stdout.split()
        assert f"docker.io/library/{ready['ref']}" in listed
        from kubernetes import client

        deployment = client.AppsV1Api(core_v1.api_client).read_namespaced_deployment(
            name, namespace
        )
        assert deployment.status.ready_replicas == 1
        assert deployment.spec.template.spec.containers[0].image == ready["ref"]
    finally:
        names = ctr(containerd_address, "images", "ls", "-q").stdout.split()
        mine = [n for n in names if f"/{name}:" in n]
        if mine:
            ctr(containerd_address, "images", "rm", *mine)

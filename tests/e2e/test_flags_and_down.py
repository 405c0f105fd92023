"""`--context`, `--namespace` and `kudev down` on the rig, through the CLI."""

from __future__ import annotations

import contextlib
import uuid

import pytest
import yaml

from tests.e2e.conftest import wait_for
from tests.e2e.kudevlib import run_kudev, write_app

pytestmark = pytest.mark.e2e

RIG_CONTEXT = "kudev-rig"


def app_name() -> str:
    return f"app-{uuid.uuid4().hex[:6]}"


def manifests(name: str) -> str:
    """A Deployment, a Service and a ConfigMap: what `down` must remove."""
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata:\n  name: {name}\nspec:\n  replicas: 1\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n"
        f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
        f"      containers:\n      - name: app\n        image: {name}\n"
        "---\napiVersion: v1\nkind: Service\n"
        f"metadata:\n  name: {name}\nspec:\n  selector: {{app: {name}}}\n"
        "  ports: [{port: 8080}]\n"
        "---\napiVersion: v1\nkind: ConfigMap\n"
        f"metadata:\n  name: {name}-settings\ndata: {{greeting: hello}}\n"
    )


def test_context_and_namespace_flags_choose_where_kudev_deploys(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    """The kubeconfig's current context is a refused remote one, the config's namespace does
    not exist: only --context and --namespace make this deploy work, and where they say."""
    config = yaml.safe_load(kubeconfig_path.read_text())
    rig = next(c for c in config["contexts"] if c["name"] == RIG_CONTEXT)
    remote_cluster = {**config["clusters"][0], "name": "prod"}
    remote_cluster["cluster"] = {**remote_cluster["cluster"], "server": "https://10.255.255.1:6443"}
    config["clusters"].append(remote_cluster)
    config["contexts"].append({"name": "prod-eu", "context": {**rig["context"], "cluster": "prod"}})
    config["current-context"] = "prod-eu"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    name = app_name()
    root = write_app(tmp_path / name, name, "kudev-e2e-no-such-namespace")

    refused = run_kudev(root, kubeconfig, "--once", timeout=60)
    assert refused.returncode == 1 and "refusing kube context 'prod-eu'" in refused.stdout

    done = run_kudev(root, kubeconfig, "--once", "--context", RIG_CONTEXT, "--namespace", namespace)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"cluster: {RIG_CONTEXT}" in done.stdout and f"namespace {namespace}" in done.stdout
    from kubernetes import client

    deployment = client.AppsV1Api(core_v1.api_client).read_namespaced_deployment(name, namespace)
    assert ":kudev-" in deployment.spec.template.spec.containers[0].image


def _gone(read, *args) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        obj = read(*args)
    except ApiException as err:
        return err.status == 404
    # Deleted but still finalising (a namespace, a foreground delete): on its way out.
    return obj.metadata.deletion_timestamp is not None


def test_down_deletes_what_kudev_applied_and_the_namespace_it_made_and_nothing_else(
    tmp_path, kubeconfig_path, namespace, core_v1, run_id
):
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    core_v1.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="not-kudevs"), data={"keep": "me"}),
    )
    created = f"kudev-e2e-{run_id}-made-{uuid.uuid4().hex[:4]}"
    spec = "createNamespace: true\nmanifests:\n  - manifests\n"
    projects = {}
    for ns in (namespace, created):  # one that existed before, one kudev makes
        name = app_name()
        root = write_app(tmp_path / name, name, ns, extra_spec=spec)
        (root / "manifests").mkdir()
        (root / "manifests" / "app.yaml").write_text(manifests(name))
        projects[ns] = (name, root)
    try:
        for ns, (name, root) in projects.items():
            done = run_kudev(root, kubeconfig_path, "--once")
            assert done.returncode == 0, done.stdout + done.stderr
            apps.read_namespaced_deployment(name, ns)
            core_v1.read_namespaced_service(name, ns)
            core_v1.read_namespaced_config_map(f"{name}-settings", ns)
        assert core_v1.read_namespace(created).metadata.labels["app.kubernetes.io/managed-by"]

        for ns, (name, root) in projects.items():
            down = run_kudev(root, kubeconfig_path, "down")
            assert down.returncode == 0, down.stderr
            for kind in ("deployment", "service", "configmap"):
                assert f"{kind}/{name}" in down.stdout.lower(), down.stdout
            assert _gone(apps.read_namespaced_deployment, name, ns)
            assert _gone(core_v1.read_namespaced_service, name, ns)
            assert _gone(core_v1.read_namespaced_config_map, f"{name}-settings", ns)
            assert _gone(core_v1.read_namespaced_config_map, f"kudev-inventory-{name}", ns)

        wait_for(lambda: _gone(core_v1.read_namespace, created), 60, f"namespace {created} gone")
        kept = core_v1.read_namespace(namespace)
        assert kept.status.phase == "Active"  # existed before kudev: never deleted
        assert core_v1.read_namespaced_config_map("not-kudevs", namespace).data == {"keep": "me"}
    finally:
        from kubernetes.client.exceptions import ApiException

        with contextlib.suppress(ApiException):
            core_v1.delete_namespace(created, propagation_policy="Background")

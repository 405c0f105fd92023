"""Hostile manifests: an alias bomb, a 50 MB document, documents that are not Kubernetes
objects, an object in another namespace. Each is a clear error or a refusal, and nothing is
applied by halves: the valid objects next to it are not applied either."""

from __future__ import annotations

import time

import pytest

from tests.e2e.faults.faultlib import record, write_numbered_app
from tests.e2e.kudevlib import run_kudev
from tests.e2e.test_deploy import deployment_yaml

pytestmark = pytest.mark.e2e


def alias_bomb() -> str:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n"
    text += "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        text += f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    return text


def big_document() -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: '"
        + ("x" * (50 * 2**20))
        + "'\n"
    )


HOSTILE = {
    "alias_bomb": (alias_bomb, "alias bomb"),
    "fifty_mb_document": (big_document, "MiB; the API server accepts at most 3 MiB"),
    "not_kubernetes": (lambda: "name: just some settings\nport: 80\n", "not a Kubernetes object"),
    "a_list": (lambda: "- a\n- b\n", "not a Kubernetes object"),
    "other_namespace": (
        lambda: (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, namespace: kube-system}\n"
        ),
        "kube-system",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_manifest_is_refused_and_nothing_is_applied(
    case, tmp_path, kubeconfig_path, namespace, app_name, core_v1
):
    make, expected = HOSTILE[case]
    root = write_numbered_app(
        tmp_path / app_name, app_name, namespace, extra_spec="manifests:\n  - manifests\n"
    )
    (root / "manifests").mkdir()
    # Valid objects first, so a half-apply would leave them behind.
    (root / "manifests" / "a-app.yaml").write_text(
        deployment_yaml(app_name, "  containers:\n  - name: app\n    image: IMAGE\n")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: innocent}\ndata: {a: '1'}\n"
    )
    (root / "manifests" / "z-hostile.yaml").write_text(make())
    start = time.monotonic()
    result = run_kudev(root, kubeconfig_path, "--once", timeout=120)
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    record(f"hostile-{case}", seconds=round(seconds, 1), rc=result.returncode)
    assert result.returncode != 0, output
    assert expected in output, output
    assert "z-hostile.yaml" in output and "Traceback" not in output
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    assert not apps.list_namespaced_deployment(namespace).items, "applied by halves"
    names = {c.metadata.name for c in core_v1.list_namespaced_config_map(namespace).items}
    assert "innocent" not in names and "bomb" not in names and "big" not in names
    system = {c.metadata.name for c in core_v1.list_namespaced_config_map("kube-system").items}
    assert "elsewhere" not in system

"""An image built by the real Docker Engine reaches the node both ways kudev will use, and a pod
from it really runs: its log comes back through the API and port-forward reaches its server.

1. containerd import: ``docker save IMG | ctr -n k8s.io images import -`` (what
   ``kind load docker-image`` does inside a kind node);
2. push to the cluster's local registry, found through the KEP-1755 ConfigMap
   ``kube-public/local-registry-hosting``.
"""

from __future__ import annotations

import tempfile

import pytest
import yaml
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

HTTP_PORT = 8080  # what the httpd_image fixture's container serves on


@pytest.fixture
def check_pod_serves(core_v1, port_forward_get, wait_for):
    """check(namespace, pod, token): the log says ``token``, and so does GET / through
    port-forward."""

    def log_has_token(namespace: str, pod: str, token: str) -> bool:
        return token in (core_v1.read_namespaced_pod_log(pod, namespace) or "")

    def page(namespace: str, pod: str) -> str | None:
        # httpd starts right after the log line; until it listens, port-forward reports an error.
        try:
            return port_forward_get(namespace, pod, HTTP_PORT)
        except (AssertionError, ApiException, OSError):
            return None

    def check(namespace: str, pod: str, token: str) -> None:
        wait_for(
            lambda: log_has_token(namespace, pod, token),
            60,
            f"{token!r} in the log of {pod}",
            explain=lambda: core_v1.read_namespaced_pod_log(pod, namespace),
        )
        response = wait_for(lambda: page(namespace, pod), 60, f"GET / via port-forward to {pod}")
        assert response.startswith("HTTP/1.") and " 200 " in response.splitlines()[0], response
        assert f"kudev-e2e page {token}" in response

    return check


def test_image_imported_into_containerd_runs(
    docker_client,
    httpd_image,
    containerd_address,
    ctr,
    namespace,
    run_pod,
    run_id,
    check_pod_serves,
):
    repo, ref = "kudev-e2e/httpd-import", f"kudev-e2e/httpd-import:{run_id}"
    httpd_image.image.tag(repo, run_id)
    with tempfile.TemporaryFile() as archive:
        for chunk in docker_client.images.get(ref).save(named=ref):
            archive.write(chunk)
        archive.seek(0)
        imported = ctr(containerd_address, "images", "import", "-", stdin=archive)
    assert imported.returncode == 0, imported.stderr
    node_ref = f"docker.io/{ref}"  # containerd stores the fully qualified name
    try:
        listed = ctr(containerd_address, "images", "ls", "-q").stdout.split()
        assert node_ref in listed
        # Never: the kubelet must find the image on the node, no registry involved.
        pod = run_pod(namespace, "imported", ref, "Never")
        check_pod_serves(namespace, pod, httpd_image.token)
    finally:
        ctr(containerd_address, "images", "rm", node_ref)


def read_local_registry_hosting(core_v1) -> dict:
    """KEP-1755: the cluster says where its local registry is."""
    cm = core_v1.read_namespaced_config_map("local-registry-hosting", "kube-public")
    hosting = yaml.safe_load(cm.data["localRegistryHosting.v1"])
    assert isinstance(hosting, dict) and hosting.get("host"), cm.data
    return hosting


def test_local_registry_is_announced(core_v1):
    hosting = read_local_registry_hosting(core_v1)
    assert ":" in hosting["host"], "host must be host:port"
    assert hosting.get("help"), "KEP-1755 asks for a help text or link"


def test_image_pushed_to_local_registry_runs(
    docker_client,
    httpd_image,
    core_v1,
    namespace,
    run_pod,
    run_id,
    check_pod_serves,
):
    host = read_local_registry_hosting(core_v1)["host"]
    repo = f"{host}/kudev-e2e/httpd"
    httpd_image.image.tag(repo, run_id)
    digest = None
    for status in docker_client.images.push(repo, tag=run_id, stream=True, decode=True):
        assert "error" not in status, status
        digest = status.get("aux", {}).get("Digest", digest)
    assert digest, "the push reported no digest"

    # IfNotPresent with a tag unique to this run: the node has to pull it from the registry.
    pod = run_pod(namespace, "pulled", f"{repo}:{run_id}", "IfNotPresent")
    check_pod_serves(namespace, pod, httpd_image.token)
    status = core_v1.read_namespaced_pod(pod, namespace).status.container_statuses[0]
    assert digest in status.image_id, f"pod runs {status.image_id}, pushed {digest}"

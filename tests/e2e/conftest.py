"""Fixtures for kudev's end-to-end suite: a real Kubernetes cluster and the real Docker Engine.

The cluster is the one whose kubeconfig is named by ``KUDEV_E2E_KUBECONFIG``: boot the local rig
with ``tests/e2e/cluster/up`` and ``source /var/lib/kudev-rig/e2e.env``, or point it at a kind
cluster (see tests/e2e/cluster/README.md). Without it the e2e tests are skipped, except under CI
(env ``CI`` set), where a missing cluster is an error: a green run must have run them.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tools import missing_tool

KUBECONFIG_ENV = "KUDEV_E2E_KUBECONFIG"
CONTEXT_ENV = "KUDEV_E2E_CONTEXT"  # optional: a context other than the kubeconfig's current one
CONTAINERD_ENV = "KUDEV_E2E_CONTAINERD_ADDRESS"  # the node's containerd socket (rig only)
BOOT_HINT = "boot one with tests/e2e/cluster/up and `source /var/lib/kudev-rig/e2e.env`"

# busybox-static's binary: the only userland a test image gets (FROM scratch, nothing pulled).
BUSYBOX = Path("/bin/busybox")
HTTP_PORT = 8080


def require_env(name: str, what: str) -> str:
    """The value of env ``name``; skip the test without it, or fail if running under CI."""
    value = os.environ.get(name)
    if value:
        return value
    missing_tool(f"{name} is not set: {what}")


@pytest.fixture(scope="session")
def kubeconfig_path() -> Path:
    path = Path(require_env(KUBECONFIG_ENV, f"no cluster for the e2e tests; {BOOT_HINT}"))
    if not path.is_file():
        pytest.fail(f"{KUBECONFIG_ENV}={path} does not exist; {BOOT_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def _needs_cluster(kubeconfig_path: Path) -> None:
    """Every test under tests/e2e/ needs the cluster, whether or not it asks for a client."""


@pytest.fixture(scope="session")
def api_client(kubeconfig_path: Path):
    from kubernetes import config

    return config.new_client_from_config(
        config_file=str(kubeconfig_path), context=os.environ.get(CONTEXT_ENV) or None
    )


@pytest.fixture(scope="session")
def core_v1(api_client):
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def docker_client():
    import docker

    dc = docker.from_env()
    dc.ping()
    return dc


@pytest.fixture(scope="session")
def run_id() -> str:
    """Unique per test session: image tags and namespaces never collide with an earlier run."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def namespace(core_v1, run_id: str, request) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (with everything in it)."""
    from kubernetes import client

    name = f"kudev-e2e-{run_id}-{uuid.uuid4().hex[:6]}"
    core_v1.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=name, labels={"kudev-e2e": "true", "kudev-e2e-run": run_id}
            )
        )
    )
    try:
        # Pods are refused until the service-account controller has made `default`.
        wait_for(
            lambda: _exists(core_v1.read_namespaced_service_account, "default", name),
            60,
            f"service account {name}/default",
        )
        yield name
    finally:
        core_v1.delete_namespace(name, propagation_policy="Background")


def _exists(read: Callable, *args) -> bool:
    from kubernetes.client.rest import ApiException

    try:
        read(*args)
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise


def wait_for(
    check: Callable[[], object],
    timeout: float,
    what: str,
    explain: Callable[[], str] | None = None,
    interval: float = 1.0,
):
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds, with
    ``explain()`` (the current state of things) in the message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    details = f":\n{explain()}" if explain else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what}{details}", pytrace=False)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., object]:
    """The ``wait_for`` poller, for test modules (conftest is not importable as a module)."""
    return wait_for


# ---- a test image built by the real Docker Engine ----------------------------------------------


def _build_context(token: str) -> io.BytesIO:
    """A docker build context (tar) for a busybox httpd image that says ``token``."""
    dockerfile = f"""\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY index.html /www/index.html
CMD ["sh", "-c", "echo 'kudev-e2e serving {token}'; exec httpd -f -v -p {HTTP_PORT} -h /www"]
"""
    files = {
        "Dockerfile": (dockerfile.encode(), 0o644),
        "index.html": (f"kudev-e2e page {token}\n".encode(), 0o644),
        "busybox": (BUSYBOX.resolve().read_bytes(), 0o755),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


class HttpdImage:
    """An image (unique tag per run) whose container logs and serves ``token``."""

    def __init__(self, image, token: str):
        self.image = image
        self.token = token


@pytest.fixture(scope="session")
def httpd_image(docker_client, run_id: str) -> Iterator[HttpdImage]:
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static", pytrace=False)
    token = f"token-{run_id}"
    tag = f"kudev-e2e/httpd:{run_id}"
    image, _ = docker_client.images.build(
        fileobj=_build_context(token), custom_context=True, tag=tag, rm=True, forcerm=True
    )
    try:
        yield HttpdImage(image, token)
    finally:
        # Also drops the other tags the tests added to the same image.
        docker_client.images.remove(image.id, force=True)


# ---- pods ----------------------------------------------------------------------------------------


def pod_diagnosis(core_v1, namespace: str, name: str) -> str:
    """The pod's container states and events, for a failure message."""
    pod = core_v1.read_namespaced_pod(name, namespace)
    events = core_v1.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    ).items
    lines = [f"phase={pod.status.phase}"]
    for cs in pod.status.container_statuses or []:
        lines.append(f"container {cs.name}: {cs.state}")
    lines += [f"event {e.reason}: {e.message}" for e in events]
    return "\n".join(lines)


@pytest.fixture
def run_pod(core_v1) -> Callable[..., str]:
    """run_pod(namespace, name, image, pull_policy): create the pod, wait until it runs."""
    from kubernetes import client

    def run(namespace: str, name: str, image: str, pull_policy: str) -> str:
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"kudev-e2e": "true"}),
            spec=client.V1PodSpec(
                restart_policy="Never",
                termination_grace_period_seconds=1,
                containers=[
                    client.V1Container(
                        name="web",
                        image=image,
                        image_pull_policy=pull_policy,
                        ports=[client.V1ContainerPort(container_port=HTTP_PORT)],
                    )
                ],
            ),
        )
        core_v1.create_namespaced_pod(namespace, pod)

        def running() -> bool:
            phase = core_v1.read_namespaced_pod(name, namespace).status.phase
            if phase not in ("Pending", "Running"):
                pytest.fail(
                    f"pod {namespace}/{name} ended early:\n"
                    + pod_diagnosis(core_v1, namespace, name),
                    pytrace=False,
                )
            return phase == "Running"

        wait_for(
            running,
            120,
            f"pod {namespace}/{name} Running",
            explain=lambda: pod_diagnosis(core_v1, namespace, name),
        )
        return name

    return run


@pytest.fixture
def port_forward_get(api_client) -> Callable[[str, str, int], str]:
    """port_forward_get(namespace, pod, port): GET / from the pod's ``port`` through the API
    server's port-forward (the Python client's websocket, no kubectl); the raw HTTP response."""
    from kubernetes import client
    from kubernetes.stream import portforward

    core = client.CoreV1Api(api_client)

    def get(namespace: str, pod: str, port: int) -> str:
        pf = portforward(
            core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port)
        )
        sock = pf.socket(port)
        sock.settimeout(30)
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := sock.recv(4096):
                response += chunk
        finally:
            sock.close()
            pf.close()
        error = pf.error(port)
        assert not error, f"port-forward to {namespace}/{pod}:{port} failed: {error}"
        return response.decode(errors="replace")

    return get


# ---- the node's containerd (the rig's; kind users load with `kind load docker-image`) ----------


@pytest.fixture(scope="session")
def containerd_address() -> str:
    address = require_env(
        CONTAINERD_ENV, "no containerd socket to import images into (the rig's e2e.env sets it)"
    )
    if not Path(address).is_socket():
        pytest.fail(f"{CONTAINERD_ENV}={address} is not a socket", pytrace=False)
    return address


@pytest.fixture(scope="session")
def ctr() -> Callable[..., subprocess.CompletedProcess]:
    """ctr(address, *args, stdin=None): run containerd's CLI in the CRI namespace k8s.io."""
    exe = shutil.which("ctr")
    if exe is None:
        pytest.fail("ctr is missing (Debian package containerd)", pytrace=False)

    def run(address: str, *args: str, stdin=None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [exe, "--address", address, "--namespace", "k8s.io", *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run

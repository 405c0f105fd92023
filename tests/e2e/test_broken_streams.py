"""Log streams and the pod watch across a connection that really breaks mid-way.

A proxy between kudev and the rig's API server cuts every open connection while a pod
prints numbered lines; the follower must resume with no line lost and none repeated, and
the pod watch must come back and see the next change.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from kudev import events as ev
from kudev.deploy.live.logs import ContainerLog
from kudev.deploy.live.pods import PodsWatcher
from tests.e2e.conftest import _build_context, wait_for
from tests.e2e.cutproxy import CutProxy, api_server_of, proxied_kubeconfig

pytestmark = pytest.mark.e2e

COUNTER = 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.05; done'


@pytest.fixture(scope="module")
def counter_image(docker_client, run_id) -> Iterator[str]:
    """A busybox image of its own content, pushed to the rig's registry for the node to pull.

    Not the shared httpd image: containerd 1.6's CRI then misses a later `ctr import` of
    the same content under another name (tests/e2e/test_rig_images.py imports it).
    """
    repo = "localhost:5000/kudev-e2e/counter"
    image, _ = docker_client.images.build(
        fileobj=_build_context(f"counter-{run_id}"), custom_context=True, tag=f"{repo}:{run_id}"
    )
    try:
        for status in docker_client.images.push(repo, tag=run_id, stream=True, decode=True):
            assert "error" not in status, status
        yield f"{repo}:{run_id}"
    finally:
        docker_client.images.remove(image.id, force=True)


@pytest.fixture
def proxy(kubeconfig_path):
    cut = CutProxy(api_server_of(kubeconfig_path))
    yield cut
    cut.close()


@pytest.fixture
def proxied_api(proxy, kubeconfig_path, tmp_path):
    from kubernetes import config as kube_config

    path = proxied_kubeconfig(kubeconfig_path, proxy, tmp_path / "proxied-kubeconfig")
    api_client = kube_config.new_client_from_config(config_file=str(path))
    yield api_client
    api_client.close()


def counting_pod(core_v1, namespace: str, image: str, name: str) -> None:
    from kubernetes import client

    core_v1.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "counter"}),
            spec=client.V1PodSpec(
                termination_grace_period_seconds=1,
                containers=[
                    client.V1Container(
                        name="app",
                        image=image,
                        image_pull_policy="IfNotPresent",
                        command=["sh", "-c", COUNTER],
                    )
                ],
            ),
        ),
    )
    wait_for(
        lambda: core_v1.read_namespaced_pod(name, namespace).status.phase == "Running",
        90,
        f"pod {name} running",
    )


def test_a_log_stream_cut_twice_loses_and_repeats_no_line(
    core_v1, namespace, counter_image, proxy, proxied_api
):
    from kubernetes import client

    name = f"counter-{uuid.uuid4().hex[:4]}"
    counting_pod(core_v1, namespace, counter_image, name)
    lines: list[str] = []
    stop = threading.Event()
    follow = ContainerLog(
        client.CoreV1Api(proxied_api),
        namespace,
        name,
        "app",
        lambda e: lines.append(e.line) if isinstance(e, ev.LogLine) else None,
        stop,
    )
    thread = threading.Thread(target=follow.run, name="kudev-log-test", daemon=True)
    thread.start()
    try:
        for target in (40, 100):
            wait_for(lambda t=target: len(lines) >= t, 60, f"{target} log lines")
            assert proxy.cut() >= 1, "no connection was open to cut"
        wait_for(lambda: len(lines) >= 160, 60, "lines after the second cut")
    finally:
        stop.set()
        follow.interrupt()
        thread.join(timeout=10)
    numbers = [int(line.split()[1]) for line in lines]
    first = numbers[0]
    assert numbers == list(range(first, first + len(numbers))), "a line was lost or repeated"
    assert proxy.connections >= 3  # the first stream and one resume after each cut


def test_the_pod_watch_comes_back_after_a_cut_and_sees_the_next_pod(
    core_v1, namespace, counter_image, proxy, proxied_api
):
    seen: list[set[str]] = []
    watcher = PodsWatcher(
        proxied_api, namespace, "app=counter", lambda pods: seen.append(set(pods)), lambda e: None
    )
    first = f"counter-{uuid.uuid4().hex[:4]}"
    counting_pod(core_v1, namespace, counter_image, first)
    watcher.start()
    try:
        wait_for(lambda: seen and first in seen[-1], 30, "the first pod in the watch")
        before = proxy.connections
        assert proxy.cut() >= 1
        second = f"counter-{uuid.uuid4().hex[:4]}"
        counting_pod(core_v1, namespace, counter_image, second)
        wait_for(lambda: seen and second in seen[-1], 30, "the second pod after the cut")
        assert proxy.connections > before  # it reconnected, through the proxy
        cut_at = time.monotonic()
        core_v1.delete_namespaced_pod(first, namespace, grace_period_seconds=0)
        wait_for(lambda: first not in seen[-1], 30, "the deleted pod gone from the watch")
        assert time.monotonic() - cut_at < 30
    finally:
        assert watcher.stop()

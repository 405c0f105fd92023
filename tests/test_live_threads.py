"""The live streams' threads have an owner: stop() ends and joins every one of them, and the
pod watcher hands its readers immutable snapshots."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from kubernetes import client as k

from kudev import events as ev
from kudev.config import Config, ImageSpec
from kudev.deploy import deployer as deployer_module
from kudev.deploy.deployer import KubeDeployer
from kudev.deploy.live.pods import PodsWatcher
from kudev.threads import THREAD_PREFIX
from tests.live_api import NAMESPACE, POD, LiveApi

SESSIONS = 20
K8S_PROXY = "Kubernetes port forward proxy"
STOP_BUDGET_S = 2.0  # well under JOIN_TIMEOUT_S: a stop that only times out fails this


def kudev_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Events:
    def __init__(self) -> None:
        self.items: list[ev.Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: ev.Event) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: type[ev.Event], timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.items if isinstance(e, kind)]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                assert left > 0, f"no {kind.__name__} in {self.items}"
                self._cond.wait(left)


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    # The applier is not under test and would run API discovery at construction.
    monkeypatch.setattr(deployer_module, "Applier", lambda *args: None)
    with LiveApi() as api:
        yield api


def session(api: LiveApi, local_port: int, events: Events) -> KubeDeployer:
    config = Config(
        path=Path("/nonexistent/.kudev.yaml"),
        root=Path("/nonexistent"),
        name="app",
        images=(ImageSpec("app", Path("/nonexistent"), Path("/nonexistent/Dockerfile")),),
        namespace=NAMESPACE,
        local_port=local_port,
        service_port=8080,
    )
    api_client = k.ApiClient(k.Configuration(host=api.url))
    return KubeDeployer(config, api_client, NAMESPACE, events)


def echo_through(port: int, payload: bytes) -> socket.socket:
    """A connection through the port-forward, left open after one echoed message."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = conn.recv(1024)
        assert chunk, "the forwarded connection closed before the echo"
        got += chunk
    assert got == payload
    return conn


def test_sessions_leave_no_kudev_thread_behind(live_api: LiveApi) -> None:
    before = kudev_threads()
    for n in range(SESSIONS):
        events = Events()
        port = free_port()
        deployer = session(live_api, port, events)
        deployer._start_streams()

        assert events.wait_for(ev.LogLine).line == "hello from web-1"  # a followed stream
        assert events.wait_for(ev.PortForwardState).target == f"pod/{POD}"
        conn = echo_through(port, f"ping {n}".encode())  # an open forwarded connection
        names = {t.name for t in kudev_threads() - before}
        assert {"kudev-pods", f"kudev-pf-{port}", f"kudev-log-{POD}-app"} <= names
        assert f"kudev-pf-{port}-conn" in names and f"kudev-pf-{port}-back" in names

        started = time.monotonic()
        deployer.stop()
        took = time.monotonic() - started

        assert [t.name for t in kudev_threads() - before] == []
        assert took < STOP_BUDGET_S, f"session {n}: stop took {took:.1f}s"
        assert not any(isinstance(e, ev.Notice) and e.level == "warning" for e in events.items)
        assert conn.recv(1024) == b""  # the forwarded connection was closed by stop()
        conn.close()
    # Not ours, but ended by closing our end of its socket pair.
    assert wait_until(lambda: not any(t.name.startswith(K8S_PROXY) for t in threading.enumerate()))


def test_sessions_stopped_at_once_leave_no_kudev_thread_behind(live_api: LiveApi) -> None:
    """Stopping while the streams are still opening: nothing opened late is left running."""
    before = kudev_threads()
    for n in range(SESSIONS):
        deployer = session(live_api, free_port(), Events())
        deployer._start_streams()
        time.sleep(n * 0.002)  # stop at different points of opening

        deployer.stop()

        assert [t.name for t in kudev_threads() - before] == []


def wait_until(condition: Any, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# -- snapshots ---------------------------------------------------------------------------


def a_pod(name: str) -> k.V1Pod:
    return k.V1Pod(
        metadata=k.V1ObjectMeta(name=name),
        spec=k.V1PodSpec(containers=[k.V1Container(name="app", image="app:kudev-1")]),
        status=k.V1PodStatus(phase="Running"),
    )


def watcher(on_pods: Any = lambda pods: None) -> PodsWatcher:
    return PodsWatcher(k.ApiClient(), NAMESPACE, "app=x", on_pods, lambda event: None)


def test_each_change_publishes_a_new_immutable_snapshot() -> None:
    published: list[Any] = []
    pods = watcher(published.append)
    assert dict(pods.pods) == {}

    pods._apply({"type": "ADDED", "object": a_pod("a")})
    first = pods.pods
    pods._apply({"type": "ADDED", "object": a_pod("b")})
    pods._apply({"type": "DELETED", "object": a_pod("a")})

    assert isinstance(first, MappingProxyType)
    assert list(first) == ["a"]  # a reader's snapshot does not change under it
    assert list(pods.pods) == ["b"]
    assert published[-1] is pods.pods  # on_pods gets the snapshot readers see
    with pytest.raises(TypeError):
        pods.pods["c"] = a_pod("c")  # type: ignore[index]


def test_bookmarks_publish_nothing() -> None:
    published: list[Any] = []
    pods = watcher(published.append)

    pods._apply({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}})

    assert published == []


def test_readers_iterate_while_the_watch_changes_pods() -> None:
    pods = watcher()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                for pod in pods.pods.values():  # a dict would raise "changed size" here
                    assert pod.metadata.name
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(2000):
            pods._apply({"type": "ADDED", "object": a_pod(f"p{i % 20}")})
            if i % 3 == 0:
                pods._apply({"type": "DELETED", "object": a_pod(f"p{(i + 7) % 20}")})
    finally:
        done.set()
        reader.join()
    assert errors == []


def test_a_port_forward_has_an_api_client_of_its_own():
    """The kubernetes package's port-forward swaps `call_api` on the client it uses while it
    connects: on a shared client, another thread's call went out as a port-forward."""
    from kubernetes import client

    from kudev.deploy.live.portforward import PortForwarder

    shared = client.ApiClient(client.Configuration())
    forwarder = PortForwarder(shared, "ns", 0, 8080, lambda: None, lambda e: None)
    with forwarder.cores.borrow() as core:
        assert core.api_client is not shared
        assert core.api_client.configuration is shared.configuration
    forwarder.stop()

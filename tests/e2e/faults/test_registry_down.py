"""The registry goes down while kudev loads (pushes) an image: a clear cause and a retry, and
no deploy of an image the node cannot pull (the Deployment keeps the old image until the
push succeeds).

A second Debian docker-registry on its own loopback port, so the rig's registry (which other
tests use) is never touched; the rig's containerd learns to pull from it over plain HTTP
through a hosts.toml in its certs.d folder, removed afterwards."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kudev import events as ev
from tests.e2e.faults.faultlib import make_engine, record, seconds_until, write_numbered_app
from tests.e2e.kudevlib import free_port
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e

CERTS_D = Path("/var/lib/kudev-rig/containerd/certs.d")


class Registry:
    def __init__(self, folder: Path, port: int) -> None:
        self.host = f"localhost:{port}"
        self.config = folder / "config.yml"
        folder.joinpath("data").mkdir(parents=True)
        self.config.write_text(
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
            f"http: {{addr: 127.0.0.1:{port}}}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("docker-registry") or "/usr/bin/docker-registry"
        self.proc = subprocess.Popen([exe, "serve", str(self.config)])
        seconds_until(self.answers, 30, f"registry on {self.host}")

    def answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_registry(tmp_path) -> Iterator[Registry]:
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is missing (Debian package docker-registry)")
    registry = Registry(tmp_path / "registry", free_port())
    hosts = CERTS_D / registry.host
    hosts.mkdir(parents=True)
    (hosts / "hosts.toml").write_text(
        f'server = "http://{registry.host}"\n\n[host."http://{registry.host}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )
    registry.start()
    try:
        yield registry
    finally:
        registry.kill()
        shutil.rmtree(hosts, ignore_errors=True)


def _story(log: EventLog) -> str:
    """The last events other than log lines, for a failure message."""
    told = [e for e in log.events if not isinstance(e, ev.LogLine | ev.PodsChanged)]
    return "\n".join(repr(e)[:300] for e in told[-25:])


def test_registry_down_during_the_load_is_retried_and_nothing_unpullable_is_deployed(
    tmp_path, rig_env, namespace, app_name, own_registry, core_v1, isolated_cache
):
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    root = write_numbered_app(
        tmp_path / app_name,
        app_name,
        namespace,
        extra_spec=f"cluster:\n  kind: registry\n  registry: {own_registry.host}\n",
    )
    log, changes = EventLog(), ScriptedChanges()

    def sink(event: ev.Event) -> None:
        # Called on the engine's thread: the registry is gone before cycle 2's push starts.
        if isinstance(event, ev.StageStarted) and event.stage == "load" and event.cycle == 2:
            own_registry.kill()
        log(event)

    engine = make_engine(root, sink, changes, isolated_cache)

    def deployed_image() -> str:
        deployment = apps.read_namespaced_deployment(app_name, namespace)
        return deployment.spec.template.spec.containers[0].image

    with RunningEngine(engine):
        assert log.cycle_finished(1, timeout=180).ok
        old_image = deployed_image()
        assert old_image.startswith(own_registry.host + "/")
        (root / "www" / "index.html").write_text("hello v2\n")
        changes.send(root / "www" / "index.html")
        try:
            error = log.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.cycle == 2, 120)
        except AssertionError:
            raise AssertionError(_story(log)) from None
        time.sleep(3)  # a retry or two against the dead registry
        image_while_down = deployed_image()
        restarted = time.monotonic()
        own_registry.start()
        try:
            ok = log.wait_for(
                lambda e: isinstance(e, ev.CycleFinished) and e.ok and e.cycle > 2, 120
            )
        except AssertionError:
            raise AssertionError(_story(log)) from None
        recovered_s = time.monotonic() - restarted
        new_image = deployed_image()
    failed_loads = [e for e in log.of(ev.StageFinished) if e.stage == "load" and not e.ok]
    record(
        "registry-down-during-load",
        cause=error.cause,
        retrying=error.retrying,
        failed_loads=len(failed_loads),
        gaps_between_tries_s=[
            round(b.ts - a.ts, 1) for a, b in zip(failed_loads, failed_loads[1:], strict=False)
        ],
        recovered_after_registry_back_s=round(recovered_s, 1),
        recovered_in_cycle=ok.cycle,
    )
    assert failed_loads and failed_loads[0].cycle == 2, "the load did not fail"
    assert own_registry.host in error.cause and "connection refused" in error.cause, error
    assert "\n" not in error.cause
    assert error.retrying, "a registry that is down is retried"
    assert image_while_down == old_image, "deployed an image the registry does not hold"
    assert new_image != old_image and new_image.startswith(own_registry.host + "/")

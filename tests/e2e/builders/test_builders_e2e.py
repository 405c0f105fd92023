"""Each builder through a whole cycle of examples/hello on the rig: save → a new pod serving
the edit. podman and buildah run with DOCKER_HOST at a dead socket; the layer builder runs
with no build tool on PATH either, its base read from the rig's registry."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from kudev import events as ev
from kudev.build.buildah import BuildahBuilder
from kudev.build.builder import BuildCancelled
from kudev.build.cli_process import CANCEL_GRACE_S
from kudev.build.layers.builder import LayersBuilder
from kudev.build.podman import PodmanBuilder
from kudev.cluster.loaders import ContainerdImportLoader
from kudev.config import load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from kudev.sources.context import BuildContext
from tests.e2e.builders.lib import REGISTRY, copy_hello, need_tool
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e


def serving(version: str):
    return lambda e: isinstance(e, ev.LogLine) and f"({version})" in e.line and "serving" in e.line


def full_cycle(root: Path, kubeconfig: Path, monkeypatch, cache: Path) -> EventLog:
    """Start kudev on `root`, see v1 served, edit version.txt, see v2 served by a new pod."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=cache)
    log, changes = EventLog(), ScriptedChanges()
    engine = Engine(project, SessionOptions(), log, change_source=changes)
    with RunningEngine(engine):
        assert log.cycle_finished(1, timeout=240).ok, [e.cause for e in log.of(ev.ErrorReported)]
        first = log.wait_for(serving("1"), 90)
        (root / "www" / "version.txt").write_text("2\n")
        changes.send(root / "www" / "version.txt")
        assert log.cycle_finished(2, timeout=240).ok, [e.cause for e in log.of(ev.ErrorReported)]
        second = log.wait_for(serving("2"), 90)
    assert second.pod != first.pod
    return log


def notices(log: EventLog) -> list[str]:
    return [e.message for e in log.of(ev.Notice)]


def test_podman_is_chosen_without_docker_and_serves_the_edit(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache, containers_env, no_docker
):
    for key, value in containers_env.items():
        monkeypatch.setenv(key, value)
    name = f"pm-{uuid.uuid4().hex[:6]}"
    root = copy_hello(tmp_path / name, name, namespace)  # builder: auto
    log = full_cycle(root, kubeconfig_path, monkeypatch, isolated_cache)
    said = next(n for n in notices(log) if n.startswith("builder:"))
    assert said.startswith("builder: podman ") and "auto: cannot reach the Docker daemon" in said
    ready = [e for e in log.of(ev.ImageReady)]
    assert ready[-1].ref.startswith(f"{REGISTRY}/{name}:kudev-")
    assert any(e.stream == "stdout" and e.line.startswith("STEP ") for e in log.of(ev.BuildOutput))


def test_buildah_builds_without_docker_and_serves_the_edit(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache, containers_env, no_docker
):
    need_tool("buildah")
    for key, value in containers_env.items():
        monkeypatch.setenv(key, value)
    name = f"bh-{uuid.uuid4().hex[:6]}"
    root = copy_hello(tmp_path / name, name, namespace, "  builder: buildah\n")
    log = full_cycle(root, kubeconfig_path, monkeypatch, isolated_cache)
    assert any(n.startswith("builder: buildah ") for n in notices(log))


def test_the_layer_builder_needs_no_builder_and_deploys_by_digest(
    tmp_path, kubeconfig_path, namespace, monkeypatch, isolated_cache, rig_base, no_docker
):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no docker, podman or buildah to fall back on
    name = f"ly-{uuid.uuid4().hex[:6]}"
    extra = f"  builder: layers\n  baseRegistry: {REGISTRY}\n"
    root = copy_hello(tmp_path / name, name, namespace, extra)
    log = full_cycle(root, kubeconfig_path, monkeypatch, isolated_cache)
    refs = [e.ref for e in log.of(ev.ImageReady)]
    assert all("@sha256:" in ref and ref.startswith(f"{REGISTRY}/{name}:kudev-") for ref in refs)
    lines = [e.line for e in log.of(ev.BuildOutput)]
    assert f"FROM busybox:1.36 (from {REGISTRY}/busybox)" in lines
    assert any(line.startswith("mounted ") for line in lines), "the base was not mounted"


# -- the archive way: a docker-archive handed to the node's containerd ----------------------


@pytest.mark.parametrize("kind", ["podman", "buildah", "layers"])
def test_an_archive_from_each_store_imports_into_containerd(
    kind, tmp_path, containers_env, monkeypatch, containerd_address, ctr, no_docker
):
    for key, value in containers_env.items():
        monkeypatch.setenv(key, value)
    name = f"ar-{kind}-{uuid.uuid4().hex[:6]}"
    root = copy_hello(tmp_path / name, name, "unused")
    context = BuildContext(root, root / "Dockerfile")
    context.scan()
    builder = {
        "podman": lambda: PodmanBuilder(need_tool("podman")),
        "buildah": lambda: BuildahBuilder(need_tool("buildah")),
        "layers": lambda: LayersBuilder(REGISTRY, tmp_path / "cache"),
    }[kind]()
    ref = f"{name}:{context.tag()}"
    builder.run(builder.prepare(context, ref), lambda line, stream: None)
    argv = [
        need_tool("ctr"),
        "--address",
        containerd_address,
        "-n",
        "k8s.io",
        "images",
        "import",
        "-",
    ]
    lines: list[str] = []
    ContainerdImportLoader(argv, builder).load(ref, lines.append)
    listed = ctr(containerd_address, "images", "ls", "-q").stdout.split()
    try:
        assert f"docker.io/library/{ref}" in listed, lines
    finally:
        ctr(containerd_address, "images", "rm", f"docker.io/library/{ref}")


@pytest.mark.parametrize("kind", ["podman", "buildah"])
def test_a_newer_change_cancels_a_running_build(kind, tmp_path, containers_env, monkeypatch):
    for key, value in containers_env.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "slow"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox:1.36\nRUN echo started; sleep 60\n")
    context = BuildContext(root, root / "Dockerfile")
    context.scan()
    builder = (
        PodmanBuilder(need_tool("podman"))
        if kind == "podman"
        else BuildahBuilder(need_tool("buildah"))
    )
    prepared = builder.prepare(context, f"slow-{uuid.uuid4().hex[:6]}:1")
    lines: list[str] = []
    started = threading.Event()

    def on_line(line: str, stream: str) -> None:
        lines.append(line)
        if "started" in line and not line.startswith("STEP"):
            started.set()

    outcome: list[BaseException] = []
    worker = threading.Thread(
        target=lambda: _catch(outcome, builder.run, prepared, on_line), name="kudev-test-build"
    )
    worker.start()
    assert started.wait(60), lines
    cancelled_at = time.monotonic()
    builder.cancel()
    worker.join(30)
    assert not worker.is_alive()
    assert outcome and isinstance(outcome[0], BuildCancelled), (outcome, lines)
    assert time.monotonic() - cancelled_at < CANCEL_GRACE_S + 3


def _catch(outcome: list[BaseException], call, *args) -> None:
    try:
        call(*args)
    except BaseException as err:  # the test looks at it
        outcome.append(err)

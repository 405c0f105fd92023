"""Live update on the real cluster: examples/hello with `sync: [{src: www, dest: /www}]`.

Each test runs the real engine (BuildKit, the rig's registry, the API server's exec and
port-forward websockets) with scripted changes, and reads what the app serves through
kudev's own port-forward.
"""

from __future__ import annotations

import shutil
import time
import urllib.error
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kudev import events as ev
from kudev.config import load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.e2e.kudevlib import free_port, http_get
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
SYNC_WWW = "sync:\n  - src: www\n    dest: /www\n"


def hello_app(tmp_path: Path, namespace: str, extra: str = SYNC_WWW, replicas: int = 1) -> Path:
    root = tmp_path / "hello"
    shutil.copytree(EXAMPLE, root)
    config = (root / ".kudev.yaml").read_text()
    config = config.replace("namespace: default", f"namespace: {namespace}")
    config = config.replace("localPort: 8080", f"localPort: {free_port()}")
    config = config.replace("replicas: 1", f"replicas: {replicas}")
    (root / ".kudev.yaml").write_text(config + "  rolloutTimeout: 90\n" + _indent(extra))
    return root


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


class Session:
    """A running engine on the app, its events, and what it serves."""

    def __init__(self, root: Path, log: EventLog, changes: ScriptedChanges, engine: Engine):
        self.root, self.log, self.changes, self.engine = root, log, changes, engine
        self.port = load_config(root / ".kudev.yaml").local_port
        self.cycles = 1

    def edit(self, rel: str, text: str | None) -> ev.CycleFinished:
        path = self.root / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.changes.send(path)
        self.cycles += 1
        return self.log.cycle_finished(self.cycles, timeout=180)

    def started(self, cycle: int) -> ev.CycleStarted:
        return next(e for e in self.log.of(ev.CycleStarted) if e.cycle == cycle)

    def serves(self, text: str, path: str = "/index.html", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        got = ""
        while time.monotonic() < deadline:
            got = self.get(path)
            if got == text:
                return
            time.sleep(0.05)
        raise AssertionError(f"{path} serves {got!r}, not {text!r}")

    def get(self, path: str) -> str:
        try:
            return http_get(self.port, path)
        except urllib.error.HTTPError as err:
            return f"HTTP {err.code}"
        except OSError as err:
            return f"no answer ({err})"

    def stage(self, cycle: int, name: str) -> ev.StageFinished | None:
        found = [e for e in self.log.of(ev.StageFinished) if e.cycle == cycle and e.stage == name]
        return found[-1] if found else None


@contextmanager
def running(
    root: Path, kubeconfig: Path, monkeypatch, cache: Path, log: EventLog | None = None
) -> Iterator[Session]:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=cache)
    log, changes = log or EventLog(), ScriptedChanges()
    engine = Engine(project, SessionOptions(), log, change_source=changes)
    with RunningEngine(engine):
        session = Session(root, log, changes, engine)
        assert log.cycle_finished(1, timeout=180).ok
        log.wait_for(lambda e: isinstance(e, ev.PortForwardState) and e.active, 60)
        yield session


def app_pods(core_v1, namespace: str) -> dict[str, int]:
    """Running pods of the app: name -> restart count."""
    pods = core_v1.list_namespaced_pod(namespace).items
    return {
        p.metadata.name: sum(s.restart_count for s in p.status.container_statuses or [])
        for p in pods
        if p.metadata.deletion_timestamp is None and p.status.phase == "Running"
    }


def test_an_edit_is_synced_into_the_running_pod_and_a_deletion_gives_404(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    root = hello_app(tmp_path, namespace)
    (root / "www" / "old.html").write_text("old\n")
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        app.serves("old\n", "/old.html")
        before = app_pods(core_v1, namespace)
        finished = app.edit("www/index.html", "<h1>synced</h1>\n")
        assert finished.ok and app.started(2).mode == "sync"
        app.serves("<h1>synced</h1>\n", timeout=5)
        assert app.stage(2, "build") is None, "a sync cycle built an image"
        sync = app.stage(2, "sync")
        assert sync is not None and sync.figures == {
            "files": 1,
            "deletes": 0,
            "bytes": len("<h1>synced</h1>\n"),
            "pods": 1,
        }
        assert app.edit("www/old.html", None).ok and app.started(3).mode == "sync"
        app.serves("HTTP 404", "/old.html", timeout=5)
        app.edit("www/a/b.html", "deep\n")
        app.serves("deep\n", "/a/b.html", timeout=5)
        assert app_pods(core_v1, namespace) == before, "the pod was replaced or restarted"
        rows = app.log.of(ev.PodsChanged)[-1].pods
        assert [(r.synced_files, r.current) for r in rows] == [(3, True)]


def test_with_three_replicas_every_pod_serves_the_edit(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache, port_forward_get
):
    root = hello_app(tmp_path, namespace, replicas=3)
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        before = app_pods(core_v1, namespace)
        assert len(before) == 3
        assert app.edit("www/index.html", "all three\n").ok
        assert app.stage(2, "sync").figures["pods"] == 3
        for pod in before:
            assert port_forward_get(namespace, pod, 8080).endswith("all three\n"), pod
        assert app_pods(core_v1, namespace) == before


def test_a_file_no_rule_covers_and_a_fallback_match_give_full_builds(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    extra = SYNC_WWW + "fallback:\n  - www/version.txt\n"
    root = hello_app(tmp_path, namespace, extra=extra)
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        first = set(app_pods(core_v1, namespace))
        token = uuid.uuid4().hex[:8]  # a new image, never one an earlier run left
        serve = (root / "serve.sh").read_text().replace("hello: serving", f"hello {token}:")
        assert app.edit("serve.sh", serve).ok
        assert app.started(2).mode == "build"
        assert app.started(2).full_reason == "serve.sh is not under a sync rule"
        assert app.stage(2, "build") is not None and not app.stage(2, "build").skipped
        app.log.wait_for(lambda e: isinstance(e, ev.LogLine) and f"hello {token}:" in e.line)
        second = set(app_pods(core_v1, namespace))
        assert second and not second & first, "no new pod for the full build"
        assert app.edit("www/version.txt", f"{token}\n").ok
        assert app.started(3).full_reason == "www/version.txt matches fallback"
        assert app.stage(3, "build") is not None


def test_a_killed_container_serves_the_synced_content_again_once_ready(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    root = hello_app(tmp_path, namespace)
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        assert app.edit("www/index.html", "survives restarts\n").ok
        [(pod, restarts)] = app_pods(core_v1, namespace).items()
        _kill_main_process(core_v1, namespace, pod)
        _wait_ready_after_restart(core_v1, namespace, pod, restarts)
        ready_at = time.monotonic()
        app.serves("survives restarts\n", timeout=5)
        took = time.monotonic() - ready_at
        notice = app.log.wait_for(
            lambda e: isinstance(e, ev.Notice) and e.message.startswith("re-applied"), 10
        )
        assert pod in notice.message
        assert took < 2.0, f"the synced content came back {took:.2f}s after Ready"


def test_restart_container_restarts_it_and_keeps_the_synced_files(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    root = hello_app(tmp_path, namespace, extra=SYNC_WWW + "restart: container\n")
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        [(pod, restarts)] = app_pods(core_v1, namespace).items()
        assert app.edit("www/index.html", "after restart\n").ok
        _wait_ready_after_restart(core_v1, namespace, pod, restarts)
        app.serves("after restart\n", timeout=10)
        assert list(app_pods(core_v1, namespace)) == [pod]


def test_run_steps_run_on_their_trigger_and_a_failing_one_is_reported(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    extra = SYNC_WWW + (
        "run:\n"
        "  - cmd: echo ran >> /www/runs.txt\n"
        "    trigger: [www/*.txt]\n"
        "  - cmd: [sh, -c, 'echo broken >&2; exit 3']\n"
        "    trigger: [www/broken.html]\n"
    )
    root = hello_app(tmp_path, namespace, extra=extra)
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        assert app.edit("www/index.html", "no trigger\n").ok
        app.serves("no trigger\n")
        assert app.get("/runs.txt") == "HTTP 404", "a step ran without its trigger"
        assert app.edit("www/notes.txt", "triggers\n").ok
        app.serves("ran\n", "/runs.txt", timeout=5)
        output = [e.line for e in app.log.of(ev.BuildOutput) if e.cycle == 3]
        assert "$ echo ran >> /www/runs.txt" in output
        finished = app.edit("www/broken.html", "x\n")
        assert finished.ok, "a failing run step must not fail the sync"
        error = next(e for e in app.log.of(ev.ErrorReported) if e.cycle == 4)
        assert "exit code 3" in error.cause and error.stage == "sync"
        assert [e.line for e in app.log.of(ev.BuildOutput) if e.stream == "error"] == ["broken"]
        time.sleep(1)
        assert app.cycles == 4 and len(app.log.of(ev.CycleStarted)) == 4, "it rebuilt"


def test_sync_infer_on_the_examples_dockerfile(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    root = hello_app(tmp_path, namespace, extra="sync: infer\n")
    config = load_config(root / ".kudev.yaml")
    assert [(r.src, r.dest) for r in config.image.live.sync] == [
        ("www", "/www"),
        ("serve.sh", "/serve.sh"),
    ]
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        before = app_pods(core_v1, namespace)
        assert app.edit("www/index.html", "inferred\n").ok
        app.serves("inferred\n", timeout=5)
        assert app.edit("serve.sh", (root / "serve.sh").read_text() + "# edited\n").ok
        assert app.started(3).mode == "sync", "serve.sh is under an inferred rule"
        assert app_pods(core_v1, namespace) == before


def test_a_new_session_sends_the_initial_sync_to_pods_left_running(
    tmp_path, kubeconfig_path, namespace, core_v1, monkeypatch, isolated_cache
):
    root = hello_app(tmp_path, namespace)
    with running(root, kubeconfig_path, monkeypatch, isolated_cache) as app:
        assert app.edit("www/index.html", "first session\n").ok
        pods = app_pods(core_v1, namespace)
    (root / "www" / "index.html").write_text("edited while kudev was away\n")
    log = EventLog()
    with running(root, kubeconfig_path, monkeypatch, isolated_cache, log) as app:
        assert app.stage(1, "build").skipped
        assert app.stage(1, "sync").figures["files"] == 1
        app.serves("edited while kudev was away\n", timeout=5)
        assert app_pods(core_v1, namespace) == pods, "the initial sync replaced the pod"


def _kill_main_process(core_v1, namespace: str, pod: str) -> None:
    from kubernetes.stream import stream

    stream(
        core_v1.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=["kill", "-TERM", "1"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
    )


def _wait_ready_after_restart(core_v1, namespace: str, pod: str, restarts: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = core_v1.read_namespaced_pod(pod, namespace).status
        statuses = status.container_statuses or []
        if statuses and statuses[0].restart_count > restarts and statuses[0].ready:
            return
        time.sleep(0.05)
    raise AssertionError(f"{pod} did not restart and become ready")

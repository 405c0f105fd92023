"""Event streams for the dashboard tests: what the engine says in each situation."""

from __future__ import annotations

from kudev import events as ev
from tests.tui.conftest import T0

ROOT = "/work/hello"
TAG1 = "kudev-1a2b3c4d"
TAG2 = "kudev-5e6f7a8b"


def started() -> list[ev.Event]:
    return [
        ev.SessionStarted(project="hello", root=ROOT, images=("hello",), ts=T0),
        ev.ClusterConnected(
            context="kind-dev",
            cluster_kind="kind",
            server="https://127.0.0.1:6443",
            namespace="default",
            loader="kind load docker-image --name dev",
            ts=T0,
        ),
        ev.WatchState(watching=True, paths=(ROOT,), ts=T0),
    ]


def cycle(
    n: int,
    tag: str,
    *,
    reason: str = "initial",
    changed: tuple[str, ...] = (),
    build_lines: tuple[str, ...] = ("Step 1/2 : FROM busybox:1.36", "Step 2/2 : COPY www/ /www/"),
    at: float = T0,
) -> list[ev.Event]:
    """A whole good cycle: hash → build → load → apply → ready."""
    events: list[ev.Event] = [
        ev.CycleStarted(cycle=n, reason=reason, changed=changed, changed_total=len(changed), ts=at),
        ev.StageFinished(cycle=n, stage="hash", seconds=0.012, ts=at),
        ev.StageStarted(cycle=n, stage="build", image="hello", ts=at),
    ]
    events += [ev.BuildOutput(cycle=n, image="hello", line=line, ts=at) for line in build_lines]
    events += [
        ev.StageFinished(
            cycle=n, stage="build", seconds=2.31, detail=f"hello:{tag}", image="hello", ts=at
        ),
        ev.StageStarted(cycle=n, stage="load", image="hello", ts=at),
        ev.StageFinished(
            cycle=n, stage="load", seconds=1.2, detail=f"hello:{tag}", image="hello", ts=at
        ),
        ev.ImageReady(
            cycle=n, image="hello", ref=f"hello:{tag}", tag=tag, built=True, loaded=True, ts=at
        ),
        ev.StageStarted(cycle=n, stage="apply", ts=at),
        ev.StageFinished(cycle=n, stage="apply", seconds=0.41, ts=at),
        ev.StageStarted(cycle=n, stage="ready", ts=at),
        ev.RolloutProgress(cycle=n, workload="deployment/hello", ready=1, desired=1, ts=at),
        ev.StageFinished(cycle=n, stage="ready", seconds=3.2, ts=at),
        ev.CycleFinished(
            cycle=n,
            ok=True,
            seconds=7.13,
            stages={"hash": 0.012, "build": 2.31, "load": 1.2, "apply": 0.41, "ready": 3.2},
            ts=at,
        ),
    ]
    return events


def pod(name: str, tag: str, **kw: object) -> ev.PodRow:
    fields: dict[str, object] = {
        "phase": "Running",
        "ready": "1/1",
        "restarts": 0,
        "created": T0 + 420,
        "image_tag": tag,
        "node": "dev-control-plane",
    }
    fields.update(kw)
    return ev.PodRow(name=name, **fields)  # type: ignore[arg-type]


def pods(*rows: ev.PodRow) -> ev.PodsChanged:
    return ev.PodsChanged(pods=rows, ts=T0)


def logs(pod_name: str, *lines: str, container: str = "app") -> list[ev.Event]:
    return [ev.LogLine(pod=pod_name, container=container, line=line, ts=T0) for line in lines]


POD_A = "hello-7d9c5b6f4-abcde"
POD_B = "hello-7d9c5b6f4-fghij"


def ready() -> list[ev.Event]:
    return [
        *started(),
        *cycle(1, TAG1),
        *cycle(
            2,
            TAG2,
            reason="change",
            changed=(f"{ROOT}/www/index.html", f"{ROOT}/serve.sh"),
            at=T0 + 400,
        ),
        pods(pod(POD_A, TAG2), pod(POD_B, TAG2, created=T0 + 60)),
        *logs(POD_A, "httpd: serving /www on :8080", "GET / 200 0.4ms"),
        *logs(POD_B, "httpd: serving /www on :8080", "GET /version.txt 200 0.2ms"),
    ]


def building() -> list[ev.Event]:
    n = 3
    at = T0 + 590
    return [
        *ready(),
        ev.CycleStarted(
            cycle=n,
            reason="change",
            changed=(f"{ROOT}/www/index.html",),
            changed_total=1,
            ts=at,
        ),
        ev.StageFinished(cycle=n, stage="hash", seconds=0.004, ts=at),
        ev.StageStarted(cycle=n, stage="build", image="hello", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line="#1 [internal] load build definition", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line="#5 [1/3] FROM busybox:1.36", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line="#6 [2/3] COPY www/ /www/", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line="#6 DONE 0.1s", ts=at),
    ]


def crash_looping() -> list[ev.Event]:
    crashing = "hello-5f8b9c7d6-xk2lp"
    return [
        *started(),
        *cycle(1, TAG1),
        pods(
            pod(POD_A, TAG1),
            pod(
                crashing,
                TAG2,
                ready="0/1",
                restarts=5,
                reason="CrashLoopBackOff",
                created=T0 + 300,
            ),
        ),
        ev.PodDiagnosis(
            cycle=1,
            pod=crashing,
            container="app",
            reason="CrashLoopBackOff",
            message="back-off 1m20s restarting failed container",
            exit_code=1,
            last_logs=("starting hello", "sh: /serve.sh: line 3: httpd: not found"),
            ts=T0,
        ),
        *logs(crashing, "starting hello", "sh: /serve.sh: line 3: httpd: not found"),
        *logs(POD_A, "GET / 200 0.4ms"),
    ]


def build_failed() -> list[ev.Event]:
    n = 2
    at = T0 + 500
    cause = (
        "build failed at Step 2/3 : COPY missing.txt /x: COPY failed: file not found in build "
        "context or excluded by .dockerignore: stat missing.txt: file does not exist"
    )
    return [
        *started(),
        *cycle(1, TAG1),
        pods(pod(POD_A, TAG1)),
        ev.CycleStarted(
            cycle=n, reason="change", changed=(f"{ROOT}/Dockerfile",), changed_total=1, ts=at
        ),
        ev.StageFinished(cycle=n, stage="hash", seconds=0.003, ts=at),
        ev.StageStarted(cycle=n, stage="build", image="hello", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line="Step 1/3 : FROM busybox:1.36", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line=" ---> 5a2b1c0d9e8f", ts=at),
        ev.BuildOutput(cycle=n, image="hello", line="Step 2/3 : COPY missing.txt /x", ts=at),
        ev.BuildOutput(
            cycle=n,
            image="hello",
            line="COPY failed: file not found in build context or excluded by .dockerignore: "
            "stat missing.txt: file does not exist",
            stream="error",
            ts=at,
        ),
        ev.StageFinished(cycle=n, stage="build", seconds=0.38, ok=False, image="hello", ts=at),
        ev.ErrorReported(
            cause=cause,
            remedy="fix the step above; the last good image keeps running",
            cycle=n,
            stage="build",
            ts=at,
        ),
        ev.CycleFinished(cycle=n, ok=False, seconds=0.39, stages={"hash": 0.003}, ts=at),
    ]


def daemon_down() -> list[ev.Event]:
    return [
        ev.SessionStarted(project="hello", root=ROOT, images=("hello",), ts=T0),
        ev.WatchState(watching=True, paths=(ROOT,), ts=T0),
        ev.CycleStarted(cycle=1, reason="initial", ts=T0),
        ev.StageFinished(cycle=1, stage="hash", seconds=0.02, ts=T0),
        ev.ErrorReported(
            cause="cannot reach the Docker daemon at unix:///var/run/docker.sock "
            "(socket not found)",
            remedy="start it (`sudo systemctl start docker`, or scripts/dockerd-up), "
            "or point DOCKER_HOST at a running daemon",
            cycle=1,
            retrying=True,
            ts=T0,
        ),
        ev.CycleFinished(cycle=1, ok=False, seconds=0.03, stages={"hash": 0.02}, ts=T0),
    ]


def synced() -> list[ev.Event]:
    """A full build, then a live-update sync cycle into both pods."""
    at = T0 + 500
    figures = {"files": 3, "deletes": 0, "bytes": 420, "pods": 2}
    return [
        *started(),
        *cycle(1, TAG1),
        ev.CycleStarted(
            cycle=2, reason="change", changed=(f"{ROOT}/www/index.html",), changed_total=1,
            mode="sync", ts=at,
        ),
        ev.StageFinished(cycle=2, stage="hash", seconds=0.001, ts=at),
        ev.StageStarted(cycle=2, stage="sync", image="hello", ts=at),
        ev.StageFinished(
            cycle=2, stage="sync", seconds=0.08, detail="3 files · 2 pods", image="hello",
            figures=figures, ts=at,
        ),
        ev.CycleFinished(cycle=2, ok=True, seconds=0.081, stages={"sync": 0.08}, ts=at),
        pods(
            pod(POD_A, TAG1, synced_files=3),
            pod(POD_B, TAG1, created=T0 + 60, synced_files=3, current=False),
        ),
    ]  # fmt: skip

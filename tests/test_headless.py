"""The headless printer's lines: what a person reads in a terminal or a CI log."""

from __future__ import annotations

import io

from kudev import events as ev
from kudev.headless import HeadlessPrinter, format_event

ROOT = "/work/hello"
TAG = "kudev-1a2b3c4d"
CHANGED = tuple(f"{ROOT}/www/page{i}.html" for i in range(5))


def full_cycle() -> list[ev.Event]:
    """A session's start and one good cycle, as the engine emits it."""
    return [
        ev.SessionStarted(project="hello", root=ROOT, images=("hello", "worker")),
        ev.ClusterConnected(
            context="kind-dev",
            cluster_kind="kind",
            server="https://127.0.0.1:6443",
            namespace="default",
            loader="kind load docker-image --name dev",
        ),
        ev.WatchState(watching=True, paths=(ROOT,)),
        ev.CycleStarted(cycle=2, reason="change", changed=CHANGED[:4], changed_total=5),
        ev.StageFinished(cycle=2, stage="hash", seconds=0.0123),
        ev.StageStarted(cycle=2, stage="build", image="hello"),
        ev.BuildOutput(cycle=2, image="hello", line="Step 1/2 : FROM busybox:1.36"),
        ev.BuildOutput(cycle=2, image="hello", line="no space left", stream="error"),
        ev.StageFinished(
            cycle=2, stage="build", seconds=2.3104, detail=f"hello:{TAG}", image="hello"
        ),
        ev.StageFinished(cycle=2, stage="build", seconds=0.0012, skipped=True, image="worker"),
        ev.StageStarted(cycle=2, stage="load", image="hello"),
        ev.StageFinished(cycle=2, stage="load", seconds=1.2, detail=f"hello:{TAG}", image="hello"),
        ev.ImageReady(cycle=2, image="hello", ref=f"hello:{TAG}", tag=TAG, built=True, loaded=True),
        ev.ImageReady(
            cycle=2, image="worker", ref=f"worker:{TAG}", tag=TAG, built=False, loaded=False
        ),
        ev.StageStarted(cycle=2, stage="apply"),
        ev.StageFinished(cycle=2, stage="apply", seconds=0.41, detail="deployment/hello"),
        ev.StageStarted(cycle=2, stage="ready"),
        ev.RolloutProgress(cycle=2, workload="deployment/hello", ready=1, desired=1),
        ev.StageFinished(cycle=2, stage="ready", seconds=3.2),
        ev.CycleFinished(cycle=2, ok=True, seconds=7.1349, stages={"hash": 0.0123}),
    ]


def printed(events: list[ev.Event]) -> list[str]:
    out = io.StringIO()
    printer = HeadlessPrinter(out, json_lines=False)
    for event in events:
        printer(event)
    return out.getvalue().splitlines()


def test_a_full_cycle_reads_line_by_line():
    assert printed(full_cycle()) == [
        "kudev: hello in /work/hello (images: hello, worker)",
        "cluster: kind-dev (kind), namespace default; images: kind load docker-image --name dev",
        "watching for changes (Ctrl-C to stop)",
        "[2] cycle started: change (/work/hello/www/page0.html, /work/hello/www/page1.html,"
        " /work/hello/www/page2.html and 2 more)",
        "[2] hash done in 0.012s",
        "[2] hello | Step 1/2 : FROM busybox:1.36",
        "[2] hello ! no space left",
        "[2] build hello done in 2.310s: hello:kudev-1a2b3c4d",
        "[2] build worker skipped in 0.001s",
        "[2] load hello done in 1.200s: hello:kudev-1a2b3c4d",
        "[2] image ready: hello:kudev-1a2b3c4d (built)",
        "[2] image ready: worker:kudev-1a2b3c4d (reused)",
        "[2] apply done in 0.410s: deployment/hello",
        "[2] rollout deployment/hello: 1/1 ready",
        "[2] ready done in 3.200s",
        "[2] cycle ok in 7.13s",
    ]


def test_failed_and_cancelled_cycles():
    assert printed(
        [
            ev.CycleStarted(cycle=1, reason="initial"),
            ev.StageFinished(cycle=1, stage="build", seconds=0.5, ok=False, image="hello"),
            ev.ErrorReported(
                cause="build failed at Step 2/2 : COPY www/ /www/: no such file",
                remedy="check the Dockerfile",
                where="Dockerfile:2:1",
                cycle=1,
                stage="build",
            ),
            ev.CycleFinished(cycle=1, ok=False, seconds=0.5),
            ev.CycleStarted(cycle=2, reason="change", changed=(f"{ROOT}/a",), changed_total=1),
            ev.CycleFinished(cycle=2, ok=False, cancelled=True, seconds=0.25),
        ]
    ) == [
        "[1] cycle started: initial",
        "[1] build hello failed in 0.500s",
        "error: Dockerfile:2:1: build failed at Step 2/2 : COPY www/ /www/: no such file",
        "  hint: check the Dockerfile",
        "[1] cycle FAILED in 0.50s",
        "[2] cycle started: change (/work/hello/a)",
        "[2] cycle cancelled (newer change) in 0.25s",
    ]


def test_the_deploy_side_and_notices():
    pod = ev.PodRow(
        name="hello-1",
        phase="Running",
        ready="0/1",
        restarts=2,
        created=0,
        image_tag=TAG,
        reason="CrashLoopBackOff",
    )
    assert printed(
        [
            ev.Notice(message="config reloaded"),
            ev.Notice(message="inotify limit low", level="warning"),
            ev.PodsChanged(pods=(pod,)),
            ev.PodsChanged(pods=(pod,)),  # nothing new: not printed twice
            ev.PodsChanged(pods=()),
            ev.LogLine(pod="hello-1", container="app", line="listening"),
            ev.PodDiagnosis(
                cycle=3,
                pod="hello-1",
                container="app",
                reason="CrashLoopBackOff",
                message="back-off restarting",
                exit_code=1,
                last_logs=("panic: boom",),
            ),
            ev.PortForwardState(local=8080, remote=80, target="pod/hello-1", active=True),
            ev.PortForwardState(local=8080, remote=80, target="", active=False),
            ev.PortForwardState(local=8080, remote=80, target="", active=False, error="in use"),
            ev.ErrorReported(cause="cluster unreachable", retrying=True),
            ev.WatchState(watching=False),
            ev.SessionEnded(ok=True, reason="stopped"),
        ]
    ) == [
        "config reloaded",
        "warning: inotify limit low",
        "pods: hello-1 Running CrashLoopBackOff 0/1 restarts=2 kudev-1a2b3c4d",
        "pods: none",
        "hello-1/app | listening",
        "[3] hello-1/app: CrashLoopBackOff (exit code 1): back-off restarting",
        "    panic: boom",
        "port-forward 127.0.0.1:8080 -> pod/hello-1:80",
        "port-forward 127.0.0.1:8080: waiting for a ready pod",
        "port-forward 127.0.0.1:8080: in use",
        "error: cluster unreachable",
        "  (retrying)",
        "watching paused",
    ]


def test_stage_started_and_session_ended_print_nothing():
    assert format_event(ev.StageStarted(cycle=1, stage="build")) is None
    assert format_event(ev.SessionEnded(ok=True)) is None


def test_json_lines_carry_every_event():
    out = io.StringIO()
    printer = HeadlessPrinter(out, json_lines=True)
    for event in full_cycle():
        printer(event)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(full_cycle())
    assert lines[4].startswith('{"type":"stage_finished","ts":')


def test_the_initial_scan_says_which_context_it_hashes():
    # A context of gigabytes hashes for seconds before the session starts: the line says why.
    scan = ev.ContextScan(image="hello", root=ROOT)
    assert printed([scan]) == [f"hashing the build context of hello ({ROOT})"]

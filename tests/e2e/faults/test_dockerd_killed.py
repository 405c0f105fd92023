"""dockerd killed (SIGKILL) in the middle of a build, then started again.

Must hold: a one-line cause; retries with backoff; the next build succeeds; no half-tagged
image (the tag is absent or complete); the old pods keep serving (the port-forward answers
throughout, as it needs no Docker).

The shared dockerd is never touched: this case starts a Docker Engine of its own (own
socket, data root, exec root and pid file, no iptables, its own managed containerd, and a
bridge of its own that it made, since BuildKit's RUN needs one), loads the busybox base
into it from the shared one, and points kudev at it
with DOCKER_HOST. Images reach the rig by the rig's registry, as for every other case.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kudev import events as ev
from tests.e2e.faults.faultlib import (
    descendants,
    make_engine,
    record,
    seconds_until,
    write_numbered_app,
)
from tests.e2e.faults.test_control_plane_restarts import Prober
from tests.e2e.faults.test_registry_down import _story
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e

SLOW_STEP = "RUN if [ -e /www/slow ]; then sleep 20; fi\n"


class OwnDockerd:
    def __init__(self, folder: Path, bridge: str) -> None:
        self.folder = folder
        self.socket = folder / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.argv = [
            shutil.which("dockerd") or "/usr/sbin/dockerd",
            "--host",
            self.host,
            "--data-root",
            str(folder / "data"),
            "--exec-root",
            str(folder / "exec"),
            "--pidfile",
            str(folder / "docker.pid"),
            f"--bridge={bridge}",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "dockerd.log"
        self.seen: dict[int, psutil.Process] = {}  # every process it ran, for the cleanup

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        seconds_until(self.answers, 60, f"own dockerd on {self.socket}", interval=0.2)
        self._note_processes()

    def _note_processes(self) -> None:
        """psutil.Process objects remember their start time: a pid reused later by some
        other process is never signalled."""
        assert self.proc is not None
        for pid in (self.proc.pid, *(pid for pid, _ in descendants(self.proc.pid))):
            with contextlib.suppress(psutil.NoSuchProcess):
                self.seen.setdefault(pid, psutil.Process(pid))

    def answers(self) -> bool:
        return self.docker("version", check=False).returncode == 0

    def docker(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "--host", self.host, *args], capture_output=True, check=check, **kw
        )

    def kill9(self) -> None:
        assert self.proc is not None
        self._note_processes()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self._note_processes()
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        # Its containerd (and shims) may outlive a SIGKILLed dockerd: end exactly those.
        for process in self.seen.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()  # psutil checks it is still the same process
        subprocess.run(["umount", "-R", str(self.folder / "data")], capture_output=True)


@pytest.fixture
def own_dockerd(docker_client) -> Iterator[OwnDockerd]:
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is missing (Debian package docker.io)")
    folder = Path(tempfile.mkdtemp(prefix="kd-", dir="/tmp"))  # a short unix socket path
    bridge = f"kdf{folder.name[-5:].lower()}"
    subnet = f"10.219.{sum(folder.name.encode()) % 200 + 10}"
    for cmd in (
        ["ip", "link", "add", bridge, "type", "bridge"],
        ["ip", "addr", "add", f"{subnet}.1/24", "dev", bridge],
        ["ip", "link", "set", bridge, "up"],
    ):
        subprocess.run(cmd, check=True, capture_output=True)
    daemon = OwnDockerd(folder, bridge)
    try:
        daemon.start()
        saved = subprocess.run(["docker", "save", "busybox:1.36"], capture_output=True, check=True)
        daemon.docker("load", input=saved.stdout)
        yield daemon
    finally:
        daemon.stop()
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_dockerd_killed_mid_build_is_retried_and_the_app_keeps_serving(
    tmp_path, rig_env, namespace, app_name, own_dockerd, monkeypatch, isolated_cache
):
    monkeypatch.setenv("DOCKER_HOST", own_dockerd.host)
    root = write_numbered_app(tmp_path / app_name, app_name, namespace, dockerfile_extra=SLOW_STEP)
    from kudev.config import load_config

    port = load_config(root / ".kudev.yaml").local_port
    log, changes = EventLog(), ScriptedChanges()
    engine = make_engine(root, log, changes, isolated_cache)
    with RunningEngine(engine), Prober(port) as prober:
        assert log.cycle_finished(1, timeout=180).ok
        log.wait_for(lambda e: isinstance(e, ev.PortForwardState) and e.active, 60)
        seconds_until(lambda: any(ok for _, ok in prober.samples), 30, "the first answer")
        serving_since = time.monotonic()
        (root / "www" / "slow").write_text("take your time\n")
        changes.send(root / "www" / "slow")
        log.wait_for(
            lambda e: isinstance(e, ev.StageStarted) and e.stage == "build" and e.cycle == 2, 60
        )
        time.sleep(2)  # inside the slow RUN step
        own_dockerd.kill9()
        killed = time.monotonic()
        error = log.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.cycle >= 2, 60)
        time.sleep(4)  # a few retries against no daemon
        own_dockerd.start()
        back, back_wall = time.monotonic(), time.time()
        tags_after_restart = _kudev_tags(own_dockerd, app_name)
        half_tagged = [t for t in tags_after_restart if not _complete(own_dockerd, t)]
        try:
            ok = log.wait_for(
                lambda e: isinstance(e, ev.CycleFinished) and e.ok and e.cycle > 2, 120
            )
        except AssertionError:
            raise AssertionError(_story(log)) from None
        recovered_s = time.monotonic() - back
        gap = prober.longest_gap(since=serving_since)
        answered = [ok_ for at, ok_ in prober.samples if at >= serving_since]
    errors = [e for e in log.of(ev.ErrorReported) if e.cycle >= 2]
    tries = [e for e in log.of(ev.CycleStarted) if e.cycle > 2]
    retried = next(e for e in tries if e.ts >= back_wall)
    rebuild_s = next(
        e.seconds for e in log.of(ev.StageFinished) if e.cycle == ok.cycle and e.stage == "build"
    )
    record(
        "dockerd-killed-mid-build",
        cause=error.cause,
        retrying=error.retrying,
        errors=len(errors),
        retry_cycles=len(tries),
        gaps_between_tries_s=[
            round(b.ts - a.ts, 1) for a, b in zip(tries, tries[1:], strict=False)
        ],
        daemon_down_s=round(back - killed, 1),
        retry_started_after_daemon_back_s=round(retried.ts - back_wall, 1),
        recovered_after_daemon_back_s=round(recovered_s, 1),
        of_which_rebuild_with_20s_step_s=round(rebuild_s, 1),
        recovered_in_cycle=ok.cycle,
        tags_after_restart=len(tags_after_restart),
        half_tagged=len(half_tagged),
        forward_longest_gap_s=round(gap, 2),
        forward_answers=f"{sum(answered)}/{len(answered)}",
    )
    assert "\n" not in error.cause and error.cause, error
    assert error.retrying, error
    assert not half_tagged, half_tagged
    assert all(answered), f"the old pods stopped answering (longest gap {gap:.1f} s)"


def _kudev_tags(daemon: OwnDockerd, name: str) -> list[str]:
    out = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}", name, text=True)
    return [t for t in out.stdout.split() if ":kudev-" in t]


def _complete(daemon: OwnDockerd, tag: str) -> bool:
    """The tag names an image whose every layer is there: it can be saved whole."""
    saved = daemon.docker("save", tag, check=False)
    return saved.returncode == 0 and len(saved.stdout) > 0

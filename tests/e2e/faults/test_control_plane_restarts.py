"""The API server, then the kubelet, restarted under a running session.

The pod watch, the log streams and the port-forward must come back by themselves: no line
lost, none repeated, the forward answering within 5 s of the component being back, and the
pod watch seeing a pod that is created after the outage.
"""

from __future__ import annotations

import threading
import time

import pytest

from kudev import events as ev
from tests.e2e.faults.faultlib import (
    LINES_PER_S,
    count_lines,
    http_answers,
    last_line_number,
    make_engine,
    record,
    restart_rig_daemon,
    seconds_until,
    write_numbered_app,
)
from tests.enginelib import EventLog, RunningEngine, ScriptedChanges

pytestmark = pytest.mark.e2e

FORWARD_BACK_S = 5  # the bound, from the component being healthy again


class Prober:
    """GETs the forwarded port every 0.2 s on its own thread; keeps (time, answered)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-prober", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), http_answers(self.port, timeout=1)))
            self._stop.wait(0.2)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def first_answer_after(self, t: float, timeout: float) -> float:
        """Seconds from `t` to the first answer at or after `t`."""
        seconds_until(
            lambda: any(ok and at >= t for at, ok in self.samples), timeout, "port-forward"
        )
        return next(at for at, ok in self.samples if ok and at >= t) - t

    def longest_gap(self, since: float = 0.0) -> float:
        """The longest time without an answer after `since` (monotonic seconds)."""
        gaps, down_since = [0.0], None
        for at, ok in self.samples:
            if at < since:
                continue
            if not ok and down_since is None:
                down_since = at
            if ok and down_since is not None:
                gaps.append(at - down_since)
                down_since = None
        return max(gaps)


def _new_pod(event: ev.PodsChanged, old: str) -> str:
    return next((p.name for p in event.pods if p.name != old), "")


@pytest.mark.parametrize("daemon", ["kube-apiserver", "kubelet"])
def test_live_streams_recover_from_a_restart(
    daemon, tmp_path, rig_env, rig_daemons, namespace, app_name, core_v1, isolated_cache
):
    root = write_numbered_app(tmp_path / app_name, app_name, namespace)
    from kudev.config import load_config

    port = load_config(root / ".kudev.yaml").local_port
    log, changes = EventLog(), ScriptedChanges()
    engine = make_engine(root, log, changes, isolated_cache)
    with RunningEngine(engine):
        assert log.cycle_finished(1, timeout=180).ok
        log.wait_for(lambda e: isinstance(e, ev.PortForwardState) and e.active, 60)
        first = log.wait_for(lambda e: isinstance(e, ev.LogLine) and e.line.startswith("line"))
        pod = first.pod
        seconds_until(lambda: http_answers(port), 30, "first answer")
        time.sleep(2)  # a few lines before the outage
        with Prober(port) as prober:
            before = last_line_number(log.events, pod)
            started = time.monotonic()
            restart_rig_daemon(daemon)
            back = time.monotonic()
            forward_s = prober.first_answer_after(back, timeout=30)
            logs_s = seconds_until(
                lambda: last_line_number(log.events, pod) > before + (back - started) * 5,
                30,
                "the log stream past the outage",
            )
            time.sleep(3)  # lines after the outage, to count across it
            outage_gap = prober.longest_gap()
        # The pod watch: a pod made after the outage shows up, and its logs follow.
        # (The controller-manager recovers from the outage too, at its own pace: the lag
        # is timed from the pod's creation, which is what the watch can see.)
        core_v1.delete_namespaced_pod(pod, namespace, grace_period_seconds=1)
        seen = log.wait_for(lambda e: isinstance(e, ev.PodsChanged) and _new_pod(e, pod), 120)
        new_pod = _new_pod(seen, pod)
        created = core_v1.read_namespaced_pod(new_pod, namespace).metadata.creation_timestamp
        watch_s = seen.ts - created.timestamp()
        log.wait_for(lambda e: isinstance(e, ev.LogLine) and e.pod == new_pod, 60)
    counts = count_lines(log.events)
    old = counts[pod]
    record(
        f"restart-{daemon}",
        outage_s=round(back - started, 1),
        forward_back_s=round(forward_s, 2),
        forward_longest_gap_s=round(outage_gap, 1),
        logs_back_s=round(logs_s, 2),
        new_pod_seen_after_creation_s=round(watch_s, 2),
        lines=str(old),
        lines_lost=old.lost,
        lines_repeated=old.repeated,
    )
    assert old.lost == 0 and old.repeated == 0, str(old)
    assert old.last - before >= (back - started) * LINES_PER_S * 0.5, "too few lines after"
    assert forward_s < FORWARD_BACK_S, f"port-forward answered {forward_s:.1f} s after"
    assert watch_s < 5, f"the pod watch saw a new pod {watch_s:.1f} s after it was made"
    assert counts[new_pod].lost == 0 and counts[new_pod].repeated == 0

"""A container printing 20,000 lines a second for 60 s, followed by the real engine under
the dashboard (Textual's Pilot): kudev's memory stays bounded and the dashboard still
answers keys. RSS is this process's (engine, dashboard and pytest), sampled every second."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from kudev import events as ev
from kudev.app import make_app
from kudev.config import load_config
from kudev.engine.loop import Engine
from kudev.project import Project
from kudev.session import SessionOptions
from tests.e2e.faults.faultlib import record, rss_kib, write_numbered_app
from tests.enginelib import ScriptedChanges

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

LINES_PER_S = 20_000
FLOOD_S = 60
# 2,000 numbered lines every 0.1 s; the log pane and the event feed must not keep them all.
FLOOD_RUN = f"""\
#!/bin/sh
trap 'exit 0' TERM
httpd -f -p 8080 -h /www &
echo "flood starting"
n=1
end=$(( $(date +%s) + {FLOOD_S} ))
while [ "$(date +%s)" -lt "$end" ]; do
  seq $n $((n + {LINES_PER_S // 10} - 1)) | sed 's/^/line /'
  n=$((n + {LINES_PER_S // 10}))
  usleep 100000
done
echo "flood done at $n"
sleep 3600
"""
RSS_BOUND_MIB = 400  # growth over the flood; a leak of 1.2 M lines would be far more
# Press to the screen shown; measured on a shared 2-core machine: median 0.44 s, max 1.43 s.
KEY_BOUND_S = 2.5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RssSampler:
    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_kib(os.getpid()))
            self._stop.wait(1)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


async def _time_key(app, pilot, key: str, screen_name: str) -> float:
    start = time.monotonic()
    await pilot.press(key)
    while type(app.screen).__name__ != screen_name:
        assert time.monotonic() - start < 30, f"{key!r} did not open {screen_name}"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_a_flood_of_logs_keeps_memory_bounded_and_keys_answered(
    tmp_path, rig_env, namespace, app_name, isolated_cache
):
    root = write_numbered_app(tmp_path / app_name, app_name, namespace, run_script=FLOOD_RUN)
    project = Project(config=load_config(root / ".kudev.yaml"), cache_dir=isolated_cache)
    changes = ScriptedChanges()
    received: list[int] = [0]

    def factory(project, options, sink):
        def counting(event: ev.Event) -> None:
            if isinstance(event, ev.LogLine):
                received[0] += 1
            sink(event)

        return Engine(project, options, counting, change_source=changes)

    app = make_app(project, SessionOptions(), engine_factory=factory)
    rss = RssSampler()
    key_times: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        deadline = time.monotonic() + 180
        while received[0] < 1000:
            assert time.monotonic() < deadline, "the flood never reached kudev"
            await asyncio.sleep(0.2)
        rss.start()
        flood_started = time.monotonic()
        while time.monotonic() - flood_started < FLOOD_S:
            key_times.append(await _time_key(app, pilot, "question_mark", "HelpScreen"))
            key_times.append(await _time_key(app, pilot, "escape", "DashboardScreen"))
            await asyncio.sleep(2)
        lines_in_flood = received[0]
        await pilot.press("q")
        await pilot.pause()
    rss.stop()
    start_mib, max_mib = rss.samples[0] / 1024, max(rss.samples) / 1024
    end_mib = rss.samples[-1] / 1024
    record(
        "log-flood-20k-per-s-60s",
        lines_received=lines_in_flood,
        lines_per_s_received=round(lines_in_flood / FLOOD_S),
        rss_start_mib=round(start_mib, 1),
        rss_max_mib=round(max_mib, 1),
        rss_end_mib=round(end_mib, 1),
        rss_growth_mib=round(max_mib - start_mib, 1),
        key_presses=len(key_times),
        key_median_s=round(sorted(key_times)[len(key_times) // 2], 3),
        key_max_s=round(max(key_times), 3),
    )
    assert max_mib - start_mib < RSS_BOUND_MIB, f"RSS grew {max_mib - start_mib:.0f} MiB"
    assert max(key_times) < KEY_BOUND_S, f"a key took {max(key_times):.2f} s"

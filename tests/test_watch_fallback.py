"""The inotify → polling fallback, through the real watchfiles and a real file change.

inotify's watch limit cannot be lowered here without touching the machine's other users
(fs.inotify.max_user_watches is global), so the OSError watchfiles raises at that limit is
injected at the watchfiles boundary; everything after it runs for real: the notice, and
the polling watcher seeing a save.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kudev.errors import KudevError
from kudev.sources.watch import watch_changes

LIMIT_ERROR = "OS file watch limit reached. about [Errno 28] No space left on device"


def _watch_with_limit(monkeypatch, fail_always: bool = False) -> list[bool]:
    import watchfiles

    real_watch = watchfiles.watch
    calls: list[bool] = []

    def limited(*paths, force_polling=False, **kw):
        calls.append(bool(force_polling))
        if not force_polling or fail_always:
            raise OSError(LIMIT_ERROR)
        yield from real_watch(*paths, force_polling=True, poll_delay_ms=50, **kw)

    monkeypatch.setattr(watchfiles, "watch", limited)
    return calls


def test_at_the_watch_limit_kudev_polls_and_still_sees_a_save(tmp_path: Path, monkeypatch):
    calls = _watch_with_limit(monkeypatch)
    (tmp_path / "main.txt").write_text("v1\n")
    stop = threading.Event()
    notices: list[tuple[str, str]] = []
    batches: list[set[str]] = []

    def watch() -> None:
        for batch in watch_changes(
            [tmp_path],
            lambda path: True,
            stop,
            quiet_ms=50,
            on_notice=lambda m, level: notices.append((m, level)),
        ):
            if batch:
                batches.append(batch)
                stop.set()

    thread = threading.Thread(target=watch, name="kudev-test-watch")
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not notices and time.monotonic() < deadline:
            time.sleep(0.02)
        # A save before the poller's first scan is no change to it: save until one is seen.
        for n in range(40):
            if not thread.is_alive():
                break
            (tmp_path / "main.txt").write_text(f"v{n + 2}" + "." * n + "\n")
            thread.join(timeout=0.5)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert calls == [False, True]  # inotify first, then polling
    message, level = notices[0]
    assert level == "warning" and "inotify watch limit reached" in message
    assert "max_user_watches" in message
    assert batches and str(tmp_path / "main.txt") in batches[0]


def test_when_polling_fails_too_the_error_says_what_to_do(tmp_path: Path, monkeypatch):
    _watch_with_limit(monkeypatch, fail_always=True)
    with pytest.raises(KudevError) as caught:
        list(watch_changes([tmp_path], lambda p: True, threading.Event(), quiet_ms=50))
    assert "cannot watch the sources" in caught.value.cause
    assert "max_user_watches" in caught.value.remedy

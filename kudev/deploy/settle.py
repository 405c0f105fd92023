"""After an interactive cycle says "ready": watch the new pods for the settle window.

A container without probes is ready the moment it starts, and one that dies a second later is
the commonest broken deploy. Holding "ready" back for the window made every cycle seconds
slower, so the window runs here, after "ready", on a thread this object owns: a crash inside it
becomes a diagnosis and an error for that cycle's ready stage.
"""

from __future__ import annotations

import threading

from kudev import events as ev
from kudev.deploy.apply import ObjectRef
from kudev.deploy.rollout import RolloutFailed, RolloutWatcher
from kudev.threads import join, start_thread


class SettleWatch:
    def __init__(self, emit: ev.EventSink) -> None:
        self.emit = emit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, rollout: RolloutWatcher, applied: list[ObjectRef], cycle: int) -> None:
        self.stop()
        self._stop = threading.Event()
        self._thread = start_thread(f"settle-{cycle}", self._run, rollout, applied, cycle)

    def stop(self) -> bool:
        self._stop.set()
        thread, self._thread = self._thread, None
        return thread is None or join(thread)

    def _run(self, rollout: RolloutWatcher, applied: list[ObjectRef], cycle: int) -> None:
        try:
            rollout.settle(applied, stop=self._stop.is_set)
        except RolloutFailed as err:
            if not self._stop.is_set():
                self.emit(ev.error_event(err, cycle=cycle, stage="ready"))
        except Exception as err:  # noqa: BLE001 - the API client raises its own types
            if not self._stop.is_set():
                self.emit(ev.Notice(f"could not watch the new pods settle: {err}", "warning"))

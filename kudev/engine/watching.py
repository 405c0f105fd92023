"""The engine's watch wiring: which paths, which filter, and the thread that feeds the inbox."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kudev import events as ev
from kudev.engine.cycle_host import ImageState
from kudev.errors import KudevError
from kudev.project import Project
from kudev.sources.watch import ChangeSource, ContextFilter, WatchFilter, watch_changes

_JOIN_S = 5


@dataclass(frozen=True)
class WatchPlan:
    """What to watch for a project whose images have these build contexts."""

    project: Project
    images: Sequence[ImageState]

    def paths(self) -> list[Path]:
        config = self.project.config
        return [*(s.context.root for s in self.images), config.path, *config.manifests]

    def paths_str(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.paths())

    def relevant(self) -> WatchFilter:
        config = self.project.config
        return WatchFilter(
            [
                ContextFilter(s.context.root, s.spec.exclusions, s.context.dockerfile)
                for s in self.images
            ],
            always=[
                config.path,
                *config.manifests,
                *(s.context.dockerfile for s in self.images),
                # beside a Dockerfile outside its context, BuildKit's per-Dockerfile ignore
                *(s.context.ignore_files[0] for s in self.images),
            ],
            ignored=[self.project.cache_dir, *self.project.own_output],
            ignore_patterns=config.watch.ignore,
            project_root=config.root,
        )


class Watcher:
    """Runs the change source on its own thread; each batch goes to `deliver`."""

    def __init__(
        self,
        change_source: ChangeSource | None,
        deliver: Callable[[frozenset[str]], None],
        emit: ev.EventSink,
    ) -> None:
        self._change_source = change_source
        self._deliver = deliver
        self._emit = emit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, plan: WatchPlan) -> None:
        self._stop = threading.Event()
        source = self._change_source or _watchfiles_source(plan.project, self._emit)
        paths, relevant, stop = plan.paths(), plan.relevant(), self._stop

        def watch() -> None:
            try:
                for batch in source(paths, relevant, stop):
                    if stop.is_set():
                        return
                    self._deliver(frozenset(batch))
            except KudevError as err:
                self._emit(ev.error_event(err))
            except Exception as err:  # noqa: BLE001 - the loop must survive a watcher failure
                self._emit(ev.error_event(err))

        self._thread = threading.Thread(target=watch, name="kudev-watch", daemon=True)
        self._thread.start()
        self._emit(ev.WatchState(watching=True, paths=plan.paths_str()))

    def restart(self, plan: WatchPlan) -> None:
        if self._thread is None:
            return
        self.stop()
        self.start(plan)

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_JOIN_S)


def _watchfiles_source(project: Project, emit: ev.EventSink) -> ChangeSource:
    def source(
        paths: list[Path], relevant: Callable[[str], bool], stop: threading.Event
    ) -> Iterable[set[str]]:
        return watch_changes(
            paths,
            relevant,
            stop,
            quiet_ms=project.config.watch.debounce_ms,
            on_notice=lambda m, level: emit(ev.Notice(m, level=level)),
        )

    return source

"""Watching the sources: which paths matter, and batches of changes from watchfiles.

The change source is injectable (`ChangeSource`): the engine takes any callable that yields
batches of changed paths, so tests can feed scripted batches; `watch_changes` is the real one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from kudev.errors import KudevError
from kudev.sources.dockerignore import (
    FolderDecisions,
    PatternMatcher,
    ignore_files,
    read_context_ignore,
)

ChangeSource = Callable[[list[Path], Callable[[str], bool], threading.Event], Iterable[set[str]]]

MAX_GROUP_MS = 5000  # longest a burst of changes is grouped before it is handed over
# A batch this large is a checkout or a generator rather than a save; it is held until the
# tree has been quiet this long, so short pauses inside a storm do not split it.
STORM_PATHS = 20
STORM_QUIET_MS = 300
INOTIFY_REMEDY = (
    "raise the limit: `sudo sysctl fs.inotify.max_user_watches=524288` "
    "(add it to /etc/sysctl.conf to keep it); kudev falls back to polling meanwhile"
)


class ContextFilter:
    """Whether a path inside a build context is part of it, by Docker's rules.

    Runs on the watcher thread, apart from the engine's BuildContext, so it keeps its own
    matcher and re-reads .dockerignore when that file changes.
    """

    def __init__(
        self, root: Path, extra: Iterable[str] = (), dockerfile: Path | None = None
    ) -> None:
        self.root = root.resolve()
        self.extra = list(extra)
        self.dockerfile = (dockerfile or self.root / "Dockerfile").resolve()
        self.ignore_files = tuple(str(p) for p in ignore_files(self.root, self.dockerfile))
        self._reload()

    def _reload(self) -> None:
        patterns = read_context_ignore(self.root, self.dockerfile) + self.extra
        self.matcher = PatternMatcher(patterns)
        self._folders = FolderDecisions(self.matcher)

    def owns(self, path: str) -> bool:
        return path == str(self.root) or path.startswith(str(self.root) + os.sep)

    def relevant(self, path: str) -> bool:
        if path in self.ignore_files:
            self._reload()
            return True
        rel = os.path.relpath(path, self.root).replace(os.sep, "/")
        info = self._folders.parent_info(rel)
        if info is None:
            return False
        excluded, _ = self.matcher.matches(rel, info)
        if not excluded:
            return True
        # An excluded folder still matters if an exception may re-include something below.
        return self.matcher.may_reinclude_below(rel)


class WatchFilter:
    """The engine's notion of a relevant change: context files, the config, manifests."""

    def __init__(
        self,
        contexts: Iterable[ContextFilter],
        always: Iterable[Path] = (),
        ignored: Iterable[Path] = (),
        ignore_patterns: Iterable[str] = (),
        project_root: Path | None = None,
    ) -> None:
        self.contexts = list(contexts)
        self.always = [str(p.resolve()) for p in always]
        self.ignored = [str(p.resolve()) for p in ignored]
        self.project_root = project_root.resolve() if project_root else None
        self.user_ignores = PatternMatcher(list(ignore_patterns))

    def __call__(self, path: str) -> bool:
        for prefix in self.ignored:
            if path == prefix or path.startswith(prefix + os.sep):
                return False
        if self._user_ignored(path):
            return False
        if self._ignore_file_changed(path):
            return True
        for watched in self.always:
            if path == watched or path.startswith(watched + os.sep):
                return True
        return any(c.owns(path) and c.relevant(path) for c in self.contexts)

    def _ignore_file_changed(self, path: str) -> bool:
        """An ignore file (which may lie outside its context) reloads its context's rules."""
        owners = [c for c in self.contexts if path in c.ignore_files]
        for context in owners:
            context.relevant(path)
        return bool(owners)

    def _user_ignored(self, path: str) -> bool:
        if self.project_root is None or not self.user_ignores.patterns:
            return False
        rel = os.path.relpath(path, self.project_root).replace(os.sep, "/")
        return not rel.startswith("..") and self.user_ignores.matches_or_parent_matches(rel)


def watch_roots(paths: Iterable[Path]) -> list[Path]:
    """The fewest existing folders covering `paths` (a file is watched through its folder)."""
    folders = sorted({(p if p.is_dir() else p.parent).resolve() for p in paths})
    roots: list[Path] = []
    for folder in folders:
        if not any(folder == r or r in folder.parents for r in roots):
            roots.append(folder)
    return roots


def watch_changes(
    paths: list[Path],
    relevant: Callable[[str], bool],
    stop: threading.Event,
    *,
    quiet_ms: int,
    on_notice: Callable[[str, str], None] | None = None,
) -> Iterator[set[str]]:
    """Batches of relevant changed paths.

    A save is handed over after `quiet_ms` without further changes. A batch of STORM_PATHS or
    more (a checkout, a generator, an unpacked archive) is held until STORM_QUIET_MS pass with
    no change at all, so a storm with short pauses still gives one cycle.
    """
    import watchfiles

    def keep(_change: watchfiles.Change, path: str) -> bool:
        return relevant(path)

    force_polling = False
    while not stop.is_set():
        try:
            batches = watchfiles.watch(
                *watch_roots(paths),
                watch_filter=keep,
                debounce=MAX_GROUP_MS,
                step=quiet_ms,
                stop_event=stop,
                rust_timeout=max(STORM_QUIET_MS, quiet_ms),
                yield_on_timeout=True,
                raise_interrupt=False,
                force_polling=force_polling,
                ignore_permission_denied=True,
            )
            yield from _fold_storms({path for _change, path in batch} for batch in batches)
            return
        except OSError as err:
            if force_polling or "watch limit" not in str(err).lower():
                raise KudevError(f"cannot watch the sources: {err}", INOTIFY_REMEDY) from err
            force_polling = True
            if on_notice:
                on_notice(f"inotify watch limit reached ({err}); {INOTIFY_REMEDY}", "warning")


def _fold_storms(
    batches: Iterable[set[str]], clock: Callable[[], float] = time.monotonic
) -> Iterator[set[str]]:
    """Pass small batches on at once; hold a storm until an empty batch (a quiet spell) comes.

    An empty batch is the watcher's "nothing for STORM_QUIET_MS". A storm is also handed over
    once it has been held for MAX_GROUP_MS, so a tree that never stops changing still builds.
    """
    held: set[str] = set()
    since = 0.0
    for batch in batches:
        if batch and not held:
            since = clock()
        held |= batch
        if not held:
            continue
        storm = len(held) >= STORM_PATHS
        if not batch or not storm or clock() - since >= MAX_GROUP_MS / 1000:
            yield held
            held = set()

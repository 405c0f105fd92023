"""The build context: exactly the files Docker would send, and an incremental content hash.

`BuildContext` walks a context folder with Docker's .dockerignore rules, keeps a per-folder
Merkle tree of digests (so one changed file rehashes one path of folders, not the tree) and a
persisted per-file digest cache keyed by (size, mtime_ns, inode), so a restart stats the tree
but rereads only files that changed. The tree lives in `tree`, the cache in `digest_cache`,
and the (possibly parallel) file reading in `readers`; this module walks and decides.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

# The module, not its names: file reads go through one attribute a test can watch.
from kudev.sources import readers
from kudev.sources.digest_cache import DigestCache
from kudev.sources.dockerignore import (
    FolderDecisions,
    MatchInfo,
    PatternMatcher,
    ignore_files,
    read_context_ignore,
)
from kudev.sources.tree import ContextTree, FileEntry, length_prefixed

HASH_VERSION = b"kudev-context-v1"


class BuildContext:
    """One image's build context: its file set, digests, and content tag."""

    def __init__(
        self,
        root: Path,
        dockerfile: Path,
        *,
        extra_exclusions: Iterable[str] = (),
        build_args: Iterable[tuple[str, str]] = (),
        target: str = "",
        cache_dir: Path | None = None,
        left_out: Iterable[Path] = (),
        stop: readers.StopFlag | None = None,
    ) -> None:
        self.root = root.resolve()
        # Set by the session's stop: reading ends with readers.HashStopped, whatever is left.
        self.stop = stop
        # Exact files kept out whatever the patterns say (kudev's own log: kudev/own_output.py).
        self.left_out = frozenset(
            rel for rel in (self.relative(p) for p in left_out) if rel is not None
        )
        self.dockerfile = dockerfile.resolve()
        self.extra_exclusions = tuple(extra_exclusions)
        self.build_args = tuple(sorted(build_args))
        self.target = target
        self.ignore_files = ignore_files(self.root, self.dockerfile)
        cache_path = None
        if cache_dir is not None:
            key = hashlib.sha256(os.fsencode(str(self.root))).hexdigest()[:16]
            cache_path = cache_dir / "digests" / f"{key}.json"
        self.cache = DigestCache(cache_path)
        self.tree = ContextTree()
        self.matcher = PatternMatcher([])
        self._folders = FolderDecisions(self.matcher)
        self._dockerfile_digest = b""

    # -- patterns ---------------------------------------------------------------------------

    def patterns(self) -> list[str]:
        return read_context_ignore(self.root, self.dockerfile) + list(self.extra_exclusions)

    def _reload_patterns(self) -> None:
        self.matcher = PatternMatcher(self.patterns())
        self._folders = FolderDecisions(self.matcher)

    def dockerfile_in_context(self) -> str | None:
        """The Dockerfile's path inside the context, or None when it lies outside."""
        try:
            return self.dockerfile.relative_to(self.root).as_posix()
        except ValueError:
            return None

    # -- scanning ---------------------------------------------------------------------------

    def scan(self) -> None:
        """Walk the whole context (cold, or warm with the persisted digest cache)."""
        self._reload_patterns()
        self.tree = ContextTree()
        # With nothing cached every file must be read anyway: skip the walk's stat and let
        # the (parallel) readers stat, so the walk and the hashing overlap.
        cold = not self.cache.entries
        live: set[str] = set()
        with readers.EntryReader(self.stop) as reader:
            for cand in self._walk(str(self.root), "", MatchInfo(), stat_files=not cold):
                live.add(cand.rel)
                self._take(cand, reader)
            for cand, entry in reader.results():
                self._record(cand, entry)
        self._dockerfile_digest = self._read_dockerfile_digest()
        for rel in [r for r in self.cache.entries if r not in live]:
            self.cache.forget(rel)

    def _take(self, cand: readers.Candidate, reader: readers.EntryReader) -> bool:
        cached = None
        if cand.st is not None:
            cached = self.cache.lookup(cand.rel, cand.st, time.time_ns())
        if cached is None:
            reader.add(cand)
            return False
        return self.tree.put(cand.rel, cached)

    def _record(self, cand: readers.Candidate, entry: FileEntry | None) -> bool:
        if entry is None:
            return False
        self.cache.store(cand.rel, entry)
        return self.tree.put(cand.rel, entry)

    def _walk(
        self, folder: str, prefix: str, info: MatchInfo, stat_files: bool = True
    ) -> Iterator[readers.Candidate]:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            rel = prefix + entry.name
            excluded, child_info = self.matcher.matches(rel, info)
            try:
                # DirEntry types come from readdir's d_type: no system call.
                is_dir = entry.is_dir(follow_symlinks=False)
                wanted = not is_dir and (entry.is_symlink() or entry.is_file(follow_symlinks=False))
                st = entry.stat(follow_symlinks=False) if wanted and stat_files else None
            except FileNotFoundError:
                continue
            if is_dir:
                if self._folders.record(rel, excluded, child_info):
                    continue
                if not excluded:
                    self.tree.put_folder(rel)
                yield from self._walk(entry.path, rel + "/", child_info, stat_files)
            elif wanted and not excluded and rel not in self.left_out:
                yield readers.Candidate(rel, entry.path, st)

    def _hash_candidates(self, candidates: Iterable[readers.Candidate]) -> bool:
        changed = False
        with readers.EntryReader(self.stop) as reader:
            for cand in candidates:
                changed |= self._take(cand, reader)
            for cand, entry in reader.results():
                changed |= self._record(cand, entry)
        return changed

    def _read_dockerfile_digest(self) -> bytes:
        try:
            return readers.file_digest(str(self.dockerfile))
        except FileNotFoundError:
            return b""

    # -- incremental updates ----------------------------------------------------------------

    def relative(self, path: str | Path) -> str | None:
        """`path` relative to the context root with slashes, or None when outside it."""
        rel = os.path.relpath(os.path.abspath(path), self.root)
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return None
        return rel.replace(os.sep, "/")

    def update(self, paths: Iterable[str | Path]) -> bool:
        """Apply changed paths (absolute); returns whether the content digest changed."""
        before = self.digest()
        paths = list(paths)
        if any(Path(p).resolve() in self.ignore_files for p in paths):
            self.scan()
            return self.digest() != before
        for path in paths:
            if Path(path).resolve() == self.dockerfile:
                self._dockerfile_digest = self._read_dockerfile_digest()
            rel = self.relative(path)
            if rel is not None:
                self._update_one(rel)
        return self.digest() != before

    def _update_one(self, rel: str) -> None:
        path = os.path.join(self.root, rel)
        state = self._folders.parent_info(rel)
        if state is None:  # below a folder Docker skips entirely
            return
        excluded, info = self.matcher.matches(rel, state)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            if self.tree.remove(rel):
                self._forget_below(rel)
            return
        if stat.S_ISDIR(st.st_mode):
            # A folder moved in (or replaced) may be reported without its files: rescan it;
            # the digest cache keeps that to a stat per unchanged file.
            self.tree.remove(rel)
            if not self._folders.record(rel, excluded, info):
                if not excluded:
                    self.tree.put_folder(rel)
                self._hash_candidates(list(self._walk(path, rel + "/", info)))
            return
        regular = stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)
        if excluded or not regular or rel in self.left_out:
            self.tree.remove(rel)
            return
        self._hash_candidates([readers.Candidate(rel, path, st)])

    def _forget_below(self, rel: str) -> None:
        prefix = rel + "/"
        for key in [k for k in self.cache.entries if k == rel or k.startswith(prefix)]:
            self.cache.forget(key)
        self._folders.forget_below(rel)

    # -- results ----------------------------------------------------------------------------

    def files(self) -> list[str]:
        """Context files and symlinks, sorted: what `kudev hash --files` prints."""
        return [rel for rel, entry in self.tree.entries() if entry is not None]

    def folders(self) -> list[str]:
        return [rel for rel, entry in self.tree.entries() if entry is None]

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(length_prefixed(HASH_VERSION))
        h.update(length_prefixed(self.tree.digest()))
        h.update(length_prefixed(self._dockerfile_digest))
        h.update(length_prefixed((self.dockerfile_in_context() or "").encode()))
        h.update(length_prefixed(self.target.encode()))
        for key, value in self.build_args:
            h.update(length_prefixed(key.encode()) + length_prefixed(value.encode()))
        for pattern in self.extra_exclusions:
            h.update(length_prefixed(pattern.encode()))
        return h.hexdigest()

    def tag(self, timestamp: datetime | None = None) -> str:
        return content_tag(self.digest(), timestamp)


def content_tag(digest_hex: str, timestamp: datetime | None = None) -> str:
    tag = f"kudev-{digest_hex[:8]}"
    if timestamp is not None:
        tag += timestamp.astimezone(UTC).strftime("-%Y%m%d-%H%M%S")
    return tag

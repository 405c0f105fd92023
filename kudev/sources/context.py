"""The build context: exactly the files Docker would send, and an incremental content hash.

`BuildContext` walks a context folder with Docker's .dockerignore rules, keeps a per-folder
Merkle tree of digests (so one changed file rehashes one path of folders, not the tree) and a
persisted per-file digest cache keyed by (size, mtime_ns, inode), so a restart stats the tree
but rereads only files that changed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
import struct
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kudev.sources.dockerignore import FolderDecisions, MatchInfo, PatternMatcher, read_ignore_file

HASH_VERSION = b"kudev-context-v1"
CACHE_VERSION = 1
# A file modified this close to when it was hashed may change again within the same mtime
# tick without its signature changing (git's "racily clean" problem): never trust those.
_RACY_NS = 2_000_000_000
# Below this many unread files, hashing runs in-process: worker processes cost ~0.1 s to
# start, and threads lose to the GIL on small files (measured: 2 threads 1.7x slower).
PARALLEL_MIN_FILES = 4000
_CHUNK = 500


@dataclass(frozen=True)
class FileEntry:
    kind: str  # "f" regular file, "l" symlink
    executable: bool
    digest: bytes  # sha256 of the content, or of the link target
    size: int
    mtime_ns: int
    inode: int

    def signature(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.inode)


def _field(data: bytes) -> bytes:
    """Length-prefixed, so no two different inputs run together into the same bytes."""
    return struct.pack(">Q", len(data)) + data


class _Folder:
    __slots__ = ("children", "digest", "included")

    def __init__(self) -> None:
        self.children: dict[str, _Folder | FileEntry] = {}
        self.digest: bytes | None = None
        # False for a folder .dockerignore excludes that only holds re-included files:
        # Docker creates it implicitly, and it vanishes with its last file.
        self.included = False


class ContextTree:
    """Files and folders of a context with Merkle digests per folder."""

    def __init__(self) -> None:
        self.root = _Folder()
        self.count = 0

    def _folder(self, parts: list[str], create: bool) -> _Folder | None:
        node = self.root
        for part in parts:
            child = node.children.get(part)
            if not isinstance(child, _Folder):
                if not create:
                    return None
                if isinstance(child, FileEntry):
                    self.count -= 1
                child = node.children[part] = _Folder()
            node = child
        return node

    def _dirty(self, parts: list[str]) -> None:
        node: _Folder | FileEntry | None = self.root
        self.root.digest = None
        for part in parts:
            if not isinstance(node, _Folder):
                return
            node = node.children.get(part)
            if isinstance(node, _Folder):
                node.digest = None

    def put(self, rel: str, entry: FileEntry) -> bool:
        """Record a file; returns whether anything changed."""
        *parents, name = rel.split("/")
        folder = self._folder(parents, create=True)
        assert folder is not None
        old = folder.children.get(name)
        if old == entry:
            return False
        if isinstance(old, _Folder):
            self.count -= _count_files(old)
        elif old is None:
            self.count += 1
        folder.children[name] = entry
        self._dirty(parents)
        return True

    def put_folder(self, rel: str) -> bool:
        parts = rel.split("/")
        existed = self._folder(parts, create=False) is not None
        folder = self._folder(parts, create=True)
        assert folder is not None
        folder.included = True
        self._dirty(parts)
        return not existed

    def remove(self, rel: str) -> bool:
        *parents, name = rel.split("/")
        folder = self._folder(parents, create=False)
        if folder is None or name not in folder.children:
            return False
        old = folder.children.pop(name)
        self.count -= _count_files(old) if isinstance(old, _Folder) else 1
        self._dirty(parents)
        self._drop_implicit_folders(parents)
        return True

    def _drop_implicit_folders(self, parts: list[str]) -> None:
        while parts:
            folder = self._folder(parts, create=False)
            if folder is None or folder.included or folder.children:
                return
            *parts, name = parts
            parent = self._folder(parts, create=False)
            assert parent is not None
            del parent.children[name]

    def get(self, rel: str) -> FileEntry | _Folder | None:
        *parents, name = rel.split("/")
        folder = self._folder(parents, create=False)
        return folder.children.get(name) if folder else None

    def digest(self) -> bytes:
        return _folder_digest(self.root)

    def entries(self) -> Iterator[tuple[str, FileEntry | None]]:
        """(path, entry) in sorted order; folders come with entry None."""
        yield from _walk_tree(self.root, "")


def _count_files(folder: _Folder) -> int:
    return sum(_count_files(c) if isinstance(c, _Folder) else 1 for c in folder.children.values())


def _folder_digest(folder: _Folder) -> bytes:
    if folder.digest is not None:
        return folder.digest
    h = hashlib.sha256(b"D")
    for name in sorted(folder.children):
        child = folder.children[name]
        h.update(_field(os.fsencode(name)))
        if isinstance(child, _Folder):
            h.update(b"d-" + _folder_digest(child))
        else:
            h.update(child.kind.encode() + (b"x" if child.executable else b"-") + child.digest)
    folder.digest = h.digest()
    return folder.digest


def _walk_tree(folder: _Folder, prefix: str) -> Iterator[tuple[str, FileEntry | None]]:
    for name in sorted(folder.children):
        child = folder.children[name]
        rel = f"{prefix}{name}"
        if isinstance(child, _Folder):
            yield rel, None
            yield from _walk_tree(child, rel + "/")
        else:
            yield rel, child


class DigestCache:
    """relpath → FileEntry, persisted as JSON so a restart does not reread unchanged files."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, FileEntry] = {}
        self.dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if data.get("version") != CACHE_VERSION:
            return
        for rel, (kind, exe, digest, size, mtime, ino) in data.get("files", {}).items():
            self.entries[rel] = FileEntry(kind, bool(exe), bytes.fromhex(digest), size, mtime, ino)

    def lookup(self, rel: str, st: os.stat_result, now_ns: int) -> FileEntry | None:
        entry = self.entries.get(rel)
        if entry is None or entry.signature() != (st.st_size, st.st_mtime_ns, st.st_ino):
            return None
        if now_ns - st.st_mtime_ns < _RACY_NS:
            return None
        if entry.executable != _is_executable(st):
            return None
        return entry

    def store(self, rel: str, entry: FileEntry) -> None:
        if self.entries.get(rel) != entry:
            self.entries[rel] = entry
            self.dirty = True

    def forget(self, rel: str) -> None:
        if self.entries.pop(rel, None) is not None:
            self.dirty = True

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        files = {
            rel: [e.kind, int(e.executable), e.digest.hex(), e.size, e.mtime_ns, e.inode]
            for rel, e in self.entries.items()
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": files}))
        os.replace(tmp, self.path)
        self.dirty = False


def _is_executable(st: os.stat_result) -> bool:
    return bool(st.st_mode & 0o100)


def _file_digest(path: str) -> bytes:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def _link_digest(path: str) -> bytes:
    return hashlib.sha256(os.fsencode(os.readlink(path))).digest()


def default_cache_dir() -> Path:
    env = os.environ.get("KUDEV_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "kudev"


@dataclass(frozen=True)
class _Candidate:
    rel: str
    path: str
    st: os.stat_result | None  # None: not stat'ed yet (a cold scan leaves it to the reader)


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
    ) -> None:
        self.root = root.resolve()
        self.dockerfile = dockerfile.resolve()
        self.extra_exclusions = tuple(extra_exclusions)
        self.build_args = tuple(sorted(build_args))
        self.target = target
        self.ignore_file = self.root / ".dockerignore"
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
        return read_ignore_file(self.ignore_file) + list(self.extra_exclusions)

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
        with _EntryReader() as reader:
            for cand in self._walk(str(self.root), "", MatchInfo(), stat_files=not cold):
                live.add(cand.rel)
                self._take(cand, reader)
            for cand, entry in reader.results():
                self._record(cand, entry)
        self._dockerfile_digest = self._read_dockerfile_digest()
        for rel in [r for r in self.cache.entries if r not in live]:
            self.cache.forget(rel)

    def _take(self, cand: _Candidate, reader: _EntryReader) -> bool:
        cached = None
        if cand.st is not None:
            cached = self.cache.lookup(cand.rel, cand.st, time.time_ns())
        if cached is None:
            reader.add(cand)
            return False
        return self.tree.put(cand.rel, cached)

    def _record(self, cand: _Candidate, entry: FileEntry | None) -> bool:
        if entry is None:
            return False
        self.cache.store(cand.rel, entry)
        return self.tree.put(cand.rel, entry)

    def _walk(
        self, folder: str, prefix: str, info: MatchInfo, stat_files: bool = True
    ) -> Iterator[_Candidate]:
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
            elif wanted and not excluded:
                yield _Candidate(rel, entry.path, st)

    def _hash_candidates(self, candidates: Iterable[_Candidate]) -> bool:
        changed = False
        with _EntryReader() as reader:
            for cand in candidates:
                changed |= self._take(cand, reader)
            for cand, entry in reader.results():
                changed |= self._record(cand, entry)
        return changed

    def _read_dockerfile_digest(self) -> bytes:
        try:
            return _file_digest(str(self.dockerfile))
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
        if any(Path(p).resolve() == self.ignore_file for p in paths):
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
        if excluded or not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            self.tree.remove(rel)
            return
        self._hash_candidates([_Candidate(rel, path, st)])

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
        h.update(_field(HASH_VERSION))
        h.update(_field(self.tree.digest()))
        h.update(_field(self._dockerfile_digest))
        h.update(_field((self.dockerfile_in_context() or "").encode()))
        h.update(_field(self.target.encode()))
        for key, value in self.build_args:
            h.update(_field(key.encode()) + _field(value.encode()))
        for pattern in self.extra_exclusions:
            h.update(_field(pattern.encode()))
        return h.hexdigest()

    def tag(self, timestamp: datetime | None = None) -> str:
        return content_tag(self.digest(), timestamp)


def content_tag(digest_hex: str, timestamp: datetime | None = None) -> str:
    tag = f"kudev-{digest_hex[:8]}"
    if timestamp is not None:
        tag += timestamp.astimezone(UTC).strftime("-%Y%m%d-%H%M%S")
    return tag


class _EntryReader:
    """Reads and hashes candidates: in-process for a few, in worker processes for many.

    Chunks go to the workers while the walk is still producing more, so walking and
    hashing overlap. Results come back in the order the candidates were added.
    """

    def __init__(self) -> None:
        self.workers = min(os.cpu_count() or 1, 4)
        self.pending: list[_Candidate] = []
        self.futures: list[tuple[list[_Candidate], Future[list[FileEntry | None]]]] = []
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _EntryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def add(self, cand: _Candidate) -> None:
        self.pending.append(cand)
        if self.pool is None and len(self.pending) >= PARALLEL_MIN_FILES and self.workers > 1:
            # spawn, not fork: the engine has threads, and fork() would copy their locks.
            spawn = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=spawn)
        if self.pool is not None and len(self.pending) >= _CHUNK:
            self._submit()

    def _submit(self) -> None:
        assert self.pool is not None
        for i in range(0, len(self.pending), _CHUNK):
            chunk = self.pending[i : i + _CHUNK]
            self.futures.append((chunk, self.pool.submit(_read_chunk, chunk)))
        self.pending = []

    def results(self) -> Iterator[tuple[_Candidate, FileEntry | None]]:
        if self.pool is not None and self.pending:
            self._submit()
        for chunk, future in self.futures:
            yield from zip(chunk, future.result(), strict=True)
        for cand in self.pending:
            yield cand, _read_entry(cand)


def _read_chunk(cands: list[_Candidate]) -> list[FileEntry | None]:
    return [_read_entry(c) for c in cands]


def _read_entry(cand: _Candidate) -> FileEntry | None:
    try:
        st = cand.st or os.lstat(cand.path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        if stat.S_ISLNK(st.st_mode):
            digest, kind = _link_digest(cand.path), "l"
        else:
            digest, kind = _file_digest(cand.path), "f"
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        # Docker fails the build on an unreadable file; hash the fact so the build reports it.
        digest, kind = hashlib.sha256(b"unreadable").digest(), "f"
    return FileEntry(kind, _is_executable(st), digest, st.st_size, st.st_mtime_ns, st.st_ino)

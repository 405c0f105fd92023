"""Reading context files into `FileEntry`s: content or link-target digests, stat included.

A cold scan of a large context reads in worker processes while the walk goes on. A stop
(Ctrl-C, SIGTERM) ends a read within one buffer of the file being read, in-process and in the
workers alike: a context of gigabytes would otherwise hold the session for as long as it reads.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kudev.sources.tree import FileEntry, is_executable

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as ProcessEvent

# Below this many unread files, hashing runs in-process: worker processes cost ~0.1 s to
# start, and threads lose to the GIL on small files (measured: 2 threads 1.7x slower).
PARALLEL_MIN_FILES = 4000
_CHUNK = 500
# Bytes read between two looks at the stop flag: hashing runs at ~1 GB/s, so a stop waits ~1 ms.
READ_BUFFER = 1 << 20
# How often the engine thread, waiting for a worker's chunk, looks at the stop flag.
_STOP_POLL_S = 0.1


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class HashStopped(Exception):
    """A stop was requested while files were being read: what was read so far is kept."""


# The pool's stop flag, in each worker process (set by the initializer).
_worker_stop: StopFlag | None = None


@dataclass(frozen=True)
class Candidate:
    rel: str
    path: str
    st: os.stat_result | None  # None: not stat'ed yet (a cold scan leaves it to the reader)


class EntryReader:
    """Reads and hashes candidates: in-process for a few, in worker processes for many.

    Chunks go to the workers while the walk is still producing more, so walking and
    hashing overlap. Results come back in the order the candidates were added.
    """

    def __init__(self, stop: StopFlag | None = None) -> None:
        self.workers = min(os.cpu_count() or 1, 4)
        self.stop = stop or threading.Event()
        self.pending: list[Candidate] = []
        self.futures: list[tuple[list[Candidate], Future[list[FileEntry | None]]]] = []
        self.pool: ProcessPoolExecutor | None = None
        self._pool_stop: ProcessEvent | None = None  # `stop`, as the workers can see it

    def __enter__(self) -> EntryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is None:
            return
        if exc[0] is not None and self._pool_stop is not None:
            self._pool_stop.set()  # the workers' chunks end now, not after their last file
        self.pool.shutdown(cancel_futures=True)

    def add(self, cand: Candidate) -> None:
        self._check_stop()  # per file: a walk over millions of files is long too
        self.pending.append(cand)
        if self.pool is None and len(self.pending) >= PARALLEL_MIN_FILES and self.workers > 1:
            self._start_pool()
        if self.pool is not None and len(self.pending) >= _CHUNK:
            self._submit()

    def _start_pool(self) -> None:
        # spawn, not fork: the engine has threads, and fork() would copy their locks.
        spawn = multiprocessing.get_context("spawn")
        self._pool_stop = pool_stop = spawn.Event()
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=spawn,
            initializer=_init_worker,
            initargs=(pool_stop,),
        )

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise HashStopped("stopped while hashing the build context")

    def _submit(self) -> None:
        assert self.pool is not None
        for i in range(0, len(self.pending), _CHUNK):
            chunk = self.pending[i : i + _CHUNK]
            self.futures.append((chunk, self.pool.submit(_read_chunk, chunk)))
        self.pending = []

    def results(self) -> Iterator[tuple[Candidate, FileEntry | None]]:
        if self.pool is not None and self.pending:
            self._submit()
        for chunk, future in self.futures:
            yield from zip(chunk, self._wait(future), strict=True)
        for cand in self.pending:
            yield cand, _read_entry(cand, self.stop)

    def _wait(self, future: Future[list[FileEntry | None]]) -> list[FileEntry | None]:
        """A worker's chunk, or HashStopped as soon as a stop is requested."""
        while True:
            self._check_stop()
            try:
                return future.result(timeout=_STOP_POLL_S)
            except FutureTimeout:
                continue


def _init_worker(stop: StopFlag) -> None:
    global _worker_stop
    _worker_stop = stop


def _read_chunk(cands: list[Candidate]) -> list[FileEntry | None]:
    stop = _worker_stop
    return [_read_entry(c, stop) for c in cands]


def _read_entry(cand: Candidate, stop: StopFlag | None = None) -> FileEntry | None:
    try:
        st = cand.st or os.lstat(cand.path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        if stat.S_ISLNK(st.st_mode):
            digest, kind = link_digest(cand.path), "l"
        else:
            digest, kind = file_digest(cand.path, stop), "f"
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        # Docker fails the build on an unreadable file; hash the fact so the build reports it.
        digest, kind = hashlib.sha256(b"unreadable").digest(), "f"
    return FileEntry(kind, is_executable(st), digest, st.st_size, st.st_mtime_ns, st.st_ino)


def file_digest(path: str, stop: StopFlag | None = None) -> bytes:
    """The file's SHA-256; HashStopped within READ_BUFFER bytes of `stop` being set."""
    digest = hashlib.sha256()
    buffer = _read_buffer()
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while size := f.readinto(buffer):
            digest.update(view[:size])
            if stop is not None and stop.is_set():
                raise HashStopped(f"stopped while hashing {path}")
    return digest.digest()


_buffers = threading.local()


def _read_buffer() -> bytearray:
    """This thread's READ_BUFFER, made once: a fresh zeroed MiB per file made a cold scan of
    small files ~60 % slower."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(READ_BUFFER)
    return buffer


def link_digest(path: str) -> bytes:
    return hashlib.sha256(os.fsencode(os.readlink(path))).digest()

"""A stop (Ctrl-C, SIGTERM) during hashing ends it: within one read buffer of the file being
read, in-process and in the worker processes of a cold scan, and the engine ends its session
without starting a cycle. A context of gigabytes must not hold a session that was told to stop.

The big files are sparse: gigabytes to read, nothing on disk."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from kudev import events as ev
from kudev.session import SessionOptions
from kudev.sources import readers
from kudev.sources.context import BuildContext
from tests.enginefakes import Fakes
from tests.test_engine_fakes import make_project

GIB = 1 << 30
# Far above the ~0.1 s a stop takes, far below the minute a worker ignoring it would read on.
STOP_BOUND_S = 20


def sparse(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


class TripsAfter:
    """A stop flag that is set from its `after`-th look on; counts the looks."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.looks = 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks >= self.after


def test_a_stop_ends_a_file_read_within_one_buffer(tmp_path):
    big = sparse(tmp_path / "big.bin", 4 * GIB)
    flag = TripsAfter(3)
    with pytest.raises(readers.HashStopped):
        readers.file_digest(str(big), flag)
    assert flag.looks == 3, "the stop flag is looked at once per buffer read"


def test_without_a_stop_the_chunked_read_gives_sha256(tmp_path):
    import hashlib

    data = bytes(range(256)) * (readers.READ_BUFFER // 100)  # a few buffers, not a multiple
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert readers.file_digest(str(path), threading.Event()) == hashlib.sha256(data).digest()


def test_a_stop_before_a_scan_reads_nothing(tmp_path, monkeypatch):
    root = tmp_path / "ctx"
    sparse(root / "big.bin", 4 * GIB)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    reads: list[str] = []
    real = readers.file_digest
    monkeypatch.setattr(readers, "file_digest", lambda p, stop=None: reads.append(p) or real(p))
    stop = threading.Event()
    stop.set()
    with pytest.raises(readers.HashStopped):
        BuildContext(root, root / "Dockerfile", stop=stop).scan()
    assert reads == []


def test_a_stop_mid_scan_ends_the_worker_processes_reads(tmp_path, monkeypatch):
    # The worker-process path, on files far bigger than this test waits for: a chunk (two files
    # of 64 GiB) takes a worker a minute or more to hash, so the scan ends within the bound only
    # if the workers honour the stop too.
    monkeypatch.setattr(readers, "PARALLEL_MIN_FILES", 4)
    monkeypatch.setattr(readers, "_CHUNK", 2)
    root = tmp_path / "ctx"
    for i in range(8):
        sparse(root / f"big{i}.bin", 64 * GIB)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    stop = threading.Event()
    context = BuildContext(root, root / "Dockerfile", stop=stop)
    set_at: list[float] = []
    timer = threading.Timer(1.0, lambda: set_at.append(time.monotonic()) or stop.set())
    timer.start()
    try:
        with pytest.raises(readers.HashStopped):
            context.scan()
        ended = time.monotonic()
    finally:
        timer.cancel()
    assert set_at, "the scan ended before the stop: the files were not big enough"
    assert ended - set_at[0] < STOP_BOUND_S, "the workers read on after the stop"
    assert multiprocessing.active_children() == [], "a hashing worker outlived the scan"


def test_a_stop_during_the_initial_scan_ends_the_session_before_any_cycle(tmp_path):
    project = make_project(tmp_path / "shop", "api")
    sparse(project.config.images[0].context / "data" / "big.bin", 4 * GIB)
    fakes = Fakes()
    seen: list[ev.Event] = []
    holder: dict[str, object] = {}

    def sink(event: ev.Event) -> None:
        seen.append(event)
        if isinstance(event, ev.ContextScan):
            holder["engine"].stop()  # type: ignore[attr-defined]  # Ctrl-C as the scan starts

    engine = fakes.engine(project, SessionOptions(), sink)
    holder["engine"] = engine
    assert engine.run() is False
    kinds = [type(e) for e in seen]
    assert kinds == [ev.ContextScan], kinds  # no session_started, no cycle, no error
    assert fakes.deployers == [], "the stopped session still reached for a cluster"

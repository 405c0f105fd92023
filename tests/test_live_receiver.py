"""The receiver protocol (deploy/live/receiver.py) against a real busybox sh, with no cluster:
a stand-in for the exec websocket pipes the receiver's stdin and stdout to a local process."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from kudev.deploy.live.exec import tar_of
from kudev.deploy.live.receiver import RECEIVER, Receiver
from kudev.deploy.live.sync import LiveSyncer
from kudev.threads import THREAD_PREFIX

BUSYBOX = shutil.which("busybox")


class LocalExec:
    """What Receiver uses of the kubernetes client's WSClient, over a local process."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._out = b""

    def write_stdin(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def update(self, timeout: float = 0) -> None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if ready:
            self._out += os.read(self.proc.stdout.fileno(), 65536)

    def read_channel(self, channel: int, timeout: float = 0) -> bytes:
        if channel != 1:
            return b""
        self.update(timeout)
        out, self._out = self._out, b""
        return out

    def is_open(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    if BUSYBOX is None:
        if os.environ.get("CI"):
            pytest.fail("busybox is missing: apt-get install busybox-static")
        pytest.skip("busybox is not installed")
    ws = LocalExec([BUSYBOX, "sh", "-c", RECEIVER])
    yield Receiver(ws, "local/sh")
    ws.close()


def test_one_receiver_takes_many_tars_and_deletions(receiver: Receiver, tmp_path: Path):
    source = tmp_path / "src"
    source.mkdir()
    dest = tmp_path / "container" / "www"
    for round_ in range(3):
        (source / "index.html").write_text(f"round {round_}\n" * 3000)  # beyond a pipe buffer
        (source / "b.html").write_text("b\n")
        tar, content, gone = tar_of(
            [(source / "index.html", f"{dest}/index.html"), (source / "b.html", f"{dest}/b/c")]
        )
        assert gone == [] and content > 20_000
        assert receiver.extract(tar).ok
        assert (dest / "index.html").read_text() == f"round {round_}\n" * 3000
    assert receiver.remove([f"{dest}/b/c", f"{dest}/never there"]).ok
    assert not (dest / "b" / "c").exists() and (dest / "index.html").exists()
    assert not receiver.broken


def test_a_tar_of_several_frames_arrives_whole(receiver: Receiver, tmp_path: Path, monkeypatch):
    from kudev.deploy.live import exec as exec_module

    frames: list[int] = []
    ws = receiver.ws
    real_write = ws.write_stdin
    monkeypatch.setattr(
        ws, "write_stdin", lambda data: frames.append(len(data)) or real_write(data)
    )
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(exec_module.STDIN_FRAME * 3 + 12345))
    dest = tmp_path / "container" / "big.bin"
    tar, _, _ = tar_of([(big, str(dest))])
    assert receiver.extract(tar).ok
    assert dest.read_bytes() == big.read_bytes()
    assert len(frames) == 4 and max(frames) == exec_module.STDIN_FRAME


def test_a_failed_extract_closes_the_receiver(receiver: Receiver, tmp_path: Path):
    result = receiver.extract(b"not a tar" * 100)

    assert not result.ok and receiver.broken


def test_a_file_gone_before_it_is_sent_becomes_a_deletion(tmp_path: Path):
    _, _, gone = tar_of([(tmp_path / "vanished.html", "/www/vanished.html")])

    assert gone == ["/www/vanished.html"]


def test_the_syncer_starts_and_stops_its_thread_twenty_times():
    from kubernetes import client

    api = client.ApiClient()
    for _ in range(20):
        syncer = LiveSyncer(api, "default", lambda _e: None, lambda: None)
        syncer.start()
        assert syncer.stop()
    left = [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
    assert left == []


class _Pod:
    """Just what running_containers reads of a V1Pod."""

    def __init__(self, name: str, image: str) -> None:
        from kubernetes import client

        self.metadata = client.V1ObjectMeta(name=name)
        self.spec = client.V1PodSpec(containers=[client.V1Container(name="app", image=image)])
        running = client.V1ContainerState(running=client.V1ContainerStateRunning())
        self.status = client.V1PodStatus(
            phase="Running",
            container_statuses=[
                client.V1ContainerStatus(
                    name="app", container_id="containerd://1", image=image, image_id="",
                    ready=True, restart_count=0, state=running,
                )
            ],
        )  # fmt: skip


def _syncer_on_one_pod(tmp_path: Path) -> LiveSyncer:
    """A syncer for image hello with `www → /www`, and one pod running its image."""
    from kubernetes import client

    from kudev.config.model import LiveUpdateSpec, SyncRule
    from kudev.deploy.live.sync import ImageLive

    ref = "localhost:5000/hello:kudev-1a2b3c4d"
    syncer = LiveSyncer(client.ApiClient(), "default", lambda _e: None, lambda: None)
    live = LiveUpdateSpec(sync=(SyncRule("www", "/www"),))
    syncer.set_base(ImageLive("hello", tmp_path, live), ref)
    syncer.on_pods({"hello-1": _Pod("hello-1", ref)})
    return syncer


def _syncing_on_a_thread(syncer: LiveSyncer) -> tuple[threading.Thread, list[BaseException]]:
    """One file's sync started on a thread; the list gets its SyncFailed, if any."""
    from kudev.deploy.live.sync import SyncFailed
    from kudev.deploy.live.sync_job import Sync, SyncedFile

    outcome: list[BaseException] = []

    def run() -> None:
        try:
            syncer.sync("hello", Sync(files=(SyncedFile("www/a", "/www/a"),)), 2)
        except SyncFailed as err:
            outcome.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    return worker, outcome


def test_ctrl_c_during_a_sync_reports_no_file_as_synced(monkeypatch, tmp_path: Path):
    """stop() lets a sync in flight end, closes its streams; a sync cut off is not recorded."""

    from kudev.deploy.live.sender import ContainerSender
    from kudev.deploy.live.sync import SyncFailed

    in_flight, closed = threading.Event(), threading.Event()

    def send_all(self, *_args) -> int:  # type: ignore[no-untyped-def]
        in_flight.set()
        if not closed.wait(10):  # the stream is cut when the sender is closed
            raise AssertionError("stop() never closed the streams")
        raise SyncFailed("the exec stream broke (closed by stop)", "")

    real_close = ContainerSender.close

    def close(self) -> None:  # type: ignore[no-untyped-def]
        closed.set()
        real_close(self)

    monkeypatch.setattr(ContainerSender, "send_all", send_all)
    monkeypatch.setattr(ContainerSender, "close", close)
    monkeypatch.setattr("kudev.deploy.live.sync.STOP_GRACE_S", 0.2)
    syncer = _syncer_on_one_pod(tmp_path)
    worker, outcome = _syncing_on_a_thread(syncer)
    assert in_flight.wait(5)
    assert syncer.stop()
    worker.join(5)
    assert outcome and syncer.states["hello"].count == 0


def test_an_interrupt_mid_sync_returns_at_once_and_cuts_the_sync_after_its_grace(
    monkeypatch, tmp_path: Path
):
    """interrupt() (a signal, the dashboard's q) never blocks its caller; the engine thread,
    busy sending, gets its streams closed once the grace has passed, and records nothing."""

    from kudev.deploy.live.sender import ContainerSender
    from kudev.deploy.live.sync import SyncFailed
    from kudev.deploy.live.sync_job import Sync, SyncedFile

    in_flight, closed = threading.Event(), threading.Event()

    def send_all(self, *_args) -> int:  # type: ignore[no-untyped-def]
        in_flight.set()
        if not closed.wait(10):
            raise AssertionError("interrupt() never closed the streams")
        raise SyncFailed("the exec stream broke (closed by the cutoff)", "")

    monkeypatch.setattr(ContainerSender, "send_all", send_all)
    monkeypatch.setattr(ContainerSender, "close", lambda self: closed.set())
    monkeypatch.setattr("kudev.deploy.live.sync.STOP_GRACE_S", 0.3)
    syncer = _syncer_on_one_pod(tmp_path)
    worker, outcome = _syncing_on_a_thread(syncer)
    assert in_flight.wait(5)
    syncer.interrupt()
    # Back before the streams were closed: it neither waited for the sync nor cut it at once.
    assert not closed.is_set(), "interrupt() blocked, or gave the sync in flight no grace"
    worker.join(5)
    assert not worker.is_alive() and outcome, "the sync was not cut off"
    assert syncer.states["hello"].count == 0, "a sync cut off was recorded"
    with pytest.raises(SyncFailed, match="stopping"):
        syncer.sync("hello", Sync(files=(SyncedFile("www/b", "/www/b"),)), 3)
    assert syncer.stop()
    left = [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
    assert left == []


def test_cut_ends_a_large_write_that_close_would_wait_for():
    """websocket-client's close() sends a close frame under the lock a large write holds;
    exec.cut shuts the socket under the writer, so a stop need not wait for 100 MB to go."""
    import socket
    from types import SimpleNamespace

    import websocket

    from kudev.deploy.live.exec import cut

    ours, peer = socket.socketpair()  # the peer never reads: the write blocks, as on a slow link
    ws = websocket.WebSocket(enable_multithread=True)
    ws.sock, ws.connected = ours, True
    client = SimpleNamespace(sock=ws)  # what cut reads of the kubernetes WSClient
    failed: list[BaseException] = []

    def write() -> None:
        try:
            ws.send(b"x" * (100 << 20), websocket.ABNF.OPCODE_BINARY)
        except Exception as err:  # noqa: BLE001 - whichever the socket raises
            failed.append(err)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        writer.join(0.5)
        assert writer.is_alive(), "the write did not block: the test holds nothing"
        cut(client)
        writer.join(5)
        assert not writer.is_alive() and failed, "the write went on after the cut"
        closer = threading.Thread(target=ws.close)
        closer.start()
        closer.join(5)
        assert not closer.is_alive(), "close() still waited after the cut"
    finally:
        peer.close()
        ours.close()

"""Port-forwards from 127.0.0.1 to the app's current ready pod, through the API server.

Each accepted connection is forwarded to whichever pod is ready *now*, so after a redeploy
new connections reach the new pod without kudev restarting anything. No kubectl process.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from collections.abc import Callable
from typing import Any

from kudev import events as ev
from kudev.errors import KudevError

PodPicker = Callable[[], str | None]
_BUFFER = 64 * 1024


class PortTaken(KudevError):
    """The local port is in use."""


class PortForwarder:
    def __init__(
        self,
        api_client: Any,
        namespace: str,
        local: int,
        remote: int,
        pick_pod: PodPicker,
        emit: ev.EventSink,
    ) -> None:
        from kubernetes import client

        self.core: Any = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.local, self.remote = local, remote
        self.pick_pod = pick_pod
        self.emit = emit
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._target: str | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.local))
        except OSError as err:
            listener.close()
            if err.errno == errno.EADDRINUSE:
                raise PortTaken(
                    f"local port {self.local} is already in use",
                    f"stop what listens there (`ss -ltnp 'sport = :{self.local}'`) or change "
                    "spec.localPort / portForwards in .kudev.yaml",
                ) from err
            raise
        listener.listen(16)
        self._listener = listener
        threading.Thread(
            target=self._accept_loop, name=f"kudev-pf-{self.local}", daemon=True
        ).start()
        self.retarget()

    def retarget(self) -> None:
        """Announce which pod new connections go to (called on every pod change)."""
        pod = self.pick_pod()
        if pod == self._target:
            return
        self._target = pod
        self.emit(
            ev.PortForwardState(
                local=self.local,
                remote=self.remote,
                target=f"pod/{pod}" if pod else "",
                active=pod is not None,
            )
        )

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.close()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pod = self.pick_pod()
        if pod is None:
            conn.close()
            return
        try:
            upstream, forward = self._connect(pod)
        except Exception as err:  # noqa: BLE001 - one failed connection, reported
            self.emit(
                ev.PortForwardState(
                    local=self.local,
                    remote=self.remote,
                    target=f"pod/{pod}",
                    active=False,
                    error=str(err),
                )
            )
            conn.close()
            return
        with self._lock:
            self._open.update((conn, upstream))
        try:
            _pump(conn, upstream)
        finally:
            with self._lock:
                self._open.difference_update((conn, upstream))
            for s in (conn, upstream):
                with contextlib.suppress(OSError):
                    s.close()
            with contextlib.suppress(Exception):
                forward.close()

    def _connect(self, pod: str) -> tuple[socket.socket, Any]:
        from kubernetes.stream import portforward

        forward = portforward(
            self.core.connect_get_namespaced_pod_portforward,
            pod,
            self.namespace,
            ports=str(self.remote),
        )
        upstream = forward.socket(self.remote)
        upstream.setblocking(True)
        return upstream, forward


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes."""

    def copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(_BUFFER):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=copy, args=(b, a), daemon=True)
    back.start()
    copy(a, b)
    back.join()

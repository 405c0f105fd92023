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
from kudev.threads import join, start_thread

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

        # A client of its own: the kubernetes package's port-forward swaps the `call_api` of
        # the client it is given for a websocket one while it connects, so any other call
        # made meanwhile on a shared client (the rollout's pod listing, say) went out as a
        # port-forward and failed ("Missing required parameter `ports`").
        self._own_client = client.ApiClient(configuration=api_client.configuration)
        self.core: Any = client.CoreV1Api(self._own_client)
        self.namespace = namespace
        self.local, self.remote = local, remote
        self.pick_pod = pick_pod
        self.emit = emit
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._target: str | None = None
        self._open: set[socket.socket] = set()  # both ends of every forwarded connection
        self._accept_thread: threading.Thread | None = None
        self._connection_threads: set[threading.Thread] = set()
        self._lock = threading.Lock()  # guards the two sets against stop()

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
        self._accept_thread = start_thread(f"pf-{self.local}", self._accept_loop)
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

    def stop(self) -> bool:
        """Close the listener and every forwarded connection, and join their threads;
        False if one did not end in time."""
        self._stop.set()
        ended = self._accept_thread is None or join(self._accept_thread, self._shut_listener)
        if self._listener is not None:
            self._listener.close()
        with self._lock:  # the accept thread has ended: no new connection threads
            threads = list(self._connection_threads)
        self._shut_connections()
        joined = all([join(t, self._shut_connections) for t in threads]) and ended
        with contextlib.suppress(Exception):
            self._own_client.close()
        return joined

    def _shut_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)

    def _shut_connections(self) -> None:
        # Shut down, not close: that wakes the blocked recv at once, and the serving thread
        # closes its own sockets, so no file descriptor is closed under a reader.
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._stop.is_set():
                    conn.close()
                    return
                self._open.add(conn)
                self._connection_threads = {t for t in self._connection_threads if t.is_alive()}
                thread = start_thread(f"pf-{self.local}-conn", self._serve, conn)
                self._connection_threads.add(thread)

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._forward(conn)
        finally:
            self._untrack(conn)

    def _forward(self, conn: socket.socket) -> None:
        pod = self.pick_pod()
        if pod is None:
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
            return
        try:
            with self._lock:
                if self._stop.is_set():
                    return  # stopped while connecting: stop() will not see this socket
                self._open.add(upstream)
            _pump(conn, upstream, f"pf-{self.local}-back")
        finally:
            self._untrack(upstream)
            with contextlib.suppress(Exception):
                forward.close()

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.close()

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


def _pump(a: socket.socket, b: socket.socket, name: str) -> None:
    """Copy both ways until either side closes (or is shut down by stop())."""

    def copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(_BUFFER):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    back = start_thread(name, copy, b, a)  # owned here: joined before the connection ends
    copy(a, b)
    back.join()

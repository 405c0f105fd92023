"""A TCP proxy between kudev and the API server that can cut every open connection.

TLS passes through untouched (kudev still checks the API server's certificate); `cut()`
closes both ends of each connection at once, as a dropped network or an API server
restart would, so a stream breaks mid-way rather than ending cleanly.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import yaml


class CutProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.connections = 0  # accepted so far
        self.cuts = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="test-cutproxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def cut(self) -> int:
        """Close every open connection; returns how many there were."""
        with self._lock:
            sockets, self._open = self._open, []
            self.cuts += 1
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(sockets) // 2

    def close(self) -> None:
        self._listener.close()
        self.cut()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def proxied_kubeconfig(kubeconfig: Path, proxy: CutProxy, out: Path) -> Path:
    """A copy of `kubeconfig` whose servers go through `proxy` (same host name for TLS)."""
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    out.write_text(yaml.safe_dump(config))
    return out


def api_server_of(kubeconfig: Path) -> tuple[str, int]:
    from urllib.parse import urlsplit

    config = yaml.safe_load(kubeconfig.read_text())
    url = urlsplit(config["clusters"][0]["cluster"]["server"])
    return url.hostname or "127.0.0.1", url.port or 443

"""A small in-process API server for the live streams: one ready pod, a pod watch, a followed
log and a port-forward (WebSocket, port-forward channel protocol) that echoes. Its streams
stay open until the client goes away, as a real API server's do."""

from __future__ import annotations

import base64
import hashlib
import json
import select
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

NAMESPACE = "ns"
POD = "web-1"
LOG_LINE = "2026-11-23T09:00:00.1Z hello from web-1"
WS_MAGIC = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def pod(name: str = POD) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "resourceVersion": "1",
            "creationTimestamp": "2026-11-23T09:00:00Z",
        },
        "spec": {"containers": [{"name": "app", "image": "localhost:5000/app:kudev-1"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": 0,
                    "image": "localhost:5000/app:kudev-1",
                    "imageID": "",
                    "containerID": "containerd://1",
                    "state": {"running": {"startedAt": "2026-11-23T09:00:00Z"}},
                }
            ],
        },
    }


class LiveApi(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, name="test-live-api")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> LiveApi:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LiveApi

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.server.requests.append(url.path + ("?watch" if "watch" in query else ""))
        pods = f"/api/v1/namespaces/{NAMESPACE}/pods"
        if url.path == pods and "watch" in query:
            self._stream([json.dumps({"type": "MODIFIED", "object": pod()})])
        elif url.path == pods:
            body = {"kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": [pod()]}
            self._json(body)
        elif url.path == f"{pods}/{POD}/log":
            self._stream([LOG_LINE])
        elif url.path == f"{pods}/{POD}/portforward":
            self._portforward(int(query["ports"][0]))
        else:
            self._json({"kind": "Status", "code": 404}, 404)

    def _json(self, body: dict[str, Any], code: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, lines: list[str]) -> None:
        """Chunked lines, then hold the stream open until the client closes it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in lines:
            data = (line + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        _wait_for_close(self.connection)
        self.close_connection = True

    def _portforward(self, port: int) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WS_MAGIC).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
        self.end_headers()
        self.wfile.flush()
        port_bytes = struct.pack("<H", port)
        for channel in (b"\x00", b"\x01"):  # data, error: each opens with its port number
            self.wfile.write(_frame(channel + port_bytes))
        self.wfile.flush()
        self.close_connection = True
        while (message := _read_frame(self.rfile)) is not None:
            if message[:1] == b"\x00" and len(message) > 1:  # echo what the data channel sent
                self.wfile.write(_frame(message))
                self.wfile.flush()

    def log_message(self, *_: object) -> None:
        pass


def _wait_for_close(conn: socket.socket) -> None:
    while True:
        readable, _, _ = select.select([conn], [], [], 0.05)
        if readable and not conn.recv(1024, socket.MSG_PEEK):
            return


def _frame(payload: bytes) -> bytes:
    """One unmasked binary WebSocket frame (server to client)."""
    size = len(payload)  # the echoes stay under 64 KiB: a 7- or 16-bit length suffices
    length = struct.pack("!B", size) if size < 126 else struct.pack("!BH", 126, size)
    return b"\x82" + length + payload


def _read_frame(rfile: Any) -> bytes | None:
    """One masked client frame's payload; None on close or EOF."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", rfile.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", rfile.read(8))[0]
    mask = rfile.read(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(rfile.read(size)))
    return None if opcode == 0x8 else data

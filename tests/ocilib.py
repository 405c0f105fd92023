"""Registries for the OCI tests: a real Debian docker-registry with htpasswd logins (started
per test on a free loopback port), the oras CLI, and a small fake for what no local registry
does (refusing a one-PUT upload with 301, relative upload Locations, a token service, and
serving bytes that do not match their digest)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.tools import missing_tool

ROOT = Path(__file__).resolve().parent.parent
ORAS_VERSION = "v1.3.6"
USER, PASSWORD = "kudev", "s3cret-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oras_path() -> str:
    """$KUDEV_ORAS (.ci/run exports it), else scripts/go-tool's cached build."""
    if os.environ.get("KUDEV_ORAS"):
        return os.environ["KUDEV_ORAS"]
    built = subprocess.run(
        [str(ROOT / "scripts" / "go-tool"), "oras", "oras.land/oras/cmd/oras", ORAS_VERSION],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if built.returncode != 0:
        missing_tool(f"cannot build oras {ORAS_VERSION}: {built.stderr[-500:]}")
    return built.stdout.strip()


# -- a real registry with logins ----------------------------------------------------------


@dataclass
class HtpasswdRegistry:
    host: str  # "127.0.0.1:PORT"
    log: Path
    docker_config: Path  # a folder: set DOCKER_CONFIG to it
    marks: list[int] = field(default_factory=list)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def requests_since(self, mark: int) -> list[tuple[str, str]]:
        """(method, path) of the access-log lines after line `mark`."""
        found = []
        for line in self.log_lines()[mark:]:
            match = re.search(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/', line)
            if match:
                found.append((match[1], match[2]))
        return found


def _htpasswd_line(tmp: Path) -> str:
    tool = shutil.which("htpasswd")
    if tool is None:
        missing_tool("htpasswd is missing: apt-get install apache2-utils")
    done = subprocess.run(
        [str(tool), "-nbB", USER, PASSWORD], capture_output=True, text=True, check=True
    )
    return done.stdout.strip() + "\n"


@contextmanager
def htpasswd_registry(tmp: Path) -> Iterator[HtpasswdRegistry]:
    exe = shutil.which("docker-registry")
    if exe is None:
        missing_tool("docker-registry is missing: apt-get install docker-registry")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "htpasswd").write_text(_htpasswd_line(tmp))
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: info, formatter: text}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        f"auth: {{htpasswd: {{realm: kudev-e2e, path: {tmp / 'htpasswd'}}}}}\n"
    )
    docker_config = tmp / "docker-config"
    docker_config.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    host = f"127.0.0.1:{port}"
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    log = tmp / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen([exe, "serve", str(config)], stdout=out, stderr=out)
    try:
        _wait_until_up(host, process, log)
        yield HtpasswdRegistry(host=host, log=log, docker_config=docker_config)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(host: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited:\n{log.read_text()}", pytrace=False)
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return  # up, and asking for the login
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"docker-registry did not come up on {host}:\n{log.read_text()}", pytrace=False)


# -- the fake ------------------------------------------------------------------------------


@dataclass
class FakeState:
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # ref → (type, body)
    uploads: dict[str, bytearray] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    refuse_monolithic: bool = True  # a one-PUT upload gets 301, as some registries answer
    token: str = ""  # when set: Bearer auth through /token, which wants Basic USER:PASSWORD
    corrupt_blobs: bool = False  # serve blobs that do not match their digest
    per_repository: bool = False  # a blob is in the repositories it was pushed or mounted to
    blob_repos: dict[str, set[str]] = field(default_factory=dict)
    upload_repos: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False  # the token service gives tokens without a login (Docker Hub's way)
    token_requests: list[dict[str, str]] = field(default_factory=list)  # query of each /token


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _FakeHandler(http.server.BaseHTTPRequestHandler):
    state: FakeState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _reply(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorised(self) -> bool:
        state = self.state
        if not state.token:
            return True
        if self.path.startswith("/token"):
            query = self.path.partition("?")[2]
            state.token_requests.append(dict(p.split("=", 1) for p in query.split("&") if "=" in p))
            basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if not state.anonymous and self.headers.get("Authorization") != basic:
                self._reply(401)
            else:
                self._reply(200, json.dumps({"token": state.token}).encode())
            return False
        if self.headers.get("Authorization") == f"Bearer {state.token}":
            return True
        realm = f"http://{self.headers['Host']}/token"
        challenge = f'Bearer realm="{realm}",service="fake",scope="repository:x:pull"'
        self._reply(401, headers={"WWW-Authenticate": challenge})
        return False

    def _route(self) -> None:
        self.state.log.append((self.command, self.path))
        if not self._authorised():
            return
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if m := re.fullmatch(r"/v2/(.+)/blobs/uploads/", path):
            return self._start_upload(m[1], params)
        if m := re.fullmatch(r"/v2/(.+)/uploads/([0-9a-f]+)", path):
            return self._upload(m[2], params)
        if m := re.fullmatch(r"/v2/(.+)/blobs/(sha256:[0-9a-f]{64})", path):
            return self._blob(m[1], m[2])
        if m := re.fullmatch(r"/v2/(.+)/manifests/(.+)", path):
            return self._manifest(m[2])
        self._reply(404)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _route

    def _start_upload(self, repository: str, params: dict[str, str]) -> None:
        self._body()
        mount = params.get("mount", "").replace("%3A", ":")
        if mount and params.get("from") in self.state.blob_repos.get(mount, ()):
            self.state.blob_repos[mount].add(repository)
            return self._reply(201, headers={"Docker-Content-Digest": mount})
        session = os.urandom(8).hex()
        self.state.upload_repos[session] = repository
        self.state.uploads[session] = bytearray()
        # Relative, and under another path than /blobs/uploads: clients must follow it.
        self._reply(202, headers={"Location": f"uploads/{session}?_state=abc"})

    def _upload(self, session: str, params: dict[str, str]) -> None:
        state, body = self.state, self._body()
        if session not in state.uploads:
            return self._reply(404)
        if self.command == "PATCH":
            state.uploads[session] += body
            return self._reply(202, headers={"Location": f"/v2/x/uploads/{session}?_state=def"})
        if body and state.refuse_monolithic:
            del state.uploads[session]
            return self._reply(301)
        data = bytes(state.uploads.pop(session) + body)
        if _digest(data) != params.get("digest"):
            return self._reply(400)
        state.blobs[_digest(data)] = data
        state.blob_repos.setdefault(_digest(data), set()).add(state.upload_repos.get(session, ""))
        self._reply(201, headers={"Docker-Content-Digest": _digest(data)})

    def _blob(self, repository: str, digest: str) -> None:
        data = self.state.blobs.get(digest)
        elsewhere = repository not in self.state.blob_repos.get(digest, ())
        if data is None or (self.state.per_repository and elsewhere):
            return self._reply(404)
        if self.state.corrupt_blobs:
            data = data[::-1]
        self._reply(200, data, {"Docker-Content-Digest": digest})

    def _manifest(self, reference: str) -> None:
        state = self.state
        if self.command == "PUT":
            body = self._body()
            media_type = self.headers.get("Content-Type", "")
            state.manifests[reference] = state.manifests[_digest(body)] = (media_type, body)
            return self._reply(201, headers={"Docker-Content-Digest": _digest(body)})
        if reference not in state.manifests:
            return self._reply(404)
        media_type, body = state.manifests[reference]
        headers = {"Content-Type": media_type, "Docker-Content-Digest": _digest(body)}
        self._reply(200, body, headers)


@contextmanager
def fake_registry(state: FakeState | None = None) -> Iterator[tuple[str, FakeState]]:
    """A fake registry on 127.0.0.1; yields ("127.0.0.1:PORT", its state)."""
    state = state or FakeState()
    handler = type("Handler", (_FakeHandler,), {"state": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""Building an image from a BuildContext through the Docker Engine, streaming every line.

The context tar is made by kudev from the exact file set it hashed (so what is hashed is what
is built). The request goes through the docker SDK's APIClient; kudev keeps hold of the
response socket so that a newer change can cancel a running build: the daemon stops a build
whose client disconnects.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

from kudev.build.builder import BuildCancelled, BuildResult, PreparedBuild
from kudev.build.context_tar import spooled_context_tar
from kudev.build.docker_client import unavailable
from kudev.errors import BuildFailed, KudevError
from kudev.sources.context import BuildContext

if TYPE_CHECKING:
    import docker


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    import docker as docker_mod

    try:
        client.images.get(ref)
    except docker_mod.errors.ImageNotFound:
        return False
    except docker_mod.errors.DockerException as err:
        raise unavailable(err) from err
    return True


class ImageBuilder:
    """Runs one build at a time; `cancel()` from another thread stops it."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._cancelled = False

    def describe(self) -> str:
        return "classic builder via the Docker API"

    def has_image(self, ref: str) -> bool:
        return image_exists(self.client, ref)

    def close(self) -> None:
        self.client.close()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: the build has ended
                sock.shutdown(socket.SHUT_RDWR)

    def prepare(
        self,
        ctx: BuildContext,
        ref: str,
        bases: Mapping[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> PreparedBuild:
        """Write the context tar now, so the context may change while the build runs."""
        body, dockerfile = spooled_context_tar(ctx, _rewritten(ctx, bases))
        params = {
            "t": ref,
            "dockerfile": dockerfile,
            "rm": True,
            "forcerm": True,
            "target": ctx.target or None,
            "buildargs": json.dumps(dict(ctx.build_args)),
            "buildargs_dict": dict(ctx.build_args),
            "labels": json.dumps(labels or {}),
        }
        extra = dockerfile not in set(ctx.files())
        return PreparedBuild(ref=ref, body=body, params=params, extra_dockerfile=extra)

    def run(self, prepared: PreparedBuild, on_line: Callable[[str, str], None]) -> BuildResult:
        """Send the prepared context and stream the build; safe to call from a worker thread."""
        with self._lock:
            self._cancelled = False
        try:
            params = {k: v for k, v in prepared.params.items() if k != "buildargs_dict"}
            image_id = self._stream(params, prepared.body, on_line)
        finally:
            prepared.body.close()
        return BuildResult(ref=prepared.ref, image_id=image_id, built=True)

    def build(
        self,
        ctx: BuildContext,
        ref: str,
        on_line: Callable[[str, str], None],
        labels: dict[str, str] | None = None,
    ) -> BuildResult:
        return self.run(self.prepare(ctx, ref, labels=labels), on_line)

    def _stream(self, params: dict[str, Any], body: IO[bytes], on_line: Any) -> str:
        import docker as docker_mod

        api = self.client.api
        try:
            response = api._post(  # the SDK's build() hides the response we need to cancel
                api._url("/build"),
                params=params,
                data=body,
                headers={"Content-Type": "application/x-tar"},
                stream=True,
                timeout=None,
            )
            api._raise_for_status(response)
        except docker_mod.errors.APIError as err:
            raise BuildFailed(f"the daemon refused the build: {err.explanation}", "") from err
        except (docker_mod.errors.DockerException, OSError) as err:
            raise unavailable(err) from err
        with self._lock:
            raw = api._get_raw_response_socket(response)
            # Over a unix socket the SDK hands back a SocketIO; shutdown needs the socket.
            self._socket = getattr(raw, "_sock", raw)
            if self._cancelled:
                self._socket.shutdown(socket.SHUT_RDWR)
        try:
            return _read_build_stream(api._stream_helper(response, decode=True), on_line)
        except Exception as err:
            if self._cancelled:
                raise BuildCancelled("build cancelled: a newer change arrived", "") from err
            if isinstance(err, KudevError):
                raise
            raise unavailable(err) from err
        finally:
            with self._lock:
                self._socket = None
            response.close()


def _rewritten(ctx: BuildContext, bases: Mapping[str, str] | None) -> bytes | None:
    """The Dockerfile with its FROMs of project images naming the refs just built."""
    if not bases:
        return None
    from kudev.build.image_graph import rewrite_from_lines

    text = ctx.dockerfile.read_text(errors="surrogateescape")
    return rewrite_from_lines(text, bases).encode(errors="surrogateescape")


def _read_build_stream(chunks: Any, on_line: Callable[[str, str], None]) -> str:
    image_id = ""
    step = ""
    pending = ""
    for chunk in chunks:
        if "stream" in chunk:
            pending += chunk["stream"]
            *lines, pending = pending.split("\n")
            for line in lines:
                if line.startswith("Step "):
                    step = line
                on_line(line.rstrip("\r"), "stdout")
        if "aux" in chunk and isinstance(chunk["aux"], dict):
            image_id = chunk["aux"].get("ID", image_id)
        if "error" in chunk:
            if pending:
                on_line(pending, "stdout")
            message = chunk["error"].strip()
            on_line(message, "error")
            where = f" at {step}" if step else ""
            raise BuildFailed(
                f"build failed{where}: {message}",
                "fix the step above; the last good image keeps running",
            )
    if pending:
        on_line(pending, "stdout")
    return image_id

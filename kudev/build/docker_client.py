"""Connecting to the Docker Engine, with a cause and remedy when it is not there."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kudev.errors import DockerUnavailable

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the daemon DOCKER_HOST names; DockerUnavailable when it does not answer."""
    import docker  # lazy: `kudev --help` must not pay for it

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as err:
        raise unavailable(err) from err
    return client


def unavailable(err: BaseException) -> DockerUnavailable:
    host = docker_host()
    reason = _short_reason(err)
    return DockerUnavailable(
        f"cannot reach the Docker daemon at {host} ({reason})",
        "start it: `sudo dockerd &` or `sudo systemctl start docker` on Linux, Docker Desktop "
        "elsewhere; set DOCKER_HOST if it listens on another socket",
    )


def _short_reason(err: BaseException) -> str:
    text = str(err)
    for needle, reason in (
        ("No such file or directory", "socket not found"),
        ("FileNotFoundError", "socket not found"),
        ("Connection refused", "connection refused"),
        ("Permission denied", "permission denied: add yourself to the docker group"),
        ("timed out", "timed out"),
    ):
        if needle in text:
            return reason
    return text.splitlines()[0][:160] if text else type(err).__name__

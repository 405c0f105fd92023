"""Helpers for tests that talk to the real Docker Engine."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import docker

BUSYBOX = "/bin/busybox"


def unique_name(prefix: str = "kudev-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def exported_paths(
    client: docker.DockerClient, image: str, under: str
) -> tuple[set[str], set[str]]:
    """(files and symlinks, folders) below `under` in the image's filesystem."""
    container = client.containers.create(image, command=["none"])
    try:
        blob = b"".join(container.export())
    finally:
        container.remove(force=True)
    files, folders = set(), set()
    prefix = under.strip("/") + "/"
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for member in tar.getmembers():
            name = member.name.rstrip("/")
            if not name.startswith(prefix):
                continue
            rel = name[len(prefix) :]
            (folders if member.isdir() else files).add(rel)
    return files, folders


def docker_clis() -> list[str]:
    """Every distinct docker CLI on this machine (e.g. a recent one and Debian's 20.10)."""
    seen: dict[str, str] = {}
    for candidate in (shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"):
        if candidate and os.path.exists(candidate):
            seen.setdefault(os.path.realpath(candidate), candidate)
    return list(seen.values())


def cli_build(
    cli: str, folder: Path, tag: str, buildkit: bool, dockerfile: str = "Dockerfile"
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_BUILDKIT": "1" if buildkit else "0"}
    return subprocess.run(
        [cli, "build", "-q", "-t", tag, "-f", str(folder / dockerfile), str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def busybox_image(client: docker.DockerClient, tmp: Path) -> str:
    """A base image with busybox at /bin, built from Debian's busybox-static (nothing pulled)."""
    tag = "kudev-test-busybox:1"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    folder = tmp / "busybox-base"
    folder.mkdir()
    shutil.copy(BUSYBOX, folder / "busybox")
    (folder / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    client.images.build(path=str(folder), tag=tag, rm=True)
    return tag

"""`builder: podman`: `podman build -` from kudev's context tar; no Docker Engine involved.

Rootful podman keeps its images in /var/lib/containers/storage, rootless in the user's; either
way the loaders take them from there (`podman push`, `podman save`). CONTAINERS_CONF and
CONTAINERS_STORAGE_CONF choose the cgroup manager and storage driver as for podman itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kudev.build.containers_cli import ContainersCliBuilder, ToolMissing

INSTALL_HINT = "install podman (Debian/Ubuntu: `apt-get install podman`; podman.io elsewhere)"


class PodmanBuilder(ContainersCliBuilder):
    tool = "podman"
    build_command = ("build", "--layers")

    def exists_argv(self, ref: str) -> list[str]:
        return [self.exe, "image", "exists", ref]

    def save_argv(self, ref: str, archive: Path) -> list[str]:
        return [self.exe, "save", "--format", "docker-archive", "-o", str(archive), ref]


def find_podman() -> str | None:
    return shutil.which("podman")


def make_podman() -> PodmanBuilder:
    exe = find_podman()
    if exe is None:
        raise ToolMissing("builder podman: podman is not on PATH", INSTALL_HINT)
    return PodmanBuilder(exe)

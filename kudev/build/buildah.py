"""`builder: buildah`: `buildah bud -` from kudev's context tar; no daemon at all.

Buildah shares containers-storage with podman; `buildah push` takes the image to a registry
(`docker://…`) or into a docker-archive file for the cluster's loader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kudev.build.containers_cli import ContainersCliBuilder, ToolMissing

INSTALL_HINT = "install buildah (Debian/Ubuntu: `apt-get install buildah`; buildah.io elsewhere)"


class BuildahBuilder(ContainersCliBuilder):
    tool = "buildah"
    build_command = ("bud", "--layers")

    def exists_argv(self, ref: str) -> list[str]:
        return [self.exe, "inspect", "--type", "image", ref]

    def save_argv(self, ref: str, archive: Path) -> list[str]:
        return [self.exe, "push", ref, f"docker-archive:{archive}:{ref}"]


def find_buildah() -> str | None:
    return shutil.which("buildah")


def make_buildah() -> BuildahBuilder:
    exe = find_buildah()
    if exe is None:
        raise ToolMissing("builder buildah: buildah is not on PATH", INSTALL_HINT)
    return BuildahBuilder(exe)

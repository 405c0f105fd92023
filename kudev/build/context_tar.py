"""The build context as a tar, written from the exact file set kudev hashed.

What is hashed is what is built: a file that changed since it was hashed stops the tar
(ContextChanged) instead of sending content the tag does not describe.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from typing import IO, Any

from kudev.build.builder import ContextChanged
from kudev.sources.context import BuildContext

OUTSIDE_DOCKERFILE = ".kudev.Dockerfile"
# A context tar stays in memory up to this size, then spills to a temporary file.
SPOOL_BYTES = 64 * 1024 * 1024


def spooled_context_tar(
    ctx: BuildContext, dockerfile: bytes | None = None
) -> tuple[IO[bytes], str]:
    """The context tar, rewound, and the Dockerfile's name in it; the caller closes it.

    Written now, on the engine thread, so the context may change while the build runs.
    """
    # Not a `with`: the open tar travels in PreparedBuild to the build thread.
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        name = write_context_tar(ctx, body, dockerfile)
    except BaseException:
        body.close()
        raise
    body.seek(0)
    return body, name


def write_context_tar(ctx: BuildContext, out: IO[bytes], dockerfile: bytes | None = None) -> str:
    """Write the context as Docker's client would send it; returns the Dockerfile's tar name.

    `dockerfile`, when given, is sent instead of the Dockerfile's own text (its FROM lines
    naming the exact refs of the project images it is built from: build/image_graph.py).
    """
    own = ctx.dockerfile_in_context() if dockerfile is not None else None
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, entry in ctx.tree.entries():
            path = os.path.join(ctx.root, rel)
            info = _tar_info(tar, path, rel)
            if (
                entry is not None
                and info.isreg()
                and (info.size, info.mtime) != (entry.size, _sec(entry))
            ):
                raise ContextChanged(f"{rel} changed while the build started", rel)
            if rel == own and dockerfile is not None:
                info.size = len(dockerfile)
                tar.addfile(info, io.BytesIO(dockerfile))
            else:
                _add(tar, info, path)
        return _add_dockerfile(ctx, tar, dockerfile)


def _sec(entry: Any) -> int:
    return int(entry.mtime_ns // 1_000_000_000)


def _tar_info(tar: tarfile.TarFile, path: str, rel: str) -> tarfile.TarInfo:
    try:
        info = tar.gettarinfo(path, arcname=rel)
    except FileNotFoundError as err:
        raise ContextChanged(f"{rel} vanished while the build started", rel) from err
    # Like the docker CLI: the context belongs to root inside the build.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)
    return info


def _add(tar: tarfile.TarFile, info: tarfile.TarInfo, path: str) -> None:
    if info.isreg():
        with open(path, "rb") as f:
            tar.addfile(info, f)
    else:
        tar.addfile(info)


def _add_dockerfile(ctx: BuildContext, tar: tarfile.TarFile, text: bytes | None) -> str:
    """Send the Dockerfile even when .dockerignore excludes it: the daemon must read it.

    The classic builder removes the Dockerfile and .dockerignore from the context after
    reading them when .dockerignore excludes them, so a synthetic .dockerignore naming them
    makes the image see exactly the hashed file set.
    """
    included = set(ctx.files())
    name = ctx.dockerfile_in_context() or OUTSIDE_DOCKERFILE
    if name in included:
        return name
    data = ctx.dockerfile.read_bytes() if text is None else text
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))
    if ".dockerignore" not in included:
        patterns = [*ctx.patterns(), name, ".dockerignore"]
        blob = ("\n".join(patterns) + "\n").encode()
        ignore = tarfile.TarInfo(".dockerignore")
        ignore.size, ignore.mode = len(blob), 0o644
        tar.addfile(ignore, io.BytesIO(blob))
    return name

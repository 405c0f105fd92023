"""Where a built image lives until a loader takes it to the cluster, as loaders need it.

The Docker Engine is one such store (`cluster/docker_images.py`); podman's and buildah's
containers-storage and the layer builder's blobs are others. A loader asks a store for one of
two things: push the image to a registry the cluster pulls from, or a docker-archive stream
(`docker save`'s format) for `kind load image-archive`, `k3d image import`, `ctr images
import` or `minikube image load`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

LoadLineSink = Callable[[str], None]
ARCHIVE_CHUNK = 1024 * 1024


@runtime_checkable
class ImageStore(Protocol):
    def store_name(self) -> str:
        """For people: "the Docker Engine", "podman's storage"."""
        ...

    def push_to(self, ref: str, target: str, on_line: LoadLineSink) -> str:
        """Push `ref` to `target` (HOST/REPO:TAG); returns the reference to deploy."""
        ...

    def save_archive(self, ref: str) -> Iterator[bytes]:
        """The image as a docker-archive stream that names `ref`."""
        ...

    def pushed_digests(self, ref: str, name: str) -> set[str]:
        """Manifest digests this store recorded when it pushed `ref` to repository `name`
        (HOST/REPO): what lets a registry loader skip a push. Empty when it cannot tell."""
        ...


@contextlib.contextmanager
def archive_file(store: ImageStore, ref: str) -> Iterator[Path]:
    """The store's archive of `ref` in a temporary file, for tools that take a path."""
    fd, name = tempfile.mkstemp(prefix="kudev-image-", suffix=".tar")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in store.save_archive(ref):
                out.write(chunk)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(ARCHIVE_CHUNK):
            yield chunk

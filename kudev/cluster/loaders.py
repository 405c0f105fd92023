"""Getting a freshly built image onto the cluster's nodes.

Each `ImageLoader` knows one way: nothing to do (the Docker daemon is the cluster's runtime),
a cluster tool (`kind load`, `minikube image load`, `k3d image import`), a docker-archive piped
into a containerd import, or a push to a registry the cluster pulls from. The image comes from
an `ImageStore` (the Docker Engine, podman's storage, the layer builder's blobs).
`loader_choice` picks one for a cluster; `tool_run` runs the tools.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from kudev.build.image_store import archive_file
from kudev.cluster.docker_images import image_store, is_docker
from kudev.image_ref import parse_ref
from kudev.tool_run import LineSink, executables, run_streaming


class ImageLoader(Protocol):
    requires: tuple[str, ...]  # executables that must be on PATH

    def describe(self) -> str:
        """One line for people: how images reach the nodes."""
        ...

    def deploy_ref(self, image_ref: str) -> str:
        """The reference manifests should use for `image_ref` once loaded."""
        ...

    def load(self, image_ref: str, on_line: LineSink) -> str:
        """Put the image on the nodes, streaming tool output; returns the reference to
        deploy: deploy_ref(image_ref), perhaps pinned by the pushed digest."""
        ...

    def present(self, image_ref: str) -> bool:
        """Whether what `load` would send is where the nodes pull from already (a registry
        holding this very image). Images on the nodes themselves are checked by delivery."""
        ...


class NoLoad:
    """The cluster runs on the Docker daemon kudev builds with: the image is already there."""

    requires: tuple[str, ...] = ()

    def __init__(self, why: str = "the cluster uses the Docker daemon's images") -> None:
        self.why = why

    def describe(self) -> str:
        return f"no load needed ({self.why})"

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        return image_ref

    def present(self, image_ref: str) -> bool:
        return False


class _ToolLoader:
    """A loader that runs one cluster tool with the image reference in its arguments, or,
    for an image outside the Docker Engine, with a docker-archive file of it."""

    tool = ""

    def __init__(self, name: str, images: Any = None) -> None:
        self.name = name
        self.images = image_store(images)
        self.requires: tuple[str, ...] = (self.tool,)

    def argv(self, image_ref: str) -> list[str]:
        raise NotImplementedError

    def archive_argv(self, archive: str) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        if is_docker(self.images):
            return " ".join(self.argv("IMAGE"))
        return f"save from {self.images.store_name()}, then " + " ".join(
            self.archive_argv("ARCHIVE")
        )

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        if is_docker(self.images):
            run_streaming(self.argv(image_ref), on_line, remedy=self.remedy())
            return image_ref
        with archive_file(self.images, image_ref) as archive:
            run_streaming(self.archive_argv(str(archive)), on_line, remedy=self.remedy())
        return image_ref

    def present(self, image_ref: str) -> bool:
        return False

    def remedy(self) -> str:
        return f"is the {self.tool} cluster {self.name!r} running?"


class KindLoader(_ToolLoader):
    tool = "kind"

    def argv(self, image_ref: str) -> list[str]:
        return ["kind", "load", "docker-image", image_ref, "--name", self.name]

    def archive_argv(self, archive: str) -> list[str]:
        return ["kind", "load", "image-archive", archive, "--name", self.name]

    def remedy(self) -> str:
        return f"is the kind cluster {self.name!r} running? `kind get clusters` lists them"


class MinikubeLoader(_ToolLoader):
    tool = "minikube"

    def argv(self, image_ref: str) -> list[str]:
        return ["minikube", "image", "load", image_ref, "-p", self.name]

    def archive_argv(self, archive: str) -> list[str]:
        return ["minikube", "image", "load", archive, "-p", self.name]

    def remedy(self) -> str:
        return f"is the minikube profile {self.name!r} running? `minikube status -p {self.name}`"


class K3dLoader(_ToolLoader):
    tool = "k3d"

    def argv(self, image_ref: str) -> list[str]:
        return ["k3d", "image", "import", image_ref, "-c", self.name]

    def archive_argv(self, archive: str) -> list[str]:
        return ["k3d", "image", "import", archive, "-c", self.name]

    def remedy(self) -> str:
        return f"is the k3d cluster {self.name!r} running? `k3d cluster list` lists them"


class ContainerdImportLoader:
    """The image's docker-archive streamed into a containerd import command's stdin."""

    def __init__(self, argv: Iterable[str], images: Any) -> None:
        self.argv = list(argv)
        self.images = image_store(images)
        self.requires = executables(self.argv)

    def describe(self) -> str:
        source = "docker save IMAGE" if is_docker(self.images) else self.images.store_name()
        return f"{source} | {' '.join(self.argv)}"

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        run_streaming(
            self.argv,
            on_line,
            stdin=self.images.save_archive(image_ref),
            remedy="check that the import command works: "
            f"`docker save {image_ref} | {' '.join(self.argv)}`",
        )
        return image_ref

    def present(self, image_ref: str) -> bool:
        return False


class RegistryLoader:
    """Push the image to a registry the cluster pulls from (tagged for it)."""

    requires: tuple[str, ...] = ()

    def __init__(self, host: str, images: Any) -> None:
        self.host = host.rstrip("/")
        self.images = image_store(images)

    def describe(self) -> str:
        return f"push to registry {self.host}"

    def deploy_ref(self, image_ref: str) -> str:
        repo, tag = split_ref(image_ref)
        return f"{self.host}/{repo}:{tag}"

    def present(self, image_ref: str) -> bool:
        """The registry's tag points at the manifest the store recorded when it last pushed
        this image: a push would send nothing, and still costs ~90 ms of daemon round trips."""
        target = parse_ref(self.deploy_ref(image_ref))
        digests = self.images.pushed_digests(image_ref, target.name)
        if not digests:
            return False  # never pushed from here: nothing to compare with
        from kudev.oci.client import client_for
        from kudev.oci.errors import RegistryError

        client = client_for(target.host, cluster_registry=self.host)
        try:
            return client.manifest_digest(target.path, target.tag) in digests
        except (RegistryError, OSError):
            return False  # the push will say what is wrong

    def load(self, image_ref: str, on_line: LineSink) -> str:
        """The pushed reference; a store that knows the digest pins it (`…:tag@sha256:…`)."""
        return self.images.push_to(image_ref, self.deploy_ref(image_ref), on_line)


def split_ref(ref: str) -> tuple[str, str]:
    """(repository path without registry host, tag): "docker.io/library/app:1" → ("app", "1")."""
    parsed = parse_ref(ref)
    return parsed.repository, parsed.tag_or_latest

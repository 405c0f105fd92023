"""Getting a freshly built image onto the cluster's nodes.

Each `ImageLoader` knows one way: nothing to do (the Docker daemon is the cluster's runtime),
a cluster tool (`kind load`, `minikube image load`, `k3d image import`), `docker save` piped
into a containerd import, or a push to a registry the cluster pulls from. `loader_choice`
picks one for a cluster; `tool_run` runs the tools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import docker.errors

from kudev.cluster.tool_run import LineSink, executables, run_streaming
from kudev.errors import ClusterError, ClusterUnreachable, DockerUnavailable, KudevError
from kudev.image_ref import parse_ref


class ImageLoader(Protocol):
    requires: tuple[str, ...]  # executables that must be on PATH

    def describe(self) -> str:
        """One line for people: how images reach the nodes."""
        ...

    def deploy_ref(self, image_ref: str) -> str:
        """The reference manifests should use for `image_ref` once loaded."""
        ...

    def load(self, image_ref: str, on_line: LineSink) -> str:
        """Put the image on the nodes, streaming tool output; returns deploy_ref(image_ref)."""
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
    """A loader that runs one cluster tool with the image reference in its arguments."""

    tool = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requires: tuple[str, ...] = (self.tool,)

    def argv(self, image_ref: str) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        return " ".join(self.argv("IMAGE"))

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        run_streaming(self.argv(image_ref), on_line, remedy=self.remedy())
        return image_ref

    def present(self, image_ref: str) -> bool:
        return False

    def remedy(self) -> str:
        return f"is the {self.tool} cluster {self.name!r} running?"


class KindLoader(_ToolLoader):
    tool = "kind"

    def argv(self, image_ref: str) -> list[str]:
        return ["kind", "load", "docker-image", image_ref, "--name", self.name]

    def remedy(self) -> str:
        return f"is the kind cluster {self.name!r} running? `kind get clusters` lists them"


class MinikubeLoader(_ToolLoader):
    tool = "minikube"

    def argv(self, image_ref: str) -> list[str]:
        return ["minikube", "image", "load", image_ref, "-p", self.name]

    def remedy(self) -> str:
        return f"is the minikube profile {self.name!r} running? `minikube status -p {self.name}`"


class K3dLoader(_ToolLoader):
    tool = "k3d"

    def argv(self, image_ref: str) -> list[str]:
        return ["k3d", "image", "import", image_ref, "-c", self.name]

    def remedy(self) -> str:
        return f"is the k3d cluster {self.name!r} running? `k3d cluster list` lists them"


class ContainerdImportLoader:
    """`docker save` streamed into a containerd import command's stdin (no temp file)."""

    def __init__(self, argv: Iterable[str], docker_client: Any) -> None:
        self.argv = list(argv)
        self.docker = docker_client
        self.requires = executables(self.argv)

    def describe(self) -> str:
        return f"docker save IMAGE | {' '.join(self.argv)}"

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        image = _local_image(self.docker, image_ref)
        # named=: without it `docker save` drops the repository:tag and ctr imports no name.
        named = image_ref if image_ref in image.tags else True
        run_streaming(
            self.argv,
            on_line,
            stdin=_docker_stream(lambda: image.save(named=named)),
            remedy="check that the import command works: "
            f"`docker save {image_ref} | {' '.join(self.argv)}`",
        )
        return image_ref

    def present(self, image_ref: str) -> bool:
        return False


class RegistryLoader:
    """Tag the image for a registry the cluster pulls from and push it there."""

    requires: tuple[str, ...] = ()

    def __init__(self, host: str, docker_client: Any) -> None:
        self.host = host.rstrip("/")
        self.docker = docker_client

    def describe(self) -> str:
        return f"push to registry {self.host}"

    def deploy_ref(self, image_ref: str) -> str:
        repo, tag = split_ref(image_ref)
        return f"{self.host}/{repo}:{tag}"

    def present(self, image_ref: str) -> bool:
        """The registry's tag points at the manifest Docker recorded when it last pushed this
        image: a push would send nothing, and still costs ~90 ms of daemon round trips."""
        target = parse_ref(self.deploy_ref(image_ref))
        try:
            pushed = _local_image(self.docker, image_ref).attrs.get("RepoDigests") or []
        except KudevError:
            return False
        digests = {d.partition("@")[2] for d in pushed if d.partition("@")[0] == target.name}
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
        image = _local_image(self.docker, image_ref)
        target = self.deploy_ref(image_ref)
        parsed = parse_ref(target)
        repository, tag = parsed.name, parsed.tag
        try:
            image.tag(repository, tag)
        except (docker.errors.DockerException, OSError) as err:
            raise _docker_error(err) from err
        stream = _docker_stream(
            lambda: self.docker.api.push(repository, tag=tag, stream=True, decode=True)
        )
        for line in _push_lines(stream, self.host):
            on_line(line)
        return target


# What the Docker daemon says when it cannot reach the registry at all (Go's net errors and
# a proxy's answers), as opposed to a refusal (auth, a bad name) that a retry cannot fix.
REGISTRY_AWAY = (
    "connection refused",
    "connection reset",
    "i/o timeout",
    "no route to host",
    "EOF",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
)


def _push_lines(stream: Iterable[dict[str, Any]], host: str) -> Iterator[str]:
    """Readable lines from the push progress stream; raises on an `error` item.

    Only the first "Pushing" of each layer becomes a line: the daemon repeats it for every
    few hundred kilobytes.
    """
    pushing: set[str] = set()
    for item in stream:
        if item.get("error"):
            # A registry that is down or restarting comes back: try again, as for the API.
            away = any(sign in item["error"] for sign in REGISTRY_AWAY)
            raise (ClusterUnreachable if away else ClusterError)(
                f"push to {host} failed: {item['error']}",
                f"is the registry at {host} running and reachable from the Docker daemon? "
                "Registries outside 127.0.0.0/8 must be in the daemon's insecure-registries "
                "unless they serve TLS",
            )
        status, layer = item.get("status", ""), item.get("id", "")
        if status == "Pushing":
            if layer in pushing:
                continue
            pushing.add(layer)
        aux = item.get("aux") or {}
        if aux.get("Digest"):
            yield f"pushed {aux.get('Tag', '')} digest {aux['Digest']}"
        elif status:
            yield f"{layer}: {status}" if layer else status


def split_ref(ref: str) -> tuple[str, str]:
    """(repository path without registry host, tag): "docker.io/library/app:1" → ("app", "1")."""
    parsed = parse_ref(ref)
    return parsed.repository, parsed.tag_or_latest


# -- docker --------------------------------------------------------------------------------


def _local_image(docker_client: Any, image_ref: str) -> Any:
    if docker_client is None:
        raise DockerUnavailable("no Docker Engine connection", "start Docker or set DOCKER_HOST")
    try:
        return docker_client.images.get(image_ref)
    except docker.errors.ImageNotFound as err:
        raise ClusterError(
            f"image {image_ref} is not in the local Docker Engine",
            "build it first; kudev loads only images it built",
        ) from err
    except (docker.errors.DockerException, OSError) as err:
        raise _docker_error(err) from err


def _docker_stream(start: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """Items of a Docker stream begun lazily, with Docker failures as kudev errors."""
    try:
        yield from start()
    except (docker.errors.DockerException, OSError) as err:
        raise _docker_error(err) from err


def _docker_error(err: BaseException) -> KudevError:
    if isinstance(err, docker.errors.APIError):
        return ClusterError(
            f"Docker Engine refused: {err.explanation or err}", "see the Docker daemon's log"
        )
    return DockerUnavailable(f"lost the Docker Engine: {err}", "is Docker running? (`docker info`)")

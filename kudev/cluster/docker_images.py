"""The Docker Engine as an image store: `docker save` streams and pushes through its API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import docker.errors

from kudev.build.image_store import ImageStore, LoadLineSink
from kudev.errors import ClusterError, ClusterUnreachable, DockerUnavailable, KudevError
from kudev.image_ref import parse_ref


class DockerImageStore:
    """Images in the Docker Engine kudev built them with (None: no connection)."""

    def __init__(self, docker_client: Any) -> None:
        self.docker = docker_client

    def store_name(self) -> str:
        return "the Docker Engine"

    def save_archive(self, ref: str) -> Iterator[bytes]:
        image = local_image(self.docker, ref)
        # named=: without it `docker save` drops the repository:tag and ctr imports no name.
        named = ref if ref in image.tags else True
        return docker_stream(lambda: image.save(named=named))

    def pushed_digests(self, ref: str, name: str) -> set[str]:
        try:
            pushed = local_image(self.docker, ref).attrs.get("RepoDigests") or []
        except KudevError:
            return set()
        return {d.partition("@")[2] for d in pushed if d.partition("@")[0] == name}

    def push_to(self, ref: str, target: str, on_line: LoadLineSink) -> str:
        image = local_image(self.docker, ref)
        parsed = parse_ref(target)
        repository, tag = parsed.name, parsed.tag
        try:
            image.tag(repository, tag)
        except (docker.errors.DockerException, OSError) as err:
            raise docker_error(err) from err
        stream = docker_stream(
            lambda: self.docker.api.push(repository, tag=tag, stream=True, decode=True)
        )
        for line in push_lines(stream, parsed.host):
            on_line(line)
        return target


def image_store(images: Any) -> ImageStore:
    """A loader's images: an ImageStore as given, else a Docker client (or None)."""
    if isinstance(images, ImageStore):
        return images
    return DockerImageStore(images)


def is_docker(store: ImageStore) -> bool:
    return isinstance(store, DockerImageStore)


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


def push_lines(stream: Iterable[dict[str, Any]], host: str) -> Iterator[str]:
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


def local_image(docker_client: Any, image_ref: str) -> Any:
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
        raise docker_error(err) from err


def docker_stream(start: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """Items of a Docker stream begun lazily, with Docker failures as kudev errors."""
    try:
        yield from start()
    except (docker.errors.DockerException, OSError) as err:
        raise docker_error(err) from err


def docker_error(err: BaseException) -> KudevError:
    if isinstance(err, docker.errors.APIError):
        return ClusterError(
            f"Docker Engine refused: {err.explanation or err}", "see the Docker daemon's log"
        )
    return DockerUnavailable(f"lost the Docker Engine: {err}", "is Docker running? (`docker info`)")

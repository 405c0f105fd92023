"""Which builder builds an image, and why — for the engine and for `kudev doctor`.

`builder: docker | podman | buildah | layers` is taken as written. `auto` keeps today's way
when a Docker Engine answers; otherwise podman, then buildah, when on PATH; otherwise the
layer builder, when the Dockerfile is one it can do. Each choice says why, so the dashboard's
notice and doctor's line tell the user what will run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kudev.build.builder import Builder
from kudev.errors import DockerUnavailable, KudevError

NAMES = ("docker", "podman", "buildah", "layers")


@dataclass(frozen=True)
class Choice:
    name: str  # one of NAMES
    why: str  # "" when the config named it
    docker_client: Any = None  # the connection auto already made


def choose(
    requested: str,
    connect_docker: Callable[[], Any],
    layers_refusal: Callable[[], str] | None = None,
) -> Choice:
    """The builder for `requested`; raises the Docker error when auto finds nothing."""
    if requested != "auto":
        return Choice(requested, "")
    try:
        client = connect_docker()
    except DockerUnavailable as err:
        return _without_docker(err, layers_refusal)
    return Choice("docker", "auto: the Docker Engine answers", client)


def _without_docker(err: DockerUnavailable, layers_refusal: Callable[[], str] | None) -> Choice:
    from kudev.build.buildah import find_buildah
    from kudev.build.podman import find_podman

    no_docker = f"auto: {err.cause}"
    if (podman := find_podman()) is not None:
        return Choice("podman", f"{no_docker}; podman is on PATH ({podman})")
    if (buildah := find_buildah()) is not None:
        return Choice("buildah", f"{no_docker}; buildah is on PATH ({buildah})")
    refusal = layers_refusal() if layers_refusal else "no Dockerfile to check"
    if not refusal:
        return Choice("layers", f"{no_docker}; no podman or buildah; the Dockerfile needs no RUN")
    raise DockerUnavailable(
        f"{err.cause}; no podman or buildah on PATH, and the layer builder refuses: {refusal}",
        f"{err.remedy}; or install podman or buildah",
    )


def make(choice: Choice, base_registry: str = "", cache_dir: Path | None = None) -> Builder:
    if choice.name == "docker":
        from kudev.build.buildkit import make_builder
        from kudev.build.docker_client import connect

        return make_builder(choice.docker_client or connect())
    if choice.name == "podman":
        from kudev.build.podman import make_podman

        return make_podman()
    if choice.name == "buildah":
        from kudev.build.buildah import make_buildah

        return make_buildah()
    from kudev.build.layers.builder import LayersBuilder

    return LayersBuilder(base_registry, cache_dir)


def layers_refusal(dockerfile: Path, build_args: dict[str, str], target: str) -> str:
    """Why the layer builder cannot do this Dockerfile; "" when it can."""
    from kudev.build.layers.dockerfile import plan_for

    try:
        plan_for(dockerfile, build_args, target)
    except (KudevError, OSError) as err:
        return getattr(err, "cause", str(err))
    return ""

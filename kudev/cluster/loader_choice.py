"""Choosing the loader for a cluster: .kudev.yaml settings first, then its kind.

LOADERS maps every kind of kudev.cluster_kinds to a factory for its loader.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kudev.cluster.detect import ClusterInfo
from kudev.cluster.docker_images import image_store, is_docker
from kudev.cluster.loaders import (
    ContainerdImportLoader,
    ImageLoader,
    K3dLoader,
    KindLoader,
    MinikubeLoader,
    NoLoad,
    RegistryLoader,
)
from kudev.cluster_kinds import DOCKER_RUNTIME_KINDS, KINDS_BY_NAME, KINDS_IN_HINTS
from kudev.config.model import ClusterSpec
from kudev.errors import ClusterError

CONTAINERD_IMPORT = ("ctr", "-n", "k8s.io", "images", "import", "-")
MICROK8S_IMPORT = ("microk8s", "ctr", "image", "import", "-")
K3S_IMPORT = ("k3s", "ctr", "-n", "k8s.io", "images", "import", "-")


def loader_for(
    info: ClusterInfo, spec: ClusterSpec, registry: str | None, docker_client: Any
) -> ImageLoader:
    """The loader for this cluster.

    Order: cluster.registry / cluster.import_command from .kudev.yaml, then a registry the
    cluster advertises (KEP-1755, `registry`), then cluster.kind, then the detected kind.
    """
    if spec.registry:
        return RegistryLoader(spec.registry, docker_client)
    if spec.import_command:
        return ContainerdImportLoader(spec.import_command, docker_client)
    if registry:
        return RegistryLoader(registry, docker_client)
    kind = spec.kind if spec.kind != "auto" else info.kind
    make = LOADERS.get(kind)
    if make is None:
        raise ClusterError(
            f"cannot tell how to get images onto the nodes of context {info.context!r} "
            f"(cluster {info.cluster!r}, server {info.server or '?'}; kind {kind!r})",
            f"set cluster.kind in .kudev.yaml to one of {KINDS_IN_HINTS} — "
            "or cluster.registry to a registry the cluster pulls from",
        )
    name = spec.name or info.name or KINDS_BY_NAME[kind].default_name
    return make(LoadTarget(kind, name, docker_client))


@dataclass(frozen=True)
class LoadTarget:
    """What a loader is made for: the cluster's kind, its name, where the images are."""

    kind: str
    name: str  # kind cluster name, minikube profile, k3d cluster; "" when the kind has none
    docker_client: Any  # a Docker client, or an ImageStore (podman, buildah, layers)


def _shares_docker_images(target: LoadTarget) -> ImageLoader:
    store = image_store(target.docker_client)
    if not is_docker(store):
        raise ClusterError(
            f"{target.kind} runs on the Docker daemon's images, but the images are built "
            f"into {store.store_name()}",
            "use `builder: docker`, or set cluster.registry in .kudev.yaml to a registry "
            "the cluster pulls from",
        )
    return NoLoad(f"{target.kind} runs on the Docker daemon's images")


def _no_registry(target: LoadTarget) -> ImageLoader:
    raise ClusterError(
        "cluster.kind is registry but no registry is set and the cluster advertises none",
        "set cluster.registry in .kudev.yaml (e.g. localhost:5000)",
    )


def _k3s(target: LoadTarget) -> ImageLoader:
    # sudo -n: fail with a message rather than prompt for a password under the TUI.
    prefix = () if _is_root() else ("sudo", "-n")
    return ContainerdImportLoader((*prefix, *K3S_IMPORT), target.docker_client)


# How each cluster kind of kinds.KINDS gets images onto its nodes.
LOADERS: dict[str, Callable[[LoadTarget], ImageLoader]] = {
    **{kind: _shares_docker_images for kind in DOCKER_RUNTIME_KINDS},
    "kind": lambda target: KindLoader(target.name, target.docker_client),
    "minikube": lambda target: MinikubeLoader(target.name, target.docker_client),
    "k3d": lambda target: K3dLoader(target.name, target.docker_client),
    "k3s": _k3s,
    "microk8s": lambda target: ContainerdImportLoader(MICROK8S_IMPORT, target.docker_client),
    "containerd": lambda target: ContainerdImportLoader(CONTAINERD_IMPORT, target.docker_client),
    "registry": _no_registry,
    "none": lambda target: NoLoad("cluster.kind is none"),
}


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0

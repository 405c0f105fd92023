"""The cluster kinds kudev knows, one row each: the single list that config, detection,
loaders and doctor derive theirs from.

Data only, and no kudev imports: kudev.config builds its `cluster.kind` enum from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterKind:
    name: str  # the value of `cluster.kind`
    local: bool  # its nodes run on this machine
    shares_docker_images: bool = False  # the Docker daemon kudev builds with is its runtime
    tool: str = ""  # the executable that loads images, when it is a cluster tool
    install_hint: str = ""  # how to get `tool`
    default_name: str = ""  # the tool's cluster name when neither config nor context names one
    needs_key: str = ""  # the `cluster.*` key this kind cannot work without


KINDS = (
    ClusterKind(
        "kind",
        local=True,
        tool="kind",
        install_hint="install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
        default_name="kind",
    ),
    ClusterKind(
        "minikube",
        local=True,
        tool="minikube",
        install_hint="install minikube: https://minikube.sigs.k8s.io/docs/start/",
        default_name="minikube",
    ),
    ClusterKind(
        "k3d",
        local=True,
        tool="k3d",
        install_hint="install k3d: https://k3d.io/#installation",
        default_name="k3s-default",
    ),
    ClusterKind(
        "k3s",
        local=True,
        tool="k3s",
        install_hint="k3s ships `k3s ctr`: https://docs.k3s.io/quick-start",
    ),
    ClusterKind(
        "microk8s",
        local=True,
        tool="microk8s",
        install_hint="install microk8s: `snap install microk8s --classic`",
    ),
    ClusterKind("docker-desktop", local=True, shares_docker_images=True),
    ClusterKind("rancher-desktop", local=True, shares_docker_images=True),
    ClusterKind("orbstack", local=True, shares_docker_images=True),
    ClusterKind("colima", local=True, shares_docker_images=True),
    # Wherever the cluster runs, kudev only pushes to the registry it pulls from.
    ClusterKind("registry", local=False, needs_key="registry"),
    # Local because `ctr import` only reaches a containerd on this machine.
    ClusterKind(
        "containerd",
        local=True,
        tool="ctr",
        install_hint="ctr ships with containerd (e.g. `apt-get install containerd`)",
        needs_key="importCommand",
    ),
    ClusterKind("none", local=False),
)

KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
KIND_NAMES = tuple(kind.name for kind in KINDS)  # in the order people are shown them
KNOWN_KINDS = frozenset(KIND_NAMES)
LOCAL_KINDS = frozenset(kind.name for kind in KINDS if kind.local)
DOCKER_RUNTIME_KINDS = frozenset(kind.name for kind in KINDS if kind.shares_docker_images)
# For "set cluster.kind to …" hints; `registry` is offered there as `cluster.registry` instead.
KINDS_IN_HINTS = ", ".join(name for name in KIND_NAMES if name != "registry")

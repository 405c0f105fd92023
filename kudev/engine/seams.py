"""The engine's seams: what it needs of the builder, the delivery and the deployer.

Each has a default that talks to Docker or Kubernetes and a fake in tests/enginefakes.py;
the engine only ever sees these protocols, so it runs in tests without either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kudev import events as ev
from kudev.build.builder import Builder
from kudev.config import Config

if TYPE_CHECKING:
    from kudev.cluster.detect import ClusterInfo
    from kudev.deploy.pod_details import PodDetail


class LoaderDescription(Protocol):
    def describe(self) -> str:
        """One line for people: how images reach the nodes."""
        ...


class Delivery(Protocol):
    """Knows the cluster and puts an image on its nodes."""

    @property
    def info(self) -> ClusterInfo: ...

    @property
    def loader(self) -> LoaderDescription: ...

    @property
    def api_client(self) -> Any:
        """The Kubernetes ApiClient the deployer talks through."""
        ...

    def deliver(self, ref: str, on_line: Callable[[str], None]) -> tuple[str, bool]:
        """(the reference to deploy, whether anything was loaded)."""
        ...


class Deployer(Protocol):
    """Applies the manifests with the new image references and keeps the app's streams."""

    @property
    def sources(self) -> Sequence[str]:
        """Manifest files read outside the configured folders (e.g. a kustomize base)."""
        ...

    def deploy(self, refs: dict[str, str], cycle: int, stages: dict[str, float]) -> bool:
        """Apply and wait for the rollout, timing each stage into `stages`."""
        ...

    def describe_pod(self, pod: str) -> PodDetail: ...

    def interrupt(self) -> None:
        """Stop waiting for the rollout (kudev is stopping); called from another thread."""
        ...

    def stop(self, cleanup: bool = False) -> None: ...


# Connects (to Docker, for the real one) and returns the builder; raises KudevError.
BuilderFactory = Callable[[], Builder]
# (config, the builder's Docker client or None) -> the delivery; None means build only.
DeliveryFactory = Callable[[Config, Any], Delivery | None]
# (config, kubernetes ApiClient, namespace, sink, live): live=False for --once (no streams)
DeployerFactory = Callable[[Config, Any, str, ev.EventSink, bool], Deployer]

__all__ = [
    "Builder",
    "BuilderFactory",
    "Delivery",
    "DeliveryFactory",
    "Deployer",
    "DeployerFactory",
]

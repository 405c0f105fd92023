"""Getting built images onto the cluster: which cluster, which loader, and the context guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kudev.cluster.detect import (
    ClusterInfo,
    api_client_for,
    cluster_from_kubeconfig,
    find_local_registry,
)
from kudev.cluster.loader_choice import loader_for
from kudev.cluster.loaders import ImageLoader
from kudev.cluster.node_images import already_loaded, images_on_nodes
from kudev.cluster_kinds import LOCAL_KINDS
from kudev.config import Config
from kudev.errors import ClusterError


def check_context_allowed(info: ClusterInfo, config: Config, allowed: tuple[str, ...]) -> None:
    """Refuse a context the user did not mean: pinned elsewhere, or not a local cluster."""
    if config.kube_context and info.context != config.kube_context:
        raise ClusterError(
            f"the current kube context is {info.context!r} but .kudev.yaml pins "
            f"kubeContext {config.kube_context!r}",
            f"switch with `kubectl config use-context {config.kube_context}` or pass "
            f"--context {config.kube_context}",
        )
    if info.local or info.context in allowed or info.context in config.allow_contexts:
        return
    if config.kube_context == info.context:
        return  # pinning a context in the config is an explicit choice
    why = (
        f"it is named like a local {info.kind} cluster but its server is a public address"
        if info.kind in LOCAL_KINDS
        else "it is not a local cluster kudev recognises"
    )
    raise ClusterError(
        f"refusing kube context {info.context!r} (server {info.server}): {why}",
        f"pass --allow-context {info.context}, or add it to spec.allowContexts in .kudev.yaml",
    )


@dataclass
class ImageDelivery:
    """Knows the cluster and puts an image on its nodes."""

    info: ClusterInfo
    loader: ImageLoader
    api_client: Any

    @classmethod
    def connect(
        cls,
        config: Config,
        docker_client: Any,
        *,
        kubeconfig: str | None,
        context: str | None,
        allowed: tuple[str, ...] = (),
    ) -> ImageDelivery:
        context = context or config.kube_context or None
        info = cluster_from_kubeconfig(kubeconfig, context, config.cluster)
        check_context_allowed(info, config, allowed)
        api_client = api_client_for(kubeconfig, info.context)
        # A registry the cluster advertises (KEP-1755) wins over detection, as in Tilt.
        registry = config.cluster.registry or None
        if registry is None and config.cluster.kind != "none":
            registry = find_local_registry(api_client)
        if registry:
            from kudev.oci.source import use_cluster_registry

            use_cluster_registry(registry)  # `oci://` manifests may use plain HTTP there
        loader = loader_for(info, config.cluster, registry, docker_client)
        return cls(info=info, loader=loader, api_client=api_client)

    def describe(self) -> str:
        return f"{self.info.context} ({self.info.kind}): {self.loader.describe()}"

    def deliver(self, ref: str, on_line: Callable[[str], None]) -> tuple[str, bool]:
        """(the reference to deploy, whether anything was loaded)."""
        deploy_ref = self.loader.deploy_ref(ref)
        if deploy_ref == ref and self._on_nodes(ref):
            return ref, False
        if self.loader.present(ref):
            return deploy_ref, False
        return self.loader.load(ref, on_line), True

    def _on_nodes(self, ref: str) -> bool:
        from kubernetes import client

        try:
            names = images_on_nodes(client.CoreV1Api(self.api_client))
        except ClusterError:
            return False
        return already_loaded(ref, names)

"""The engine's connections — builder, delivery, deployer — made when first needed.

A retryable failure drops the builder and the delivery so the next try connects afresh;
a new configuration drops the delivery and the deployer (the cluster may differ).
"""

from __future__ import annotations

from typing import Any

from kudev import events as ev
from kudev.build.builder import Builder
from kudev.config import Config
from kudev.engine.seams import (
    BuilderFactory,
    Delivery,
    DeliveryFactory,
    Deployer,
    DeployerFactory,
)
from kudev.errors import KudevError
from kudev.session import SessionOptions


class Connections:
    def __init__(
        self,
        options: SessionOptions,
        emit: ev.EventSink,
        *,
        builder_factory: BuilderFactory | None = None,
        delivery_factory: DeliveryFactory | None = None,
        deployer_factory: DeployerFactory | None = None,
    ) -> None:
        self.options = options
        self._emit = emit
        self._builder_factory = builder_factory or docker_builder
        self._delivery_factory = delivery_factory or self._cluster_delivery
        self._deployer_factory = deployer_factory or kube_deployer
        self.builder_now: Builder | None = None
        self.delivery_now: Delivery | None = None
        self.deployer_now: Deployer | None = None

    def builder(self) -> Builder:
        if self.builder_now is None:
            self.builder_now = self._builder_factory()
            self._emit(ev.Notice(message=f"builder: {self.builder_now.describe()}"))
        return self.builder_now

    def delivery(self, config: Config) -> Delivery | None:
        if not self.options.load_images:
            return None
        if self.delivery_now is None:
            client = self.builder_now.client if self.builder_now is not None else None
            self.delivery_now = self._delivery_factory(config, client)
            if self.delivery_now is not None:
                info = self.delivery_now.info
                self._emit(
                    ev.ClusterConnected(
                        context=info.context,
                        cluster_kind=info.kind,
                        server=info.server,
                        namespace=self._namespace(config),
                        loader=self.delivery_now.loader.describe(),
                    )
                )
        return self.delivery_now

    def deployer(self, config: Config) -> Deployer | None:
        if self.deployer_now is None and self.delivery_now is not None:
            self.deployer_now = self._deployer_factory(
                config,
                self.delivery_now.api_client,
                self._namespace(config),
                self._emit,
                not self.options.once,
            )
        return self.deployer_now

    def drop_after_failure(self) -> None:
        """The daemon or cluster went away: connect again on the next try."""
        self.builder_now = self.delivery_now = None

    def drop_cluster(self) -> None:
        """A new configuration may name another cluster, namespace or manifests."""
        self.delivery_now = None
        if self.deployer_now is not None:
            self.deployer_now.stop()
            self.deployer_now = None

    def cancel_build(self) -> None:
        builder = self.builder_now  # read once: stop() calls this from another thread
        if builder is not None:
            builder.cancel()

    def cancel_deploy(self) -> None:
        deployer = self.deployer_now  # read once: stop() calls this from another thread
        if deployer is not None:
            deployer.interrupt()

    def cancel_load(self) -> None:
        """End a loader tool mid-load (`kind load`, `ctr import`, an importCommand)."""
        from kudev.cluster.tool_run import stop_running_tools

        stop_running_tools()

    def close(self, cleanup: bool) -> None:
        if self.deployer_now is not None:
            try:
                self.deployer_now.stop(cleanup=cleanup)
            except KudevError as err:
                self._emit(ev.error_event(err))
        self.cancel_build()

    def disconnect(self) -> None:
        if self.builder_now is not None:
            self.builder_now.close()

    def _namespace(self, config: Config) -> str:
        return self.options.namespace or config.namespace

    def _cluster_delivery(self, config: Config, docker_client: Any) -> Delivery:
        from kudev.cluster.delivery import ImageDelivery

        return ImageDelivery.connect(
            config,
            docker_client,
            kubeconfig=self.options.kubeconfig,
            context=self.options.kube_context,
            allowed=self.options.allow_contexts,
        )


def docker_builder() -> Builder:
    """Connect to the Docker Engine and pick the fastest builder it offers."""
    from kudev.build.buildkit import make_builder
    from kudev.build.docker_client import connect

    return make_builder(connect())


def kube_deployer(
    config: Config, api_client: Any, namespace: str, emit: ev.EventSink, live: bool
) -> Deployer:
    from kudev.deploy.deployer import KubeDeployer

    return KubeDeployer(config, api_client, namespace, emit, live=live)

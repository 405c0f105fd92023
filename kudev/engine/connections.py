"""The engine's connections — builder, delivery, deployer — made when first needed.

A retryable failure drops the builder and the delivery so the next try connects afresh;
a new configuration drops the delivery and the deployer (the cluster may differ).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from kudev import events as ev
from kudev.build.builder import Builder
from kudev.config import Config, ImageSpec
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
        self._builder_factory = builder_factory  # None: chosen per image (build/choice.py)
        self._delivery_factory = delivery_factory or self._cluster_delivery
        self._deployer_factory = deployer_factory or kube_deployer
        self.builder_now: Builder | None = None  # the one that built last
        self._builders: dict[str, Builder] = {}  # by image name ("" for none)
        self._told: set[str] = set()  # the builder notices given this session
        self._settled: dict[str, str] = {}  # image → the builder auto chose for this session
        self.delivery_now: Delivery | None = None
        self.deployer_now: Deployer | None = None

    def builder(self, spec: ImageSpec | None = None) -> Builder:
        """The builder for this image (its `builder:` setting), made when first needed.

        One instance per image: a builder runs one build at a time, and images build in
        parallel (engine/build_jobs.py). The choice is told once per `builder:` setting."""
        key = spec.name if spec is not None else ""
        made = self._builders.get(key)
        if made is None:
            made, why = self._make_builder(spec)
            self._builders[key] = made
            said = f"builder: {made.describe()}" + (f" ({why})" if why else "")
            if said not in self._told:
                self._told.add(said)
                self._emit(ev.Notice(message=said))
        self.builder_now = made
        return made

    def _make_builder(self, spec: ImageSpec | None) -> tuple[Builder, str]:
        if self._builder_factory is not None:
            return self._builder_factory(), ""
        if spec is None:
            return docker_builder(), ""
        settled = self._settled.get(spec.name) if spec.builder == "auto" else None
        if settled is not None:
            # auto chose once this session: a daemon that went away is waited for (reported and
            # retried), never swapped for another builder behind the user's back.
            builder, _, _ = chosen_builder(dataclasses.replace(spec, builder=settled))
            return builder, ""
        builder, why, name = chosen_builder(spec)
        if spec.builder == "auto":
            self._settled[spec.name] = name
        return builder, why

    def delivery(self, config: Config) -> Delivery | None:
        if not self.options.load_images:
            return None
        if self.delivery_now is None:
            self.delivery_now = self._delivery_factory(config, self._images(config))
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
            # --namespace overrides the config everywhere: templates, helm, the applier.
            config = dataclasses.replace(config, namespace=self._namespace(config))
            self.deployer_now = self._deployer_factory(
                config,
                self.delivery_now.api_client,
                self._namespace(config),
                self._emit,
                not self.options.once,
            )
        return self.deployer_now

    def _images(self, config: Config) -> Any:
        """Where loaders find the built images: the builder's Docker client or store, or,
        when images use different builders, each image's."""
        if len({image.builder for image in config.images}) > 1:
            return RoutedImages(self._builders)
        return self.builder_now.client if self.builder_now is not None else None

    def drop_after_failure(self) -> None:
        """The daemon or cluster went away: connect again on the next try."""
        self.builder_now = self.delivery_now = None
        self._builders.clear()
        self._told.clear()

    def drop_cluster(self) -> None:
        """A new configuration may name another cluster, namespace or manifests."""
        self.delivery_now = None
        if self.deployer_now is not None:
            self.deployer_now.stop()
            self.deployer_now = None

    def cancel_build(self) -> None:
        """Cancel every image's build; a copy: stop() calls this from another thread while
        a builder may be added."""
        for builder in list(self._builders.values()):
            builder.cancel()

    def cancel_deploy(self) -> None:
        deployer = self.deployer_now  # read once: stop() calls this from another thread
        if deployer is not None:
            deployer.interrupt()

    def cancel_load(self) -> None:
        """End a loader tool mid-load (`kind load`, `ctr import`, an importCommand)."""
        from kudev.tool_run import stop_running_tools

        stop_running_tools()

    def close(self, cleanup: bool) -> None:
        if self.deployer_now is not None:
            try:
                self.deployer_now.stop(cleanup=cleanup)
            except KudevError as err:
                self._emit(ev.error_event(err))
        self.cancel_build()

    def disconnect(self) -> None:
        for builder in list(self._builders.values()):
            builder.close()

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


def chosen_builder(spec: ImageSpec) -> tuple[Builder, str, str]:
    """The image's `builder:` setting made real (auto: Docker, else podman, buildah, layers):
    the builder, why it was chosen, and its name."""
    from kudev.build.choice import choose, layers_refusal, make
    from kudev.build.docker_client import connect

    choice = choose(
        spec.builder,
        connect,
        lambda: layers_refusal(spec.dockerfile, dict(spec.build_args), spec.target),
    )
    return make(choice, spec.base_registry), choice.why, choice.name


class RoutedImages:
    """An ImageStore that hands each image to the store of the builder that built it."""

    def __init__(self, by_image: dict[str, Builder]) -> None:
        self.by_image = by_image

    def _store(self, ref: str) -> Any:
        from kudev.cluster.docker_images import image_store
        from kudev.image_ref import parse_ref

        builder = self.by_image.get(parse_ref(ref).path)
        return image_store(builder.client if builder is not None else None)

    def store_name(self) -> str:
        return "each image's builder"

    def push_to(self, ref: str, target: str, on_line: Any) -> str:
        return str(self._store(ref).push_to(ref, target, on_line))

    def save_archive(self, ref: str) -> Iterator[bytes]:
        return self._store(ref).save_archive(ref)  # type: ignore[no-any-return]

    def pushed_digests(self, ref: str, name: str) -> set[str]:
        return set(self._store(ref).pushed_digests(ref, name))


def kube_deployer(
    config: Config, api_client: Any, namespace: str, emit: ev.EventSink, live: bool
) -> Deployer:
    from kudev.deploy.deployer import KubeDeployer

    return KubeDeployer(config, api_client, namespace, emit, live=live)


class PodDetailsNow:
    """Describes pods through whichever deployer there is now (none before connecting)."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def describe(self, pod: str) -> Any:
        deployer = self.connections.deployer_now
        if deployer is None:
            raise KudevError("not connected to a cluster", "details appear once kudev deploys")
        return deployer.describe_pod(pod)

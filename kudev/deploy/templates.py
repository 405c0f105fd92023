"""The Deployment and Service kudev deploys when the config lists no manifests (the Go kudev's
only mode)."""

from __future__ import annotations

from typing import Any

from kudev.config import Config

DEFAULT_SERVICE_PORT = 8080
NAME_LABEL = "app.kubernetes.io/name"


def builtin_objects(config: Config, image_ref: str) -> list[dict[str, Any]]:
    """A Deployment running `image_ref` and a ClusterIP Service in front of it."""
    return [_deployment(config, image_ref), _service(config)]


def _metadata(config: Config) -> dict[str, Any]:
    return {
        "name": config.name,
        "namespace": config.namespace,
        "labels": {NAME_LABEL: config.name},
    }


def _port(config: Config) -> int:
    return config.service_port or DEFAULT_SERVICE_PORT


def _deployment(config: Config, image_ref: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": config.name,
        "image": image_ref,
        # Tags are content hashes, so a tag never names two images; and images loaded straight
        # onto the nodes are not in any registry, which `Always` would try to pull from.
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": _port(config), "protocol": "TCP"}],
    }
    if config.env:
        container["env"] = [{"name": name, "value": value} for name, value in config.env]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(config),
        "spec": {
            "replicas": config.replicas,
            "selector": {"matchLabels": {NAME_LABEL: config.name}},
            "template": {
                "metadata": {"labels": {NAME_LABEL: config.name}},
                "spec": {"containers": [container]},
            },
        },
    }


def _service(config: Config) -> dict[str, Any]:
    port = _port(config)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(config),
        "spec": {
            "type": "ClusterIP",
            "selector": {NAME_LABEL: config.name},
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }

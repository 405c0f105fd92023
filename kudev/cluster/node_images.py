"""Skipping loads: which images the cluster's nodes already hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import urllib3

from kudev.cluster.detect import API_TIMEOUT, unreachable
from kudev.errors import ClusterError
from kudev.image_ref import parse_ref


def images_on_nodes(core_v1_api: Any) -> set[str]:
    """Image names every node reports (the intersection: a pod may land on any node).

    The kubelet lists at most 50 images per node, largest first, so a missing name only
    means "load it to be safe".
    """
    from kubernetes.client.exceptions import ApiException

    try:
        nodes = core_v1_api.list_node(_request_timeout=API_TIMEOUT).items
    except ApiException as err:
        if err.status in (401, 403):
            return set()  # cannot tell: the engine loads
        raise ClusterError(
            f"listing nodes failed: HTTP {err.status} {err.reason}",
            "check the API server's health with `kubectl get --raw /readyz`",
        ) from err
    except (urllib3.exceptions.HTTPError, OSError) as err:  # refused, timeouts, TLS
        raise unreachable(core_v1_api.api_client.configuration.host, err) from err
    common: set[str] | None = None
    for node in nodes:
        names = {n for image in (node.status.images or []) for n in (image.names or [])}
        common = names if common is None else common & names
    return common or set()


def already_loaded(ref: str, names: Iterable[str]) -> bool:
    """Whether `ref` is among node image names, after Docker's name normalisation."""
    want = normalize_ref(ref)
    return any(normalize_ref(name) == want for name in names if "@" not in name)


def normalize_ref(ref: str) -> str:
    """Docker's normalisation: "app:1" → "docker.io/library/app:1"; no tag → ":latest"."""
    return parse_ref(ref).normalized()

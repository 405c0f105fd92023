"""The base image: its manifest and config from its registry, its layers in a blob cache.

`FROM busybox:1.36` names Docker Hub. With `baseRegistry` set (a mirror, such as the
cluster's own registry), the base is read from `<baseRegistry>/busybox:1.36` first and from
Docker Hub only when the mirror lacks it. Docker Hub is asked anonymously unless Docker's
config has a login (a Bearer token from its token service either way).

Layers are fetched only when needed — to know which paths are folders or who `--chown=app`
is, or to write an archive — and kept in the cache by digest, so each is fetched once.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kudev.build.layers.tree import ImageTree
from kudev.image_ref import parse_ref
from kudev.oci.client import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    RegistryClient,
    client_for,
)
from kudev.oci.errors import NotFound, RegistryError, RegistryUnreachable

DOCKER_HUB_REGISTRY = "registry-1.docker.io"
MAX_CONFIG_BYTES = 4 * 1024 * 1024
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass
class BaseImage:
    """`scratch` has no host: no layers, an empty config."""

    name: str  # as written in FROM
    host: str = ""
    repository: str = ""
    manifest_type: str = ""  # the base's; the image kudev makes uses the same family
    config: dict[str, Any] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)  # descriptors
    client: RegistryClient | None = None
    tree: ImageTree | None = None

    @property
    def docker_types(self) -> bool:
        return self.manifest_type == DOCKER_MANIFEST


def host_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def scratch() -> BaseImage:
    config = {
        "architecture": host_arch(),
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }
    return BaseImage(name="scratch", config=config, tree=ImageTree())


def where_to_look(name: str, base_registry: str) -> list[tuple[str, str, str]]:
    """(host, repository, reference) to try in order."""
    ref = parse_ref(name)
    reference = ref.digest or ref.tag_or_latest
    if not ref.on_docker_hub:
        return [(ref.host, ref.path, reference)]
    hub_path = ref.path if "/" in ref.path else f"library/{ref.path}"
    places = []
    if base_registry:
        host, _, prefix = base_registry.partition("/")
        places.append((host, f"{prefix}/{ref.repository}" if prefix else ref.repository, reference))
    places.append((DOCKER_HUB_REGISTRY, hub_path, reference))
    return places


def resolve_base(name: str, base_registry: str, cluster_registry: str = "") -> BaseImage:
    """The base's manifest and config, from the first place that has it."""
    if name.lower() == "scratch":
        return scratch()
    missing: list[str] = []
    for host, repository, reference in where_to_look(name, base_registry):
        client = client_for(host, cluster_registry=cluster_registry)
        try:
            return _fetch(client, name, repository, reference)
        except NotFound:
            missing.append(f"{host}/{repository}:{reference}")
        except RegistryUnreachable as err:
            if not missing:
                raise
            # The mirror lacked it and the origin is out of reach: say both.
            raise RegistryUnreachable(
                f"base image {name} is not in {', '.join(missing)}, and {err.cause}",
                f"push it to {base_registry} (`docker push {base_registry}/"
                f"{parse_ref(name).repository}:{parse_ref(name).tag_or_latest}`), or let "
                f"kudev reach {host}",
                where=name,
            ) from err
    parsed = parse_ref(name)
    example = f"{base_registry or 'REGISTRY'}/{parsed.repository}:{parsed.tag_or_latest}"
    raise NotFound(
        f"base image {name} is in none of: {', '.join(missing)}",
        f"push it there (e.g. `docker push {example}`), or set spec.baseRegistry to a "
        "registry that has it",
    )


def _fetch(client: RegistryClient, name: str, repository: str, reference: str) -> BaseImage:
    manifest = client.get_manifest(repository, reference)
    body = json.loads(manifest.body)
    media_type = manifest.media_type or body.get("mediaType", "")
    if media_type in (OCI_INDEX, DOCKER_LIST) or "manifests" in body:
        digest = _platform_manifest(body, name)
        manifest = client.get_manifest(repository, digest)
        body = json.loads(manifest.body)
        media_type = manifest.media_type or body.get("mediaType", "")
    config_digest = body["config"]["digest"]
    config = json.loads(client.get_blob(repository, config_digest, MAX_CONFIG_BYTES))
    return BaseImage(
        name=name,
        host=client.host,
        repository=repository,
        manifest_type=media_type,
        config=config,
        layers=list(body.get("layers") or []),
        client=client,
    )


def _platform_manifest(index: dict[str, Any], name: str) -> str:
    arch = host_arch()
    for entry in index.get("manifests") or []:
        wanted = entry.get("platform") or {}
        if wanted.get("os") == "linux" and wanted.get("architecture") == arch:
            return str(entry["digest"])
    raise RegistryError(f"base image {name} has no linux/{arch} image", where=name)


def layer_file(base: BaseImage, descriptor: dict[str, Any], cache: Path) -> Path:
    """The base layer's compressed blob in the cache, fetched the first time."""
    digest = str(descriptor["digest"])
    path = cache / digest.replace(":", "-")
    if not path.exists():
        assert base.client is not None
        cache.mkdir(parents=True, exist_ok=True)
        base.client.get_blob_to_file(base.repository, digest, path)
    return path


def base_tree(base: BaseImage, cache: Path) -> ImageTree:
    """The base's folders and accounts, read from its layers once."""
    if base.tree is None:
        tree = ImageTree()
        for descriptor in base.layers:
            with layer_file(base, descriptor, cache).open("rb") as f:
                tree.apply_tar(f, gzipped="gzip" in str(descriptor.get("mediaType", "gzip")))
        base.tree = tree
    return base.tree

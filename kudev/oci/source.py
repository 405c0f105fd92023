"""A `manifests:` entry that is an OCI artifact: resolve, pull, verify, cache, unpack.

A digest reference is pulled once and then read from the cache (a digest never changes). A
tag is resolved to a digest when kudev starts and again on a forced rebuild (`r`, which calls
`forget_resolved_tags`); in between, every deploy uses the digest it resolved, so a tag moved
by someone else does not change what a file save redeploys.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kudev.oci.artifact import fetch_files
from kudev.oci.auth import DockerLogins
from kudev.oci.client import MAX_MANIFEST_BYTES, RegistryClient, client_for, sha256_digest
from kudev.oci.reference import ArtifactRef, parse_artifact_ref

_lock = threading.Lock()
_resolved: dict[str, str] = {}  # "HOST/REPO:TAG" → the digest it pointed at
_cluster_registry = ""  # the cluster's KEP-1755 registry: plain HTTP is allowed there


def forget_resolved_tags() -> None:
    """Resolve every tag again at the next deploy (a forced rebuild)."""
    with _lock:
        _resolved.clear()


def cluster_registry() -> str:
    """The cluster's KEP-1755 registry host, once a delivery has found it ("" before)."""
    return _cluster_registry


def use_cluster_registry(host: str) -> None:
    """The registry the cluster advertises (KEP-1755); it may be pulled from over plain HTTP."""
    global _cluster_registry
    _cluster_registry = host


@dataclass(frozen=True)
class PulledArtifact:
    ref: ArtifactRef  # with the digest that was deployed
    files: list[tuple[str, bytes]]  # YAML/JSON files, sorted by path
    annotations: dict[str, str]


class ArtifactEntry(Protocol):
    """What a `manifests:` artifact entry gives (config's ArtifactSpec): oci/ reads no config."""

    @property
    def reference(self) -> str: ...

    @property
    def credentials(self) -> Path | None: ...


def pull_artifact(spec: ArtifactEntry, cache_dir: Path) -> PulledArtifact:
    """The artifact's files, every digest checked; network only for what the cache lacks."""
    ref = parse_artifact_ref(spec.reference)
    connection: list[RegistryClient] = []

    def client() -> RegistryClient:
        if not connection:
            logins = DockerLogins(spec.credentials)
            made = client_for(ref.host, logins=logins, cluster_registry=_cluster_registry)
            connection.append(made)
        return connection[0]

    digest = ref.digest or _resolve_tag(ref, client)
    pinned = ref.with_digest(digest)
    cache = BlobCache(cache_dir / "oci")
    where = f"oci://{pinned}"
    manifest = cache.fetch(
        digest, lambda: client().get_manifest(ref.repository, digest).body, MAX_MANIFEST_BYTES
    )

    def layer(layer_digest: str, size: int) -> bytes:
        return cache.fetch(
            layer_digest, lambda: client().get_blob(ref.repository, layer_digest, size), size
        )

    view, files = fetch_files(manifest, layer, where)
    return PulledArtifact(ref=pinned, files=files, annotations=view.annotations)


def _resolve_tag(ref: ArtifactRef, client: Callable[[], RegistryClient]) -> str:
    key = str(ref)
    with _lock:
        known = _resolved.get(key)
    if known:
        return known
    digest = client().manifest_digest(ref.repository, ref.tag)
    with _lock:
        _resolved[key] = digest
    return digest


class BlobCache:
    """Content-addressed files under `folder/sha256/<hex>`, checked on every read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, digest: str) -> Path:
        algorithm, _, hex_digest = digest.partition(":")
        return self.folder / algorithm / hex_digest

    def get(self, digest: str) -> bytes | None:
        try:
            data = self.path(digest).read_bytes()
        except OSError:
            return None
        if sha256_digest(data) != digest:
            self.path(digest).unlink(missing_ok=True)  # damaged: fetch it again
            return None
        return data

    def put(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, target)  # readers never see half a blob

    def fetch(self, digest: str, download: Callable[[], bytes], max_bytes: int) -> bytes:
        cached = self.get(digest)
        if cached is not None:
            return cached
        data = download()  # the client checked its digest
        if len(data) <= max_bytes and sha256_digest(data) == digest:
            self.put(digest, data)
        return data

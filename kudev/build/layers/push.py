"""Sending an assembled image: blobs the registry lacks, then the manifest, tagged.

The base's layers are mounted from the base's repository when both live in the same registry
(the cluster's registry as `baseRegistry`), else copied through the blob cache. A blob already
sent in this session is not asked about again; when the registry forgot it (it was wiped),
the manifest is refused and everything is checked once more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kudev.build.layers.assemble import Assembled
from kudev.build.layers.base import BaseImage, layer_file
from kudev.image_ref import parse_ref
from kudev.oci.client import RegistryClient, client_for
from kudev.oci.errors import RegistryError


class BlobPusher:
    """Pushes images to registries, remembering which blobs each repository has."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self._clients: dict[str, RegistryClient] = {}
        self._sent: set[tuple[str, str, str]] = set()  # (host, repository, digest)

    def client(self, host: str, cluster_registry: str) -> RegistryClient:
        if host not in self._clients:
            self._clients[host] = client_for(host, cluster_registry=cluster_registry)
        return self._clients[host]

    def push(
        self,
        image: Assembled,
        base: BaseImage,
        target: str,
        on_line: Callable[[str], None],
        cluster_registry: str = "",
    ) -> str:
        """Push to `target` (HOST/REPO:TAG); returns HOST/REPO:TAG@sha256:…"""
        ref = parse_ref(target)
        client = self.client(ref.host, cluster_registry)
        try:
            self._push_once(client, ref.path, image, base, on_line)
            digest = client.push_manifest(ref.path, ref.tag, image.manifest, image.manifest_type)
        except RegistryError:
            if not self._forget(ref.host, ref.path):
                raise
            self._push_once(client, ref.path, image, base, on_line)  # the registry forgot
            digest = client.push_manifest(ref.path, ref.tag, image.manifest, image.manifest_type)
        on_line(f"pushed {target} digest {digest}")
        return f"{ref.name}:{ref.tag}@{digest}"

    def _push_once(
        self,
        client: RegistryClient,
        repository: str,
        image: Assembled,
        base: BaseImage,
        on_line: Callable[[str], None],
    ) -> None:
        for descriptor in base.layers:
            self._base_layer(client, repository, base, descriptor, on_line)
        for layer in image.layers:
            self._blob(client, repository, layer.gz, on_line, "layer")
        self._blob(client, repository, image.config, on_line, "config")

    def _base_layer(
        self,
        client: RegistryClient,
        repository: str,
        base: BaseImage,
        descriptor: dict,
        on_line: Callable[[str], None],
    ) -> None:
        digest = str(descriptor["digest"])
        key = (client.host, repository, digest)
        if key in self._sent:
            return
        if client.blob_exists(repository, digest):
            pass
        elif base.host == client.host and client.mount_blob(repository, digest, base.repository):
            on_line(f"mounted {digest[:19]} from {base.repository}")
        else:
            client.push_blob_file(repository, layer_file(base, descriptor, self.cache), digest)
            on_line(f"copied base layer {digest[:19]} from {base.host}")
        self._sent.add(key)

    def _blob(
        self,
        client: RegistryClient,
        repository: str,
        data: bytes,
        on_line: Callable[[str], None],
        what: str,
    ) -> None:
        from kudev.oci.client import sha256_digest

        key = (client.host, repository, sha256_digest(data))
        if key in self._sent:
            return
        digest, uploaded = client.push_blob(repository, data)
        if uploaded:
            on_line(f"uploaded {what} {digest[:19]} ({len(data)} bytes)")
        self._sent.add(key)

    def _forget(self, host: str, repository: str) -> bool:
        known = {key for key in self._sent if key[:2] == (host, repository)}
        self._sent -= known
        return bool(known)

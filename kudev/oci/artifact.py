"""Flux's OCI artifact format, written reproducibly and read strictly.

An artifact is an OCI image manifest with one config blob (`{}`, media type
`application/vnd.cncf.flux.config.v1+json`) and one layer, a tar+gzip of the YAML files
(`application/vnd.cncf.flux.content.v1.tar+gzip`), annotated with
`org.opencontainers.image.{source,revision,created}` — what `flux push artifact` writes and
Flux's `OCIRepository` and `flux pull artifact` read.

The same files and annotations give the same bytes, hence the same digest: tar entries are
sorted, owned by 0:0 with fixed modes and mtimes, and gzip carries no timestamp or file name.
So `created` cannot be "now": it comes from $SOURCE_DATE_EPOCH when set (the
reproducible-builds convention), else the Unix epoch, and the tar mtimes use it too.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from kudev.oci.client import OCI_MANIFEST, sha256_digest
from kudev.oci.errors import BadArtifact

FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"
SOURCE = "org.opencontainers.image.source"
REVISION = "org.opencontainers.image.revision"
CREATED = "org.opencontainers.image.created"
TITLE = "org.opencontainers.image.title"  # what `oras pull` names the file; Flux ignores it
LAYER_FILE = "manifests.tar.gz"
YAML_SUFFIXES = (".yaml", ".yml", ".json")
MAX_LAYER_BYTES = 64 * 1024 * 1024
MAX_FILES_BYTES = 256 * 1024 * 1024  # unpacked: a small gzip may hold a lot
GZIP_LEVEL = 9


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Artifact:
    config: Blob
    layer: Blob
    manifest: bytes  # the exact bytes pushed: their sha256 is the artifact's digest

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def created_epoch() -> int:
    """$SOURCE_DATE_EPOCH, else 0: a timestamp the sources fix, never the clock."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(raw) if raw.isdigit() else 0


def pack(files: Mapping[str, bytes], *, source: str, revision: str, epoch: int) -> Artifact:
    """The artifact holding `files` (relative POSIX paths → contents)."""
    config = Blob(FLUX_CONFIG, b"{}")
    layer = Blob(FLUX_CONTENT, reproducible_tar_gz(files, epoch))
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [{**layer.descriptor(), "annotations": {TITLE: LAYER_FILE}}],
        "annotations": {CREATED: created, REVISION: revision, SOURCE: source},
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    return Artifact(config=config, layer=layer, manifest=body)


def reproducible_tar_gz(files: Mapping[str, bytes], mtime: int) -> bytes:
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    packed = io.BytesIO()
    # filename="" and mtime=0: the gzip header then says nothing about this machine or moment.
    with gzip.GzipFile(
        filename="", fileobj=packed, mode="wb", compresslevel=GZIP_LEVEL, mtime=0
    ) as gz:
        gz.write(tar_bytes.getvalue())
    return packed.getvalue()


@dataclass(frozen=True)
class ManifestView:
    """What kudev needs from an artifact's manifest: its layer and annotations."""

    layer_digest: str
    layer_size: int
    annotations: dict[str, str]


def read_manifest(body: bytes, where: str) -> ManifestView:
    """The Flux content layer of an artifact manifest; BadArtifact for anything else."""
    try:
        manifest = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadArtifact("the manifest is not JSON", where=where) from None
    if not isinstance(manifest, dict):
        raise BadArtifact("the manifest is not a JSON object", where=where)
    media_type = manifest.get("mediaType", OCI_MANIFEST)
    if media_type != OCI_MANIFEST:
        raise BadArtifact(
            f"the reference names a {media_type}, not an OCI artifact manifest ({OCI_MANIFEST})",
            "point at an artifact pushed by `kudev publish`, `flux push artifact` or "
            f"`oras push` with the layer type {FLUX_CONTENT}",
            where=where,
        )
    layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
    content = [layer for layer in layers if layer.get("mediaType") == FLUX_CONTENT]
    if not content:
        found = ", ".join(str(layer.get("mediaType")) for layer in layers) or "no layers"
        raise BadArtifact(
            f"the artifact has no layer of media type {FLUX_CONTENT} (found {found})",
            "push the manifests as Flux does: one tar+gzip layer of that media type",
            where=where,
        )
    digest, size = content[0].get("digest"), content[0].get("size")
    if not isinstance(digest, str) or not digest.startswith("sha256:") or not isinstance(size, int):
        raise BadArtifact("the content layer names no sha256 digest and size", where=where)
    annotations = manifest.get("annotations") or {}
    return ManifestView(digest, size, {str(k): str(v) for k, v in annotations.items()})


def yaml_files(layer: bytes, where: str) -> list[tuple[str, bytes]]:
    """The YAML/JSON files in a content layer, sorted by path (as Flux's kustomize reads)."""
    try:
        tar_bytes = _gunzip(layer)
    except (OSError, EOFError, zlib.error):
        raise BadArtifact(
            "the content layer is not gzip", f"it must be a tar+gzip ({FLUX_CONTENT})", where=where
        ) from None
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            return sorted(_members(tar, where))
    except tarfile.TarError as err:
        raise BadArtifact(f"the content layer is not a tar archive: {err}", where=where) from None


def _gunzip(data: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
        out = gz.read(MAX_FILES_BYTES + 1)
    if len(out) > MAX_FILES_BYTES:
        raise OSError("too large")
    return out


def _members(tar: tarfile.TarFile, where: str) -> list[tuple[str, bytes]]:
    found = []
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if not member.isfile() or path.suffix not in YAML_SUFFIXES or path.name.startswith("."):
            continue  # folders, links, READMEs: never applied, as Flux's kustomize skips them
        extracted = tar.extractfile(member)
        if extracted is not None:
            found.append((str(path).removeprefix("./"), extracted.read()))
    if not found:
        raise BadArtifact(
            "the artifact holds no YAML or JSON files", "put the manifests in it", where=where
        )
    return found


def fetch_files(
    manifest: bytes, fetch_layer: Callable[[str, int], bytes], where: str
) -> tuple[ManifestView, list[tuple[str, bytes]]]:
    """Read a manifest, fetch its content layer through `fetch_layer(digest, size)`, unpack."""
    view = read_manifest(manifest, where)
    if view.layer_size > MAX_LAYER_BYTES:
        raise BadArtifact(f"the content layer is {view.layer_size} bytes; too large", where=where)
    return view, yaml_files(fetch_layer(view.layer_digest, view.layer_size), where)

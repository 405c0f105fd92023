"""An assembled image as a docker-archive (`docker save`'s format), for clusters without a
registry: `kind load image-archive`, `k3d image import`, `ctr images import`, `minikube image
load` and `docker load` all read it. Layers go in uncompressed, as `docker save` writes them."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from kudev.build.layers.assemble import Assembled
from kudev.build.layers.base import BaseImage, layer_file
from kudev.build.layers.layer_tar import FIXED_MTIME
from kudev.image_ref import parse_ref


def write_archive(
    image: Assembled, base: BaseImage, ref: str, out: io.BufferedIOBase, cache: Path
) -> None:
    config_name = image.config_digest.split(":", 1)[1] + ".json"
    layer_names: list[str] = []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, config_name, image.config)
        for descriptor in base.layers:
            with layer_file(base, descriptor, cache).open("rb") as f:
                data = (
                    gzip.decompress(f.read())
                    if "gzip" in descriptor.get("mediaType", "gzip")
                    else f.read()
                )
            layer_names.append(_add_layer(tar, data))
        for layer in image.layers:
            layer_names.append(_add_layer(tar, layer.tar))
        name = parse_ref(ref).normalized()
        manifest = [{"Config": config_name, "RepoTags": [name], "Layers": layer_names}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())


def _add_layer(tar: tarfile.TarFile, data: bytes) -> str:
    import hashlib

    name = f"{hashlib.sha256(data).hexdigest()}/layer.tar"
    _add(tar, name, data)
    return name


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
    tar.addfile(info, io.BytesIO(data))

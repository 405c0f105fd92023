"""The image's config and manifest from the base's and the Dockerfile's steps.

Docker's rules are kept where they show: ENTRYPOINT drops a CMD inherited from the base; ENV
replaces a variable in place; EXPOSE adds `port/proto`. Every step gets a `history` entry
(`empty_layer` unless it made a layer), and the JSON is written with sorted keys and no
spaces, so the same steps give the same digests.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kudev.build.layers.base import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    OCI_CONFIG,
    OCI_LAYER,
    BaseImage,
)
from kudev.build.layers.dockerfile import ConfigStep, CopyStep
from kudev.build.layers.layer_tar import Layer, sha256
from kudev.oci.client import DOCKER_MANIFEST, OCI_MANIFEST


def created_stamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds' convention), else 1970-01-01."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Assembled:
    config: bytes
    manifest: bytes
    manifest_type: str
    layers: tuple[Layer, ...]  # kudev's own, in order (the base's are in `base.layers`)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256(self.config)


def assemble(base: BaseImage, steps: list[tuple[CopyStep | ConfigStep, Layer | None]]) -> Assembled:
    created = created_stamp()
    config = copy.deepcopy(base.config)
    for stale in ("container", "container_config", "docker_version"):
        config.pop(stale, None)
    run = config.setdefault("config", {})
    history = config.setdefault("history", [])
    diff_ids = config.setdefault("rootfs", {"type": "layers"}).setdefault("diff_ids", [])
    cmd_set = False
    for step, layer in steps:
        entry: dict[str, Any] = {"created": created, "created_by": _created_by(step)}
        if layer is None:
            entry["empty_layer"] = True
        else:
            diff_ids.append(layer.diff_id)
        history.append(entry)
        if isinstance(step, ConfigStep):
            cmd_set = _apply(run, step, cmd_set)
    config["created"] = created
    config_bytes = _json(config)
    layers = tuple(layer for _, layer in steps if layer is not None)
    return Assembled(
        config=config_bytes,
        manifest=_manifest(base, config_bytes, layers),
        manifest_type=DOCKER_MANIFEST if base.docker_types else OCI_MANIFEST,
        layers=layers,
    )


def _apply(run: dict[str, Any], step: ConfigStep, cmd_set: bool) -> bool:
    keyword, value = step.instruction.keyword, step.value
    if keyword == "ENV":
        assert isinstance(value, dict)
        env = {e.split("=", 1)[0]: e for e in run.get("Env") or []}  # in order, replaced in place
        env.update({k: f"{k}={v}" for k, v in value.items()})
        run["Env"] = list(env.values())
    elif keyword == "LABEL":
        assert isinstance(value, dict)
        run["Labels"] = {**(run.get("Labels") or {}), **value}
    elif keyword == "EXPOSE":
        assert isinstance(value, list)
        run["ExposedPorts"] = {**(run.get("ExposedPorts") or {}), **{p: {} for p in value}}
    elif keyword == "WORKDIR":
        run["WorkingDir"] = value
    elif keyword == "USER":
        run["User"] = value
    elif keyword == "CMD":
        run["Cmd"] = value
        return True
    elif keyword == "ENTRYPOINT":
        run["Entrypoint"] = value
        if not cmd_set:
            run["Cmd"] = None  # Docker: a new ENTRYPOINT drops the base's CMD
    return cmd_set


def _created_by(step: CopyStep | ConfigStep) -> str:
    return " ".join(step.instruction.text.split()) + " # kudev layers"


def _manifest(base: BaseImage, config: bytes, layers: tuple[Layer, ...]) -> bytes:
    docker = base.docker_types
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    body = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "size": len(config),
            "digest": sha256(config),
        },
        "layers": [*base.layers]
        + [{"mediaType": layer_type, "size": len(x.gz), "digest": x.digest} for x in layers],
    }
    return _json(body)


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

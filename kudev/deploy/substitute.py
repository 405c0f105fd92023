"""Point the manifests' containers at the images kudev built.

A container's image is swapped when its *repository* is one kudev builds, whatever tag, digest
or registry host it was written with: `myapp`, `myapp:v1`, `docker.io/library/myapp`,
`localhost:5000/myapp:old` and `myapp@sha256:…` all name the repository `myapp`, while
`myapp-sidecar`, `other/myapp` and `nginx` do not.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kudev.image_ref import parse_ref

# kudev's tags are content hashes, so a tag never names two images and there is nothing newer
# to pull; and an image loaded onto the nodes is in no registry, so `Always` could not run it.
PULL_POLICY = "IfNotPresent"
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True)
class Replacement:
    """One container image kudev swapped."""

    kind: str
    name: str  # the object's metadata.name
    container: str
    old: str
    new: str
    namespace: str = ""
    old_pull_policy: str = ""  # set when kudev changed the container's imagePullPolicy

    def __str__(self) -> str:
        text = f"{self.kind}/{self.name} container {self.container}: {self.old} → {self.new}"
        if self.old_pull_policy:
            text += f" (imagePullPolicy {self.old_pull_policy} → {PULL_POLICY})"
        return text


@dataclass(frozen=True)
class NearMiss:
    """A container image that shares a configured image's last name component but is another
    repository (`ghcr.io/acme/myapp` for `myapp`): the likely cause of an unused image."""

    image_name: str
    kind: str
    name: str
    container: str
    ref: str


@dataclass(frozen=True)
class SubstitutionReport:
    replacements: tuple[Replacement, ...]
    unused: tuple[str, ...]  # configured images no container refers to, in refs' order
    near_misses: tuple[NearMiss, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self._unused_warning(name) for name in self.unused)

    def _unused_warning(self, image_name: str) -> str:
        text = f"image `{image_name}` is built but no container in the manifests uses it"
        misses = [m for m in self.near_misses if m.image_name == image_name]
        if not misses:
            return text
        found = ", ".join(f"{m.ref} ({m.kind}/{m.name} container {m.container})" for m in misses)
        repository = parse_ref(misses[0].ref).repository
        return (
            f"{text}; found {found}, a different repository "
            f"(name the image `{repository}` in .kudev.yaml to have kudev replace it)"
        )


def substitute_images(
    objects: Iterable[Mapping[str, Any]], refs: Mapping[str, str]
) -> tuple[list[dict[str, Any]], SubstitutionReport]:
    """Copies of `objects` whose containers run the built images, and what was swapped.

    `refs` maps a configured image name to the reference to deploy. Objects of other kinds,
    and images of other repositories, come back unchanged.
    """
    wanted = {parse_ref(name).repository: name for name in refs}
    result: list[dict[str, Any]] = []
    replacements: list[Replacement] = []
    misses: list[NearMiss] = []
    for original in objects:
        obj = copy.deepcopy(dict(original))
        for container in _containers(obj):
            image = container.get("image")
            if not isinstance(image, str):
                continue
            image_name = wanted.get(parse_ref(image).repository)
            if image_name is None:
                misses.extend(_near_misses(obj, container, image, wanted))
                continue
            replacements.append(_replace(obj, container, refs[image_name]))
        result.append(obj)
    used = {parse_ref(r.old).repository for r in replacements}
    unused = tuple(name for repo, name in wanted.items() if repo not in used)
    report = SubstitutionReport(tuple(replacements), unused, tuple(misses))
    return result, report


def _containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pod_spec: Any = obj
    for key in POD_SPEC_PATHS.get(str(obj.get("kind", "")), ()):
        pod_spec = pod_spec.get(key) if isinstance(pod_spec, dict) else None
    if not isinstance(pod_spec, dict) or pod_spec is obj:
        return
    for field in CONTAINER_FIELDS:
        containers = pod_spec.get(field)
        if isinstance(containers, list):
            yield from (c for c in containers if isinstance(c, dict))


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _replace(obj: dict[str, Any], container: dict[str, Any], new: str) -> Replacement:
    old, container["image"] = container["image"], new
    policy = container.get("imagePullPolicy")
    if policy is not None:
        container["imagePullPolicy"] = PULL_POLICY
    metadata = _metadata(obj)
    return Replacement(
        kind=str(obj.get("kind", "")),
        name=str(metadata.get("name", "")),
        container=str(container.get("name", "")),
        old=old,
        new=new,
        namespace=str(metadata.get("namespace", "") or ""),
        old_pull_policy=str(policy) if policy not in (None, PULL_POLICY) else "",
    )


def _near_misses(
    obj: dict[str, Any], container: dict[str, Any], image: str, wanted: Mapping[str, str]
) -> Iterator[NearMiss]:
    last = parse_ref(image).repository.rsplit("/", 1)[-1]
    for repository, image_name in wanted.items():
        if repository.rsplit("/", 1)[-1] == last:
            yield NearMiss(
                image_name=image_name,
                kind=str(obj.get("kind", "")),
                name=str(_metadata(obj).get("name", "")),
                container=str(container.get("name", "")),
                ref=image,
            )

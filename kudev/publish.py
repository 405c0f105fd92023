"""`kudev publish`: the project as one OCI artifact that Flux (or `kudev`) can deploy.

It builds every image (the engine's own build path, one cycle), pushes each to the target
registry through the Docker Engine and reads back its digest, renders the manifests with
`HOST/NAME@sha256:…` references, and pushes the YAML as a Flux-format artifact. stdout gets
only `HOST/REPO@sha256:…`, so `kudev publish | xargs …` composes; the rest goes to stderr.

Default target: the cluster's registry (`cluster.registry`, else the KEP-1755 one it
advertises), repository `<project>-manifests` (the images already use `<image>:<kudev tag>`,
and the project is often named like its image), tag: the primary image's kudev tag.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any, TextIO

from kudev import events as ev
from kudev.errors import KudevError
from kudev.oci.artifact import Artifact, created_epoch, pack
from kudev.oci.client import OCI_MANIFEST, RegistryClient, client_for
from kudev.oci.reference import ArtifactRef, BadReference, parse_artifact_ref
from kudev.project import Project
from kudev.session import SessionOptions

MANIFESTS_FILE = "manifests.yaml"
REPOSITORY_SUFFIX = "-manifests"


class PublishFailed(KudevError):
    """The build, a push or the rendering failed."""


@dataclass(frozen=True)
class Target:
    ref: ArtifactRef  # where the artifact goes (tag set)
    image_registry: str  # "HOST[/PREFIX]" the images are pushed under
    cluster_registry: str = ""  # the KEP-1755 host, when it was asked for


@dataclass(frozen=True)
class Published:
    ref: ArtifactRef  # with the digest
    images: dict[str, str]  # image name → HOST/NAME@sha256:…
    seconds: float
    client: RegistryClient  # its request counts, for the summary


def publish(project: Project, options: SessionOptions, to: str | None, log: TextIO) -> Published:
    started = time.monotonic()
    built = build_images(project, options, log)
    target = find_target(project, options, to, primary_tag=built[project.config.image.name][1])
    client = client_for(target.ref.host, cluster_registry=target.cluster_registry)
    images = push_images(built, target, client, log)
    artifact = render_artifact(project, images, target.ref.tag)
    digest = push_artifact(client, target.ref, artifact)
    pushed = target.ref.with_digest(digest)
    return Published(pushed, images, time.monotonic() - started, client)


# -- build -----------------------------------------------------------------------------------


def build_images(
    project: Project, options: SessionOptions, log: TextIO
) -> dict[str, tuple[str, str]]:
    """Image name → (local reference, kudev tag), built by one engine cycle without a cluster."""
    from kudev.engine.loop import Engine
    from kudev.headless import HeadlessPrinter

    printer = HeadlessPrinter(log, json_lines=False)
    ready: dict[str, tuple[str, str]] = {}

    def sink(event: ev.Event) -> None:
        if isinstance(event, ev.ImageReady):
            ready[event.image] = (event.ref, event.tag)
        printer(event)

    build_only = SessionOptions(
        once=True, build_timestamp=options.build_timestamp, load_images=False
    )
    if not Engine(project, build_only, sink).run():
        raise PublishFailed("the build failed", "see the build output above")
    return ready


# -- where to -------------------------------------------------------------------------------


def find_target(
    project: Project, options: SessionOptions, to: str | None, primary_tag: str
) -> Target:
    if to:
        try:
            ref = parse_artifact_ref(to, default_tag=primary_tag)
        except BadReference as err:
            raise PublishFailed(str(err), "e.g. --to oci://localhost:5000/myapp:v1") from None
        return Target(ArtifactRef(ref.host, ref.repository, ref.tag), ref.host)
    registry, advertised = _cluster_registry(project, options)
    host, _, prefix = registry.partition("/")
    repository = f"{prefix}/" if prefix else ""
    repository += project.config.name + REPOSITORY_SUFFIX
    return Target(ArtifactRef(host, repository, primary_tag), registry, advertised)


def _cluster_registry(project: Project, options: SessionOptions) -> tuple[str, str]:
    """(registry to push to, the host the cluster advertises or "")."""
    config = project.config
    if config.cluster.registry:
        return config.cluster.registry, ""
    from kudev.cluster.detect import api_client_for, cluster_from_kubeconfig, find_local_registry

    context = options.kube_context or config.kube_context or None
    info = cluster_from_kubeconfig(options.kubeconfig, context, config.cluster)
    advertised = find_local_registry(api_client_for(options.kubeconfig, info.context))
    if not advertised:
        raise PublishFailed(
            f"no --to given, and the cluster of context {info.context!r} advertises no "
            "registry (KEP-1755 ConfigMap kube-public/local-registry-hosting)",
            "pass --to oci://HOST/REPO[:TAG], or set cluster.registry in .kudev.yaml",
        )
    return advertised, advertised


# -- images ---------------------------------------------------------------------------------


def push_images(
    built: dict[str, tuple[str, str]], target: Target, client: RegistryClient, log: TextIO
) -> dict[str, str]:
    """Image name → `HOST/NAME@sha256:…`, pushed by the Docker Engine (which skips layers the
    registry has), the digest read back from the registry."""
    from kudev.build.docker_client import connect
    from kudev.cluster.loaders import RegistryLoader

    docker = connect()
    try:
        loader = RegistryLoader(target.image_registry, docker)
        refs = {}
        for name, (local_ref, _) in built.items():
            pushed = loader.load(local_ref, _lines_to(log, name))
            repository, _, tag = pushed.partition("/")[2].rpartition(":")
            digest = client.manifest_digest(repository, tag)
            refs[name] = f"{pushed.rpartition(':')[0]}@{digest}"
            print(f"pushed {name}: {refs[name]}", file=log)
        return refs
    finally:
        docker.close()


def _lines_to(log: TextIO, image: str) -> Any:
    return lambda line: print(f"{image} | {line}", file=log)


# -- the artifact ---------------------------------------------------------------------------


def render_artifact(project: Project, images: dict[str, str], tag: str) -> Artifact:
    """The manifests (templates, YAML, kustomize, helm) with the pushed digests, as YAML."""
    import yaml

    from kudev.deploy.manifests import render

    rendered = render(project.config, images)
    text = yaml.safe_dump_all(rendered.objects, sort_keys=True, default_flow_style=False)
    return pack(
        {MANIFESTS_FILE: text.encode()},
        source=source_url(project),
        revision=tag,
        epoch=created_epoch(),
    )


def source_url(project: Project) -> str:
    """The git remote the project comes from; else `kudev:<name>` (no machine-specific path,
    so another checkout of the same sources publishes the same bytes)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(project.config.root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"kudev:{project.config.name}"
    return done.stdout.strip() or f"kudev:{project.config.name}"


def push_artifact(client: RegistryClient, ref: ArtifactRef, artifact: Artifact) -> str:
    for blob in (artifact.config, artifact.layer):
        client.push_blob(ref.repository, blob.data)
    return client.push_manifest(ref.repository, ref.tag, artifact.manifest, OCI_MANIFEST)


def summary(published: Published) -> str:
    counts = ", ".join(f"{n} {m}" for m, n in sorted(published.client.requests.items()))
    return (
        f"published oci://{published.ref} in {published.seconds:.1f}s "
        f"(artifact: {published.client.blobs_uploaded} blobs uploaded; requests: {counts})"
    )


def run_publish(
    project: Project, options: SessionOptions, to: str | None, out: Any, log: TextIO
) -> int:
    from kudev import exit_codes

    published = publish(project, options, to, log)
    print(summary(published), file=log)
    print(str(published.ref), file=out)
    return exit_codes.OK

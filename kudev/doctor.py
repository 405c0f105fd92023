"""`kudev doctor`: one line per check (✓ ok, ✗ required and failing, ! worth knowing).

Each failing line is followed by a `hint:` line with the remedy. Nothing here raises when
Docker or the cluster is down: that is what the checks are for.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kudev.cluster.detect import (
    ClusterInfo,
    KubeContext,
    api_client_for,
    detect_cluster,
    error_reason,
    find_local_registry,
    load_kube_context,
)
from kudev.cluster.loader_choice import loader_for
from kudev.cluster_kinds import KINDS_IN_HINTS
from kudev.config.model import ClusterSpec, ImageSpec
from kudev.errors import KudevError
from kudev.tool_run import INSTALL_HINTS

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
BUILDKIT_MIN_API = (1, 39)
DOCKER_REMEDY = (
    "start the Docker Engine (or Docker Desktop); if `docker` works through a CLI context, "
    "export DOCKER_HOST=$(docker context inspect --format '{{.Endpoints.docker.Host}}')"
)


@dataclass(frozen=True)
class Check:
    label: str
    ok: bool
    detail: str
    remedy: str = ""
    required: bool = True

    def lines(self) -> list[str]:
        mark = "✓" if self.ok else ("✗" if self.required else "!")
        head = f"{mark} {self.label:<15} {self.detail}"
        return [head, f"  hint: {self.remedy}"] if self.remedy and not self.ok else [head]


def run_doctor(
    kubeconfig: str | None = None,
    context: str | None = None,
    out: Callable[[str], None] = print,
    *,
    cluster: ClusterSpec | None = None,
    images: tuple[ImageSpec, ...] = (),
) -> int:
    """Print the checks; 0 when every required one passes, else 1."""
    failed = False

    def report(check: Check) -> None:
        nonlocal failed
        failed = failed or (check.required and not check.ok)
        for line in check.lines():
            out(line)

    held: list[Check] = []
    docker_client = _check_docker(held.append)
    chosen = [_builder_check(image, docker_client, held[0]) for image in images or (None,)]
    # A dead Docker Engine fails doctor only when Docker is what would build.
    needs_docker = any(name in ("docker", "") for name, _ in chosen)
    report(replace(held[0], required=needs_docker))
    for check in [*held[1:], *(check for _, check in chosen)]:
        report(check)
    try:
        _check_cluster(kubeconfig, context, cluster or ClusterSpec(), docker_client, report)
    finally:
        if docker_client is not None:
            docker_client.close()
    return 1 if failed else 0


def _check_docker(report: Callable[[Check], None]) -> Any:
    """Docker reachable and BuildKit support; returns the client or None."""
    import docker

    host = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    try:
        client = docker.from_env(timeout=10)
        version = client.version()
    except (
        docker.errors.DockerException,
        OSError,
        ValueError,
    ) as err:  # ValueError: bad DOCKER_HOST
        report(
            Check("docker", False, f"cannot connect to {host}: {error_reason(err)}", DOCKER_REMEDY)
        )
        return None
    api = str(version.get("ApiVersion", "?"))
    report(
        Check("docker", True, f"Docker Engine {version.get('Version', '?')} (API {api}) at {host}")
    )
    report(_buildkit_check(client, api))
    return client


def _builder_check(image: ImageSpec | None, docker_client: Any, docker: Check) -> tuple[str, Check]:
    """(builder name or "" for none, the line): which builder will run for `image`, and why
    — the engine's own choice (build/choice.py)."""
    from kudev.build.choice import choose, layers_refusal
    from kudev.errors import DockerUnavailable

    def connect() -> Any:
        if docker_client is None:
            raise DockerUnavailable(docker.detail, docker.remedy)
        return docker_client

    requested = image.builder if image is not None else "auto"
    refusal = (
        (lambda: layers_refusal(image.dockerfile, dict(image.build_args), image.target))
        if image is not None
        else None
    )
    named = f"{image.name}: " if image is not None else ""
    try:
        choice = choose(requested, connect, refusal)
    except KudevError as err:
        return "", Check("builder", False, f"{named}none: {err.cause}", err.remedy)
    why = choice.why or "builder: set in .kudev.yaml"
    refused = refusal() if refusal is not None and choice.name == "layers" else ""
    if refused:
        remedy = "use builder docker, podman or buildah for it, or auto"
        return "layers", Check("builder", False, f"{named}layers refuses: {refused}", remedy)
    return choice.name, Check("builder", True, f"{named}{choice.name} ({why})")


def _buildkit_check(client: Any, api: str) -> Check:
    try:
        supported = tuple(int(p) for p in api.split(".")[:2]) >= BUILDKIT_MIN_API
    except ValueError:
        supported = False
    if not supported:
        return Check(
            "buildkit",
            False,
            f"not supported by this daemon (API {api} < 1.39)",
            "upgrade Docker to 18.09 or later",
            required=False,
        )
    from kudev.build.buildkit import find_buildkit_cli

    cli = find_buildkit_cli()
    if cli is None:
        return Check(
            "buildkit",
            False,
            "the daemon has it, but no docker CLI here drives it: kudev uses the classic builder",
            "install the docker buildx plugin for faster incremental builds",
            required=False,
        )
    return Check("buildkit", True, f"kudev builds with BuildKit via {cli}")


def _check_cluster(
    kubeconfig: str | None,
    context: str | None,
    spec: ClusterSpec,
    docker_client: Any,
    report: Callable[[Check], None],
) -> None:
    try:
        found = load_kube_context(kubeconfig, context)
    except KudevError as err:
        report(Check("kube context", False, err.cause, err.remedy))
        return
    files = ", ".join(str(p) for p in found.files)
    report(Check("kube context", True, f"{found.context} → {found.server or '?'} ({files})"))
    info = detect_cluster(found.context, found.cluster, found.server, spec, provider=found.provider)
    report(_kind_check(info, spec))
    report(_local_check(info))
    registry, reachable = _check_api(found, kubeconfig, report)
    if not reachable:
        return
    try:
        loader = loader_for(info, spec, registry, docker_client)
    except KudevError as err:
        report(Check("image loader", False, err.cause, err.remedy))
        return
    report(Check("image loader", True, loader.describe()))
    for tool in loader.requires:
        path = shutil.which(tool)
        if path:
            report(Check(tool, True, f"on PATH ({path})"))
        else:
            report(
                Check(tool, False, "not found on PATH", INSTALL_HINTS.get(tool, f"install {tool}"))
            )


def _kind_check(info: ClusterInfo, spec: ClusterSpec) -> Check:
    source = "from .kudev.yaml" if spec.kind != "auto" else "detected"
    named = f", name {info.name}" if info.name else ""
    if info.kind == "unknown":
        return Check(
            "cluster kind",
            False,
            f"unknown for context {info.context!r} (cluster {info.cluster!r})",
            f"set cluster.kind in .kudev.yaml ({KINDS_IN_HINTS}) "
            "unless the cluster advertises a local registry",
            required=False,
        )
    return Check("cluster kind", True, f"{info.kind} ({source}{named})")


def _local_check(info: ClusterInfo) -> Check:
    if info.local:
        return Check("local", True, "the cluster runs on this machine")
    return Check(
        "local",
        False,
        f"{info.server or 'the server'} is not on this machine; it may be a shared cluster",
        "kudev deploys there only with --allow-context or spec.allowContexts in .kudev.yaml",
        required=False,
    )


def _check_api(
    found: KubeContext, kubeconfig: str | None, report: Callable[[Check], None]
) -> tuple[str | None, bool]:
    """(KEP-1755 registry host, whether the API server answered)."""
    try:
        api_client = api_client_for(kubeconfig, found.context)
    except KudevError as err:
        report(Check("api server", False, err.cause, err.remedy))
        return None, False
    try:
        registry = find_local_registry(api_client)
    except KudevError as err:
        report(Check("api server", False, err.cause, err.remedy))
        return None, False
    finally:
        api_client.close()
    report(Check("api server", True, f"reachable at {found.server}"))
    if registry:
        report(
            Check(
                "local registry", True, f"{registry} (ConfigMap kube-public/local-registry-hosting)"
            )
        )
    else:
        report(Check("local registry", True, "none advertised (optional, KEP-1755)"))
    return registry, True

"""Getting a freshly built image onto the cluster's nodes.

Each `ImageLoader` knows one way: nothing to do (the Docker daemon is the cluster's runtime),
a cluster tool (`kind load`, `minikube image load`, `k3d image import`), `docker save` piped
into a containerd import, or a push to a registry the cluster pulls from. `loader_for` picks one.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import docker.errors
import urllib3

from kudev.cluster.detect import API_TIMEOUT, ClusterInfo, unreachable
from kudev.cluster_kinds import DOCKER_RUNTIME_KINDS, KINDS, KINDS_BY_NAME, KINDS_IN_HINTS
from kudev.config.model import ClusterSpec
from kudev.errors import ClusterError, DockerUnavailable, KudevError
from kudev.image_ref import parse_ref

LineSink = Callable[[str], None]

TAIL_LINES = 20
INSTALL_HINTS = {
    **{kind.tool: kind.install_hint for kind in KINDS if kind.install_hint},
    "sudo": "install sudo, or run kudev as root",
}
CONTAINERD_IMPORT = ("ctr", "-n", "k8s.io", "images", "import", "-")
MICROK8S_IMPORT = ("microk8s", "ctr", "image", "import", "-")
K3S_IMPORT = ("k3s", "ctr", "-n", "k8s.io", "images", "import", "-")


class ImageLoader(Protocol):
    requires: tuple[str, ...]  # executables that must be on PATH

    def describe(self) -> str:
        """One line for people: how images reach the nodes."""
        ...

    def deploy_ref(self, image_ref: str) -> str:
        """The reference manifests should use for `image_ref` once loaded."""
        ...

    def load(self, image_ref: str, on_line: LineSink) -> str:
        """Put the image on the nodes, streaming tool output; returns deploy_ref(image_ref)."""
        ...


class LoaderFailed(ClusterError):
    """A loader tool exited non-zero. `output` keeps its last lines (all were streamed)."""

    def __init__(self, cause: str, remedy: str, output: tuple[str, ...]) -> None:
        super().__init__(cause, remedy)
        self.output = output

    def render(self) -> str:
        tail = "".join(f"\n  | {line}" for line in self.output)
        return super().render() + tail


# -- the loaders ---------------------------------------------------------------------------


class NoLoad:
    """The cluster runs on the Docker daemon kudev builds with: the image is already there."""

    requires: tuple[str, ...] = ()

    def __init__(self, why: str = "the cluster uses the Docker daemon's images") -> None:
        self.why = why

    def describe(self) -> str:
        return f"no load needed ({self.why})"

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        return image_ref


class _ToolLoader:
    """A loader that runs one cluster tool with the image reference in its arguments."""

    tool = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requires: tuple[str, ...] = (self.tool,)

    def argv(self, image_ref: str) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        return " ".join(self.argv("IMAGE"))

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        run_streaming(self.argv(image_ref), on_line, remedy=self.remedy())
        return image_ref

    def remedy(self) -> str:
        return f"is the {self.tool} cluster {self.name!r} running?"


class KindLoader(_ToolLoader):
    tool = "kind"

    def argv(self, image_ref: str) -> list[str]:
        return ["kind", "load", "docker-image", image_ref, "--name", self.name]

    def remedy(self) -> str:
        return f"is the kind cluster {self.name!r} running? `kind get clusters` lists them"


class MinikubeLoader(_ToolLoader):
    tool = "minikube"

    def argv(self, image_ref: str) -> list[str]:
        return ["minikube", "image", "load", image_ref, "-p", self.name]

    def remedy(self) -> str:
        return f"is the minikube profile {self.name!r} running? `minikube status -p {self.name}`"


class K3dLoader(_ToolLoader):
    tool = "k3d"

    def argv(self, image_ref: str) -> list[str]:
        return ["k3d", "image", "import", image_ref, "-c", self.name]

    def remedy(self) -> str:
        return f"is the k3d cluster {self.name!r} running? `k3d cluster list` lists them"


class ContainerdImportLoader:
    """`docker save` streamed into a containerd import command's stdin (no temp file)."""

    def __init__(self, argv: Iterable[str], docker_client: Any) -> None:
        self.argv = list(argv)
        self.docker = docker_client
        self.requires = _executables(self.argv)

    def describe(self) -> str:
        return f"docker save IMAGE | {' '.join(self.argv)}"

    def deploy_ref(self, image_ref: str) -> str:
        return image_ref

    def load(self, image_ref: str, on_line: LineSink) -> str:
        image = _local_image(self.docker, image_ref)
        # named=: without it `docker save` drops the repository:tag and ctr imports no name.
        named = image_ref if image_ref in image.tags else True
        run_streaming(
            self.argv,
            on_line,
            stdin=_docker_stream(lambda: image.save(named=named)),
            remedy="check that the import command works: "
            f"`docker save {image_ref} | {' '.join(self.argv)}`",
        )
        return image_ref


class RegistryLoader:
    """Tag the image for a registry the cluster pulls from and push it there."""

    requires: tuple[str, ...] = ()

    def __init__(self, host: str, docker_client: Any) -> None:
        self.host = host.rstrip("/")
        self.docker = docker_client

    def describe(self) -> str:
        return f"push to registry {self.host}"

    def deploy_ref(self, image_ref: str) -> str:
        repo, tag = split_ref(image_ref)
        return f"{self.host}/{repo}:{tag}"

    def load(self, image_ref: str, on_line: LineSink) -> str:
        image = _local_image(self.docker, image_ref)
        target = self.deploy_ref(image_ref)
        parsed = parse_ref(target)
        repository, tag = parsed.name, parsed.tag
        try:
            image.tag(repository, tag)
        except (docker.errors.DockerException, OSError) as err:
            raise _docker_error(err) from err
        stream = _docker_stream(
            lambda: self.docker.api.push(repository, tag=tag, stream=True, decode=True)
        )
        for line in _push_lines(stream, self.host):
            on_line(line)
        return target


def _push_lines(stream: Iterable[dict[str, Any]], host: str) -> Iterator[str]:
    """Readable lines from the push progress stream; raises on an `error` item.

    Only the first "Pushing" of each layer becomes a line: the daemon repeats it for every
    few hundred kilobytes.
    """
    pushing: set[str] = set()
    for item in stream:
        if item.get("error"):
            raise ClusterError(
                f"push to {host} failed: {item['error']}",
                f"is the registry at {host} running and reachable from the Docker daemon? "
                "Registries outside 127.0.0.0/8 must be in the daemon's insecure-registries "
                "unless they serve TLS",
            )
        status, layer = item.get("status", ""), item.get("id", "")
        if status == "Pushing":
            if layer in pushing:
                continue
            pushing.add(layer)
        aux = item.get("aux") or {}
        if aux.get("Digest"):
            yield f"pushed {aux.get('Tag', '')} digest {aux['Digest']}"
        elif status:
            yield f"{layer}: {status}" if layer else status


# -- choosing one --------------------------------------------------------------------------


def loader_for(
    info: ClusterInfo, spec: ClusterSpec, registry: str | None, docker_client: Any
) -> ImageLoader:
    """The loader for this cluster.

    Order: cluster.registry / cluster.import_command from .kudev.yaml, then a registry the
    cluster advertises (KEP-1755, `registry`), then cluster.kind, then the detected kind.
    """
    if spec.registry:
        return RegistryLoader(spec.registry, docker_client)
    if spec.import_command:
        return ContainerdImportLoader(spec.import_command, docker_client)
    if registry:
        return RegistryLoader(registry, docker_client)
    kind = spec.kind if spec.kind != "auto" else info.kind
    make = LOADERS.get(kind)
    if make is None:
        raise ClusterError(
            f"cannot tell how to get images onto the nodes of context {info.context!r} "
            f"(cluster {info.cluster!r}, server {info.server or '?'}; kind {kind!r})",
            f"set cluster.kind in .kudev.yaml to one of {KINDS_IN_HINTS} — "
            "or cluster.registry to a registry the cluster pulls from",
        )
    name = spec.name or info.name or KINDS_BY_NAME[kind].default_name
    return make(LoadTarget(kind, name, docker_client))


@dataclass(frozen=True)
class LoadTarget:
    """What a loader is made for: the cluster's kind, its name, the Docker Engine to read."""

    kind: str
    name: str  # kind cluster name, minikube profile, k3d cluster; "" when the kind has none
    docker_client: Any


def _shares_docker_images(target: LoadTarget) -> ImageLoader:
    return NoLoad(f"{target.kind} runs on the Docker daemon's images")


def _no_registry(target: LoadTarget) -> ImageLoader:
    raise ClusterError(
        "cluster.kind is registry but no registry is set and the cluster advertises none",
        "set cluster.registry in .kudev.yaml (e.g. localhost:5000)",
    )


def _k3s(target: LoadTarget) -> ImageLoader:
    # sudo -n: fail with a message rather than prompt for a password under the TUI.
    prefix = () if _is_root() else ("sudo", "-n")
    return ContainerdImportLoader((*prefix, *K3S_IMPORT), target.docker_client)


# How each cluster kind of kinds.KINDS gets images onto its nodes.
LOADERS: dict[str, Callable[[LoadTarget], ImageLoader]] = {
    **{kind: _shares_docker_images for kind in DOCKER_RUNTIME_KINDS},
    "kind": lambda target: KindLoader(target.name),
    "minikube": lambda target: MinikubeLoader(target.name),
    "k3d": lambda target: K3dLoader(target.name),
    "k3s": _k3s,
    "microk8s": lambda target: ContainerdImportLoader(MICROK8S_IMPORT, target.docker_client),
    "containerd": lambda target: ContainerdImportLoader(CONTAINERD_IMPORT, target.docker_client),
    "registry": _no_registry,
    "none": lambda target: NoLoad("cluster.kind is none"),
}


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# -- skipping loads ------------------------------------------------------------------------


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


def split_ref(ref: str) -> tuple[str, str]:
    """(repository path without registry host, tag): "docker.io/library/app:1" → ("app", "1")."""
    parsed = parse_ref(ref)
    return parsed.repository, parsed.tag_or_latest


# -- subprocesses --------------------------------------------------------------------------


def run_streaming(
    argv: list[str],
    on_line: LineSink,
    *,
    stdin: Iterable[bytes] | None = None,
    remedy: str = "",
) -> None:
    """Run `argv` (no shell), passing each stdout/stderr line to `on_line` as it arrives.

    `stdin` chunks are written from a thread so a tool that prints while it reads cannot
    deadlock us. Non-zero exit → LoaderFailed with the last lines; missing tool → ClusterError.
    """
    tool = argv[0]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except FileNotFoundError as err:
        raise ClusterError(
            f"{tool} not found on PATH", INSTALL_HINTS.get(tool, f"install {tool}")
        ) from err
    feeder = _Feeder(proc, stdin) if stdin is not None else None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            # A carriage return redraws a terminal line: keep what the terminal would show.
            line = raw.decode("utf-8", "replace").rstrip("\r\n").rsplit("\r", 1)[-1]
            tail.append(line)
            on_line(line)
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if feeder:
            feeder.join()
    if feeder and feeder.error:
        raise feeder.error
    if code != 0:
        said = next((line for line in reversed(tail) if line.strip()), "no output")
        raise LoaderFailed(
            f"`{' '.join(argv)}` exited with status {code}: {said.strip()}",
            remedy,
            tuple(tail),
        )


class _Feeder(threading.Thread):
    """Writes chunks into a process's stdin; keeps the chunk source's exception, if any."""

    def __init__(self, proc: subprocess.Popen[bytes], chunks: Iterable[bytes]) -> None:
        super().__init__(daemon=True, name="kudev-stdin-feeder")
        self.proc = proc
        self.chunks = chunks
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        assert self.proc.stdin is not None
        try:
            for chunk in self.chunks:
                self.proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the tool exited early; its exit status and output say why
        except BaseException as err:  # docker save failed mid-stream
            self.error = err
            self.proc.kill()
        finally:
            close = getattr(self.chunks, "close", None)
            if close:
                close()  # let go of the Docker connection when the tool stopped reading
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()


def _executables(argv: list[str]) -> tuple[str, ...]:
    """The programs an argv needs: `sudo -n k3s ctr …` needs sudo and k3s."""
    if argv and argv[0] == "sudo":
        wrapped = next((arg for arg in argv[1:] if not arg.startswith("-")), None)
        return ("sudo", wrapped) if wrapped else ("sudo",)
    return (argv[0],) if argv else ()


# -- docker --------------------------------------------------------------------------------


def _local_image(docker_client: Any, image_ref: str) -> Any:
    if docker_client is None:
        raise DockerUnavailable("no Docker Engine connection", "start Docker or set DOCKER_HOST")
    try:
        return docker_client.images.get(image_ref)
    except docker.errors.ImageNotFound as err:
        raise ClusterError(
            f"image {image_ref} is not in the local Docker Engine",
            "build it first; kudev loads only images it built",
        ) from err
    except (docker.errors.DockerException, OSError) as err:
        raise _docker_error(err) from err


def _docker_stream(start: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """Items of a Docker stream begun lazily, with Docker failures as kudev errors."""
    try:
        yield from start()
    except (docker.errors.DockerException, OSError) as err:
        raise _docker_error(err) from err


def _docker_error(err: BaseException) -> KudevError:
    if isinstance(err, docker.errors.APIError):
        return ClusterError(
            f"Docker Engine refused: {err.explanation or err}", "see the Docker daemon's log"
        )
    return DockerUnavailable(f"lost the Docker Engine: {err}", "is Docker running? (`docker info`)")

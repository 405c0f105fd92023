"""What kudev reads out of `.kudev.yaml`: frozen dataclasses with every path absolute.

Everything downstream reads only these; the rest of kudev.config turns a file into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

API_VERSION = "kudev.io/v1alpha1"
KIND = "DeploymentConfig"
CONFIG_NAMES = (".kudev.yaml", ".kudev.yml")


@dataclass(frozen=True)
class SyncRule:
    """`src` (a file or folder of the build context) is `dest` in the container."""

    src: str  # relative to the context, with slashes; "." is the whole context
    dest: str  # absolute path in the container
    ignore: tuple[str, ...] = ()  # .dockerignore-style patterns, relative to `src`


@dataclass(frozen=True)
class RunStep:
    """A command run in the container after a sync (only when a synced path matches)."""

    argv: tuple[str, ...]  # a string command is ("sh", "-c", command)
    trigger: tuple[str, ...] = ()  # .dockerignore-style patterns of context paths; () = always


RESTART_MODES = ("never", "container")


@dataclass(frozen=True)
class LiveUpdateSpec:
    """How saves reach the running containers without a rebuild (empty `sync`: they don't)."""

    sync: tuple[SyncRule, ...] = ()
    inferred: bool = False  # `sync: infer`: the rules come from the Dockerfile's COPY/ADD lines
    infer_notes: tuple[str, ...] = ()  # the Dockerfile lines infer could not map, and why
    run: tuple[RunStep, ...] = ()
    restart: str = "never"  # or "container": restart it after each sync
    fallback: tuple[str, ...] = ()  # patterns of context paths that always force a full build


@dataclass(frozen=True)
class ImageSpec:
    """One image kudev builds. Paths are absolute."""

    name: str  # repository name, e.g. "myapp" (no tag)
    context: Path  # build context folder
    dockerfile: Path  # the Dockerfile (may lie outside the context)
    build_args: tuple[tuple[str, str], ...] = ()  # sorted by key
    target: str = ""
    exclusions: tuple[str, ...] = ()  # extra .dockerignore-style patterns, after the file's
    builder: str = "auto"  # auto | docker | podman | buildah | layers (spec.builder by default)
    base_registry: str = ""  # the layer builder's Docker Hub mirror (spec.baseRegistry)
    live: LiveUpdateSpec = field(default_factory=LiveUpdateSpec)


# An editor's save (write, or temp file + rename) lands within a few milliseconds, and
# watchfiles hands a batch over one to two steps after its last event: 10 ms steps see a save
# ~15 ms after it (median), where 50 ms steps took ~57 ms. Storms are folded by the watcher
# itself (kudev.sources.watch) with a quiet spell of their own.
DEFAULT_DEBOUNCE_MS = 10


@dataclass(frozen=True)
class WatchSpec:
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    ignore: tuple[str, ...] = ()  # extra .dockerignore-style patterns, relative to the project root


@dataclass(frozen=True)
class ClusterSpec:
    """How images reach the cluster. kind "auto" detects it from the kube context."""

    kind: str = "auto"
    name: str = ""  # kind cluster name, minikube profile, k3d cluster
    registry: str = ""  # push here instead of loading (e.g. "localhost:5000")
    import_command: tuple[str, ...] = ()  # reads `docker save` output on stdin


@dataclass(frozen=True)
class PortForwardSpec:
    local: int
    remote: int
    resource: str = ""  # "svc/name", "deploy/name" or "pod/name"; "" = the app's service


@dataclass(frozen=True)
class KustomizeSpec:
    load_restrictor: str = ""  # "" (kubectl default) or "LoadRestrictionsNone"
    enable_helm: bool = False


@dataclass(frozen=True)
class ArtifactSpec:
    """A `manifests:` entry that is an OCI artifact (Flux's format), e.g. `kudev publish`'s."""

    reference: str  # "HOST/REPO:TAG" or "HOST/REPO@sha256:…", without `oci://`
    credentials: Path | None = None  # a Docker config.json with the login; None = Docker's own


@dataclass(frozen=True)
class Config:
    path: Path  # the config file
    root: Path  # the project folder (holds the config file unless -C says otherwise)
    name: str  # metadata.name
    images: tuple[ImageSpec, ...]
    namespace: str = "default"
    create_namespace: bool = False
    replicas: int = 1
    local_port: int | None = None
    service_port: int | None = None
    port_forwards: tuple[PortForwardSpec, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # in file order
    kube_context: str = ""  # pin: refuse any other context
    allow_contexts: tuple[str, ...] = ()  # non-local contexts the user allows
    manifests: tuple[Path, ...] = ()  # files or folders; empty (and no artifacts) = built-in
    artifacts: tuple[ArtifactSpec, ...] = ()  # `oci://` entries of `manifests:`, deployed after
    kustomize: KustomizeSpec = field(default_factory=KustomizeSpec)
    watch: WatchSpec = field(default_factory=WatchSpec)
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    rollout_timeout_s: float = 120.0

    @property
    def image(self) -> ImageSpec:
        """The primary image (the Go kudev's single `imageName`)."""
        return self.images[0]

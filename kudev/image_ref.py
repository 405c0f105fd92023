"""Container image references, read the way Docker reads them (distribution/reference).

One parser for every place kudev looks inside a reference: swapping manifest images, tagging
for a registry, matching node image names, showing a pod's tag. `name[:port]/path[:tag][@digest]`:

- the first path component is a registry host only when it has a "." or a ":port", is
  "localhost", or has an uppercase letter (never valid in a repository path), so
  `myregistry/app` is the Docker Hub user `myregistry` while `registry:5000/app` is a host;
- the colon of a port is not a tag (`localhost:5000/app` has no tag);
- docker.io, index.docker.io and registry-1.docker.io are all Docker Hub, where a one-part
  name is an official image under "library/".
"""

from __future__ import annotations

from dataclasses import dataclass

# The grammar, as regular expressions, for the places that validate what a person wrote (config
# keys, `oci://` references); parse_ref below only splits.
LABEL_PATTERN = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
PORT_PATTERN = r"(?::[0-9]+)"
# A written host: localhost, a dotted name, a bracketed IPv6 address, or a bare name with a port.
HOST_PATTERN = (
    rf"(?:localhost{PORT_PATTERN}?|{LABEL_PATTERN}(?:\.{LABEL_PATTERN})+{PORT_PATTERN}?"
    rf"|\[[0-9a-fA-F:]+\]{PORT_PATTERN}?|{LABEL_PATTERN}{PORT_PATTERN})"
)
PATH_COMPONENT_PATTERN = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST_PATTERN = r"sha256:[a-f0-9]{64}"

DOCKER_HUB = "docker.io"
DOCKER_HUB_HOSTS = (DOCKER_HUB, "index.docker.io", "registry-1.docker.io")
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"


@dataclass(frozen=True)
class ImageRef:
    """A reference split into its parts, each as written ("" when absent)."""

    host: str  # "" when none was written (Docker Hub)
    path: str  # "myapp", "org/myapp", "library/myapp"
    tag: str = ""
    digest: str = ""  # "sha256:…"

    @property
    def on_docker_hub(self) -> bool:
        return not self.host or self.host in DOCKER_HUB_HOSTS

    @property
    def repository(self) -> str:
        """The repository with Docker's defaults folded in, registry host left out:
        `myapp` and `docker.io/library/myapp` are both "myapp"; `org/myapp` is "org/myapp";
        `quay.io/library/app` is "library/app" ("library/" is special on Docker Hub only)."""
        if self.on_docker_hub and self.path.startswith(OFFICIAL_PREFIX):
            rest = self.path.removeprefix(OFFICIAL_PREFIX)
            if "/" not in rest:
                return rest
        return self.path

    @property
    def name(self) -> str:
        """The name as written, without tag or digest: "localhost:5000/app"."""
        return f"{self.host}/{self.path}" if self.host else self.path

    @property
    def tag_or_latest(self) -> str:
        return self.tag or DEFAULT_TAG

    def normalized(self) -> str:
        """Docker's fully qualified name: "app:1" → "docker.io/library/app:1", a name with
        neither tag nor digest gets ":latest"."""
        if not self.on_docker_hub:
            name = f"{self.host}/{self.path}"
        elif "/" in self.path:
            name = f"{DOCKER_HUB}/{self.path}"
        else:
            name = f"{DOCKER_HUB}/{OFFICIAL_PREFIX}{self.path}"
        if self.tag or not self.digest:
            name += f":{self.tag_or_latest}"
        return f"{name}@{self.digest}" if self.digest else name


def parse_ref(ref: str) -> ImageRef:
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:  # a colon before the last "/" is a host's port
        name, tag = name[:colon], name[colon + 1 :]
    host, _, path = name.partition("/")
    if not path or not is_registry_host(host):
        host, path = "", name
    return ImageRef(host=host, path=path, tag=tag, digest=digest)


def is_registry_host(component: str) -> bool:
    """Whether a reference's first path component names a registry (Docker's rule)."""
    return (
        any(c in component for c in ".:")
        or component == "localhost"
        or component.lower() != component
    )


def same_repository(ref: str, other: str) -> bool:
    """Whether two references name the same repository, whatever host, tag or digest."""
    return parse_ref(ref).repository == parse_ref(other).repository


def tag_of(ref: str) -> str:
    """The tag as written, "" for none: "localhost:5000/app:kudev-1" → "kudev-1"."""
    return parse_ref(ref).tag

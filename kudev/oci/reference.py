"""Where an artifact lives: `HOST/REPO:TAG` or `HOST/REPO@sha256:…`, with or without `oci://`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kudev.image_ref import DIGEST_PATTERN, HOST_PATTERN, PATH_COMPONENT_PATTERN, TAG_PATTERN

SCHEME = "oci://"
_REFERENCE = re.compile(
    rf"^(?P<host>{HOST_PATTERN})/"
    rf"(?P<repository>{PATH_COMPONENT_PATTERN}(?:/{PATH_COMPONENT_PATTERN})*)"
    rf"(?::(?P<tag>{TAG_PATTERN}))?(?:@(?P<digest>{DIGEST_PATTERN}))?$"
)
FORM_HINT = "write oci://HOST/REPO:TAG or oci://HOST/REPO@sha256:<64 hex digits>"


class BadReference(ValueError):
    """Text that is not an artifact reference; the message says why."""


@dataclass(frozen=True)
class ArtifactRef:
    host: str  # "localhost:5000", "ghcr.io"
    repository: str  # "team/app"
    tag: str = ""
    digest: str = ""  # "sha256:…"; when set, the tag is only a label

    @property
    def reference(self) -> str:
        """What the distribution API's `/manifests/<reference>` takes: the digest, else the tag."""
        return self.digest or self.tag

    def with_digest(self, digest: str) -> ArtifactRef:
        return ArtifactRef(self.host, self.repository, digest=digest)

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.host}/{self.repository}{tag}{digest}"


def parse_artifact_ref(text: str, default_tag: str = "") -> ArtifactRef:
    """`oci://HOST/REPO:TAG` (the scheme is optional) → ArtifactRef. Without a tag or digest,
    `default_tag`; raises BadReference when neither is there."""
    written = text.removeprefix(SCHEME)
    match = _REFERENCE.match(written)
    if match is None:
        raise BadReference(f"{text!r} is not an OCI artifact reference; {FORM_HINT}")
    tag = match["tag"] or ""
    if not tag and not match["digest"]:
        tag = default_tag
    if not tag and not match["digest"]:
        raise BadReference(f"{text!r} names no tag or digest; {FORM_HINT}")
    return ArtifactRef(match["host"], match["repository"], tag, match["digest"] or "")


def is_artifact_entry(text: str) -> bool:
    """Whether a `manifests:` string means an artifact rather than a path."""
    return text.startswith(SCHEME)

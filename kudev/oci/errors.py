"""What goes wrong talking to a registry or reading an artifact, named by the reference."""

from __future__ import annotations

from kudev.errors import KudevError


class RegistryError(KudevError):
    """The registry answered with an error, or its answer broke the protocol."""


class RegistryUnreachable(RegistryError):
    """No answer from the registry (refused, timed out, TLS): worth trying again later."""

    retryable = True


class NotFound(RegistryError):
    """No such tag, manifest or blob."""


class AuthFailed(RegistryError):
    """The registry refused the login (or asked for one kudev does not have)."""


class DigestMismatch(RegistryError):
    """Content whose sha256 is not the one it was asked for or announced with."""


class BadArtifact(RegistryError):
    """The artifact is not one kudev can deploy: media types, layout or content."""


def unreachable_reason(err: Exception) -> str:
    """A refused, timed-out or TLS failure in two words; else the error's first 200 chars."""
    text = str(err)
    for marker in ("Connection refused", "timed out", "Name or service not known", "SSL"):
        if marker in text:
            return marker.lower() if marker != "SSL" else "TLS handshake failed"
    return text[:200]

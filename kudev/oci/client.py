"""A client for the OCI distribution API, the part real registries agree on.

Blobs are checked with HEAD before any upload, so what the registry has is never sent again.
Uploads start with POST; a small blob then goes in one PUT, and when the registry refuses that
(some answer 301) it falls back to the resumable PATCH → PUT. `Location` may be absolute or
relative. Every digest the registry announces (`Docker-Content-Digest`) is checked against the
bytes. Logins come from Docker's config (`auth.DockerLogins`), as Basic or as a Bearer token
fetched from the realm the registry's 401 names.

Built on requests (already here through docker-py): it pools connections, streams, and leaves
redirects to other hosts (blob storage) without our Authorization header.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from kudev.oci.auth import Challenge, DockerLogins, parse_challenge
from kudev.oci.errors import (
    AuthFailed,
    DigestMismatch,
    NotFound,
    RegistryError,
    RegistryUnreachable,
    unreachable_reason,
)
from kudev.oci.token import fetch_token

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
CHUNK_BYTES = 16 * 1024 * 1024  # larger blobs go up in resumable chunks of this size
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the limit registries themselves apply
TIMEOUT = (5.0, 120.0)  # connect, read (seconds)
# Answers to a one-PUT upload that mean "this registry wants the resumable way".
_MONOLITHIC_REFUSED = {301, 302, 307, 308, 400, 405, 416, 501}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    digest: str  # of `body`, checked
    media_type: str
    body: bytes


class RegistryClient:
    """One registry host. `requests` counts the requests sent, by method (for figures)."""

    def __init__(
        self,
        host: str,
        *,
        logins: DockerLogins | None = None,
        plain_http: bool = False,
        chunk_bytes: int = CHUNK_BYTES,
        session: requests.Session | None = None,
    ) -> None:
        self.host = host
        self.base = f"{'http' if plain_http else 'https'}://{host}/v2/"
        self.logins = logins or DockerLogins()
        self.chunk_bytes = chunk_bytes
        self.session = session or requests.Session()
        self.requests: Counter[str] = Counter()
        self.blobs_uploaded = 0
        self._auth: dict[str, str] = {}  # scope → Authorization header value

    # -- blobs ---------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._send("HEAD", f"{repository}/blobs/{digest}", repository)
        if response.status_code == 404:
            return False
        self._expect(response, (200,), f"{self.host}/{repository}@{digest}")
        return True

    def push_blob(self, repository: str, data: bytes) -> tuple[str, bool]:
        """(digest, whether it was uploaded): nothing is sent when the registry has it."""
        digest = sha256_digest(data)
        if self.blob_exists(repository, digest):
            return digest, False
        location = self._start_upload(repository)
        if len(data) <= self.chunk_bytes and self._put_whole(repository, location, data, digest):
            self.blobs_uploaded += 1
            return digest, True
        location = self._start_upload(repository)  # the refused session may be spent
        for start in range(0, len(data), self.chunk_bytes) or [0]:
            chunk = data[start : start + self.chunk_bytes]
            location = self._patch(repository, location, chunk, start)
        self._finish_upload(repository, location, b"", digest)
        self.blobs_uploaded += 1
        return digest, True

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount: the registry links a blob it holds in `from_repository`
        (201). False when it cannot, having opened an upload instead (202), which is left."""
        response = self._send(
            "POST",
            f"{repository}/blobs/uploads/?mount={digest}&from={from_repository}",
            repository,
            push=True,
        )
        if response.status_code == 201:
            return True
        self._expect(response, (202,), f"{self.host}/{repository}")
        return False

    def push_blob_file(self, repository: str, path: Path, digest: str) -> bool:
        """Upload a blob from a file in chunks (it may be large); False when it was there."""
        if self.blob_exists(repository, digest):
            return False
        location = self._start_upload(repository)
        offset = 0
        with path.open("rb") as f:
            while chunk := f.read(self.chunk_bytes):
                location = self._patch(repository, location, chunk, offset)
                offset += len(chunk)
        self._finish_upload(repository, location, b"", digest)
        self.blobs_uploaded += 1
        return True

    def get_blob_to_file(self, repository: str, digest: str, path: Path) -> None:
        """Stream a blob into `path` (written whole or not at all), checked against `digest`."""
        where = f"{self.host}/{repository}@{digest}"
        response = self._send("GET", f"{repository}/blobs/{digest}", repository, stream=True)
        if response.status_code == 404:
            raise NotFound(f"registry {self.host} has no blob {digest}", where=where)
        self._expect(response, (200,), where)
        hasher = hashlib.sha256()
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as out:
            for chunk in response.iter_content(CHUNK_BYTES // 16):
                hasher.update(chunk)
                out.write(chunk)
        if "sha256:" + hasher.hexdigest() != digest:
            partial.unlink()
            raise DigestMismatch(
                f"blob {digest} arrived with sha256 {hasher.hexdigest()}",
                "the registry or a proxy changed the content",
                where=where,
            )
        partial.replace(path)

    def get_blob(self, repository: str, digest: str, max_bytes: int) -> bytes:
        """The blob's bytes, checked against `digest`."""
        where = f"{self.host}/{repository}@{digest}"
        response = self._send("GET", f"{repository}/blobs/{digest}", repository, stream=True)
        if response.status_code == 404:
            raise NotFound(f"registry {self.host} has no blob {digest}", where=where)
        self._expect(response, (200,), where)
        data = _read_bounded(response, max_bytes, where)
        if sha256_digest(data) != digest:
            raise DigestMismatch(
                f"blob {digest} arrived with sha256 {sha256_digest(data)}",
                "the registry or a proxy changed the content; push the artifact again",
                where=where,
            )
        return data

    # -- manifests -----------------------------------------------------------------------

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store `body` under `reference` (a tag or its digest); returns its digest."""
        digest = sha256_digest(body)
        where = f"{self.host}/{repository}:{reference}"
        response = self._send(
            "PUT",
            f"{repository}/manifests/{reference}",
            repository,
            push=True,
            data=body,
            headers={"Content-Type": media_type},
        )
        self._expect(response, (201,), where)
        _check_announced(response, digest, where)
        return digest

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        where = f"{self.host}/{repository}{'@' if ':' in reference else ':'}{reference}"
        response = self._send(
            "GET",
            f"{repository}/manifests/{reference}",
            repository,
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            stream=True,
        )
        if response.status_code == 404:
            what = "digest" if reference.startswith("sha256:") else "tag"
            raise NotFound(
                f"registry {self.host} has no {what} {reference} in {repository}",
                f"check the reference; `oras repo tags {self.host}/{repository}` lists the tags",
                where=where,
            )
        self._expect(response, (200,), where)
        body = _read_bounded(response, MAX_MANIFEST_BYTES, where)
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatch(
                f"the manifest asked for as {reference} has sha256 {digest}",
                "the registry served other content than the digest names",
                where=where,
            )
        _check_announced(response, digest, where)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(digest=digest, media_type=media_type, body=body)

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest a tag points at now (HEAD; a GET when the registry does not say)."""
        response = self._send(
            "HEAD",
            f"{repository}/manifests/{reference}",
            repository,
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        announced = response.headers.get("Docker-Content-Digest", "")
        if response.status_code == 200 and announced.startswith("sha256:"):
            return announced
        return self.get_manifest(repository, reference).digest

    # -- uploads -------------------------------------------------------------------------

    def _start_upload(self, repository: str) -> str:
        response = self._send("POST", f"{repository}/blobs/uploads/", repository, push=True)
        self._expect(response, (202,), f"{self.host}/{repository}")
        return self._location(response, repository)

    def _put_whole(self, repository: str, location: str, data: bytes, digest: str) -> bool:
        """One PUT with the whole blob; False when the registry wants it in chunks."""
        return self._put_blob(repository, location, data, digest, monolithic=True)

    def _patch(self, repository: str, location: str, chunk: bytes, start: int) -> str:
        headers = {"Content-Type": "application/octet-stream"}
        if chunk:
            headers["Content-Range"] = f"{start}-{start + len(chunk) - 1}"
        response = self._send("PATCH", location, repository, push=True, data=chunk, headers=headers)
        self._expect(response, (202,), f"{self.host}/{repository}")
        return self._location(response, repository)

    def _finish_upload(self, repository: str, location: str, rest: bytes, digest: str) -> None:
        self._put_blob(repository, location, rest, digest, monolithic=False)

    def _put_blob(
        self, repository: str, location: str, data: bytes, digest: str, *, monolithic: bool
    ) -> bool:
        """The upload's closing PUT; False when a monolithic one is refused (go resumable)."""
        response = self._send(
            "PUT",
            _with_digest(location, digest),
            repository,
            push=True,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if monolithic and response.status_code in _MONOLITHIC_REFUSED:
            return False
        self._expect(response, (201,), f"{self.host}/{repository}@{digest}")
        _check_announced(response, digest, f"{self.host}/{repository}")
        return True

    def _location(self, response: requests.Response, repository: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(
                f"registry {self.host} started an upload to {repository} without a Location",
                where=f"{self.host}/{repository}",
            )
        return urljoin(response.url, location)  # absolute, or relative to the request

    # -- requests and logins -------------------------------------------------------------

    def _send(
        self, method: str, path: str, repository: str, *, push: bool = False, **kwargs: Any
    ) -> requests.Response:
        url = urljoin(self.base, path)
        scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
        response = self._request(method, url, scope, **kwargs)
        if response.status_code != 401:
            return response
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        self._auth[scope] = self._authorization(challenge, scope)
        response = self._request(method, url, scope, **kwargs)
        if response.status_code == 401:
            raise AuthFailed(
                f"registry {self.host} refused the login for {repository}",
                f"log in with `docker login {self.host}` (kudev reads Docker's config.json)",
                where=f"{self.host}/{repository}",
            )
        return response

    def _request(self, method: str, url: str, scope: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if scope in self._auth:
            headers["Authorization"] = self._auth[scope]
        self.requests[method] += 1
        try:
            return self.session.request(
                method,
                url,
                headers=headers,
                timeout=TIMEOUT,
                allow_redirects=method == "GET",
                **kwargs,
            )
        except requests.RequestException as err:
            raise RegistryUnreachable(
                f"registry {self.host} does not answer: {unreachable_reason(err)}",
                "is it running, and is the host and port right? (plain HTTP is used only "
                "for loopback hosts and the cluster's own registry)",
                where=self.host,
            ) from None

    def _authorization(self, challenge: Challenge | None, scope: str) -> str:
        login = self.logins.login_for(self.host)
        if challenge is not None and challenge.scheme == "bearer":
            return "Bearer " + fetch_token(self.session, self.host, challenge, scope, login)
        if login is None:
            raise AuthFailed(
                f"registry {self.host} asks for a login and Docker's config has none for it",
                f"`docker login {self.host}`, or name a credentials file in .kudev.yaml",
                where=self.host,
            )
        return login.basic_header()

    def _expect(self, response: requests.Response, ok: tuple[int, ...], where: str) -> None:
        if response.status_code in ok:
            return
        if response.status_code == 403:
            raise AuthFailed(
                f"registry {self.host} denies access to {where}",
                f"check that your login for {self.host} may push and pull there",
                where=where,
            )
        raise RegistryError(
            f"registry {self.host} answered {response.request.method} {response.url} with "
            f"HTTP {response.status_code}{_registry_message(response)}",
            where=where,
        )


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def _check_announced(response: requests.Response, digest: str, where: str) -> None:
    announced = response.headers.get("Docker-Content-Digest")
    if announced and announced != digest:
        raise DigestMismatch(
            f"registry {where.split('/')[0]} stored {announced}, but the bytes sent have {digest}",
            "the registry or a proxy changed the content",
            where=where,
        )


def _read_bounded(response: requests.Response, limit: int, where: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            raise RegistryError(f"more than {limit} bytes; kudev refuses it", where=where)
        chunks.append(chunk)
    return b"".join(chunks)


def _registry_message(response: requests.Response) -> str:
    """The registry's own words: `{"errors": [{"code": …, "message": …}]}`."""
    try:
        errors = response.json().get("errors") or []
        words = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError):
        words = ""
    return f" ({words})" if words else ""


def allows_plain_http(host: str, cluster_registry: str = "") -> bool:
    """Plain HTTP only where nothing leaves the machine or the cluster asked for it:
    loopback hosts and the cluster's KEP-1755 registry (which local clusters serve on HTTP)."""
    import ipaddress

    if cluster_registry and host == cluster_registry.split("/", 1)[0]:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def client_for(
    host: str, *, logins: DockerLogins | None = None, cluster_registry: str = ""
) -> RegistryClient:
    return RegistryClient(host, logins=logins, plain_http=allows_plain_http(host, cluster_registry))

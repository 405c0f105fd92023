"""Registry logins the way `docker login` leaves them: `~/.docker/config.json` (or
`$DOCKER_CONFIG/config.json`) with `auths`, `credHelpers` and `credsStore`, the last two
answered by `docker-credential-<helper> get`. Also the parsing of a registry's 401 challenge."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kudev.oci.errors import AuthFailed

HELPER_TIMEOUT_S = 30.0
# Docker Hub's logins are stored under its v1 index address, not the host one pulls from.
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Login:
    username: str
    secret: str  # a password, or a token

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def default_docker_config() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"


class DockerLogins:
    """The logins in one Docker config file; a missing file means no logins."""

    def __init__(self, config_file: Path | None = None) -> None:
        self.config_file = config_file or default_docker_config()

    def login_for(self, host: str) -> Login | None:
        config = self._read()
        keys = DOCKER_HUB_KEYS if host in DOCKER_HUB_HOSTS else (host,)
        helpers = config.get("credHelpers") or {}
        for key in keys:
            if isinstance(helpers.get(key), str):
                return helper_login(helpers[key], key)
        stored = _stored_login(config.get("auths") or {}, keys, self.config_file)
        if stored is not None:
            return stored
        store = config.get("credsStore")
        return helper_login(store, keys[0]) if isinstance(store, str) and store else None

    def _read(self) -> dict:
        try:
            data = json.loads(self.config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise AuthFailed(
                f"cannot read the registry logins in {self.config_file}: {err}",
                "fix the file, or log in again with `docker login HOST`",
            ) from None
        return data if isinstance(data, dict) else {}


def _stored_login(auths: dict, keys: tuple[str, ...], file: Path) -> Login | None:
    by_host = {_host_of(key): entry for key, entry in auths.items() if isinstance(entry, dict)}
    for key in keys:
        entry = by_host.get(_host_of(key))
        if entry is None:
            continue
        if entry.get("username") and entry.get("password"):
            return Login(entry["username"], entry["password"])
        if entry.get("auth"):
            return _decode_auth(entry["auth"], key, file)
        if entry.get("identitytoken"):
            return Login("<token>", entry["identitytoken"])
    return None


def _host_of(key: str) -> str:
    """`https://host:5000/v1/` and `host:5000` are the same entry, as Docker reads them."""
    return re.sub(r"^[a-z]+://", "", key).split("/", 1)[0]


def _decode_auth(auth: str, key: str, file: Path) -> Login:
    try:
        username, _, secret = base64.b64decode(auth).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise AuthFailed(
            f"the login for {key} in {file} is not base64 `user:password`",
            f"log in again with `docker login {key}`",
        ) from None
    return Login(username, secret)


def helper_login(helper: str, host: str) -> Login | None:
    """Ask `docker-credential-<helper>`; None when it has nothing for `host`."""
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run(
            [program, "get"],
            input=host,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise AuthFailed(
            f"the Docker config names the credential helper {helper!r}, but {program} is "
            "not on PATH",
            f"install {program}, or remove it from the Docker config",
        ) from None
    except subprocess.TimeoutExpired:
        raise AuthFailed(f"{program} did not answer within {HELPER_TIMEOUT_S:.0f}s") from None
    if done.returncode != 0:
        if "not found" in (done.stdout + done.stderr).lower():
            return None  # the helper's way of saying "no login for this host"
        raise AuthFailed(f"{program} get failed: {done.stderr.strip() or done.stdout.strip()}")
    try:
        answer = json.loads(done.stdout)
        return Login(answer["Username"], answer["Secret"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise AuthFailed(f"{program} get answered something other than its JSON") from None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer", lowercased
    params: dict[str, str]


_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"` → Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {}
    for match in _PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = quoted if quoted is not None else bare
    return Challenge(scheme.lower(), params)

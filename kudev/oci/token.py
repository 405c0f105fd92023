"""A registry's Bearer token, from the token service its 401 names (`WWW-Authenticate`).

With a login from Docker's config it is sent as Basic; without one the token is anonymous,
as Docker Hub gives for public repositories (`FROM busybox`).
"""

from __future__ import annotations

from typing import Any

import requests

from kudev.oci.auth import Challenge, Login
from kudev.oci.errors import AuthFailed, RegistryError, RegistryUnreachable, unreachable_reason

TIMEOUT = (5.0, 120.0)  # connect, read (seconds)


def fetch_token(
    session: requests.Session, host: str, challenge: Challenge, scope: str, login: Login | None
) -> str:
    realm = challenge.params.get("realm", "")
    params = {"scope": challenge.params.get("scope") or scope}
    if challenge.params.get("service"):
        params["service"] = challenge.params["service"]
    headers = {"Authorization": login.basic_header()} if login else {}
    try:
        response = session.get(realm, params=params, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise RegistryUnreachable(
            f"the token service {realm} of registry {host} does not answer: "
            f"{unreachable_reason(err)}",
            where=host,
        ) from None
    if response.status_code in (401, 403):
        raise AuthFailed(
            f"the token service of registry {host} refused the login",
            f"log in again with `docker login {host}`",
            where=host,
        )
    if response.status_code != 200:
        raise RegistryError(
            f"the token service {realm} answered HTTP {response.status_code}", where=realm
        )
    return _token_in(response, realm)


def _token_in(response: requests.Response, realm: str) -> str:
    try:
        answer: Any = response.json()
        return str(answer.get("token") or answer["access_token"])
    except (ValueError, KeyError, AttributeError):
        raise RegistryError(f"the token service {realm} answered no token") from None

"""A crashed container's last log lines, for the rollout diagnosis and the pod detail screen."""

from __future__ import annotations

from typing import Any

LAST_LOG_LINES = 20
LOG_REQUEST_TIMEOUT_S = 15


def last_logs(
    core: Any,
    namespace: str,
    pod: str,
    container: str,
    *,
    fall_back_to_current: bool = False,
) -> tuple[str, ...]:
    """The previous container instance's last lines; () when there are none.

    With `fall_back_to_current`, a container that has no previous instance (it crashed the
    first time, or its previous logs are gone) gives the current instance's last lines.
    """
    from kubernetes.client.exceptions import ApiException

    for previous in (True, False) if fall_back_to_current else (True,):
        try:
            text = core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                previous=previous,
                tail_lines=LAST_LOG_LINES,
                _request_timeout=LOG_REQUEST_TIMEOUT_S,
            )
        except ApiException:
            continue
        if text:
            return tuple(text.splitlines()[-LAST_LOG_LINES:])
    return ()

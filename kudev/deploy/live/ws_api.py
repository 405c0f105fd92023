"""Kubernetes API objects for websocket calls, one per caller at a time.

The client's `stream()` and `portforward()` swap `call_api` on the ApiClient they are given for
the length of the call. On an ApiClient other threads share, a server-side apply or a pod
list that runs meanwhile goes out as a websocket call and fails ("Missing required parameter
`ports`"). So every websocket call takes a CoreV1Api of its own from this pool: made once
(a few ms: an SSL context), reused, never shared by two calls at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class PrivateCoreApis:
    def __init__(self, api_client: Any) -> None:
        self.configuration = api_client.configuration
        self._free: list[Any] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Any]:
        with self._lock:
            core = self._free.pop() if self._free else None
        if core is None:
            from kubernetes import client

            core = client.CoreV1Api(client.ApiClient(self.configuration))
        try:
            yield core
        finally:
            with self._lock:
                self._free.append(core)

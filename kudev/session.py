"""Options a run of kudev was started with (from the command line), shared by front-ends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionOptions:
    once: bool = False
    build_timestamp: bool = False
    kube_context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    allow_contexts: tuple[str, ...] = ()
    load_images: bool = True  # False: build only (no kube context needed)
    cleanup: bool = False  # on exit, delete what kudev applied
    live_sync: bool = True  # False (--no-sync): every change is a full build

"""Fixtures of the fault matrix; the e2e conftest above gives the cluster and namespaces."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


@pytest.fixture
def rig_env(kubeconfig_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """KUBECONFIG for an in-process engine."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_path))
    return kubeconfig_path


@pytest.fixture
def app_name() -> str:
    return f"fault-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def rig_daemons() -> None:
    """The cases that restart a rig daemon run it through tests/e2e/cluster/restart, as root."""
    import os

    if os.geteuid() != 0:
        pytest.fail("restarting a rig daemon needs root (as tests/e2e/cluster/up does)")
    if not Path("/var/lib/kudev-rig/run").is_dir():
        pytest.fail("these cases restart the local rig's daemons: boot it with cluster/up")

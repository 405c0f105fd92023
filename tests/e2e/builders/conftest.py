"""Fixtures for the builders' e2e tests: the busybox base in the rig's registry, an isolated
containers-storage for podman and buildah, and a Docker host that answers nothing.

Only the fixtures use Docker (to put the base in the registry, and to compare with `docker
build`); the builders under test never do: DOCKER_HOST points at a dead socket while they run.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.builders.lib import BASE, REGISTRY, ROOT, need_tool, run


@pytest.fixture(scope="session")
def rig_base() -> str:
    """busybox:1.36 in the rig's registry (built locally by scripts/busybox-image)."""
    run("bash", str(ROOT / "scripts" / "busybox-image"))
    run("docker", "tag", BASE, f"{REGISTRY}/{BASE}")
    run("docker", "push", "-q", f"{REGISTRY}/{BASE}")
    return f"{REGISTRY}/{BASE}"


@pytest.fixture(scope="session")
def containers_env(rig_base: str, tmp_path_factory) -> dict[str, str]:
    """Rootful podman/buildah with their own storage (vfs, cgroupfs: no systemd here),
    holding the base pulled from the rig's registry under Docker Hub's name."""
    need_tool("podman")
    folder = tmp_path_factory.mktemp("containers")
    (folder / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{folder}/run"\ngraphroot = "{folder}/graph"\n'
    )
    (folder / "containers.conf").write_text(
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    env = {
        "CONTAINERS_STORAGE_CONF": str(folder / "storage.conf"),
        "CONTAINERS_CONF": str(folder / "containers.conf"),
    }
    full = {**os.environ, **env}
    run("podman", "pull", "-q", "--tls-verify=false", rig_base, env=full)
    run("podman", "tag", rig_base, f"docker.io/library/{BASE}", env=full)
    yield env
    subprocess.run(["podman", "system", "reset", "-f"], env=full, capture_output=True, check=False)


@pytest.fixture
def no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST at a socket nobody listens on: any Docker call would fail."""
    host = f"unix://{tmp_path}/no-docker-{uuid.uuid4().hex[:6]}.sock"
    monkeypatch.setenv("DOCKER_HOST", host)
    return host

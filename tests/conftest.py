from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.tools import missing_tool


@pytest.fixture(scope="session")
def docker_client():
    """The real Docker Engine; fails (not skips) in CI when it is not there."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as err:
        missing_tool(f"no Docker Engine: {err} (run scripts/dockerd-up)")
    yield client
    client.close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own digest cache so runs cannot leak into each other."""
    cache = tmp_path / "kudev-cache"
    monkeypatch.setenv("KUDEV_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def busybox_base(docker_client, tmp_path_factory) -> str:
    from tests.dockerlib import busybox_image

    return busybox_image(docker_client, tmp_path_factory.mktemp("base"))


@pytest.fixture
def cleanup_images(docker_client):
    """Image names a test registers here lose all their tags afterwards."""
    import docker

    names: list[str] = []
    yield names
    # The low-level listing: `images.list()` inspects each image and fails when another
    # test on this shared daemon removes one in between.
    tags = [tag for image in docker_client.api.images() for tag in image.get("RepoTags") or []]
    for tag in tags:
        if any(tag.startswith(n + ":") for n in names):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, force=True)


@pytest.fixture
def stand_in_api():
    """Starts tests/fakebin/kube-api, a stand-in API server answering the few requests the
    cluster code makes; returns a starter that gives each server's port."""
    import subprocess
    import sys

    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> int:
        script = Path(__file__).parent / "fakebin" / "kube-api"
        proc = subprocess.Popen(
            [sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None
        return int(proc.stdout.readline())

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()

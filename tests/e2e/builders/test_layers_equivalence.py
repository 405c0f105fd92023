"""The layer builder's image against `docker build` of the same Dockerfile: the same file
tree (paths, types, modes, owners, contents, symlink targets) and the same run config (Env,
Cmd, Entrypoint, WorkingDir, User, ExposedPorts).

The layer builder's image is pushed to the rig's registry and pulled back by digest; both
images' filesystems are exported through `docker create` + `docker export`, so both carry the
same container-made entries (/.dockerenv, /etc/hosts, …) and differ only if the images do.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from kudev.build.buildkit import find_buildkit_cli
from kudev.build.layers.builder import LayersBuilder
from kudev.cluster.loaders import RegistryLoader
from kudev.sources.context import BuildContext
from tests.e2e.builders.lib import HELLO, REGISTRY, run

pytestmark = pytest.mark.e2e

EVERY_INSTRUCTION = Path(__file__).parent / "every_instruction"
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts")


def file_tree(image: str) -> dict[str, tuple]:
    """path → (type, mode, uid, gid, link target, sha256 of the content) of `image`."""
    container = run("docker", "create", image).strip()
    try:
        exported = subprocess.run(
            ["docker", "export", container], capture_output=True, check=True, timeout=120
        ).stdout
    finally:
        run("docker", "rm", "-f", container)
    tree = {}
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        for m in tar.getmembers():
            data = tar.extractfile(m).read() if m.isreg() else b""
            kind = "d" if m.isdir() else "l" if m.issym() else "h" if m.islnk() else "f"
            content = hashlib.sha256(data).hexdigest()[:16]
            mode = oct(m.mode & 0o7777)
            tree[m.name.rstrip("/")] = (kind, mode, m.uid, m.gid, m.linkname, content)
    return tree


def run_config(image: str) -> dict:
    config = json.loads(run("docker", "image", "inspect", image))[0]["Config"]
    return {key: config.get(key) or None for key in CONFIG_KEYS}


def project(fixture: Path, tmp_path: Path) -> Path:
    root = tmp_path / fixture.name
    shutil.copytree(fixture, root, symlinks=True)
    if (root / "config.ini").exists():
        os.chmod(root / "config.ini", 0o600)  # git keeps only 644 and 755
    return root


@pytest.mark.parametrize("fixture", [HELLO, EVERY_INSTRUCTION], ids=["hello", "every-instruction"])
def test_the_layer_builders_image_is_dockers(fixture, tmp_path, rig_base):
    root = project(fixture, tmp_path)
    run_id = uuid.uuid4().hex[:8]
    by_docker = f"kudev-equiv-docker:{run_id}"
    cli = find_buildkit_cli()
    if cli is None:
        pytest.fail("no docker CLI with BuildKit (--chmod needs it)", pytrace=False)
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    run(cli, "build", "-q", "-t", by_docker, str(root), env=env)
    context = BuildContext(root, root / "Dockerfile")
    context.scan()
    builder = LayersBuilder(REGISTRY, tmp_path / "cache")
    ref = f"kudev-equiv-{fixture.name.replace('_', '-')}:{context.tag()}"
    builder.run(builder.prepare(context, ref), lambda line, stream: None)
    pushed = RegistryLoader(REGISTRY, builder).load(ref, lambda line: None)
    by_layers = pushed.split(":kudev-")[0] + "@" + pushed.split("@")[1]
    run("docker", "pull", "-q", by_layers)
    try:
        docker_tree, layers_tree = file_tree(by_docker), file_tree(by_layers)
        differ = {
            path: (docker_tree.get(path), layers_tree.get(path))
            for path in docker_tree.keys() | layers_tree.keys()
            if docker_tree.get(path) != layers_tree.get(path)
        }
        assert not differ, json.dumps(differ, indent=1, sort_keys=True)
        assert run_config(by_layers) == run_config(by_docker)
    finally:
        subprocess.run(["docker", "rmi", "-f", by_docker, by_layers], capture_output=True)
    if fixture == EVERY_INSTRUCTION:
        assert docker_tree["srv/app/www/home.html"][4] == "index.html"
        assert docker_tree["srv/app/conf/config.ini"][1] == "0o600"
        assert "srv/app/secret.txt" not in docker_tree
        assert docker_tree["srv/latest.txt"][0] == "f", "a symlink named as a source is followed"

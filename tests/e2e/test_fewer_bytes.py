"""A cycle moves no bytes it need not: no push the registry has, no import the node has.

Both on the rig, through the CLI a person runs: a second `kudev --once` over unchanged sources
finds its image where the nodes pull it from and says so, instead of loading it again.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.kudevlib import run_kudev, write_app
from tests.e2e.test_deploy import app_name

pytestmark = pytest.mark.e2e

LOAD_LINE = re.compile(r"^\[1\] load \S+ (done|skipped) in [0-9.]+s(?:: (.*))?$", re.M)


def load_outcome(output: str) -> tuple[str, str]:
    found = LOAD_LINE.search(output)
    assert found, output
    return found.group(1), found.group(2) or ""


def test_a_second_run_does_not_push_what_the_registry_has(tmp_path, kubeconfig_path, namespace):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    first = run_kudev(root, kubeconfig_path, "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    assert load_outcome(first.stdout)[0] == "done"
    second = run_kudev(root, kubeconfig_path, "--once")
    assert second.returncode == 0, second.stdout + second.stderr
    assert load_outcome(second.stdout) == ("skipped", "already where the nodes pull it from")
    assert "Pushed" not in second.stdout and "Layer already exists" not in second.stdout


def node_reports_image(core_v1, name: str) -> bool:
    """The kubelet lists node images in its status every few seconds, not at once."""
    for node in core_v1.list_node().items:
        for image in node.status.images or []:
            if any(f"/{name}:kudev-" in n for n in image.names or []):
                return True
    return False


def test_a_second_run_does_not_import_what_the_node_has(
    tmp_path, kubeconfig_path, namespace, containerd_address, ctr, core_v1, wait_for
):
    name = app_name()
    import_command = f"[ctr, --address, {containerd_address}, -n, k8s.io, images, import, -]"
    extra = f"cluster:\n  importCommand: {import_command}\n"
    # Content of its own: containerd 1.6's CRI misses an image imported with ctr when an image
    # with the same ID (the same content, pulled from the registry by earlier tests) exists.
    root = write_app(tmp_path / name, name, namespace, version=name, extra_spec=extra)
    try:
        first = run_kudev(root, kubeconfig_path, "--once")
        assert first.returncode == 0, first.stdout + first.stderr
        assert load_outcome(first.stdout)[0] == "done"
        assert f"docker.io/library/{name}:kudev-" in ctr(containerd_address, "images", "ls").stdout
        wait_for(lambda: node_reports_image(core_v1, name), timeout=30, what="node status")
        second = run_kudev(root, kubeconfig_path, "--once")
        assert second.returncode == 0, second.stdout + second.stderr
        assert load_outcome(second.stdout) == ("skipped", "already where the nodes pull it from")
    finally:
        names = ctr(containerd_address, "images", "ls", "-q").stdout.split()
        mine = [n for n in names if f"/{name}:" in n]
        if mine:
            ctr(containerd_address, "images", "rm", *mine)

"""Config values carrying shell metacharacters are never run by a shell: an importCommand's
arguments and a build argument arrive verbatim, a hostile name is refused by the config."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.faults.faultlib import record, write_numbered_app
from tests.e2e.kudevlib import run_kudev

pytestmark = pytest.mark.e2e


def hostile_values(marker: Path) -> list[str]:
    return [
        f";touch {marker}-semicolon",
        f"$(touch {marker}-dollar)",
        f"`touch {marker}-backtick`",
        f"| touch {marker}-pipe",
        f"&& touch {marker}-and",
        f"> {marker}-redirect",
    ]


def _yaml_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def test_import_command_and_build_args_reach_programs_verbatim(
    tmp_path, kubeconfig_path, namespace, containerd_address, app_name, core_v1
):
    marker = Path("/tmp") / f"kudev-pwned-{uuid.uuid4().hex[:8]}"
    values = hostile_values(marker)
    argv_file = tmp_path / "argv"
    importer = tmp_path / "import.sh"
    # Records its arguments one per line, then imports for real (the args are ignored).
    importer.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a"; done > {argv_file}\n'
        f"exec ctr --address {containerd_address} -n k8s.io images import -\n"
    )
    importer.chmod(0o755)
    root = write_numbered_app(
        tmp_path / app_name,
        app_name,
        namespace,
        extra_spec=(
            "cluster:\n  kind: containerd\n"
            f"  importCommand: {_yaml_list([str(importer), *values])}\n"
            f"images:\n  - name: {app_name}\n    buildArgs: {{HOSTILE: '{values[0]}'}}\n"
        ),
        dockerfile_extra="ARG HOSTILE\nLABEL hostile=$HOSTILE\n",
    )
    result = run_kudev(root, kubeconfig_path, "--once")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert argv_file.read_text().splitlines() == values
    from kubernetes import client

    image = (
        client.AppsV1Api(core_v1.api_client)
        .read_namespaced_deployment(app_name, namespace)
        .spec.template.spec.containers[0]
        .image
    )
    import docker

    labels = docker.from_env().images.get(image).labels
    assert labels["hostile"] == values[0]
    pwned = sorted(str(p) for p in Path("/tmp").glob(marker.name + "*"))
    record("shell-metacharacters", values=len(values), files_created=len(pwned))
    assert pwned == []


@pytest.mark.parametrize("key", ["metadata.name", "imageName", "namespace"])
def test_a_name_with_shell_metacharacters_is_a_config_error(key, tmp_path, kubeconfig_path):
    marker = Path("/tmp") / f"kudev-pwned-{uuid.uuid4().hex[:8]}"
    root = write_numbered_app(tmp_path / "app", "app", "default")
    config = root / ".kudev.yaml"
    hostile = f"'a;touch {marker}'"
    field = key.split(".")[-1]
    config.write_text(
        config.read_text().replace(
            f"  {field}: {'app' if field != 'namespace' else 'default'}\n",
            f"  {field}: {hostile}\n",
            1,
        )
    )
    assert hostile in config.read_text()
    result = run_kudev(root, kubeconfig_path, "--once")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert ".kudev.yaml:" in output and "Traceback" not in output
    assert not marker.exists()

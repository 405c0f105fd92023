"""`kudev publish` and `oci://` manifests against real registries: the rig's (KEP-1755) and a
Debian docker-registry with htpasswd logins started here; interop with the real oras CLI."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from kudev.config import ArtifactSpec, load_config
from kudev.deploy.manifests import render
from kudev.errors import KudevError
from kudev.oci import source
from kudev.oci.artifact import FLUX_CONFIG, FLUX_CONTENT
from tests.e2e.kudevlib import run_kudev, write_app
from tests.ocilib import free_port, htpasswd_registry, oras_path

pytestmark = pytest.mark.e2e

RIG_REGISTRY = "localhost:5000"  # what the rig's KEP-1755 ConfigMap advertises
ARTIFACT_LINE = re.compile(r"^(?P<host>[^/]+)/(?P<repo>\S+)@(?P<digest>sha256:[0-9a-f]{64})\n$")


def app_name() -> str:
    return f"oci-{uuid.uuid4().hex[:6]}"


def publish(root: Path, kubeconfig: Path, *args: str, env: dict | None = None) -> re.Match:
    result = run_kudev(root, kubeconfig, "publish", *args, env_extra=env)
    assert result.returncode == 0, result.stdout + result.stderr
    match = ARTIFACT_LINE.match(result.stdout)
    assert match, f"stdout must be only the artifact reference, got {result.stdout!r}"
    return match


def deploy_config(root: Path, name: str, namespace: str, entry: str) -> None:
    """A fresh .kudev.yaml: only the artifact, plus the image name so substitution applies."""
    (root / ".kudev.yaml").write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\n"
        f"metadata:\n  name: {name}\nspec:\n  imageName: {name}\n  namespace: {namespace}\n"
        f"  rolloutTimeout: 90\n  manifests:\n{entry}"
    )


def pod_image_ids(core_v1, namespace: str) -> set[str]:
    pods = core_v1.list_namespaced_pod(namespace).items
    return {s.image_id for p in pods for s in (p.status.container_statuses or [])}


def layer_of(manifest: dict) -> dict:
    (layer,) = manifest["layers"]
    return layer


def test_publish_to_the_cluster_registry_then_deploy_the_artifact(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    published = publish(root, kubeconfig_path)
    assert (published["host"], published["repo"]) == (RIG_REGISTRY, f"{name}-manifests")
    artifact = published.group(0).strip()
    pulled = source.pull_artifact(ArtifactSpec(artifact), tmp_path / "cache")
    ((file_name, text),) = pulled.files
    image_ref = re.search(rf"image: ({RIG_REGISTRY}/{name}@sha256:[0-9a-f]{{64}})", text.decode())
    assert file_name == "manifests.yaml" and image_ref, text

    deploy_config(root, name, namespace, f"    - oci://{artifact}\n")
    result = run_kudev(root, kubeconfig_path, "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    image_digest = image_ref[1].split("@")[1]
    assert any(i.endswith(f"@{image_digest}") for i in pod_image_ids(core_v1, namespace)), (
        f"pods should run {image_digest}: {pod_image_ids(core_v1, namespace)}"
    )


def test_publish_with_a_login_is_reproducible_and_resends_nothing(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    with htpasswd_registry(tmp_path / "registry") as registry:
        env = {"DOCKER_CONFIG": str(registry.docker_config)}
        target = f"oci://{registry.host}/team/{name}:release"
        first = publish(root, kubeconfig_path, "--to", target, env=env)
        mark = len(registry.log_lines())
        second = publish(root, kubeconfig_path, "--to", target, env=env)
        assert second["digest"] == first["digest"]
        again = registry.requests_since(mark)
        uploads = [(m, p) for m, p in again if "/blobs/uploads/" in p]
        assert uploads == [], f"re-publishing uploaded blobs: {uploads}"
        assert again, "the registry's access log shows no requests: counting is broken"

        # Deploy from the login-protected registry with a credentials file.
        creds = registry.docker_config / "config.json"
        entry = f"    - oci: oci://{registry.host}/team/{name}:release\n"
        deploy_config(root, name, namespace, entry + f"      credentials: {creds}\n")
        result = run_kudev(root, kubeconfig_path, "--once")
        assert result.returncode == 0, result.stdout + result.stderr
        # Without the login, the same reference is refused by name.
        deploy_config(root, name, namespace, f"    - oci://{registry.host}/team/{name}:release\n")
        with pytest.raises(KudevError, match="asks for a login") as caught:
            render(load_config(root / ".kudev.yaml"), {})
        assert registry.host in caught.value.render()


def test_oras_pulls_what_kudev_pushed_byte_for_byte(tmp_path, kubeconfig_path, namespace):
    oras = oras_path()
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    artifact = publish(root, kubeconfig_path).group(0).strip()
    fetched = subprocess.run(
        [oras, "manifest", "fetch", "--plain-http", artifact], capture_output=True, check=True
    ).stdout
    assert "sha256:" + hashlib.sha256(fetched).hexdigest() == artifact.split("@")[1]
    manifest = json.loads(fetched)
    assert manifest["config"]["mediaType"] == FLUX_CONFIG
    out = tmp_path / "pulled"
    subprocess.run(
        [oras, "pull", "--plain-http", "-o", str(out), artifact], capture_output=True, check=True
    )
    (pulled,) = list(out.iterdir())
    assert (
        "sha256:" + hashlib.sha256(pulled.read_bytes()).hexdigest() == layer_of(manifest)["digest"]
    )


def _tar_gz(folder: Path, files: dict[str, str]) -> Path:
    src = folder / "src"
    src.mkdir(parents=True)
    for rel, text in files.items():
        (src / rel).write_text(text)
    archive = folder / "manifests.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for rel in files:
            tar.add(src / rel, arcname=rel)
    return archive


def oras_push(oras: str, folder: Path, ref: str, layer_type: str = FLUX_CONTENT) -> str:
    (folder / "config.json").write_text("{}")
    done = subprocess.run(
        [
            oras,
            "push",
            "--plain-http",
            ref,
            "--config",
            f"config.json:{FLUX_CONFIG}",
            f"manifests.tar.gz:{layer_type}",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return ref


def test_kudev_deploys_what_oras_pushed_with_fluxs_media_types(
    tmp_path, kubeconfig_path, namespace, core_v1
):
    oras = oras_path()
    name = app_name()
    root = write_app(tmp_path / name, name, namespace)
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n"
        f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n"
        f"      containers: [{{name: web, image: {name}}}]\n"
    )
    _tar_gz(tmp_path / "push", {"deploy.yaml": deployment, "README.md": "not applied\n"})
    ref = oras_push(oras, tmp_path / "push", f"{RIG_REGISTRY}/{name}-from-oras:v1")
    deploy_config(root, name, namespace, f"    - oci://{ref}\n")
    result = run_kudev(root, kubeconfig_path, "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    from kubernetes import client

    apps = client.AppsV1Api(core_v1.api_client)
    image = apps.read_namespaced_deployment(name, namespace).spec.template.spec.containers[0].image
    assert image.startswith(f"{RIG_REGISTRY}/{name}:kudev-"), image


def _render_error(root: Path, name: str, entry: str) -> str:
    deploy_config(root, name, "default", entry)
    source.forget_resolved_tags()
    with pytest.raises(KudevError) as caught:
        render(load_config(root / ".kudev.yaml"), {})
    return caught.value.render()


def test_bad_artifacts_are_named_in_the_error(tmp_path, kubeconfig_path):
    oras = oras_path()
    name = app_name()
    root = write_app(tmp_path / name, name, "default")
    repo = f"{RIG_REGISTRY}/{name}-bad"

    text = _render_error(root, name, f"    - oci://{repo}:no-such-tag\n")
    assert "no tag no-such-tag" in text and repo in text

    _tar_gz(tmp_path / "notyaml", {"broken.yaml": "key: [unclosed\n"})
    oras_push(oras, tmp_path / "notyaml", f"{repo}:not-yaml")
    text = _render_error(root, name, f"    - oci://{repo}:not-yaml\n")
    assert "invalid YAML" in text and f"oci://{repo}@sha256:" in text and "broken.yaml" in text

    _tar_gz(tmp_path / "wrongtype", {"a.yaml": "x: 1\n"})
    oras_push(oras, tmp_path / "wrongtype", f"{repo}:wrong-type", "application/x-tar")
    text = _render_error(root, name, f"    - oci://{repo}:wrong-type\n")
    assert "no layer of media type" in text and repo in text

    missing = "sha256:" + "0" * 64
    text = _render_error(root, name, f"    - oci://{repo}@{missing}\n")
    assert f"no digest {missing}" in text

    closed = f"127.0.0.1:{free_port()}"
    text = _render_error(root, name, f"    - oci://{closed}/app:v1\n")
    assert f"registry {closed} does not answer" in text

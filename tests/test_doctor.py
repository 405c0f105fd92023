"""`kudev doctor`: real Docker, the stand-in API server and cluster tools from tests/fakebin."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kudev.config.model import ClusterSpec, ImageSpec
from kudev.doctor import run_doctor

FAKEBIN = Path(__file__).parent / "fakebin"
REGISTRY_YAML = (
    'host: "localhost:5001"\nhelp: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n'
)


def write_kubeconfig(path: Path, context: str, server: str) -> str:
    path.write_text(
        f"clusters: [{{name: {context}, cluster: {{server: '{server}'}}}}]\n"
        f"contexts: [{{name: {context}, context: {{cluster: {context}, user: u}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        f"current-context: {context}\n"
    )
    return str(path)


@pytest.fixture
def kube_api(stand_in_api: Callable[..., int]) -> Callable[..., str]:
    """Starts the stand-in API server; returns its URL."""
    return lambda *args: f"http://127.0.0.1:{stand_in_api(*args)}"


@pytest.fixture
def with_fakebin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{FAKEBIN}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def dead_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST at a socket file nobody listens on: connecting is refused."""
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    host = f"unix://{path}"
    monkeypatch.setenv("DOCKER_HOST", host)
    return host


def doctor(**kwargs: object) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = run_doctor(out=lines.append, **kwargs)  # type: ignore[arg-type]
    return code, lines


def line(lines: list[str], label: str) -> str:
    """The check line for `label` (its hint, if any, follows it)."""
    return next(text for text in lines if text[2:].startswith(f"{label} "))


@pytest.mark.docker
def test_all_checks_pass_with_docker_a_kind_cluster_and_kind_on_path(
    docker_client: object,
    kube_api: Callable[..., str],
    with_fakebin: None,
    tmp_path: Path,
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", "kind-dev", kube_api())

    code, lines = doctor(kubeconfig=kubeconfig)

    assert code == 0, "\n".join(lines)
    assert all(text[0] == "✓" for text in lines), "\n".join(lines)
    assert "(API 1." in line(lines, "docker")
    assert "BuildKit via" in line(lines, "buildkit") or "classic builder" in line(lines, "buildkit")
    assert "kind-dev → http://127.0.0.1:" in line(lines, "kube context")
    assert line(lines, "cluster kind").endswith("kind (detected, name dev)")
    assert "none advertised" in line(lines, "local registry")
    assert line(lines, "image loader").endswith("kind load docker-image IMAGE --name dev")
    assert f"({FAKEBIN / 'kind'})" in line(lines, "kind")


@pytest.mark.docker
def test_advertised_registry_becomes_the_loader(
    docker_client: object, kube_api: Callable[..., str], tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "config", "kind-dev", kube_api("--registry", REGISTRY_YAML)
    )

    code, lines = doctor(kubeconfig=kubeconfig)

    assert code == 0, "\n".join(lines)
    assert line(lines, "local registry").startswith("✓ local registry  localhost:5001")
    assert line(lines, "image loader").endswith("push to registry localhost:5001")


def test_dead_docker_socket_is_a_clear_failure(
    dead_docker: str, kube_api: Callable[..., str], with_fakebin: None, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", "kind-dev", kube_api())
    image = ImageSpec("app", tmp_path, tmp_path / "Dockerfile", builder="docker")

    code, lines = doctor(kubeconfig=kubeconfig, images=(image,))

    assert code == 1
    docker_line = line(lines, "docker")
    assert docker_line == f"✗ docker          cannot connect to {dead_docker}: Connection refused"
    hint = lines[lines.index(docker_line) + 1]
    assert hint.startswith("  hint: start the Docker Engine")
    assert line(lines, "kube context").startswith("✓")  # the other checks still ran


def test_dead_docker_does_not_traceback_from_the_command_line(dead_docker: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, kudev.doctor as d; sys.exit(d.run_doctor())"],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
        timeout=60,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "cannot connect to" in line(result.stdout.splitlines(), "docker")


def test_without_docker_doctor_names_podman_and_why(
    dead_docker: str, kube_api: Callable[..., str], with_fakebin: None, tmp_path: Path
) -> None:
    if shutil.which("podman") is None:
        missing("podman")
    kubeconfig = write_kubeconfig(tmp_path / "config", "kind-dev", kube_api())
    image = ImageSpec("app", tmp_path, tmp_path / "Dockerfile")

    code, lines = doctor(kubeconfig=kubeconfig, images=(image,))

    assert line(lines, "docker").startswith("! docker"), "Docker is not needed to build"
    builder = line(lines, "builder")
    assert builder.startswith("✓ builder         app: podman (auto: cannot connect to"), builder
    assert "podman is on PATH" in builder
    assert code == 0, "\n".join(lines)


def test_doctor_names_the_line_the_layer_builder_refuses(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nRUN echo hi\n")
    image = ImageSpec("app", tmp_path, tmp_path / "Dockerfile", builder="layers")

    _, lines = doctor(kubeconfig=str(tmp_path / "none"), images=(image,))

    assert line(lines, "builder") == (
        "✗ builder         app: layers refuses: Dockerfile:2: `RUN echo hi`: the layer builder "
        "runs no commands"
    )


def missing(tool: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is missing (CI is set)", pytrace=False)
    pytest.skip(f"{tool} is missing")


def test_cluster_down_is_a_failure(tmp_path: Path, with_fakebin: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "config", "kind-dev", f"https://127.0.0.1:{port}")

    code, lines = doctor(kubeconfig=kubeconfig)

    assert code == 1
    assert line(lines, "api server").startswith(
        f"✗ api server      cannot reach the Kubernetes API server at https://127.0.0.1:{port}"
    )
    assert "Connection refused" in line(lines, "api server")


def test_missing_kubeconfig_is_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    code, lines = doctor()

    assert code == 1
    assert line(lines, "kube context").startswith("✗ kube context    no kubeconfig")


def test_missing_loader_tool_is_a_failure_with_install_hint(
    kube_api: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", "kind-dev", kube_api())
    monkeypatch.setenv("PATH", str(tmp_path))

    code, lines = doctor(kubeconfig=kubeconfig)

    assert code == 1
    kind_line = line(lines, "kind")
    assert kind_line == "✗ kind            not found on PATH"
    assert "kind.sigs.k8s.io" in lines[lines.index(kind_line) + 1]


def test_unknown_cluster_says_to_set_cluster_kind(
    kube_api: Callable[..., str], tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", "homelab", kube_api())

    code, lines = doctor(kubeconfig=kubeconfig)

    assert code == 1
    assert line(lines, "cluster kind").startswith("! cluster kind    unknown")
    assert line(lines, "image loader").startswith("✗ image loader    cannot tell how")
    assert "cluster.kind" in "\n".join(lines)


def test_cluster_spec_from_config_is_used(
    kube_api: Callable[..., str], tmp_path: Path, with_fakebin: None
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", "homelab", kube_api())

    code, lines = doctor(kubeconfig=kubeconfig, cluster=ClusterSpec(kind="k3d", name="lab"))

    assert line(lines, "cluster kind").endswith("k3d (from .kudev.yaml, name lab)")
    assert line(lines, "image loader").endswith("k3d image import IMAGE -c lab")
    assert line(lines, "k3d").startswith("✓")

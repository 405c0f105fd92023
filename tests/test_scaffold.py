"""`kudev init`: a Go-format `.kudev.yaml` for the Dockerfile in a folder, that kudev loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kudev.config import load_config
from kudev.errors import ConfigError
from kudev.scaffold import dns_label, write_initial_config


def project(
    tmp_path: Path, dockerfile: str, name: str = "shop", filename: str = "Dockerfile"
) -> Path:
    folder = tmp_path / name
    (folder / filename).parent.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_text(dockerfile)
    return folder


def test_writes_the_go_format_with_the_exposed_port(tmp_path: Path) -> None:
    folder = project(tmp_path, 'FROM python:3.12\nEXPOSE 3000/tcp 9090\nCMD ["app"]\n')

    path = write_initial_config(folder)

    assert path == folder / ".kudev.yaml"
    assert yaml.safe_load(path.read_text()) == {
        "apiVersion": "kudev.io/v1alpha1",
        "kind": "DeploymentConfig",
        "metadata": {"name": "shop"},
        "spec": {
            "imageName": "shop",
            "dockerfilePath": "./Dockerfile",
            "namespace": "default",
            "replicas": 1,
            "localPort": 3000,
            "servicePort": 3000,
        },
    }
    assert ".kudev.yaml.example" in path.read_text()


def test_written_file_loads(tmp_path: Path) -> None:
    folder = project(tmp_path, "FROM scratch\nEXPOSE 5000\n")

    config = load_config(write_initial_config(folder))

    assert (config.name, config.image.name) == ("shop", "shop")
    assert config.image.dockerfile == folder.resolve() / "Dockerfile"
    assert (config.local_port, config.service_port) == (5000, 5000)


@pytest.mark.parametrize(
    "dockerfile",
    [
        pytest.param("FROM scratch\n", id="no-expose"),
        pytest.param("FROM scratch\nARG PORT=3000\nEXPOSE $PORT\n", id="arg"),
        pytest.param("FROM scratch\nEXPOSE ${PORT:-3000}/tcp\n", id="arg-braces"),
        pytest.param("FROM scratch\nEXPOSE 99999\n", id="out-of-range"),
    ],
)
def test_port_falls_back_to_8080(tmp_path: Path, dockerfile: str) -> None:
    folder = project(tmp_path, dockerfile)

    config = load_config(write_initial_config(folder))

    assert (config.local_port, config.service_port) == (8080, 8080)


@pytest.mark.parametrize(
    ("dockerfile", "port"),
    [
        pytest.param(
            "FROM a AS build\nexpose 7000\nFROM b\nEXPOSE 8000\n", 7000, id="first-expose"
        ),
        pytest.param("FROM a\nEXPOSE \\\n  # the api\n  4000 4001\n", 4000, id="continuation"),
        pytest.param("# escape=`\nFROM a\nEXPOSE `\n  4500\n", 4500, id="escape-directive"),
        pytest.param("FROM a\nEXPOSE 6000-6010/udp\n", 6000, id="range"),
    ],
)
def test_port_comes_from_the_first_expose(tmp_path: Path, dockerfile: str, port: int) -> None:
    folder = project(tmp_path, dockerfile)

    assert load_config(write_initial_config(folder)).service_port == port


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(["api.Dockerfile"], "./api.Dockerfile", id="star-dockerfile"),
        pytest.param(["Dockerfile.dev"], "./Dockerfile.dev", id="dockerfile-star"),
        pytest.param(
            ["Dockerfile.dockerignore", "Dockerfile.dev"], "./Dockerfile.dev", id="not-ignore-file"
        ),
        pytest.param(["docker/Dockerfile"], "./docker/Dockerfile", id="one-level-down"),
        pytest.param(["Dockerfile", "docker/Dockerfile"], "./Dockerfile", id="top-level-first"),
    ],
)
def test_finds_the_dockerfile(tmp_path: Path, files: list[str], expected: str) -> None:
    folder = tmp_path / "shop"
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("FROM scratch\n")

    path = write_initial_config(folder)

    assert yaml.safe_load(path.read_text())["spec"]["dockerfilePath"] == expected
    load_config(path)


def test_no_dockerfile_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    (folder / "src").mkdir(parents=True)

    with pytest.raises(ConfigError, match="no Dockerfile"):
        write_initial_config(folder)
    assert not (folder / ".kudev.yaml").exists()


@pytest.mark.parametrize("existing", [".kudev.yaml", ".kudev.yml"])
def test_refuses_to_overwrite_an_existing_config(tmp_path: Path, existing: str) -> None:
    folder = project(tmp_path, "FROM scratch\n")
    (folder / existing).write_text("# mine\n")

    with pytest.raises(ConfigError) as raised:
        write_initial_config(folder)

    assert "--force" in raised.value.remedy
    assert (folder / existing).read_text() == "# mine\n"


def test_force_replaces_the_existing_config(tmp_path: Path) -> None:
    folder = project(tmp_path, "FROM scratch\n")
    (folder / ".kudev.yml").write_text("# mine\n")

    path = write_initial_config(folder, force=True)

    assert path == folder / ".kudev.yml"  # not a second config beside it
    assert not (folder / ".kudev.yaml").exists()
    load_config(path)


def test_name_is_the_folder_name_as_a_dns_label(tmp_path: Path) -> None:
    folder = project(tmp_path, "FROM scratch\n", name="My_Café App (2)")

    config = load_config(write_initial_config(folder))

    assert config.name == config.image.name == "my-cafe-app-2"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("api", "api"),
        ("--x--", "x"),
        ("日本", "app"),
        ("a" * 70, "a" * 63),
        ("a" * 62 + "_b", "a" * 62),
    ],
)
def test_dns_label(text: str, label: str) -> None:
    assert dns_label(text) == label

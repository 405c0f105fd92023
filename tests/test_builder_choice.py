"""`builder:` in .kudev.yaml and what `auto` picks: Docker when it answers, else podman,
else buildah on PATH, else the layer builder for a Dockerfile it can do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kudev.build import buildah, podman
from kudev.build.choice import choose, layers_refusal
from kudev.config.load import load_config, validate_file
from kudev.errors import DockerUnavailable


def write(folder: Path, text: str) -> Path:
    (folder / "Dockerfile").write_text("FROM busybox:1.36\nCOPY . /app\n")
    path = folder / ".kudev.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_spec_builder_applies_to_every_image_unless_one_says_otherwise(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """\
            metadata: {name: shop}
            spec:
              builder: podman
              baseRegistry: localhost:5000
              images:
                - name: api
                - name: web
                  builder: layers
            """,
        )
    )
    assert [(i.name, i.builder) for i in config.images] == [("api", "podman"), ("web", "layers")]
    assert {i.base_registry for i in config.images} == {"localhost:5000"}


def test_the_single_image_form_takes_spec_builder(tmp_path):
    config = load_config(write(tmp_path, "metadata: {name: app}\nspec: {builder: buildah}\n"))
    assert config.image.builder == "buildah"


def test_an_unknown_builder_is_named_with_the_choices(tmp_path):
    found = validate_file(write(tmp_path, "metadata: {name: app}\nspec: {builder: kaniko}\n"))
    assert len(found) == 1 and "spec.builder" in found[0]
    assert "auto" in found[0] and "layers" in found[0]


def _dead() -> object:
    raise DockerUnavailable("cannot reach the Docker daemon at unix:///x (socket not found)", "")


def test_auto_keeps_docker_when_it_answers():
    choice = choose("auto", lambda: "client")
    assert (choice.name, choice.docker_client) == ("docker", "client")


def test_auto_without_docker_takes_podman_then_buildah_then_layers(monkeypatch):
    monkeypatch.setattr(podman, "find_podman", lambda: "/usr/bin/podman")
    monkeypatch.setattr(buildah, "find_buildah", lambda: "/usr/bin/buildah")
    choice = choose("auto", _dead)
    assert choice.name == "podman"
    assert choice.why == (
        "auto: cannot reach the Docker daemon at unix:///x (socket not found); "
        "podman is on PATH (/usr/bin/podman)"
    )
    monkeypatch.setattr(podman, "find_podman", lambda: None)
    assert choose("auto", _dead).name == "buildah"
    monkeypatch.setattr(buildah, "find_buildah", lambda: None)
    assert choose("auto", _dead, lambda: "").name == "layers"
    with pytest.raises(DockerUnavailable) as refused:
        choose(
            "auto", _dead, lambda: "Dockerfile:2: `RUN make`: the layer builder runs no commands"
        )
    assert "RUN make" in refused.value.cause and "podman" in refused.value.remedy


def test_a_named_builder_is_taken_as_written():
    assert choose("layers", _dead).name == "layers"


def test_layers_refusal_names_the_line(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN make\n")
    assert layers_refusal(tmp_path / "Dockerfile", {}, "") == (
        "Dockerfile:2: `RUN make`: the layer builder runs no commands"
    )
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY . /\n")
    assert layers_refusal(tmp_path / "Dockerfile", {}, "") == ""


def test_auto_chooses_once_a_session_so_a_daemon_that_goes_away_is_waited_for(monkeypatch):
    """Docker answered at the start: when it dies mid-session the retry reconnects to Docker
    (reported and retried) instead of building with podman behind the user's back."""
    from kudev.config import ImageSpec
    from kudev.engine import connections as connections_module
    from kudev.engine.connections import Connections
    from kudev.session import SessionOptions

    asked: list[str] = []

    class Docker:
        def describe(self) -> str:
            return "docker (test)"

    def chosen(spec: ImageSpec):
        asked.append(spec.builder)
        if spec.builder == "auto":
            return Docker(), "auto: the Docker Engine answers", "docker"
        raise DockerUnavailable("cannot reach the Docker daemon (test)", "start it")

    monkeypatch.setattr(connections_module, "chosen_builder", chosen)
    spec = ImageSpec(name="app", context=Path("/x"), dockerfile=Path("/x/Dockerfile"))
    connections = Connections(SessionOptions(), lambda event: None)
    connections.builder(spec)
    connections.drop_after_failure()
    with pytest.raises(DockerUnavailable):
        connections.builder(spec)
    assert asked == ["auto", "docker"]

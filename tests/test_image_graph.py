"""The images' FROM graph (build/image_graph.py), its tags and the rewritten FROM lines."""

from __future__ import annotations

import io
import tarfile

import pytest

from kudev.build.context_tar import write_context_tar
from kudev.build.image_graph import (
    ImageGraph,
    folded_tag,
    from_images,
    rewrite_from_lines,
    tag_from_sources,
)
from kudev.config import ImageSpec
from kudev.errors import ConfigError
from kudev.sources.context import BuildContext, content_tag

NAMES = ["base", "app", "tools"]


def test_every_stage_form_names_its_project_image():
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM base\n"
        "from tools:1.2 as t\n"
        "FROM --platform=$BUILDPLATFORM base:latest AS b\n"
        "FROM golang:1.22\n"
    )
    assert from_images(text, NAMES) == ("base", "tools")


def test_stage_names_registries_digests_and_args_are_not_project_images():
    text = (
        "FROM busybox AS app\n"
        "FROM app\n"  # the stage above, not the image `app`
        "FROM registry.example:5000/base\n"
        "FROM base@sha256:" + "0" * 64 + "\n"
        "ARG TOOLS=tools\n"
        "FROM $TOOLS\n"
    )
    assert from_images(text, NAMES) == ()


def test_rewrite_names_the_exact_refs_and_keeps_the_rest_of_each_line():
    text = "FROM --platform=linux/amd64 base:latest AS up\r\nRUN true\nFROM up\nFROM golang\n"
    assert rewrite_from_lines(text, {"base": "base:kudev-1234"}) == (
        "FROM --platform=linux/amd64 base:kudev-1234 AS up\r\nRUN true\nFROM up\nFROM golang\n"
    )


def spec(tmp_path, name: str, dockerfile: str, builder: str = "auto") -> ImageSpec:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile)
    return ImageSpec(name=name, context=folder, dockerfile=folder / "Dockerfile", builder=builder)


def test_the_order_puts_each_upstream_first(tmp_path):
    images = [
        spec(tmp_path, "app", "FROM base\n"),
        spec(tmp_path, "tools", "FROM scratch\n"),
        spec(tmp_path, "base", "FROM tools\n"),
    ]
    graph = ImageGraph.of(images)
    assert graph.upstream == {"app": ("base",), "tools": (), "base": ("tools",)}
    assert graph.order() == ["tools", "base", "app"]
    assert graph.closure("app") == ["tools", "base"]


def test_a_cycle_is_a_config_error_naming_the_images(tmp_path):
    images = [spec(tmp_path, "app", "FROM base\n"), spec(tmp_path, "base", "FROM app\n")]
    with pytest.raises(ConfigError, match="cycle: app → base → app"):
        ImageGraph.of(images)


def test_an_image_from_another_needs_both_built_by_the_docker_engine(tmp_path):
    images = [
        spec(tmp_path, "app", "FROM base\n", builder="podman"),
        spec(tmp_path, "base", "FROM scratch\n", builder="podman"),
    ]
    with pytest.raises(ConfigError, match="builder: podman and podman"):
        ImageGraph.of(images)


def test_the_tag_folds_the_upstream_tag_and_is_plain_without_one():
    assert folded_tag("ab" * 32, {}) == content_tag("ab" * 32)
    one = folded_tag("ab" * 32, {"base": "kudev-11111111"})
    other = folded_tag("ab" * 32, {"base": "kudev-22222222"})
    assert one != other and one.startswith("kudev-") and one != content_tag("ab" * 32)


def test_a_new_upstream_digest_changes_every_dependent_tag(tmp_path):
    graph = ImageGraph({"app": ("base",), "base": ("tools",), "tools": ()})
    digests = {"app": "a" * 64, "base": "b" * 64, "tools": "c" * 64}
    before = tag_from_sources(graph, "app", digests.__getitem__)
    digests["tools"] = "d" * 64
    assert tag_from_sources(graph, "app", digests.__getitem__) != before


def test_the_tar_carries_the_rewritten_dockerfile_in_place_of_the_file(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM base\nCOPY . /app\n")
    (tmp_path / "main.txt").write_text("v1\n")
    ctx = BuildContext(tmp_path, tmp_path / "Dockerfile")
    ctx.scan()
    out = io.BytesIO()
    name = write_context_tar(ctx, out, b"FROM base:kudev-1\nCOPY . /app\n")
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "main.txt"] and name == "Dockerfile"
        assert tar.extractfile("Dockerfile").read() == b"FROM base:kudev-1\nCOPY . /app\n"


def test_kudev_hash_prints_the_folded_tag_the_engine_builds(tmp_path):
    from kudev.cli import _tag
    from kudev.config import Config
    from kudev.project import Project

    images = (spec(tmp_path, "app", "FROM base\n"), spec(tmp_path, "base", "FROM scratch\n"))
    config = Config(path=tmp_path / ".kudev.yaml", root=tmp_path, name="p", images=images)
    project = Project(config=config, cache_dir=tmp_path / "cache")
    contexts = {name: project.context_for(name) for name in ("app", "base")}
    for ctx in contexts.values():
        ctx.scan()
    base_tag = contexts["base"].tag()
    expected = folded_tag(contexts["app"].digest(), {"base": base_tag})
    assert _tag(project, "app", contexts["app"], None) == expected != contexts["app"].tag()
    assert _tag(project, "base", contexts["base"], None) == base_tag

"""One image-reference parser, by Docker's rules, including where kudev's old copies disagreed."""

from __future__ import annotations

import pytest

from kudev.cluster.loaders import split_ref
from kudev.cluster.node_images import normalize_ref
from kudev.image_ref import ImageRef, is_registry_host, parse_ref, same_repository, tag_of

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("app", ("", "app", "", "")),
        ("app:1", ("", "app", "1", "")),
        ("team/app:1", ("", "team/app", "1", "")),
        # a Docker Hub user, not a host: no ".", no port, not localhost, lowercase
        ("myregistry/app", ("", "myregistry/app", "", "")),
        ("localhost/app", ("localhost", "app", "", "")),
        ("localhost:5000/app:1", ("localhost:5000", "app", "1", "")),
        # the port's colon is not a tag
        ("registry:5000/app", ("registry:5000", "app", "", "")),
        ("registry.local/team/app:2", ("registry.local", "team/app", "2", "")),
        (f"app@{DIGEST}", ("", "app", "", DIGEST)),
        (f"localhost:5000/app:1@{DIGEST}", ("localhost:5000", "app", "1", DIGEST)),
        ("docker.io/library/app", ("docker.io", "library/app", "", "")),
        ("Registry/app", ("Registry", "app", "", "")),  # uppercase is never a path
    ],
)
def test_parse_splits_like_docker(ref: str, parts: tuple[str, str, str, str]) -> None:
    assert parse_ref(ref) == ImageRef(*parts)


@pytest.mark.parametrize(
    ("ref", "repository", "normal"),
    [
        ("app", "app", "docker.io/library/app:latest"),
        ("app:1", "app", "docker.io/library/app:1"),
        ("docker.io/library/app", "app", "docker.io/library/app:latest"),
        ("index.docker.io/app:1", "app", "docker.io/library/app:1"),
        ("registry-1.docker.io/library/app:1", "app", "docker.io/library/app:1"),
        ("docker.io/team/app:1", "team/app", "docker.io/team/app:1"),
        ("myregistry/app", "myregistry/app", "docker.io/myregistry/app:latest"),
        ("localhost:5000/app:1", "app", "localhost:5000/app:1"),
        ("registry:5000/app", "app", "registry:5000/app:latest"),
        ("quay.io/library/app", "library/app", "quay.io/library/app:latest"),
        (f"app@{DIGEST}", "app", f"docker.io/library/app@{DIGEST}"),
        (f"app:1@{DIGEST}", "app", f"docker.io/library/app:1@{DIGEST}"),
    ],
)
def test_repository_and_normalised_form(ref: str, repository: str, normal: str) -> None:
    parsed = parse_ref(ref)
    assert parsed.repository == repository
    assert parsed.normalized() == normal
    assert normalize_ref(ref) == normal  # the loaders use the same parser


@pytest.mark.parametrize(
    ("ref", "split"),
    [
        ("localhost:5000/app:1", ("app", "1")),
        ("registry:5000/app", ("app", "latest")),
        ("myregistry/app", ("myregistry/app", "latest")),
        ("docker.io/library/app", ("app", "latest")),
        ("registry-1.docker.io/library/app:2", ("app", "2")),
    ],
)
def test_split_ref_for_retagging(ref: str, split: tuple[str, str]) -> None:
    assert split_ref(ref) == split


@pytest.mark.parametrize(
    ("ref", "tag"),
    [
        ("app:kudev-1", "kudev-1"),
        ("localhost:5000/app:kudev-1", "kudev-1"),
        ("localhost:5000/app", ""),  # the old `rsplit(":")` read "5000/app" here
        (f"app@{DIGEST}", ""),  # …and the digest's hex here
        (f"app:1@{DIGEST}", "1"),
        ("", ""),
    ],
)
def test_tag_of(ref: str, tag: str) -> None:
    assert tag_of(ref) == tag


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("myapp", "docker.io/library/myapp:2", True),
        ("myapp", "registry-1.docker.io/myapp", True),
        ("myapp", f"localhost:5000/myapp@{DIGEST}", True),
        ("myregistry/app", "app", False),  # a Hub user's image, not a host's `app`
        ("registry:5000/app", "app", True),
        ("quay.io/library/app", "app", False),
    ],
)
def test_same_repository(a: str, b: str, same: bool) -> None:
    assert same_repository(a, b) is same


@pytest.mark.parametrize(
    ("component", "host"),
    [
        ("localhost", True),
        ("registry:5000", True),
        ("registry.local", True),
        ("Registry", True),
        ("myregistry", False),
        ("library", False),
    ],
)
def test_registry_host_rule(component: str, host: bool) -> None:
    assert is_registry_host(component) is host


def test_name_keeps_the_host_as_written():
    assert parse_ref("localhost:5000/app:kudev-1").name == "localhost:5000/app"
    assert parse_ref("app:1").name == "app"

"""Image substitution: which container images count as "ours", and what the report says."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kudev.deploy.manifests import load_yaml_file
from kudev.deploy.substitute import substitute_images
from kudev.image_ref import parse_ref, same_repository

FIXTURES = Path(__file__).parent / "manifests"
DIGEST = "sha256:" + "ab" * 32

SHOP_REFS = {
    "storefront": "storefront:kudev-1111",
    "orders-api": "orders-api:kudev-2222",
    "worker": "localhost:5000/worker:kudev-3333",
}


def images_of(obj: dict) -> dict[str, str]:
    """container name → image, over every container list of any workload kind."""
    found = {}
    for pod_spec in _pod_specs(obj):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for container in pod_spec.get(field, []):
                found[container["name"]] = container["image"]
    return found


def _pod_specs(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    if obj["kind"] == "Pod":
        return [spec]
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return [spec["template"]["spec"]] if "template" in spec else []


def by_name(objects: list[dict]) -> dict[str, dict]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


# -- which references name a repository ----------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "myapp",
        "myapp:v1",
        "myapp:latest",
        f"myapp@{DIGEST}",
        f"myapp:v1@{DIGEST}",
        "docker.io/library/myapp",
        "docker.io/myapp:3",
        "index.docker.io/library/myapp:3",
        "localhost/myapp",
        "localhost:5000/myapp:old",
        "registry.example.com/myapp:1.0",
        f"registry.example.com:443/myapp@{DIGEST}",
    ],
)
def test_references_to_the_same_repository_match(ref: str) -> None:
    assert same_repository(ref, "myapp")


@pytest.mark.parametrize(
    "ref",
    [
        "nginx",
        "myapp-sidecar",
        "myapp-sidecar:1.0",
        "sidecar-myapp",
        "other/myapp",
        "other/myapp:v1",
        "docker.io/other/myapp",
        "ghcr.io/acme/myapp:1.0",
        "localhost:5000/team/myapp",
        "myapp/extra",
        "library/myappx",
    ],
)
def test_other_repositories_do_not_match(ref: str) -> None:
    assert not same_repository(ref, "myapp")


def test_organisation_images_follow_docker_hub_normalisation() -> None:
    assert same_repository("docker.io/org/myapp:2", "org/myapp")
    assert same_repository(f"org/myapp@{DIGEST}", "org/myapp")
    assert same_repository("localhost:5000/org/myapp", "org/myapp")
    assert not same_repository("myapp", "org/myapp")
    assert not same_repository("docker.io/library/myapp", "org/myapp")


def test_a_configured_name_with_a_registry_matches_the_bare_name() -> None:
    assert same_repository("myapp:v1", "localhost:5000/myapp")
    assert same_repository("registry.example.com/myapp", "localhost:5000/myapp")
    assert not same_repository("myapp-sidecar", "localhost:5000/myapp")


def test_parse_reference_reads_host_port_tag_and_digest() -> None:
    ref = parse_ref(f"localhost:5000/team/app:1.2@{DIGEST}")
    assert (ref.host, ref.path, ref.tag, ref.digest) == (
        "localhost:5000",
        "team/app",
        "1.2",
        DIGEST,
    )
    assert parse_ref("team/app").host == ""  # a Docker Hub user, not a host
    assert parse_ref("Registry/app").host == "Registry"  # uppercase is never a path
    assert parse_ref("docker.io/library/app").repository == "app"
    assert parse_ref("quay.io/library/app").repository == "library/app"


# -- substituting in real-world manifests --------------------------------------------------


def test_shop_stack_swaps_exactly_our_images() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    assert len(objects) == 17

    result, report = substitute_images(objects, SHOP_REFS)

    swapped = [(f"{r.kind}/{r.name}", r.container, r.old, r.new) for r in report.replacements]
    assert swapped == [
        (
            "Deployment/storefront",
            "web",
            "docker.io/library/storefront:1.8.0",
            "storefront:kudev-1111",
        ),
        ("Deployment/orders-api", "migrate", "orders-api:2024.05.1", "orders-api:kudev-2222"),
        (
            "Deployment/orders-api",
            "api",
            "registry.example.com:5000/orders-api:2024.05.1",
            "orders-api:kudev-2222",
        ),
        (
            "StatefulSet/orders-db",
            "seed-schema",
            "localhost:5000/orders-api@sha256:" + "4a" * 32,
            "orders-api:kudev-2222",
        ),
        ("CronJob/nightly-report", "report", "worker:latest", "localhost:5000/worker:kudev-3333"),
        ("Job/reindex-search", "reindex", "docker.io/worker", "localhost:5000/worker:kudev-3333"),
    ]
    assert report.unused == ()
    assert report.warnings == ()

    objs = by_name(result)
    assert images_of(objs["Deployment/storefront"]) == {
        "wait-for-api": "busybox:1.36",
        "web": "storefront:kudev-1111",
        "proxy": "nginx:1.25-alpine",
        "storefront-sidecar": "storefront-sidecar:1.0",
    }
    assert images_of(objs["Deployment/orders-api"])["metrics"] == (
        "ghcr.io/acme/orders-api-exporter:0.3.2"
    )
    statefulset = images_of(objs["StatefulSet/orders-db"])
    assert statefulset["fix-permissions"].startswith("docker.io/library/busybox:1.36@sha256:")
    assert statefulset["postgres"].startswith("postgres:16.2@sha256:")
    assert images_of(objs["CronJob/nightly-report"])["uploader"] == "other/worker:2.1"
    assert images_of(objs["DaemonSet/log-shipper"]) == {"fluent-bit": "fluent/fluent-bit:3.0.4"}


def test_objects_without_our_images_come_back_equal() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    result, _ = substitute_images(objects, SHOP_REFS)
    touched = {"Deployment/storefront", "Deployment/orders-api", "StatefulSet/orders-db"}
    touched |= {"CronJob/nightly-report", "Job/reindex-search"}
    before, after = by_name(objects), by_name(result)
    assert list(after) == list(before)  # same objects, same order
    for key in before.keys() - touched:
        assert after[key] == before[key], key


def test_inputs_are_not_mutated() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    pristine = copy.deepcopy(objects)
    result, _ = substitute_images(objects, SHOP_REFS)
    assert objects == pristine
    assert result != pristine
    assert all(a is not b for a, b in zip(result, objects, strict=True))


def test_list_kinds_pods_and_ephemeral_containers_are_covered() -> None:
    objects = load_yaml_file(FIXTURES / "legacy.yaml")
    result, report = substitute_images(objects, SHOP_REFS)
    objs = by_name(result)
    assert images_of(objs["ReplicationController/legacy-worker"]) == {
        "worker": "localhost:5000/worker:kudev-3333"
    }
    assert images_of(objs["ReplicaSet/storefront-canary"]) == {"web": "storefront:kudev-1111"}
    assert images_of(objs["Pod/debug-shell"]) == {
        "shell": "registry.example.com:5000/tools/netshoot:v0.12",
        "debugger": "storefront:kudev-1111",
    }
    assert report.unused == ("orders-api",)


def test_always_pull_policy_becomes_if_not_present_on_swapped_containers() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    result, report = substitute_images(objects, SHOP_REFS)
    api = by_name(result)["Deployment/orders-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["imagePullPolicy"] == "IfNotPresent"
    (changed,) = [r for r in report.replacements if r.old_pull_policy]
    assert changed.container == "api"
    assert str(changed).endswith("(imagePullPolicy Always → IfNotPresent)")


def test_an_image_no_container_uses_is_warned_about() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    _, report = substitute_images(objects, {**SHOP_REFS, "payments": "payments:kudev-4444"})
    assert report.unused == ("payments",)
    assert report.warnings == (
        "image `payments` is built but no container in the manifests uses it",
    )


def test_the_warning_names_a_lookalike_image_from_another_repository() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    _, report = substitute_images(objects, {"orders-api-exporter": "orders-api-exporter:kudev-5"})
    assert report.replacements == ()
    (warning,) = report.warnings
    assert "found ghcr.io/acme/orders-api-exporter:0.3.2 (Deployment/orders-api container " in (
        warning
    )
    assert "name the image `acme/orders-api-exporter` in .kudev.yaml" in warning


def test_replacement_reads_as_kind_name_container_old_new() -> None:
    objects = load_yaml_file(FIXTURES / "shop.yaml")
    _, report = substitute_images(objects, {"worker": "worker:kudev-9"})
    assert [str(r) for r in report.replacements] == [
        "CronJob/nightly-report container report: worker:latest → worker:kudev-9",
        "Job/reindex-search container reindex: docker.io/worker → worker:kudev-9",
    ]


def test_unknown_kinds_and_odd_shapes_are_left_alone() -> None:
    objects = [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
         "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "myapp"}]}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "empty"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
         "spec": {"containers": [{"name": "no-image"}, "not-a-mapping"]}},
    ]  # fmt: skip
    result, report = substitute_images(objects, {"myapp": "myapp:kudev-1"})
    assert result == objects
    assert report.unused == ("myapp",)

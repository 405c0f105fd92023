"""Which kube contexts kudev may deploy to."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kudev.cluster.delivery import check_context_allowed
from kudev.cluster.detect import ClusterInfo
from kudev.config import Config, ImageSpec
from kudev.errors import ClusterError

CONFIG = Config(
    path=Path("/p/.kudev.yaml"),
    root=Path("/p"),
    name="app",
    images=(ImageSpec("app", Path("/p"), Path("/p/Dockerfile")),),
)
LOCAL = ClusterInfo("kind-dev", "kind-dev", "https://127.0.0.1:40000", "kind", True, "dev")
REMOTE = ClusterInfo("prod", "prod", "https://k8s.example.com", "unknown", False)


def test_local_cluster_is_allowed():
    check_context_allowed(LOCAL, CONFIG, ())


def test_remote_cluster_is_refused_with_the_way_out():
    with pytest.raises(ClusterError) as info:
        check_context_allowed(REMOTE, CONFIG, ())
    assert "refusing kube context 'prod'" in info.value.cause
    assert "--allow-context prod" in info.value.remedy


def test_remote_cluster_allowed_by_flag_or_config():
    check_context_allowed(REMOTE, CONFIG, ("prod",))
    check_context_allowed(REMOTE, replace(CONFIG, allow_contexts=("prod",)), ())


def test_pinned_context_refuses_any_other_even_a_local_one():
    pinned = replace(CONFIG, kube_context="kind-other")
    with pytest.raises(ClusterError, match="pins kubeContext 'kind-other'"):
        check_context_allowed(LOCAL, pinned, ())


def test_pinning_a_remote_context_is_an_explicit_choice():
    check_context_allowed(REMOTE, replace(CONFIG, kube_context="prod"), ())


@pytest.mark.parametrize("context", ["kind-dev", "minikube", "docker-desktop", "k3d-dev"])
def test_a_local_name_at_a_public_address_is_refused_with_the_reason(context):
    from kudev.cluster.detect import detect_cluster
    from kudev.config.model import ClusterSpec

    info = detect_cluster(context, context, "https://203.0.113.10:6443", ClusterSpec())
    assert not info.local
    with pytest.raises(ClusterError) as refused:
        check_context_allowed(info, CONFIG, ())
    assert "server is a public address" in refused.value.cause


def test_a_local_name_at_a_private_address_stays_local():
    from kudev.cluster.detect import detect_cluster
    from kudev.config.model import ClusterSpec

    # minikube's docker driver: the node container's address on a docker network
    assert detect_cluster("minikube", "minikube", "https://192.168.49.2:8443", ClusterSpec()).local

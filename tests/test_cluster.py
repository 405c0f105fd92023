"""Which cluster is this: kubeconfig reading (kubectl's merge), detection, KEP-1755 registry."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kudev.cluster.detect import (
    ClusterInfo,
    api_client_for,
    cluster_from_kubeconfig,
    detect_cluster,
    find_local_registry,
    read_kube_context,
)
from kudev.config.model import ClusterSpec
from kudev.errors import ClusterError

FAKEBIN = Path(__file__).parent / "fakebin"
AUTO = ClusterSpec()
MINIKUBE_EXTENSION = [
    {
        "name": "cluster_info",
        "extension": {"provider": "minikube.sigs.k8s.io", "version": "v1.33.1"},
    }
]


def kubeconfig(
    path: Path,
    contexts: dict[str, str],
    current: str | None = None,
    extensions: dict[str, list] | None = None,
) -> Path:
    """A kubeconfig whose contexts map name → server (each with a cluster of the same name)."""

    def cluster(name: str, server: str) -> dict:
        body: dict = {"server": server}
        if extensions and name in extensions:
            body["extensions"] = extensions[name]
        return {"name": name, "cluster": body}

    doc: dict = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster(name, server) for name, server in contexts.items()],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "dev"}} for name in contexts
        ],
        "users": [{"name": "dev", "user": {"token": "not-a-secret"}}],
    }
    if current is not None:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


# -- detect_cluster ------------------------------------------------------------------------

DETECTION = [
    # context, cluster, server, kind, local, name
    ("docker-desktop", "docker-desktop", "https://kubernetes.docker.internal:6443",
     "docker-desktop", True, ""),
    ("docker-for-desktop", "docker-for-desktop-cluster", "https://localhost:6443",
     "docker-desktop", True, ""),
    ("rancher-desktop", "rancher-desktop", "https://127.0.0.1:6443", "rancher-desktop", True, ""),
    ("orbstack", "orbstack", "https://127.0.0.1:26443", "orbstack", True, ""),
    ("colima", "colima", "https://127.0.0.1:6443", "colima", True, ""),
    ("colima-work", "colima-work", "https://127.0.0.1:6443", "colima", True, "work"),
    ("minikube", "minikube", "https://192.168.49.2:8443", "minikube", True, "minikube"),
    ("minikube", "minikube", "https://127.0.0.1:58431", "minikube", True, "minikube"),
    ("kind-kind", "kind-kind", "https://127.0.0.1:41393", "kind", True, "kind"),
    ("kind-dev", "kind-dev", "https://127.0.0.1:33829", "kind", True, "dev"),
    ("k3d-mycluster", "k3d-mycluster", "https://0.0.0.0:39471", "k3d", True, "mycluster"),
    ("k3d-k3s-default", "k3d-k3s-default", "https://0.0.0.0:6550", "k3d", True, "k3s-default"),
    ("microk8s", "microk8s-cluster", "https://127.0.0.1:16443", "microk8s", True, ""),
    # k3s writes context "default": ambiguous, unless a name hints at k3s.
    ("default", "default", "https://127.0.0.1:6443", "unknown", True, ""),
    ("default", "k3s-homelab", "https://127.0.0.1:6443", "k3s", True, ""),
    ("prod", "k3s-prod", "https://10.0.0.5:6443", "k3s", False, ""),
    # a context renamed by kubectx still has the tool's cluster name
    ("dev", "kind-dev", "https://127.0.0.1:33829", "kind", True, "dev"),
    ("lab", "lab", "https://[::1]:6443", "unknown", True, ""),
    ("lab", "lab", "https://localhost:6443", "unknown", True, ""),
    # a private-range server may be a shared cluster: not local
    ("homelab", "homelab", "https://192.168.1.20:6443", "unknown", False, ""),
    ("admin@prod", "prod", "https://10.0.12.5:6443", "unknown", False, ""),
    ("gke_acme_europe-west1_main", "gke_acme_europe-west1_main", "https://34.76.10.20",
     "unknown", False, ""),
    ("arn:aws:eks:eu-west-1:123456789012:cluster/main",
     "arn:aws:eks:eu-west-1:123456789012:cluster/main",
     "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com", "unknown", False, ""),
]  # fmt: skip


@pytest.mark.parametrize(("context", "cluster", "server", "kind", "local", "name"), DETECTION)
def test_detect_cluster_from_kubeconfig_strings(
    context: str, cluster: str, server: str, kind: str, local: bool, name: str
) -> None:
    info = detect_cluster(context, cluster, server, AUTO)

    assert info == ClusterInfo(context, cluster, server, kind=kind, local=local, name=name)


def test_minikube_profile_is_recognised_by_its_provider_extension() -> None:
    info = detect_cluster(
        "dev", "dev", "https://192.168.49.2:8443", AUTO, provider="minikube.sigs.k8s.io"
    )

    assert (info.kind, info.name, info.local) == ("minikube", "dev", True)


def test_minikube_profile_without_extension_is_unknown_and_not_local() -> None:
    info = detect_cluster("dev", "dev", "https://192.168.49.2:8443", AUTO)

    assert (info.kind, info.local) == ("unknown", False)


OVERRIDES = [
    # override, context, server, kind, name, local
    (ClusterSpec(kind="k3s"), "default", "https://127.0.0.1:6443", "k3s", "", True),
    (ClusterSpec(kind="kind"), "default", "https://127.0.0.1:6443", "kind", "kind", True),
    (ClusterSpec(kind="kind", name="ci"), "kind-dev", "https://127.0.0.1:1", "kind", "ci", True),
    (ClusterSpec(name="other"), "kind-dev", "https://127.0.0.1:1", "kind", "other", True),
    (ClusterSpec(kind="k3d"), "k3d-foo", "https://0.0.0.0:6550", "k3d", "foo", True),
    (ClusterSpec(kind="minikube"), "dev", "https://192.168.49.2:8443", "minikube", "dev", True),
    (ClusterSpec(kind="registry"), "admin@prod", "https://10.0.0.5:6443", "registry", "", False),
    (ClusterSpec(kind="none"), "docker-desktop", "https://kubernetes.docker.internal:6443",
     "none", "", True),
    (ClusterSpec(kind="containerd"), "homelab", "https://192.168.1.20:6443",
     "containerd", "", True),
]  # fmt: skip


@pytest.mark.parametrize(("override", "context", "server", "kind", "name", "local"), OVERRIDES)
def test_override_wins_for_kind_and_name(
    override: ClusterSpec, context: str, server: str, kind: str, name: str, local: bool
) -> None:
    info = detect_cluster(context, context, server, override)

    assert (info.kind, info.name, info.local) == (kind, name, local)


# -- read_kube_context ---------------------------------------------------------------------


def test_reads_current_context_of_an_explicit_file(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        {"kind-dev": "https://127.0.0.1:33829", "minikube": "https://192.168.49.2:8443"},
        current="kind-dev",
    )

    assert read_kube_context(str(path)) == ("kind-dev", "kind-dev", "https://127.0.0.1:33829")


def test_context_argument_overrides_current_context(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        {"kind-dev": "https://127.0.0.1:33829", "minikube": "https://192.168.49.2:8443"},
        current="kind-dev",
    )

    assert read_kube_context(str(path), "minikube")[2] == "https://192.168.49.2:8443"


def test_kubeconfig_env_merges_files_first_one_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kubeconfig(
        tmp_path / "a.yaml", {"kind-dev": "https://127.0.0.1:1111"}, current="kind-dev"
    )
    second = kubeconfig(
        tmp_path / "b.yaml",
        {"kind-dev": "https://127.0.0.1:2222", "k3d-lab": "https://0.0.0.0:6550"},
        current="k3d-lab",
    )
    missing = tmp_path / "missing.yaml"  # kubectl skips files that do not exist
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, (missing, first, second))))

    assert read_kube_context() == ("kind-dev", "kind-dev", "https://127.0.0.1:1111")
    assert read_kube_context(context="k3d-lab") == ("k3d-lab", "k3d-lab", "https://0.0.0.0:6550")


def test_current_context_may_come_from_a_later_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clusters = kubeconfig(tmp_path / "clusters.yaml", {"kind-dev": "https://127.0.0.1:1111"})
    chooser = tmp_path / "current.yaml"
    chooser.write_text("current-context: kind-dev\n", encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, (clusters, chooser))))

    assert read_kube_context()[0] == "kind-dev"


def test_default_kubeconfig_is_home_kube_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".kube").mkdir()
    kubeconfig(tmp_path / ".kube" / "config", {"orbstack": "https://127.0.0.1:26443"}, "orbstack")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    assert read_kube_context()[0] == "orbstack"


def test_missing_kubeconfig_is_a_cluster_error_with_a_remedy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(ClusterError) as caught:
        read_kube_context()

    assert "no kubeconfig" in caught.value.cause
    assert "kind create cluster" in caught.value.remedy


def test_explicit_kubeconfig_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="does not exist"):
        read_kube_context(str(tmp_path / "nope"))


def test_no_current_context_lists_the_contexts(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", {"kind-a": "https://127.0.0.1:1", "kind-b": "x"})

    with pytest.raises(ClusterError) as caught:
        read_kube_context(str(path))

    assert "no current context" in caught.value.cause
    assert "kind-a, kind-b" in caught.value.remedy


def test_unknown_context_is_named_in_the_error(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", {"kind-a": "https://127.0.0.1:1"}, "kind-a")

    with pytest.raises(ClusterError, match="'prod'"):
        read_kube_context(str(path), "prod")


def test_invalid_yaml_is_a_cluster_error(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: [\n", encoding="utf-8")

    with pytest.raises(ClusterError, match="cannot read kubeconfig"):
        read_kube_context(str(path))


def test_cluster_from_kubeconfig_uses_minikube_extension(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        {"dev": "https://192.168.49.2:8443"},
        "dev",
        extensions={"dev": MINIKUBE_EXTENSION},
    )

    info = cluster_from_kubeconfig(str(path))

    assert (info.kind, info.name, info.local) == ("minikube", "dev", True)


# -- find_local_registry (against the stand-in API server in tests/fakebin/kube-api) -------


@pytest.fixture
def kube_api(tmp_path: Path, stand_in_api: Callable[..., int]) -> Callable[..., Path]:
    """Starts the stand-in API server; returns a kubeconfig (context "kind-dev") for it."""

    def start(*args: str) -> Path:
        port = stand_in_api(*args)
        return kubeconfig(
            tmp_path / f"kubeconfig-{port}", {"kind-dev": f"http://127.0.0.1:{port}"}, "kind-dev"
        )

    return start


REGISTRY_YAML = """\
host: "localhost:5001"
hostFromContainerRuntime: "kind-registry:5000"
hostFromClusterNetwork: "kind-registry:5000"
help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
"""


def test_finds_kep_1755_registry_host(kube_api: Callable[..., Path]) -> None:
    path = kube_api("--registry", REGISTRY_YAML)

    assert find_local_registry(api_client_for(str(path))) == "localhost:5001"


@pytest.mark.parametrize("status", ["404", "403"])
def test_missing_or_forbidden_configmap_means_no_registry(
    kube_api: Callable[..., Path], status: str
) -> None:
    path = kube_api("--status", status)

    assert find_local_registry(api_client_for(str(path))) is None


def test_configmap_without_host_means_no_registry(kube_api: Callable[..., Path]) -> None:
    path = kube_api("--registry", "hostFromClusterNetwork: registry:5000\n")

    assert find_local_registry(api_client_for(str(path))) is None


def test_invalid_registry_yaml_is_a_cluster_error(kube_api: Callable[..., Path]) -> None:
    path = kube_api("--registry", "host: [unclosed\n")

    with pytest.raises(ClusterError, match="invalid YAML"):
        find_local_registry(api_client_for(str(path)))


def test_unauthorized_is_a_cluster_error(kube_api: Callable[..., Path]) -> None:
    path = kube_api("--status", "401")

    with pytest.raises(ClusterError) as caught:
        find_local_registry(api_client_for(str(path)))

    assert "401" in caught.value.cause
    assert "credentials" in caught.value.remedy


def test_connection_refused_is_a_cluster_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    path = kubeconfig(tmp_path / "config", {"kind-dev": f"http://127.0.0.1:{port}"}, "kind-dev")

    with pytest.raises(ClusterError) as caught:
        find_local_registry(api_client_for(str(path)))

    assert f"127.0.0.1:{port}" in caught.value.cause
    assert "refused" in caught.value.cause.lower()
    assert "running" in caught.value.remedy

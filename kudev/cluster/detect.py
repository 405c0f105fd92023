"""Which cluster is this? Kube context → cluster kind → whether images must be loaded.

`read_kube_context` reads the kubeconfig the way kubectl merges it, `detect_cluster` names the
cluster kind from the context/cluster/server strings alone (no I/O), and `find_local_registry`
asks the cluster for a KEP-1755 local registry.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
import yaml

from kudev.cluster_kinds import KINDS, LOCAL_KINDS
from kudev.config.model import ClusterSpec
from kudev.errors import ClusterError, ClusterUnreachable

MINIKUBE_PROVIDER = "minikube.sigs.k8s.io"
REGISTRY_CONFIGMAP = ("kube-public", "local-registry-hosting")
REGISTRY_KEY = "localRegistryHosting.v1"
API_TIMEOUT = (3.0, 10.0)  # connect, read (seconds)

_DEFAULT_NAMES = {kind.name: kind.default_name for kind in KINDS if kind.default_name}
_PREFIXED = (("kind-", "kind"), ("k3d-", "k3d"), ("colima-", "colima"))
_EXACT = {
    "docker-desktop": "docker-desktop",
    "docker-for-desktop": "docker-desktop",
    "rancher-desktop": "rancher-desktop",
    "orbstack": "orbstack",
    "colima": "colima",
    "minikube": "minikube",
    "microk8s": "microk8s",
    "microk8s-cluster": "microk8s",
}


@dataclass(frozen=True)
class ClusterInfo:
    context: str
    cluster: str  # the kubeconfig's cluster name
    server: str
    kind: str  # one of kinds.KNOWN_KINDS or "unknown"
    local: bool
    name: str = ""  # kind cluster name, minikube profile, k3d cluster, colima profile


@dataclass(frozen=True)
class KubeContext:
    """One context of the merged kubeconfig, with what it says about its cluster."""

    context: str
    cluster: str
    server: str
    provider: str = ""  # the cluster's extension provider, e.g. "minikube.sigs.k8s.io"
    files: tuple[Path, ...] = ()  # the kubeconfig files it came from, in merge order


# -- kubeconfig ----------------------------------------------------------------------------


def kubeconfig_paths(kubeconfig: str | None = None) -> tuple[Path, ...]:
    """The files kubectl would read, in merge order. Missing files in KUBECONFIG are skipped."""
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise ClusterError(
                f"kubeconfig {path} does not exist",
                "pass the path of an existing kubeconfig file, or leave it out to use "
                "KUBECONFIG / ~/.kube/config",
            )
        return (path,)
    env = os.environ.get("KUBECONFIG", "")
    if env:
        found = tuple(
            Path(p).expanduser()
            for p in env.split(os.pathsep)
            if p and Path(p).expanduser().is_file()
        )
        if not found:
            raise ClusterError(
                f"no file named in KUBECONFIG exists ({env})",
                "point KUBECONFIG at your cluster's kubeconfig, or start a local cluster "
                "(kind create cluster, minikube start, k3d cluster create)",
            )
        return found
    default = Path("~/.kube/config").expanduser()
    if not default.is_file():
        raise ClusterError(
            f"no kubeconfig: KUBECONFIG is unset and {default} does not exist",
            "start a local cluster (kind create cluster, minikube start, k3d cluster create) "
            "or set KUBECONFIG",
        )
    return (default,)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ClusterError(
            f"cannot read kubeconfig {path}: {err}", "fix or regenerate the file"
        ) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ClusterError(f"kubeconfig {path} is not a YAML mapping", "fix or regenerate the file")
    return data


def _merge(paths: tuple[Path, ...]) -> tuple[str, dict[str, dict], dict[str, dict]]:
    """kubectl's merge: the first file to set current-context or a named entry wins."""
    current = ""
    contexts: dict[str, dict] = {}
    clusters: dict[str, dict] = {}
    for path in paths:
        data = _load_yaml(path)
        current = current or str(data.get("current-context") or "")
        for key, into in (("contexts", contexts), ("clusters", clusters)):
            for entry in data.get(key) or ():
                if isinstance(entry, dict) and entry.get("name"):
                    into.setdefault(str(entry["name"]), entry.get(key[:-1]) or {})
    return current, contexts, clusters


def _provider(*entries: dict) -> str:
    for entry in entries:
        for ext in entry.get("extensions") or ():
            provider = ((ext or {}).get("extension") or {}).get("provider")
            if provider:
                return str(provider)
    return ""


def load_kube_context(kubeconfig: str | None = None, context: str | None = None) -> KubeContext:
    """The named (or current) context of the merged kubeconfig."""
    paths = kubeconfig_paths(kubeconfig)
    current, contexts, clusters = _merge(paths)
    where = os.pathsep.join(str(p) for p in paths)
    name = context or current
    if not name:
        raise ClusterError(
            f"the kubeconfig ({where}) has no current context",
            f"choose one with `kubectl config use-context NAME` ({_listing(contexts)})",
        )
    if name not in contexts:
        raise ClusterError(
            f"context {name!r} is not in the kubeconfig ({where})",
            f"use one of: {_listing(contexts)}",
        )
    ctx = contexts[name]
    cluster_name = str(ctx.get("cluster") or "")
    if cluster_name not in clusters:
        raise ClusterError(
            f"context {name!r} names cluster {cluster_name!r}, which the kubeconfig lacks",
            "recreate the context, e.g. with your cluster tool's `get-kubeconfig`/`start`",
        )
    cluster = clusters[cluster_name]
    return KubeContext(
        context=name,
        cluster=cluster_name,
        server=str(cluster.get("server") or ""),
        provider=_provider(cluster, ctx),
        files=paths,
    )


def _listing(contexts: dict[str, dict]) -> str:
    return ", ".join(sorted(contexts)) or "the kubeconfig has no contexts"


def read_kube_context(
    kubeconfig: str | None = None, context: str | None = None
) -> tuple[str, str, str]:
    """(context, cluster name, server) of the named or current context."""
    found = load_kube_context(kubeconfig, context)
    return found.context, found.cluster, found.server


# -- detection -----------------------------------------------------------------------------


def server_host(server: str) -> str:
    """The host part of a server URL ("https://127.0.0.1:6443" → "127.0.0.1")."""
    if "://" not in server:
        server = "//" + server
    try:
        return (urlsplit(server).hostname or "").lower()
    except ValueError:
        return ""


def is_loopback(server: str) -> bool:
    """True when the API server is on this machine. 0.0.0.0 counts: k3d writes it."""
    host = server_host(server)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return addr.is_loopback or addr.is_unspecified


# Where a local cluster's API server can be: this machine, or a VM or container network on
# it. Python's `is_private` is no use here: it also covers documentation and reserved blocks.
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_public_address(server: str) -> bool:
    """True when the server is an IP literal outside loopback and the private LAN ranges.
    No name is resolved: deciding must never send a packet anywhere."""
    try:
        addr = ipaddress.ip_address(server_host(server))
    except ValueError:
        return False
    if addr.is_loopback or addr.is_unspecified:
        return False
    return not any(addr in network for network in LOCAL_NETWORKS)


def _kind_from_name(name: str) -> tuple[str, str]:
    """(kind, cluster name) a context or cluster name implies; ("", "") when it says nothing."""
    if name in _EXACT:
        kind = _EXACT[name]
        return kind, "minikube" if kind == "minikube" else ""
    for prefix, kind in _PREFIXED:
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind, name[len(prefix) :]
    if "k3s" in name:
        return "k3s", ""
    return "", ""


def _detect(context: str, cluster: str, server: str, provider: str) -> tuple[str, str]:
    if provider == MINIKUBE_PROVIDER:
        return "minikube", cluster or context
    for name in (context, cluster):
        kind, cluster_name = _kind_from_name(name)
        if kind:
            return kind, cluster_name
    if server_host(server) == "kubernetes.docker.internal":
        return "docker-desktop", ""
    return "unknown", ""


def _name_for(kind: str, context: str, cluster: str) -> str:
    """The cluster name an overridden kind implies, from the context or the tool's default."""
    for name in (context, cluster):
        found, cluster_name = _kind_from_name(name)
        if found == kind and cluster_name:
            return cluster_name
    if kind == "minikube":
        return context or "minikube"
    return _DEFAULT_NAMES.get(kind, "")


def detect_cluster(
    context: str, cluster: str, server: str, override: ClusterSpec, *, provider: str = ""
) -> ClusterInfo:
    """Name the cluster kind from kubeconfig strings; `override` (kind != "auto") wins.

    `provider` is the kubeconfig cluster's extension provider when known: minikube writes
    "minikube.sigs.k8s.io", which is how a profile not named "minikube" is recognised.
    A private-range server is not called local: it may be a shared cluster.
    """
    kind, name = _detect(context, cluster, server, provider)
    # A name merely containing "k3s" may be a production k3s: local only on loopback.
    # Overriding how images load (e.g. "none" on docker-desktop) does not make a cluster remote.
    # No local cluster lives at a public address, whatever its context is called.
    detected_local = kind in LOCAL_KINDS and kind != "k3s"
    named_local = detected_local or override.kind in LOCAL_KINDS
    local = (named_local and not is_public_address(server)) or is_loopback(server)
    if override.kind != "auto":
        if override.kind != kind:
            name = _name_for(override.kind, context, cluster)
        kind = override.kind
    name = override.name or name
    return ClusterInfo(
        context=context, cluster=cluster, server=server, kind=kind, local=local, name=name
    )


def cluster_from_kubeconfig(
    kubeconfig: str | None = None,
    context: str | None = None,
    override: ClusterSpec | None = None,
) -> ClusterInfo:
    """read + detect in one call; unlike read_kube_context it also uses minikube's marker."""
    found = load_kube_context(kubeconfig, context)
    return detect_cluster(
        found.context,
        found.cluster,
        found.server,
        override or ClusterSpec(),
        provider=found.provider,
    )


# -- talking to the cluster ----------------------------------------------------------------


def api_client_for(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """A kubernetes ApiClient for the context kubectl would use.

    The Python client reads KUBECONFIG once at import and lets the *last* file's
    current-context win, so the context is resolved here and passed explicitly.
    """
    from kubernetes import config as kube_config

    found = load_kube_context(kubeconfig, context)
    try:
        return kube_config.new_client_from_config(
            config_file=os.pathsep.join(str(p) for p in found.files),
            context=found.context,
            persist_config=False,
        )
    except Exception as err:  # ConfigException, exec-plugin failures, bad certificates
        raise ClusterError(
            f"cannot use context {found.context!r}: {err}",
            "check that `kubectl --context "
            f"{found.context} get nodes` works (credentials, certificates, auth plugins)",
        ) from err


def find_local_registry(api_client: Any) -> str | None:
    """The `host` of the cluster's KEP-1755 local registry, or None when it advertises none.

    `api_client` is a kubernetes ApiClient or CoreV1Api. Missing ConfigMap, namespace or
    permission (403) mean "no registry"; an unreachable API server is a ClusterError.
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = api_client if isinstance(api_client, client.CoreV1Api) else client.CoreV1Api(api_client)
    namespace, name = REGISTRY_CONFIGMAP
    try:
        configmap = core.read_namespaced_config_map(name, namespace, _request_timeout=API_TIMEOUT)
    except ApiException as err:
        if err.status in (403, 404):
            return None
        raise ClusterError(
            f"reading ConfigMap {namespace}/{name} failed: HTTP {err.status} {err.reason}",
            "check your credentials with `kubectl get nodes`"
            if err.status == 401
            else "check the API server's health with `kubectl get --raw /readyz`",
        ) from err
    except (urllib3.exceptions.HTTPError, OSError) as err:  # refused, timeouts, TLS
        raise unreachable(core.api_client.configuration.host, err) from err
    return _registry_host(configmap.data or {})


def _registry_host(data: dict[str, str]) -> str | None:
    raw = data.get(REGISTRY_KEY)
    if not raw:
        return None
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ClusterError(
            f"ConfigMap kube-public/local-registry-hosting has invalid YAML in {REGISTRY_KEY}",
            "fix the ConfigMap, or set cluster.registry in .kudev.yaml to override it",
        ) from err
    host = doc.get("host") if isinstance(doc, dict) else None
    return str(host) if host else None


def unreachable(host: str, err: Exception) -> ClusterError:
    """A ClusterError for an API server that did not answer (the engine retries it)."""
    return ClusterUnreachable(
        f"cannot reach the Kubernetes API server at {host}: {error_reason(err)}",
        "is the cluster running? (`kubectl cluster-info`; start it with your cluster tool)",
    )


def error_reason(err: BaseException) -> str:
    """The OS-level reason buried in a urllib3/requests/docker error chain, else its message."""
    seen: set[int] = set()
    todo: list[object] = [err]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            return item.strerror
        todo.extend([getattr(item, "reason", None), *item.args, item.__cause__, item.__context__])
    # urllib3 prefixes the connection object's repr: "<...HTTPConnection object at 0x..>: msg"
    text = str(err).split(">: ", 1)[-1] or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."

"""Getting images onto nodes: stand-in cluster tools (tests/fakebin), real Docker, real registry."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from kudev.cluster.detect import ClusterInfo, api_client_for
from kudev.cluster.loader_choice import LOADERS, loader_for
from kudev.cluster.loaders import (
    ContainerdImportLoader,
    K3dLoader,
    KindLoader,
    MinikubeLoader,
    NoLoad,
    RegistryLoader,
)
from kudev.cluster.node_images import already_loaded, images_on_nodes, normalize_ref
from kudev.cluster_kinds import KNOWN_KINDS
from kudev.config.model import ClusterSpec
from kudev.errors import ClusterError
from kudev.tool_run import INSTALL_HINTS, LoaderFailed
from tests.tools import missing_tool

FAKEBIN = Path(__file__).parent / "fakebin"
CTR_IMPORT = ["ctr", "-n", "k8s.io", "images", "import", "-"]


class StandIns:
    """The stand-in tools on PATH, their call log and their behaviour knobs."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = tmp_path / "standin.log"
        self.stdin = tmp_path / "standin.stdin"
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("PATH", f"{FAKEBIN}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("KUDEV_STANDIN_LOG", str(self.log))
        monkeypatch.setenv("KUDEV_STANDIN_STDIN", str(self.stdin))

    def fail(self, code: int, stderr: str) -> None:
        self.monkeypatch.setenv("KUDEV_STANDIN_EXIT", str(code))
        self.monkeypatch.setenv("KUDEV_STANDIN_STDERR", stderr)

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIns:
    return StandIns(tmp_path, monkeypatch)


# -- tool loaders --------------------------------------------------------------------------

TOOL_LOADERS = [
    (KindLoader("dev"), ["kind", "load", "docker-image", "app:kudev-1a2b", "--name", "dev"]),
    (MinikubeLoader("work"), ["minikube", "image", "load", "app:kudev-1a2b", "-p", "work"]),
    (K3dLoader("lab"), ["k3d", "image", "import", "app:kudev-1a2b", "-c", "lab"]),
]


@pytest.mark.parametrize(("loader", "argv"), TOOL_LOADERS)
def test_tool_loader_runs_the_exact_command(
    standins: StandIns, loader: KindLoader, argv: list[str]
) -> None:
    lines: list[str] = []

    ref = loader.load("app:kudev-1a2b", lines.append)

    assert ref == "app:kudev-1a2b"
    assert [call["argv"] for call in standins.calls()] == [argv]
    tool = argv[0]
    assert lines == [
        f"{tool}: starting {' '.join(argv[1:])}",
        f"{tool}: progress on stderr",
        f"{tool}: done",
    ]


def test_output_reaches_on_line_while_the_tool_still_runs(
    standins: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv("KUDEV_STANDIN_GATE", str(gate))
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        gate.touch()  # the stand-in waits for this before finishing

    KindLoader("dev").load("app:kudev-1a2b", on_line)

    assert lines[-1] == "kind: done"


def test_exception_from_on_line_stops_the_tool(
    standins: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUDEV_STANDIN_GATE", str(tmp_path / "never"))  # would wait 10 s

    class Cancelled(Exception):
        pass

    def on_line(line: str) -> None:
        raise Cancelled(line)

    started = time.monotonic()
    with pytest.raises(Cancelled):
        KindLoader("dev").load("app:kudev-1a2b", on_line)

    assert time.monotonic() - started < 5
    assert standins.calls() == []  # killed before it got past the gate


def test_failing_tool_becomes_cluster_error_with_its_output(standins: StandIns) -> None:
    standins.fail(1, 'ERROR: no nodes found for cluster "dev"')
    lines: list[str] = []

    with pytest.raises(LoaderFailed) as caught:
        KindLoader("dev").load("app:kudev-1a2b", lines.append)

    err = caught.value
    assert isinstance(err, ClusterError)
    assert "exited with status 1" in err.cause
    assert 'ERROR: no nodes found for cluster "dev"' in err.cause
    assert err.output[-1] == 'ERROR: no nodes found for cluster "dev"'
    assert "kind get clusters" in err.remedy
    assert lines[-1] == 'ERROR: no nodes found for cluster "dev"'
    assert 'ERROR: no nodes found for cluster "dev"' in err.render()


def test_missing_tool_says_not_found_on_path_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ClusterError) as caught:
        KindLoader("dev").load("app:kudev-1a2b", print)

    assert caught.value.cause == "kind not found on PATH"
    assert "kind.sigs.k8s.io" in caught.value.remedy


# -- real Docker (the docker_client fixture is in conftest.py) -----------------------------


@pytest.fixture(scope="module")
def tiny_image(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A one-file image built FROM scratch, tagged like kudev tags its builds."""
    context = tmp_path_factory.mktemp("image")
    (context / "hello.txt").write_text("hello from kudev's loader tests\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    ref = f"kudev-test-loaders:kudev-{uuid.uuid4().hex[:12]}"
    image, _ = docker_client.images.build(path=str(context), tag=ref, rm=True)
    yield ref
    for tag in docker_client.images.get(image.id).tags:
        docker_client.images.remove(tag, force=True)


@pytest.mark.docker
def test_containerd_import_gets_a_docker_save_tarball_on_stdin(
    standins: StandIns, docker_client: docker.DockerClient, tiny_image: str
) -> None:
    lines: list[str] = []

    ref = ContainerdImportLoader(CTR_IMPORT, docker_client).load(tiny_image, lines.append)

    assert ref == tiny_image
    (call,) = standins.calls()
    assert call["argv"] == CTR_IMPORT
    assert call["stdin_bytes"] == standins.stdin.stat().st_size > 0
    with tarfile.open(standins.stdin) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == [tiny_image]
        (layer,) = manifest[0]["Layers"]
        layer_bytes = tar.extractfile(layer).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer_tar:
        assert layer_tar.getnames() == ["hello.txt"]
    assert lines[-1] == "ctr: done"


@pytest.mark.docker
def test_containerd_import_failure_is_a_cluster_error(
    standins: StandIns, docker_client: docker.DockerClient, tiny_image: str
) -> None:
    standins.fail(2, "ctr: failed to dial containerd: permission denied")

    with pytest.raises(LoaderFailed, match="permission denied"):
        ContainerdImportLoader(CTR_IMPORT, docker_client).load(tiny_image, print)


@pytest.mark.docker
def test_import_of_an_image_docker_lacks_fails_before_running_the_tool(
    standins: StandIns, docker_client: docker.DockerClient
) -> None:
    with pytest.raises(ClusterError, match="not in the local Docker Engine"):
        ContainerdImportLoader(CTR_IMPORT, docker_client).load("kudev-test-absent:nope", print)

    assert standins.calls() == []


CONTAINERD_SOCKETS = (
    "/run/containerd/containerd.sock",
    "/var/run/docker/containerd/containerd.sock",
)


@pytest.fixture
def real_containerd() -> Iterator[list[str]]:
    """`ctr` against a real containerd (dockerd's own will do), in a namespace of our own."""
    ctr = shutil.which("ctr")
    address = next((p for p in CONTAINERD_SOCKETS if Path(p).is_socket()), None)
    if not ctr or not address:
        missing_tool("needs ctr and a containerd socket (Debian's containerd, or dockerd's)")
    base = [ctr, "--address", address]
    namespace = f"kudev-test-{uuid.uuid4().hex[:8]}"
    yield [*base, "--namespace", namespace]
    names = subprocess.run(
        [*base, "-n", namespace, "images", "ls", "-q"], capture_output=True, text=True
    ).stdout.split()
    if names:
        subprocess.run([*base, "-n", namespace, "images", "rm", "--sync", *names], check=False)
    subprocess.run([*base, "namespaces", "rm", namespace], capture_output=True, check=False)


@pytest.mark.docker
def test_real_containerd_imports_the_streamed_image(
    real_containerd: list[str], docker_client: docker.DockerClient, tiny_image: str
) -> None:
    lines: list[str] = []
    loader = ContainerdImportLoader([*real_containerd, "images", "import", "-"], docker_client)

    loader.load(tiny_image, lines.append)

    listed = subprocess.run(
        [*real_containerd, "images", "ls", "-q"], capture_output=True, text=True, check=True
    )
    assert listed.stdout.split() == [f"docker.io/library/{tiny_image}"]
    assert any(f"unpacking docker.io/library/{tiny_image}" in line for line in lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on 127.0.0.1, which dockerd treats as insecure."""
    binary = shutil.which("docker-registry")
    if not binary:
        missing_tool("docker-registry not installed (apt-get install -y docker-registry)")
    host = f"127.0.0.1:{free_port()}"
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'data'}}}}}\n"
        f"http: {{addr: '{host}'}}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while True:
        try:
            get_json(f"http://{host}/v2/")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"docker-registry did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.1)
    yield host
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.docker
def test_registry_loader_pushes_to_a_real_registry(
    registry: str, docker_client: docker.DockerClient, tiny_image: str
) -> None:
    loader = RegistryLoader(registry, docker_client)
    lines: list[str] = []

    ref = loader.load(tiny_image, lines.append)

    repo, tag = tiny_image.split(":")
    assert ref == loader.deploy_ref(tiny_image) == f"{registry}/{repo}:{tag}"
    assert get_json(f"http://{registry}/v2/{repo}/tags/list") == {"name": repo, "tags": [tag]}
    assert any(line.endswith(": Pushed") for line in lines)
    assert any(line.startswith(f"pushed {tag} digest sha256:") for line in lines)


@pytest.mark.docker
def test_an_image_the_registry_already_holds_is_not_pushed_again(
    registry: str, docker_client: docker.DockerClient, tiny_image: str
) -> None:
    loader = RegistryLoader(registry, docker_client)
    assert not loader.present(tiny_image), "never pushed: nothing to compare with"
    loader.load(tiny_image, lambda line: None)
    assert loader.present(tiny_image)
    # Another image under the same tag in the registry: the local one must be pushed again.
    repo, tag = tiny_image.split(":")
    other = docker_client.images.build(
        fileobj=io.BytesIO(b"FROM scratch\nLABEL other=1\n"), tag=f"{repo}-other:{tag}"
    )[0]
    other.tag(f"{registry}/{repo}", tag)
    docker_client.images.push(f"{registry}/{repo}", tag=tag)
    assert not loader.present(tiny_image)
    docker_client.images.remove(f"{repo}-other:{tag}", force=True)


@pytest.mark.docker
def test_push_to_a_dead_registry_is_a_cluster_error(
    docker_client: docker.DockerClient, tiny_image: str
) -> None:
    dead = f"127.0.0.1:{free_port()}"

    with pytest.raises(ClusterError) as caught:
        RegistryLoader(dead, docker_client).load(tiny_image, print)

    assert caught.value.cause.startswith(f"push to {dead} failed")
    assert "connection refused" in caught.value.cause


# -- choosing a loader ---------------------------------------------------------------------


def info(kind: str, name: str = "", context: str = "ctx") -> ClusterInfo:
    return ClusterInfo(context, context, "https://127.0.0.1:6443", kind, local=True, name=name)


@pytest.mark.parametrize(
    ("cluster", "loader_type", "describe"),
    [
        (info("kind", "dev"), KindLoader, "kind load docker-image IMAGE --name dev"),
        (info("minikube", "work"), MinikubeLoader, "minikube image load IMAGE -p work"),
        (info("k3d", "lab"), K3dLoader, "k3d image import IMAGE -c lab"),
        (info("docker-desktop"), NoLoad, "no load needed"),
        (info("orbstack"), NoLoad, "no load needed"),
        (info("rancher-desktop"), NoLoad, "no load needed"),
        (info("colima"), NoLoad, "no load needed"),
        (info("none"), NoLoad, "no load needed"),
        (info("microk8s"), ContainerdImportLoader, "| microk8s ctr image import -"),
        (info("containerd"), ContainerdImportLoader, "| ctr -n k8s.io images import -"),
        (info("k3s"), ContainerdImportLoader, "k3s ctr -n k8s.io images import -"),
    ],
)
def test_loader_for_each_kind(cluster: ClusterInfo, loader_type: type, describe: str) -> None:
    loader = loader_for(cluster, ClusterSpec(), None, None)

    assert type(loader) is loader_type
    assert describe in loader.describe()


def test_kep_1755_registry_wins_over_the_detected_kind() -> None:
    loader = loader_for(info("kind", "dev"), ClusterSpec(), "localhost:5001", None)

    assert loader.deploy_ref("app:kudev-1") == "localhost:5001/app:kudev-1"


def test_configured_registry_and_import_command_win_over_kep_1755() -> None:
    spec = ClusterSpec(registry="localhost:5000")
    assert "localhost:5000" in loader_for(info("kind"), spec, "localhost:5001", None).describe()

    spec = ClusterSpec(import_command=("nerdctl", "load"))
    loader = loader_for(info("kind"), spec, "localhost:5001", None)
    assert loader.requires == ("nerdctl",)


def test_configured_kind_wins_over_detection() -> None:
    loader = loader_for(info("unknown"), ClusterSpec(kind="minikube", name="p1"), None, None)

    assert loader.describe() == "minikube image load IMAGE -p p1"


def test_unknown_cluster_without_registry_says_how_to_configure(tmp_path: Path) -> None:
    with pytest.raises(ClusterError) as caught:
        loader_for(info("unknown", context="admin@homelab"), ClusterSpec(), None, None)

    assert "'admin@homelab'" in caught.value.cause
    assert "cluster.kind" in caught.value.remedy
    assert ".kudev.yaml" in caught.value.remedy


def test_registry_kind_without_a_registry_is_an_error() -> None:
    with pytest.raises(ClusterError, match="no registry"):
        loader_for(info("kind"), ClusterSpec(kind="registry"), None, None)


def test_the_loader_table_names_exactly_the_cluster_kinds() -> None:
    assert set(LOADERS) == KNOWN_KINDS


@pytest.mark.parametrize("kind", sorted(KNOWN_KINDS - {"registry"}))
def test_every_tool_a_kind_loads_with_has_an_install_hint(kind: str) -> None:
    loader = loader_for(info(kind), ClusterSpec(), None, None)

    assert all(tool in INSTALL_HINTS for tool in loader.requires), loader.requires


def test_the_remedy_for_an_unknown_cluster_lists_the_kinds_to_set() -> None:
    with pytest.raises(ClusterError) as caught:
        loader_for(info("unknown"), ClusterSpec(), None, None)

    listed = caught.value.remedy.split("one of ", 1)[1].split(" — ", 1)[0].split(", ")
    assert set(listed) == KNOWN_KINDS - {"registry"}


@pytest.mark.parametrize(
    ("ref", "deploy"),
    [
        ("app:kudev-1", "localhost:5000/app:kudev-1"),
        ("team/app:kudev-1", "localhost:5000/team/app:kudev-1"),
        ("docker.io/library/app:kudev-1", "localhost:5000/app:kudev-1"),
        ("ghcr.io/acme/app:kudev-1", "localhost:5000/acme/app:kudev-1"),
        ("app", "localhost:5000/app:latest"),
    ],
)
def test_registry_deploy_ref(ref: str, deploy: str) -> None:
    assert RegistryLoader("localhost:5000", None).deploy_ref(ref) == deploy


# -- skipping loads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "normal"),
    [
        ("app:kudev-1", "docker.io/library/app:kudev-1"),
        ("app", "docker.io/library/app:latest"),
        ("team/app:1", "docker.io/team/app:1"),
        ("docker.io/app:1", "docker.io/library/app:1"),
        ("localhost:5000/app:1", "localhost:5000/app:1"),
        ("registry.local/app:1", "registry.local/app:1"),
    ],
)
def test_normalize_ref_like_docker(ref: str, normal: str) -> None:
    assert normalize_ref(ref) == normal


def test_already_loaded_matches_normalised_node_names() -> None:
    names = {"docker.io/library/app:kudev-1", "docker.io/library/app@sha256:abc"}

    assert already_loaded("app:kudev-1", names)
    assert already_loaded("docker.io/library/app:kudev-1", names)
    assert not already_loaded("app:kudev-2", names)
    assert not already_loaded("other/app:kudev-1", names)


@pytest.fixture
def kube_api(tmp_path: Path, stand_in_api: Callable[..., int]) -> Callable[..., str]:
    """Starts the stand-in API server; returns a kubeconfig path for it."""

    def start(*args: str) -> str:
        port = stand_in_api(*args)
        path = tmp_path / f"kubeconfig-{port}"
        path.write_text(
            f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "current-context: c\n"
        )
        return str(path)

    return start


def test_images_on_nodes_are_those_every_node_reports(kube_api: Callable[..., str]) -> None:
    from kubernetes import client

    nodes = [
        ["docker.io/library/app:kudev-1", "docker.io/library/app:kudev-2"],
        ["docker.io/library/app:kudev-2", "registry.k8s.io/pause:3.9"],
    ]
    core = client.CoreV1Api(api_client_for(kube_api("--nodes", json.dumps(nodes))))

    names = images_on_nodes(core)

    assert names == {"docker.io/library/app:kudev-2"}
    assert already_loaded("app:kudev-2", names)
    assert not already_loaded("app:kudev-1", names)


# -- images outside the Docker Engine (podman, buildah, the layer builder) ----------------


class ArchiveStore:
    """An ImageStore with a fixed docker-archive; remembers the pushes asked of it."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, str]] = []

    def store_name(self) -> str:
        return "a test store"

    def push_to(self, ref: str, target: str, on_line: Callable[[str], None]) -> str:
        self.pushed.append((ref, target))
        return f"{target}@sha256:{'0' * 64}"

    def save_archive(self, ref: str) -> Iterator[bytes]:
        yield b"docker-archive of " + ref.encode()

    def pushed_digests(self, ref: str, name: str) -> set[str]:
        return set()


@pytest.mark.parametrize(
    ("make", "argv_head"),
    [
        (lambda s: KindLoader("dev", s), ["kind", "load", "image-archive"]),
        (lambda s: MinikubeLoader("work", s), ["minikube", "image", "load"]),
        (lambda s: K3dLoader("lab", s), ["k3d", "image", "import"]),
    ],
)
def test_tool_loaders_take_an_archive_of_an_image_outside_docker(standins, make, argv_head):
    loader = make(ArchiveStore())
    assert loader.describe().startswith("save from a test store, then " + " ".join(argv_head))

    loader.load("app:kudev-1a2b", lambda line: None)

    (call,) = standins.calls()
    archive = call["argv"][len(argv_head)]
    assert call["argv"][: len(argv_head)] == argv_head and archive.endswith(".tar")
    assert not os.path.exists(archive), "the temporary archive is removed afterwards"


def test_containerd_import_reads_the_stores_archive(standins):
    store = ArchiveStore()
    ContainerdImportLoader(CTR_IMPORT, store).load("app:kudev-1a2b", lambda line: None)
    assert standins.stdin.read_bytes() == b"docker-archive of app:kudev-1a2b"


def test_a_registry_push_returns_what_the_store_pinned():
    store = ArchiveStore()
    deployed = RegistryLoader("localhost:5000", store).load("app:kudev-1", lambda line: None)
    assert store.pushed == [("app:kudev-1", "localhost:5000/app:kudev-1")]
    assert deployed == f"localhost:5000/app:kudev-1@sha256:{'0' * 64}"


def test_a_docker_desktop_cluster_refuses_images_built_elsewhere():
    info = ClusterInfo("docker-desktop", "docker-desktop", "", "docker-desktop", local=True)
    with pytest.raises(ClusterError, match="built into a test store"):
        loader_for(info, ClusterSpec(), None, ArchiveStore())


def test_a_push_to_a_registry_that_is_away_is_retried_a_refusal_is_not():
    from kudev.cluster.docker_images import push_lines as _push_lines
    from kudev.errors import ClusterError

    away = [{"error": 'Get "http://localhost:5001/v2/": dial tcp 127.0.0.1:5001: connect: '
             "connection refused"}]  # fmt: skip
    with pytest.raises(ClusterError) as caught:
        list(_push_lines(iter(away), "localhost:5001"))
    assert caught.value.retryable
    assert "push to localhost:5001 failed" in caught.value.cause
    denied = [{"error": "denied: requested access to the resource is denied"}]
    with pytest.raises(ClusterError) as caught:
        list(_push_lines(iter(denied), "localhost:5001"))
    assert not caught.value.retryable

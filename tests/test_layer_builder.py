"""The layer builder without a daemon: Dockerfile steps, layers against fixed vectors,
reproducible digests, config semantics, and pushes to the in-test fake registry (where the
anonymous token flow and cross-repository mounts are checked; Docker Hub itself is not
reachable from the tests)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from kudev.build.builder import ContextChanged
from kudev.build.layers.base import DOCKER_LAYER, where_to_look
from kudev.build.layers.builder import LayersBuilder
from kudev.build.layers.dockerfile import LayersRefused, plan_for
from kudev.build.layers.layer_tar import Entry, layer_from_entries
from kudev.build.layers.tree import ImageTree
from kudev.cluster.loaders import RegistryLoader
from kudev.oci.client import DOCKER_MANIFEST, RegistryClient, sha256_digest
from kudev.sources.context import BuildContext
from tests.ocilib import FakeState, fake_registry

# A fixed layer: one folder, one file, one symlink, one chowned file.
VECTOR_ENTRIES = [
    Entry("app", "d", 0o755, 0, 0),
    Entry("app/hello.txt", "f", 0o644, 0, 0, source="/hello", size=6),
    Entry("app/link", "l", 0o777, 0, 0, link="hello.txt"),
    Entry("app/run.sh", "f", 0o750, 1000, 1000, source="/run", size=10),
]
VECTOR_CONTENT = {"/hello": b"hello\n", "/run": b"#!/bin/sh\n"}
# Pinned: a change to the tar layout or gzip settings changes every digest kudev makes.
# (The gzip bytes depend on zlib; Debian 12's zlib 1.2.13 made these.)
VECTOR_DIFF_ID = "sha256:a465885a129639b749773454d398bbd61bdd546b5c95bcf637103f6e56c3f169"
VECTOR_DIGEST = "sha256:ea631a7e918a0655e9951f5058ea02004bc9b6f53b69cf14aa742119e7ce480d"


def write_project(root: Path, dockerfile: str, files: dict[str, str]) -> BuildContext:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    context = BuildContext(root, root / "Dockerfile")
    context.scan()
    return context


def build(builder: LayersBuilder, context: BuildContext, name: str = "app") -> str:
    ref = f"{name}:{context.tag()}"
    builder.run(builder.prepare(context, ref), lambda line, stream: None)
    return ref


def image_of(builder: LayersBuilder, ref: str):
    return builder._image(ref)[0]


# -- layers against fixed vectors ----------------------------------------------------------


def test_a_layer_has_its_digest_from_the_gzip_and_its_diff_id_from_the_tar():
    layer = layer_from_entries(list(reversed(VECTOR_ENTRIES)), VECTOR_CONTENT)
    assert layer.diff_id == "sha256:" + hashlib.sha256(layer.tar).hexdigest() == VECTOR_DIFF_ID
    assert layer.digest == "sha256:" + hashlib.sha256(layer.gz).hexdigest() == VECTOR_DIGEST
    assert gzip.decompress(layer.gz) == layer.tar
    with tarfile.open(fileobj=io.BytesIO(layer.tar)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["app", "app/hello.txt", "app/link", "app/run.sh"]
    assert {m.mtime for m in members} == {0}
    assert [(m.uid, m.gid, oct(m.mode)) for m in members][-1] == (1000, 1000, "0o750")
    assert members[2].issym() and members[2].linkname == "hello.txt"


def test_the_same_sources_in_another_folder_at_another_time_give_the_same_image(tmp_path):
    dockerfile = 'FROM scratch\nCOPY www/ /www/\nCMD ["/www/index.html"]\n'
    files = {"www/index.html": "hi\n", "www/css/a.css": "a{}\n"}
    first = write_project(tmp_path / "one", dockerfile, files)
    os.utime(tmp_path / "one" / "www" / "index.html", (1, 1))
    first.scan()
    second = write_project(tmp_path / "two", dockerfile, files)
    digests = [
        image_of(b, build(b, ctx)).digest
        for b, ctx in (
            (LayersBuilder(cache_dir=tmp_path), first),
            (LayersBuilder(cache_dir=tmp_path), second),
        )
    ]
    assert digests[0] == digests[1]
    (tmp_path / "two" / "www" / "index.html").write_text("changed\n")
    second.update([tmp_path / "two" / "www" / "index.html"])
    builder = LayersBuilder(cache_dir=tmp_path)
    assert image_of(builder, build(builder, second)).digest != digests[0]


def test_dockerignore_and_folder_contents_are_copied_as_docker_does(tmp_path):
    context = write_project(
        tmp_path / "p",
        "FROM scratch\nCOPY . /app/\nCOPY --chown=10:20 --chmod=0640 conf.ini /etc/\n",
        {".dockerignore": "secret.txt\n", "secret.txt": "no", "main.py": "x", "conf.ini": "k=v"},
    )
    builder = LayersBuilder(cache_dir=tmp_path)
    image = image_of(builder, build(builder, context))
    first, second = (_members(layer.tar) for layer in image.layers)
    assert "app/secret.txt" not in first and "app/main.py" in first and "app" in first
    assert second == {"etc/conf.ini": (10, 20, 0o640)}


def _members(tar_bytes: bytes) -> dict[str, tuple[int, int, int]]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return {m.name: (m.uid, m.gid, m.mode) for m in tar.getmembers()}


def test_a_file_changed_after_hashing_stops_the_build(tmp_path):
    context = write_project(tmp_path / "p", "FROM scratch\nCOPY a.txt /a.txt\n", {"a.txt": "1"})
    (tmp_path / "p" / "a.txt").write_text("longer now")
    with pytest.raises(ContextChanged):
        LayersBuilder(cache_dir=tmp_path).prepare(context, "app:x")


# -- the Dockerfile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "said"),
    [
        (
            "FROM busybox\nCOPY a /a\nRUN echo hi\n",
            "Dockerfile:3: `RUN echo hi`: the layer builder runs no commands",
        ),
        (
            "FROM busybox AS b\nFROM b\n",
            "Dockerfile:2: `FROM b`: FROM an earlier stage needs that stage built",
        ),
        (
            "FROM busybox\nCOPY --from=x /a /a\n",
            "Dockerfile:2: `COPY --from=x /a /a`: --from is beyond the layer builder",
        ),
        (
            "FROM busybox\nADD https://example.com/x /x\n",
            "ADD of a URL needs the network at build time",
        ),
        (
            "FROM busybox\nHEALTHCHECK CMD true\n",
            "Dockerfile:2: `HEALTHCHECK CMD true`: HEALTHCHECK is not among",
        ),
    ],
)
def test_what_the_layer_builder_cannot_do_is_named_by_its_line(tmp_path, dockerfile, said):
    (tmp_path / "Dockerfile").write_text(dockerfile)
    with pytest.raises(LayersRefused) as refused:
        plan_for(tmp_path / "Dockerfile", {})
    assert said in refused.value.cause
    assert "builder: docker" in refused.value.remedy


def test_run_in_an_earlier_stage_is_no_concern_of_the_final_one(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM golang AS build\nRUN go build\n\nFROM busybox:1.36\n# note\nCOPY \\\n  a /a\n"
    )
    plan = plan_for(tmp_path / "Dockerfile", {})
    assert plan.base == "busybox:1.36" and plan.steps[0].instruction.line == 6


def test_config_follows_dockers_rules(tmp_path):
    context = write_project(
        tmp_path / "p",
        'ARG PORT=8080\nFROM scratch\nARG PORT\nENV A=1 B="two words"\nENV A=${A}x\n'
        "WORKDIR /srv\nWORKDIR app\nCOPY f ./\nUSER 1000:1000\nEXPOSE ${PORT} 53/udp\n"
        'LABEL org.x=y\nCMD ["serve"]\nENTRYPOINT ["/bin/tini", "--"]\nCMD run\n',
        {"f": "x"},
    )
    builder = LayersBuilder(cache_dir=tmp_path)
    image = image_of(builder, build(builder, context))
    config = json.loads(image.config)
    run = config["config"]
    assert run["Env"] == ["A=1x", "B=two words"], "replaced in place, as Docker does"
    assert run["WorkingDir"] == "/srv/app" and run["User"] == "1000:1000"
    assert run["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert run["Labels"] == {"org.x": "y"}
    assert run["Entrypoint"] == ["/bin/tini", "--"] and run["Cmd"] == ["/bin/sh", "-c", "run"]
    # WORKDIR /srv and /srv/app make folders; COPY makes a layer; the rest are empty layers.
    assert len(config["rootfs"]["diff_ids"]) == 3 == len(image.layers)
    assert sum(1 for h in config["history"] if not h.get("empty_layer")) == 3
    assert _members(image.layers[2].tar) == {"srv/app/f": (0, 0, 0o644)}
    assert config["created"] == "1970-01-01T00:00:00Z"


def test_chown_names_come_from_the_images_accounts():
    tree = ImageTree()
    assert tree.owner("1000") == (1000, 1000)
    tree.accounts["etc/passwd"] = b"root:x:0:0::/root:/bin/sh\napp:x:100:101::/home/app:/bin/sh\n"
    tree.accounts["etc/group"] = b"root:x:0:\nstaff:x:50:\n"
    assert tree.owner("app:staff") == (100, 50)
    with pytest.raises(LayersRefused, match="no 'nobody'"):
        tree.owner("nobody")


def test_unqualified_bases_are_read_from_the_base_registry_first():
    assert where_to_look("busybox:1.36", "localhost:5000") == [
        ("localhost:5000", "busybox", "1.36"),
        ("registry-1.docker.io", "library/busybox", "1.36"),
    ]
    assert where_to_look("ghcr.io/org/app:1", "localhost:5000") == [("ghcr.io", "org/app", "1")]


# -- pushing ---------------------------------------------------------------------------------


def _seed_base(host: str) -> str:
    """A one-layer docker-format base in the fake registry's `base` repository."""
    layer = layer_from_entries([Entry("etc", "d", 0o755, 0, 0)], {})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [{}],
        }
    ).encode()
    client = RegistryClient(host, plain_http=True)
    client.push_blob("base", layer.gz)
    client.push_blob("base", config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": sha256_digest(config),
        },
        "layers": [{"mediaType": DOCKER_LAYER, "size": len(layer.gz), "digest": layer.digest}],
    }
    client.push_manifest("base", "1", json.dumps(manifest).encode(), DOCKER_MANIFEST)
    return layer.digest


def test_only_missing_blobs_are_pushed_and_the_base_is_mounted(tmp_path):
    with fake_registry(FakeState(per_repository=True, refuse_monolithic=False)) as (host, state):
        base_layer = _seed_base(host)
        context = write_project(
            tmp_path / "p", "FROM base:1\nCOPY a /a\nCOPY b /b\n", {"a": "1", "b": "2"}
        )
        builder = LayersBuilder(base_registry=host, cache_dir=tmp_path)
        loader = RegistryLoader(host, builder)
        state.log.clear()
        deployed = loader.load(build(builder, context), lambda line: None)
        assert deployed.startswith(f"{host}/app:kudev-") and "@sha256:" in deployed
        assert ("POST", f"/v2/app/blobs/uploads/?mount={base_layer}&from=base") in state.log
        first_puts = [path for method, path in state.log if method == "PUT"]
        assert len(first_puts) == 4  # two layers, the config, the manifest
        (tmp_path / "p" / "b").write_text("3")
        context.update([tmp_path / "p" / "b"])
        state.log.clear()
        loader.load(build(builder, context), lambda line: None)
        puts = [path for method, path in state.log if method == "PUT"]
        assert len(puts) == 3, "only the changed layer, the config and the manifest"
        heads = [path for method, path in state.log if method == "HEAD"]
        assert len(heads) == 2, "blobs sent before are not asked about again"
        digest = deployed.split("@")[1]
        assert state.manifests[digest][0] == DOCKER_MANIFEST


def test_public_bases_come_with_an_anonymous_token(tmp_path):
    with fake_registry(FakeState(token="anon-1", anonymous=True)) as (host, state):
        state.token = ""
        _seed_base(host)
        state.token = "anon-1"
        context = write_project(tmp_path / "p", "FROM base:1\nCOPY a /a\n", {"a": "1"})
        empty_config = tmp_path / "docker-config"
        empty_config.mkdir()
        os.environ["DOCKER_CONFIG"] = str(empty_config)
        try:
            builder = LayersBuilder(base_registry=host, cache_dir=tmp_path)
            build(builder, context)
        finally:
            del os.environ["DOCKER_CONFIG"]
        # No login anywhere: the token service was asked anonymously, and it answered.
        assert state.token_requests and state.token_requests[0]["service"] == "fake"
        assert builder.has_image(f"app:{context.tag()}")


def test_without_a_registry_the_image_becomes_a_docker_archive(tmp_path):
    context = write_project(tmp_path / "p", "FROM scratch\nCOPY a /a\n", {"a": "1"})
    builder = LayersBuilder(cache_dir=tmp_path)
    ref = build(builder, context)
    archive = b"".join(builder.save_archive(ref))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        layer = tar.extractfile(manifest[0]["Layers"][0]).read()
    assert manifest[0]["RepoTags"] == [f"docker.io/library/{ref}"]
    assert "sha256:" + hashlib.sha256(layer).hexdigest() == image_of(builder, ref).layers[0].diff_id


def test_entrypoint_drops_the_cmd_of_the_base(tmp_path):
    with fake_registry(FakeState(refuse_monolithic=False)) as (host, _):
        _seed_base(host)
        context = write_project(tmp_path / "p", 'FROM base:1\nENTRYPOINT ["/x"]\n', {})
        builder = LayersBuilder(base_registry=host, cache_dir=tmp_path)
        run = json.loads(image_of(builder, build(builder, context)).config)["config"]
    assert run["Entrypoint"] == ["/x"] and run["Cmd"] is None


def test_a_base_missing_from_the_mirror_with_docker_hub_out_of_reach_says_both(
    tmp_path, monkeypatch
):
    from kudev.build.layers import base as base_module
    from kudev.oci.errors import RegistryUnreachable

    monkeypatch.setattr(base_module, "DOCKER_HUB_REGISTRY", "127.0.0.1:9")  # nothing listens
    with fake_registry() as (host, _), pytest.raises(RegistryUnreachable) as caught:
        base_module.resolve_base("busybox:1.36", host)
    assert f"not in {host}/busybox:1.36" in caught.value.cause
    assert f"docker push {host}/busybox:1.36" in caught.value.remedy

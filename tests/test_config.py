"""`.kudev.yaml` → Config: Go kudev files, the extensions, errors that point at the key."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from kudev.cluster_kinds import KIND_NAMES
from kudev.config.load import InvalidConfig, find_config, load_config, validate_file
from kudev.config.model import ClusterSpec, Config, KustomizeSpec, PortForwardSpec, WatchSpec
from kudev.config.schema import SCHEMA_FILE, render_schema
from kudev.config.spec import CLUSTER_KINDS
from kudev.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / ".kudev.yaml.example"

APP = "metadata: {name: a}\nspec:\n"  # a valid start; tests add keys under spec

GO_FORMAT = """\
apiVersion: kudev.io/v1alpha1
kind: DeploymentConfig
metadata:
  name: myapp            # DNS-1123 label
spec:
  imageName: myapp
  dockerfilePath: ./Dockerfile     # relative to the config file's folder
  namespace: default
  replicas: 1
  localPort: 8080
  servicePort: 8080
  env:
    - name: LOG_LEVEL
      value: debug
  kubeContext: kind-kind           # optional pin
  buildContextExclusions: ["*.log", "tmp/"]   # extra .dockerignore-style patterns
"""


def write_config(folder: Path, text: str, dockerfile: bool = True) -> Path:
    if dockerfile:
        (folder / "Dockerfile").write_text("FROM scratch\n")
    path = folder / ".kudev.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load(folder: Path, text: str) -> Config:
    return load_config(write_config(folder, text))


def problems(folder: Path, text: str) -> list[str]:
    return validate_file(write_config(folder, text))


# --- the Go kudev's format -------------------------------------------------------------------


def test_go_format_file_loads_unchanged(tmp_path: Path) -> None:
    config = load(tmp_path, GO_FORMAT)

    root = tmp_path.resolve()
    assert config.path == root / ".kudev.yaml"
    assert config.root == root
    assert config.name == "myapp"
    assert len(config.images) == 1
    assert config.image.name == "myapp"
    assert config.image.context == root  # the Go kudev builds the project folder
    assert config.image.dockerfile == root / "Dockerfile"
    assert config.image.exclusions == ("*.log", "tmp/")
    assert (config.namespace, config.replicas) == ("default", 1)
    assert (config.local_port, config.service_port) == (8080, 8080)
    assert config.env == (("LOG_LEVEL", "debug"),)
    assert config.kube_context == "kind-kind"


def test_only_metadata_name_is_required_and_the_rest_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "metadata:\n  name: shop\n")

    assert config.image.name == "shop"  # imageName defaults to metadata.name
    assert config.image.dockerfile == tmp_path.resolve() / "Dockerfile"
    assert (config.namespace, config.replicas) == ("default", 1)
    assert (config.local_port, config.service_port) == (8080, 8080)
    assert config.env == ()
    assert config.create_namespace is False
    assert config.manifests == ()
    assert config.watch == WatchSpec(debounce_ms=10)
    assert config.cluster == ClusterSpec(kind="auto")
    assert config.kustomize == KustomizeSpec()
    assert config.rollout_timeout_s == 120.0


def test_an_empty_value_means_the_default(tmp_path: Path) -> None:
    config = load(tmp_path, "metadata: {name: shop}\nspec:\n  replicas:\n  env:\n  kubeContext:\n")

    assert (config.replicas, config.env, config.kube_context) == (1, (), "")


def test_go_written_empty_values_are_accepted(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        'metadata: {name: shop}\nspec: {env: [], kubeContext: "", buildContextExclusions: []}\n',
    )

    assert (config.env, config.kube_context, config.image.exclusions) == ((), "", ())


def test_paths_resolve_against_the_config_folder_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "docker").mkdir(parents=True)
    (project / "docker" / "Dockerfile.dev").write_text("FROM scratch\n")
    write_config(project, "metadata: {name: shop}\nspec: {dockerfilePath: docker/Dockerfile.dev}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(Path("../project/.kudev.yaml"))

    assert config.path == project.resolve() / ".kudev.yaml"
    assert config.image.dockerfile == project.resolve() / "docker" / "Dockerfile.dev"
    assert config.image.context == project.resolve()


def test_root_can_differ_from_the_config_folder(tmp_path: Path) -> None:
    path = write_config(tmp_path, "metadata: {name: shop}\n")

    assert load_config(path, root=tmp_path / "..").root == tmp_path.parent.resolve()


# --- the extensions --------------------------------------------------------------------------


def test_images_replace_the_single_image_keys(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "web.Dockerfile").write_text("FROM scratch\n")
    config = load(
        tmp_path,
        """\
        metadata: {name: shop}
        spec:
          images:
            - name: api
              context: api
              buildArgs: {ZED: "1", ALPHA: "2"}
              target: dev
              exclusions: ["*.tmp"]
            - name: localhost:5000/team/web
              dockerfile: web.Dockerfile
        """,
    )

    root = tmp_path.resolve()
    api, web = config.images
    assert (api.name, api.context, api.dockerfile) == ("api", root / "api", root / "api/Dockerfile")
    assert api.build_args == (("ALPHA", "2"), ("ZED", "1"))  # sorted by key
    assert (api.target, api.exclusions) == ("dev", ("*.tmp",))
    assert (web.name, web.context, web.dockerfile) == (
        "localhost:5000/team/web",
        root,
        root / "web.Dockerfile",  # relative to the config's folder, not the context
    )
    assert config.image is api


def test_every_other_extension(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "extra.yaml").write_text("{}\n")
    config = load(
        tmp_path,
        """\
        metadata: {name: shop}
        spec:
          namespace: shop-dev
          createNamespace: true
          replicas: 0
          portForwards:
            - {local: 5432, remote: 5432, resource: svc/db}
            - {local: 9000, remote: 80}
          allowContexts: [staging]
          manifests: [k8s/, extra.yaml]
          kustomize: {loadRestrictor: LoadRestrictionsNone, enableHelm: true}
          watch: {debounceMs: 50, ignore: [docs/]}
          cluster: {kind: k3d, name: dev}
          rolloutTimeout: 2.5
        """,
    )

    root = tmp_path.resolve()
    assert (config.namespace, config.create_namespace, config.replicas) == ("shop-dev", True, 0)
    assert config.port_forwards == (
        PortForwardSpec(local=5432, remote=5432, resource="svc/db"),
        PortForwardSpec(local=9000, remote=80),
    )
    assert config.allow_contexts == ("staging",)
    assert config.manifests == (root / "k8s", root / "extra.yaml")
    assert config.kustomize == KustomizeSpec("LoadRestrictionsNone", enable_helm=True)
    assert config.watch == WatchSpec(debounce_ms=50, ignore=("docs/",))
    assert config.cluster == ClusterSpec(kind="k3d", name="dev")
    assert config.rollout_timeout_s == 2.5


def test_cluster_kind_is_auto_or_one_of_the_known_kinds() -> None:
    assert ("auto", *KIND_NAMES) == CLUSTER_KINDS


def test_registry_and_containerd_clusters(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        "metadata: {name: a}\nspec: {cluster: {kind: registry, registry: localhost:5000}}\n",
    )
    containerd = load(
        tmp_path,
        APP + "  cluster: {kind: containerd, importCommand: [ctr, import, '-']}\n",
    )

    assert registry.cluster == ClusterSpec(kind="registry", registry="localhost:5000")
    assert containerd.cluster.import_command == ("ctr", "import", "-")


def test_env_as_a_mapping_equals_env_as_a_list(tmp_path: Path) -> None:
    as_list = load(
        tmp_path,
        APP + "  env:\n    - {name: B, value: '2'}\n    - {name: A, value: x}\n    - name: C\n",
    )
    as_mapping = load(tmp_path, APP + "  env: {B: '2', A: x, C: ''}\n")

    assert as_list.env == as_mapping.env == (("B", "2"), ("A", "x"), ("C", ""))  # file order


def test_yaml_merge_keys_work(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        metadata: {name: a}
        spec:
          portForwards:
            - &db {local: 5432, remote: 5432, resource: svc/db}
            - {<<: *db, local: 15432}
        """,
    )

    assert config.port_forwards[1] == PortForwardSpec(15432, 5432, "svc/db")


# --- errors: each at file:line:col, naming the key ------------------------------------------


def test_misspelt_key_points_at_it_and_suggests_the_right_one(tmp_path: Path) -> None:
    text = GO_FORMAT.replace("servicePort", "servicePrt").replace("  replicas: 1\n", "")
    path = write_config(tmp_path, text)

    assert validate_file(path) == [
        f"{path}:10:3: spec.servicePrt: unknown key; did you mean `servicePort`?"
    ]


def test_load_config_error_points_at_the_first_problem(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "apiVersion: kudev.io/v1alpha1",
            "kind: DeploymentConfig",
            "metadata:",
            "  name: myapp",
            "spec:",
            "  imageName: myapp",
            "  namespace: default",
            "  localPort: 8080",
            "  servicePrt: 8080",
        ]
    )
    path = write_config(tmp_path, text + "\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert raised.value.where == f"{path}:9:3"
    assert "did you mean `servicePort`" in raised.value.cause
    assert ".kudev.yaml:9:3: spec.servicePrt" in raised.value.render()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            APP + "  replicas: abc\n",
            "3:13: spec.replicas: expected an integer, got string 'abc'",
            id="wrong-type",
        ),
        pytest.param(
            APP + "  replicas: true\n",
            "3:13: spec.replicas: expected an integer, got boolean true",
            id="bool-is-not-an-integer",
        ),
        pytest.param(
            APP + "  localPort: 70000\n",
            "3:14: spec.localPort: expected an integer from 1 to 65535, got integer 70000",
            id="port-range",
        ),
        pytest.param(
            APP + "  replicas: -1\n",
            "3:13: spec.replicas: expected an integer of at least 0, got integer -1",
            id="replicas",
        ),
        pytest.param(
            "metadata:\n  name: My_App\n",
            "2:9: metadata.name: expected a DNS-1123 label",
            id="dns-label",
        ),
        pytest.param(
            APP + "  imageName: MyApp:latest\n",
            "3:14: spec.imageName: expected a Docker repository name without a tag",
            id="image-name",
        ),
        pytest.param(
            "apiVersion: kudev.io/v1\nmetadata: {name: a}\n",
            "1:13: apiVersion: expected `kudev.io/v1alpha1`, got string 'kudev.io/v1'",
            id="api-version",
        ),
        pytest.param(
            "kind: Deployment\nmetadata: {name: a}\n",
            "1:7: kind: expected `DeploymentConfig`, got string 'Deployment'",
            id="kind",
        ),
        pytest.param(
            "spec: {}\n",
            "1:1: metadata: missing; it is required",
            id="missing-metadata",
        ),
        pytest.param(
            "metadata:\n  app: a\n",
            "2:3: metadata.name: missing; it is required",
            id="missing-name",
        ),
        pytest.param(
            "metadata:\n  namee: a\n",
            "2:3: metadata.namee: unknown key; did you mean `name`?",
            id="misspelt-required-key",
        ),
        pytest.param(
            APP + "  env:\n    - name: PORT\n      value: 8080\n",
            '5:14: spec.env[0].value: expected a string, got integer 8080; quote it: "8080"',
            id="env-number",
        ),
        pytest.param(
            APP + "  env: {DEBUG: yes}\n",
            '3:16: spec.env.DEBUG: expected a string, got boolean yes; quote it: "yes"',
            id="env-mapping-bool",
        ),
        pytest.param(
            APP + "  env: LOG=debug\n",
            "3:8: spec.env: expected a list of {name, value} entries or a mapping",
            id="env-shape",
        ),
        pytest.param(
            APP + "  cluster: {kind: kinde}\n",
            "did you mean `kind`?",
            id="enum-suggestion",
        ),
        pytest.param(
            APP + "  watch: {debounceMs: 5}\n",
            "3:23: spec.watch.debounceMs: expected an integer from 10 to 10000, got integer 5",
            id="debounce",
        ),
        pytest.param(
            APP + "  rolloutTimeout: 0\n",
            "3:19: spec.rolloutTimeout: expected a number greater than 0, got integer 0",
            id="rollout-timeout",
        ),
        pytest.param(
            APP + "  cluster:\n    kind: registry\n",
            "4:11: spec.cluster.registry: required when kind is `registry`",
            id="registry-needs-registry",
        ),
        pytest.param(
            APP + "  cluster: {kind: containerd}\n",
            "3:19: spec.cluster.importCommand: required when kind is `containerd`",
            id="containerd-needs-import-command",
        ),
        pytest.param(
            APP + "  cluster: {kind: registry, registry: myregistry}\n",
            "spec.cluster.registry: expected a registry host with a '.' or a ':port'",
            id="registry-host",
        ),
        pytest.param(
            APP + "  portForwards:\n    - {local: 80, remote: 80, resource: service/x}\n",
            '4:41: spec.portForwards[0].resource: expected "svc/NAME"',
            id="resource",
        ),
        pytest.param(
            APP + "  portForwards:\n    - {local: 80, remote: 80}\n    - {local: 80, remote: 8}\n",
            "5:15: spec.portForwards[1].local: port 80 is already forwarded by portForwards[0]",
            id="duplicate-local-port",
        ),
        pytest.param(
            APP + "  env:\n    - {name: A, value: x}\n    - {name: A, value: y}\n",
            "5:14: spec.env[1].name: `A` is already set by spec.env[0]",
            id="duplicate-env",
        ),
        pytest.param(
            APP + "  images: []\n",
            "3:11: spec.images: expected at least one item, got an empty list",
            id="no-images",
        ),
    ],
)
def test_problem_is_reported_at_its_key(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)

    assert any(expected in problem for problem in found), found
    assert all(problem.startswith(f"{tmp_path / '.kudev.yaml'}:") for problem in found)


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = write_config(tmp_path, APP + "  replicas: x\n  localPort: 0\n  bogus: 1\n")

    with pytest.raises(InvalidConfig) as raised:
        load_config(path)

    lines = raised.value.cause.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{path}:{at}" for at in ("3:13", "4:14", "5:3")
    ]
    assert raised.value.problems == tuple(lines)
    assert raised.value.where == f"{path}:3:13"  # the first problem's value
    assert raised.value.render().count(f"{path}:3:") == 1  # where is not printed twice


def test_missing_dockerfile_is_reported_at_its_key_with_the_resolved_path(tmp_path: Path) -> None:
    path = write_config(tmp_path, APP + "  dockerfilePath: ../elsewhere/Dockerfile\n")

    resolved = tmp_path.parent.resolve() / "elsewhere" / "Dockerfile"
    assert validate_file(path) == [
        f"{path}:3:3: spec.dockerfilePath: expected a file at {resolved}, but there is none"
    ]


def test_missing_default_dockerfile_says_it_is_the_default(tmp_path: Path) -> None:
    path = write_config(tmp_path, "metadata: {name: a}\n", dockerfile=False)

    (problem,) = validate_file(path)
    assert (
        f"spec.dockerfilePath: expected a file at {tmp_path.resolve() / 'Dockerfile'} (the default)"
        in problem
    )


def test_missing_image_context_is_one_problem_not_two(tmp_path: Path) -> None:
    found = problems(tmp_path, APP + "  images:\n    - {name: a, context: nope}\n")

    assert len(found) == 1
    assert ":4:17: spec.images[0].context: expected a folder at" in found[0]


def test_images_and_image_name_together_are_an_error(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        APP + "  imageName: a\n  images:\n    - name: b\n",
    )

    assert found == [
        f"{tmp_path / '.kudev.yaml'}:3:3: spec.imageName: not allowed together with `images` "
        "(line 4); give it per image there"
    ]


def test_duplicate_image_names_are_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, APP + "  images:\n    - name: a\n    - name: a\n")

    assert found == [
        f"{tmp_path / '.kudev.yaml'}:5:13: spec.images[1].name: "
        "`a` is already the name of images[0]"
    ]


def test_missing_manifest_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, APP + "  manifests:\n    - k8s\n")

    assert found == [
        f"{tmp_path / '.kudev.yaml'}:4:7: spec.manifests[0]: expected a file or folder at "
        f"{tmp_path.resolve() / 'k8s'}, but there is none"
    ]


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, APP + "  replicas: 1\n  replicas: 2\n")

    assert found == [
        f"{tmp_path / '.kudev.yaml'}:4:3: spec.replicas: duplicate key; first given at 3:3 "
        "(YAML would keep only the last)"
    ]


def test_yaml_syntax_error_becomes_a_config_error_with_its_position(tmp_path: Path) -> None:
    path = write_config(tmp_path, "metadata:\n  name: a\n spec: x\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert raised.value.where == f"{path}:3:2"
    assert "invalid YAML" in raised.value.cause


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metadata:\n\tname: a\n", ":2:1: invalid YAML"),
        ("", ":1:1: the file is empty"),
        ("- a\n", ":1:1: expected a mapping, got a list"),
        ("metadata: !Ref x\n", ":1:11: invalid YAML"),
        ("metadata: {name: a}\n---\nb: 1\n", ":2:1: invalid YAML"),
    ],
)
def test_files_that_are_not_a_config_are_reported_without_traceback(
    tmp_path: Path, text: str, expected: str
) -> None:
    (problem,) = problems(tmp_path, text)

    assert expected in problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / ".kudev.yaml")
    assert len(validate_file(tmp_path / ".kudev.yaml")) == 1


def test_valid_file_has_no_problems(tmp_path: Path) -> None:
    assert problems(tmp_path, GO_FORMAT) == []


# --- find_config -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [".kudev.yaml", ".kudev.yml"])
def test_find_config_finds_either_name(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("metadata: {name: a}\n")

    assert find_config(tmp_path) == tmp_path / name


def test_find_config_without_a_file_suggests_kudev_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        find_config(tmp_path)

    assert "kudev init" in raised.value.remedy


def test_find_config_refuses_two_files(tmp_path: Path) -> None:
    (tmp_path / ".kudev.yaml").write_text("")
    (tmp_path / ".kudev.yml").write_text("")

    with pytest.raises(ConfigError, match="both"):
        find_config(tmp_path)


# --- the example file ------------------------------------------------------------------------


def example_project(folder: Path, text: str | None = None) -> Path:
    """The example next to what it refers to: a Dockerfile and a k8s/ folder."""
    (folder / "k8s").mkdir()
    (folder / "Dockerfile").write_text("FROM scratch\n")
    path = folder / ".kudev.yaml"
    if text is None:
        shutil.copy(EXAMPLE, path)
    else:
        path.write_text(text)
    return path


def test_example_file_loads(tmp_path: Path) -> None:
    config = load_config(example_project(tmp_path))

    assert config.name == "myapp"
    assert config.manifests == (tmp_path.resolve() / "k8s",)


def _uncomment(lines: list[str], key: str) -> list[str]:
    """Uncomments the commented-out block that starts with `# key:`."""
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"# {key}:"))
    prefix = lines[start][: lines[start].index("#")] + "# "
    end = start
    while end < len(lines) and lines[end].startswith(prefix):
        end += 1
    uncommented = [prefix[:-2] + line[len(prefix) :] for line in lines[start:end]]
    return lines[:start] + uncommented + lines[end:]


def _remove(lines: list[str], key: str) -> list[str]:
    """Removes the active block `key:` (up to a blank line or a line indented no deeper)."""
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"{key}:"))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while (
        end < len(lines)
        and lines[end].strip()
        and len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    return lines[:start] + lines[end:]


@pytest.mark.parametrize(
    ("uncomment", "remove", "replace"),
    [
        pytest.param("imageName", "images", ("", ""), id="go-image-keys"),
        pytest.param("env", "env", ("", ""), id="env-mapping"),
        pytest.param("registry", "", ("kind: auto", "kind: containerd"), id="cluster-keys"),
    ],
)
def test_commented_alternatives_in_the_example_are_valid(
    tmp_path: Path, uncomment: str, remove: str, replace: tuple[str, str]
) -> None:
    lines = EXAMPLE.read_text().splitlines()
    if remove:
        lines = _remove(lines, remove)
    lines = _uncomment(lines, uncomment)
    text = "\n".join(lines).replace(*replace) + "\n"

    assert validate_file(example_project(tmp_path, text)) == []


# --- the JSON Schema and the loader agree ----------------------------------------------------


def test_schema_file_is_generated_from_the_loaders_table() -> None:
    assert SCHEMA_FILE.read_text() == render_schema(), (
        "kudev/kudev.schema.json is stale; regenerate it with "
        '`python -c "from kudev.config import *; SCHEMA_FILE.write_text(render_schema())"`'
    )


def _object_paths(schema: dict[str, Any], path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """(path, property names) of every object with fixed keys; "[]" stands for a list item."""
    if "properties" in schema:
        yield path, list(schema["properties"])
        for key, child in schema["properties"].items():
            yield from _object_paths(child, (*path, key))
    if "items" in schema:
        yield from _object_paths(schema["items"], (*path, "[]"))
    for option in schema.get("oneOf", ()):
        yield from _object_paths(option, path)


def _document_with(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    """A document holding `leaf` at `path`, with a valid metadata.name."""
    value: Any = leaf
    for step in reversed(path):
        value = [value] if step == "[]" else {step: value}
    document = {"metadata": {"name": "a"}} if path[:1] != ("metadata",) else {}
    document.update(value)
    return document


SCHEMA = json.loads(SCHEMA_FILE.read_text())
OBJECT_PATHS = list(_object_paths(SCHEMA))


@pytest.mark.parametrize(
    ("path", "keys"), OBJECT_PATHS, ids=lambda v: ".".join(v) if isinstance(v, tuple) else ""
)
def test_loader_knows_every_schema_key_and_rejects_others_like_the_schema(
    tmp_path: Path, path: tuple[str, ...], keys: list[str]
) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    known = _document_with(path, dict.fromkeys(keys))
    unknown = _document_with(path, {"notAKudevKey": 1})

    known_problems = problems(tmp_path, yaml.safe_dump(known))
    unknown_problems = problems(tmp_path, yaml.safe_dump(unknown))

    assert not [p for p in known_problems if "unknown key" in p]
    assert [p for p in unknown_problems if "notAKudevKey: unknown key" in p]
    assert not validator.is_valid(unknown)


def test_schema_accepts_the_example() -> None:
    import jsonschema

    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), SCHEMA)


@pytest.mark.parametrize(
    "spec",
    [
        {"replicas": "1"},
        {"replicas": -1},
        {"localPort": 0},
        {"namespace": "Bad_NS"},
        {"imageName": "Bad"},
        {"env": [{"value": "x"}]},
        {"env": {"9": "x"}},
        {"env": {"A": 1}},
        {"images": [{"name": "a"}], "imageName": "a"},
        {"images": []},
        {"cluster": {"kind": "registry"}},
        {"cluster": {"kind": "containerd"}},
        {"cluster": {"kind": "nope"}},
        {"watch": {"debounceMs": 5}},
        {"rolloutTimeout": 0},
        {"kustomize": {"loadRestrictor": "none"}},
        {"portForwards": [{"local": 1}]},
    ],
    ids=lambda spec: json.dumps(spec),
)
def test_schema_and_loader_reject_the_same_mistakes(tmp_path: Path, spec: dict[str, Any]) -> None:
    import jsonschema

    document = {"metadata": {"name": "a"}, "spec": spec}

    assert problems(tmp_path, yaml.safe_dump(document))
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(document)


def test_every_schema_key_is_documented_in_the_example() -> None:
    text = EXAMPLE.read_text()
    keys = {key for _, keys in OBJECT_PATHS for key in keys}

    undocumented = [key for key in keys if f"{key}:" not in text]
    assert undocumented == []

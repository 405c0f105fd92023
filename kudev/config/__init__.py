"""`.kudev.yaml` → frozen dataclasses. Errors point at file:line:column and the key.

The file format is the Go kudev's (apiVersion kudev.io/v1alpha1, kind DeploymentConfig) with
optional extensions under `spec`. Everything downstream reads only these dataclasses.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kudev.errors import ConfigError

API_VERSION = "kudev.io/v1alpha1"
KIND = "DeploymentConfig"
CONFIG_NAMES = (".kudev.yaml", ".kudev.yml")


@dataclass(frozen=True)
class ImageSpec:
    """One image kudev builds. Paths are absolute."""

    name: str  # repository name, e.g. "myapp" (no tag)
    context: Path  # build context folder
    dockerfile: Path  # the Dockerfile (may lie outside the context)
    build_args: tuple[tuple[str, str], ...] = ()  # sorted by key
    target: str = ""
    exclusions: tuple[str, ...] = ()  # extra .dockerignore-style patterns, after the file's


@dataclass(frozen=True)
class WatchSpec:
    debounce_ms: int = 300
    ignore: tuple[str, ...] = ()  # extra .dockerignore-style patterns, relative to the project root


@dataclass(frozen=True)
class ClusterSpec:
    """How images reach the cluster. kind "auto" detects it from the kube context."""

    kind: str = "auto"
    name: str = ""  # kind cluster name, minikube profile, k3d cluster
    registry: str = ""  # push here instead of loading (e.g. "localhost:5000")
    import_command: tuple[str, ...] = ()  # reads `docker save` output on stdin


@dataclass(frozen=True)
class PortForwardSpec:
    local: int
    remote: int
    resource: str = ""  # "svc/name", "deploy/name" or "pod/name"; "" = the app's service


@dataclass(frozen=True)
class KustomizeSpec:
    load_restrictor: str = ""  # "" (kubectl default) or "LoadRestrictionsNone"
    enable_helm: bool = False


@dataclass(frozen=True)
class Config:
    path: Path  # the config file
    root: Path  # the project folder (holds the config file unless -C says otherwise)
    name: str  # metadata.name
    images: tuple[ImageSpec, ...]
    namespace: str = "default"
    create_namespace: bool = False
    replicas: int = 1
    local_port: int | None = None
    service_port: int | None = None
    port_forwards: tuple[PortForwardSpec, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # in file order
    kube_context: str = ""  # pin: refuse any other context
    allow_contexts: tuple[str, ...] = ()  # non-local contexts the user allows
    manifests: tuple[Path, ...] = ()  # files or folders; empty = built-in templates
    kustomize: KustomizeSpec = field(default_factory=KustomizeSpec)
    watch: WatchSpec = field(default_factory=WatchSpec)
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    rollout_timeout_s: float = 120.0

    @property
    def image(self) -> ImageSpec:
        """The primary image (the Go kudev's single `imageName`)."""
        return self.images[0]


# ---------------------------------------------------------------------------------------------
# The format, as one table. The loader walks it (known keys, types, ranges, defaults) and
# kudev.schema.json is generated from it by `render_schema()`, so the two cannot drift.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    type: str  # JSON Schema type: "string", "integer", "number" or "boolean"
    description: str
    default: Any = None
    enum: tuple[str, ...] = ()
    pattern: str = ""
    pattern_hint: str = ""  # the pattern in words, for error messages
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None


@dataclass(frozen=True)
class Seq:
    items: Spec
    description: str
    min_items: int = 0


@dataclass(frozen=True)
class Table:
    """A mapping with free keys and string values (build args, env as a mapping)."""

    values: Scalar
    description: str
    key_pattern: str
    key_hint: str


@dataclass(frozen=True)
class Obj:
    fields: dict[str, Spec]
    description: str
    required: tuple[str, ...] = ()
    # Cross-key rules the loader checks in code, stated for editors too.
    schema_extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Either:
    options: tuple[Spec, ...]  # told apart by their YAML kind (list, mapping, scalar)
    description: str
    expected: str


Spec = Scalar | Seq | Table | Obj | Either

_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# Docker reads the first component as a registry host only when it has a "." or a ":port" or
# is "localhost"; otherwise "myregistry/app" means the Docker Hub user "myregistry".
_REGISTRY_HOST = rf"(?:localhost(?::[0-9]+)?|{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+)"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_NAME_PATTERN = rf"^(?:{_REGISTRY_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$"
REGISTRY_PATTERN = rf"^(?:{_REGISTRY_HOST}(?:/{_PATH_COMPONENT})*)?$"
DNS_LABEL_PATTERN = r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
RESOURCE_PATTERN = r"^(?:(?:svc|deploy|pod)/[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)?$"

CLUSTER_KINDS = (
    "auto",
    "kind",
    "minikube",
    "k3d",
    "k3s",
    "microk8s",
    "docker-desktop",
    "rancher-desktop",
    "orbstack",
    "colima",
    "registry",
    "containerd",
    "none",
)
LOAD_RESTRICTORS = ("", "LoadRestrictionsNone", "LoadRestrictionsRootOnly")


def _dns_label(description: str, default: str | None = None) -> Scalar:
    return Scalar(
        "string",
        description,
        default=default,
        pattern=DNS_LABEL_PATTERN,
        pattern_hint="a DNS-1123 label (lowercase letters, digits and '-', "
        "starting and ending with a letter or digit)",
        max_length=63,
    )


def _image_name(description: str) -> Scalar:
    return Scalar(
        "string",
        description,
        pattern=IMAGE_NAME_PATTERN,
        pattern_hint="a Docker repository name without a tag (lowercase letters, digits and "
        "'.', '_', '-', '/', optionally after a registry host such as `localhost:5000/`)",
        max_length=255,
    )


def _port(description: str, default: int | None = None) -> Scalar:
    return Scalar("integer", description, default=default, minimum=1, maximum=65535)


def _patterns(description: str) -> Seq:
    return Seq(Scalar("string", "A .dockerignore-style pattern.", min_length=1), description)


_ENV_NAME = Scalar(
    "string",
    "The variable's name.",
    pattern=ENV_NAME_PATTERN,
    pattern_hint="an environment variable name (letters, digits, '_', '-', '.'; "
    "not starting with a digit)",
)

_ENV_ENTRY = Obj(
    {"name": _ENV_NAME, "value": Scalar("string", "The value; quote numbers and booleans.", "")},
    "One environment variable, as in a Kubernetes container spec.",
    required=("name",),
)

_ENV = Either(
    (
        Seq(_ENV_ENTRY, "A list of {name, value} entries (the Go kudev's form)."),
        Table(
            Scalar("string", "The value; quote numbers and booleans."),
            "A mapping of names to values.",
            ENV_NAME_PATTERN,
            _ENV_NAME.pattern_hint,
        ),
    ),
    "Environment variables for the app's container, in file order. Values must be strings: "
    'quote numbers and booleans (value: "8080"), as Kubernetes requires.',
    "a list of {name, value} entries or a mapping of names to values",
)

_IMAGE = Obj(
    {
        "name": _image_name("The image's repository name; kudev tags it `kudev-<hash>`."),
        "context": Scalar(
            "string",
            "The build context folder, relative to the config file's folder.",
            ".",
            min_length=1,
        ),
        "dockerfile": Scalar(
            "string",
            "The Dockerfile, relative to the config file's folder (not to the context). "
            "Default: <context>/Dockerfile.",
            min_length=1,
        ),
        "buildArgs": Table(
            Scalar("string", "The build argument's value; quote numbers and booleans."),
            "Build arguments (--build-arg), as a mapping of names to string values.",
            r"^[A-Za-z_][A-Za-z0-9_]*$",
            "a build argument name (letters, digits and '_', not starting with a digit)",
        ),
        "target": Scalar("string", "The build stage to stop at (--target); empty = last.", ""),
        "exclusions": _patterns(
            "Extra .dockerignore-style patterns, applied after the context's .dockerignore."
        ),
    },
    "One image kudev builds.",
    required=("name",),
)

_PORT_FORWARD = Obj(
    {
        "local": _port("The port on this machine."),
        "remote": _port("The port on the pod or service."),
        "resource": Scalar(
            "string",
            'What to forward to: "svc/NAME", "deploy/NAME" or "pod/NAME"; '
            "empty = the app's service.",
            "",
            pattern=RESOURCE_PATTERN,
            pattern_hint='"svc/NAME", "deploy/NAME", "pod/NAME" or ""',
        ),
    },
    "One port-forward kudev keeps open while it runs.",
    required=("local", "remote"),
)

_KUSTOMIZE = Obj(
    {
        "loadRestrictor": Scalar(
            "string",
            "kustomize's --load-restrictor; empty = kubectl's default (root only).",
            "",
            enum=LOAD_RESTRICTORS,
        ),
        "enableHelm": Scalar("boolean", "Let kustomize inflate helmCharts (--enable-helm).", False),
    },
    "How kustomization folders among `manifests` are built.",
)

_WATCH = Obj(
    {
        "debounceMs": Scalar(
            "integer",
            "How long the tree must be quiet before a rebuild starts, in milliseconds.",
            300,
            minimum=10,
            maximum=10000,
        ),
        "ignore": _patterns(
            "Extra .dockerignore-style patterns, relative to the project root, whose changes "
            "never trigger a rebuild."
        ),
    },
    "How kudev watches the source tree.",
)

_CLUSTER = Obj(
    {
        "kind": Scalar(
            "string",
            "How images reach the cluster; `auto` detects it from the kube context.",
            "auto",
            enum=CLUSTER_KINDS,
        ),
        "name": Scalar(
            "string",
            "The kind cluster name, minikube profile or k3d cluster; empty = from the context.",
            "",
        ),
        "registry": Scalar(
            "string",
            'Push images to this registry instead of loading them (e.g. "localhost:5000"). '
            "Required when kind is `registry`.",
            "",
            pattern=REGISTRY_PATTERN,
            pattern_hint="a registry host with a '.' or a ':port', or `localhost` "
            "(e.g. `localhost:5000`), optionally followed by /path",
        ),
        "importCommand": Seq(
            Scalar("string", "One argument.", min_length=1),
            "A command (argv list) that reads `docker save` output on stdin and imports it "
            "on the node. Required when kind is `containerd`.",
            min_items=1,
        ),
    },
    "How built images get onto the cluster's nodes.",
    schema_extra={
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": "registry"}}, "required": ["kind"]},
                "then": {
                    "required": ["registry"],
                    "properties": {"registry": {"type": "string", "minLength": 1}},
                },
            },
            {
                "if": {"properties": {"kind": {"const": "containerd"}}, "required": ["kind"]},
                "then": {
                    "required": ["importCommand"],
                    "properties": {"importCommand": {"type": "array"}},
                },
            },
        ]
    },
)

# The Go kudev's single-image keys; `images` replaces all three.
SINGLE_IMAGE_KEYS = ("imageName", "dockerfilePath", "buildContextExclusions")

_SPEC = Obj(
    {
        "imageName": _image_name("The image's repository name. Default: metadata.name."),
        "dockerfilePath": Scalar(
            "string",
            "The Dockerfile, relative to the config file's folder. The build context is "
            "that folder.",
            "./Dockerfile",
            min_length=1,
        ),
        "namespace": _dns_label("The namespace to deploy into.", "default"),
        "createNamespace": Scalar("boolean", "Create the namespace when it is missing.", False),
        "replicas": Scalar("integer", "How many pods to run.", 1, minimum=0),
        "localPort": _port("The port on this machine forwarded to the app.", 8080),
        "servicePort": _port("The port the app listens on in the container.", 8080),
        "env": _ENV,
        "kubeContext": Scalar(
            "string", "Pin: refuse to deploy to any other kube context; empty = no pin.", ""
        ),
        "buildContextExclusions": _patterns(
            "Extra .dockerignore-style patterns for the build context (Go kudev key)."
        ),
        "images": Seq(
            _IMAGE,
            "The images to build; replaces imageName, dockerfilePath and "
            "buildContextExclusions. The first is the app's image.",
            min_items=1,
        ),
        "portForwards": Seq(_PORT_FORWARD, "Extra port-forwards."),
        "allowContexts": Seq(
            Scalar("string", "A kube context name.", min_length=1),
            "Non-local kube contexts you allow kudev to deploy to.",
        ),
        "manifests": Seq(
            Scalar("string", "A path relative to the config file's folder.", min_length=1),
            "Manifest files or folders (a folder with a kustomization is built with kustomize); "
            "empty = kudev's built-in Deployment and Service.",
        ),
        "kustomize": _KUSTOMIZE,
        "watch": _WATCH,
        "cluster": _CLUSTER,
        "rolloutTimeout": Scalar(
            "number",
            "How long to wait for the rollout to become ready, in seconds.",
            120,
            exclusive_minimum=0,
        ),
    },
    "What to build and how to deploy it.",
    schema_extra={
        "dependentSchemas": {
            "images": {"not": {"anyOf": [{"required": [key]} for key in SINGLE_IMAGE_KEYS]}}
        }
    },
)

_METADATA = Obj(
    {"name": _dns_label("The app's name: Deployment, Service and pod label.")},
    "Identifies the app.",
    required=("name",),
)

FORMAT = Obj(
    {
        "apiVersion": Scalar("string", "The format's version.", API_VERSION, enum=(API_VERSION,)),
        "kind": Scalar("string", "The kind of document.", KIND, enum=(KIND,)),
        "metadata": _METADATA,
        "spec": _SPEC,
    },
    "kudev configuration (.kudev.yaml). Compatible with the Go kudev's format.",
    required=("metadata",),
)


# ---------------------------------------------------------------------------------------------
# JSON Schema, generated from the table.
# ---------------------------------------------------------------------------------------------

SCHEMA_FILE = Path(__file__).with_name("kudev.schema.json")


def schema_document() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the format."""
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kudev configuration",
    }
    document.update(_schema_of(FORMAT))
    return document


def render_schema() -> str:
    """The text of kudev.schema.json; regenerate with
    `python -c "from kudev.config import *; SCHEMA_FILE.write_text(render_schema())"`."""
    return json.dumps(schema_document(), indent=2) + "\n"


def _schema_of(node: Spec) -> dict[str, Any]:
    if isinstance(node, Scalar):
        return _scalar_schema(node)
    if isinstance(node, Seq):
        schema = {"description": node.description, "type": "array", "items": _schema_of(node.items)}
        return {**schema, "minItems": node.min_items} if node.min_items else schema
    if isinstance(node, Table):
        return {
            "description": node.description,
            "type": "object",
            "propertyNames": {"pattern": node.key_pattern},
            "additionalProperties": _schema_of(node.values),
        }
    if isinstance(node, Obj):
        return _object_schema(node)
    return {"description": node.description, "oneOf": [_schema_of(o) for o in node.options]}


def _scalar_schema(node: Scalar) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": node.description, "type": node.type}
    if len(node.enum) == 1:
        schema["const"] = node.enum[0]
    elif node.enum:
        schema["enum"] = list(node.enum)
    keywords = {
        "pattern": node.pattern or None,
        "minLength": node.min_length,
        "maxLength": node.max_length,
        "minimum": node.minimum,
        "maximum": node.maximum,
        "exclusiveMinimum": node.exclusive_minimum,
        "default": node.default,
    }
    schema.update({k: v for k, v in keywords.items() if v is not None})
    return schema


def _object_schema(node: Obj) -> dict[str, Any]:
    properties = {}
    for key, child in node.fields.items():
        schema = _schema_of(child)
        properties[key] = schema if key in node.required else _nullable(schema)
    schema = {"description": node.description, "type": "object", "properties": properties}
    if node.required:
        schema["required"] = list(node.required)
    schema["additionalProperties"] = False
    return {**schema, **node.schema_extra}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional key may be left empty (`key:`), which means its default, as in Kubernetes."""
    schema = dict(schema)
    if "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if "const" in schema:
        schema["enum"] = [schema.pop("const"), None]
    elif "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    if "oneOf" in schema:
        schema["oneOf"] = [*schema["oneOf"], {"type": "null"}]
    return schema


# ---------------------------------------------------------------------------------------------
# YAML that remembers where every key and value was written.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loc:
    line: int  # 1-based
    column: int  # 1-based
    source: str | None = None  # a scalar as written, for "quote it" hints


class MarkedMap(dict[Any, Any]):
    """A YAML mapping with the position of each key and value."""

    def __init__(self, start: Loc) -> None:
        super().__init__()
        self.start = start
        self.key_locs: dict[Any, Loc] = {}
        self.value_locs: dict[Any, Loc] = {}
        self.duplicates: list[tuple[Any, Loc, Loc]] = []  # key, first, repeated
        self.dropped: set[str] = set()  # keys the checker removed as invalid

    def key_loc(self, key: str) -> Loc:
        return self.key_locs.get(key, self.start)

    def value_loc(self, key: str) -> Loc:
        return self.value_locs.get(key, self.key_loc(key))


class MarkedList(list[Any]):
    """A YAML sequence with the position of each item."""

    def __init__(self, start: Loc) -> None:
        super().__init__()
        self.start = start
        self.item_locs: list[Loc] = []


def _loc(node: yaml.Node) -> Loc:
    source = node.value if isinstance(node, yaml.ScalarNode) else None
    return Loc(node.start_mark.line + 1, node.start_mark.column + 1, source)


class _MarkingLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: _MarkingLoader, node: yaml.MappingNode) -> Iterable[MarkedMap]:
    mapping = MarkedMap(_loc(node))
    yield mapping  # filled afterwards, so that anchors can refer to it (PyYAML's protocol)
    mapping.duplicates = _duplicate_keys(loader, node)
    loader.flatten_mapping(node)  # applies `<<` merge keys; later keys win
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                "found a key that is not a scalar",
                key_node.start_mark,
            ) from None
        mapping[key] = loader.construct_object(value_node)
        mapping.key_locs[key] = _loc(key_node)
        mapping.value_locs[key] = _loc(value_node)


def _duplicate_keys(loader: _MarkingLoader, node: yaml.MappingNode) -> list[tuple[Any, Loc, Loc]]:
    """Keys written twice in this mapping: PyYAML would silently keep the last one."""
    seen: dict[Any, Loc] = {}
    duplicates = []
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            duplicates.append((key, seen[key], _loc(key_node)))
        else:
            seen[key] = _loc(key_node)
    return duplicates


def _construct_list(loader: _MarkingLoader, node: yaml.SequenceNode) -> Iterable[MarkedList]:
    items = MarkedList(_loc(node))
    yield items
    for item_node in node.value:
        items.append(loader.construct_object(item_node))
        items.item_locs.append(_loc(item_node))


_MarkingLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_MarkingLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)


def _parse_yaml(text: str) -> Any:
    loader = _MarkingLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _syntax_problem(error: yaml.YAMLError, text: str) -> Problem:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        loc = Loc(mark.line + 1, mark.column + 1) if mark else Loc(1, 1)
        context = f" ({error.context})" if error.context else ""
        return Problem(loc, "", f"invalid YAML: {error.problem}{context}")
    if isinstance(error, yaml.reader.ReaderError):
        before = text[: error.position]
        loc = Loc(before.count("\n") + 1, len(before) - before.rfind("\n"))
        char = error.character
        code = ord(char) if isinstance(char, str) else char
        return Problem(loc, "", f"invalid YAML: {error.reason} (U+{code:04X})")
    return Problem(Loc(1, 1), "", f"invalid YAML: {error}")


# ---------------------------------------------------------------------------------------------
# Checking a parsed file against the table. Invalid keys are reported and dropped, so the
# builder below only sees well-typed values and every problem is found in one pass.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    loc: Loc
    key: str  # "spec.images[0].name"; "" for the whole file
    message: str

    def render(self, file: str) -> str:
        where = f"{file}:{self.loc.line}:{self.loc.column}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


_EXPECTED_TYPE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def _describe(value: Any, loc: Loc) -> str:
    """A value as the error message shows it: its YAML type, then what was written."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, MarkedMap):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    kinds = {bool: "boolean", int: "integer", float: "number", datetime.date: "date"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), "value")
    written = loc.source if loc.source is not None else repr(value)
    return f"{kind} {written}"


def _key_of(parent: str, child: Any) -> str:
    return f"{parent}.{child}" if parent else str(child)


def _check(value: Any, node: Spec, key: str, loc: Loc, problems: list[Problem]) -> bool:
    """Whether `value` has the shape `node` asks for; reports what is wrong inside it."""
    if isinstance(node, Scalar):
        return _check_scalar(value, node, key, loc, problems)
    if isinstance(node, Seq):
        return _check_seq(value, node, key, loc, problems)
    if isinstance(node, Table):
        return _check_table(value, node, key, loc, problems)
    if isinstance(node, Obj):
        return _check_obj(value, node, key, loc, problems)
    return _check_either(value, node, key, loc, problems)


def _scalar_type_fits(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):  # a bool is an int in Python, never in YAML
        return type_name == "boolean"
    if type_name == "integer":
        return isinstance(value, int)
    if type_name == "number":
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, {"string": str, "boolean": bool}[type_name])


def _check_scalar(value: Any, node: Scalar, key: str, loc: Loc, problems: list[Problem]) -> bool:
    if not _scalar_type_fits(value, node.type):
        problems.append(Problem(loc, key, _wrong_type(value, node, loc)))
        return False
    message = _scalar_value_problem(value, node)
    if message:
        message = f"{message}, got {_describe(value, loc)}{_did_you_mean(value, node.enum)}"
        problems.append(Problem(loc, key, message))
    return not message


def _wrong_type(value: Any, node: Scalar, loc: Loc) -> str:
    message = f"expected {_EXPECTED_TYPE[node.type]}, got {_describe(value, loc)}"
    if node.type == "string" and loc.source is not None and value is not None:
        # YAML reads 8080, 1.10, yes and 2024-01-01 as non-strings; Kubernetes refuses them too.
        message += f"; quote it: {json.dumps(loc.source)}"
    return message


def _scalar_value_problem(value: Any, node: Scalar) -> str:
    """What an in-type value breaks (enum, length, pattern, range), or ""."""
    if node.enum and value not in node.enum:
        return _expected_one_of(node.enum)
    if node.min_length is not None and len(value) < node.min_length:
        return "expected a non-empty string"
    if node.max_length is not None and len(value) > node.max_length:
        return f"expected at most {node.max_length} characters ({len(value)} given)"
    if node.pattern and not re.fullmatch(node.pattern, value):
        return f"expected {node.pattern_hint}"
    return _range_problem(value, node)


def _expected_one_of(allowed: tuple[str, ...]) -> str:
    shown = ", ".join(f"`{a}`" if a else '""' for a in allowed)
    return f"expected {shown}" if len(allowed) == 1 else f"expected one of {shown}"


def _did_you_mean(value: Any, allowed: tuple[str, ...]) -> str:
    if len(allowed) < 2 or value in allowed:
        return ""
    close = difflib.get_close_matches(str(value), [a for a in allowed if a], n=1)
    return f"; did you mean `{close[0]}`?" if close else ""


def _range_problem(value: Any, node: Scalar) -> str:
    expected = _EXPECTED_TYPE[node.type]
    low, high = node.minimum, node.maximum
    if low is not None and high is not None and not low <= value <= high:
        return f"expected {expected} from {low} to {high}"
    if low is not None and high is None and value < low:
        return f"expected {expected} of at least {low}"
    if node.exclusive_minimum is not None and value <= node.exclusive_minimum:
        return f"expected {expected} greater than {node.exclusive_minimum}"
    return ""


def _check_seq(value: Any, node: Seq, key: str, loc: Loc, problems: list[Problem]) -> bool:
    if not isinstance(value, MarkedList):
        problems.append(Problem(loc, key, f"expected a list, got {_describe(value, loc)}"))
        return False
    if len(value) < node.min_items:
        problems.append(Problem(loc, key, "expected at least one item, got an empty list"))
    for index, item in enumerate(value):
        if not _check(item, node.items, f"{key}[{index}]", value.item_locs[index], problems):
            value[index] = None  # the builder skips it; later indexes keep their numbers
    return True


def _check_table(value: Any, node: Table, key: str, loc: Loc, problems: list[Problem]) -> bool:
    if not isinstance(value, MarkedMap):
        expected = "a mapping of names to strings"
        problems.append(Problem(loc, key, f"expected {expected}, got {_describe(value, loc)}"))
        return False
    _report_duplicates(value, key, problems)
    for name in list(value):
        if not isinstance(name, str) or not re.fullmatch(node.key_pattern, name):
            got = _describe(name, value.key_locs[name])
            message = f"expected {node.key_hint}, got {got}"
            problems.append(Problem(value.key_locs[name], _key_of(key, name), message))
            del value[name]
        elif not _check(
            value[name], node.values, _key_of(key, name), value.value_locs[name], problems
        ):
            del value[name]
    return True


def _check_obj(value: Any, node: Obj, key: str, loc: Loc, problems: list[Problem]) -> bool:
    if not isinstance(value, MarkedMap):
        problems.append(Problem(loc, key, f"expected a mapping, got {_describe(value, loc)}"))
        return False
    _report_duplicates(value, key, problems)
    suggested = _drop_unknown_keys(value, node, key, problems)
    for name in list(value):
        if value[name] is None and name not in node.required:
            del value[name]  # `key:` left empty means the default, as in Kubernetes
        elif not _check(
            value[name], node.fields[name], _key_of(key, name), value.value_locs[name], problems
        ):
            del value[name]
            value.dropped.add(name)
    for name in node.required:
        if name not in value and name not in value.dropped and name not in suggested:
            problems.append(Problem(value.start, _key_of(key, name), "missing; it is required"))
    return True


def _drop_unknown_keys(value: MarkedMap, node: Obj, key: str, problems: list[Problem]) -> set[str]:
    """Reports and removes keys the format does not have; returns the keys suggested instead."""
    suggested = set()
    for name in [k for k in value if k not in node.fields]:
        loc = value.key_locs[name]
        written = loc.source if loc.source is not None else str(name)  # `on:` reads as True
        close = _closest_key(written, node.fields)
        hint = f"did you mean `{close}`?" if close else f"expected one of {_listing(node.fields)}"
        problems.append(Problem(loc, _key_of(key, written), f"unknown key; {hint}"))
        suggested.add(close)
        del value[name]
    return suggested


def _closest_key(name: str, known: Iterable[str]) -> str:
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else ""


def _listing(keys: Iterable[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def _report_duplicates(value: MarkedMap, key: str, problems: list[Problem]) -> None:
    for name, first, repeated in value.duplicates:
        at = f"{first.line}:{first.column}"
        message = f"duplicate key; first given at {at} (YAML would keep only the last)"
        problems.append(Problem(repeated, _key_of(key, name), message))


def _check_either(value: Any, node: Either, key: str, loc: Loc, problems: list[Problem]) -> bool:
    for option in node.options:
        if _same_yaml_kind(value, option):
            return _check(value, option, key, loc, problems)
    problems.append(Problem(loc, key, f"expected {node.expected}, got {_describe(value, loc)}"))
    return False


def _same_yaml_kind(value: Any, node: Spec) -> bool:
    if isinstance(node, Seq):
        return isinstance(value, MarkedList)
    if isinstance(node, (Obj, Table)):
        return isinstance(value, MarkedMap)
    return not isinstance(value, (MarkedList, MarkedMap))


# ---------------------------------------------------------------------------------------------
# Building the dataclasses from a checked file: defaults from the table, paths resolved against
# the config file's folder, and the rules that span several keys.
# ---------------------------------------------------------------------------------------------


def _field(mapping: MarkedMap, node: Obj, key: str) -> Any:
    value = mapping.get(key)
    if value is None:
        default = node.fields[key]
        return default.default if isinstance(default, Scalar) else None
    return value


def _child(mapping: MarkedMap, key: str) -> MarkedMap:
    value = mapping.get(key)
    return value if isinstance(value, MarkedMap) else MarkedMap(mapping.key_loc(key))


def _items(mapping: MarkedMap, key: str) -> list[tuple[int, Any]]:
    """(index, item) of a checked list, skipping the items the checker rejected."""
    return [(i, item) for i, item in enumerate(mapping.get(key) or ()) if item is not None]


def _strings(mapping: MarkedMap, key: str) -> tuple[str, ...]:
    return tuple(item for _, item in _items(mapping, key))


def _resolve(folder: Path, written: str) -> Path:
    return (folder / written).resolve()


def _build_config(doc: MarkedMap, path: Path, root: Path, problems: list[Problem]) -> Config:
    folder = path.parent
    spec = _child(doc, "spec")
    name = _child(doc, "metadata").get("name", "")
    return Config(
        path=path,
        root=root,
        name=name,
        images=_images(spec, name, folder, problems),
        namespace=_field(spec, _SPEC, "namespace"),
        create_namespace=_field(spec, _SPEC, "createNamespace"),
        replicas=_field(spec, _SPEC, "replicas"),
        local_port=_field(spec, _SPEC, "localPort"),
        service_port=_field(spec, _SPEC, "servicePort"),
        port_forwards=_port_forwards(spec, problems),
        env=_env(spec, problems),
        kube_context=_field(spec, _SPEC, "kubeContext"),
        allow_contexts=_strings(spec, "allowContexts"),
        manifests=_manifests(spec, folder, problems),
        kustomize=_kustomize(_child(spec, "kustomize")),
        watch=_watch(_child(spec, "watch")),
        cluster=_cluster(_child(spec, "cluster"), problems),
        rollout_timeout_s=float(_field(spec, _SPEC, "rolloutTimeout")),
    )


def _images(
    spec: MarkedMap, name: str, folder: Path, problems: list[Problem]
) -> tuple[ImageSpec, ...]:
    if "images" in spec.dropped:
        return ()
    if "images" not in spec:
        return (_single_image(spec, name, folder, problems),)
    for key in SINGLE_IMAGE_KEYS:
        if key in spec:
            line = spec.key_loc("images").line
            message = f"not allowed together with `images` (line {line}); give it per image there"
            problems.append(Problem(spec.key_loc(key), f"spec.{key}", message))
    return _image_list(spec, folder, problems)


def _single_image(spec: MarkedMap, name: str, folder: Path, problems: list[Problem]) -> ImageSpec:
    """The Go kudev's image: the config's folder is the build context."""
    dockerfile = _resolve(folder, _field(spec, _SPEC, "dockerfilePath"))
    if "dockerfilePath" not in spec.dropped:
        _require(dockerfile, "file", spec, "dockerfilePath", "spec.dockerfilePath", problems)
    return ImageSpec(
        name=_field(spec, _SPEC, "imageName") or name,
        context=folder.resolve(),
        dockerfile=dockerfile,
        exclusions=_strings(spec, "buildContextExclusions"),
    )


def _image_list(spec: MarkedMap, folder: Path, problems: list[Problem]) -> tuple[ImageSpec, ...]:
    images: list[ImageSpec] = []
    first_index: dict[str, int] = {}
    for index, entry in _items(spec, "images"):
        key = f"spec.images[{index}]"
        image = _image(entry, key, folder, problems)
        if not image.name:
            continue
        if image.name in first_index:
            message = f"`{image.name}` is already the name of images[{first_index[image.name]}]"
            problems.append(Problem(entry.value_loc("name"), f"{key}.name", message))
            continue
        first_index[image.name] = index
        images.append(image)
    return tuple(images)


def _image(entry: MarkedMap, key: str, folder: Path, problems: list[Problem]) -> ImageSpec:
    context = _resolve(folder, _field(entry, _IMAGE, "context"))
    if "context" not in entry.dropped:
        _require(context, "folder", entry, "context", f"{key}.context", problems)
    written = entry.get("dockerfile")
    dockerfile = _resolve(folder, written) if written else context / "Dockerfile"
    # A default Dockerfile inside a missing or invalid context is that problem, not another one.
    derived_from_bad_context = not written and ("context" in entry.dropped or not context.is_dir())
    if "dockerfile" not in entry.dropped and not derived_from_bad_context:
        _require(dockerfile, "file", entry, "dockerfile", f"{key}.dockerfile", problems)
    return ImageSpec(
        name=entry.get("name", ""),
        context=context,
        dockerfile=dockerfile,
        build_args=tuple(sorted(_child(entry, "buildArgs").items())),
        target=_field(entry, _IMAGE, "target"),
        exclusions=_strings(entry, "exclusions"),
    )


def _require(
    path: Path, kind: str, mapping: MarkedMap, field_key: str, key: str, problems: list[Problem]
) -> None:
    """Reports a missing file or folder at the key that names it (or would have, by default)."""
    found = path.is_file() if kind == "file" else path.is_dir()
    if found:
        return
    default = "" if field_key in mapping else " (the default)"
    if path.exists():
        message = f"expected a {kind}, but {path}{default} is not one"
    else:
        message = f"expected a {kind} at {path}{default}, but there is none"
    problems.append(Problem(mapping.key_loc(field_key), key, message))


def _env(spec: MarkedMap, problems: list[Problem]) -> tuple[tuple[str, str], ...]:
    entries = spec.get("env")
    if isinstance(entries, MarkedMap):
        return tuple(entries.items())
    pairs: list[tuple[str, str]] = []
    first_index: dict[str, int] = {}
    for index, entry in _items(spec, "env"):
        name = entry.get("name")
        if name is None:
            continue
        if name in first_index:
            message = f"`{name}` is already set by spec.env[{first_index[name]}]"
            problems.append(Problem(entry.value_loc("name"), f"spec.env[{index}].name", message))
            continue
        first_index[name] = index
        pairs.append((name, _field(entry, _ENV_ENTRY, "value")))
    return tuple(pairs)


def _port_forwards(spec: MarkedMap, problems: list[Problem]) -> tuple[PortForwardSpec, ...]:
    forwards: list[PortForwardSpec] = []
    first_index: dict[int, int] = {}
    for index, entry in _items(spec, "portForwards"):
        if "local" not in entry or "remote" not in entry:
            continue
        local = entry["local"]
        if local in first_index:
            message = f"port {local} is already forwarded by portForwards[{first_index[local]}]"
            problems.append(
                Problem(entry.value_loc("local"), f"spec.portForwards[{index}].local", message)
            )
            continue
        first_index[local] = index
        resource = _field(entry, _PORT_FORWARD, "resource")
        forwards.append(PortForwardSpec(local=local, remote=entry["remote"], resource=resource))
    return tuple(forwards)


def _manifests(spec: MarkedMap, folder: Path, problems: list[Problem]) -> tuple[Path, ...]:
    paths = []
    listed: MarkedList = spec.get("manifests", MarkedList(spec.start))
    for index, written in _items(spec, "manifests"):
        path = _resolve(folder, written)
        if not path.exists():
            message = f"expected a file or folder at {path}, but there is none"
            problems.append(Problem(listed.item_locs[index], f"spec.manifests[{index}]", message))
        paths.append(path)
    return tuple(paths)


def _kustomize(kustomize: MarkedMap) -> KustomizeSpec:
    return KustomizeSpec(
        load_restrictor=_field(kustomize, _KUSTOMIZE, "loadRestrictor"),
        enable_helm=_field(kustomize, _KUSTOMIZE, "enableHelm"),
    )


def _watch(watch: MarkedMap) -> WatchSpec:
    return WatchSpec(
        debounce_ms=_field(watch, _WATCH, "debounceMs"), ignore=_strings(watch, "ignore")
    )


def _cluster(cluster: MarkedMap, problems: list[Problem]) -> ClusterSpec:
    spec = ClusterSpec(
        kind=_field(cluster, _CLUSTER, "kind"),
        name=_field(cluster, _CLUSTER, "name"),
        registry=_field(cluster, _CLUSTER, "registry"),
        import_command=_strings(cluster, "importCommand"),
    )
    needs = {
        "registry": ("registry", spec.registry),
        "containerd": ("importCommand", spec.import_command),
    }
    if spec.kind in needs:
        key, value = needs[spec.kind]
        if not value and key not in cluster.dropped:
            message = f"required when kind is `{spec.kind}`"
            problems.append(Problem(cluster.value_loc("kind"), f"spec.cluster.{key}", message))
    return spec


# ---------------------------------------------------------------------------------------------
# The API.
# ---------------------------------------------------------------------------------------------


class InvalidConfig(ConfigError):
    """Every problem found in one config file; each line says its own file:line:col."""

    def __init__(self, problems: list[str], where: str) -> None:
        super().__init__(
            "\n".join(problems),
            "fix the lines above; `kudev validate` checks the file again",
            where=where,
        )
        self.problems = tuple(problems)

    def render(self) -> str:
        # The cause already starts with `where`; KudevError.render would print it twice.
        return f"{self.cause}\n  hint: {self.remedy}"


def find_config(start: Path) -> Path:
    """The `.kudev.yaml` (or `.kudev.yml`) in the folder `start`."""
    found = [start / name for name in CONFIG_NAMES if (start / name).is_file()]
    if len(found) > 1:
        raise ConfigError(
            f"both {found[0]} and {found[1]} exist",
            "remove one; kudev reads only one config file per folder",
        )
    if not found:
        raise ConfigError(
            f"no {CONFIG_NAMES[0]} in {start}", "run `kudev init` to write one for your Dockerfile"
        )
    return found[0]


def load_config(path: Path, root: Path | None = None) -> Config:
    """The config in `path`, with every path absolute; raises InvalidConfig listing each problem."""
    config, problems = _load(path, _read(path), root)
    if problems or config is None:
        lines = [problem.render(str(path)) for problem in problems]
        first = problems[0].loc
        raise InvalidConfig(lines, where=f"{path}:{first.line}:{first.column}")
    return config


def validate_file(path: Path) -> list[str]:
    """Every problem in the config file as `file:line:col: key: message`; empty when valid."""
    try:
        text = _read(path)
    except ConfigError as error:
        return [f"{path}: {error.cause}"]
    _, problems = _load(path, text, None)
    return [problem.render(str(path)) for problem in problems]


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path}", "run `kudev init` to write one") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}", "check the path") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (line {line})", "save the file as UTF-8"
        ) from None


def _load(path: Path, text: str, root: Path | None) -> tuple[Config | None, list[Problem]]:
    try:
        doc = _parse_yaml(text)
    except yaml.YAMLError as error:
        return None, [_syntax_problem(error, text)]
    if doc is None:
        return None, [Problem(Loc(1, 1), "", "the file is empty; expected a kudev config")]
    problems: list[Problem] = []
    if not _check(doc, FORMAT, "", Loc(1, 1), problems):
        return None, problems
    config_path = path.absolute().parent.resolve() / path.name
    project_root = root.resolve() if root else config_path.parent
    config = _build_config(doc, config_path, project_root, problems)
    return config, sorted(problems, key=lambda p: (p.loc.line, p.loc.column))

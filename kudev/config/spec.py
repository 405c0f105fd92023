"""The format of `.kudev.yaml`, as one table.

The checker walks it (known keys, types, ranges, defaults) and kudev.schema.json is generated
from it by `render_schema()`, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from kudev.cluster_kinds import KIND_NAMES, KINDS
from kudev.config.model import API_VERSION, DEFAULT_DEBOUNCE_MS, KIND
from kudev.config.spec_live import LIVE_UPDATE_FIELDS, LIVE_UPDATE_KEYS
from kudev.config.spec_nodes import Either, Obj, Scalar, Seq, Spec, Table
from kudev.image_ref import HOST_PATTERN, PATH_COMPONENT_PATTERN

__all__ = ["Either", "Obj", "Scalar", "Seq", "Spec", "Table"]


IMAGE_NAME_PATTERN = (
    rf"^(?:{HOST_PATTERN}/)?{PATH_COMPONENT_PATTERN}(?:/{PATH_COMPONENT_PATTERN})*$"
)
REGISTRY_PATTERN = rf"^(?:{HOST_PATTERN}(?:/{PATH_COMPONENT_PATTERN})*)?$"
DNS_LABEL_PATTERN = r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
RESOURCE_PATTERN = r"^(?:(?:svc|deploy|pod)/[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)?$"

CLUSTER_KINDS = ("auto", *KIND_NAMES)
BUILDERS = ("auto", "docker", "podman", "buildah", "layers")


def _builder(description: str, default: str | None = None) -> Scalar:
    return Scalar("string", description, default=default, enum=BUILDERS)


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

ENV_ENTRY_FORMAT = Obj(
    {"name": _ENV_NAME, "value": Scalar("string", "The value; quote numbers and booleans.", "")},
    "One environment variable, as in a Kubernetes container spec.",
    required=("name",),
)

_ENV = Either(
    (
        Seq(ENV_ENTRY_FORMAT, "A list of {name, value} entries (the Go kudev's form)."),
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

IMAGE_FORMAT = Obj(
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
        "builder": _builder("What builds this image; default: spec.builder."),
        **LIVE_UPDATE_FIELDS,
    },
    "One image kudev builds.",
    required=("name",),
)

PORT_FORWARD_FORMAT = Obj(
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

ARTIFACT_FORMAT = Obj(
    {
        "oci": Scalar(
            "string",
            "The artifact: `oci://HOST/REPO:TAG` (resolved at start and on a forced rebuild) "
            "or `oci://HOST/REPO@sha256:…` (fixed).",
            pattern=r"^oci://\S+$",
            pattern_hint="`oci://HOST/REPO:TAG` or `oci://HOST/REPO@sha256:…`",
        ),
        "credentials": Scalar(
            "string",
            "A Docker config.json (auths, credHelpers, credsStore) holding the registry login, "
            "relative to the config file's folder. Default: Docker's own "
            "($DOCKER_CONFIG/config.json or ~/.docker/config.json).",
            min_length=1,
        ),
    },
    "An OCI artifact of manifests, with where to find the registry login.",
    required=("oci",),
)

KUSTOMIZE_FORMAT = Obj(
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

WATCH_FORMAT = Obj(
    {
        "debounceMs": Scalar(
            "integer",
            "How long the tree must be quiet after a save before a rebuild starts, in "
            "milliseconds. A storm of changes (a checkout) waits for 300 ms of quiet.",
            DEFAULT_DEBOUNCE_MS,
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

# What "given" means, for editors, for a key that some cluster kind cannot work without.
_GIVEN = {"registry": {"type": "string", "minLength": 1}, "importCommand": {"type": "array"}}


def _kind_needs(kind: str, key: str) -> dict[str, Any]:
    return {
        "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
        "then": {"required": [key], "properties": {key: _GIVEN[key]}},
    }


CLUSTER_FORMAT = Obj(
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
        "allOf": [_kind_needs(kind.name, kind.needs_key) for kind in KINDS if kind.needs_key]
    },
)

# The Go kudev's single-image keys; `images` replaces all three.
SINGLE_IMAGE_KEYS = ("imageName", "dockerfilePath", "buildContextExclusions")

SPEC_FORMAT = Obj(
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
            IMAGE_FORMAT,
            "The images to build; replaces imageName, dockerfilePath and "
            "buildContextExclusions (and spec-level sync, run, restart and fallback: give "
            "them per image). The first is the app's image.",
            min_items=1,
        ),
        "builder": _builder(
            "What builds the images: `docker` (BuildKit or the classic API), `podman`, "
            "`buildah`, or `layers` (kudev assembles the image itself, no daemon; only for "
            "Dockerfiles whose final stage has no RUN). `auto`: Docker when its daemon "
            "answers, else podman, else buildah on PATH, else layers.",
            "auto",
        ),
        "baseRegistry": Scalar(
            "string",
            "For `builder: layers`: a mirror of Docker Hub to fetch base images from first "
            '(e.g. "localhost:5000": `FROM busybox:1.36` is read from '
            "localhost:5000/busybox:1.36, then Docker Hub); empty = the base's own registry.",
            "",
            pattern=REGISTRY_PATTERN,
            pattern_hint="a registry host with a '.' or a ':port', or `localhost` "
            "(e.g. `localhost:5000`), optionally followed by /path",
        ),
        "portForwards": Seq(PORT_FORWARD_FORMAT, "Extra port-forwards."),
        "allowContexts": Seq(
            Scalar("string", "A kube context name.", min_length=1),
            "Non-local kube contexts you allow kudev to deploy to.",
        ),
        "manifests": Seq(
            Either(
                (
                    Scalar(
                        "string",
                        "A path relative to the config file's folder, or an OCI artifact: "
                        "`oci://HOST/REPO:TAG` or `oci://HOST/REPO@sha256:…`.",
                        min_length=1,
                    ),
                    ARTIFACT_FORMAT,
                ),
                "A manifest file or folder, or an OCI artifact.",
                "a path, an `oci://` reference or a mapping {oci, credentials}",
            ),
            "Manifest files or folders (a folder with a kustomization is built with kustomize) "
            "and OCI artifacts of manifests (`kudev publish`, Flux's format); "
            "empty = kudev's built-in Deployment and Service.",
        ),
        "kustomize": KUSTOMIZE_FORMAT,
        "watch": WATCH_FORMAT,
        "cluster": CLUSTER_FORMAT,
        "rolloutTimeout": Scalar(
            "number",
            "How long to wait for the rollout to become ready, in seconds.",
            120,
            exclusive_minimum=0,
        ),
        **LIVE_UPDATE_FIELDS,
    },
    "What to build and how to deploy it.",
    schema_extra={
        "dependentSchemas": {
            "images": {
                "not": {
                    "anyOf": [
                        {"required": [key]} for key in (*SINGLE_IMAGE_KEYS, *LIVE_UPDATE_KEYS)
                    ]
                }
            }
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
        "spec": SPEC_FORMAT,
    },
    "kudev configuration (.kudev.yaml). Compatible with the Go kudev's format.",
    required=("metadata",),
)

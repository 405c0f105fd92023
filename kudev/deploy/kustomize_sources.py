"""What a kustomization reads, so that a change to any of it calls for a redeploy.

`kubectl kustomize` is not asked: the files are found from the kustomization's own fields
(resources, patches, generators, components) and followed into the bases it builds on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kudev.deploy.documents import ManifestLoader

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def kustomization_file(folder: Path) -> Path | None:
    return next((folder / n for n in KUSTOMIZATION_NAMES if (folder / n).is_file()), None)


def kustomize_sources(folder: Path) -> list[Path]:
    """The files a kustomization reads: its kustomization file, the resources, patches and
    generator inputs it names, and those of the kustomizations it builds on (`../base`).
    Named files only: a kustomization at the top of a source tree must not mean "all of it"."""
    files: dict[Path, None] = {}
    _visit_kustomization(_normal(folder), files, set())
    return list(files)


def _visit_kustomization(folder: Path, files: dict[Path, None], visited: set[Path]) -> None:
    kustomization = kustomization_file(folder)
    if folder in visited or kustomization is None:
        return
    visited.add(folder)
    files[kustomization] = None
    try:
        data = yaml.load(kustomization.read_text(encoding="utf-8"), Loader=ManifestLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # kubectl kustomize reports it
    for written in _referenced_paths(data):
        target = _normal(folder / written)
        if kustomization_file(target):
            _visit_kustomization(target, files, visited)
        elif target.is_dir():  # a chart home
            files.update(dict.fromkeys(files_below(target)))
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


def files_below(folder: Path) -> list[Path]:
    """All files in `folder` and its subfolders, hidden ones (`.git`) left out."""
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() and not path.is_symlink():  # a linked folder may loop back
            found += files_below(path)
        elif path.is_file():
            found.append(path)
    return found

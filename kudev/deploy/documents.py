"""Manifest files read into documents that remember where they were written.

Every object carries its `file:line:col`, so a problem found later (a missing field, a
duplicate, a failed apply) points at the line a person wrote. PyYAML's marks and JSON's
offsets are both turned into that one form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kudev.errors import KudevError
from kudev.yaml_position import error_position, mark_position, unreadable_character

REQUIRED_FIELDS = ("apiVersion", "kind", "metadata.name")


class ManifestError(KudevError):
    """The manifests cannot be read or rendered."""


@dataclass(frozen=True)
class Document:
    obj: dict[str, Any]
    where: str  # "file:line:col" of the document, or what produced it


class ManifestLoader(yaml.SafeLoader):
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


def load_file(path: Path) -> list[Document]:
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
        return parse_json(text, str(path))
    return parse_yaml(text, str(path))


def parse_yaml(text: str, file: str) -> list[Document]:
    try:
        return _documents(text, file)
    except yaml.YAMLError as err:
        raise _syntax_error(err, text, file) from None


def _documents(text: str, file: str) -> list[Document]:
    loader = ManifestLoader(text)  # checks for unprintable characters already
    try:
        documents: list[Document] = []
        while loader.check_node():
            node = loader.get_node()
            documents += _objects_of(loader.construct_document(node), node, file)
        return documents
    finally:
        loader.dispose()


def parse_json(text: str, file: str) -> list[Document]:
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


def _objects_of(data: Any, node: yaml.Node | None, file: str) -> list[Document]:
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
    return [Document(data, where)]


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

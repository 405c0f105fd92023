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
# The API server takes no request body over 3 MiB, so no object can be bigger; a file is
# refused before parsing past that many objects' worth, which a pure-Python parser would
# take minutes over.
MAX_DOCUMENT_BYTES = 3 * 1024 * 1024
MAX_TEXT_BYTES = 16 * 1024 * 1024
# Values a document may hold once its aliases are expanded (the JSON sent to the API server
# holds every copy): far above any real object, far below an alias bomb's billions.
MAX_EXPANDED_VALUES = 1_000_000


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
    _check_size(len(text.encode("utf-8", "surrogatepass")), MAX_TEXT_BYTES, "this file", file)
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
            if node is not None:
                _check_node(node, text, file)
            documents += _objects_of(loader.construct_document(node), node, file)
        return documents
    finally:
        loader.dispose()


def _check_size(size: int, limit: int, what: str, where: str) -> None:
    if size > limit:
        raise ManifestError(
            f"{what} is {size / 2**20:.1f} MiB; the API server accepts at most "
            f"{MAX_DOCUMENT_BYTES // 2**20} MiB per object",
            "split it into smaller objects, or keep large data out of the manifests",
            where=where,
        )


def _check_node(node: yaml.Node, text: str, file: str) -> None:
    """Refuse a document too large to apply, or whose aliases expand without bound."""
    where = _where(file, node)
    span = len(text[node.start_mark.index : node.end_mark.index].encode("utf-8", "replace"))
    _check_size(span, MAX_DOCUMENT_BYTES, "this document", where)
    if _expanded_values(node, file, {}, set()) > MAX_EXPANDED_VALUES:
        raise ManifestError(
            f"this document's aliases expand to more than {MAX_EXPANDED_VALUES:,} values "
            "(a YAML alias bomb)",
            "write the values out instead of nesting aliases (*name) inside each other",
            where=where,
        )


def _expanded_values(node: yaml.Node, file: str, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values `node` stands for with every alias copied; each node counted once
    (aliases share nodes), so this is linear in the text, not in the expansion."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise ManifestError(
            "this document refers to itself through an alias (&name … *name inside it)",
            "a Kubernetes object cannot contain itself: write the value out",
            where=_where(file, node),
        )
    open_.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1
    for child in children:
        total += _expanded_values(child, file, sizes, open_)
        if total > MAX_EXPANDED_VALUES:
            break  # enough to refuse; no need to count a bomb to the end
    open_.discard(key)
    sizes[key] = total
    return total


def parse_json(text: str, file: str) -> list[Document]:
    _check_size(len(text.encode("utf-8", "surrogatepass")), MAX_TEXT_BYTES, "this file", file)
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

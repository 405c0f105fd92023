"""YAML that remembers where every key and value was written, for file:line:col messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml


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


def parse_marked_yaml(text: str) -> Any:
    loader = _MarkingLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()

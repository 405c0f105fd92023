"""Checking a parsed file against the format table.

Invalid keys are reported and dropped, so the builder only sees well-typed values and every
problem is found in one pass.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kudev.config.marked_yaml import Loc, MarkedList, MarkedMap
from kudev.config.spec import Either, Obj, Scalar, Seq, Spec, Table


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


def check_against(value: Any, node: Spec, key: str, loc: Loc, problems: list[Problem]) -> bool:
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
        if not check_against(item, node.items, f"{key}[{index}]", value.item_locs[index], problems):
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
        elif not check_against(
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
        elif not check_against(
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
            return check_against(value, option, key, loc, problems)
    problems.append(Problem(loc, key, f"expected {node.expected}, got {_describe(value, loc)}"))
    return False


def _same_yaml_kind(value: Any, node: Spec) -> bool:
    if isinstance(node, Seq):
        return isinstance(value, MarkedList)
    if isinstance(node, (Obj, Table)):
        return isinstance(value, MarkedMap)
    return not isinstance(value, (MarkedList, MarkedMap))

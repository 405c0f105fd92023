"""The node types of kudev's format table (kudev/config/spec.py): scalars, lists, tables,
objects and either-or, which the checker walks and the schema renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

"""kudev.schema.json, generated from the format table so editors and the checker agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kudev.config.spec import FORMAT, Obj, Scalar, Seq, Spec, Table

SCHEMA_FILE = Path(__file__).with_name("kudev.schema.json")


def schema_document() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the format."""
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kudev configuration",
    }
    document.update(_schema_of(FORMAT))
    return document


def render_schema() -> str:
    """The text of kudev.schema.json; regenerate with
    `python -c "from kudev.config import *; SCHEMA_FILE.write_text(render_schema())"`."""
    return json.dumps(schema_document(), indent=2) + "\n"


def _schema_of(node: Spec) -> dict[str, Any]:
    if isinstance(node, Scalar):
        return _scalar_schema(node)
    if isinstance(node, Seq):
        schema = {"description": node.description, "type": "array", "items": _schema_of(node.items)}
        return {**schema, "minItems": node.min_items} if node.min_items else schema
    if isinstance(node, Table):
        return {
            "description": node.description,
            "type": "object",
            "propertyNames": {"pattern": node.key_pattern},
            "additionalProperties": _schema_of(node.values),
        }
    if isinstance(node, Obj):
        return _object_schema(node)
    return {"description": node.description, "oneOf": [_schema_of(o) for o in node.options]}


def _scalar_schema(node: Scalar) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": node.description, "type": node.type}
    if len(node.enum) == 1:
        schema["const"] = node.enum[0]
    elif node.enum:
        schema["enum"] = list(node.enum)
    keywords = {
        "pattern": node.pattern or None,
        "minLength": node.min_length,
        "maxLength": node.max_length,
        "minimum": node.minimum,
        "maximum": node.maximum,
        "exclusiveMinimum": node.exclusive_minimum,
        "default": node.default,
    }
    schema.update({k: v for k, v in keywords.items() if v is not None})
    return schema


def _object_schema(node: Obj) -> dict[str, Any]:
    properties = {}
    for key, child in node.fields.items():
        schema = _schema_of(child)
        properties[key] = schema if key in node.required else _nullable(schema)
    schema = {"description": node.description, "type": "object", "properties": properties}
    if node.required:
        schema["required"] = list(node.required)
    schema["additionalProperties"] = False
    return {**schema, **node.schema_extra}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional key may be left empty (`key:`), which means its default, as in Kubernetes."""
    schema = dict(schema)
    if "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if "const" in schema:
        schema["enum"] = [schema.pop("const"), None]
    elif "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    if "oneOf" in schema:
        schema["oneOf"] = [*schema["oneOf"], {"type": "null"}]
    return schema

"""events.schema.json and README's Events table, both generated from kudev/events.py.

The dataclasses are the one home of the wire format (`Event.to_json`); this module reads
their fields and types, adds the closed value sets and short notes a reader needs, and
writes the JSON Schema (draft 2020-12) and the Markdown table. Tests check that both files
are current and that every event type validates.

Regenerate: `python -m kudev.events_schema` (rewrites the schema and README's table).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from kudev import events as ev

SCHEMA_FILE = Path(__file__).with_name("events.schema.json")
README_TABLE_START = "| type | fields |"

# Closed sets of values, per (event type, field).
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("cycle_started", "reason"): ("initial", "change", "forced", "config", "retry", "full"),
    ("cycle_started", "mode"): ("build", "sync"),
    ("stage_started", "stage"): ev.ALL_STAGES,
    ("stage_finished", "stage"): ev.ALL_STAGES,
    ("build_output", "stream"): ("stdout", "error", "loader"),
    ("notice", "level"): ("info", "warning"),
}
NOTES: dict[tuple[str, str], str] = {
    ("session_started", "context"): "kube context, empty when none",
    ("session_started", "cluster"): "detected cluster kind, empty when unknown",
    ("cycle_started", "changed"): "≤ 50 paths",
    ("cycle_started", "changed_total"): "may exceed the list",
    ("cycle_started", "reason"): "`full`: after a failed sync",
    ("cycle_started", "mode"): "`sync` for live update",
    ("cycle_started", "full_reason"): "why a project with sync rules builds",
    ("stage_finished", "figures"): "the sync stage's `files`, `deletes`, `bytes`, `pods`",
    ("build_output", "line"): "live update's `run` steps too",
    ("image_ready", "ref"): "what the manifests get",
    ("image_ready", "built"): "false: an existing image was reused",
    ("image_ready", "loaded"): "false: no load was needed",
    ("cycle_finished", "stages"): "stage → seconds",
    ("error", "where"): "`file:line:col`",
    ("diagnosis", "last_logs"): "the previous container's last lines",
    ("", "synced_files"): "files synced on top of the image; null without live update",
    ("", "current"): "false while the pod's containers lack the synced files",
}
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def event_types() -> list[type[ev.Event]]:
    """Every event kudev.events defines, in the order the module defines them."""
    found = [
        cls
        for _, cls in inspect.getmembers(ev, inspect.isclass)
        if issubclass(cls, ev.Event) and cls is not ev.Event and dataclasses.is_dataclass(cls)
    ]
    return sorted(found, key=lambda cls: inspect.getsourcelines(cls)[1])


def _type_schema(hint: Any) -> dict[str, Any]:
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        options = [_type_schema(a)["type"] if a is not type(None) else "null" for a in args]
        return {"type": options}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1])}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _object_schema(hint, "")
    raise TypeError(f"no JSON Schema for {hint!r}")


def _object_schema(cls: type, kind: str) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        schema = _type_schema(hints[f.name])
        if (kind, f.name) in ENUMS:
            schema["enum"] = list(ENUMS[(kind, f.name)])
        if (kind, f.name) in NOTES:
            schema["description"] = NOTES[(kind, f.name)]
        properties[f.name] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def event_schema(cls: type[ev.Event]) -> dict[str, Any]:
    schema = _object_schema(cls, cls.kind)
    schema["properties"] = {"type": {"const": cls.kind}, **schema["properties"]}
    schema["required"] = ["type", *schema["required"]]
    schema["description"] = (inspect.getdoc(cls) or "").split("\n")[0]
    if not schema["description"]:
        del schema["description"]
    return schema


def schema_document() -> dict[str, Any]:
    """One schema for a line of `kudev --headless --json`: exactly one of the event types."""
    kinds = {cls.kind: event_schema(cls) for cls in event_types()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kudev --json event",
        "type": "object",
        "required": ["type", "ts"],
        "properties": {"type": {"enum": list(kinds)}},
        "$defs": kinds,
        "oneOf": [{"$ref": f"#/$defs/{kind}"} for kind in kinds],
    }


def render_schema() -> str:
    return json.dumps(schema_document(), indent=2, ensure_ascii=False) + "\n"


# -- README's table ---------------------------------------------------------------------------


def _field_words(name: str, schema: dict[str, Any]) -> str:
    words = f"`{name}`"
    if "enum" in schema:
        words += " (" + ", ".join(f"`{v}`" for v in schema["enum"]) + ")"
    if schema.get("type") == "array" and schema["items"].get("type") == "object":
        words += ": list of `{" + ", ".join(schema["items"]["properties"]) + "}`"
    if "description" in schema:
        words += f" ({schema['description']})"
    return words


def readme_table() -> str:
    rows = [README_TABLE_START, "| --- | --- |"]
    for kind, schema in schema_document()["$defs"].items():
        fields = [(n, s) for n, s in schema["properties"].items() if n not in ("type", "ts")]
        rows.append(f"| `{kind}` | " + ", ".join(_field_words(n, s) for n, s in fields) + " |")
    return "\n".join(rows) + "\n"


def readme_table_in(text: str) -> str:
    """The Events table as it stands in README's text (from its header to the first blank)."""
    start = text.index(README_TABLE_START)
    end = text.index("\n\n", start)
    return text[start : end + 1]


def main(argv: list[str]) -> int:
    SCHEMA_FILE.write_text(render_schema())
    readme = Path(argv[0]) if argv else Path("README.md")
    text = readme.read_text()
    readme.write_text(text.replace(readme_table_in(text), readme_table()))
    print(f"wrote {SCHEMA_FILE} and the Events table of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

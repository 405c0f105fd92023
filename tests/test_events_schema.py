"""The --json wire format: a JSON Schema made from kudev/events.py, every event validated.

README's Events table and kudev/events.schema.json are both generated from the dataclasses
(`python -m kudev.events_schema`); these tests fail when either is stale.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest

from kudev import events as ev
from kudev.events_schema import (
    SCHEMA_FILE,
    event_types,
    readme_table,
    readme_table_in,
    render_schema,
    schema_document,
)
from kudev.session import SessionOptions
from tests.enginefakes import Fakes
from tests.test_engine_fakes import make_project
from tests.test_events import SAMPLES

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "regenerate with `python -m kudev.events_schema`"

# Every optional field set, so the schema sees each field's type at least once.
FULL = (
    ev.SessionStarted(
        project="p", root="/r", images=("a", "b"), context="kind-dev", cluster="kind"
    ),
    ev.CycleStarted(cycle=2, reason="change", changed=("a.txt",), changed_total=7),
    ev.StageFinished(
        cycle=2, stage="build", seconds=0.5, ok=False, skipped=True, detail="d", image="a"
    ),
    ev.BuildOutput(cycle=2, image="a", line="step 1", stream="loader"),
    ev.CycleFinished(cycle=2, ok=False, seconds=3.0, cancelled=True, stages={"build": 1.5}),
    ev.ErrorReported(cause="c", remedy="r", where="f:1:2", cycle=2, stage="load", retrying=True),
    ev.Notice(message="m", level="warning"),
    ev.WatchState(watching=False, paths=("/r",)),
    ev.PodsChanged(
        pods=(ev.PodRow("p-1", "Running", "1/1", 2, 1.5, "kudev-1", node="n", reason="OOMKilled"),)
    ),
    ev.RolloutProgress(cycle=2, workload="deployment/a", ready=1, desired=2, message="m"),
    ev.PodDiagnosis(
        cycle=2,
        pod="p",
        container="c",
        reason="CrashLoopBackOff",
        message="m",
        exit_code=3,
        last_logs=("boom",),
    ),
    ev.PortForwardState(local=8080, remote=80, target="pod/p", active=True, error="e"),
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_file_is_generated_from_the_dataclasses():
    assert SCHEMA_FILE.read_text() == render_schema(), f"events.schema.json is stale; {REGENERATE}"


def test_every_event_type_has_a_schema_and_validates(validator):
    kinds = {cls.kind for cls in event_types()}
    assert set(schema_document()["$defs"]) == kinds
    samples = [*SAMPLES, *FULL]
    assert {type(s) for s in samples} == set(event_types())
    for sample in samples:
        validator.validate(json.loads(sample.to_json()))


@pytest.mark.parametrize(
    "change",
    [
        {"type": "no_such_event"},
        {"stage": "deploy"},  # not a stage
        {"seconds": "fast"},
        {"surprise": 1},  # a field the schema does not know
    ],
)
def test_the_schema_rejects_what_kudev_never_sends(validator, change):
    line = {**json.loads(ev.StageFinished(cycle=1, stage="build", seconds=1.0).to_json())}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**line, **change})


def test_a_missing_field_is_rejected(validator):
    line = json.loads(ev.LogLine(pod="p", container="c", line="x").to_json())
    del line["container"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(line)


def test_every_line_of_a_real_session_validates(tmp_path, validator):
    """The engine's own stream (over faked seams), as `--json` prints it."""
    from kudev.headless import run_headless

    project = make_project(tmp_path / "shop", "api", "web")
    fakes = Fakes()
    out = io.StringIO()
    run_headless(
        project,
        SessionOptions(once=True),
        json_lines=True,
        out=out,
        engine_factory=lambda p, o, sink: fakes.engine(p, o, sink=sink),
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {"session_started", "cycle_finished", "session_ended"} <= {x["type"] for x in lines}
    for line in lines:
        validator.validate(line)


def _readme_rows() -> dict[str, list[str]]:
    """README's Events table as type → field names, parsed from the Markdown."""
    rows: dict[str, list[str]] = {}
    for line in readme_table_in(README.read_text()).splitlines()[2:]:
        kind, fields = (cell.strip() for cell in line.strip("|").split("|", 1))
        # A field is a backticked name at the start of the list or after ", ".
        names = re.findall(r"(?:^|, )`([a-z_]+)`", re.sub(r"\([^)]*\)", "", fields))
        rows[kind.strip("`")] = names
    return rows


def test_readmes_events_table_names_every_type_and_field():
    expected = {
        kind: [n for n in schema["properties"] if n not in ("type", "ts")]
        for kind, schema in schema_document()["$defs"].items()
    }
    assert _readme_rows() == expected


def test_readmes_events_table_is_the_generated_one():
    assert readme_table_in(README.read_text()) == readme_table(), f"README is stale; {REGENERATE}"


def test_a_live_update_sessions_events_validate(tmp_path, validator):
    """A sync cycle's events (mode, the sync stage and its figures, pods' synced files)."""
    from tests.enginelib import RunningEngine
    from tests.test_engine_live_update import edit, hello

    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root))):
        assert fakes.log.cycle_finished(1).ok
        edit(fakes, root, "www/index.html", "v2\n")
        assert fakes.log.cycle_finished(2).ok
    lines = [json.loads(event.to_json()) for event in fakes.log.events]
    assert any(x["type"] == "stage_finished" and x["stage"] == "sync" for x in lines)
    for line in lines:
        validator.validate(line)

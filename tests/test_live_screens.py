"""A sync cycle as both front-ends show it: headless lines, the stage strip, pod rows."""

from __future__ import annotations

import io
import json

from rich.style import Style

from kudev import events as ev
from kudev.headless import HeadlessPrinter
from kudev.view_model.state import SessionState
from kudev.widgets.status import stage_strip_text, why_text
from kudev.wording import pod_image_words

ROOT = "/work/hello"
FIGURES = {"files": 2, "deletes": 1, "bytes": 312, "pods": 2}


def sync_cycle() -> list[ev.Event]:
    return [
        ev.CycleStarted(
            cycle=3, reason="change", changed=(f"{ROOT}/www/index.html",), changed_total=1,
            mode="sync",
        ),
        ev.StageFinished(cycle=3, stage="hash", seconds=0.001),
        ev.StageStarted(cycle=3, stage="sync", image="hello"),
        ev.BuildOutput(cycle=3, image="hello", line="$ nginx -s reload"),
        ev.StageFinished(
            cycle=3, stage="sync", seconds=0.081, detail="3 files · 2 pods", image="hello",
            figures=FIGURES,
        ),
        ev.CycleFinished(cycle=3, ok=True, seconds=0.083, stages={"hash": 0.001, "sync": 0.081}),
    ]  # fmt: skip


def full_build_after(reason: str) -> ev.CycleStarted:
    return ev.CycleStarted(
        cycle=4, reason="change", changed=(f"{ROOT}/serve.sh",), changed_total=1,
        full_reason=reason,
    )  # fmt: skip


def printed(events: list[ev.Event], json_lines: bool = False) -> list[str]:
    out = io.StringIO()
    printer = HeadlessPrinter(out, json_lines=json_lines)
    for event in events:
        printer(event)
    return out.getvalue().splitlines()


def test_headless_says_a_cycle_is_a_sync_and_what_it_sent():
    assert printed(sync_cycle()) == [
        "[3] cycle started: change (/work/hello/www/index.html) — sync",
        "[3] hash done in 0.001s",
        "[3] hello | $ nginx -s reload",
        "[3] sync hello done in 0.081s: 3 files · 2 pods",
        "[3] cycle ok in 0.08s",
    ]


def test_headless_says_why_a_cycle_builds():
    [line] = printed([full_build_after("serve.sh is not under a sync rule")])

    assert line.endswith("— full build: serve.sh is not under a sync rule")


def test_json_lines_carry_the_sync_figures():
    stage = json.loads(printed(sync_cycle(), json_lines=True)[4])

    assert stage["stage"] == "sync" and stage["figures"] == FIGURES
    assert json.loads(printed(sync_cycle(), json_lines=True)[0])["mode"] == "sync"


def folded(events: list[ev.Event]) -> SessionState:
    state = SessionState(root=ROOT)
    for event in events:
        state.apply(event)
    return state


def plain(_name: str) -> Style:
    return Style()


def test_the_stage_strip_shows_sync_in_place_of_build_load_apply():
    record = folded(sync_cycle()).current

    text = stage_strip_text(record, "now", plain).plain

    assert text == "now  #3  hash 0.00s → sync 0.08s · 3 files · 2 pods  ✓ 0.08s"


def test_the_why_line_names_the_full_build_reason():
    state = folded([full_build_after("requirements.txt matches fallback")])

    text = why_text(state, state.current, plain).plain

    assert "[full build: requirements.txt matches fallback]" in text


def test_the_transcript_notes_the_kind_of_cycle():
    lines = [line.text for line in folded(sync_cycle()).current.lines]

    assert lines[0] == "cycle 3: change (www/index.html) — sync"
    assert "sync hello done in 0.08s: 3 files · 2 pods" in lines


def row(**fields) -> ev.PodRow:
    base = dict(name="hello-1", phase="Running", ready="1/1", restarts=0, created=0.0)
    return ev.PodRow(**{**base, "image_tag": "kudev-1a2b3c4d", **fields})


def test_a_pod_row_shows_its_synced_files_and_whether_it_has_them():
    assert pod_image_words(row()) == "kudev-1a2b3c4d"
    assert pod_image_words(row(synced_files=3)) == "kudev-1a2b3c4d + 3 synced"
    assert pod_image_words(row(synced_files=3, current=False)) == (
        "kudev-1a2b3c4d + 3 synced, behind"
    )

"""The event stream's contract with its front-ends: every event type is accounted for."""

from __future__ import annotations

import dataclasses
import inspect

from kudev import events as ev
from kudev.view_model import state
from kudev.view_model.state import SessionState

# One event of each type kudev.events defines, in the order of a cycle.
SAMPLES = (
    ev.ContextScan(image="a", root="/r"),
    ev.SessionStarted(project="p", root="/r", images=("a",)),
    ev.CycleStarted(cycle=1, reason="initial"),
    ev.StageStarted(cycle=1, stage="build"),
    ev.StageFinished(cycle=1, stage="build", seconds=1.0),
    ev.BuildOutput(cycle=1, image="a", line="x"),
    ev.ImageReady(cycle=1, image="a", ref="a:t", tag="t", built=True, loaded=True),
    ev.CycleFinished(cycle=1, ok=True, seconds=1.0),
    ev.ErrorReported(cause="c", cycle=1),
    ev.Notice(message="m"),
    ev.WatchState(watching=True),
    ev.SessionEnded(ok=True),
    ev.ClusterConnected(context="c", cluster_kind="kind", server="s", namespace="n", loader="l"),
    ev.PodsChanged(pods=()),
    ev.LogLine(pod="p", container="c", line="l"),
    ev.RolloutProgress(cycle=1, workload="deployment/a", ready=0, desired=1),
    ev.PodDiagnosis(cycle=1, pod="p", container="c", reason="r", message="m"),
    ev.PortForwardState(local=1, remote=2, target="pod/p", active=False),
)


def event_types() -> set[type[ev.Event]]:
    """Every event the module defines, found in it rather than listed by hand."""
    return {
        cls
        for _, cls in inspect.getmembers(ev, inspect.isclass)
        if issubclass(cls, ev.Event) and cls is not ev.Event and dataclasses.is_dataclass(cls)
    }


def test_the_module_defines_the_events_the_readme_documents():
    kinds = {cls.kind for cls in event_types()}
    assert len(kinds) == len(event_types())  # one wire name each
    assert {"stage_finished", "cycle_finished", "pods", "log", "error"} <= kinds
    assert {type(sample) for sample in SAMPLES} == event_types()


def test_the_dashboard_state_has_a_handler_for_every_event_type():
    table = state.EVENT_HANDLERS
    assert set(table) == event_types()
    for cls, handler in table.items():
        assert callable(handler), cls


def test_every_event_folds_into_the_state():
    folded = SessionState()
    for sample in SAMPLES:
        folded.apply(sample)
    record = folded.current
    assert record is not None and record.result == "ok"


def test_the_stage_to_phase_map_names_every_stage_and_only_those():
    assert set(state.STAGE_PHASE) == set(ev.ALL_STAGES)

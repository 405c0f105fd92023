"""Live update in the engine: choose the cycle's kind, run a sync cycle, keep what shipped.

The choice is `sync_plan.decide` per image; what it is fed comes from here: the changed paths
as the containers see them (`shipped.changes`), and whether the pods run the last full build
(the deployer's pod watch). A sync cycle has a `sync` stage per image in place of build, load
and apply; a failed sync leaves the changes pending for a full build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kudev import events as ev
from kudev.deploy.live.sync_job import Sync
from kudev.engine.shipped import (
    Shipped,
    changes,
    load_shipped,
    save_shipped,
    shipped_path,
    snapshot,
)
from kudev.engine.sync_plan import FullBuild, decide
from kudev.errors import KudevError
from kudev.timing import Stage
from kudev.wording import sync_figures_words

if TYPE_CHECKING:
    from kudev.engine.cycle_host import CycleHost, ImageState

# The cycle reasons a sync may stand in for; initial, forced (r), config and retry build.
SYNCABLE_REASONS = ("change",)


@dataclass(frozen=True)
class CyclePlan:
    """A sync cycle (`syncs` per image) or a full build (`full_reason` says why)."""

    syncs: dict[str, Sync] = field(default_factory=dict)
    full_reason: str = ""

    @property
    def is_sync(self) -> bool:
        return bool(self.syncs)


def plan_cycle(
    host: CycleHost, images: Sequence[ImageState], reason: str, changed: Iterable[str]
) -> CyclePlan:
    """Whether this cycle can be a sync cycle; `changed` are the absolute paths."""
    live = [s for s in images if s.spec.live.sync]
    if not live or not host.options.live_sync or host.options.once:
        return CyclePlan(full_reason="")  # no live update here: say nothing about it
    if reason not in SYNCABLE_REASONS:
        return CyclePlan(full_reason=_why_reason(reason))
    paths = list(changed)
    deployer = host.connections.deployer_now
    syncs: dict[str, Sync] = {}
    for state in images:
        in_context = [r for p in paths if (r := state.context.relative(p)) is not None]
        if not in_context:
            continue
        decision = _decide(state, in_context, deployer)
        if isinstance(decision, FullBuild):
            return CyclePlan(full_reason=decision.reason)
        if not decision.empty:
            syncs[state.spec.name] = decision
    if not syncs:
        return CyclePlan(full_reason="no synced file changed (a manifest or a build input did)")
    return CyclePlan(syncs=syncs)


def _decide(state: ImageState, in_context: list[str], deployer: Any) -> Sync | FullBuild:
    if not state.spec.live.sync:
        return FullBuild(f"image {state.spec.name} has no sync rules")
    if state.no_sync:
        return FullBuild(state.no_sync)
    if not state.shipped.known or deployer is None:
        return FullBuild("no full build has reached the pods yet")
    found = changes(state.context, state.shipped, in_context)
    blocker = deployer.sync_blocker(state.spec.name)
    return decide(
        found,
        state.spec.live,
        dockerfile_rel=state.context.dockerfile_in_context(),
        pods_behind=blocker,
    )


def _why_reason(reason: str) -> str:
    return {
        "forced": "a rebuild was requested (r)",
        "config": "the configuration changed",
        "initial": "",
        "retry": "retrying after an error",
    }.get(reason, "")


class SyncCycle:
    """A cycle that sends files instead of building: one `sync` stage per image."""

    def __init__(self, host: CycleHost, number: int, images: Sequence[ImageState], plan: CyclePlan):
        self.host = host
        self.number = number
        self.images = images
        self.plan = plan
        self.stages: dict[str, float] = {}

    def run(self, hash_seconds: float) -> bool:
        self.stages["hash"] = hash_seconds
        self.host.emit(ev.StageFinished(cycle=self.number, stage="hash", seconds=hash_seconds))
        deployer = self.host.connections.deployer_now
        for state in self.images:
            plan = self.plan.syncs.get(state.spec.name)
            if plan is not None and deployer is not None:
                run_sync_stage(self.host, deployer, state, plan, self.number, self.stages)
        return True


def run_sync_stage(
    host: CycleHost,
    deployer: Any,
    state: ImageState,
    plan: Sync,
    cycle: int,
    stages: dict[str, float],
) -> None:
    """One image's sync stage; raises SyncFailed (a KudevError) with the stage failed."""
    from kudev.deploy.live.sync import NoSyncTools

    name = state.spec.name
    with Stage(host.emit, stages, cycle, "sync", name) as stage:
        try:
            figures = deployer.sync(name, plan, cycle)
        except NoSyncTools as err:
            state.no_sync = f"image {name} has no tar or sh for live update"
            raise err
        state.shipped.apply(plan, state.context)
        counts = {
            "files": figures.files,
            "deletes": figures.deletes,
            "bytes": figures.bytes,
            "pods": figures.pods,
        }
        stage.done(sync_figures_words(counts), figures=counts)


# -- after a full build --------------------------------------------------------------------


def resumed_syncs(host: CycleHost, images: Sequence[ImageState]) -> dict[str, Sync]:
    """At a session's first cycle: the images whose pods may run an earlier session's full
    image with synced files, and what they must hold now; those are deployed unbuilt."""
    found: dict[str, Sync] = {}
    if not host.options.live_sync or host.options.once:
        return found
    for state in images:
        if not state.spec.live.sync:
            continue
        state.shipped = load_shipped(_path(host, state))
        if not state.shipped.known:
            continue
        decision = decide(
            changes(state.context, state.shipped),
            state.spec.live,
            dockerfile_rel=state.context.dockerfile_in_context(),
        )
        if isinstance(decision, Sync):
            found[state.spec.name] = decision
        else:
            state.shipped = Shipped()
    return found


def after_full_deploy(host: CycleHost, deployer: Any, state: ImageState, *, reused: bool) -> None:
    """The pods now run `state.ready_ref`: the context as built, or (`reused`) an earlier
    session's image, which holds the files shipped then."""
    if not state.spec.live.sync or not host.options.live_sync or host.options.once:
        return
    files = state.shipped.base_files if reused else snapshot(state.context)
    state.shipped = Shipped(state.ready_local_ref, state.ready_ref, dict(files))
    save_shipped(_path(host, state), state.shipped)
    try:
        deployer.live_base(state.spec.name, state.context.root, state.spec.live, state.ready_ref)
    except KudevError as err:
        host.emit(ev.error_event(err))


def _path(host: CycleHost, state: ImageState) -> Any:
    return shipped_path(host.project.cache_dir, state.context.root, state.spec.name)

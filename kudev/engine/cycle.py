"""One cycle: hash → build → load for every image, then deploy — each stage timed and told.

The cycle does the work; the engine loop (its host) decides when a cycle runs, owns the
inbox, and runs the build itself on a worker so it can hash new changes meanwhile.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from kudev import events as ev
from kudev.build.builder import (
    BuildCancelled,
    Builder,
    ContextChanged,
)
from kudev.deploy.live.sync_job import Sync
from kudev.engine.cycle_host import CycleHost, ImageState
from kudev.engine.live_cycle import after_full_deploy, run_sync_stage
from kudev.errors import KudevError
from kudev.image_ref import tag_of
from kudev.timing import Stage

# A file rewritten while its tar is written is rehashed and the tar restarted, after a short
# pause that lets the writer finish; a tool that never stops writing must not keep the cycle
# (and a stop request) waiting forever.
CONTEXT_RETRY_PAUSES_S = (0.0, 0.05, 0.1, 0.2, 0.4)
MAX_CONTEXT_TRIES = len(CONTEXT_RETRY_PAUSES_S) + 1


class ContextKeepsChanging(KudevError):
    """The build context changed under every try to send it."""


class Cycle:
    def __init__(
        self,
        host: CycleHost,
        number: int,
        images: list[ImageState],
        *,
        forced: bool,
        resumed: dict[str, Sync] | None = None,
    ) -> None:
        self.host = host
        self.number = number
        self.images = images
        self.forced = forced
        # A session's first cycle on pods of an earlier full image: deploy that image again,
        # unbuilt, and sync what changed since (the initial sync).
        self.resumed = dict(resumed or {})
        self.stages: dict[str, float] = {}

    def run(self, hash_seconds: float) -> bool:
        """True when every stage succeeded; raises KudevError (BuildCancelled included)."""
        self.stages["hash"] = hash_seconds
        self.host.emit(ev.StageFinished(cycle=self.number, stage="hash", seconds=hash_seconds))
        refs: dict[str, str] = {}
        for state in self.images:
            ref = self._build(state)
            refs[state.spec.name] = self._load(state, ref)
        deployer = self.host.connections.deployer(self.host.project.config)
        if deployer is None:
            return True
        ok = deployer.deploy(refs, self.number, self.stages)
        for state in self.images:
            carried = self.resumed.get(state.spec.name)
            after_full_deploy(self.host, deployer, state, reused=carried is not None)
            if carried is not None and not carried.empty:
                run_sync_stage(self.host, deployer, state, carried, self.number, self.stages)
        return ok

    # -- build -----------------------------------------------------------------------------

    def _build(self, state: ImageState) -> str:
        builder = self.host.connections.builder(state.spec)
        ref = self._ref(state)
        build = Stage(self.host.emit, self.stages, self.number, "build", state.spec.name)
        carried = self.resumed.get(state.spec.name)
        if carried is not None and builder.has_image(state.shipped.local_ref):
            count = len(carried.files) + len(carried.deletes)
            build.skip(f"reusing {state.shipped.local_ref}; then {count} files to sync")
            return state.shipped.local_ref
        self.resumed.pop(state.spec.name, None)
        if builder.has_image(ref) and not self.forced:
            build.skip(f"{ref} exists")
            return ref
        with build:
            ref = self._build_while_context_settles(state, ref, builder)
            build.done(ref)
        return ref

    def _build_while_context_settles(self, state: ImageState, ref: str, builder: Builder) -> str:
        for pause in (*CONTEXT_RETRY_PAUSES_S, None):
            if self.host.stopping:
                raise BuildCancelled("build cancelled: kudev is stopping", "")
            try:
                self._build_once(state, ref, builder)
                return ref
            except ContextChanged as changed:
                if pause is None:
                    break
                self._pause(pause)
                # Rehash the file now rather than wait for the watcher's batch: with --once
                # there is no watcher, and a batch still in its debounce would come too late.
                self.host.take_news()
                state.context.update([state.context.root / changed.rel])
                ref = self._ref(state)
        raise ContextKeepsChanging(
            f"files in {state.context.root} kept changing while the build context was "
            f"written ({MAX_CONTEXT_TRIES} tries)",
            "let the tool that writes there finish; the next change starts a new build",
        )

    def _pause(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self.host.stopping and time.monotonic() < until:
            time.sleep(min(0.01, seconds))

    def _build_once(self, state: ImageState, ref: str, builder: Builder) -> None:
        # No labels: the classic builder turns each into an extra committed step.
        prepared = builder.prepare(state.context, ref)
        name = state.spec.name

        def on_line(line: str, stream: str) -> None:
            self.host.emit(ev.BuildOutput(cycle=self.number, image=name, line=line, stream=stream))

        self.host.run_build(builder, prepared, state.context, on_line)

    def _ref(self, state: ImageState) -> str:
        stamp = datetime.now(UTC) if self.host.options.build_timestamp else None
        return f"{state.spec.name}:{state.context.tag(stamp)}"

    # -- load ------------------------------------------------------------------------------

    def _load(self, state: ImageState, ref: str) -> str:
        load = Stage(self.host.emit, self.stages, self.number, "load", state.spec.name)
        delivery = self.host.connections.delivery(self.host.project.config)
        if delivery is None:
            load.skip("no cluster: image built only")
            self._ready(state, ref, ref, loaded=False)
            return ref

        def on_line(line: str) -> None:
            self.host.emit(
                ev.BuildOutput(cycle=self.number, image=state.spec.name, line=line, stream="loader")
            )

        with load:
            deploy_ref, loaded = delivery.deliver(ref, on_line)
            if loaded:
                load.done(deploy_ref)
            else:
                load.skip("already where the nodes pull it from")
        self._ready(state, ref, deploy_ref, loaded=loaded)
        return deploy_ref

    def _ready(self, state: ImageState, ref: str, deploy_ref: str, *, loaded: bool) -> None:
        state.ready_tag = tag_of(ref)
        state.ready_ref = deploy_ref
        state.ready_local_ref = ref
        self.host.emit(
            ev.ImageReady(
                cycle=self.number,
                image=state.spec.name,
                ref=deploy_ref,
                tag=state.ready_tag,
                built=True,
                loaded=loaded,
            )
        )

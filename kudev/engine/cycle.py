"""One cycle: hash → build → load for every image, then deploy — each stage timed and told.

The cycle does the work; the engine loop (its host) decides when a cycle runs and owns the
inbox. Each image's build and load is a job (engine/build_jobs.py): several run at once, an
image built FROM another project image after it, while the engine thread hashes new changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from kudev import events as ev
from kudev.build.builder import BuildCancelled, Builder, ContextChanged, PreparedBuild
from kudev.build.image_graph import ImageGraph, folded_tag
from kudev.deploy.live.sync_job import Sync
from kudev.engine.build_jobs import Built, JobWork
from kudev.engine.cycle_host import CycleHost, ImageState
from kudev.engine.live_cycle import after_full_deploy, run_sync_stage
from kudev.errors import KudevError
from kudev.image_ref import tag_of
from kudev.sources.context import BuildContext
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
        self._stages_lock = threading.Lock()  # jobs add their stages from their threads
        self._load_lock = threading.Lock()  # loaders are not known to be safe side by side
        self._graph = ImageGraph({})

    def run(self, hash_seconds: float) -> bool:
        """True when every stage succeeded; raises KudevError (BuildCancelled included)."""
        self.stages["hash"] = hash_seconds
        self.host.emit(ev.StageFinished(cycle=self.number, stage="hash", seconds=hash_seconds))
        self._graph = ImageGraph.of([state.spec for state in self.images])
        built = self.host.jobs.run(self._graph.order(), self._graph.upstream, self._start_job)
        refs = {state.spec.name: built[state.spec.name].deploy_ref for state in self.images}
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

    # -- one image's job: decided and prepared here, built and loaded on its thread ----------

    def _start_job(self, name: str, done: Mapping[str, Built]) -> JobWork:
        state = next(s for s in self.images if s.spec.name == name)
        bases = {up: done[up].local_ref for up in self._graph.upstream.get(name, ())}
        stages: dict[str, float] = {}  # the job's own: merged into the cycle's when it ends
        cancelled = threading.Event()
        builder = self.host.connections.builder(state.spec)
        build = Stage(self.host.emit, stages, self.number, "build", name)
        try:
            ref, prepared = self._decide(state, builder, build, bases)
        except BaseException:
            build.fail()
            self._merge(stages)
            raise
        watched = [(ctx, ctx.digest()) for ctx in self._contexts(name)]

        def run() -> Built:
            try:
                if prepared is not None:
                    with build:
                        self._run_build(state, builder, prepared, cancelled)
                        build.done(ref)
                return Built(ref, self._load(state, ref, stages, cancelled))
            finally:
                self._merge(stages)

        def cancel() -> None:
            cancelled.set()
            builder.cancel()

        return JobWork(run, cancel, lambda: any(c.digest() != d for c, d in watched))

    def _contexts(self, name: str) -> list[BuildContext]:
        """The contexts an image's build depends on: its own and its upstreams'."""
        names = {name, *self._graph.closure(name)}
        return [state.context for state in self.images if state.spec.name in names]

    def _merge(self, stages: dict[str, float]) -> None:
        with self._stages_lock:
            for stage, seconds in stages.items():
                self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    # -- build -----------------------------------------------------------------------------

    def _decide(
        self, state: ImageState, builder: Builder, build: Stage, bases: dict[str, str]
    ) -> tuple[str, PreparedBuild | None]:
        """The image's ref and its prepared build; no build when the image exists."""
        ref = self._ref(state, bases)
        carried = self.resumed.get(state.spec.name)
        if carried is not None and builder.has_image(state.shipped.local_ref):
            count = len(carried.files) + len(carried.deletes)
            build.skip(f"reusing {state.shipped.local_ref}; then {count} files to sync")
            return state.shipped.local_ref, None
        self.resumed.pop(state.spec.name, None)
        if builder.has_image(ref) and not self.forced:
            build.skip(f"{ref} exists")
            return ref, None
        return self._prepare_while_context_settles(state, ref, builder, bases)

    def _prepare_while_context_settles(
        self, state: ImageState, ref: str, builder: Builder, bases: dict[str, str]
    ) -> tuple[str, PreparedBuild]:
        for pause in (*CONTEXT_RETRY_PAUSES_S, None):
            if self.host.stopping:
                raise BuildCancelled("build cancelled: kudev is stopping", "")
            try:
                # No labels: the classic builder turns each into an extra committed step.
                return ref, builder.prepare(state.context, ref, bases)
            except ContextChanged as changed:
                if pause is None:
                    break
                self._pause(pause)
                # Rehash the file now rather than wait for the watcher's batch: with --once
                # there is no watcher, and a batch still in its debounce would come too late.
                self.host.take_news()
                state.context.update([state.context.root / changed.rel])
                ref = self._ref(state, bases)
        raise ContextKeepsChanging(
            f"files in {state.context.root} kept changing while the build context was "
            f"written ({MAX_CONTEXT_TRIES} tries)",
            "let the tool that writes there finish; the next change starts a new build",
        )

    def _pause(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self.host.stopping and time.monotonic() < until:
            time.sleep(min(0.01, seconds))

    def _run_build(
        self,
        state: ImageState,
        builder: Builder,
        prepared: PreparedBuild,
        cancelled: threading.Event,
    ) -> None:
        """On the job's thread."""
        name = state.spec.name

        def on_line(line: str, stream: str) -> None:
            self.host.emit(ev.BuildOutput(cycle=self.number, image=name, line=line, stream=stream))

        if cancelled.is_set() or self.host.stopping:
            prepared.body.close()
            raise BuildCancelled("build cancelled before it started", "")
        builder.run(prepared, on_line)

    def _ref(self, state: ImageState, bases: dict[str, str]) -> str:
        stamp = datetime.now(UTC) if self.host.options.build_timestamp else None
        upstream_tags = {up: tag_of(ref) for up, ref in bases.items()}
        return f"{state.spec.name}:{folded_tag(state.context.digest(), upstream_tags, stamp)}"

    # -- load ------------------------------------------------------------------------------

    def _load(
        self, state: ImageState, ref: str, stages: dict[str, float], cancelled: threading.Event
    ) -> str:
        """On the job's thread; one load at a time, while other images may build."""
        with self._load_lock:
            if cancelled.is_set() or self.host.stopping:
                raise BuildCancelled("load cancelled", "")
            return self._load_now(state, ref, stages)

    def _load_now(self, state: ImageState, ref: str, stages: dict[str, float]) -> str:
        load = Stage(self.host.emit, stages, self.number, "load", state.spec.name)
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

"""The inner loop: watch → hash → build → load → (deploy) — one thread, one event stream.

The engine never knows which front-end listens: it calls `sink(event)` and nothing else.
Requests from a front-end (rebuild, pause, stop) arrive through thread-safe methods that only
put a message on the engine's inbox. A build runs on a worker thread so the engine can keep
hashing incoming changes, and cancels that build the moment its content is outdated.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kudev import events as ev
from kudev.build.classic import BuildCancelled, ContextChanged, ImageBuilder
from kudev.build.docker_client import connect
from kudev.config import Config, ImageSpec
from kudev.errors import KudevError
from kudev.project import Project, build_context
from kudev.session import SessionOptions
from kudev.sources.context import BuildContext
from kudev.sources.watch import ChangeSource, ContextFilter, WatchFilter, watch_changes

MAX_LISTED_CHANGES = 50
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)


class Deployer(Protocol):
    """Part 2 of the engine plugs in here: apply manifests with the new image references."""

    def deploy(
        self, refs: dict[str, str], cycle: int, emit: ev.EventSink, stages: dict[str, float]
    ) -> bool: ...

    def stop(self, cleanup: bool = False) -> None: ...


# (config, kubernetes ApiClient, namespace, sink, live): live=False for --once (no streams)
DeployerFactory = Callable[[Config, Any, str, ev.EventSink, bool], Deployer]


@dataclass
class _Msg:
    kind: str  # "changes", "rebuild", "pause", "resume", "stop", "build_done", "retry"
    paths: frozenset[str] = frozenset()
    result: Any = None


@dataclass
class _ImageState:
    spec: ImageSpec
    context: BuildContext
    ready_tag: str = ""  # tag of the last image that reached the cluster
    ready_ref: str = ""


@dataclass
class _Pending:
    """What has happened since the last cycle started."""

    paths: set[str] = field(default_factory=set)
    forced: bool = False
    config_changed: bool = False
    hash_seconds: float = 0.0

    def any(self) -> bool:
        return bool(self.paths) or self.forced or self.config_changed


class Engine:
    def __init__(
        self,
        project: Project,
        options: SessionOptions,
        sink: ev.EventSink,
        *,
        change_source: ChangeSource | None = None,
        deployer_factory: DeployerFactory | None = None,
        docker_connect: Callable[[], Any] = connect,
        delivery_factory: Callable[[Config, Any], Any] | None = None,
    ) -> None:
        self.project = project
        self.options = options
        self._sink = sink
        self._emit_lock = threading.Lock()
        self._inbox: queue.Queue[_Msg] = queue.Queue()
        self._stop = threading.Event()
        self._watch_stop = threading.Event()
        self._change_source = change_source or self._default_change_source
        self._deployer: Deployer | None = None
        self.pod_details = _EnginePodDetails(self)  # the dashboard's pod detail hook
        self._deployer_factory = deployer_factory or _kube_deployer
        self._docker_connect = docker_connect
        self._delivery_factory = delivery_factory or self._default_delivery
        self._docker: Any = None
        self._builder: ImageBuilder | None = None
        self._delivery: Any = None
        self._images: list[_ImageState] = []
        self._pending = _Pending()
        self._paused = False
        self._cycle = 0
        self._retry = 0
        self._watcher: threading.Thread | None = None
        self.last_ok = False

    # -- requests from front-ends (any thread) ------------------------------------------------

    def request_rebuild(self) -> None:
        from kudev.oci.source import forget_resolved_tags

        forget_resolved_tags()  # `oci://…:TAG` manifests: resolve the tag again
        self._inbox.put(_Msg("rebuild"))

    def pause(self) -> None:
        self._inbox.put(_Msg("pause"))

    def resume(self) -> None:
        self._inbox.put(_Msg("resume"))

    def stop(self) -> None:
        self._stop.set()
        self._inbox.put(_Msg("stop"))
        if self._builder is not None:
            self._builder.cancel()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> bool:
        """Run until stopped (or one cycle with options.once); returns the last cycle's result."""
        try:
            try:
                self._start()
            except KudevError as err:
                self.emit(ev.error_event(err))
                return False
            if not self.options.once:
                self._start_watcher()  # before the first build: edits during it count
            self._cycle_now("initial", set())
            if self.options.once:
                return self.last_ok
            while not self._stop.is_set():
                self._wait_and_cycle()
            return self.last_ok
        finally:
            self._shutdown()

    def _start(self) -> None:
        self._images = [
            _ImageState(spec, build_context(spec, self.project.cache_dir))
            for spec in self.project.config.images
        ]
        started = time.monotonic()
        for state in self._images:
            state.context.scan()
            state.context.cache.save()
        self._pending.hash_seconds = time.monotonic() - started
        config = self.project.config
        self.emit(
            ev.SessionStarted(
                project=config.name,
                root=str(config.root),
                images=tuple(i.name for i in config.images),
            )
        )

    def _wait_and_cycle(self) -> None:
        retry = False
        if self._paused or not self._pending.any():
            msg = self._next_message()
            retry = msg.kind == "retry"
            self._handle(msg)
        self._drain_quietly()
        if self._stop.is_set() or self._paused:
            return
        if retry or self._pending.any():
            self._cycle_now(self._reason(retry), set(self._pending.paths))

    def _next_message(self) -> _Msg:
        """The next request or batch; a "retry" when a failed connection is due another try."""
        if not self._retry:
            return self._inbox.get()
        delay = RETRY_DELAYS[min(self._retry, len(RETRY_DELAYS)) - 1]
        try:
            return self._inbox.get(timeout=delay)
        except queue.Empty:
            return _Msg("retry")

    def _reason(self, retry: bool) -> str:
        if self._pending.config_changed:
            return "config"
        if self._pending.forced:
            return "forced"
        return "retry" if retry and not self._pending.paths else "change"

    def _drain_quietly(self) -> None:
        """Fold in whatever else is already queued, so one burst gives one cycle."""
        while True:
            try:
                self._handle(self._inbox.get_nowait())
            except queue.Empty:
                return

    def _handle(self, msg: _Msg) -> None:
        if msg.kind == "changes":
            self._apply_changes(msg.paths)
        elif msg.kind == "rebuild":
            self._pending.forced = True
        elif msg.kind == "pause" and not self._paused:
            self._paused = True
            self.emit(ev.WatchState(watching=False))
        elif msg.kind == "resume" and self._paused:
            self._paused = False
            self.emit(ev.WatchState(watching=True, paths=self._watch_paths_str()))
        elif msg.kind == "stop":
            self._stop.set()

    def _apply_changes(self, paths: Iterable[str]) -> None:
        paths = set(paths)
        if str(self.project.config.path) in paths:
            self._reload_config()
        started = time.monotonic()
        # An editor's temp file, created and removed within one batch, is no trigger to name.
        listed = {p for p in paths if os.path.lexists(p) or self._was_tracked(p)}
        changed = False
        for state in self._images:
            changed |= state.context.update(p for p in paths if _inside(p, state.context.root))
        self._pending.hash_seconds += time.monotonic() - started
        if changed or self._pending.config_changed or self._touches_manifests(paths):
            self._pending.paths |= listed
        # else: saved without a change Docker would see (a touch, an identical write)

    def _was_tracked(self, path: str) -> bool:
        for state in self._images:
            rel = state.context.relative(path)
            if rel is not None and state.context.tree.get(rel) is not None:
                return True
        return self._touches_manifests({path})

    def _touches_manifests(self, paths: set[str]) -> bool:
        manifests = [str(m) for m in self.project.config.manifests]
        manifests += getattr(self._deployer, "sources", [])  # e.g. a kustomize base elsewhere
        return any(p == m or p.startswith(m + "/") for p in paths for m in manifests)

    # -- configuration ---------------------------------------------------------------------------

    def _reload_config(self) -> None:
        from kudev.config import load_config

        old = self.project.config
        try:
            config = load_config(old.path, old.root)
        except KudevError as err:
            self.emit(ev.error_event(err))
            self.emit(ev.Notice(message="keeping the previous configuration", level="warning"))
            return
        if config == old:
            return
        self.project = Project(config=config, cache_dir=self.project.cache_dir)
        self._images = [
            _ImageState(spec, build_context(spec, self.project.cache_dir)) for spec in config.images
        ]
        for state in self._images:
            state.context.scan()
        self._delivery = None
        if self._deployer is not None:
            self._deployer.stop()
            self._deployer = None
        self._pending.config_changed = True
        self.emit(ev.Notice(message=f"reloaded {config.path.name}"))
        self._restart_watcher()

    # -- one cycle -------------------------------------------------------------------------------

    def _cycle_now(self, reason: str, changed: set[str]) -> None:
        self._cycle += 1
        cycle = self._cycle
        hash_seconds = self._pending.hash_seconds
        self._pending = _Pending()
        listed = tuple(sorted(changed)[:MAX_LISTED_CHANGES])
        self.emit(
            ev.CycleStarted(cycle=cycle, reason=reason, changed=listed, changed_total=len(changed))
        )
        started = time.monotonic()
        stages: dict[str, float] = {"hash": hash_seconds}
        ok, cancelled = False, False
        try:
            ok = self._run_cycle(cycle, stages, forced=(reason == "forced"))
        except BuildCancelled:
            cancelled = True
        except KudevError as err:
            self._report(err, cycle)
        self.last_ok = ok
        if ok or cancelled:
            self._retry = 0
        self.emit(
            ev.CycleFinished(
                cycle=cycle,
                ok=ok,
                cancelled=cancelled,
                seconds=time.monotonic() - started,
                stages=stages,
            )
        )
        for state in self._images:
            state.context.cache.save()

    def _report(self, err: KudevError, cycle: int) -> None:
        retrying = err.retryable and not self.options.once
        if retrying:
            self._retry += 1
            self._docker = self._builder = self._delivery = None
        self.emit(ev.error_event(err, cycle=cycle, retrying=retrying))

    def _run_cycle(self, cycle: int, stages: dict[str, float], forced: bool) -> bool:
        self.emit(ev.StageFinished(cycle=cycle, stage="hash", seconds=stages["hash"]))
        refs: dict[str, str] = {}
        for state in self._images:
            ref = self._build_image(cycle, state, stages, forced)
            refs[state.spec.name] = self._load_image(cycle, state, ref, stages)
        deployer = self._ensure_deployer()
        if deployer is None:
            return True
        return deployer.deploy(refs, cycle, self.emit, stages)

    def _ensure_deployer(self) -> Deployer | None:
        if self._deployer is None and self._delivery is not None:
            namespace = self.options.namespace or self.project.config.namespace
            self._deployer = self._deployer_factory(
                self.project.config,
                self._delivery.api_client,
                namespace,
                self.emit,
                not self.options.once,
            )
        return self._deployer

    def _tag(self, state: _ImageState) -> str:
        stamp = datetime.now(UTC) if self.options.build_timestamp else None
        return state.context.tag(stamp)

    def _build_image(
        self, cycle: int, state: _ImageState, stages: dict[str, float], forced: bool
    ) -> str:
        builder = self._ensure_builder()
        from kudev.build.classic import image_exists

        ref = f"{state.spec.name}:{self._tag(state)}"
        self.emit(ev.StageStarted(cycle=cycle, stage="build", image=state.spec.name))
        started = time.monotonic()
        if image_exists(builder.client, ref) and not forced:
            self._finish(
                cycle, "build", started, stages, state, skipped=True, detail=f"{ref} exists"
            )
            return ref
        while True:
            try:
                self._build_once(cycle, state, ref, builder)
                break
            except ContextChanged:
                # A file moved under us while the tar was written: take the news and retry.
                self._drain_quietly()
                ref = f"{state.spec.name}:{self._tag(state)}"
            except KudevError:
                self._finish(cycle, "build", started, stages, state, ok=False)
                raise
        self._finish(cycle, "build", started, stages, state, detail=ref)
        return ref

    def _build_once(self, cycle: int, state: _ImageState, ref: str, builder: ImageBuilder) -> None:
        # No labels: the classic builder turns each into an extra committed step.
        prepared = builder.prepare(state.context, ref)
        digest = state.context.digest()

        def on_line(line: str, stream: str) -> None:
            self.emit(ev.BuildOutput(cycle=cycle, image=state.spec.name, line=line, stream=stream))

        def work() -> None:
            try:
                self._inbox.put(_Msg("build_done", result=builder.run(prepared, on_line)))
            except BaseException as err:  # handed to the engine thread, which raises it
                self._inbox.put(_Msg("build_done", result=err))

        threading.Thread(target=work, name="kudev-build", daemon=True).start()
        result = self._await_build(builder, state, digest)
        if isinstance(result, BaseException):
            raise result

    def _await_build(self, builder: ImageBuilder, state: _ImageState, digest: str) -> Any:
        """Wait for the build, hashing changes meanwhile; cancel it once it is outdated."""
        deferred: list[_Msg] = []
        try:
            while True:
                msg = self._inbox.get()
                if msg.kind == "build_done":
                    return msg.result
                if msg.kind == "changes":
                    self._apply_changes(msg.paths)
                    if state.context.digest() != digest:
                        builder.cancel()
                elif msg.kind == "stop":
                    self._stop.set()
                    builder.cancel()
                else:
                    deferred.append(msg)
        finally:
            for msg in deferred:
                self._inbox.put(msg)

    def _load_image(
        self, cycle: int, state: _ImageState, ref: str, stages: dict[str, float]
    ) -> str:
        self.emit(ev.StageStarted(cycle=cycle, stage="load", image=state.spec.name))
        started = time.monotonic()
        delivery = self._ensure_delivery(cycle)
        if delivery is None:
            self._finish(
                cycle,
                "load",
                started,
                stages,
                state,
                skipped=True,
                detail="no cluster: image built only",
            )
            self._ready(cycle, state, ref, ref, built=True, loaded=False)
            return ref

        def on_line(line: str) -> None:
            self.emit(
                ev.BuildOutput(cycle=cycle, image=state.spec.name, line=line, stream="loader")
            )

        try:
            deploy_ref, loaded = delivery.deliver(ref, on_line)
        except KudevError:
            self._finish(cycle, "load", started, stages, state, ok=False)
            raise
        self._finish(
            cycle,
            "load",
            started,
            stages,
            state,
            skipped=not loaded,
            detail=deploy_ref if loaded else "already on the nodes",
        )
        self._ready(cycle, state, ref, deploy_ref, built=True, loaded=loaded)
        return deploy_ref

    def _ready(
        self,
        cycle: int,
        state: _ImageState,
        ref: str,
        deploy_ref: str,
        *,
        built: bool,
        loaded: bool,
    ) -> None:
        state.ready_tag = ref.rsplit(":", 1)[1]
        state.ready_ref = deploy_ref
        self.emit(
            ev.ImageReady(
                cycle=cycle,
                image=state.spec.name,
                ref=deploy_ref,
                tag=state.ready_tag,
                built=built,
                loaded=loaded,
            )
        )

    def _finish(
        self,
        cycle: int,
        stage: str,
        started: float,
        stages: dict[str, float],
        state: _ImageState,
        *,
        ok: bool = True,
        skipped: bool = False,
        detail: str = "",
    ) -> None:
        seconds = time.monotonic() - started
        stages[stage] = stages.get(stage, 0.0) + seconds
        self.emit(
            ev.StageFinished(
                cycle=cycle,
                stage=stage,
                seconds=seconds,
                ok=ok,
                skipped=skipped,
                detail=detail,
                image=state.spec.name,
            )
        )

    # -- connections -----------------------------------------------------------------------------

    def _ensure_builder(self) -> ImageBuilder:
        if self._builder is None:
            self._docker = self._docker_connect()
            from kudev.build.buildkit import make_builder

            self._builder = make_builder(self._docker)
            self.emit(ev.Notice(message=f"builder: {self._builder.describe()}"))
        return self._builder

    def _ensure_delivery(self, cycle: int) -> Any:
        if not self.options.load_images:
            return None
        if self._delivery is None:
            self._delivery = self._delivery_factory(self.project.config, self._docker)
            if self._delivery is not None:
                info = self._delivery.info
                self.emit(
                    ev.ClusterConnected(
                        context=info.context,
                        cluster_kind=info.kind,
                        server=info.server,
                        namespace=self.options.namespace or self.project.config.namespace,
                        loader=self._delivery.loader.describe(),
                    )
                )
        return self._delivery

    def _default_delivery(self, config: Config, docker_client: Any) -> Any:
        from kudev.cluster.delivery import ImageDelivery

        return ImageDelivery.connect(
            config,
            docker_client,
            kubeconfig=self.options.kubeconfig,
            context=self.options.kube_context,
            allowed=self.options.allow_contexts,
        )

    # -- watching --------------------------------------------------------------------------------

    def _watch_paths(self) -> list[Path]:
        config = self.project.config
        return [*(s.context.root for s in self._images), config.path, *config.manifests]

    def _watch_paths_str(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self._watch_paths())

    def _watch_filter(self) -> WatchFilter:
        config = self.project.config
        return WatchFilter(
            [ContextFilter(s.context.root, s.spec.exclusions) for s in self._images],
            always=[config.path, *config.manifests, *(s.context.dockerfile for s in self._images)],
            ignored=[self.project.cache_dir],
            ignore_patterns=config.watch.ignore,
            project_root=config.root,
        )

    def _default_change_source(
        self, paths: list[Path], relevant: Callable[[str], bool], stop: threading.Event
    ) -> Iterable[set[str]]:
        return watch_changes(
            paths,
            relevant,
            stop,
            quiet_ms=self.project.config.watch.debounce_ms,
            on_notice=lambda m, level: self.emit(ev.Notice(m, level=level)),
        )

    def _start_watcher(self) -> None:
        self._watch_stop = threading.Event()
        paths, relevant, stop = self._watch_paths(), self._watch_filter(), self._watch_stop

        def watch() -> None:
            try:
                for batch in self._change_source(paths, relevant, stop):
                    if stop.is_set():
                        return
                    self._inbox.put(_Msg("changes", paths=frozenset(batch)))
            except KudevError as err:
                self.emit(ev.error_event(err))
            except Exception as err:  # noqa: BLE001 - the loop must survive a watcher failure
                self.emit(ev.error_event(err))

        self._watcher = threading.Thread(target=watch, name="kudev-watch", daemon=True)
        self._watcher.start()
        self.emit(ev.WatchState(watching=True, paths=self._watch_paths_str()))

    def _restart_watcher(self) -> None:
        if self._watcher is None:
            return
        self._watch_stop.set()
        self._watcher.join(timeout=5)
        self._start_watcher()

    def _shutdown(self) -> None:
        self._watch_stop.set()
        if self._deployer is not None:
            try:
                self._deployer.stop(cleanup=self.options.cleanup)
            except KudevError as err:
                self.emit(ev.error_event(err))
        if self._builder is not None:
            self._builder.cancel()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        for state in self._images:
            state.context.cache.save()
        if self._docker is not None:
            self._docker.close()

    # -- events ----------------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        with self._emit_lock:
            self._sink(event)


class _EnginePodDetails:
    """Describes pods through whichever deployer the engine has now (none before connecting)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self, pod: str) -> Any:
        describe = getattr(self.engine._deployer, "describe_pod", None)
        if describe is None:
            raise KudevError("not connected to a cluster", "details appear once kudev deploys")
        return describe(pod)


def _kube_deployer(
    config: Config, api_client: Any, namespace: str, emit: ev.EventSink, live: bool
) -> Deployer:
    from kudev.deploy.deployer import KubeDeployer

    return KubeDeployer(config, api_client, namespace, emit, live=live)


def _inside(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(str(root) + "/")

"""Stand-ins for the engine's seams — builder, delivery, deployer — with no Docker and no
cluster, so the real Engine runs in milliseconds. Each records what the engine asked of it;
builds and deploys can be held at a gate so a test decides when they end."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kudev import events as ev
from kudev.build.builder import (
    BuildCancelled,
    BuildResult,
    ContextChanged,
    LineSink,
    PreparedBuild,
)
from kudev.cluster.detect import ClusterInfo
from kudev.config import Config
from kudev.config.model import LiveUpdateSpec
from kudev.deploy.live.sync import SyncFigures
from kudev.deploy.live.sync_job import Sync
from kudev.deploy.pod_details import PodDetail
from kudev.engine.loop import Engine
from kudev.errors import DockerUnavailable
from kudev.project import Project
from kudev.session import SessionOptions
from kudev.sources.context import BuildContext
from kudev.timing import Stage
from tests.enginelib import EventLog, ScriptedChanges

GATE_S = 10  # no fake waits longer at a gate than this: a broken test fails, it does not hang


class Gate:
    """Open by default; `hold()` makes the next waits block until `release()`."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait(self, poll: float = GATE_S) -> bool:
        return self._open.wait(poll)


class FakeBuilder:
    """One instance serves every image (the factory hands it out per image), so it takes
    builds side by side as several real builders would; cancel() cancels all of them."""

    client = None  # no Docker client for the loaders to share

    def __init__(self) -> None:
        self.images: set[str] = set()
        self.prepared: list[str] = []
        self.built: list[str] = []
        self.failures: list[Exception] = []  # raised by the next runs, in order
        self.context_changes = 0  # prepares that find a file changed under them
        self.gate = Gate()
        self.cancels = 0
        self.closed = False
        self.bases: dict[str, dict[str, str]] = {}  # ref → the upstream refs it was given
        self.running: list[str] = []  # builds in progress now
        self.most_at_once = 0
        self._changed = threading.Condition()
        self._cancels: dict[str, threading.Event] = {}  # per prepared build

    def describe(self) -> str:
        return "fake builder"

    def has_image(self, ref: str) -> bool:
        return ref in self.images

    def prepare(
        self, context: BuildContext, ref: str, bases: dict[str, str] | None = None
    ) -> PreparedBuild:
        if self.context_changes:
            self.context_changes -= 1
            raise ContextChanged("main.txt changed while the build started", "main.txt")
        self.prepared.append(ref)
        self.bases[ref] = dict(bases or {})
        cancelled = threading.Event()  # on the engine's thread, before the worker starts
        with self._changed:
            self._cancels[ref] = cancelled
        params = {"digest": context.digest(), "cancelled": cancelled}
        return PreparedBuild(ref=ref, body=io.BytesIO(), params=params)

    def run(self, prepared: PreparedBuild, on_line: LineSink) -> BuildResult:
        on_line(f"building {prepared.ref}", "stdout")
        if self.failures:
            raise self.failures.pop(0)
        self._now_running(prepared.ref, +1)
        try:
            self._wait_at_gate(prepared.params["cancelled"])
        finally:
            self._now_running(prepared.ref, -1)
        self.images.add(prepared.ref)
        self.built.append(prepared.ref)
        return BuildResult(ref=prepared.ref, image_id=f"sha256:{len(self.built)}", built=True)

    def _wait_at_gate(self, cancelled: threading.Event) -> None:
        for _ in range(GATE_S * 200):
            if cancelled.is_set():
                raise BuildCancelled("build cancelled: a newer change arrived", "")
            if self.gate.wait(0.005):
                break
        if cancelled.is_set():
            raise BuildCancelled("build cancelled: a newer change arrived", "")

    def _now_running(self, ref: str, step: int) -> None:
        with self._changed:
            if step > 0:
                self.running.append(ref)
            else:
                self.running.remove(ref)
                self._cancels.pop(ref, None)
            self.most_at_once = max(self.most_at_once, len(self.running))
            self._changed.notify_all()

    def wait_running(self, count: int) -> list[str]:
        """Wait until `count` builds are held at the gate at once; the refs running then."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.running) >= count, GATE_S), (
                f"only {self.running} running"
            )
            return list(self.running)

    def cancel(self) -> None:
        self.cancels += 1
        with self._changed:
            for cancelled in self._cancels.values():
                cancelled.set()

    def close(self) -> None:
        self.closed = True


class FakeDocker:
    """The builder factory: `unreachable` connects fail as a stopped daemon would."""

    def __init__(self, builder: FakeBuilder, unreachable: int = 0) -> None:
        self.builder = builder
        self.unreachable = unreachable
        self.connects = 0

    def __call__(self) -> FakeBuilder:
        self.connects += 1
        if self.unreachable:
            self.unreachable -= 1
            raise DockerUnavailable("cannot reach the Docker daemon (fake)", "start it")
        return self.builder


class FakeLoader:
    def describe(self) -> str:
        return "fake loader"


@dataclass
class FakeDelivery:
    info: ClusterInfo = ClusterInfo(
        context="fake", cluster="fake", server="https://fake:6443", kind="kind", local=True
    )
    loader: FakeLoader = field(default_factory=FakeLoader)
    api_client: Any = "fake-api-client"
    delivered: list[str] = field(default_factory=list)

    def deliver(self, ref: str, on_line: Any) -> tuple[str, bool]:
        self.delivered.append(ref)
        on_line(f"loading {ref}")
        return f"registry.fake/{ref}", True


class FakeDeployer:
    def __init__(self, emit: ev.EventSink, namespace: str, live: bool) -> None:
        self.emit = emit
        self.namespace = namespace
        self.live = live
        self.sources: list[str] = []
        self.deploys: list[tuple[int, dict[str, str]]] = []
        self.outcomes: list[bool | Exception] = []  # the next deploys' results, in order
        self.gate = Gate()
        self.stopped: list[bool] = []
        # live update: the full images the pods run, the syncs sent, what the next ones do
        self.bases: list[tuple[str, str]] = []
        self.syncs: list[tuple[int, Sync]] = []
        self.sync_failures: list[Exception] = []
        self.blocker = ""  # why the pods cannot take a sync now ("" while they can)

    def deploy(self, refs: dict[str, str], cycle: int, stages: dict[str, float]) -> bool:
        self.deploys.append((cycle, dict(refs)))
        with Stage(self.emit, stages, cycle, "apply") as apply:
            assert self.gate.wait(), "the test never released the deploy"
            outcome = self.outcomes.pop(0) if self.outcomes else True
            if isinstance(outcome, Exception):
                raise outcome
            apply.done(f"{len(refs)} images")
        return outcome

    def describe_pod(self, pod: str) -> PodDetail:
        return PodDetail()

    def live_base(self, image: str, root: Path, live: LiveUpdateSpec, ref: str) -> None:
        self.bases.append((image, ref))

    def sync_blocker(self, image: str) -> str:
        return self.blocker if self.bases else "no full build has reached the pods yet"

    def sync(self, image: str, plan: Sync, cycle: int) -> SyncFigures:
        if self.sync_failures:
            raise self.sync_failures.pop(0)
        self.syncs.append((cycle, plan))
        return SyncFigures(len(plan.files), len(plan.deletes), 1, 1)

    def interrupt(self) -> None:
        self.interrupted = True

    def stop(self, cleanup: bool = False) -> None:
        self.stopped.append(cleanup)


@dataclass
class Fakes:
    """Every seam faked, plus the scripted change source and an event log."""

    builder: FakeBuilder = field(default_factory=FakeBuilder)
    delivery: FakeDelivery | None = field(default_factory=FakeDelivery)
    deployers: list[FakeDeployer] = field(default_factory=list)
    changes: ScriptedChanges = field(default_factory=ScriptedChanges)
    log: EventLog = field(default_factory=EventLog)
    unreachable: int = 0  # connects that fail before the fake daemon answers
    retry_delays: tuple[float, ...] = (0.01,)
    docker: FakeDocker = field(init=False)
    # set before the engine makes its deployer: applied to each new one
    deploy_outcomes: list[bool | Exception] = field(default_factory=list)
    hold_deploys: bool = False

    def __post_init__(self) -> None:
        self.docker = FakeDocker(self.builder, self.unreachable)

    @property
    def deployer(self) -> FakeDeployer:
        assert self.deployers, "the engine made no deployer"
        return self.deployers[-1]

    def engine(
        self,
        project: Project,
        options: SessionOptions | None = None,
        sink: ev.EventSink | None = None,
        *,
        real_watcher: bool = False,
    ) -> Engine:
        """The real Engine over these fakes; `real_watcher`: inotify instead of scripted changes."""
        return Engine(
            project,
            options or SessionOptions(),
            sink or self.log,
            change_source=None if real_watcher else self.changes,
            builder_factory=self.docker,
            delivery_factory=self._delivery,
            deployer_factory=self._deployer,
            retry_delays=self.retry_delays,
        )

    def _delivery(self, config: Config, docker_client: Any) -> FakeDelivery | None:
        assert docker_client is None  # the fake builder's: nothing reached for Docker
        return self.delivery

    def _deployer(
        self, config: Config, api_client: Any, namespace: str, emit: ev.EventSink, live: bool
    ) -> FakeDeployer:
        assert self.delivery is not None and api_client == self.delivery.api_client
        deployer = FakeDeployer(emit, namespace, live)
        deployer.outcomes = list(self.deploy_outcomes)
        if self.hold_deploys:
            deployer.gate.hold()
        self.deployers.append(deployer)
        return deployer

"""Part 2 of the engine: render the manifests, apply them, wait for the rollout, and keep
the app's live streams (pods, logs, port-forwards) running between cycles."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kudev import events as ev
from kudev.config import Config
from kudev.deploy.apply import LABEL_PROJECT, Applier, ObjectRef
from kudev.deploy.live.logs import LogFollower
from kudev.deploy.live.pods import PodsWatcher
from kudev.deploy.live.portforward import PortForwarder
from kudev.deploy.rollout import RolloutWatcher
from kudev.deploy.settle import SettleWatch
from kudev.errors import KudevError
from kudev.timing import Stage

if TYPE_CHECKING:
    from kudev.config.model import LiveUpdateSpec
    from kudev.deploy.live.sync import LiveSyncer, SyncFigures
    from kudev.deploy.live.sync_job import Sync


class KubeDeployer:
    def __init__(
        self,
        config: Config,
        api_client: Any,
        namespace: str,
        emit: ev.EventSink,
        live: bool = True,
    ) -> None:
        self.config = config
        self.live = live  # False for --once: no pod/log streams, no port-forwards
        self.api_client = api_client
        self.namespace = namespace
        self.emit = emit
        self.applier = Applier(api_client, config.name, namespace)
        self._pods: PodsWatcher | None = None
        self._logs: LogFollower | None = None
        self._forwards: list[PortForwarder] = []
        self.sources: list[str] = []
        self._settle = SettleWatch(emit)
        self._syncer: LiveSyncer | None = None  # live update, once an image has a full base
        self._interrupted = threading.Event()  # kudev is stopping: wait for no rollout

    # -- one cycle ---------------------------------------------------------------------------

    def deploy(self, refs: dict[str, str], cycle: int, stages: dict[str, float]) -> bool:
        self._settle.stop()  # the previous cycle's pods are about to be replaced
        with Stage(self.emit, stages, cycle, "apply") as apply:
            applied, complete = self._apply(refs)
            if not complete:
                apply.fail()  # stopped part-way: the inventory lists what was applied
                return False
            apply.done(f"{len(applied)} objects")
        if self.live:
            self._start_streams()
        rollout = RolloutWatcher(self.api_client, self.namespace, self.emit, cycle)
        with Stage(self.emit, stages, cycle, "ready") as ready:
            if self.live:
                # Ready the moment the new pods are; the settle watch runs after "ready".
                rollout.wait_ready(applied, self.config.rollout_timeout_s, self._interrupted.is_set)
                if self._interrupted.is_set():
                    return False
                self._settle.start(rollout, applied, cycle)
            else:
                # --once: exit 0 must not lie
                rollout.wait(applied, self.config.rollout_timeout_s, self._interrupted.is_set)
                if self._interrupted.is_set():
                    return False
            ready.done("all workloads ready")
        return True

    def _apply(self, refs: dict[str, str]) -> tuple[list[ObjectRef], bool]:
        from kudev.deploy.manifests import render

        rendered = render(self.config, refs)
        self.sources = [str(p) for p in rendered.sources]
        for warning in rendered.replacements.warnings:
            self.emit(ev.Notice(warning, level="warning"))
        result = self.applier.deploy(
            rendered.objects, self.config.create_namespace, self._interrupted.is_set
        )
        if result.pruned:
            names = ", ".join(str(r) for r in result.pruned)
            self.emit(ev.Notice(f"pruned {names} (no longer in the manifests)"))
        return result.applied, result.complete

    # -- live streams ----------------------------------------------------------------------------

    def _start_streams(self) -> None:
        if self._pods is not None:
            return
        self._logs = LogFollower(self.api_client, self.namespace, self.emit)
        self._pods = PodsWatcher(
            self.api_client,
            self.namespace,
            f"{LABEL_PROJECT}={self.config.name}",
            self._on_pods,
            self.emit,
            decorate=self._with_synced,
        )
        if any(image.live.sync for image in self.config.images):
            from kudev.deploy.live.sync import LiveSyncer

            self._syncer = LiveSyncer(
                self.api_client, self.namespace, self.emit, self._pods.republish
            )
            self._syncer.start()
        self._pods.start()
        for local, remote, pod_name in self._forward_specs():
            forwarder = PortForwarder(
                self.api_client, self.namespace, local, remote, self._picker(pod_name), self.emit
            )
            try:
                forwarder.start()
            except KudevError as err:
                self.emit(ev.error_event(err))
                continue
            self._forwards.append(forwarder)

    def _forward_specs(self) -> list[tuple[int, int, str]]:
        specs = []
        if self.config.local_port and self.config.service_port:
            specs.append((self.config.local_port, self.config.service_port, ""))
        for pf in self.config.port_forwards:
            pod = pf.resource.split("/", 1)[1] if pf.resource.startswith("pod/") else ""
            specs.append((pf.local, pf.remote, pod))
        seen, unique = set(), []
        for spec in specs:
            if spec[0] not in seen:
                seen.add(spec[0])
                unique.append(spec)
        return unique

    def _picker(self, pod_name: str) -> Any:
        def pick() -> str | None:
            # Runs on port-forward connection threads: one immutable snapshot, read once.
            pods = self._pods.pods if self._pods else {}
            ready = [
                p
                for p in pods.values()
                if _serving(p) and (not pod_name or p.metadata.name == pod_name)
            ]
            ready.sort(key=lambda p: p.metadata.creation_timestamp, reverse=True)
            return ready[0].metadata.name if ready else None

        return pick

    # -- live update -----------------------------------------------------------------------------

    def live_base(self, image: str, root: Path, live: LiveUpdateSpec, ref: str) -> None:
        """The pods of `image` run its full build `ref`: syncs go on top of it from now on."""
        from kudev.deploy.live.sync import ImageLive

        if self._syncer is not None:
            self._syncer.set_base(ImageLive(image, root, live), ref)

    def sync_blocker(self, image: str) -> str:
        if self._syncer is None:
            return "live update starts once the pods are watched"
        return self._syncer.blocker(image)

    def sync(self, image: str, plan: Sync, cycle: int) -> SyncFigures:
        from kudev.deploy.live.sync import SyncFailed

        if self._syncer is None:
            raise SyncFailed("live update is not running", "")
        return self._syncer.sync(image, plan, cycle)

    def _with_synced(self, row: ev.PodRow, pod: Any) -> ev.PodRow:
        if self._syncer is None:
            return row
        return self._syncer.decorate(row, pod)

    def _on_pods(self, pods: Mapping[str, Any]) -> None:
        if self._syncer is not None:
            self._syncer.on_pods(pods)
        if self._logs is not None:
            self._logs.sync(pods)
        for forwarder in self._forwards:
            forwarder.retarget()

    def describe_pod(self, pod: str) -> Any:
        from kudev.deploy.pod_details import KubePodDetails

        return KubePodDetails(self.api_client, self.namespace).describe(pod)

    def interrupt(self) -> None:
        """Stop applying and waiting for the rollout now, and a sync soon (from any thread,
        without blocking); what was applied stays."""
        self._interrupted.set()
        if self._syncer is not None:
            self._syncer.interrupt()

    def stop(self, cleanup: bool = False) -> None:
        """Stop streams and forwards, joining their threads; delete what kudev applied only
        when asked to."""
        self._settle.stop()
        self._stop_streams()
        if cleanup:
            deleted = self.applier.down()
            self.emit(ev.Notice(f"cleaned up {len(deleted)} objects"))

    def _stop_streams(self) -> None:
        # The syncer first (a sync in flight ends, its streams close), then the pod watch:
        # it is what feeds the syncer and the log follower and retargets the forwards.
        stopped = [self._syncer.stop()] if self._syncer is not None else []
        if self._pods is not None:
            stopped.append(self._pods.stop())
        if self._logs is not None:
            stopped.append(self._logs.stop())
        stopped.extend([forwarder.stop() for forwarder in self._forwards])
        self._pods, self._logs, self._forwards, self._syncer = None, None, [], None
        if not all(stopped):
            self.emit(ev.Notice("a live stream did not stop in time", level="warning"))


def _serving(pod: Any) -> bool:
    if pod.metadata.deletion_timestamp is not None or pod.status.phase != "Running":
        return False
    statuses = pod.status.container_statuses or []
    return bool(statuses) and all(s.ready for s in statuses)

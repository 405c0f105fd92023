"""Waiting for a deploy to become ready, and saying why it does not."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kudev import events as ev
from kudev.deploy.apply import ObjectRef
from kudev.deploy.diagnosis import Problem, diagnose_pod
from kudev.deploy.namespace_changes import NamespaceChanges
from kudev.deploy.pod_logs import last_logs
from kudev.errors import KudevError

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
# Without probes a container is "ready" the moment it starts; one that dies a second later
# is the commonest broken deploy, so ready pods are watched this long: before --once exits,
# and after an interactive cycle's "ready", where a crash becomes a diagnosis.
SETTLE_S = 3.0
API_TIMEOUT = 30
# A watch wakes a wait at once; the slice bounds how late a stop request is seen.
STOP_SLICE_S = 0.25


class RolloutFailed(KudevError):
    """A workload will not become ready without a change (or did not in time)."""


class RolloutWatcher:
    def __init__(self, api_client: Any, namespace: str, emit: ev.EventSink, cycle: int) -> None:
        from kubernetes import client

        self.core: Any = client.CoreV1Api(api_client)
        self.apps: Any = client.AppsV1Api(api_client)
        self.namespace = namespace
        self.emit = emit
        self.cycle = cycle
        self._last_progress: dict[str, tuple[int, int]] = {}
        self._reported: set[tuple[str, str, str]] = set()
        self._last_problem: dict[str, str] = {}  # workload → latest non-fatal problem
        self._template_hashes: dict[tuple[str, int], str] = {}  # (uid, generation) → hash

    def wait(
        self, applied: list[ObjectRef], timeout_s: float, stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Ready, then settled: what --once needs before it may exit 0."""
        with self._changes(applied) as changes:
            self._wait_ready(applied, timeout_s, stop, changes)
            self._settle(applied, stop, changes)

    def wait_ready(
        self, applied: list[ObjectRef], timeout_s: float, stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Return the moment every workload runs the new generation, ready; RolloutFailed on a
        fatal pod problem or a timeout."""
        with self._changes(applied) as changes:
            self._wait_ready(applied, timeout_s, stop, changes)

    def settle(self, applied: list[ObjectRef], stop: Callable[[], bool] = lambda: False) -> None:
        """Watch the ready pods for SETTLE_S; RolloutFailed if one crashes or restarts."""
        with self._changes(applied) as changes:
            self._settle(applied, stop, changes)

    def _changes(self, applied: list[ObjectRef]) -> NamespaceChanges:
        calls: dict[str, Any] = {"pods": self.core.list_namespaced_pod}
        kinds = {r.kind for r in applied}
        for kind, (name, call) in self._workload_lists().items():
            if kind in kinds:
                calls[name] = call
        return NamespaceChanges(self.namespace, calls)

    def _workload_lists(self) -> dict[str, tuple[str, Any]]:
        return {
            "Deployment": ("deployments", self.apps.list_namespaced_deployment),
            "StatefulSet": ("statefulsets", self.apps.list_namespaced_stateful_set),
            "DaemonSet": ("daemonsets", self.apps.list_namespaced_daemon_set),
        }

    def _wait_ready(
        self,
        applied: list[ObjectRef],
        timeout_s: float,
        stop: Callable[[], bool],
        changes: NamespaceChanges,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        pending = [r for r in applied if r.kind in WORKLOAD_KINDS]
        pods_moved = True  # the first look diagnoses whatever pods there are
        while pending and not stop():
            pending = [w for w in pending if not self._ready(w, pods_moved)]
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(str(w) for w in pending)
                why = "; ".join(filter(None, (self._last_problem.get(str(w)) for w in pending)))
                raise RolloutFailed(
                    f"{names} not ready after {timeout_s:.0f}s" + (f": {why}" if why else ""),
                    "see the pod status above; raise spec.rolloutTimeout if it is just slow",
                )
            # A watch wakes this at once; the timeout only bounds a watch that went quiet.
            moved = changes.wait(min(STOP_SLICE_S, max(0.05, deadline - time.monotonic())))
            pods_moved = "pods" in moved

    def _settle(
        self, applied: list[ObjectRef], stop: Callable[[], bool], changes: NamespaceChanges
    ) -> None:
        workloads = [r for r in applied if r.kind in WORKLOAD_KINDS]
        until = time.monotonic() + SETTLE_S
        pods_moved = True
        while not stop():
            if pods_moved:
                for ref in workloads:
                    self._check_pods(ref, self._read(ref), strict=True)
            left = until - time.monotonic()
            if left <= 0:
                return
            pods_moved = "pods" in changes.wait(min(left, STOP_SLICE_S))

    def _ready(self, ref: ObjectRef, pods_moved: bool) -> bool:
        obj = self._read(ref)
        ready, desired, done = _progress(ref.kind, obj)
        key = str(ref)
        if self._last_progress.get(key) != (ready, desired):
            self._last_progress[key] = (ready, desired)
            self.emit(
                ev.RolloutProgress(cycle=self.cycle, workload=key, ready=ready, desired=desired)
            )
        if done:
            return True
        # Pods are listed only when one changed, and not once every new one is ready (only old
        # ones are left to go): on 2 cores the extra listings slowed the rollout itself.
        if pods_moved and ready < desired:
            self._check_pods(ref, obj)
        return False

    def _read(self, ref: ObjectRef) -> Any:
        read = {
            "Deployment": self.apps.read_namespaced_deployment,
            "StatefulSet": self.apps.read_namespaced_stateful_set,
            "DaemonSet": self.apps.read_namespaced_daemon_set,
        }[ref.kind]
        return read(ref.name, ref.namespace or self.namespace, _request_timeout=API_TIMEOUT)

    def _check_pods(self, ref: ObjectRef, obj: Any, strict: bool = False) -> None:
        selector = self._new_pods_selector(ref, obj)
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=selector, _request_timeout=API_TIMEOUT
        ).items
        for pod in pods:
            problems = diagnose_pod(pod) or self._probe_failures(pod)
            for problem in problems:
                self._report(pod, problem)
                if problem.fatal or strict:
                    raise RolloutFailed(
                        f"{ref} failed: {problem.summary(pod.metadata.name)}",
                        _remedy(problem),
                    )
            self._last_problem[str(ref)] = (
                problems[0].summary(pod.metadata.name) if problems else ""
            )

    def _probe_failures(self, pod: Any) -> list[Problem]:
        """A running pod that is not ready: what its readiness/liveness probes say."""
        statuses = pod.status.container_statuses or []
        if pod.status.phase != "Running" or all(s.ready for s in statuses):
            return []
        events = self.core.list_namespaced_event(
            self.namespace,
            field_selector=f"involvedObject.name={pod.metadata.name},reason=Unhealthy",
            _request_timeout=API_TIMEOUT,
        ).items
        if not events:
            return []
        last = max(
            events, key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp
        )
        container = (last.involved_object.field_path or "").partition("{")[2].rstrip("}")
        return [Problem(container, "ProbeFailed", last.message or "", fatal=False)]

    def _report(self, pod: Any, problem: Problem) -> None:
        key = (pod.metadata.name, problem.container, problem.reason)
        if key in self._reported:
            return
        self._reported.add(key)
        logs: tuple[str, ...] = ()
        if problem.exit_code is not None:
            logs = last_logs(
                self.core,
                self.namespace,
                pod.metadata.name,
                problem.container,
                fall_back_to_current=True,
            )
        self.emit(
            ev.PodDiagnosis(
                cycle=self.cycle,
                pod=pod.metadata.name,
                container=problem.container,
                reason=problem.reason,
                message=problem.message,
                exit_code=problem.exit_code,
                last_logs=logs,
            )
        )

    def _new_pods_selector(self, ref: ObjectRef, obj: Any) -> str:
        labels = (obj.spec.selector.match_labels or {}) if obj.spec.selector else {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        if ref.kind == "StatefulSet" and obj.status.update_revision:
            return f"{selector},controller-revision-hash={obj.status.update_revision}"
        if ref.kind == "Deployment":
            template_hash = self._template_hash(obj, selector)
            if template_hash:
                return f"{selector},pod-template-hash={template_hash}"
        return selector

    def _template_hash(self, deployment: Any, selector: str) -> str:
        """The new ReplicaSet's hash, listed once per generation the controller has seen."""
        meta = deployment.metadata
        key = (meta.uid, meta.generation)
        if key in self._template_hashes:
            return self._template_hashes[key]
        found = self._newest_template_hash(deployment, selector)
        if found and (deployment.status.observed_generation or 0) >= (meta.generation or 0):
            self._template_hashes[key] = found
        return found

    def _newest_template_hash(self, deployment: Any, selector: str) -> str:
        sets = self.apps.list_namespaced_replica_set(
            self.namespace, label_selector=selector, _request_timeout=API_TIMEOUT
        ).items
        owned = [
            rs
            for rs in sets
            if any(o.uid == deployment.metadata.uid for o in rs.metadata.owner_references or [])
        ]
        if not owned:
            return ""
        newest = max(owned, key=_revision)
        return str((newest.metadata.labels or {}).get("pod-template-hash", ""))


def _revision(rs: Any) -> int:
    annotations = rs.metadata.annotations or {}
    value = annotations.get("deployment.kubernetes.io/revision", "0")
    return int(value) if str(value).isdigit() else 0


def _progress(kind: str, obj: Any) -> tuple[int, int, bool]:
    """(ready pods of the new generation, desired, rolled out) for a workload object.

    Until the controller has observed the new generation its status describes the old one,
    so nothing counts as ready yet: the old ReplicaSet's pods are not the new version.
    """
    status, spec, meta = obj.status, obj.spec, obj.metadata
    observed = (status.observed_generation or 0) >= (meta.generation or 0)
    if kind == "DaemonSet":
        desired = status.desired_number_scheduled or 0
        updated = status.updated_number_scheduled or 0
        ready = min(updated, status.number_ready or 0) if observed else 0
        return ready, desired, observed and ready == desired and updated == desired
    desired = spec.replicas if spec.replicas is not None else 1
    updated = status.updated_replicas or 0
    if not observed:
        return 0, desired, False
    if kind == "Deployment":
        total = status.replicas or 0
        # Pods still counted that are not updated are the old generation's; assume them ready.
        ready = max(0, min(updated, (status.ready_replicas or 0) - (total - updated)))
        available = status.available_replicas or 0
        done = updated == desired and available == desired and total == desired
        return ready, desired, done
    ready = min(updated, status.ready_replicas or 0)
    current = status.current_revision == status.update_revision
    return ready, desired, ready == desired and updated == desired and current


_PULL = "the node cannot pull that image: is it loaded or pushed, and is the name right?"


def _remedy(problem: Problem) -> str:
    remedies = {
        "ErrImagePull": _PULL,
        "ImagePullBackOff": _PULL,
        "InvalidImageName": "fix the image reference in the manifest",
        "CrashLoopBackOff": "the container keeps exiting: see its last log lines above",
        "OOMKilled": "the container ran out of memory: raise resources.limits.memory or use less",
        "CreateContainerConfigError": "a referenced ConfigMap/Secret or key is missing",
        "Unschedulable": "no node fits: check nodeSelector, affinity, taints and requests",
        "ProbeFailed": "the probe keeps failing: check its path/port/command and the app's logs",
    }
    return remedies.get(problem.reason, "fix the manifest or the image and save again")

"""Applying the app's objects: server-side apply as field manager "kudev", prune, down.

What kudev applied is recorded in an inventory ConfigMap in the app's namespace, so a later
run (or `kudev down`) deletes exactly what kudev applied before and nothing else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kudev.errors import ClusterError, KudevError

FIELD_MANAGER = "kudev"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PROJECT = "kudev.io/project"
INVENTORY_PREFIX = "kudev-inventory-"
API_TIMEOUT = 30

# Apply order: what others depend on first (as kubectl and Helm order them).
_KIND_ORDER = [
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
]


class DeployError(KudevError):
    """The API server refused an object."""


@dataclass(frozen=True, order=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    def to_list(self) -> list[str]:
        return [self.api_version, self.kind, self.namespace, self.name]


def ref_of(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata", {})
    return ObjectRef(obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def _order(obj: dict[str, Any]) -> int:
    kind = obj.get("kind", "")
    return _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)


class Applier:
    """Applies, prunes and deletes a project's objects in one namespace."""

    def __init__(self, api_client: Any, project: str, namespace: str) -> None:
        from kubernetes import client, dynamic

        self.api_client = api_client
        self.core: Any = client.CoreV1Api(api_client)
        self.dynamic = dynamic.DynamicClient(api_client)
        self.project = project
        self.namespace = namespace
        # What this session knows the cluster has, so a redeploy is the applies alone: the
        # namespace exists, and the inventory records (objects, whether kudev made the
        # namespace). Forgotten on any failure, so the next deploy reads the cluster again.
        self._namespace_known = False
        self._recorded: tuple[tuple[ObjectRef, ...], bool] | None = None

    # -- inventory ---------------------------------------------------------------------------

    @property
    def inventory_name(self) -> str:
        return INVENTORY_PREFIX + self.project

    def read_inventory(self) -> tuple[list[ObjectRef], bool]:
        """(objects kudev applied last time, whether kudev created the namespace)."""
        from kubernetes.client.exceptions import ApiException

        try:
            cm = self.core.read_namespaced_config_map(
                self.inventory_name, self.namespace, _request_timeout=API_TIMEOUT
            )
        except ApiException as err:
            if err.status == 404:
                return [], False
            raise _api_error(err, f"reading the inventory configmap/{self.inventory_name}") from err
        data = cm.data or {}
        objects = [ObjectRef(*item) for item in json.loads(data.get("objects", "[]"))]
        return objects, data.get("createdNamespace") == "true"

    def write_inventory(self, objects: Iterable[ObjectRef], created_namespace: bool) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.inventory_name,
                "namespace": self.namespace,
                "labels": {LABEL_MANAGED_BY: FIELD_MANAGER, LABEL_PROJECT: self.project},
            },
            "data": {
                "objects": json.dumps([o.to_list() for o in sorted(set(objects))]),
                "createdNamespace": "true" if created_namespace else "false",
            },
        }
        self._apply_one(body)

    # -- namespace ---------------------------------------------------------------------------

    def ensure_namespace(self, create: bool) -> bool:
        """Whether kudev created the namespace now. Never adopts an existing one."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespace(self.namespace, _request_timeout=API_TIMEOUT)
            return False
        except ApiException as err:
            if err.status != 404:
                raise _api_error(err, f"reading namespace {self.namespace}") from err
        if not create:
            raise DeployError(
                f"namespace {self.namespace!r} does not exist",
                "create it (kubectl create namespace …) or set spec.createNamespace: true",
            )
        body = {"metadata": {"name": self.namespace, "labels": {LABEL_MANAGED_BY: FIELD_MANAGER}}}
        self.core.create_namespace(body, _request_timeout=API_TIMEOUT)
        return True

    # -- apply / prune / down ------------------------------------------------------------------

    def labelled(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy with kudev's labels, and the app namespace where a namespaced object has none."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        labels = meta.setdefault("labels", {}) or {}
        labels.update({LABEL_MANAGED_BY: FIELD_MANAGER, LABEL_PROJECT: self.project})
        meta["labels"] = labels
        if self._resource(obj).namespaced:
            meta.setdefault("namespace", self.namespace)
        else:
            meta.pop("namespace", None)
        template = _pod_template(obj)
        if template is not None:
            # Pods carry the project label so one watch finds all of the app's pods.
            tmeta = template.setdefault("metadata", {})
            tlabels = tmeta.setdefault("labels", {}) or {}
            tlabels[LABEL_PROJECT] = self.project
            tmeta["labels"] = tlabels
        return obj

    def apply(
        self, objects: list[dict[str, Any]], stopping: Callable[[], bool] = lambda: False
    ) -> tuple[list[ObjectRef], bool]:
        """(what was applied, whether all of it was): a stop ends it between two objects."""
        prepared = [self.labelled(o) for o in sorted(objects, key=_order)]
        applied: list[ObjectRef] = []
        for obj in prepared:
            if stopping():
                return applied, False
            self._apply_one(obj)
            applied.append(ref_of(obj))
        return applied, True

    def _apply_one(self, obj: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError

        resource = self._resource(obj)
        try:
            self.dynamic.server_side_apply(
                resource,
                body=obj,
                namespace=obj["metadata"].get("namespace"),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                _request_timeout=API_TIMEOUT,
            )
        except (ApiException, DynamicApiError) as err:
            raise _api_error(
                err, f"applying {obj['kind'].lower()}/{obj['metadata']['name']}"
            ) from err

    def _resource(self, obj: dict[str, Any]) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError as err:
            raise DeployError(
                f"the cluster has no {obj['kind']} in {obj['apiVersion']} "
                f"({obj['kind'].lower()}/{obj.get('metadata', {}).get('name', '?')})",
                "check apiVersion/kind, or install the CRD that defines it",
            ) from err

    def delete(self, refs: Iterable[ObjectRef]) -> list[ObjectRef]:
        """Delete objects (newest-dependent first); returns those that existed."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

        deleted = []
        for ref in sorted(refs, key=lambda r: -_order({"kind": r.kind})):
            try:
                resource = self.dynamic.resources.get(api_version=ref.api_version, kind=ref.kind)
                self.dynamic.delete(
                    resource,
                    name=ref.name,
                    namespace=ref.namespace or None,
                    body={"propagationPolicy": "Background"},
                    _request_timeout=API_TIMEOUT,
                )
                deleted.append(ref)
            except NotFoundError:
                continue
            except (ApiException, DynamicApiError) as err:
                raise _api_error(err, f"deleting {ref}") from err
        return deleted

    def deploy(
        self,
        objects: list[dict[str, Any]],
        create_namespace: bool,
        stopping: Callable[[], bool] = lambda: False,
    ) -> DeployResult:
        """Apply `objects`, record them, and prune what the previous deploy had extra.
        `stopping` ends the applies between two objects (kudev is stopping, hundreds to go)."""
        try:
            return self._deploy(objects, create_namespace, stopping)
        except BaseException:
            self._namespace_known, self._recorded = False, None
            raise

    def _deploy(
        self, objects: list[dict[str, Any]], create_namespace: bool, stopping: Callable[[], bool]
    ) -> DeployResult:
        created = False
        if not self._namespace_known:
            created = self.ensure_namespace(create_namespace)
            self._namespace_known = True
        if self._recorded is None:
            listed, created_before = self.read_inventory()
            self._recorded = (tuple(sorted(set(listed))), created_before)
        previous, created_before = self._recorded
        applied, complete = self.apply(objects, stopping)
        if not complete:
            # Stopped part-way: record what the cluster may now hold, old and new alike, so
            # `kudev down` (or the next deploy's prune) still finds every object; prune nothing.
            record = (tuple(sorted(set(previous) | set(applied))), created or created_before)
            if record != self._recorded:
                self.write_inventory(record[0], record[1])
                self._recorded = record
            return DeployResult(applied=applied, pruned=[], complete=False)
        record = (tuple(sorted(set(applied))), created or created_before)
        if record != self._recorded:
            self.write_inventory(applied, record[1])
            self._recorded = record
        pruned = self.delete(set(previous) - set(applied))
        return DeployResult(applied=applied, pruned=pruned)

    def down(self) -> list[ObjectRef]:
        """Delete exactly what kudev applied (and the namespace if kudev created it)."""
        self._namespace_known, self._recorded = False, None
        previous, created_namespace = self.read_inventory()
        deleted = self.delete(previous)
        inventory = ObjectRef("v1", "ConfigMap", self.namespace, self.inventory_name)
        self.delete([inventory])
        if created_namespace:
            self.delete([ObjectRef("v1", "Namespace", "", self.namespace)])
        return deleted


def _pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    return template if isinstance(template, dict) else None


@dataclass(frozen=True)
class DeployResult:
    applied: list[ObjectRef]
    pruned: list[ObjectRef]
    complete: bool = True  # False: a stop ended the applies part-way


def _api_error(err: Any, doing: str) -> KudevError:
    status = getattr(err, "status", None)
    body = getattr(err, "body", "") or ""
    message = getattr(err, "summary", lambda: "")() if hasattr(err, "summary") else ""
    try:
        message = json.loads(body).get("message", message)
    except (ValueError, TypeError, AttributeError):
        message = message or str(err).splitlines()[0]
    if status in (401, 403):
        return ClusterError(
            f"{doing}: forbidden ({message})",
            "your kube user lacks the rights; check `kubectl auth can-i --list`",
        )
    return DeployError(f"{doing}: {message or status}", "fix the manifest; nothing else changed")

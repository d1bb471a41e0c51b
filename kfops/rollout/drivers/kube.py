"""Kubernetes I/O for ModelRollout objects (the operator and ``kubectl kfops`` use it).

Thin on purpose: get, list, patch the status subresource, patch spec fields or annotations.
No decision is taken here; the controller decides and hands this module a patch.

Every request the rollout code makes is listed in :data:`PERMISSIONS` (here and in
:mod:`kfops.rollout.backends.kserve`), and the operator's ClusterRole grants exactly their
union, which a test checks (``tests/rollout/drivers/test_kube.py``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from kfops.cluster import kube_api
from kfops.cluster.kube_api import Permission
from kfops.cluster.kube_client import api_client as api_client  # re-exported for callers
from kfops.cluster.names import COMMAND_ANNOTATION as COMMAND_ANNOTATION  # for the CLI
from kfops.cluster.names import ROLLOUT_GROUP, ROLLOUT_KIND, ROLLOUT_PLURAL, ROLLOUT_VERSION
from kfops.errors import RolloutError

PERMISSIONS: tuple[Permission, ...] = (
    # get_rollout / list_rollouts; kopf lists and watches the kind it handles.
    # patch: patch_spec / annotate, and kopf's progress annotations on the object.
    Permission(ROLLOUT_GROUP, ROLLOUT_PLURAL, ("get", "list", "watch", "patch")),
    # patch_status; kopf writes status.kopf through the subresource too.
    Permission(ROLLOUT_GROUP, f"{ROLLOUT_PLURAL}/status", ("patch",)),
    # kopf posts an Event per handler outcome (kopf.info/warn/exception and its own logs).
    Permission("", "events", ("create",)),
)
"""What ModelRollout I/O and the kopf framework need. kopf runs ``--standalone`` (no
peering objects) and ``--all-namespaces`` (no namespace listing); with
``settings.scanning.disabled = True`` it does not watch CustomResourceDefinitions either."""

_HINTS = {
    403: "grant the service account the verb on the resource (manifests/base/rollout-operator.yaml)",
    404: "is the CRD installed (kubectl apply -k manifests/base) and the name right? "
    "see kubectl get modelrollouts -A",
}


def rollout_path(namespace: str | None, name: str | None = None) -> str:
    """``/apis/rollouts.kfops.io/v1alpha1[/namespaces/NS]/modelrollouts[/NAME]``."""
    return kube_api.object_path(ROLLOUT_GROUP, ROLLOUT_VERSION, ROLLOUT_PLURAL, namespace, name)


def _call(api: Any, method: str, path: str, what: str, **kwargs: Any) -> Any:
    return kube_api.call(api, method, path, what, error=RolloutError, hints=_HINTS, **kwargs)


def get_rollout(api: Any, namespace: str, name: str) -> dict[str, Any]:
    """The ModelRollout as stored (``metadata``, ``spec``, ``status``)."""
    what = f"read {ROLLOUT_KIND} {namespace}/{name}"
    return _call(api, "GET", rollout_path(namespace, name), what)


def list_rollouts(api: Any, namespace: str | None = None) -> list[dict[str, Any]]:
    """ModelRollouts in ``namespace``, or in every namespace when it is None."""
    what = f"list {ROLLOUT_KIND}s in {namespace or 'all namespaces'}"
    return list(_call(api, "GET", rollout_path(namespace), what).get("items") or [])


def _merge(api: Any, path: str, what: str, patch: dict[str, Any]) -> dict[str, Any]:
    return _call(api, "PATCH", path, what, body=patch, content_type=kube_api.MERGE_PATCH)


def patch_status(api: Any, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
    """Merge ``status`` into the status subresource (keys set to None are removed)."""
    return _merge(
        api,
        rollout_path(namespace, name) + "/status",
        f"update status of {ROLLOUT_KIND} {namespace}/{name}",
        {"status": status},
    )


def patch_spec(api: Any, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Merge camelCase ``spec`` fields, e.g. ``{"paused": True}`` for ``rollout pause``."""
    return _merge(
        api,
        rollout_path(namespace, name),
        f"update spec of {ROLLOUT_KIND} {namespace}/{name}",
        {"spec": spec},
    )


def request_command(api: Any, namespace: str, name: str, command: str, **arguments: Any) -> str:
    """Leave a command request for the operator (it clears the annotation when done); the
    request's id. ``kubectl kfops`` and the dashboard (as the signed-in user) both send so."""
    request = {
        "command": command,
        "arguments": arguments,
        "id": uuid.uuid4().hex[:12],
        "requestedAt": time.time(),
    }
    annotate(api, namespace, name, {COMMAND_ANNOTATION: json.dumps(request, sort_keys=True)})
    return str(request["id"])


def annotate(
    api: Any, namespace: str, name: str, annotations: dict[str, str | None]
) -> dict[str, Any]:
    """Set annotations (None removes one); commands such as ``promote`` leave requests here."""
    return _merge(
        api,
        rollout_path(namespace, name),
        f"annotate {ROLLOUT_KIND} {namespace}/{name}",
        {"metadata": {"annotations": annotations}},
    )

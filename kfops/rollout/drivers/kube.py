"""Kubernetes I/O for ModelRollout objects (the operator and ``kubectl kfops`` use it).

Thin on purpose: get, list, patch the status subresource, patch spec fields or annotations.
No decision is taken here; the controller decides and hands this module a patch.

Every request the rollout code makes is listed in :data:`PERMISSIONS` (here and in
:mod:`kfops.rollout.backends.kserve`), and the operator's ClusterRole grants exactly their
union, which a test checks (``tests/rollout/test_kube.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kfops.cluster.kube_client import api_client as api_client  # re-exported for callers
from kfops.config.rollout import API_GROUP, API_VERSION, KIND, PLURAL
from kfops.errors import RolloutError

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "kfops-rollout"
COMMAND_ANNOTATION = "rollouts.kfops.io/command"
"""Where `kubectl kfops rollout promote|abort|...` leaves a request for the operator."""
TIMEOUT_S = 30


@dataclass(frozen=True)
class Permission:
    """One RBAC grant the code needs: ``verbs`` on ``resource`` in API group ``group``."""

    group: str
    resource: str
    verbs: tuple[str, ...]


PERMISSIONS: tuple[Permission, ...] = (
    # get_rollout / list_rollouts; kopf lists and watches the kind it handles.
    # patch: patch_spec / annotate, and kopf's progress annotations on the object.
    Permission(API_GROUP, PLURAL, ("get", "list", "watch", "patch")),
    # patch_status; kopf writes status.kopf through the subresource too.
    Permission(API_GROUP, f"{PLURAL}/status", ("patch",)),
    # kopf posts an Event per handler outcome (kopf.info/warn/exception and its own logs).
    Permission("", "events", ("create",)),
)
"""What ModelRollout I/O and the kopf framework need. kopf runs ``--standalone`` (no
peering objects) and ``--all-namespaces`` (no namespace listing); with
``settings.scanning.disabled = True`` it does not watch CustomResourceDefinitions either."""


_HINTS = {
    401: "check the credentials (token or kubeconfig)",
    403: "grant the service account the verb on the resource (manifests/base/rollout-operator.yaml)",
    404: "create it first, or fix the name and namespace",
    409: "it changed or already exists; read it again and retry",
    422: "the API server rejected the body; fix the fields named above",
}


def call(
    api: Any,
    method: str,
    path: str,
    what: str,
    *,
    body: Any = None,
    content_type: str | None = None,
    query: list[tuple[str, str]] | None = None,
    hints: dict[int, str] | None = None,
) -> dict[str, Any]:
    """One API request; failures become a one-line RolloutError naming ``what`` and a fix."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    headers = {"Accept": "application/json"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        return api.call_api(
            path,
            method,
            query_params=query or [],
            header_params=headers,
            body=body,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=TIMEOUT_S,
        )
    except ApiException as exc:
        try:
            detail = json.loads(exc.body or "{}").get("message") or exc.reason
        except (TypeError, ValueError, AttributeError):
            detail = exc.reason
        detail = " ".join(str(detail).split())
        hint = {**_HINTS, **(hints or {})}.get(exc.status, "check the cluster")
        raise RolloutError(f"{what}: HTTP {exc.status}: {detail}; {hint}") from exc
    except (HTTPError, OSError) as exc:
        raise RolloutError(f"{what}: the Kubernetes API is unreachable ({exc})") from exc


def rollout_path(namespace: str | None, name: str | None = None) -> str:
    """``/apis/rollouts.kfops.io/v1alpha1[/namespaces/NS]/modelrollouts[/NAME]``."""
    path = f"/apis/{API_GROUP}/{API_VERSION}"
    if namespace is not None:
        path += f"/namespaces/{namespace}"
    path += f"/{PLURAL}"
    return path if name is None else f"{path}/{name}"


_ROLLOUT_HINTS = {
    404: "is the CRD installed (kubectl apply -k manifests/base) and the name right? "
    "see kubectl get modelrollouts -A",
}


def get_rollout(api: Any, namespace: str, name: str) -> dict[str, Any]:
    """The ModelRollout as stored (``metadata``, ``spec``, ``status``)."""
    return call(
        api,
        "GET",
        rollout_path(namespace, name),
        f"read {KIND} {namespace}/{name}",
        hints=_ROLLOUT_HINTS,
    )


def list_rollouts(api: Any, namespace: str | None = None) -> list[dict[str, Any]]:
    """ModelRollouts in ``namespace``, or in every namespace when it is None."""
    where = namespace or "all namespaces"
    answer = call(
        api, "GET", rollout_path(namespace), f"list {KIND}s in {where}", hints=_ROLLOUT_HINTS
    )
    return list(answer.get("items") or [])


def _merge(api: Any, path: str, what: str, patch: dict[str, Any]) -> dict[str, Any]:
    return call(
        api, "PATCH", path, what, body=patch, content_type=MERGE_PATCH, hints=_ROLLOUT_HINTS
    )


def patch_status(api: Any, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
    """Merge ``status`` into the status subresource (keys set to None are removed)."""
    return _merge(
        api,
        rollout_path(namespace, name) + "/status",
        f"update status of {KIND} {namespace}/{name}",
        {"status": status},
    )


def patch_spec(api: Any, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Merge camelCase ``spec`` fields, e.g. ``{"paused": True}`` for ``rollout pause``."""
    return _merge(
        api,
        rollout_path(namespace, name),
        f"update spec of {KIND} {namespace}/{name}",
        {"spec": spec},
    )


def annotate(
    api: Any, namespace: str, name: str, annotations: dict[str, str | None]
) -> dict[str, Any]:
    """Set annotations (None removes one); commands such as ``promote`` leave requests here."""
    return _merge(
        api,
        rollout_path(namespace, name),
        f"annotate {KIND} {namespace}/{name}",
        {"metadata": {"annotations": annotations}},
    )

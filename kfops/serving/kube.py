"""Kubernetes I/O for deploy: server-side apply of an InferenceService, then wait for Ready.

Server-side apply (``PATCH`` with ``application/apply-patch+yaml``, field manager
``kfops``, ``force=true``) creates or updates in one request and leaves fields owned by
other managers (an HPA's replicas, a rollout's canary percentage) alone. The decisions
about the status live in :mod:`kfops.serving.status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kfops.cluster import kube_api
from kfops.cluster.kube_client import api_client as api_client  # re-exported for callers
from kfops.cluster.names import DEPLOY_FIELD_MANAGER, ISVC_GROUP, ISVC_PLURAL, ISVC_VERSION
from kfops.errors import ClusterError
from kfops.serving.status import readiness

_HINTS = {
    403: "grant the service account rights on inferenceservices",
    404: "is KServe installed (CRD serving.kserve.io/v1beta1) and the namespace there?",
    422: "the cluster's KServe rejected the spec",
}


def _path(namespace: str, name: str) -> str:
    return kube_api.object_path(ISVC_GROUP, ISVC_VERSION, ISVC_PLURAL, namespace, name)


def apply(api: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply; returns the object as the API server stored it."""
    meta = manifest["metadata"]
    return kube_api.server_side_apply(
        api,
        _path(meta["namespace"], meta["name"]),
        f"apply InferenceService {meta['namespace']}/{meta['name']}",
        manifest,
        DEPLOY_FIELD_MANAGER,
        error=ClusterError,
        hints=_HINTS,
    )


def wait_ready(
    api: Any,
    namespace: str,
    name: str,
    generation: int | None,
    timeout_s: float,
    *,
    poll_s: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until Ready (returns the object); a terminal failure or the timeout raises."""
    what = f"InferenceService {namespace}/{name}"
    deadline = clock() + timeout_s
    while True:
        obj = kube_api.call(
            api, "GET", _path(namespace, name), f"read {what}", error=ClusterError, hints=_HINTS
        )
        if generation is not None:
            obj.setdefault("metadata", {}).setdefault("generation", generation)
        state = readiness(obj)
        if state.ready:
            return obj
        if state.failed:
            raise ClusterError(
                f"{what} failed: {state.summary}; see kubectl describe inferenceservice {name} -n {namespace}"
            )
        if clock() >= deadline:
            raise ClusterError(
                f"{what} not Ready after {timeout_s:g} s: {state.summary}; raise "
                f"serving.ready_timeout_seconds or see kubectl describe inferenceservice {name} -n {namespace}"
            )
        sleep(poll_s)

"""Kubernetes I/O for deploy: server-side apply of an InferenceService, then wait for Ready.

Server-side apply (``PATCH`` with ``application/apply-patch+yaml``, field manager
``kfops``, ``force=true``) creates or updates in one request and leaves fields owned by
other managers (an HPA's replicas, a rollout's canary percentage) alone. The decisions
about the status live in :mod:`kfops.serving.status`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kfops.cluster.kube_client import api_client as api_client  # re-exported for callers
from kfops.errors import ClusterError
from kfops.serving.status import readiness

FIELD_MANAGER = "kfops"
GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


def _path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


def _call(api: Any, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return api.call_api(
            path,
            method,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=30,
            **kwargs,
        )
    except ApiException as exc:
        try:
            detail = json.loads(exc.body or "{}").get("message") or exc.reason
        except (TypeError, ValueError):
            detail = exc.reason
        hint = {
            401: "check the credentials",
            403: "grant the service account rights on inferenceservices",
            404: "is KServe installed (CRD serving.kserve.io/v1beta1) and the namespace there?",
            422: "the cluster's KServe rejected the spec",
        }.get(exc.status, "check the cluster")
        raise ClusterError(f"{what}: HTTP {exc.status}: {detail}; {hint}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterError(f"{what}: the Kubernetes API is unreachable ({exc})") from exc


def apply(api: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply; returns the object as the API server stored it."""
    meta = manifest["metadata"]
    return _call(
        api,
        "PATCH",
        _path(meta["namespace"], meta["name"]),
        f"apply InferenceService {meta['namespace']}/{meta['name']}",
        query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        header_params={
            "Content-Type": "application/apply-patch+yaml",
            "Accept": "application/json",
        },
        body=manifest,
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
        obj = _call(
            api,
            "GET",
            _path(namespace, name),
            f"read {what}",
            header_params={"Accept": "application/json"},
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

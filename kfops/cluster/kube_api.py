"""One way to call the Kubernetes API, and one way its failures read.

Serving applies InferenceServices, rollouts read and patch ModelRollouts and KServe
traffic, tuning creates Katib Experiments. Each request goes through :func:`call`, which
sends it with the ``kubernetes`` client's ApiClient and turns an answer of 400 or more, or
a server that cannot be reached, into one line of the caller's error class (ClusterError
for serving and tuning, RolloutError for rollouts)::

    <what>: HTTP <status>: <the API server's message>; <hint for that status>

The caller knows its objects, so it gives the hints that fit them; general ones fill in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kfops.errors import ClusterError, KfopsError, one_line

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
TIMEOUT_S = 30
"""Seconds per request: a hung API server fails the step instead of stalling it."""

HINTS: dict[int, str] = {
    401: "check the credentials (token or kubeconfig)",
    403: "grant the service account the verb on the resource",
    404: "create it first, or fix the name and namespace",
    409: "it changed or already exists; read it again and retry",
    422: "the API server rejected the body; fix the fields named above",
}
"""Hints for any object, used where the caller has no better one for the status."""
DEFAULT_HINT = "check the cluster"


@dataclass(frozen=True)
class Permission:
    """One RBAC grant the code needs: ``verbs`` on ``resource`` in API group ``group``.

    Modules that call the API list what they call, and tests check that the manifests'
    Roles grant exactly that.
    """

    group: str
    resource: str
    verbs: tuple[str, ...]


def object_path(
    group: str, version: str, plural: str, namespace: str | None = None, name: str | None = None
) -> str:
    """``/apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME]``: a custom object or a list."""
    path = f"/apis/{group}/{version}"
    if namespace is not None:
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    return path if name is None else f"{path}/{name}"


def call(
    api: Any,
    method: str,
    path: str,
    what: str,
    *,
    error: type[KfopsError] = ClusterError,
    body: Any = None,
    content_type: str | None = None,
    query: list[tuple[str, str]] | None = None,
    hints: Mapping[int, str] | None = None,
    default_hint: str = DEFAULT_HINT,
) -> Any:
    """One request; the decoded JSON answer, or ``error`` naming ``what`` and a fix.

    ``api`` is a ``kubernetes.client.ApiClient``, or a generated API (CustomObjectsApi, ...)
    whose client is used. ``hints`` per HTTP status come before :data:`HINTS`, then
    ``default_hint``. The raised error's ``__cause__`` is the client's exception, so
    :func:`api_status` can tell an expected status (a 404 on an optional object) apart.
    """
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    client = getattr(api, "api_client", api)
    headers = {"Accept": "application/json"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        return client.call_api(
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
        hint = {**HINTS, **(hints or {})}.get(exc.status, default_hint)
        raise error(f"{what}: HTTP {exc.status}: {_detail(exc)}; {hint}") from exc
    except (HTTPError, OSError) as exc:
        raise error(
            f"{what}: the Kubernetes API is unreachable ({one_line(exc)}); "
            "check that the cluster is up and its address (kubeconfig or host) is right"
        ) from exc


def _detail(exc: Any) -> str:
    """The API server's own message (its Status object), on one line; else the reason."""
    try:
        detail = json.loads(exc.body or "{}").get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        detail = exc.reason
    return " ".join(str(detail).split())


def server_side_apply(
    api: Any, path: str, what: str, manifest: dict[str, Any], field_manager: str, **kwargs: Any
) -> Any:
    """Create or update ``manifest`` whole as ``field_manager`` (``force``: take over fields
    another manager set); fields other managers own alone are left as they are."""
    return call(
        api,
        "PATCH",
        path,
        what,
        body=manifest,
        content_type=APPLY_PATCH,
        query=[("fieldManager", field_manager), ("force", "true")],
        **kwargs,
    )


def api_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error :func:`call` raised; None when the API was not
    reached (or the error did not come from an API answer)."""
    status = getattr(exc.__cause__, "status", None)
    return status if isinstance(status, int) else None

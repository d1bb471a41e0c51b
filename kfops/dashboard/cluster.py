"""Kubernetes I/O of the dashboard in the cluster: read ModelRollouts, ask whether a user may
patch one (SubjectAccessReview), and leave a command on it as that user (impersonation).

The decision itself is :func:`kfops.dashboard.access.decide`; nothing here decides. A
command travels as ``kubectl kfops rollout <command>`` sends it: a request in the
``rollouts.kfops.io/command`` annotation that the operator carries out through the engine's
command handlers (:mod:`kfops.rollout.engine.commands`).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from kfops.cluster import kube_api
from kfops.cluster.kube_api import Permission
from kfops.cluster.names import ROLLOUT_GROUP, ROLLOUT_PLURAL
from kfops.dashboard.access import access_review
from kfops.dashboard.rollouts import cluster_view, summary
from kfops.errors import RolloutError
from kfops.rollout.drivers import kube

IMPERSONATE_USER = "Impersonate-User"
REVIEW_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

PERMISSIONS: tuple[Permission, ...] = (
    # The page lists and reads ModelRollouts with the dashboard's own account (read only).
    Permission(ROLLOUT_GROUP, ROLLOUT_PLURAL, ("get", "list")),
    # Whether the user at the keyboard may patch the rollout (access_review).
    Permission("authorization.k8s.io", "subjectaccessreviews", ("create",)),
    # The command is written as that user: the API server checks the user's RBAC again.
    Permission("", "users", ("impersonate",)),
)
"""Every request this module makes; the dashboard's ClusterRole grants exactly these."""


class ClusterRollouts:
    """The ModelRollouts of one namespace, read and steered through one API client."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def list(self) -> list[dict[str, Any]]:
        items = kube.list_rollouts(self.api, self.namespace)
        return [summary(cluster_view(item)) for item in items]

    def get(self, name: str) -> dict[str, Any]:
        return cluster_view(kube.get_rollout(self.api, self.namespace, name))

    def exists(self, name: str) -> bool:
        return any(row["name"] == name for row in self.list())

    def can_patch(self, user: str, name: str) -> bool:
        """Kubernetes' answer to "may ``user`` patch this ModelRollout?"."""
        answer = kube_api.call(
            self.api,
            "POST",
            REVIEW_PATH,
            f"review {user}'s access to {ROLLOUT_PLURAL}/{name}",
            error=RolloutError,
            body=access_review(user, self.namespace, name),
        )
        return bool((answer.get("status") or {}).get("allowed"))

    def send_as(self, user: str, name: str, command: str, **arguments: Any) -> None:
        """Write the command request as ``kubectl kfops`` does, impersonating ``user``."""
        from kubernetes import client

        acting = client.ApiClient(self.api.configuration)
        acting.set_default_header(IMPERSONATE_USER, user)
        request = {
            "command": command,
            "arguments": arguments,
            "id": uuid.uuid4().hex[:12],
            "requestedAt": time.time(),
        }
        annotation = {kube.COMMAND_ANNOTATION: json.dumps(request, sort_keys=True)}
        kube.annotate(acting, self.namespace, name, annotation)

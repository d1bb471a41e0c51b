"""Kubernetes I/O of the dashboard in the cluster: read ModelRollouts as the signed-in user,
ask whether that user may patch one (SubjectAccessReview), and leave a command on it as that
user (impersonation).

The decision itself is :func:`kfops.dashboard.access.decide`; nothing here decides. A
command travels as ``kubectl kfops rollout <command>`` sends it: a request in the
``rollouts.kfops.io/command`` annotation that the operator carries out through the engine's
command handlers (:mod:`kfops.rollout.engine.commands`).
"""

from __future__ import annotations

from typing import Any

from kfops.cluster import kube_api
from kfops.cluster.kube_api import Permission
from kfops.cluster.names import ROLLOUT_PLURAL
from kfops.dashboard.access import access_review
from kfops.dashboard.rollouts import cluster_view, summary
from kfops.errors import RolloutError
from kfops.rollout.drivers import kube

IMPERSONATE_USER = "Impersonate-User"
REVIEW_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

PERMISSIONS: tuple[Permission, ...] = (
    # Whether the user at the keyboard may patch the rollout (access_review).
    Permission("authorization.k8s.io", "subjectaccessreviews", ("create",)),
    # Reads and commands are made as that user: the API server applies the user's RBAC.
    Permission("", "users", ("impersonate",)),
)
"""Every request this module makes; the dashboard's ClusterRole grants exactly these."""


def impersonating(api: Any, user: str) -> Any:
    """A client on ``api``'s cluster that acts as ``user`` (``Impersonate-User``)."""
    from kubernetes import client

    acting = client.ApiClient(api.configuration)
    acting.set_default_header(IMPERSONATE_USER, user)
    return acting


class ClusterRollouts:
    """The ModelRollouts of one namespace, read and steered through one API client."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self._per_user: dict[str, ClusterRollouts] = {}

    def as_user(self, user: str) -> ClusterRollouts:
        """The same namespace read as ``user``: the user's RBAC decides what is listed."""
        if user not in self._per_user:
            self._per_user[user] = ClusterRollouts(impersonating(self.api, user), self.namespace)
        return self._per_user[user]

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
        kube.request_command(
            impersonating(self.api, user), self.namespace, name, command, **arguments
        )

"""Who may press a rollout's buttons: one pure decision, apart from Kubernetes I/O.

Locally the buttons act as the person who started ``kfops dashboard --allow-actions`` (the
same person who could type ``kfops rollout abort``). In the cluster the dashboard acts with
the user's identity, never its own: the Kubeflow central dashboard's gateway authenticates
the user and passes the name in a header (``kubeflow-userid: alice@example.com``, possibly
with a prefix such as ``accounts.google.com:``); the dashboard asks Kubernetes whether that
user may ``patch`` the ModelRollout (a SubjectAccessReview, :mod:`kfops.dashboard.cluster`)
and then sends the command impersonating the user, so the API server checks the same RBAC
again on the write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kfops.cluster.names import ROLLOUT_GROUP, ROLLOUT_PLURAL
from kfops.dashboard.rollouts import COMMANDS

USER_HEADER = "kubeflow-userid"
"""The header the Kubeflow central dashboard's gateway sets to the authenticated user."""
PATCH = "patch"


@dataclass(frozen=True)
class ActionPolicy:
    """How the dashboard was started: read-only unless ``allow_actions``."""

    allow_actions: bool = False
    cluster: bool = False
    user_header: str = USER_HEADER
    user_prefix: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    user: str | None = None


def user_from_headers(headers: Mapping[str, str], policy: ActionPolicy) -> str | None:
    """The authenticated user the gateway named, its prefix removed; None when absent.

    ``{"kubeflow-userid": "accounts.google.com:alice@example.com"}`` with prefix
    ``accounts.google.com:`` -> ``alice@example.com``.
    """
    raw = (headers.get(policy.user_header) or "").strip()
    user = raw.removeprefix(policy.user_prefix).strip() if policy.user_prefix else raw
    return user or None


def decide(
    policy: ActionPolicy,
    command: str,
    user: str | None,
    can_patch: Callable[[str], bool],
) -> Decision:
    """Whether ``command`` may run for this request.

    ``can_patch(user)`` asks Kubernetes (only in the cluster, only for a named user); its
    answer is the whole of the RBAC decision: the dashboard adds no rule of its own.
    """
    if not policy.allow_actions:
        return Decision(
            False, "read-only dashboard: start it with --allow-actions to steer rollouts"
        )
    if command not in COMMANDS:
        return Decision(False, f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    if not policy.cluster:
        return Decision(True, "local rollout: acts as the user who started the dashboard")
    if user is None:
        return Decision(
            False,
            f"no user: the request has no {policy.user_header} header; open the dashboard "
            "through the Kubeflow central dashboard",
        )
    if not can_patch(user):
        return Decision(
            False,
            f"{user} may not {PATCH} {ROLLOUT_PLURAL}.{ROLLOUT_GROUP} (Kubernetes RBAC)",
            user,
        )
    return Decision(True, f"{user} may {PATCH} {ROLLOUT_PLURAL} (Kubernetes RBAC)", user)


def access_review(user: str, namespace: str, name: str) -> dict[str, Any]:
    """The SubjectAccessReview asking whether ``user`` may patch one ModelRollout."""
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "resourceAttributes": {
                "group": ROLLOUT_GROUP,
                "resource": ROLLOUT_PLURAL,
                "verb": PATCH,
                "namespace": namespace,
                "name": name,
            },
        },
    }

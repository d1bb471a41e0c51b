"""Who may steer from the page: read-only by default, the local user locally, and in the
cluster only a named user whom Kubernetes RBAC lets patch the ModelRollout."""

from __future__ import annotations

import pytest

from kfops.dashboard.access import ActionPolicy, access_review, decide, user_from_headers

LOCAL = ActionPolicy(allow_actions=True)
CLUSTER = ActionPolicy(allow_actions=True, cluster=True)
NO_REVIEW = object()


@pytest.mark.parametrize(
    ("policy", "command", "user", "rbac", "allowed", "reason"),
    [
        (ActionPolicy(), "abort", None, NO_REVIEW, False, "read-only dashboard"),
        (ActionPolicy(cluster=True), "abort", "alice", NO_REVIEW, False, "read-only"),
        (LOCAL, "delete", None, NO_REVIEW, False, "unknown command 'delete'"),
        (LOCAL, "abort", None, NO_REVIEW, True, "local rollout"),
        (LOCAL, "set-weight", None, NO_REVIEW, True, "local rollout"),
        (CLUSTER, "abort", None, NO_REVIEW, False, "no kubeflow-userid header"),
        (CLUSTER, "promote", "bob", False, False, "bob may not patch modelrollouts"),
        (CLUSTER, "promote", "alice", True, True, "alice may patch"),
    ],
)
def test_the_decision_table(policy, command, user, rbac, allowed, reason) -> None:
    asked: list[str] = []

    def can_patch(who: str) -> bool:
        asked.append(who)
        assert rbac is not NO_REVIEW, "Kubernetes must not be asked here"
        return bool(rbac)

    decision = decide(policy, command, user, can_patch)
    assert decision.allowed is allowed
    assert reason in decision.reason
    assert asked == ([] if rbac is NO_REVIEW else [user])


@pytest.mark.parametrize(
    ("headers", "prefix", "user"),
    [
        ({"kubeflow-userid": "alice@example.com"}, "", "alice@example.com"),
        (
            {"kubeflow-userid": "accounts.google.com:alice@example.com"},
            "accounts.google.com:",
            "alice@example.com",
        ),
        ({"kubeflow-userid": "  "}, "", None),
        ({}, "", None),
        ({"x-other": "mallory"}, "", None),
    ],
)
def test_the_user_comes_from_the_gateways_header(headers, prefix, user) -> None:
    assert user_from_headers(headers, ActionPolicy(user_prefix=prefix)) == user


def test_the_access_review_asks_about_patching_one_rollout() -> None:
    review = access_review("alice@example.com", "team", "churn")
    assert review["kind"] == "SubjectAccessReview"
    assert review["spec"] == {
        "user": "alice@example.com",
        "resourceAttributes": {
            "group": "rollouts.kfops.io",
            "resource": "modelrollouts",
            "verb": "patch",
            "namespace": "team",
            "name": "churn",
        },
    }

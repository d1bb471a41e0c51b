"""The dashboard's Kubernetes I/O against a recording API on 127.0.0.1: the access review,
the command written as the user (impersonation) in the operator's annotation, and RBAC in the
manifest granting exactly what the code declares."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kfops.cluster.names import COMMAND_ANNOTATION
from kfops.dashboard.cluster import PERMISSIONS, REVIEW_PATH, ClusterRollouts
from tests.support.recording import recording

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "base" / "dashboard.yaml"
PATH = "/apis/rollouts.kfops.io/v1alpha1/namespaces/team/modelrollouts"
AGGREGATE = "rbac.authorization.kubeflow.org/aggregate-to-"
ROLLOUT = {
    "metadata": {"name": "churn", "namespace": "team"},
    "spec": {
        "model": "churn-classifier",
        "stable": {"version": "1"},
        "candidate": {"version": "2"},
        "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
    },
    "status": {"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 20},
}


def test_rollouts_are_read_as_the_user_in_the_same_view_as_local_ones() -> None:
    def respond(request):
        return 200, ({"items": [ROLLOUT]} if request.path == PATH else ROLLOUT)

    with recording(respond) as api:
        rollouts = ClusterRollouts(api.client(), "team").as_user("alice")
        (row,) = rollouts.list()
        view = rollouts.get("churn")
    assert [r.headers["impersonate-user"] for r in api.requests] == ["alice", "alice"]
    assert row == {
        "name": "churn",
        "model": "churn-classifier",
        "phase": "Paused",
        "aborted": False,
        "step": 1,
        "weight": 20,
        "stable": "1",
        "candidate": "2",
    }
    assert [s["state"] for s in view["steps"]] == ["done", "current"]
    assert view["namespace"] == "team"


def test_the_review_answer_is_the_decision() -> None:
    for allowed in (True, False):
        with recording(lambda r, a=allowed: (201, {"status": {"allowed": a}})) as api:
            assert ClusterRollouts(api.client(), "team").can_patch("alice", "churn") is allowed
        (request,) = api.requests
        assert (request.method, request.path) == ("POST", REVIEW_PATH)
        assert request.json()["spec"]["user"] == "alice"
        assert "impersonate-user" not in request.headers  # asked as the dashboard


def test_a_command_is_written_as_the_user_in_the_operators_annotation() -> None:
    with recording() as api:
        ClusterRollouts(api.client(), "team").send_as("alice", "churn", "set-weight", weight=30)
    (request,) = api.requests
    assert (request.method, request.path) == ("PATCH", f"{PATH}/churn")
    assert request.headers["impersonate-user"] == "alice"
    sent = json.loads(request.json()["metadata"]["annotations"][COMMAND_ANNOTATION])
    assert (sent["command"], sent["arguments"]) == ("set-weight", {"weight": 30})


def test_the_manifest_grants_exactly_what_the_code_declares() -> None:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    own = [d for d in docs if d["kind"] in ("Role", "ClusterRole")
           and not any(k.startswith(AGGREGATE) for k in d["metadata"]["labels"])]  # fmt: skip
    granted = {
        (group, resource, verb)
        for doc in own
        for rule in doc["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {(p.group, p.resource, v) for p in PERMISSIONS for v in p.verbs}
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["kfops", "dashboard", "--cluster"]
    assert "--allow-actions" not in command  # read-only unless the operator of the site opts in


def test_kubeflow_editors_may_steer_and_viewers_read_their_rollouts() -> None:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    aggregated = {
        label.removeprefix(AGGREGATE): set(rule["verbs"])
        for doc in docs
        for label in doc["metadata"]["labels"]
        if label.startswith(AGGREGATE)
        for rule in doc["rules"]
        if rule["resources"] == ["modelrollouts"]
    }
    assert aggregated == {
        "kubeflow-edit": {"get", "list", "watch", "patch"},
        "kubeflow-view": {"get", "list", "watch"},
    }

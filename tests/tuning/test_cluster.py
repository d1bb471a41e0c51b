"""Running an Experiment against a recording emulator of the Kubernetes API on 127.0.0.1."""

from __future__ import annotations

import pytest

from kfops.config import TaskType
from kfops.errors import ClusterError
from kfops.metrics import Direction
from kfops.tuning.cluster import create_experiment, tune_on_katib, wait_for_experiment
from kfops.tuning.katib import build_experiment, experiment_to_dict
from kfops.tuning.results import TrialState
from tests.tuning.conftest import churn_config

NS, NAME = "team-a", "churn-tune-0a1b2c3d"
BASE = "/apis/kubeflow.org/v1beta1/namespaces/team-a"
LABEL = "katib.kubeflow.org/experiment"


def cond(type_: str, status: str = "True", reason: str = "", message: str = "") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message}


OPTIMAL = {
    "bestTrialName": f"{NAME}-x7k2",
    "parameterAssignments": [
        {"name": "max_depth", "value": "5"},
        {"name": "min_samples_leaf", "value": "12"},
        {"name": "max_features", "value": "log2"},
    ],
    "observation": {
        "metrics": [{"name": "roc_auc", "latest": "0.8312", "min": "0.8", "max": "0.8312"}]
    },
}
PROGRESSING = [
    {},
    {"conditions": [cond("Created")], "trials": 2, "trialsRunning": 2},
    {
        "conditions": [cond("Created"), cond("Running")],
        "trials": 4,
        "trialsSucceeded": 2,
        "trialsRunning": 2,
        "currentOptimalTrial": {
            **OPTIMAL,
            "observation": {"metrics": [{"name": "roc_auc", "latest": "0.81"}]},
        },
    },
    {
        "conditions": [
            cond("Running", "False"),
            cond("Succeeded", reason="ExperimentMaxTrialsReached"),
        ],
        "trials": 4,
        "trialsSucceeded": 3,
        "trialsFailed": 1,
        "currentOptimalTrial": OPTIMAL,
    },
]


def trial(name: str, created: str, state: str, value: str | None, depth: str) -> dict:
    status = {"conditions": [cond(state)], "startTime": created, "completionTime": created}
    if value:
        status["observation"] = {"metrics": [{"name": "roc_auc", "latest": value}]}
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {LABEL: NAME},
            "creationTimestamp": created,
        },
        "spec": {
            "parameterAssignments": [
                {"name": "max_depth", "value": depth},
                {"name": "min_samples_leaf", "value": "12"},
                {"name": "max_features", "value": "log2"},
            ]
        },
        "status": status,
    }


TRIALS = [
    trial(f"{NAME}-x7k2", "2026-01-01T00:00:01Z", "Succeeded", "0.8312", "5"),
    trial(f"{NAME}-a1b2", "2026-01-01T00:00:02Z", "Succeeded", "0.81", "3"),
    trial(f"{NAME}-c3d4", "2026-01-01T00:00:03Z", "Failed", None, "8"),
    trial(f"{NAME}-e5f6", "2026-01-01T00:00:04Z", "Succeeded", "0.79", "2"),
    trial("other-exp-zzzz", "2026-01-01T00:00:05Z", "Succeeded", "0.99", "4")
    | {"metadata": {"name": "other-exp-zzzz", "namespace": NS, "labels": {LABEL: "other"}}},
]


@pytest.fixture
def body() -> dict:
    cfg = churn_config()
    built = build_experiment(
        cfg, TaskType.CLASSIFICATION, name=NAME, namespace=NS, train_uri="s3://b/t"
    )
    return experiment_to_dict(built)


def run(custom_objects, body):
    tuning = churn_config().tuning
    return tune_on_katib(
        custom_objects, body, tuning, "roc_auc", Direction.MAXIMIZE, poll_seconds=0.01
    )


def test_creates_follows_and_reads_the_best_trial(katib_api, custom_objects, body):
    katib_api.statuses, katib_api.trials = PROGRESSING, TRIALS
    seen: list[tuple[int, float | None]] = []
    cfg = churn_config()
    result = tune_on_katib(
        custom_objects,
        body,
        cfg.tuning,
        "roc_auc",
        Direction.MAXIMIZE,
        poll_seconds=0.01,
        on_progress=lambda done, best: seen.append((done, best)),
    )
    experiment = f"{BASE}/experiments"
    assert katib_api.routes() == [
        ("POST", experiment),
        *[("GET", f"{experiment}/{NAME}")] * 4,
        ("GET", f"{BASE}/trials"),
    ]
    assert katib_api.requests[0].body == body  # exactly the object built
    assert katib_api.requests[-1].query == {"labelSelector": [f"{LABEL}={NAME}"]}
    assert seen == [(0, None), (0, None), (2, 0.81), (4, 0.8312)]
    assert result.best_params == {"max_depth": 5, "min_samples_leaf": 12, "max_features": "log2"}
    assert (result.best_value, result.best_trial, result.backend) == (
        0.8312,
        f"{NAME}-x7k2",
        "katib",
    )
    assert [t.state for t in result.trials] == [TrialState.SUCCEEDED] * 2 + [
        TrialState.FAILED,
        TrialState.SUCCEEDED,
    ]
    assert result.trials[1].assignments["max_depth"] == "3"


def test_a_failed_experiment_names_the_limit(katib_api, custom_objects, body):
    message = "Experiment has failed because max failed count has reached"
    katib_api.statuses = [
        {"conditions": [cond("Failed", reason="ExperimentMaxFailedTrialsReached", message=message)]}
    ]
    with pytest.raises(
        ClusterError,
        match=rf"{NS}/{NAME} failed: ExperimentMaxFailedTrialsReached: .*tuning\.max_failed_trial_count",
    ):
        run(custom_objects, body)


def test_a_timeout_is_a_cluster_error(katib_api, custom_objects, body):
    katib_api.statuses = [{"conditions": [cond("Running")]}]
    katib_api.experiments[(NS, NAME)] = body
    with pytest.raises(
        ClusterError,
        match=r"still Running after tuning\.timeout_seconds=0\.2; .*kubectl get experiment",
    ):
        wait_for_experiment(
            custom_objects, NS, NAME, "roc_auc", timeout_seconds=0.2, poll_seconds=0.02
        )


@pytest.mark.parametrize(
    ("status", "match"),
    [
        (
            403,
            r"403: .*; grant the pipeline's service account the Role in manifests/base/katib-rbac\.yaml in 'team-a'",
        ),
        (404, r"404: .*; is Katib installed"),
        (400, r"400: admission webhook \"validator.* denied the request; .*docs/tuning\.md"),
    ],
)
def test_api_errors_become_cluster_errors(katib_api, custom_objects, body, status, match):
    katib_api.fail(
        "POST",
        "experiments",
        status,
        'admission webhook "validator.experiment.katib.kubeflow.org" denied the request',
    )
    with pytest.raises(
        ClusterError,
        match=rf"creating Katib Experiment {NS}/{NAME}: HTTP {match}",
    ):
        run(custom_objects, body)


def test_success_without_an_optimal_trial_is_an_error(katib_api, custom_objects, body):
    katib_api.statuses = [{"conditions": [cond("Succeeded")]}]
    with pytest.raises(ClusterError, match=r"without an optimal trial reporting roc_auc"):
        run(custom_objects, body)


def test_an_unreachable_api_is_a_cluster_error(body):
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:9"  # discard port: nothing listens
    configuration.retries = 0
    api = client.ApiClient(configuration)
    with pytest.raises(ClusterError, match=r"creating Katib .*: the Kubernetes API is unreachable"):
        run(api, body)


def test_the_rbac_role_grants_what_the_tuner_calls_and_no_more():
    import kubernetes_validate
    import yaml

    from tests.tuning.conftest import REPO

    docs = list(yaml.safe_load_all((REPO / "manifests" / "base" / "katib-rbac.yaml").read_text()))
    for doc in docs:
        kubernetes_validate.validate(doc, "1.36.0", strict=True)
    role, binding = docs
    granted = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert granted == {
        ("kubeflow.org", "experiments"): {"create", "get", "list", "watch", "delete"},
        ("kubeflow.org", "trials"): {"get", "list"},
    }
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"][0]["kind"] == "ServiceAccount"


def test_a_retried_step_follows_its_existing_experiment(katib_api, custom_objects, body):
    katib_api.experiments[(NS, NAME)] = body  # created by the step's first attempt
    katib_api.statuses, katib_api.trials = PROGRESSING[-1:], TRIALS
    result = run(custom_objects, body)
    assert katib_api.routes()[:2] == [
        ("POST", f"{BASE}/experiments"),
        ("GET", f"{BASE}/experiments/{NAME}"),
    ]
    assert result.best_value == 0.8312


def test_creating_a_taken_name_is_an_error_unless_allowed(katib_api, custom_objects, body):
    katib_api.experiments[(NS, NAME)] = body
    with pytest.raises(
        ClusterError, match=r"HTTP 409: .* already exists; an Experiment of that name exists"
    ):
        create_experiment(custom_objects, body)

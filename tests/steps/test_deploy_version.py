"""The training pipeline's deploy step (kfops.steps.deploy.run_deploy_version) against a
Kubernetes API stand-in on 127.0.0.1 that keeps the objects it is sent: a served version,
a rollout created and then re-aimed, a skip outside a pod; the bodies are checked against
the ModelRollout CRD's schema (and KServe's upstream one where ../shared is present), and
the pipeline's Role against the requests the step makes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfops.config import load_config
from kfops.config.rollout import RolloutPlan
from kfops.errors import ClusterError, ConfigurationError
from kfops.registry.versions import MODEL_SHA256_TAG
from kfops.rollout.drivers import crd
from kfops.steps.deploy import (
    IN_POD_ENV,
    PERMISSIONS,
    DeployAction,
    rollout_exists,
    run_deploy_version,
)
from tests.support.http_server import Request
from tests.support.recording import recording
from tests.support.rollout_world import world

REPO = Path(__file__).resolve().parents[2]
VALIDATE = REPO.parent / "shared" / "schemas" / "validate.py"
MODEL = "churn-classifier"
NS = "team"
ISVC = f"/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/{MODEL}"
MRO = f"/apis/rollouts.kfops.io/v1alpha1/namespaces/{NS}/modelrollouts/{MODEL}"
IN_POD = {IN_POD_ENV: "10.0.0.1"}
PLAN = {
    "analysisTemplates": [
        {
            "name": "error-rate",
            "metrics": [
                {
                    "name": "error-rate",
                    "successCondition": "result[0] <= 0.01",
                    "provider": {"prometheus": {"query": "vector(0)"}},
                }
            ],
        }
    ],
    "strategy": {
        "canary": {
            "steps": [
                {"setWeight": 20},
                {"analysis": {"templates": [{"templateName": "error-rate"}]}},
            ]
        }
    },
    "prometheus": {"address": "http://prometheus-operated.monitoring:9090"},
}


class FakeCluster:
    """Objects by path: a server-side apply stores the body (generation 1, then +1 on a
    change) and answers it; a GET answers the object, an InferenceService Ready, or 404."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def __call__(self, request: Request) -> tuple[int, Any]:
        if request.method == "PATCH":
            assert request.headers["content-type"] == "application/apply-patch+yaml"
            assert request.query == {"fieldManager": ["kfops"], "force": ["true"]}
            body = request.json()
            old = self.objects.get(request.path)
            generation = 1 if old is None else old["metadata"]["generation"] + 1
            if old is not None and old["spec"] == body["spec"]:
                generation -= 1
            body["metadata"]["generation"] = generation
            self.objects[request.path] = body
            return 200, body
        if request.path not in self.objects:
            return 404, {"kind": "Status", "code": 404, "message": "not found"}
        obj = copy.deepcopy(self.objects[request.path])
        if "/inferenceservices/" in request.path:
            obj["status"] = {
                "observedGeneration": obj["metadata"]["generation"],
                "conditions": [{"type": "Ready", "status": "True"}],
                "url": f"http://{MODEL}.{NS}.example.com",
            }
        return 200, obj


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A registry with versions 1, 2 and 3 of the model, 1 the champion (no test moves it)."""
    from mlflow import MlflowClient

    from kfops.registry.tracking import use_tracking

    tmp_path = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    use_tracking(uri, "deploy-tests", (tmp_path / "artifacts").as_uri())
    client = MlflowClient()
    client.create_registered_model(MODEL)
    for number in (1, 2, 3):
        folder = tmp_path / f"model-{number}"
        folder.mkdir()
        client.create_model_version(
            MODEL, folder.as_uri(), tags={MODEL_SHA256_TAG: str(number) * 64}
        )
    client.set_registered_model_alias(MODEL, "champion", "1")
    return uri


def config(registry: str, *, rollout: bool = True) -> Any:
    raw: dict[str, Any] = {
        "project": "churn",
        "data": {"path": "churn.csv", "target": "churned"},
        "registry": {"model_name": MODEL},
        "tracking": {"uri": registry},
        "cluster": {"namespace": NS, "image": "example.org/kfops:1"},
        "serving": {"ready_timeout_seconds": 5},
    }
    if rollout:
        raw["rollout"] = PLAN
    return load_config(raw=raw)


def routes(api: Any) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api.requests]


def model_arg(isvc: dict[str, Any]) -> str:
    args = isvc["spec"]["predictor"]["containers"][0]["args"]
    return args[args.index("--model") + 1]


def test_without_a_rollout_the_service_serves_the_new_version(registry: str) -> None:
    cluster = FakeCluster()
    with recording(cluster) as api:
        result = run_deploy_version(config(registry, rollout=False), "2", api.client())
    assert result.action is DeployAction.SERVED and result.rollout is None
    assert result.service is not None and result.service.version == "2"
    assert routes(api) == [("PATCH", ISVC), ("GET", ISVC)]
    assert model_arg(cluster.objects[ISVC]) == f"models:/{MODEL}/2"
    assert MRO not in cluster.objects


def test_the_first_version_is_served_directly_even_with_a_rollout(registry: str) -> None:
    cluster = FakeCluster()
    with recording(cluster) as api:
        result = run_deploy_version(config(registry), "1", api.client())
    assert result.action is DeployAction.SERVED
    assert routes(api) == [("PATCH", ISVC), ("GET", ISVC)]
    assert model_arg(cluster.objects[ISVC]) == f"models:/{MODEL}/1"


def test_a_rollout_is_created_then_re_aimed_at_the_next_version(registry: str) -> None:
    cluster = FakeCluster()
    with recording(cluster) as api:
        first = run_deploy_version(config(registry), "2", api.client())
        created = copy.deepcopy(cluster.objects)
        del api.requests[:]
        second = run_deploy_version(config(registry), "3", api.client())

    # First: no rollout yet, so the champion's service, Ready, then the rollout towards v2.
    assert first.action is DeployAction.ROLLOUT_CREATED
    assert first.rollout == f"{NS}/{MODEL}" and first.service is not None
    assert first.service.version == "1"
    assert model_arg(created[ISVC]) == f"models:/{MODEL}/1"
    assert "--sha256" in created[ISVC]["spec"]["predictor"]["containers"][0]["args"]
    spec = created[MRO]["spec"]
    assert (spec["model"], spec["stable"], spec["candidate"]) == (
        MODEL,
        {"version": "1"},
        {"version": "2"},
    )
    assert spec["traffic"] == {
        "backend": "kserve",
        "inferenceService": MODEL,
        "namespace": NS,
        "deploymentMode": "Serverless",
    }
    plan = RolloutPlan.model_validate(PLAN).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    assert spec["strategy"] == plan["strategy"]
    assert spec["analysisTemplates"] == plan["analysisTemplates"]
    assert spec["prometheus"] == PLAN["prometheus"]
    assert "paused" not in spec, "a deploy must not undo `kubectl kfops rollout pause`"

    # Second: the rollout exists; only its candidate changes (the operator starts over),
    # the service the operator steers is left alone.
    assert second.action is DeployAction.ROLLOUT_UPDATED and second.service is None
    assert routes(api) == [("GET", MRO), ("PATCH", MRO)]
    assert cluster.objects[ISVC] == created[ISVC]
    updated = cluster.objects[MRO]
    assert updated["spec"]["candidate"] == {"version": "3"}
    assert updated["spec"]["stable"] == {"version": "1"}
    assert {k: v for k, v in updated["spec"].items() if k != "candidate"} == {
        k: v for k, v in spec.items() if k != "candidate"
    }
    assert updated["metadata"]["generation"] == 2


def test_the_request_order_of_a_first_rollout(registry: str) -> None:
    with recording(FakeCluster()) as api:
        run_deploy_version(config(registry), "2", api.client())
    assert routes(api) == [("GET", MRO), ("PATCH", ISVC), ("GET", ISVC), ("PATCH", MRO)]


def test_the_operator_restarts_a_rollout_whose_candidate_changed(registry: str) -> None:
    """What the operator makes of the re-aimed object: the rollout starts over at step 1."""
    from kfops.rollout.drivers.operator import reconcile_object

    cluster = FakeCluster()
    with recording(cluster) as api:
        run_deploy_version(config(registry), "2", api.client())
        towards_2 = copy.deepcopy(cluster.objects[MRO])
        run_deploy_version(config(registry), "3", api.client())
    towards_3 = copy.deepcopy(cluster.objects[MRO])
    progressed = reconcile_object(towards_2, world(), now=100.0)
    assert progressed.status["currentStepIndex"] == 1 and progressed.status["canaryWeight"] == 20
    towards_3["status"] = progressed.status
    restarted = reconcile_object(towards_3, world(), now=101.0)
    assert "spec changed: starting the rollout over at step 1" in restarted.events
    assert restarted.status["candidateVersion"] == "3"
    (run,) = restarted.status["analysisRuns"]
    assert (run["name"], run["startedAt"]) == ("step-1", 101.0), "a new analysis, not v2's"


def test_bodies_match_the_modelrollout_crd(registry: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    (version,) = crd.custom_resource_definition()["spec"]["versions"]
    validator = jsonschema.Draft4Validator(crd.json_schema(version["schema"]["openAPIV3Schema"]))
    cluster = FakeCluster()
    with recording(cluster) as api:
        run_deploy_version(config(registry), "2", api.client())
    body = copy.deepcopy(cluster.objects[MRO])
    del body["metadata"]["generation"]
    assert [e.message for e in validator.iter_errors(body)] == []


@pytest.mark.skipif(not VALIDATE.exists(), reason="../shared/schemas is not here")
def test_bodies_validate_against_the_upstream_schemas(registry: str, tmp_path: Path) -> None:
    cluster = FakeCluster()
    with recording(cluster) as api:
        run_deploy_version(config(registry), "2", api.client())
    for index, obj in enumerate(cluster.objects.values()):
        (tmp_path / f"object-{index}.yaml").write_text(json.dumps(obj))
    # The validator learns the ModelRollout's schema from its CRD among the files.
    crd_file = REPO / "manifests" / "base" / "modelrollout-crd.yaml"
    (tmp_path / crd_file.name).write_text(crd_file.read_text())
    done = subprocess.run(
        [sys.executable, str(VALIDATE), "-q", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 ok, 0 failed, 0 skipped" in done.stdout, done.stdout


def test_outside_a_pod_nothing_is_sent(registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import kfops.cluster.kube_client as kube_client

    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the step built a Kubernetes client outside a pod")

    monkeypatch.setattr(kube_client, "api_client", no_client)
    result = run_deploy_version(config(registry), "2", environ={})
    assert result.action is DeployAction.SKIPPED
    assert "not in a Kubernetes pod" in result.message and "kfops rollout start" in result.message
    plain = run_deploy_version(config(registry, rollout=False), "2", environ={})
    assert "kfops serve" in plain.message


def test_refusals_are_one_line_cluster_errors_with_the_rbac_file(registry: str) -> None:
    def forbidden(request: Request) -> tuple[int, Any]:
        return 403, {"kind": "Status", "code": 403, "message": "modelrollouts is forbidden"}

    with recording(forbidden) as api, pytest.raises(ClusterError) as caught:
        run_deploy_version(config(registry), "2", api.client())
    assert caught.value.message == (
        f"read ModelRollout {NS}/{MODEL}: HTTP 403: modelrollouts is forbidden; "
        "grant the pipeline's service account the Role in manifests/base/pipeline-rbac.yaml"
    )
    with recording(forbidden) as api, pytest.raises(ClusterError):
        rollout_exists(api.client(), NS, MODEL)


def test_the_pipeline_role_grants_exactly_what_the_step_calls(registry: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = [
        d for d in yaml.safe_load_all((REPO / "manifests/base/pipeline-rbac.yaml").read_text()) if d
    ]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.31.0", strict=True)
    role, binding = docs
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    declared = {(p.group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    assert granted == declared
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    # What the step really sent is covered: GET is get, an apply is patch (and create).
    with recording(FakeCluster()) as api:
        run_deploy_version(config(registry), "2", api.client())
        run_deploy_version(config(registry), "3", api.client())
    verbs = {"GET": ("get",), "PATCH": ("patch", "create")}
    used = {
        (group, resource, verb)
        for request in api.requests
        for group, resource in [_group_resource(request.path)]
        for verb in verbs[request.method]
    }
    assert used == declared


def _group_resource(path: str) -> tuple[str, str]:
    # /apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME
    parts = path.split("/")
    return parts[2], parts[6]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prometheus": None}, "rollout.prometheus.address"),
        (
            {"metric_address": "http://localhost:9090"},
            "rollout.analysisTemplates[error-rate].metrics[error-rate].provider.prometheus.address",
        ),
    ],
)
def test_a_loopback_prometheus_is_refused_before_anything_is_sent(
    registry: str, change: dict[str, Any], field: str
) -> None:
    cfg = config(registry)
    plan = copy.deepcopy(PLAN)
    if "prometheus" in change:
        del plan["prometheus"]  # the local default, 127.0.0.1
    else:
        metric = plan["analysisTemplates"][0]["metrics"][0]
        metric["provider"]["prometheus"]["address"] = change["metric_address"]
    cfg = cfg.model_copy(update={"rollout": RolloutPlan.model_validate(plan)})
    with recording(FakeCluster()) as api, pytest.raises(ConfigurationError) as caught:
        run_deploy_version(cfg, "2", api.client())
    assert caught.value.message.startswith(f"{field}: ")
    assert "loopback" in caught.value.message
    assert api.requests == []

"""The operator's reconcile of a ModelRollout object, without a cluster: the object in, the
status and annotation patch out, the world's actions recorded."""

from __future__ import annotations

import json
import re

import kopf
import pytest

from kfops.cluster.names import ROLLOUT_GROUP, ROLLOUT_PLURAL
from kfops.errors import ConfigurationError
from kfops.rollout.drivers import operator
from kfops.rollout.drivers.operator import COMMAND_ANNOTATION, candidate_predictor, reconcile_object
from kfops.rollout.engine.actions import MoveAlias, SetTraffic
from tests.support.rollout_world import Recorder, world

SPEC = {
    "model": "churn",
    "stable": {"version": "1"},
    "candidate": {"version": "2"},
    "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}},
    "traffic": {"backend": "kserve", "inferenceService": "churn"},
}


NOT_FOUND = "set traffic on InferenceService default/churn: 404 Not Found"


def obj(status=None, command=None, spec=SPEC) -> dict:
    annotations = {COMMAND_ANNOTATION: json.dumps(command)} if command else {}
    return {"metadata": {"name": "churn", "annotations": annotations}, "spec": spec,
            "status": status or {}}  # fmt: skip


def test_a_new_rollout_takes_its_first_steps_and_writes_its_status() -> None:
    w = world()
    update = reconcile_object(obj(), w, now=100.0)
    assert w.traffic.got == [SetTraffic(candidate_weight=25)]
    assert update.status["phase"] == "Paused" and update.status["canaryWeight"] == 25
    assert update.status["currentStepIndex"] == 1
    assert any("setWeight 25" in event for event in update.events)
    # The next reconcile, from the written status, repeats nothing.
    again = reconcile_object(obj(update.status), w, now=101.0)
    assert w.traffic.got == [SetTraffic(candidate_weight=25)]
    assert again.status["currentStepIndex"] == 1


def test_a_command_is_carried_out_once_and_its_annotation_removed() -> None:
    w = world()
    status = reconcile_object(obj(), w, now=100.0).status
    request = {"command": "promote", "id": "abc", "arguments": {}}
    update = reconcile_object(obj(status, request), w, now=101.0)
    assert update.annotations == {COMMAND_ANNOTATION: None}
    assert update.status["phase"] == "Healthy"
    assert update.status["lastCommand"]["id"] == "abc"
    assert w.traffic.got[-1] == SetTraffic(candidate_weight=100)
    assert w.aliases.got == [MoveAlias("churn", "champion", "2")]
    # The annotation removal was lost and the same request is seen again: not re-applied.
    replay = reconcile_object(obj(update.status, request), w, now=102.0)
    assert w.aliases.got == [MoveAlias("churn", "champion", "2")]
    assert replay.annotations == {COMMAND_ANNOTATION: None}


def test_a_refused_command_is_reported_not_raised() -> None:
    w = world()
    status = reconcile_object(obj(), w, now=100.0).status
    aborted = reconcile_object(obj(status, {"command": "abort", "id": "1"}), w, now=101.0)
    assert aborted.status["phase"] == "Degraded" and w.traffic.got[-1] == SetTraffic(0)
    update = reconcile_object(obj(aborted.status, {"command": "promote", "id": "2"}), w, 102.0)
    assert update.status["lastCommand"]["error"].startswith("promote: the rollout is aborted")
    assert any("retry" in warning for warning in update.warnings)
    garbled = reconcile_object(obj(aborted.status, None), w, 103.0)
    assert garbled.status["phase"] == "Degraded"


BAD_SPEC = {**SPEC, "strategy": {"canary": {"steps": [{"setWeight": 150}]}}}
BAD_FIELD = "'strategy.canary.steps[0].setWeight'"


def test_an_invalid_spec_is_refused_with_the_field_named() -> None:
    w = world()
    expected = re.escape(f"ModelRollout churn: spec: invalid value 150 for {BAD_FIELD}")
    with pytest.raises(ConfigurationError, match=expected):
        reconcile_object(obj(spec=BAD_SPEC), w, now=100.0)
    assert w.traffic.got == [] and w.aliases.got == []


def test_the_kopf_handler_refuses_an_invalid_spec_before_reconciling() -> None:
    body = obj(spec=BAD_SPEC)
    body["metadata"]["namespace"] = "team"
    patch, memo = kopf.Patch(), kopf.Memo()
    with pytest.raises(kopf.PermanentError) as caught:
        operator.reconcile(body=body, namespace="team", patch=patch, memo=memo)
    message = str(caught.value)
    assert message.startswith("ModelRollout team/churn: spec: invalid value 150 for " + BAD_FIELD)
    assert "less than or equal to 100" in message and "\n" not in message
    assert isinstance(caught.value.__cause__, ConfigurationError)
    assert "api" not in memo  # stopped before a Kubernetes client or a world was made
    assert not patch  # no status written: nothing reached reconcile_object


def test_a_failed_action_keeps_the_step_and_says_it_retries() -> None:
    update = reconcile_object(obj(), world(Recorder(fail=True, message=NOT_FOUND)), now=100.0)
    assert update.status["currentStepIndex"] == 0 and update.status["canaryWeight"] == 0
    assert update.status["message"].startswith("retrying: set traffic on InferenceService")


def test_the_candidate_predictor_is_stables_with_the_candidate_model() -> None:
    stable = {
        "minReplicas": 1,
        "labels": {"kfops.io/model-version": "1", "kfops.io/variant": "champion"},
        "containers": [{"name": "kfops", "args": ["serve", "--model", "models:/churn/1",
                                                  "--sha256", "aaa", "--port", "8080"]}],
    }  # fmt: skip
    predictor = candidate_predictor(stable, "churn", "2", "bbb", None)
    assert predictor["containers"][0]["args"][1:5] == ["--model", "models:/churn/2", "--sha256",
                                                        "bbb"]  # fmt: skip
    assert predictor["labels"] == {"kfops.io/model-version": "2", "kfops.io/variant": "candidate"}
    assert stable["containers"][0]["args"][2] == "models:/churn/1"  # not modified in place
    runtime = candidate_predictor({"model": {"storageUri": "s3://a/1"}}, "churn", "2", None,
                                  "s3://a/2")  # fmt: skip
    assert runtime["model"]["storageUri"] == "s3://a/2"


def test_kopf_reconciles_modelrollouts_on_a_timer() -> None:
    timers = kopf.get_default_registry()._spawning.get_all_handlers()
    ours = [t for t in timers if t.fn is operator.reconcile]
    assert len(ours) == 1
    assert (ours[0].selector.group, ours[0].selector.any_name) == (ROLLOUT_GROUP, ROLLOUT_PLURAL)
    assert ours[0].interval == operator.RECONCILE_SECONDS
    settings = kopf.OperatorSettings()
    operator.configure(settings=settings)
    assert settings.scanning.disabled and settings.peering.standalone


def test_the_operator_deployment_runs_this_module_with_what_it_needs() -> None:
    from pathlib import Path

    import yaml

    manifest = Path(__file__).resolve().parents[3] / "manifests/base/rollout-operator.yaml"
    (deployment,) = [
        d for d in yaml.safe_load_all(manifest.read_text()) if d["kind"] == "Deployment"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["command"])
    assert "-m kfops.rollout.drivers.operator" in command and "--standalone" in command
    env = {item["name"] for item in container["env"]}
    assert operator.TRACKING_ENV in env and "KFOPS_ROLLOUT_INTERVAL" in env


def test_a_new_rollout_records_the_gate_decision_from_the_registry(tmp_path) -> None:
    """With the MLflow alias backend (as in the cluster), the status of a rollout that starts
    says which gate decision its candidate carries; a recording backend knows none."""
    from mlflow import MlflowClient

    from kfops.registry.champion import DECISION_TAG
    from kfops.rollout.backends.aliases import MlflowAliases
    from kfops.rollout.drivers.controller import World

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    experiment = client.create_experiment("gate", artifact_location=(tmp_path / "a").as_uri())
    for _ in range(2):
        run = client.create_run(experiment)
        client.create_model_version("churn", f"{run.info.artifact_uri}/m", run.info.run_id)
    client.set_model_version_tag("churn", "2", DECISION_TAG, "promote")
    w = World(Recorder(), MlflowAliases(uri), measure=lambda requests: [])
    assert reconcile_object(obj(), w, now=100.0).status["gateDecision"] == "promote"
    assert reconcile_object(obj(), world(), now=100.0).status["gateDecision"] is None

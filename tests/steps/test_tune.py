"""The tune step and its component: outcome, trial table, MLflow runs, both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.tune import component
from kfops.config import TuningBackend, config_to_dict
from kfops.errors import ConfigurationError
from kfops.steps import tune as step
from kfops.steps.results import TuneResult
from kfops.tuning import backends, cluster
from tests.tuning.conftest import TUNING, churn_config


def step_config(tmp_path: Path, **tuning_changes) -> dict:
    tuning = {**TUNING, **tuning_changes}
    cfg = churn_config(tuning, runtime={"root": str(tmp_path / "state")})
    return config_to_dict(cfg)


def mlflow_runs(config: dict, parent: str):
    import mlflow

    from kfops.config import config_from_dict

    cfg = config_from_dict(config)
    client = mlflow.MlflowClient(cfg.resolved_tracking_uri())
    experiment = client.get_experiment_by_name(cfg.experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    return next(r for r in runs if r.info.run_id == parent), children


def test_component_declares_its_inputs_and_outputs():
    spec = component.build("ghcr.io/kfops/kfops:test").component_spec
    assert list(spec.inputs) == ["config", "summary", "train", "pipeline_run"]
    assert {name: out.type for name, out in spec.outputs.items()} == {
        "trials": "system.Markdown@0.0.1",
        "best_params": "Dict",
        "objective": "String",
        "best_value": "Float",
        "mlflow_run_id": "String",
    }


def test_without_a_tuning_section_nothing_is_overridden(tmp_path, churn_train):
    config = step_config(tmp_path)
    del config["tuning"]
    result = step.run_tune(config, churn_train, str(tmp_path / "out"))
    assert isinstance(result, TuneResult)
    assert result.best_params == {} and result.backend == "none" and result.trials == 0
    assert result.mlflow_run_id == "" and Path(result.trials_json).read_text() == "[]"
    assert "No tuning section" in Path(result.trials_path).read_text()


@pytest.mark.slow
def test_local_tuning_step_tracks_every_trial(tmp_path, churn_train):
    config = step_config(tmp_path)
    out = tmp_path / "out"
    result = step.run_tune(config, churn_train, str(out), task="classification", pipeline_run="r1")
    assert result.backend == "local" and result.objective == "roc_auc"
    assert result.direction == "maximize" and result.trials == 4 == result.succeeded
    assert set(result.best_params) == {"max_depth", "min_samples_leaf", "max_features"}
    table = Path(result.trials_path).read_text()
    assert table.startswith("# Tuning: roc_auc (maximize), backend local") and "| best |" in table
    rows = json.loads(Path(result.trials_json).read_text())
    assert [row["state"] for row in rows] == ["Succeeded"] * 4
    parent, children = mlflow_runs(config, result.mlflow_run_id)
    assert (
        parent.data.tags["kfops.stage"] == "tuning"
        and parent.data.tags["kfops.pipeline_run"] == "r1"
    )
    assert parent.data.metrics["best_roc_auc"] == pytest.approx(result.best_value)
    assert parent.data.params["algorithm"] == "random"
    assert sorted(c.data.tags["mlflow.runName"] for c in children) == [
        f"trial-{i}" for i in range(4)
    ]
    assert all(c.data.tags["kfops.trial.state"] == "Succeeded" for c in children)
    assert {c.data.params["max_features"] for c in children} <= {"sqrt", "log2"}


@pytest.mark.slow
def test_katib_backend_runs_the_experiment_and_tracks_its_trials(
    tmp_path, churn_train, katib_api, custom_objects, monkeypatch
):
    config = step_config(tmp_path, backend="katib")
    config["cluster"] = {"namespace": "team-a", "image": "ghcr.io/kfops/kfops:test"}
    name = "churn-tune-" + __import__("hashlib").sha256(b"run-7").hexdigest()[:8]
    best = [{"name": "max_depth", "value": "4"}, {"name": "min_samples_leaf", "value": "3"}]
    best.append({"name": "max_features", "value": "sqrt"})
    metrics = {"metrics": [{"name": "roc_auc", "latest": "0.82"}]}
    succeeded = {"type": "Succeeded", "status": "True", "reason": "ExperimentGoalReached"}
    katib_api.statuses = [
        {"conditions": [{"type": "Running", "status": "True"}], "trialsRunning": 1},
        {
            "conditions": [succeeded],
            "trialsSucceeded": 1,
            "currentOptimalTrial": {
                "bestTrialName": f"{name}-t1",
                "parameterAssignments": best,
                "observation": metrics,
            },
        },
    ]
    katib_api.trials = [
        {
            "metadata": {"name": f"{name}-t1", "labels": {cluster.EXPERIMENT_LABEL: name}},
            "spec": {"parameterAssignments": best},
            "status": {
                "conditions": [{"type": "Succeeded", "status": "True"}],
                "observation": metrics,
            },
        }
    ]
    monkeypatch.setattr(cluster, "connect", lambda api_client=None: custom_objects)
    monkeypatch.setattr(backends, "POLL_SECONDS", 0.01)
    result = step.run_tune(
        config,
        churn_train,
        str(tmp_path / "out"),
        task="classification",
        train_uri="minio://b/train",
        pipeline_run="run-7",
    )
    assert result.best_params == {"max_depth": 4, "min_samples_leaf": 3, "max_features": "sqrt"}
    assert (result.backend, result.best_value, result.stopped) == ("katib", 0.82, "goal")
    sent = katib_api.requests[0]
    assert (sent.method, sent.path) == (
        "POST",
        "/apis/kubeflow.org/v1beta1/namespaces/team-a/experiments",
    )
    assert sent.body["metadata"]["name"] == name
    args = sent.body["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert args[args.index("--train") + 1] == "minio://b/train"
    _, children = mlflow_runs(config, result.mlflow_run_id)
    assert [c.data.tags["mlflow.runName"] for c in children] == [f"{name}-t1"]


def test_the_step_runs_the_backend_its_table_holds_for_the_type(tmp_path, churn_train, monkeypatch):
    """A backend is one table entry: the step hands it the request and tracks its trials."""
    from kfops.metrics import Direction
    from kfops.tuning.results import TrialRecord, TrialState, TuningResult

    seen = []

    def fixed(request: backends.TuningRequest) -> TuningResult:
        seen.append(request)
        record = TrialRecord(0, "fixed-0", {"max_depth": "3"}, TrialState.SUCCEEDED, 0.7)
        request.on_trial(record)
        return TuningResult(
            "fixed", "roc_auc", Direction.MAXIMIZE, {"max_depth": 3}, 0.7, "fixed-0", [record]
        )

    monkeypatch.setitem(backends.BACKENDS, "local", fixed)
    config = step_config(tmp_path)
    result = step.run_tune(config, churn_train, str(tmp_path / "out"), pipeline_run="r2")
    [request] = seen
    assert (request.task, request.train_uri, request.run_name) == (
        "classification",
        churn_train,
        "r2",
    )
    assert (result.backend, result.best_params, result.succeeded) == ("fixed", {"max_depth": 3}, 1)
    _, children = mlflow_runs(config, result.mlflow_run_id)
    assert [c.data.tags["mlflow.runName"] for c in children] == ["fixed-0"]
    assert backends.backend_for(TuningBackend.KATIB) is backends.tune_katib


def test_an_unknown_backend_type_names_the_choices():
    with pytest.raises(ConfigurationError) as caught:
        backends.backend_for("ray")
    assert str(caught.value) == (
        "tuning.backend: unknown type 'ray'; use one of katib, local (or auto)"
    )

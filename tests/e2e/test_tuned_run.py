"""``kfops run`` with a tuning section: a tune step whose best parameters train the model."""

import pytest

from tests.e2e.conftest import kfops, registry

pytestmark = pytest.mark.slow

TUNING = (
    "tuning={backend: local, algorithm: {name: random, settings: {random_state: '7'}},"
    " max_trial_count: 3, parallel_trial_count: 1, cv_folds: 2,"
    " parameters: [{name: max_depth, type: int, feasible_space: {min: '3', max: '9'}}]}"
)


def test_tuned_parameters_reach_the_trained_model(repo, state):
    config = repo / "examples" / "churn" / "kfops.yaml"
    result = kfops(
        "run",
        "--config",
        str(config),
        "--set",
        f"runtime.root={state}",
        "--set",
        "validation.enabled=false",
        "--set",
        "model.params.n_estimators=30",
        "--set",
        TUNING,
    )
    assert result.code == 0, result.output
    assert "✓ tune" in result.stdout
    client = registry(state)
    version = client.get_model_version_by_alias("churn-classifier", "champion")
    params = client.get_run(version.run_id).data.params
    assert 3 <= int(params["max_depth"]) <= 9, "the tuned value is a training parameter"
    assert params["n_estimators"] == "30", "untuned parameters keep their configured value"
    parents = client.search_runs(
        [client.get_experiment_by_name("churn").experiment_id],
        filter_string="tags.`mlflow.parentRunId` != ''",
    )
    assert len(parents) >= 3, "every trial is an MLflow child run"

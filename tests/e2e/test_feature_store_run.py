"""``kfops run`` with a Feast feature service: labels in, point-in-time features joined."""

import pytest

from tests.e2e.conftest import kfops, registry

pytestmark = pytest.mark.slow


def test_feature_service_run_trains_on_joined_features(repo, state):
    config = repo / "examples" / "churn" / "kfops.features.yaml"
    result = kfops("run", "--config", str(config), "--set", f"runtime.root={state}")
    assert result.code == 0, result.output
    assert "✓ features" in result.stdout
    client = registry(state)
    version = client.get_model_version_by_alias("churn-classifier-feast", "champion")
    run = client.get_run(version.run_id)
    assert run.data.metrics["roc_auc"] > 0.7, "features reached the model"
    logged = run.data.params
    assert logged["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    # Nothing of Feast's state is written into the committed repository.
    assert (state / "feast").is_dir()
    assert not list((repo / "feature_repo").glob("**/*.db"))

"""``kfops run`` end to end on the embedded default: real kfp.local, TFDV, MLflow."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from kfops.errors import ConfigurationError, DataError, ValidationError
from tests.e2e.conftest import kfops, registry


def aliases(state: Path, model: str) -> dict[str, str]:
    return {k: str(v) for k, v in registry(state).get_registered_model(model).aliases.items()}


pytestmark = pytest.mark.slow

STEPS = ["ingest", "features", "validate", "train", "evaluate", "register", "promote"]


@pytest.fixture(scope="module")
def churn_state(tmp_path_factory, repo) -> tuple[Path, object, object]:
    state = tmp_path_factory.mktemp("churn") / "state"
    config = repo / "examples" / "churn" / "kfops.yaml"
    first = kfops("run", "--config", str(config), "--set", f"runtime.root={state}")
    second = kfops("run", "--config", str(config), "--set", f"runtime.root={state}")
    return state, first, second


def test_bundled_example_trains_registers_and_promotes(churn_state):
    state, first, _ = churn_state
    assert first.code == 0, first.output
    for step in STEPS:
        assert f"✓ {step}" in first.stdout
    assert "version 1: promoted to champion" in first.stdout
    client = registry(state)
    assert aliases(state, "churn-classifier") == {"champion": "1", "challenger": "1"}
    version = client.get_model_version("churn-classifier", "1")
    assert version.tags["kfops.promotion.decision"] == "promote"
    run = client.get_run(version.run_id)
    assert run.data.metrics["roc_auc"] > 0.75
    assert run.data.tags["kfops.dataset.digest"]
    assert run.inputs.dataset_inputs, "the training set is logged as an MLflow dataset input"
    plots = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"confusion_matrix.png", "roc_curve.png", "feature_importance.png"} <= plots
    assert run.info.run_id in first.stdout
    statistics = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "statistics")}
    assert "train_stats.pb" in statistics, "training-set statistics are kept with the model"


def test_rerun_is_served_from_cache(churn_state):
    state, first, second = churn_state
    assert second.code == 0, second.output
    assert "cached: " + ", ".join(STEPS) in second.stdout
    assert aliases(state, "churn-classifier")["champion"] == "1"
    assert len(registry(state).search_model_versions("name = 'churn-classifier'")) == 1


def test_statistics_html_is_a_pipeline_artifact(churn_state):
    state, first, _ = churn_state
    pages = list((state / "pipeline_root").glob("**/validate/statistics"))
    assert pages and "<html" in pages[0].read_text()[:2000].lower()


def test_worse_challenger_does_not_replace_champion(churn_state, repo):
    state, first, _ = churn_state
    config = repo / "examples" / "churn" / "kfops.yaml"
    worse = kfops(
        "run",
        "--config",
        str(config),
        "--set",
        f"runtime.root={state}",
        "--set",
        "model.estimator=sklearn.dummy.DummyClassifier",
        "--set",
        "model.params={strategy: prior}",
    )
    assert worse.code == 0, worse.output
    assert "version 2: rejected by the gate" in worse.stdout
    client = registry(state)
    # A version that lost the gate gets no alias: it is no candidate for a rollout.
    assert aliases(state, "churn-classifier") == {"champion": "1", "challenger": "1"}
    tags = client.get_model_version("churn-classifier", "2").tags
    assert tags["kfops.promotion.decision"] == "keep"
    assert float(tags["kfops.promotion.champion_score"]) > float(tags["kfops.metric.roc_auc"])


def test_any_parquet_regression_dataset(repo, state):
    data = repo / "examples" / "housing" / "data" / "housing.parquet"
    result = kfops(
        "run", "--data", str(data), "--target", "price", "--set", f"runtime.root={state}"
    )
    assert result.code == 0, result.output
    assert "rmse *" in result.stdout
    assert aliases(state, "housing-model")["champion"] == "1"
    assert (state / "schemas" / "housing" / "schema.pbtxt").is_file(), "schema inferred and saved"


def test_anomalous_data_stops_before_training(repo, state, tmp_path):
    data = repo / "tests" / "fixtures" / "churn_anomalous.csv"
    config = repo / "examples" / "churn" / "kfops.yaml"
    schema = repo / "examples" / "churn" / "schema" / "schema.pbtxt"
    before = schema.read_bytes()
    result = kfops(
        "run", "--config", str(config), "--data", str(data), "--set", f"runtime.root={state}"
    )
    assert result.code == ValidationError.exit_code, result.output
    assert "✗ validate" in result.stdout
    message = result.stderr.strip().splitlines()[-1]
    for needle in ("contract", "lifetime", "age", "support_calls"):
        assert needle in message
    assert "✓ train" not in result.stdout
    assert registry(state).search_registered_models() == []
    assert schema.read_bytes() == before


@pytest.mark.parametrize(
    ("make", "args", "code", "needle"),
    [
        ("missing", ["--target", "churned"], DataError.exit_code, "file not found"),
        ("churn", ["--target", "no_such_column"], DataError.exit_code, "no_such_column"),
        ("single_class", ["--target", "churned"], DataError.exit_code, "single-class"),
        ("empty", ["--target", "churned"], DataError.exit_code, "empty"),
        (
            "churn",
            ["--target", "churned", "--set", "model.params.bogus=1"],
            ConfigurationError.exit_code,
            "model.params.bogus",
        ),
        (
            "churn",
            ["--target", "churned", "--set", "data.split.test_size=2"],
            ConfigurationError.exit_code,
            "data.split.test_size",
        ),
    ],
)
def test_bad_input_is_one_line_and_registers_nothing(
    repo, state, tmp_path, make, args, code, needle
):
    source = repo / "tests" / "fixtures" / "churn_small.csv"
    data = tmp_path / f"{make}.csv"
    if make == "churn":
        shutil.copy(source, data)
    elif make == "single_class":
        frame = pd.read_csv(source)
        frame.assign(churned=0).to_csv(data, index=False)
    elif make == "empty":
        data.write_text(",".join(pd.read_csv(source, nrows=1).columns) + "\n")
    result = kfops("run", "--data", str(data), *args, "--set", f"runtime.root={state}")
    assert result.code == code, result.output
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("kfops: error")]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    db = state / "mlflow.db"
    assert not db.exists() or registry(state).search_registered_models() == []

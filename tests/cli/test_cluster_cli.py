"""``kfops submit`` / ``kfops schedule`` against the recording KFP emulator."""

import os
from pathlib import Path

from typer.testing import CliRunner

from kfops.cli.main import app
from kfops.errors import ConfigurationError
from tests.support.kfp_api import API
from tests.support.values import strings

CONFIG = """\
project: churn
data: {path: 's3://bucket/churn.csv', target: churned}
tracking: {uri: 'http://mlflow.kubeflow:5000'}
"""


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "kfops.yaml"
    path.write_text(CONFIG + extra)
    return path


def test_submit_sends_the_compiled_pipeline_and_the_config(kfp_api, tmp_path):
    config = write_config(tmp_path)
    result = CliRunner().invoke(app, ["submit", "-c", str(config), "--host", kfp_api.url])
    assert result.exit_code == 0, result.output
    run = kfp_api.only("POST", f"{API}/runs").body
    assert run["display_name"] == "churn-training"
    assert "comp-tune" not in run["pipeline_spec"]["components"]
    parameters = run["runtime_config"]["parameters"]
    assert parameters["config"]["data"]["path"] == "s3://bucket/churn.csv"
    assert parameters["config"]["runtime"]["root"] == "/tmp/kfops"
    assert set(parameters["data_config"]) <= {
        "project",
        "data",
        "validation",
        "runtime",
        "features",
    }


def test_schedule_with_tuning_sends_the_tuned_pipeline(kfp_api, tmp_path):
    tuning = (
        "tuning: {parameters: [{name: max_depth, type: int,"
        " feasible_space: {min: '2', max: '8'}}]}\n"
    )
    config = write_config(tmp_path, tuning)
    result = CliRunner().invoke(
        app,
        ["schedule", "-c", str(config), "--host", kfp_api.url, "--cron", "0 0 3 * * *"],
    )
    assert result.exit_code == 0, result.output
    job = kfp_api.only("POST", f"{API}/recurringruns").body
    assert job["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert "comp-tune" in job["pipeline_spec"]["components"]


def test_submit_refuses_a_local_dataset_before_any_request(kfp_api, tmp_path):
    config = tmp_path / "kfops.yaml"
    config.write_text("project: churn\ndata: {path: churn.csv, target: churned}\n")
    result = CliRunner().invoke(app, ["submit", "-c", str(config), "--host", kfp_api.url])
    assert result.exit_code == ConfigurationError.exit_code
    assert "data.path" in result.output
    assert kfp_api.requests == []


def test_submit_refuses_a_uri_the_pods_cannot_read_before_any_request(kfp_api, tmp_path):
    config = write_config(tmp_path)
    args = ["submit", "-c", str(config), "--host", kfp_api.url]
    result = CliRunner().invoke(app, [*args, "--set", "data.path=hdfs://nn/churn.csv"])
    assert result.exit_code == ConfigurationError.exit_code
    assert "kfops reads no hdfs:// URIs; upload the dataset and give one of s3://" in result.output
    assert kfp_api.requests == []


# ---------------------------------------------------------------- the config travels

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "churn"


def local_paths(value, *folders: Path) -> list[str]:
    """Strings that name this machine: under one of ``folders`` or an existing absolute path.

    The in-pod state folder (POD_STATE_DIR) is a path of the pod, by design.
    """
    from kfops.config import POD_STATE_DIR

    found = []
    for text in strings(value):
        if text == POD_STATE_DIR:
            continue
        under = any(text.startswith(str(folder)) for folder in folders)
        if under or (os.path.isabs(text) and os.path.exists(text)):
            found.append(text)
    return found


def test_submit_of_the_bundled_example_sends_no_path_of_this_machine(kfp_api, tmp_path):
    """The curated schema travels as text; no parameter names a file here."""
    args = [
        "submit",
        "-c",
        str(EXAMPLE / "kfops.yaml"),
        "--host",
        kfp_api.url,
        "--set",
        "data.path=s3://bucket/churn.csv",
        "--set",
        "tracking.uri=http://mlflow.kubeflow:5000",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = kfp_api.only("POST", f"{API}/runs").body
    parameters = run["runtime_config"]["parameters"]
    assert local_paths(parameters, REPO, tmp_path, Path.home()) == []
    assert local_paths(run["pipeline_spec"], REPO, tmp_path, Path.home()) == []
    curated = (EXAMPLE / "schema" / "schema.pbtxt").read_text()
    for name in ("config", "data_config"):
        assert parameters[name]["validation"]["schema_text"] == curated
        assert parameters[name]["validation"]["schema_path"] == "schema/schema.pbtxt"
        assert "base_dir" not in parameters[name]


def test_schedule_sends_the_same_portable_config(kfp_api, tmp_path):
    (tmp_path / "schema.pbtxt").write_text('feature { name: "age" type: INT }\n')
    config = write_config(tmp_path, "validation: {schema_path: schema.pbtxt}\n")
    result = CliRunner().invoke(
        app, ["schedule", "-c", str(config), "--host", kfp_api.url, "--cron", "0 0 3 * * *"]
    )
    assert result.exit_code == 0, result.output
    parameters = kfp_api.only("POST", f"{API}/recurringruns").body["runtime_config"]["parameters"]
    assert local_paths(parameters, REPO, tmp_path, Path.home()) == []
    assert parameters["data_config"]["validation"]["schema_text"].startswith("feature {")


def test_submit_refuses_a_missing_curated_schema_before_any_request(kfp_api, tmp_path):
    config = write_config(tmp_path, "validation: {schema_path: schema.pbtxt}\n")
    result = CliRunner().invoke(app, ["submit", "-c", str(config), "--host", kfp_api.url])
    assert result.exit_code == ConfigurationError.exit_code
    assert "validation.schema_path" in result.output and "does not exist" in result.output
    assert kfp_api.requests == []


def feature_config(tmp_path: Path, source: str) -> Path:
    from tests.features.conftest import DEFINITIONS, SQLITE_PROFILE

    repo = tmp_path / "feature_repo"
    repo.mkdir()
    (repo / "definitions.py").write_text(DEFINITIONS.replace("data/snapshots.parquet", source))
    (repo / "feature_store.yaml").write_text(SQLITE_PROFILE)
    extra = "features: {repo: feature_repo, service: svc}\nvalidation: {enabled: false}\n"
    path = write_config(tmp_path, extra)
    text = path.read_text().replace(
        "target: churned}", "target: churned, timestamp_column: event_timestamp}"
    )
    path.write_text(text)
    return path


def test_submit_embeds_the_feature_repo_definitions(kfp_api, tmp_path):
    config = feature_config(tmp_path, "s3://features/snapshots.parquet")
    result = CliRunner().invoke(app, ["submit", "-c", str(config), "--host", kfp_api.url])
    assert result.exit_code == 0, result.output
    parameters = kfp_api.only("POST", f"{API}/runs").body["runtime_config"]["parameters"]
    features = parameters["data_config"]["features"]
    assert features["repo"] == "feature_repo"
    assert set(features["files"]) == {"definitions.py", "feature_store.yaml"}
    assert "s3://features/snapshots.parquet" in features["files"]["definitions.py"]
    assert local_paths(parameters, REPO, tmp_path, Path.home()) == []


def test_submit_refuses_a_feature_source_on_this_machine(kfp_api, tmp_path):
    config = feature_config(tmp_path, "data/snapshots.parquet")
    result = CliRunner().invoke(app, ["submit", "-c", str(config), "--host", kfp_api.url])
    assert result.exit_code == ConfigurationError.exit_code
    assert "source 'snapshots' reads 'data/snapshots.parquet'" in result.output
    assert "s3://" in result.output
    assert kfp_api.requests == []

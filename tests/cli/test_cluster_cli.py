"""``kfops submit`` / ``kfops schedule`` against the recording KFP emulator."""

from pathlib import Path

from typer.testing import CliRunner

from kfops.cli.main import app
from kfops.errors import ConfigurationError
from tests.support.kfp_api import API

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

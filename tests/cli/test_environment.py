"""The variables users already have set: MLFLOW_TRACKING_URI, MLFLOW_REGISTRY_URI and
KF_PIPELINES_ENDPOINT. Precedence everywhere: flag > kfops.yaml > environment > default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kfops.cli.main import app
from kfops.config import load_config
from kfops.errors import ConfigurationError
from tests.support.kfp_api import API, KfpApiEmulator

CONFIG = "project: churn\ndata: {path: 's3://bucket/churn.csv', target: churned}\n"


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "kfops.yaml"
    path.write_text(CONFIG + f"runtime: {{root: {tmp_path / 'state'}}}\n" + extra)
    return path


# -- MLflow -----------------------------------------------------------------------------------


def test_tracking_uri_default_env_then_config(tmp_path: Path, monkeypatch):
    cfg = load_config(write(tmp_path))
    local = f"sqlite:///{(tmp_path / 'state' / 'mlflow.db').resolve()}"
    assert cfg.resolved_tracking_uri() == local
    assert cfg.resolved_registry_uri() == local
    assert cfg.resolved_artifact_location() == (tmp_path / "state" / "mlartifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.env:5000")
    assert cfg.resolved_tracking_uri() == "http://mlflow.env:5000"
    assert cfg.resolved_registry_uri() == "http://mlflow.env:5000"
    assert cfg.resolved_artifact_location() is None, "a server keeps its own artifact root"
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://registry.env:5000")
    assert cfg.resolved_registry_uri() == "http://registry.env:5000"
    explicit = load_config(
        write(tmp_path, "tracking: {uri: 'http://mlflow.file:5000', registry_uri: 'http://r.file'}")
    )
    assert explicit.resolved_tracking_uri() == "http://mlflow.file:5000"
    assert explicit.resolved_registry_uri() == "http://r.file"


def test_kfops_data_history_reads_the_store_named_by_the_environment(tmp_path: Path):
    config = write(tmp_path)
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    result = CliRunner().invoke(
        app,
        ["data", "history", "-c", str(config), "--json"],
        env={"MLFLOW_TRACKING_URI": elsewhere},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tracking_uri"] == elsewhere
    named = write(tmp_path, f"tracking: {{uri: 'sqlite:///{tmp_path / 'named.db'}'}}\n")
    result = CliRunner().invoke(
        app, ["data", "history", "-c", str(named), "--json"], env={"MLFLOW_TRACKING_URI": elsewhere}
    )
    assert json.loads(result.stdout)["tracking_uri"] == f"sqlite:///{tmp_path / 'named.db'}"


def test_steps_point_mlflow_at_the_registry_named_by_the_environment(tmp_path: Path, monkeypatch):
    import mlflow

    from kfops.registry.tracking import use_tracking

    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)
    use_tracking(tracking, "churn")
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (tracking, registry)
    use_tracking(tracking, "churn", registry_uri=tracking)  # tracking.registry_uri wins
    assert mlflow.get_registry_uri() == tracking


def test_a_cluster_run_takes_the_tracking_server_from_the_environment(
    kfp_api: KfpApiEmulator, tmp_path: Path
):
    config = write(tmp_path)
    args = ["submit", "-c", str(config), "--host", kfp_api.url]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == ConfigurationError.exit_code
    assert "MLFLOW_TRACKING_URI" in refused.stderr and kfp_api.requests == []
    env = {"MLFLOW_TRACKING_URI": "http://mlflow.kubeflow:5000"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    sent = kfp_api.only("POST", f"{API}/runs").body["runtime_config"]["parameters"]["config"]
    assert sent["tracking"]["uri"] == "http://mlflow.kubeflow:5000"


# -- KF_PIPELINES_ENDPOINT -------------------------------------------------------------------

SERVER = "tracking: {uri: 'http://mlflow.kubeflow:5000'}\n"


def submit(config: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["submit", "-c", str(config), "--json", *args], env=env)


def test_kf_pipelines_endpoint_is_the_host_when_none_is_given(
    kfp_api: KfpApiEmulator, tmp_path: Path
):
    result = submit(write(tmp_path, SERVER), env={"KF_PIPELINES_ENDPOINT": kfp_api.url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["host"] == kfp_api.url
    assert kfp_api.only("POST", f"{API}/runs")


def test_cluster_host_and_the_flag_win_over_the_environment(
    kfp_api: KfpApiEmulator, closed_port_url: str, tmp_path: Path
):
    env = {"KF_PIPELINES_ENDPOINT": closed_port_url}
    configured = write(tmp_path, SERVER + f"cluster: {{host: '{kfp_api.url}'}}\n")
    result = submit(configured, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["host"] == kfp_api.url
    stale = write(tmp_path, SERVER + f"cluster: {{host: '{closed_port_url}'}}\n")
    result = submit(stale, "--host", kfp_api.url, env=env)
    assert result.exit_code == 0, result.output
    assert kfp_api.routes().count(("POST", f"{API}/runs")) == 2


def test_no_host_anywhere_names_all_three_places(kfp_context: None, tmp_path: Path):
    result = submit(write(tmp_path, SERVER))
    assert result.exit_code == ConfigurationError.exit_code
    assert "--host" in result.stderr and "cluster.host" in result.stderr
    assert "KF_PIPELINES_ENDPOINT" in result.stderr


@pytest.mark.parametrize("value", ["localhost:8080", "   "])
def test_a_bad_endpoint_from_the_environment_is_a_configuration_error(
    kfp_context: None, tmp_path: Path, value: str
):
    result = submit(write(tmp_path, SERVER), env={"KF_PIPELINES_ENDPOINT": value})
    assert result.exit_code == ConfigurationError.exit_code, result.output

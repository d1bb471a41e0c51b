"""The deploy step and component (kfops.steps.deploy, components/deploy) and ``kfops deploy``."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from kfops.cli import serve as serve_cli
from kfops.config import load_config
from kfops.errors import RegistryError
from kfops.registry.versions import MODEL_SHA256_TAG
from kfops.serving import kube
from kfops.steps.deploy import run_deploy
from kfops.steps.results import DeployResult
from tests.support.http_server import Request
from tests.support.recording import recording


def config(registry, **serving) -> dict:
    return {
        "project": "churn",
        "data": {"path": "churn.csv", "target": "churned"},
        "registry": {"model_name": registry.model_name},
        "tracking": {"uri": registry.tracking_uri},
        "cluster": {"namespace": "team", "image": "example.org/kfops:1"},
        "serving": {"ready_timeout_seconds": 5, **serving},
    }


def test_deploy_applies_the_champion_and_waits(use_registry) -> None:
    import mlflow

    digest = (
        mlflow.MlflowClient()
        .get_model_version(use_registry.model_name, use_registry.version)
        .tags[MODEL_SHA256_TAG]
    )

    def respond(request: Request):
        if request.method == "PATCH":
            return 200, {"metadata": {"generation": 1}}
        ready = [{"type": "Ready", "status": "True"}]
        return 200, {
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": 1,
                "conditions": ready,
                "url": "http://churn-serving.team",
            },
        }

    with recording(respond) as api:
        result = run_deploy(load_config(raw=config(use_registry)), api=kube.api_client(api.url))
    assert result == DeployResult(
        name="churn-serving",
        namespace="team",
        url="http://churn-serving.team",
        version=use_registry.version,
    )
    patch, get = api.requests
    assert patch.path.endswith("/namespaces/team/inferenceservices/churn-serving")
    container = patch.json()["spec"]["predictor"]["containers"][0]
    assert container["image"] == "example.org/kfops:1"
    assert f"models:/{use_registry.model_name}/{use_registry.version}" in container["args"]
    assert digest in container["args"]
    assert get.method == "GET"


def test_deploy_dry_run_prints_the_manifest(use_registry, tmp_path: Path) -> None:
    file = tmp_path / "kfops.yaml"
    file.write_text(
        yaml.safe_dump(
            config(use_registry, deployment_mode="RawDeployment", autoscaling={"metric": "cpu"})
        )
    )
    app = typer.Typer()
    serve_cli.register(app)
    out = tmp_path / "isvc.yaml"
    result = CliRunner().invoke(app, ["deploy", "--config", str(file), "--output", str(out)])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(out.read_text())
    assert (
        manifest["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    )
    bad = CliRunner().invoke(app, ["deploy", "--config", str(file), "--version", "99", "--dry-run"])
    assert bad.exit_code == RegistryError.exit_code and "has no version 99" in bad.output


def test_component_wraps_the_step() -> None:
    from components.deploy import component

    assert component.build("example.org/kfops:1").component_spec.name == "deploy"

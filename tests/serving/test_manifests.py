"""InferenceService manifests (kfops.serving.manifests) and the committed examples.

Regenerate the examples with ``KFOPS_UPDATE_EXAMPLES=1 pytest tests/serving/test_manifests.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfops.config import ServingConfig
from kfops.errors import ConfigurationError
from kfops.serving.manifests import (
    SERVING_ENV,
    DeploymentSpec,
    check_name,
    inference_service,
    service_name,
)

DIGEST = "5f" * 32
EXAMPLES: dict[str, dict[str, Any]] = {
    "churn-serverless.yaml": {},
    "churn-rawdeployment.yaml": {
        "deployment_mode": "RawDeployment",
        "grpc_port": 8081,
        "autoscaling": {"min_replicas": 2, "max_replicas": 6, "metric": "cpu", "target": 70},
    },
    "churn-sklearn-runtime.yaml": {
        "runtime": "sklearn",
        "inference_log": {"url": "http://broker-ingress.knative-eventing/kfops/default"},
    },
}


def spec(**settings: Any) -> DeploymentSpec:
    return DeploymentSpec(
        name="churn-classifier",
        namespace="kubeflow-user",
        model_name="churn-classifier",
        model_version="7",
        sha256=DIGEST,
        image="ghcr.io/kfops/kfops:0.1.0",
        tracking_uri="http://mlflow.kubeflow:5000",
        storage_uri="s3://mlflow/1/models/m-0123/artifacts",
        settings=ServingConfig.model_validate(settings),
    )


def predictor(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"]["predictor"]


def test_serverless_kfops_predictor() -> None:
    manifest = inference_service(spec())
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
    assert manifest["kind"] == "InferenceService"
    meta = manifest["metadata"]
    assert meta["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    assert meta["annotations"]["kfops.io/model-sha256"] == DIGEST
    p = predictor(manifest)
    assert (p["minReplicas"], p["maxReplicas"], p["scaleMetric"], p["scaleTarget"]) == (
        1,
        3,
        "concurrency",
        32,
    )
    (container,) = p["containers"]
    assert container["command"] == ["kfops"]
    args = container["args"]
    assert args[:3] == ["serve", "--model", "models:/churn-classifier/7"]
    assert args[args.index("--sha256") + 1] == DIGEST
    env = {e["name"]: e["value"] for e in container["env"]}
    assert ServingConfig.model_validate_json(env[SERVING_ENV]) == ServingConfig()
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.kubeflow:5000"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert p["annotations"]["prometheus.io/path"] == "/metrics"


def test_a_restrictive_security_context() -> None:
    p = predictor(inference_service(spec()))
    security = p["containers"][0]["securityContext"]
    assert security["runAsNonRoot"] is True and security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert p["securityContext"]["runAsNonRoot"] is True
    assert p["automountServiceAccountToken"] is False
    assert p["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_grpc_is_a_second_port_named_h2c_in_raw_deployment() -> None:
    (container,) = predictor(inference_service(spec(**EXAMPLES["churn-rawdeployment.yaml"])))[
        "containers"
    ]
    assert container["ports"] == [
        {"containerPort": 8080, "name": "http1", "protocol": "TCP"},
        {"containerPort": 8081, "name": "h2c", "protocol": "TCP"},
    ]
    assert container["args"][-2:] == ["--grpc-port", "8081"]
    (plain,) = predictor(inference_service(spec()))["containers"]
    assert plain["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert "--grpc-port" not in plain["args"]


def test_grpc_in_serverless_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="serving.grpc_port needs .*RawDeployment"):
        inference_service(spec(grpc_port=8081))


def test_raw_deployment_scales_on_cpu() -> None:
    manifest = inference_service(spec(**EXAMPLES["churn-rawdeployment.yaml"]))
    assert (
        manifest["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    )
    assert predictor(manifest)["scaleMetric"] == "cpu"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"deployment_mode": "RawDeployment"},
            "RawDeployment scales with an HPA on cpu or memory, not concurrency",
        ),
        (
            {
                "deployment_mode": "RawDeployment",
                "autoscaling": {"metric": "cpu", "min_replicas": 0},
            },
            "0 needs Serverless",
        ),
    ],
)
def test_raw_deployment_limits(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        inference_service(spec(**settings))


def test_sklearn_runtime_for_a_plain_mlflow_model() -> None:
    p = predictor(inference_service(spec(**EXAMPLES["churn-sklearn-runtime.yaml"])))
    assert "containers" not in p
    assert p["model"]["modelFormat"] == {"name": "sklearn"}
    assert p["model"]["storageUri"] == "s3://mlflow/1/models/m-0123/artifacts"
    assert p["model"]["securityContext"]["readOnlyRootFilesystem"] is True
    assert p["logger"] == {
        "mode": "all",
        "url": "http://broker-ingress.knative-eventing/kfops/default",
    }
    no_storage = DeploymentSpec(**{**spec(runtime="sklearn").__dict__, "storage_uri": None})
    with pytest.raises(ConfigurationError, match="needs the model's storage URI"):
        inference_service(no_storage)


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("churn-classifier", "churn-classifier"),
        ("Churn_Classifier", "churn-classifier"),
        ("2025 model", "m-2025-model"),
        ("x" * 80, "x" * 45),
    ],
)
def test_service_names(model: str, name: str) -> None:
    assert check_name(service_name(model)) == name


def test_bad_service_names_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a DNS-1035 label"):
        check_name("Churn.Model")


def render_examples() -> dict[str, str]:
    header = "# Generated by tests/serving/test_manifests.py from kfops.serving.manifests; do not edit.\n"
    return {
        name: header + yaml.safe_dump(inference_service(spec(**settings)), sort_keys=False)
        for name, settings in EXAMPLES.items()
    }


def test_committed_examples_are_current(repo: Path) -> None:
    folder = repo / "manifests" / "examples"
    rendered = render_examples()
    if os.environ.get("KFOPS_UPDATE_EXAMPLES"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (folder / name).write_text(text)
    for name, text in rendered.items():
        path = folder / name
        assert path.is_file() and path.read_text() == text, (
            f"{path} is stale: KFOPS_UPDATE_EXAMPLES=1 pytest tests/serving/test_manifests.py"
        )


def test_examples_validate_against_the_kserve_crd(repo: Path, tmp_path: Path) -> None:
    validator = repo.parent / "shared" / "schemas" / "validate.py"
    if not validator.is_file():
        pytest.skip("../shared/schemas is not here (contract checks run in CI)")
    for name, text in render_examples().items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [sys.executable, str(validator), str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == len(EXAMPLES), done.stdout


def test_manifest_is_json_serializable() -> None:
    json.dumps(inference_service(spec()))

"""A cluster rehearsal on one machine, short of a Kubernetes API server.

The parts a cluster run uses, for real: the dataset in an S3 server (moto's), MLflow's
tracking server on PostgreSQL with its artifacts in that bucket, kfops' images built by
`make images`. `kfops run --runner docker` runs every step in its image (validate in the
TFDV image) on data at an s3:// URI; the model is registered on the server; then the
InferenceService's own predictor container (command, arguments and environment as
`kfops deploy` writes them, with the pod's non-root user and read-only root file system)
serves it and answers a prediction. Every address is 127.0.0.1: containers use the host
network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from kfops.config import load_config
from kfops.runners.containers import RUN_LABEL
from tests.support.mlflow_server import MlflowServer, mlflow_server, postgres, s3  # noqa: F401
from tests.support.s3 import FOREIGN_AWS_VARIABLES, free_port

pytestmark = pytest.mark.slow

KFOPS = str(Path(sys.executable).with_name("kfops"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"
DATA_BUCKET = "datasets"


def test_docker_run_on_s3_data_registers_on_the_server_and_the_image_serves_it(
    docker_engine: str,
    kfops_images: dict[str, str],
    mlflow_server: MlflowServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.monotonic()
    server = mlflow_server
    server.s3.create_bucket(DATA_BUCKET)
    server.s3.client().upload_file(
        str(EXAMPLE / "data" / "churn.csv"), DATA_BUCKET, "churn/v1/churn.csv"
    )
    shutil.copytree(EXAMPLE, tmp_path / "churn", ignore=shutil.ignore_patterns(".kfops", "data"))
    config = tmp_path / "churn" / "kfops.yaml"
    document = yaml.safe_load(config.read_text())
    document["data"]["path"] = f"s3://{DATA_BUCKET}/churn/v1/churn.csv"
    document["tracking"] = {"uri": server.url}
    document["registry"]["model_name"] = "churn-rehearsal"
    document["runtime"] = {"root": str(tmp_path / "state")}
    config.write_text(yaml.safe_dump(document, sort_keys=False))

    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_AWS_VARIABLES}
    env.update(server.env(), COLUMNS="200")
    ran = subprocess.run(
        [KFOPS, "run", "--runner", "docker", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    summary = json.loads(ran.stdout)
    pipeline_seconds = time.monotonic() - started
    assert summary["tracking_uri"] == server.url
    assert summary["aliases"]["champion"] == summary["version"] == "1"

    # Registered on the server, its files in the bucket, read from there by any pod.
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    stored = server.client().get_model_version_download_uri("churn-rehearsal", "1")
    bucket = server.artifact_root.split("/")[2]
    assert stored.startswith(f"s3://{bucket}/")
    prefix = stored.removeprefix(f"s3://{bucket}/")
    assert any(key.endswith("MLmodel") for key in server.s3.keys(bucket, prefix))

    # The predictor container exactly as the InferenceService names it.
    import mlflow

    from kfops.steps.deploy import deployment_manifest

    # deployment_spec reads the registry its caller set up (an earlier test in this
    # process may have set another store globally, which outranks the environment).
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    cfg = load_config(config)
    manifest = deployment_manifest(cfg)
    container = manifest["spec"]["predictor"]["containers"][0]
    assert container["image"] == kfops_images["kfops"]
    port = free_port()
    args = list(container["args"])
    args[args.index("--host") + 1] = "127.0.0.1"  # the host network: loopback only
    args[args.index("--port") + 1] = str(port)
    pod_env = {item["name"]: item["value"] for item in container["env"]}
    name = f"kfops-rehearsal-{port}"
    command = [docker_engine, "run", "-d", "--name", name, "--network", "host"]
    command += ["--user", "1000:1000", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
    for key, value in {**pod_env, **server.env()}.items():
        command += ["-e", f"{key}={value}"]
    command += ["--entrypoint", container["command"][0], container["image"], *args]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            logs = subprocess.run([docker_engine, "logs", name], capture_output=True, text=True)
            state = subprocess.run(
                [docker_engine, "inspect", "-f", "{{.State.Running}}", name],
                capture_output=True,
                text=True,
            )
            assert state.stdout.strip() == "true", logs.stdout + logs.stderr
            assert time.monotonic() < deadline, logs.stdout + logs.stderr
            time.sleep(0.5)
        rows = pd.read_csv(EXAMPLE / "data" / "churn.csv", nrows=3)
        features = rows.drop(columns=["churned"])
        body = {"instances": json.loads(features.to_json(orient="records"))}
        answer = httpx.post(f"{url}/v1/models/churn-rehearsal:predict", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
        healthy = subprocess.run(
            [docker_engine, "exec", name, "python", "-m", "kfops.serving.healthcheck"],
            capture_output=True,
            text=True,
        )
        assert healthy.returncode == 0, healthy.stderr
    finally:
        subprocess.run([docker_engine, "rm", "-f", name], capture_output=True)
    listed = subprocess.run(
        [docker_engine, "ps", "-aq", "--filter", f"label={RUN_LABEL}"],
        capture_output=True,
        text=True,
    )
    assert listed.stdout.strip() == ""
    print(
        f"rehearsal: pipeline in containers {pipeline_seconds:.0f} s, "
        f"whole test {time.monotonic() - started:.0f} s"
    )

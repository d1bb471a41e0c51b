"""kfops on the tracking stores of a cluster: an MLflow server on PostgreSQL with its
artifacts in S3. The pipeline logs and registers there, ``kfops serve`` loads the
champion from there, the rollout operator's client moves aliases there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.support.mlflow_server import MlflowServer
from tests.support.processes import stop_process
from tests.support.s3 import S3Server, free_port

pytestmark = pytest.mark.slow

KFOPS = str(Path(sys.executable).with_name("kfops"))
MODEL = "churn-classifier"
BUCKET = "pipeline-artifacts"
ARTIFACTS = f"s3://{BUCKET}/experiments/churn"


def client_env(server: MlflowServer) -> dict[str, str]:
    """This machine's environment with only the server's tracking and S3 settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    return {**env, **server.env(), "COLUMNS": "200"}


def logged_model_id(version) -> str:
    """MLflow 3 registers a logged model: the version's source is ``models:/<model id>``
    (the REST answer leaves ``model_id`` empty)."""
    assert version.source.startswith("models:/m-"), version.source
    return version.source.removeprefix("models:/")


@dataclass(frozen=True)
class PipelineRun:
    code: int
    output: str
    seconds: float


@pytest.fixture(scope="module")
def pipeline_run(
    mlflow_server: MlflowServer, s3: S3Server, repo: Path, tmp_path_factory
) -> PipelineRun:
    """``kfops run`` of the bundled example (subprocess runner) against the server, with
    the experiment's artifacts in its own bucket."""
    s3.create_bucket(BUCKET)
    state = tmp_path_factory.mktemp("pipeline") / "state"
    config = repo / "examples" / "churn" / "kfops.yaml"
    started = time.monotonic()
    done = subprocess.run(
        [
            KFOPS,
            "run",
            "--config",
            str(config),
            "--set",
            f"runtime.root={state}",
            "--set",
            f"tracking.uri={mlflow_server.url}",
            "--set",
            f"tracking.artifact_location={ARTIFACTS}",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=900,
        env=client_env(mlflow_server),
    )
    return PipelineRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def test_the_pipeline_registers_on_the_server_with_artifacts_in_s3(
    pipeline_run: PipelineRun, mlflow_server: MlflowServer, s3: S3Server
) -> None:
    assert pipeline_run.code == 0, pipeline_run.output
    assert "version 1: promoted to champion" in pipeline_run.output
    client = mlflow_server.client()
    version = client.get_model_version_by_alias(MODEL, "champion")
    assert version.version == "1"
    run = client.get_run(version.run_id)
    assert run.info.artifact_uri.startswith(f"{ARTIFACTS}/")
    assert run.data.metrics["roc_auc"] > 0.75
    assert version.tags["kfops.promotion.decision"] == "promote"

    # The registered version (source: MLflow 3's logged model, models:/m-...) is stored in
    # the bucket, and the files are there.
    logged = client.get_logged_model(logged_model_id(version))
    assert logged.artifact_location.startswith(f"{ARTIFACTS}/"), logged.artifact_location
    storage = client.get_model_version_download_uri(MODEL, version.version)
    assert storage.startswith(f"{ARTIFACTS}/"), storage
    keys = s3.keys(BUCKET, storage.removeprefix(f"s3://{BUCKET}/"))
    assert {"MLmodel", "requirements.txt"} <= {Path(key).name for key in keys}, keys
    # The run's own artifacts (plots, statistics) went to the bucket too.
    run_keys = s3.keys(BUCKET, run.info.artifact_uri.removeprefix(f"s3://{BUCKET}/"))
    names = {Path(key).name for key in run_keys}
    assert {"confusion_matrix.png", "roc_curve.png", "train_stats.pb"} <= names, names
    # Nothing of this run went to the server's default root (moto's buckets are shared by
    # every server in the test process, so only this run's keys are looked for).
    assert not [key for key in s3.keys("mlflow-artifacts") if run.info.run_id in key]


def test_the_database_holds_the_runs(pipeline_run: PipelineRun, postgres) -> None:
    """The runs are rows in PostgreSQL, not files next to the server."""
    import psycopg2

    assert pipeline_run.code == 0, pipeline_run.output
    connection = psycopg2.connect(postgres.uri("postgresql").rsplit("/", 1)[0] + "/mlflow")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'")
            (finished,) = cursor.fetchone()
            cursor.execute("SELECT name, version, storage_location FROM model_versions")
            versions = {(name, number): location for name, number, location in cursor}
    finally:
        connection.close()
    assert finished >= 1
    assert versions[(MODEL, 1)].startswith(f"{ARTIFACTS}/")


@pytest.fixture
def served(pipeline_run: PipelineRun, mlflow_server: MlflowServer, tmp_path: Path) -> Iterator[str]:
    """``kfops serve --model models:/NAME@champion`` as in a container: no kfops.yaml, the
    serving section in KFOPS_SERVING and the server in MLFLOW_TRACKING_URI."""
    assert pipeline_run.code == 0, pipeline_run.output
    port = free_port()
    env = {**client_env(mlflow_server), "KFOPS_SERVING": "{}"}
    process = subprocess.Popen(
        [KFOPS, "serve", "--model", f"models:/{MODEL}@champion", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise AssertionError(f"kfops serve exited:\n{process.stdout.read()}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kfops serve did not come up"
            time.sleep(0.25)
        yield url
    finally:
        stop_process(process, 30)


def test_serve_loads_the_champion_from_the_server_and_s3(served: str, repo: Path) -> None:
    rows = pd.read_csv(repo / "examples" / "churn" / "data" / "churn.csv").head(3)
    features = rows.drop(columns=["churned"]).astype(object).where(rows.notna(), None)
    answer = httpx.post(
        f"{served}/v1/models/{MODEL}:predict",
        json={"instances": features.to_dict(orient="records")},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["predictions"]) == 3
    assert set(body["predictions"]) <= {0, 1}


def test_the_operators_client_moves_the_alias_on_the_server(
    pipeline_run: PipelineRun, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's world (``cluster_world``) builds its alias client from
    MLFLOW_TRACKING_URI, as in its pod."""
    from kubernetes.client import ApiClient

    from kfops.config.rollout import RolloutSpec
    from kfops.errors import RolloutError
    from kfops.rollout.drivers.operator import TRACKING_ENV, cluster_world
    from kfops.rollout.engine.actions import MoveAlias

    assert pipeline_run.code == 0, pipeline_run.output
    client = mlflow_server.client()
    champion = client.get_model_version_by_alias(MODEL, "champion")
    second = client.create_model_version(
        MODEL, champion.source, champion.run_id, model_id=logged_model_id(champion)
    )
    spec = RolloutSpec.model_validate(
        {
            "model": MODEL,
            "stable": {"version": champion.version},
            "candidate": {"version": second.version},
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        }
    )
    monkeypatch.setenv(TRACKING_ENV, mlflow_server.url)
    aliases = cluster_world(spec, "default", ApiClient()).aliases  # KServe is never called

    aliases.apply(MoveAlias(MODEL, "champion", second.version))
    assert client.get_model_version_by_alias(MODEL, "champion").version == second.version
    assert aliases.version(MODEL, "champion") == second.version
    aliases.apply(MoveAlias(MODEL, "champion", champion.version))  # a rollback
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion.version
    with pytest.raises(RolloutError, match=r"could not point churn-classifier@champion at "):
        aliases.apply(MoveAlias(MODEL, "champion", "99"))

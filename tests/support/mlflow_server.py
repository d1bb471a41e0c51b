"""An MLflow tracking server as a cluster runs it: runs and registry in PostgreSQL,
artifacts in S3, on 127.0.0.1 and a free port.

Artifacts: ``--default-artifact-root s3://... --no-serve-artifacts``. Clients write and read
the bucket themselves, so a registered version's source is an ``s3://`` URI that any pod
with the bucket's credentials (a training step, ``kfops serve``, KServe's storage
initializer) reads directly, and model files never stream through the tracking server.
With ``--artifacts-destination`` (proxied artifacts) sources would be ``mlflow-artifacts:/``
URIs that only an MLflow client can resolve.

Fixtures, session-scoped (import them into a conftest): ``s3`` (``tests.support.s3``),
``postgres`` (``tests.support.postgres``) and ``mlflow_server`` on both. What a client needs
is ``MlflowServer.env()``: a process merges it into its environment, a container run with
``--network host`` takes each entry as ``-e NAME=value`` (every address is 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import PostgresServer, running_postgres
from tests.support.s3 import FOREIGN_AWS_VARIABLES, S3Server, free_port, running_s3_server

START_SECONDS = 120
ARTIFACT_BUCKET = "mlflow-artifacts"


@dataclass(frozen=True)
class MlflowServer:
    url: str
    """``http://127.0.0.1:PORT``: ``tracking.uri`` (the registry is the same server)."""
    backend_store_uri: str
    artifact_root: str
    """``s3://bucket/prefix``: experiments without an artifact location of their own."""
    s3: S3Server

    def env(self) -> dict[str, str]:
        """Everything a client process or container needs: the tracking URI and the S3
        endpoint and credentials its artifact uploads and downloads use."""
        return {
            **self.s3.env(),
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }

    def client(self):
        """An MlflowClient on the server (artifacts through this process's AWS variables)."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


def _mlflow_command() -> list[str]:
    return [str(Path(sys.executable).with_name("mlflow"))]


def _stop_group(process: subprocess.Popen, timeout: float) -> None:
    """The server and its uvicorn worker: SIGTERM to the group, then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):  # a worker that outlived the server
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def running_mlflow_server(
    backend_store_uri: str, artifact_root: str, s3: S3Server, log_dir: Path
) -> Iterator[MlflowServer]:
    """``mlflow server`` with one worker, healthy (``/health``) before it is yielded."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_AWS_VARIABLES}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_REGISTRY_URI", None)
    env.update(s3.env(), MLFLOW_DISABLE_TELEMETRY="true")
    # MLflow's server jobs (GenAI judges, prompt optimisation) start seven huey consumer
    # processes that kfops never uses, slow the start and outlive a SIGTERM.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log = log_dir / f"mlflow-server-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                *_mlflow_command(),
                "server",
                "--backend-store-uri",
                backend_store_uri,
                "--default-artifact-root",
                artifact_root,
                "--no-serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],  # fmt: skip
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its worker processes are stopped with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not become healthy at {url}:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield MlflowServer(url, backend_store_uri, artifact_root, s3)
    finally:
        _stop_group(process, 20)


# session fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3 server for the session."""
    with running_s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of the session's own, with a database ``kfops``; skips when none is
    installed (scripts/setup.sh installs Debian's postgresql)."""
    try:
        with running_postgres() as server:
            yield server
    except RuntimeError as exc:
        if "not installed" in str(exc):
            pytest.skip(str(exc))
        raise


@pytest.fixture(scope="session")
def mlflow_server(
    s3: S3Server, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """The tracking server on its own database ``mlflow`` and bucket ``mlflow-artifacts``."""
    backend = postgres.create_database("mlflow")
    s3.create_bucket(ARTIFACT_BUCKET)
    logs = tmp_path_factory.mktemp("mlflow-server")
    with running_mlflow_server(backend, f"s3://{ARTIFACT_BUCKET}/default", s3, logs) as server:
        yield server

"""Run the real ``kfops`` command in a subprocess, with its state in a temporary folder."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

KFOPS = str(Path(sys.executable).with_name("kfops"))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def kfops(*args: str, cwd: Path | None = None, timeout: int = 600) -> Result:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}
    done = subprocess.run(
        [KFOPS, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )
    return Result(done.returncode, done.stdout, done.stderr)


def registry(state: Path):
    """An MLflow client on a run's local store."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{state / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"

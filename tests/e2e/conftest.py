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


def rollout_project(tmp_path: Path, repo: Path, rollout: dict) -> Path:
    """A copy of the bundled churn example with its state in ``tmp_path``, the model
    server in a thread with a short grace period, and this ``rollout:`` section."""
    import shutil

    import yaml

    folder = tmp_path / "churn"
    shutil.copytree(repo / "examples" / "churn", folder, ignore=shutil.ignore_patterns(".kfops"))
    config = folder / "kfops.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["runtime"] = {"root": str(tmp_path / "state")}
    raw["serving"] = {"inference": "thread", "grace_period_seconds": 2}
    raw["rollout"] = rollout
    config.write_text(yaml.safe_dump(raw))
    return config

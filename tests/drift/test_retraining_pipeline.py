"""The retraining pipeline on the embedded runner: a drift check first; training only for
a drifted window, or when forced. Real model server traffic, TFDV in its runtime, the
real train-and-gate graph."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.drift.conftest import MODEL_NAME, feature_rows, shifted_rows

pytestmark = pytest.mark.slow

KFOPS = str(Path(sys.executable).with_name("kfops"))
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}


def retrain(config: dict, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "kfops.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [KFOPS, "run", "--pipeline", "retraining", "--config", str(path), "--json", *flags],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
    )


@pytest.fixture
def project(trained, tmp_path: Path) -> dict:
    """The trained project's config on a copy of its state: the runs here register new
    versions and move aliases, which the session's other drift tests must not see."""
    shutil.copytree(trained.root / "state", tmp_path / "state")
    config = copy.deepcopy(trained.config)
    config["runtime"]["root"] = str(tmp_path / "state")
    return config


def versions(config: dict) -> list[str]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{Path(config['runtime']['root']) / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return sorted(str(v.version) for v in client.search_model_versions(f"name = '{MODEL_NAME}'"))


def test_no_drift_retrains_nothing_and_drift_registers_a_new_version(
    project: dict, serve_traffic, tmp_path: Path
) -> None:
    before = versions(project)
    config = project
    config["serving"]["inference_log"]["path"] = str(tmp_path / "log")
    config["drift"] = {"window": "1h"}
    serve_traffic(tmp_path / "log", feature_rows())

    quiet = retrain(config, tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    summary = json.loads(quiet.stdout)
    assert summary["retrained"] is False and summary["drifted_features"] == []
    assert "drift" in quiet.stderr and "train" not in quiet.stderr.split("drift", 1)[1]
    assert versions(config) == before

    serve_traffic(tmp_path / "log", shifted_rows())
    drifted = retrain(config, tmp_path)
    assert drifted.returncode == 0, drifted.stderr[-3000:]
    summary = json.loads(drifted.stdout)
    assert summary["retrained"] is True
    assert {"monthly_charges", "contract"} <= set(summary["drifted_features"])
    print(drifted.stderr)
    assert summary["version"] not in before and versions(config) == [*before, summary["version"]]
    assert summary["decision"]["decision"] in {"promote", "keep"}
    assert Path(summary["drift_report"]).is_file()


def test_forced_retraining_runs_without_an_inference_log(project: dict, tmp_path: Path) -> None:
    config = project
    config["serving"]["inference_log"]["path"] = str(tmp_path / "no-log-yet")
    unforced = retrain(config, tmp_path)
    assert unforced.returncode != 0
    [line] = [x for x in unforced.stderr.splitlines() if x.startswith("kfops: error:")]
    assert line.startswith(f"kfops: error: no inference log at {tmp_path / 'no-log-yet'}")
    forced = retrain(config, tmp_path, "--force", "--no-cache")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert json.loads(forced.stdout)["retrained"] is True

"""Test-wide settings: no telemetry, quiet TensorFlow, the repository's paths."""

import os
from pathlib import Path

import prometheus_client.values  # noqa: F401  (before any Feast import: see below)
import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Feast's metrics module puts prometheus_client in multiprocess mode when it is imported
# first, and then every registry in this process would share counts (kfops.features.
# feast_metrics guards kfops' own code paths; this pins the test process itself).

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO

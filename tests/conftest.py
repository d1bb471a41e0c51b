"""Test-wide settings: no telemetry, quiet TensorFlow, the repository's paths."""

import os
from collections.abc import Iterator
from pathlib import Path

import prometheus_client.values  # noqa: F401  (before any Feast import: see below)
import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Feast's metrics module puts prometheus_client in multiprocess mode when it is imported
# first, and then every registry in this process would share counts (kfops.features.
# feast_metrics guards kfops' own code paths; this pins the test process itself).

REPO = Path(__file__).resolve().parents[1]

# Session fixtures shared across folders: the Docker engine and kfops' images.
pytest_plugins = ["tests.support.docker_engine"]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


MLFLOW_URI_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _no_inherited_mlflow_uris() -> Iterator[None]:
    """kfops honours MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI when the config names no
    store, and mlflow.set_tracking_uri writes them into os.environ. Cleared around every
    test, so a store one test (or session fixture) used never leaks into the next test's
    configs or the kfops processes it starts."""
    for name in MLFLOW_URI_ENV:
        os.environ.pop(name, None)
    yield
    for name in MLFLOW_URI_ENV:
        os.environ.pop(name, None)

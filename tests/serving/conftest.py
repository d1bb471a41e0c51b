"""Serving fixtures: a small churn model registered in a temporary MLflow store, and a
model server in a background thread serving its champion version on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kfops.config import ServingConfig

MODEL_NAME = "churn-serving"
TARGET = "churned"
NOT_FEATURES = [TARGET, "customer_id", "event_timestamp"]


@pytest.fixture(scope="session")
def churn_frame(repo: Path) -> pd.DataFrame:
    return pd.read_csv(repo / "tests" / "fixtures" / "churn_small.csv")


@pytest.fixture(scope="session")
def feature_rows(churn_frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The model's columns of the first rows, as a client sends them."""
    complete = churn_frame.drop(columns=NOT_FEATURES).dropna()
    return json.loads(complete.head(8).to_json(orient="records"))


@dataclass(frozen=True)
class Registry:
    tracking_uri: str
    model_name: str
    version: str
    model_uri: str
    run_id: str
    root: Path


def _use(registry: Registry) -> None:
    import mlflow

    mlflow.set_tracking_uri(registry.tracking_uri)
    mlflow.set_registry_uri(registry.tracking_uri)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, churn_frame: pd.DataFrame) -> Registry:
    """Train a 10-tree forest, log it as train.py does, register and promote it via kfops."""
    import mlflow
    from mlflow.models import infer_signature

    from kfops.registry.tracking import use_tracking
    from kfops.registry.versions import promote, register_challenger
    from kfops.steps.train import _pip_requirements
    from tests.support.model_servers import train_small_model

    root = tmp_path_factory.mktemp("registry")
    model = train_small_model(churn_frame)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    experiment = use_tracking(uri, "serving-tests", (root / "artifacts").as_uri())
    sample = churn_frame.drop(columns=[TARGET]).head(5)
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            signature=infer_signature(sample, model.predict(sample)),
            pip_requirements=_pip_requirements(),
        )
    version, _ = register_challenger(
        MODEL_NAME, info.model_uri, run.info.run_id, "roc_auc", 0.8, 0.0
    )
    promote(MODEL_NAME, version)
    return Registry(uri, MODEL_NAME, version, info.model_uri, run.info.run_id, root)


@pytest.fixture
def use_registry(registry: Registry) -> Registry:
    """Point MLflow at the session's store again (other tests may have moved it)."""
    _use(registry)
    return registry


@pytest.fixture(scope="session")
def loaded(registry: Registry):
    from kfops.serving.loader import load_model

    _use(registry)
    return load_model(f"models:/{registry.model_name}@champion")


class FakeOnlineFeatures:
    """Feature vectors by customer id, as the Feast-backed lookup would return them."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.entity_keys = frozenset({"customer_id"})
        self.frame = frame.drop(columns=[TARGET, "event_timestamp"]).set_index("customer_id")
        self.calls: list[list[dict[str, Any]]] = []

    def lookup(
        self, entity_rows: list[dict[str, Any]], feature_order: list[str]
    ) -> dict[str, list[Any]]:
        self.calls.append(entity_rows)
        ids = [row["customer_id"] for row in entity_rows]
        found = self.frame.reindex(ids)[feature_order]
        return {name: found[name].tolist() for name in feature_order}  # NaN where unknown


@pytest.fixture(scope="session")
def online_features(churn_frame: pd.DataFrame) -> FakeOnlineFeatures:
    return FakeOnlineFeatures(churn_frame)


@pytest.fixture(scope="session")
def server(
    loaded, online_features: FakeOnlineFeatures, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The champion served on 127.0.0.1 (ephemeral port), every request logged."""
    from kfops.serving.model import build_model
    from kfops.serving.server import KfopsModelServer, ServerThread

    log_dir = tmp_path_factory.mktemp("inference-log")
    settings = ServingConfig(
        max_body_bytes=64 * 1024,
        inference_log={"sample_rate": 1.0, "path": str(log_dir), "flush_seconds": 0.2},
    )
    model = build_model(loaded, settings, online_features=online_features)
    with ServerThread(KfopsModelServer(port=0, max_body_bytes=settings.max_body_bytes), model) as s:
        s.log_dir = log_dir
        yield s

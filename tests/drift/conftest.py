"""Drift fixtures: a churn model trained through the real steps (ingest, validate, train,
register), so its run stores the TFDV statistics, and a helper that serves it with the
inference log on and sends traffic."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
CHURN_CSV = REPO / "tests" / "fixtures" / "churn_small.csv"
PROJECT = "drift-test"
MODEL_NAME = f"{PROJECT}-model"
NOT_FEATURES = ["churned", "customer_id", "event_timestamp"]


@dataclass(frozen=True)
class Trained:
    config: dict[str, Any]
    root: Path
    version: str
    run_id: str


def project_config(root: Path, **drift: Any) -> dict[str, Any]:
    from kfops.config import KfopsConfig, config_to_dict

    return config_to_dict(
        KfopsConfig(
            project=PROJECT,
            data={
                "path": str(CHURN_CSV),
                "target": "churned",
                "entity_column": "customer_id",
                "timestamp_column": "event_timestamp",
            },
            runtime={"root": str(root / "state")},
            serving={"inference_log": {"path": str(root / "log"), "sample_rate": 1.0}},
            drift=drift or None,
        )
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The real chain: ingest -> validate (TFDV) -> train (logs statistics/) -> register."""
    from kfops.registry.versions import promote, register_challenger
    from kfops.steps.ingest import run_ingest
    from kfops.steps.train import run_train
    from kfops.steps.validate import run_validate

    root = tmp_path_factory.mktemp("drift-project")
    config = project_config(root)
    splits = root / "splits"
    summary = run_ingest(config, str(splits / "train.parquet"), str(splits / "test.parquet"))
    statistics = root / "validate"
    run_validate(
        config, str(splits / "train.parquet"), str(splits / "test.parquet"), str(statistics)
    )
    result = run_train(
        config,
        summary.to_dict(),
        str(splits / "train.parquet"),
        str(root / "model.joblib"),
        statistics_dir=str(statistics),
    )
    version, _ = register_challenger(
        MODEL_NAME, result.model_uri, result.run_id, "roc_auc", 0.8, 0.0
    )
    promote(MODEL_NAME, version)
    return Trained(config, root, version, result.run_id)


def feature_rows() -> list[dict[str, Any]]:
    """Every churn row as a client sends it: the model's columns, JSON values."""
    frame = pd.read_csv(CHURN_CSV).drop(columns=NOT_FEATURES)
    return json.loads(frame.to_json(orient="records"))


def shifted_rows() -> list[dict[str, Any]]:
    """monthly_charges x3 and every month-to-month contract turned into 'weekly'."""
    rows = feature_rows()
    for row in rows:
        if row["monthly_charges"] is not None:
            row["monthly_charges"] *= 3
        if row["contract"] == "month-to-month":
            row["contract"] = "weekly"
    return rows


@pytest.fixture
def serve_traffic(trained: Trained) -> Callable[[Path, list[dict[str, Any]]], None]:
    """Serve the champion with every request logged to ``log_dir``; send ``rows`` in batches
    of 20 with the request id ``req-<first row>``; stopping the server writes the log."""
    import mlflow

    from kfops.config import ServingConfig
    from kfops.serving.loader import load_model
    from kfops.serving.model import build_model
    from kfops.serving.server import KfopsModelServer, ServerThread

    def serve(log_dir: Path, rows: list[dict[str, Any]]) -> None:
        uri = f"sqlite:///{trained.root / 'state' / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        loaded = load_model(f"models:/{MODEL_NAME}@champion")
        settings = ServingConfig(
            nan_policy="allow",  # churn rows miss total_charges or region now and then
            inference_log={"sample_rate": 1.0, "path": str(log_dir), "flush_seconds": 0.5},
        )
        model = build_model(loaded, settings)
        with ServerThread(KfopsModelServer(port=0), model) as server:
            url = f"{server.url}/v1/models/{MODEL_NAME}:predict"
            for start in range(0, len(rows), 20):
                answer = httpx.post(
                    url,
                    json={"instances": rows[start : start + 20]},
                    headers={"x-request-id": f"req-{start}"},
                    timeout=60,
                )
                assert answer.status_code == 200, answer.text

    return serve

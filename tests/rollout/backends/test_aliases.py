"""Aliases in the MLflow registry (kfops.rollout.backends.aliases), in a real SQLite registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfops.errors import RolloutError
from kfops.rollout.backends.aliases import MlflowAliases
from kfops.rollout.engine.actions import MoveAlias


def test_mlflow_aliases_move_in_a_real_registry(tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(uri)
    client.create_registered_model("churn")
    for _ in range(2):
        with mlflow.start_run() as run:
            mlflow.log_dict({"x": 1}, "model/info.json")
        client.create_model_version("churn", f"{run.info.artifact_uri}/model", run.info.run_id)
    aliases = MlflowAliases(uri)
    aliases.apply(MoveAlias("churn", "champion", "2"))
    assert aliases.version("churn", "champion") == "2"
    assert aliases.version("churn", "nobody") is None
    with pytest.raises(RolloutError, match=r"could not point nope@champion at version 1"):
        aliases.apply(MoveAlias("nope", "champion", "1"))

"""Aliases in the MLflow model registry: where a promotion or a rollback lands."""

from __future__ import annotations

from kfops.errors import RolloutError, one_line
from kfops.registry.champion import DECISION_TAG
from kfops.rollout.engine.actions import MoveAlias


class MlflowAliases:
    """Moves a registered model's alias in the MLflow registry at ``tracking_uri``."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri

    def apply(self, action: MoveAlias) -> None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        try:
            client.set_registered_model_alias(action.model, action.alias, action.version)
        except MlflowException as exc:
            raise RolloutError(
                f"could not point {action.model}@{action.alias} at version {action.version}: "
                f"{one_line(exc.message)}"
            ) from exc

    def version(self, model: str, alias: str) -> str | None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        try:
            return str(client.get_model_version_by_alias(model, alias).version)
        except MlflowException:
            return None

    def gate_decision(self, model: str, version: str) -> str | None:
        """The training gate's decision on a version (its ``kfops.promotion.decision``
        tag), or None when it has none (registered outside ``kfops run``) or is unknown."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        try:
            return client.get_model_version(model, version).tags.get(DECISION_TAG)
        except MlflowException:
            return None

"""Carrying out engine actions: traffic on the local router, aliases in the MLflow registry.

Each side effect is one small class, so the controller can be handed the local world on a
laptop, the cluster world in the operator, and a recording world in tests.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from kfops.errors import RolloutError
from kfops.rollout.engine.actions import MoveAlias, SetTraffic


class TrafficBackend(Protocol):
    def apply(self, action: SetTraffic) -> None: ...


class AliasBackend(Protocol):
    def apply(self, action: MoveAlias) -> None: ...


class LocalRouterTraffic:
    """The router's admin endpoint (``PUT /router/traffic``) on this machine."""

    def __init__(self, router_url: str, timeout: float = 5.0) -> None:
        self.url = router_url.rstrip("/") + "/router/traffic"
        self.timeout = timeout

    def apply(self, action: SetTraffic) -> None:
        body = {
            "candidateWeight": action.candidate_weight,
            "mirrorPercent": action.mirror_percent,
            "stickyHeader": action.sticky_header,
            "stickyField": action.sticky_field,
        }
        try:
            response = httpx.put(self.url, json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise RolloutError(
                f"router at {self.url} did not answer ({exc.__class__.__name__}); start it with "
                "`kfops rollout start` or fix spec.traffic.routerUrl"
            ) from exc
        if response.status_code >= 400:
            raise RolloutError(
                f"router at {self.url} refused traffic {body}: {response.status_code} "
                f"{response.text.strip()[:200]}"
            )

    def read(self) -> dict:
        try:
            return httpx.get(self.url, timeout=self.timeout).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RolloutError(f"router at {self.url} did not answer: {exc}") from exc


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
                f"{exc.message.splitlines()[0]}"
            ) from exc

    def version(self, model: str, alias: str) -> str | None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        try:
            return str(client.get_model_version_by_alias(model, alias).version)
        except MlflowException:
            return None

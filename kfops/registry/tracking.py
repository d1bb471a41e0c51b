"""MLflow tracking set-up shared by every step that logs.

Each pipeline step runs in its own process, so each one calls :func:`use_tracking`
before it talks to MLflow.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from kfops.errors import RegistryError, one_line

if TYPE_CHECKING:
    from kfops.config import KfopsConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def use_tracking(
    tracking_uri: str,
    experiment: str,
    artifact_location: str | None = None,
    registry_uri: str | None = None,
) -> str:
    """Point MLflow at the store and return the experiment id (creating it once).

    Without ``registry_uri`` the registry is $MLFLOW_REGISTRY_URI when set, else the
    tracking store (MLflow's own fallback; kfops.config resolves the same way).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or tracking_uri)
    try:
        found = mlflow.get_experiment_by_name(experiment)
        if found is not None:
            return found.experiment_id
        return mlflow.create_experiment(experiment, artifact_location=artifact_location)
    except MlflowException as exc:
        raise RegistryError(
            f"MLflow at {tracking_uri}: cannot open experiment '{experiment}': "
            f"{one_line(exc)}; check tracking.uri"
        ) from exc


def use_config_tracking(cfg: KfopsConfig) -> str:
    """:func:`use_tracking` with the project's tracking and registry settings."""
    return use_tracking(
        cfg.resolved_tracking_uri(),
        cfg.experiment_name,
        cfg.resolved_artifact_location(),
        cfg.tracking.registry_uri,
    )


def git_commit(path: str | None) -> str | None:
    """The commit of the project's git checkout, if there is one."""
    if not path:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", path, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None

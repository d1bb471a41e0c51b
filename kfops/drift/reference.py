"""The reference of a skew check: the training statistics stored with the served version.

The train step logs the validate step's output to the version's training run under
``statistics/`` (``train_stats.pb``, ``schema.pbtxt``; kfops.steps.train), so a version
carries the statistics of the data it learned from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kfops.errors import ConfigurationError, RegistryError, one_line

STATISTICS_ARTIFACT = "statistics"  # kfops.steps.train.STATISTICS_ARTIFACT
TRAINING_STATS = "train_stats.pb"
TRAINING_SCHEMA = "schema.pbtxt"
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class Reference:
    model: str
    version: str
    run_id: str
    statistics: Path
    schema: Path | None
    task: str = ""  # the training run's kfops.task tag: classification or regression


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/NAME@ALIAS`` -> (NAME, ALIAS, None); ``models:/NAME/3`` -> (NAME, None, '3')."""
    found = _MODEL_URI.match(uri.strip())
    if not found:
        raise ConfigurationError(
            f"--model {uri!r}: not a registry model; use models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    return found["name"], found["alias"], found["version"]


def fetch_reference(uri: str, into: Path) -> Reference:
    """Resolve the version and download its training statistics (and schema) into ``into``."""
    import os

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stdout is the report's
    name, alias, version = parse_model_uri(uri)
    client = MlflowClient()
    try:
        found = (
            client.get_model_version_by_alias(name, alias)
            if alias
            else client.get_model_version(name, str(version))
        )
    except MlflowException as exc:
        raise RegistryError(
            f"{uri}: no such model version in the registry ({one_line(exc, 160)}); "
            "check --model and tracking.uri"
        ) from exc
    stored = {
        Path(item.path).name
        for item in client.list_artifacts(found.run_id, STATISTICS_ARTIFACT)
        if not item.is_dir
    }
    if TRAINING_STATS not in stored:
        raise RegistryError(
            f"{uri} (version {found.version}, run {found.run_id}) has no "
            f"{STATISTICS_ARTIFACT}/{TRAINING_STATS}: it was trained without validation; "
            "retrain it with validation.enabled: true so the run keeps its statistics"
        )
    into.mkdir(parents=True, exist_ok=True)
    local = Path(
        client.download_artifacts(
            found.run_id, f"{STATISTICS_ARTIFACT}/{TRAINING_STATS}", str(into)
        )
    )
    schema = None
    if TRAINING_SCHEMA in stored:
        schema = Path(
            client.download_artifacts(
                found.run_id, f"{STATISTICS_ARTIFACT}/{TRAINING_SCHEMA}", str(into)
            )
        )
    task = client.get_run(found.run_id).data.tags.get("kfops.task", "")
    return Reference(name, str(found.version), found.run_id, local, schema, task)

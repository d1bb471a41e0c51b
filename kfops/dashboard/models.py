"""Registered versions of the project's model, read from the MLflow registry.

Each version carries what the training gate wrote on it (``kfops.promotion.*`` tags: the
decision, the reason, the metric and both scores), its aliases, its source run's metrics,
the dataset it was trained on (``kfops.dataset.*`` run tags, :mod:`kfops.registry.lineage`)
and the plots and TFDV statistics pages its run logged as artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfops.config import KfopsConfig
from kfops.errors import RegistryError, one_line
from kfops.registry.champion import DECISION_TAG
from kfops.registry.lineage import (
    DIGEST_TAG,
    GIT_COMMIT_TAG,
    REVISION_TAG,
    ROWS_TAG,
    SOURCE_TAG,
    iso_time,
)

PROMOTION_PREFIX = DECISION_TAG.rsplit(".", 1)[0] + "."  # kfops.promotion.
ARTIFACT_FOLDERS = ("plots", "statistics")
"""Where evaluate logs its plots and train the TFDV statistics (``kfops.steps``)."""
VIEWABLE = (".png", ".html", ".svg")
MEDIA_TYPES = {".png": "image/png", ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml"}
VERSIONS_SHOWN = 20


def registry_client(cfg: KfopsConfig) -> Any | None:
    """A client on the project's registry; None when the local store was never created
    (no ``kfops run`` yet), so reading never creates an empty store."""
    from mlflow import MlflowClient

    tracking = cfg.resolved_tracking_uri()
    if (
        tracking.startswith("sqlite:///")
        and not Path(tracking.removeprefix("sqlite:///")).is_file()
    ):
        return None
    return MlflowClient(tracking_uri=tracking, registry_uri=cfg.resolved_registry_uri())


def _artifacts(client: Any, run_id: str) -> list[str]:
    """Viewable files under the run's plots/ and statistics/ folders."""
    found: list[str] = []
    for folder in ARTIFACT_FOLDERS:
        for item in client.list_artifacts(run_id, folder):
            if not item.is_dir and item.path.endswith(VIEWABLE):
                found.append(item.path)
    return sorted(found)


def _version(client: Any, mv: Any, aliases: dict[str, list[str]]) -> dict[str, Any]:
    tags = dict(mv.tags or {})
    gate = {
        k.removeprefix(PROMOTION_PREFIX): v
        for k, v in tags.items()
        if k.startswith(PROMOTION_PREFIX)
    }
    entry: dict[str, Any] = {
        "version": str(mv.version),
        "aliases": sorted(aliases.get(str(mv.version), [])),
        "created": iso_time(int(mv.creation_timestamp or 0)),
        "run_id": mv.run_id or "",
        "gate": gate,
        "metrics": {},
        "dataset": {},
        "artifacts": [],
    }
    if mv.run_id:
        run = client.get_run(mv.run_id)
        entry["metrics"] = {k: float(v) for k, v in sorted(run.data.metrics.items())}
        lineage = {
            "digest": DIGEST_TAG,
            "source": SOURCE_TAG,
            "rows": ROWS_TAG,
            "revision": REVISION_TAG,
            "commit": GIT_COMMIT_TAG,
        }
        entry["dataset"] = {
            key: run.data.tags[tag] for key, tag in lineage.items() if tag in run.data.tags
        }
        entry["artifacts"] = _artifacts(client, mv.run_id)
    return entry


def model_versions(cfg: KfopsConfig) -> dict[str, Any]:
    """``{"model", "aliases": {alias: version}, "versions": [newest first], "message"}``."""
    from mlflow.exceptions import MlflowException

    model = cfg.model_name
    empty = {"model": model, "aliases": {}, "versions": []}
    client = registry_client(cfg)
    if client is None:
        return {**empty, "message": "no registry yet: `kfops run` trains and registers a model"}
    try:
        found = client.search_model_versions(f"name = '{model}'")
        if not found:
            return {**empty, "message": f"no version of '{model}' registered yet; `kfops run`"}
        aliases = {alias: str(v) for alias, v in client.get_registered_model(model).aliases.items()}
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(version, []).append(alias)
        newest = sorted(found, key=lambda mv: int(mv.version), reverse=True)[:VERSIONS_SHOWN]
        versions = [_version(client, mv, by_version) for mv in newest]
    except MlflowException as exc:
        raise RegistryError(
            f"registry {cfg.resolved_registry_uri()}: cannot read '{model}': {one_line(exc)}"
        ) from exc
    return {"model": model, "aliases": aliases, "versions": versions, "message": ""}


def artifact_file(cfg: KfopsConfig, run_id: str, path: str, into: Path) -> Path | None:
    """Download one viewable artifact of a registered version's run into ``into``.

    Only runs that registered a version of this project's model, and only the files
    :func:`model_versions` lists, are served: None for anything else.
    """
    from mlflow.exceptions import MlflowException

    client = registry_client(cfg)
    if client is None:
        return None
    try:
        runs = {mv.run_id for mv in client.search_model_versions(f"name = '{cfg.model_name}'")}
        if run_id not in runs or path not in _artifacts(client, run_id):
            return None
        return Path(client.download_artifacts(run_id, path, str(into)))
    except MlflowException as exc:
        raise RegistryError(f"artifact {path!r} of run {run_id!r}: {one_line(exc)}") from exc

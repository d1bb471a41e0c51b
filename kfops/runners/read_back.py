"""A local run's results read straight from the default MLflow sqlite store.

Reading the run back through MLflow's client imports MLflow and its SQLAlchemy store:
about 2 s here, more than a fully cached run costs otherwise. When the tracking and the
registry store are both the local default (``sqlite:///<runtime.root>/mlflow.db``), the
few rows the summary shows are read with :mod:`sqlite3`: the run's latest metrics and
artifact URI, the version registered from the run, its gate tags and the model's
aliases, as MLflow's client returns them. Anything else (a tracking server, MLflow
workspaces, a store of another schema revision, a row not found) answers None, and the
caller reads through MLflow, which also reports what is wrong.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from kfops.config import KfopsConfig

# The schema revision this environment's MLflow creates (the store's alembic head); a
# store of another revision is read through MLflow.
SCHEMA_REVISIONS = frozenset({"dc11669786a5"})
DELETED_STAGE = "Deleted_Internal"  # MLflow's mark on a deleted model version
WORKSPACE = "default"
WORKSPACE_ENV = ("MLFLOW_WORKSPACE", "MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE_STORE_URI")
PROMOTION_PREFIX = "kfops.promotion."
T = TypeVar("T")


@dataclass(frozen=True)
class VersionRecord:
    """A model version, the gate's record on it and the model's aliases."""

    version: str
    decision: dict[str, str]
    aliases: dict[str, str]


@dataclass(frozen=True)
class RunRecord(VersionRecord):
    """What the summary shows of a run and the version it registered."""

    metrics: dict[str, float]
    artifact_uri: str


def local_store(cfg: KfopsConfig) -> Path | None:
    """The sqlite file when tracking and registry are both the local default, else None."""
    store = (cfg.state_dir / "mlflow.db").resolve()
    uri = f"sqlite:///{store}"  # as resolved_tracking_uri names it
    if cfg.resolved_tracking_uri() != uri or cfg.resolved_registry_uri() != uri:
        return None
    if any(os.environ.get(name) for name in WORKSPACE_ENV):
        return None
    return store


def _rows(db: sqlite3.Connection, query: str, *args: str) -> list[tuple]:
    return db.execute(query, args).fetchall()


def _current(db: sqlite3.Connection) -> bool:
    """The store has the schema revision this environment's MLflow writes."""
    revision = _rows(db, "SELECT version_num FROM alembic_version")
    return len(revision) == 1 and revision[0][0] in SCHEMA_REVISIONS


def _versions(db: sqlite3.Connection, model: str, run_id: str | None) -> list[int]:
    """The model's versions (from ``run_id`` when given), deleted ones left out."""
    query = (
        "SELECT version FROM model_versions WHERE workspace = ? AND name = ?"
        " AND (current_stage IS NULL OR current_stage != ?)"
    )
    args = [WORKSPACE, model, DELETED_STAGE]
    if run_id is not None:
        query += " AND run_id = ?"
        args.append(run_id)
    return [int(row[0]) for row in _rows(db, query, *args)]


def _version_record(db: sqlite3.Connection, model: str, version: str) -> VersionRecord:
    tags = _rows(
        db,
        "SELECT key, value FROM model_version_tags"
        " WHERE workspace = ? AND name = ? AND version = ?",
        WORKSPACE,
        model,
        version,
    )
    aliases = _rows(
        db,
        "SELECT alias, version FROM registered_model_aliases WHERE workspace = ? AND name = ?",
        WORKSPACE,
        model,
    )
    return VersionRecord(
        version=version,
        decision={
            key.removeprefix(PROMOTION_PREFIX): value
            for key, value in tags
            if key.startswith(PROMOTION_PREFIX)
        },
        aliases={alias: str(number) for alias, number in aliases},
    )


def _read_run(db: sqlite3.Connection, model: str, run_id: str) -> RunRecord | None:
    run = _rows(db, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", run_id)
    versions = _versions(db, model, run_id)
    if not run or not versions:
        return None
    metrics = {
        key: math.nan if is_nan else float(value)
        for key, value, is_nan in _rows(
            db, "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", run_id
        )
    }
    return RunRecord(
        metrics=metrics,
        artifact_uri=str(run[0][0]),
        **vars(_version_record(db, model, str(max(versions)))),
    )


def _read_latest(db: sqlite3.Connection, model: str) -> VersionRecord | None:
    versions = _versions(db, model, None)
    return _version_record(db, model, str(max(versions))) if versions else None


def _query(cfg: KfopsConfig, read: Callable[[sqlite3.Connection], T]) -> T | None:
    store = local_store(cfg)
    if store is None or not store.is_file():
        return None
    try:
        # Read-only: a summary never writes, nor creates a store that is not there.
        with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as db:
            return read(db) if _current(db) else None
    except sqlite3.Error:
        return None


def read_run(cfg: KfopsConfig, run_id: str) -> RunRecord | None:
    """The run's record from the local store, or None: then read it through MLflow."""
    if not run_id:
        return None
    return _query(cfg, lambda db: _read_run(db, cfg.model_name, run_id))


def read_latest(cfg: KfopsConfig) -> VersionRecord | None:
    """The model's newest version from the local store, or None: then ask MLflow."""
    return _query(cfg, lambda db: _read_latest(db, cfg.model_name))

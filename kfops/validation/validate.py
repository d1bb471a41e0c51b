"""Validate the train and test splits against the project's TFDV schema.

The schema is ``validation.schema_path`` when set, else ``<state_dir>/schemas/<project>/
schema.pbtxt``. When that file is absent, a schema is inferred from both splits together
(so a first run on sound data passes), the validation settings are written into it, and
it is saved there once the data passes. An existing schema file is never written.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfops.config import DataConfig, ValidationConfig
from kfops.errors import DataError, ValidationError
from kfops.validation import runtime
from kfops.validation.anomalies import (
    Anomaly,
    format_failure,
    parse_anomalies,
    row_count_anomalies,
)
from kfops.validation.stats_html import render_statistics_html

STATISTICS_HTML = "statistics.html"
ANOMALIES_JSON = "anomalies.json"
WORKER_LOG = "tfdv_worker.log"
SCHEMA_FILENAME = "schema.pbtxt"


@dataclass
class ValidationReport:
    """What one validation produced; ``to_dict()`` is what the pipeline step records."""

    project: str
    anomalies: list[Anomaly]
    schema_path: str
    schema_inferred: bool
    schema_saved: bool
    schema_copy: str
    statistics_html: str
    facets_html: str
    train_statistics: str
    test_statistics: str
    anomalies_json: str
    rows: dict[str, int]
    num_features: int
    timestamp_columns: list[str] = field(default_factory=list)
    tfdv_version: str = ""

    @property
    def passed(self) -> bool:
        return not self.anomalies

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "passed": self.passed,
            "anomalies": [a.to_dict() for a in self.anomalies],
            "schema_path": self.schema_path,
            "schema_inferred": self.schema_inferred,
            "schema_saved": self.schema_saved,
            "schema_copy": self.schema_copy,
            "statistics_html": self.statistics_html,
            "facets_html": self.facets_html,
            "train_statistics": self.train_statistics,
            "test_statistics": self.test_statistics,
            "anomalies_json": self.anomalies_json,
            "rows": dict(self.rows),
            "num_features": self.num_features,
            "timestamp_columns": list(self.timestamp_columns),
            "tfdv_version": self.tfdv_version,
        }


def resolve_schema_path(validation: ValidationConfig, project: str, state_dir: str) -> Path:
    if validation.schema_path:
        return Path(validation.schema_path)
    return Path(state_dir) / "schemas" / project / SCHEMA_FILENAME


def _save_new_schema(source: Path, target: Path) -> bool:
    """Publish the inferred schema atomically, and only if nobody created one meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "xb") as out:
            out.write(source.read_bytes())
        os.link(tmp, target)  # fails when the target exists: never overwrite a schema
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _request(
    train_path: str,
    test_path: str,
    validation: ValidationConfig,
    data: DataConfig,
    schema_path: Path,
    out_dir: Path,
) -> dict[str, Any]:
    id_columns = [c for c in (data.entity_column, data.timestamp_column) if c]
    return {
        "train_path": str(Path(train_path).absolute()),
        "test_path": str(Path(test_path).absolute()),
        "schema_path": str(schema_path),
        "out_dir": str(out_dir),
        "exclude_columns": [c for c in data.drop_columns if c not in id_columns],
        "id_columns": id_columns,
        "timestamp_column": data.timestamp_column,
        "min_domain_mass": validation.categorical_min_domain_mass,
        "max_missing_fraction": validation.max_missing_fraction,
        "drift_threshold": validation.drift_threshold,
        "beam_options": list(validation.beam_options),
    }


def validate_splits(
    train_path: str,
    test_path: str,
    validation: ValidationConfig,
    data: DataConfig,
    project: str,
    state_dir: str,
    out_dir: str,
) -> ValidationReport:
    """Compute statistics for both splits, check them against the schema, write the report.

    Writes into ``out_dir``: ``statistics.html`` (self-contained), ``statistics_facets.html``
    (TFDV's Facets view, needs internet to render), ``train_stats.pb`` / ``test_stats.pb``
    (binary ``DatasetFeatureStatisticsList``), ``anomalies.json``, ``schema.pbtxt`` (the
    schema used) and ``tfdv_worker.log`` when TFDV ran as a subprocess.

    Columns in ``data.drop_columns`` are not validated; the entity and timestamp columns
    are, but without domains or drift checks. ``validation.enabled`` is the caller's to
    check.

    Raises:
        DataError: A split is missing or unreadable.
        ValidationError: Anomalies, too few rows, or the TFDV runtime failed. Raised after
            the files above are written; the report is on the error as ``.report``.
    """
    for split, path in (("train", train_path), ("test", test_path)):
        if not Path(path).is_file():
            raise DataError(f"{split} split: {path} does not exist; run the split step first")
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    schema_path = resolve_schema_path(validation, project, state_dir).absolute()
    request = _request(train_path, test_path, validation, data, schema_path, out)
    result = runtime.run_worker(request, log_path=out / WORKER_LOG)

    anomalies: list[Anomaly] = []
    for split in ("train", "test"):
        anomalies += parse_anomalies(result["anomalies"][split], split)
    anomalies += row_count_anomalies(result["rows"], validation.min_rows)
    inferred = bool(result["schema_inferred"])
    saved = (
        inferred and not anomalies and _save_new_schema(Path(result["schema_copy"]), schema_path)
    )

    # An inferred schema that was not saved is only in out_dir: point there.
    shown = result["schema_copy"] if inferred and not saved else str(schema_path)
    html_path = out / STATISTICS_HTML
    html_path.write_text(
        render_statistics_html(
            project,
            result["stats"],
            anomalies,
            shown,
            timestamp_columns=result.get("timestamp_columns"),
        ),
        encoding="utf-8",
    )
    report = ValidationReport(
        project=project,
        anomalies=anomalies,
        schema_path=str(schema_path),
        schema_inferred=inferred,
        schema_saved=saved,
        schema_copy=result["schema_copy"],
        statistics_html=str(html_path),
        facets_html=result["facets_html"],
        train_statistics=result["statistics"]["train"],
        test_statistics=result["statistics"]["test"],
        anomalies_json=str(out / ANOMALIES_JSON),
        rows={k: int(v) for k, v in result["rows"].items()},
        num_features=int(result["num_features"]),
        timestamp_columns=list(result.get("timestamp_columns", [])),
        tfdv_version=str(result.get("tfdv_version", "")),
    )
    record = {**report.to_dict(), "tfdv_anomalies": result["anomalies"]}
    Path(report.anomalies_json).write_text(json.dumps(record, indent=2) + "\n")
    if anomalies:
        error = ValidationError(format_failure(project, anomalies, shown, schema_inferred=inferred))
        error.report = report  # type: ignore[attr-defined]
        raise error
    return report

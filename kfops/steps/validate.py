"""Validate step: TFDV statistics and anomalies, before anything is trained."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from kfops.config import KfopsConfig, config_from_dict
from kfops.steps.reporting import progress
from kfops.steps.results import ValidateResult
from kfops.validation.validate import validate_splits

EMBEDDED_SCHEMA_NAME = "schema.pbtxt"


def run_validate(
    config: dict[str, Any], train_path: str, test_path: str, out_dir: str
) -> ValidateResult:
    """Raise ValidationError on anomalies; return the report otherwise.

    A schema that travelled in the config (``validation.schema_text``, a cluster run) is
    written to a temporary file and checked against like a committed one: never inferred
    in its place, never overwritten.
    """
    cfg = config_from_dict(config)
    if not cfg.validation.enabled:
        return ValidateResult(report=None)
    if cfg.validation.schema_text is None:
        return _validate(cfg, train_path, test_path, out_dir)
    with tempfile.TemporaryDirectory(prefix="kfops-schema-") as tmp:
        # Keep the schema's path relative to the config file, so messages name it.
        label = PurePosixPath(cfg.validation.schema_path or EMBEDDED_SCHEMA_NAME)
        inside = [part for part in label.parts if part not in ("/", "..")] or [EMBEDDED_SCHEMA_NAME]
        schema = Path(tmp).joinpath(*inside)
        schema.parent.mkdir(parents=True, exist_ok=True)
        schema.write_text(cfg.validation.schema_text, encoding="utf-8")
        validation = cfg.validation.model_copy(update={"schema_path": str(schema)})
        return _validate(
            cfg.model_copy(update={"validation": validation}), train_path, test_path, out_dir
        )


def _validate(cfg: KfopsConfig, train_path: str, test_path: str, out_dir: str) -> ValidateResult:
    schema = cfg.validation.schema_path
    against = (
        f"checked against {schema}" if schema and Path(schema).is_file() else "schema inferred"
    )
    progress("validate", f"TFDV statistics of the train and test splits, {against}")
    report = validate_splits(
        train_path=train_path,
        test_path=test_path,
        validation=cfg.validation,
        data=cfg.data,
        project=cfg.project,
        state_dir=cfg.runtime.root,
        out_dir=out_dir,
    )
    return ValidateResult(report=report)

"""Validate step: TFDV statistics and anomalies, before anything is trained."""

from __future__ import annotations

from typing import Any

from kfops.config import config_from_dict
from kfops.steps.results import ValidateResult
from kfops.validation.validate import validate_splits


def run_validate(
    config: dict[str, Any], train_path: str, test_path: str, out_dir: str
) -> ValidateResult:
    """Raise ValidationError on anomalies; return the report otherwise."""
    cfg = config_from_dict(config)
    if not cfg.validation.enabled:
        return ValidateResult(report=None)
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

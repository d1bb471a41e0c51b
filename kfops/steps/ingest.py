"""Ingest step: read, check, digest and split the dataset."""

from __future__ import annotations

from typing import Any

from kfops.config import config_from_dict
from kfops.data.ingest import ingest
from kfops.steps.results import IngestResult


def run_ingest(config: dict[str, Any], train_path: str, test_path: str) -> IngestResult:
    """Write the train and test splits; return the dataset summary later steps record."""
    cfg = config_from_dict(config)
    return IngestResult(ingest(cfg.data, train_path, test_path))
